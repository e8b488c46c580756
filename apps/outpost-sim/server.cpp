#include "apps/outpost-sim/server.h"

#include <SQLiteCpp/Database.h>

#include <cstdlib>
#include <map>

#include "apps/outpost-sim/crash_image.h"
#include "engine/domain_mutators.h"
#include "engine/limits.h"
#include "engine/mutation_print.h"

namespace outpost::sim {

SimServer::SimServer(std::string path, SimNetwork& network, const int64_t& now_ms, Ledger& ledger,
                     Trace& trace, PrincipalOf principal_of, Connections connections)
    : path_(std::move(path)),
      network_(network),
      now_ms_(now_ms),
      ledger_(ledger),
      trace_(trace),
      principal_of_(std::move(principal_of)),
      connections_(std::move(connections)) {
  build_registry();
}

const MutatorRegistry& SimServer::device_mutators() const {
  return domain_mutators();
}

void SimServer::build_registry() {
  for (const auto& [name, mutator] : domain_mutators().all()) {
    Mutator observed = mutator;
    MutatorFn authoritative = mutator.server ? mutator.server : mutator.local;
    observed.server = [this, authoritative](MutationContext& ctx,
                                            const google::protobuf::Message& args) {
      Status status = authoritative(ctx, args);
      if (status.ok()) ran_ok_.insert(ctx.mutation_id);
      return status;
    };
    Status added = registry_.add(std::move(observed));
    if (!added.ok()) {
      fprintf(stderr, "outpost-sim: %s\n", added.to_string().c_str());
      abort();
    }
  }
}

Status SimServer::open() {
  OUTPOST_ASSIGN_OR_RETURN(store_, SqliteServerStore::open(path_));
  core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), registry_);
  core_->set_platform(platform_);
  core_->add_commit_listener([this](const std::vector<CommittedHead>& heads) {
    poke(heads);
    if (commit_observer_) commit_observer_(heads);
  });
  return Status::Ok();
}

Status SimServer::restart() {
  // A crash: the files as they are this instant, without the clean close's checkpoint.
  auto image = CrashImage::take(path_);
  if (!image.ok()) return image.status();
  std::optional<CrashImage> next_older;
  if (forget_on_restart_) {
    OUTPOST_ASSIGN_OR_RETURN(next_older,
                             CrashImage::take(path_, "older" + std::to_string(++restarts_)));
  }
  core_.reset();
  store_.reset();
  OUTPOST_RETURN_IF_ERROR(image->restore());
  if (forget_on_restart_ && older_image_) {
    OUTPOST_RETURN_IF_ERROR(older_image_->restore());
    trace_.add("server restarts and forgets every write since its last restart");
  } else {
    trace_.add("server restarts");
  }
  if (forget_on_restart_) older_image_ = std::move(next_older);
  return open();
}

void SimServer::poke(const std::vector<CommittedHead>& heads) {
  // Decision 032: a commit's changes travel with its poke, encoded once per head. The real
  // server sends them only to a stream it knows is at the base; this one sends them to
  // every stream that may read the scope, so each device's refusal of a carried frame that
  // does not follow its own cursor (late, reordered, after a pull moved it) is exercised.
  std::vector<std::optional<std::string>> carried(heads.size());
  for (size_t i = 0; i < heads.size(); ++i) {
    auto changes =
        core_->carried_changes(heads[i], limits::kMaxCarriedChanges, limits::kMaxCarriedBytes);
    if (!changes.ok() || !*changes) continue;
    protocol::ServerFrame frame;
    frame.mutable_carried()->set_base(heads[i].base_seq.value_or(0));
    *frame.mutable_carried()->mutable_changes() = std::move(**changes);
    carried[i] = frame.SerializeAsString();
  }
  for (auto [device, connection] : connections_()) {
    const Principal& who = principal_of_(device);
    protocol::ServerFrame frame;
    for (size_t i = 0; i < heads.size(); ++i) {
      const CommittedHead& head = heads[i];
      if (!who.may_read(head.scope)) continue;
      if (carried_ && carried[i]) {
        network_.send(connection, false, *carried[i], now_ms_);
        continue;
      }
      auto* cursor = frame.mutable_poke()->add_heads();
      cursor->set_scope(head.scope);
      cursor->set_seq(head.head_seq);
    }
    if (frame.has_poke()) network_.send(connection, false, frame.SerializeAsString(), now_ms_);
  }
}

Status SimServer::handle(const Envelope& envelope) {
  const int64_t now_ms = now_ms_;

  protocol::ClientFrame request;
  if (!request.ParseFromString(envelope.bytes)) {
    return error(ErrorCode::kInvalidArgument, "the simulator sent a bad frame");
  }
  const Principal& who = principal_of_(envelope.device);
  const std::string via = (envelope.ghost ? "ghost c" : "c") + std::to_string(envelope.connection);
  protocol::ServerFrame answer;
  Status failed;
  if (request.has_push()) {
    if (forget_prints_) {
      try {
        SQLite::Database db(path_, SQLite::OPEN_READWRITE);
        db.exec("DELETE FROM prints");
      } catch (const std::exception& e) {
        return error(ErrorCode::kIo, std::string("forgetting the prints: ") + e.what());
      }
    }
    ran_ok_.clear();
    auto response = core_->push(who, request.push(), now_ms);
    if (response.ok()) {
      std::map<uint64_t, uint64_t> prints;  // id -> the pushed mutation's print
      for (const auto& mutation : request.push().mutations()) {
        prints[mutation.id()] =
            mutation_print(mutation.name(), mutation.args(), mutation.created_ms());
      }
      std::string results;
      for (const auto& result : response->results()) {
        const bool fresh = ran_ok_.count(result.id()) != 0;
        const uint64_t print = prints[result.id()];
        if (result.outcome() == protocol::MutationResult::APPLIED && fresh) {
          ledger_.server_applied(request.push().client_id(), result.id(), print);
          results += " m" + std::to_string(result.id()) + "=applied";
        } else if (result.outcome() == protocol::MutationResult::REJECTED) {
          ledger_.server_rejected(request.push().client_id(), result.id(), print, result.code(),
                                  result.reason());
          results += " m" + std::to_string(result.id()) + "=rejected(" + result.reason() + ")";
        } else {
          results += " m" + std::to_string(result.id()) + "=dup";
        }
      }
      trace_.add("server push from " + who.device + " via " + via + ":" + results);
      *answer.mutable_push() = std::move(response).value();
    } else {
      failed = response.status();
    }
    ran_ok_.clear();
  } else if (request.has_pull()) {
    auto response = core_->pull(who, request.pull());
    if (response.ok()) {
      *answer.mutable_pull() = std::move(response).value();
    } else {
      failed = response.status();
    }
  } else {
    return error(ErrorCode::kInvalidArgument, "the simulator sent an empty frame");
  }
  if (!failed.ok()) {
    trace_.add("server refuses " + who.device + " via " + via + ": " + failed.to_string());
    auto* frame_error = answer.mutable_error();
    frame_error->set_code(std::string(error_code_name(failed.code())));
    frame_error->set_message(failed.message());
    frame_error->set_retryable(failed.code() == ErrorCode::kUnavailable);
  }
  if (!envelope.ghost) {
    network_.send(envelope.connection, false, answer.SerializeAsString(), now_ms);
  }
  // Only an unavailable store is an error a correct device may provoke, and a reused-ids
  // refusal one whose replica was restored from an older copy.
  const bool reused_after_restore =
      failed.code() == ErrorCode::kFailedPrecondition &&
      find_mutation_ids_reused(failed.message()).has_value() &&
      ledger_.was_restored(request.has_push() ? request.push().client_id()
                                              : request.pull().client_id());
  if (!failed.ok() && failed.code() != ErrorCode::kUnavailable && !reused_after_restore) {
    return failed;
  }
  return Status::Ok();
}

}  // namespace outpost::sim

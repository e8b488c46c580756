#include "apps/outpost-sim/device.h"

#include "engine/mutation_print.h"

namespace outpost::sim {

SimDevice::SimDevice(int index, Principal who, std::string path, std::string client_id,
                     Trace& trace, SimRandom& random)
    : index_(index),
      who_(std::move(who)),
      path_(std::move(path)),
      client_id_(std::move(client_id)),
      trace_(trace),
      random_(random) {}

Status SimDevice::open(const Schema& schema, const MutatorRegistry& mutators) {
  client_.reset();
  replica_.reset();
  OUTPOST_ASSIGN_OR_RETURN(
      replica_, Replica::open(path_, schema, &mutators,
                              {.tenant = who_.tenant, .user = who_.user, .client_id = client_id_}));
  if (replica_->client_id() != client_id_) {
    return error(ErrorCode::kInternal, "replica reopened with client id " + replica_->client_id());
  }
  client_ = std::make_unique<SyncClient>(
      *replica_, SyncClientOptions{.max_changes_per_pull = DeviceLimits::kChangesPerPull,
                                   .max_mutations_per_push = DeviceLimits::kMutationsPerPush,
                                   .max_fetch_keys = DeviceLimits::kFetchKeys});
  trace_.add(name() + " opens its replica");
  return Status::Ok();
}

Status SimDevice::kill(SimNetwork& network, int64_t now_ms) {
  if (connection_ != 0) network.close(connection_, now_ms, false);
  connection_ = 0;
  backoff_.reset();
  reconnect_at_ms_ = 0;
  if (other_process != nullptr && other_process->alive()) {
    // The other process keeps the file open and the OS keeps what this one committed.
    client_.reset();
    replica_.reset();
    return Status::Ok();
  }
  auto image = CrashImage::take(path_);
  client_.reset();
  replica_.reset();
  if (!image.ok()) return image.status();
  return image->restore();
}

Status SimDevice::take_backup(uint64_t next_mutation_id) {
  if (other_process != nullptr) {
    return error(ErrorCode::kFailedPrecondition, "a two-process device is not backed up");
  }
  OUTPOST_ASSIGN_OR_RETURN(auto image, CrashImage::take(path_, "backup"));
  backup_ = std::move(image);
  backup_next_id_ = next_mutation_id;
  trace_.add(name() + " is backed up (next mutation m" + std::to_string(next_mutation_id) + ")");
  return Status::Ok();
}

Result<uint64_t> SimDevice::restore_backup(SimNetwork& network, int64_t now_ms) {
  if (!backup_) return error(ErrorCode::kFailedPrecondition, name() + " has no backup");
  trace_.add(name() + " is restored from its backup (next mutation m" +
             std::to_string(backup_next_id_) + ")");
  OUTPOST_RETURN_IF_ERROR(kill(network, now_ms));
  Status restored = backup_->restore();  // the copy is used up: a next backup comes later
  backup_.reset();
  OUTPOST_RETURN_IF_ERROR(restored);
  return backup_next_id_;
}

Result<uint64_t> SimDevice::pending_print(uint64_t id) {
  OUTPOST_ASSIGN_OR_RETURN(auto pending, replica_->pending(0));
  for (const PendingMutation& mutation : pending) {
    if (mutation.id == id) return mutation_print(mutation.name, mutation.args, mutation.created_ms);
  }
  return error(ErrorCode::kNotFound, name() + " has no pending m" + std::to_string(id));
}

Status SimDevice::maybe_connect(SimNetwork& network, int64_t now_ms) {
  if (!alive() || connection_ != 0 || partitioned || now_ms < down_until_ms ||
      now_ms < reconnect_at_ms_) {
    return Status::Ok();
  }
  connection_ = network.open(index_);
  trace_.add(name() + " connects c" + std::to_string(connection_));
  client_->on_connected();
  client_->on_poke(protocol::Poke());  // pokes may have been missed while away
  return pump(network, now_ms);
}

void SimDevice::lose_connection(int64_t now_ms) {
  connection_ = 0;
  if (client_ && client_->request_in_flight()) client_->on_request_failed();
  reconnect_at_ms_ = now_ms + static_cast<int64_t>(backoff_.next_delay_ms(random_.engine()));
}

void SimDevice::disconnect(SimNetwork& network, int64_t now_ms, const std::string& why) {
  if (connection_ == 0) return;
  trace_.add(name() + " drops c" + std::to_string(connection_) + " (" + why + ")");
  network.close(connection_, now_ms, false);
  lose_connection(now_ms);
}

void SimDevice::on_closed(SimNetwork& network, uint64_t connection, int64_t now_ms) {
  if (connection != connection_) return;
  trace_.add(name() + " notices c" + std::to_string(connection) + " is gone");
  network.close(connection, now_ms, false);
  lose_connection(now_ms);
}

std::string SimDevice::frame_summary(const protocol::ClientFrame& frame) const {
  if (frame.has_push()) {
    std::string ids;
    for (const auto& mutation : frame.push().mutations()) {
      ids += (ids.empty() ? "m" : ",m") + std::to_string(mutation.id());
    }
    return "push " + ids;
  }
  const auto& pull = frame.pull();
  std::string text = pull.fetch_size() > 0 ? "fetch" : "pull";
  for (const auto& cursor : pull.cursors()) {
    text += " " + cursor.scope() + "@" + std::to_string(cursor.seq()) +
            (cursor.token().empty() ? "" : "+");
  }
  if (pull.fetch_size() > 0) text += " keys=" + std::to_string(pull.fetch_size());
  return text;
}

void SimDevice::send(SimNetwork& network, const protocol::ClientFrame& frame, int64_t now_ms) {
  trace_.add(name() + " sends on c" + std::to_string(connection_) + ": " + frame_summary(frame));
  network.send(connection_, true, frame.SerializeAsString(), now_ms);
}

Status SimDevice::pump(SimNetwork& network, int64_t now_ms) {
  if (!alive() || connection_ == 0 || client_->request_in_flight()) return Status::Ok();
  OUTPOST_ASSIGN_OR_RETURN(auto next, client_->next_request());
  if (next) send(network, *next, now_ms);
  return Status::Ok();
}

Status SimDevice::on_frame(SimNetwork& network, uint64_t connection, const std::string& bytes,
                           int64_t now_ms) {
  if (!alive() || connection != connection_) return Status::Ok();
  protocol::ServerFrame frame;
  if (!frame.ParseFromString(bytes)) return error(ErrorCode::kInvalidArgument, "bad server frame");
  Status status;
  switch (frame.body_case()) {
    case protocol::ServerFrame::kPush: {
      if (!client_->request_in_flight()) {
        return error(ErrorCode::kInvalidArgument, "push response with no request in flight");
      }
      std::string results;
      for (const auto& result : frame.push().results()) {
        results += " m" + std::to_string(result.id()) +
                   (result.outcome() == protocol::MutationResult::APPLIED ? "=ok" : "=rejected");
      }
      trace_.add(name() + " gets push answer:" + results);
      status = client_->on_push_response(frame.push());
      backoff_.reset();
      break;
    }
    case protocol::ServerFrame::kPull: {
      if (!client_->request_in_flight()) {
        return error(ErrorCode::kInvalidArgument, "pull response with no request in flight");
      }
      std::string text;
      for (const auto& scope : frame.pull().scopes()) {
        text += " " + scope.scope() + ":" + std::to_string(scope.changes_size()) + "ch" +
                (scope.has_more() ? "+more" : "") + (scope.reset() ? "+reset" : "") + "@" +
                std::to_string(scope.cursor());
      }
      trace_.add(name() + " gets pull answer:" + text);
      if (auto next = client_->pipelined_pull(frame.pull())) send(network, *next, now_ms);
      status = client_->on_pull_response(frame.pull());
      backoff_.reset();
      break;
    }
    case protocol::ServerFrame::kPoke:
      client_->on_poke(frame.poke());
      break;
    case protocol::ServerFrame::kCarried: {
      OUTPOST_ASSIGN_OR_RETURN(bool applied, client_->on_carried(frame.carried()));
      trace_.add(name() + " gets carried " + frame.carried().changes().scope() + "@" +
                 std::to_string(frame.carried().base()) + "->" +
                 std::to_string(frame.carried().changes().cursor()) +
                 (applied ? " (applied)" : " (refused: pulls)"));
      break;
    }
    case protocol::ServerFrame::kError:
      return on_error_frame(network, frame.error(), now_ms);
    default:
      return error(ErrorCode::kInvalidArgument, "unexpected server frame");
  }
  OUTPOST_RETURN_IF_ERROR(status);
  return pump(network, now_ms);
}

Status SimDevice::on_error_frame(SimNetwork& network, const protocol::Error& frame,
                                 int64_t now_ms) {
  trace_.add(name() + " gets error " + frame.code() + ": " + frame.message());
  Status server_error(error_code_from_name(frame.code()), "server: " + frame.message());
  bool restarted = false;
  if (client_->request_in_flight()) {
    OUTPOST_ASSIGN_OR_RETURN(auto before, replica_->pending(0));
    OUTPOST_ASSIGN_OR_RETURN(restarted, client_->on_request_refused(server_error));
    OUTPOST_ASSIGN_OR_RETURN(auto after, replica_->pending(0));
    std::string moves;
    for (size_t i = 0; i < before.size() && before.size() == after.size(); ++i) {
      if (before[i].id == after[i].id) continue;
      renumbered_.emplace_back(before[i].id, after[i].id);
      moves += " m" + std::to_string(before[i].id) + "->m" + std::to_string(after[i].id);
    }
    if (!moves.empty()) trace_.add(name() + " renumbers its outbox:" + moves);
  }
  disconnect(network, now_ms, "server error");
  if (!frame.retryable() && !restarted) return server_error;
  return Status::Ok();
}

bool SimDevice::settled() const {
  return alive() && connection_ != 0 && !client_->request_in_flight() && client_->up_to_date();
}

}  // namespace outpost::sim

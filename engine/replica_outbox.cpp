// Local writes and the sync bookkeeping around them: mutate() runs a local mutator and
// appends to `_outbox` in one transaction; the outbox, the rejected mutations (discard,
// retry) and the stored cursors as SyncClient reads them.
#include "engine/replica_internal.h"

namespace outpost {

using google::protobuf::Message;
using replica_internal::from_sqlite;

Result<uint64_t> Replica::mutate_json(const std::string& name, const std::string& json_args,
                                      int64_t now_ms) {
  if (mutators_ == nullptr) return error(ErrorCode::kNotFound, "no mutators are registered");
  OUTPOST_ASSIGN_OR_RETURN(const Mutator* mutator, mutators_->require(name));
  OUTPOST_ASSIGN_OR_RETURN(auto args, mutators_->parse_json_args(*mutator, json_args));
  return mutate(name, *args, now_ms);
}

Result<uint64_t> Replica::mutate(const std::string& name, const Message& args, int64_t now_ms) {
  return mutate_internal(name, args, now_ms, 0);
}

Result<uint64_t> Replica::retry_rejected(uint64_t rejected_id, int64_t now_ms,
                                         const Message* replacement_args) {
  if (mutators_ == nullptr) return error(ErrorCode::kNotFound, "no mutators are registered");
  OUTPOST_ASSIGN_OR_RETURN(auto all, rejected());
  for (const RejectedMutation& item : all) {
    if (item.id != rejected_id) continue;
    if (replacement_args != nullptr) {
      return mutate_internal(item.name, *replacement_args, now_ms, rejected_id);
    }
    OUTPOST_ASSIGN_OR_RETURN(const Mutator* mutator, mutators_->require(item.name));
    OUTPOST_ASSIGN_OR_RETURN(auto args, mutators_->parse_args(*mutator, item.args));
    return mutate_internal(item.name, *args, now_ms, rejected_id);
  }
  return error(ErrorCode::kNotFound, "no rejected mutation " + std::to_string(rejected_id));
}

Result<uint64_t> Replica::mutate_internal(const std::string& name, const Message& args,
                                          int64_t now_ms, uint64_t retry_of) {
  if (mutators_ == nullptr) return error(ErrorCode::kNotFound, "no mutators are registered");
  OUTPOST_ASSIGN_OR_RETURN(const Mutator* mutator, mutators_->require(name));
  if (args.GetDescriptor() != mutator->args_type) {
    return error(ErrorCode::kInvalidArgument, "mutator '" + name + "' takes " +
                                                  mutator->args_type->full_name() + ", not " +
                                                  args.GetDescriptor()->full_name());
  }
  Impl& impl = *impl_;
  impl.pending_changes = ChangeSet();
  impl.shadow_added.clear();
  uint64_t id = 0;
  try {
    replica_internal::WriteTransaction tx(impl);
    impl.revalidate();
    auto context = MutationContext::on_device(impl, schema_,
                                              MutationOrigin{tenant_, user_, client_id_}, now_ms);
    std::unique_ptr<Message> prepared;
    if (mutator->prepare) {
      prepared.reset(args.New());
      prepared->CopyFrom(args);
      Status status = mutator->prepare(context, *prepared);
      if (!status.ok()) return status.with_context(name);
    }
    const Message& stored_args = prepared ? *prepared : args;
    std::string serialized = stored_args.SerializeAsString();
    SQLite::Statement& insert = impl.cached(replica_internal::kInsertIntoOutbox);
    insert.bind(1, name);
    insert.bind(2, serialized.data(), static_cast<int>(serialized.size()));
    insert.bind(3, now_ms);
    insert.exec();
    id = static_cast<uint64_t>(impl.db.getLastInsertRowid());
    context.mutation_id = id;
    if (retry_of != 0) {
      SQLite::Statement& remove = impl.cached("DELETE FROM _rejected WHERE id = ?");
      remove.bind(1, static_cast<int64_t>(retry_of));
      if (remove.exec() == 0) {
        return error(ErrorCode::kNotFound, "no rejected mutation " + std::to_string(retry_of));
      }
    }
    Status status = mutator->local(context, stored_args);
    if (!status.ok()) {
      impl.forget_shadow_added();
      impl.discard_search();
      return status.with_context(name);  // the transaction rolls back
    }
    impl.flush_search();
    impl.pending_changes.outbox_changed = true;
    impl.pending_changes.rejections_changed = retry_of != 0;
    impl.journal(impl.pending_changes);
    tx.commit();
  } catch (const SQLite::Exception& e) {
    impl.forget_shadow_added();
    impl.discard_search();
    return from_sqlite(e, "mutate " + name);
  }
  impl.shadow_added.clear();
  ChangeSet changes = std::move(impl.pending_changes);
  notify(changes);
  return id;
}

Result<std::vector<PendingMutation>> Replica::pending(size_t max_count) {
  try {
    // Cached (every request a SyncClient builds reads it): the bound is a parameter.
    SQLite::Statement& select =
        impl_->cached("SELECT id, name, args, created_ms FROM _outbox ORDER BY id LIMIT ?");
    replica_internal::ResetOnExit reset{select};
    select.bind(1, max_count > 0 ? static_cast<int64_t>(max_count) : int64_t{-1});
    std::vector<PendingMutation> out;
    while (select.executeStep()) {
      SQLite::Column args = select.getColumn(2);
      out.push_back(PendingMutation{
          static_cast<uint64_t>(select.getColumn(0).getInt64()), select.getColumn(1).getString(),
          std::string(static_cast<const char*>(args.getBlob()), args.getBytes()),
          select.getColumn(3).getInt64()});
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "read outbox");
  }
}

Result<uint64_t> Replica::processed_through() {
  try {
    SQLite::Statement& select =
        impl_->cached("SELECT CAST(value AS INTEGER) FROM _meta WHERE name = 'processed_through'");
    replica_internal::ResetOnExit reset{select};
    if (!select.executeStep()) return uint64_t{0};
    return static_cast<uint64_t>(select.getColumn(0).getInt64());
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "read processed_through");
  }
}

Result<std::vector<RejectedMutation>> Replica::rejected() {
  try {
    SQLite::Statement select(
        impl_->db, "SELECT id, name, args, created_ms, code, reason FROM _rejected ORDER BY id");
    std::vector<RejectedMutation> out;
    while (select.executeStep()) {
      SQLite::Column args = select.getColumn(2);
      out.push_back(RejectedMutation{
          static_cast<uint64_t>(select.getColumn(0).getInt64()), select.getColumn(1).getString(),
          std::string(static_cast<const char*>(args.getBlob()), args.getBytes()),
          select.getColumn(3).getInt64(), select.getColumn(4).getString(),
          select.getColumn(5).getString()});
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "read rejected mutations");
  }
}

Status Replica::discard_rejected(uint64_t id) {
  ChangeSet changes;
  changes.rejections_changed = true;
  try {
    SQLite::Transaction tx(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement remove(impl_->db, "DELETE FROM _rejected WHERE id = ?");
    remove.bind(1, static_cast<int64_t>(id));
    if (remove.exec() == 0) {
      return error(ErrorCode::kNotFound, "no rejected mutation " + std::to_string(id));
    }
    impl_->journal(changes);
    tx.commit();
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "discard rejected mutation");
  }
  notify(changes);
  return Status::Ok();
}

Result<std::vector<ScopeCursor>> Replica::cursors() {
  try {
    SQLite::Statement& select =
        impl_->cached("SELECT scope, seq, token FROM _cursors ORDER BY scope");
    replica_internal::ResetOnExit reset{select};
    std::vector<ScopeCursor> out;
    while (select.executeStep()) {
      SQLite::Column token = select.getColumn(2);
      out.push_back(ScopeCursor{
          select.getColumn(0).getString(), static_cast<uint64_t>(select.getColumn(1).getInt64()),
          std::string(static_cast<const char*>(token.getBlob()), token.getBytes())});
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "read cursors");
  }
}

}  // namespace outpost

namespace outpost {

Result<ApplyReport> Replica::renumber_pending(const ReusedIds& reused) {
  // Ids are SQLite integers: a `last` past 2^62 can only come from a broken server.
  if (reused.first == 0 || reused.first > reused.last || reused.last >= (uint64_t{1} << 62)) {
    return error(ErrorCode::kInvalidArgument, "renumber_pending: first " +
                                                  std::to_string(reused.first) + " after last " +
                                                  std::to_string(reused.last));
  }
  const int64_t shift = static_cast<int64_t>(reused.last + 1 - reused.first);
  replica_internal::ApplyRun run(*impl_, schema_, mutators_,
                                 MutationOrigin{tenant_, user_, client_id_});
  auto report = replica_internal::in_apply_transaction(
      *impl_, run, "renumber pending mutations", false, [&]() -> Status {
        // Through negative ids: an UPDATE checks the primary key row by row, in no
        // promised order, so a shift straight up could collide with a row not moved yet.
        SQLite::Statement away(impl_->db, "UPDATE _outbox SET id = -(id + ?1) WHERE id >= ?2");
        away.bind(1, shift);
        away.bind(2, static_cast<int64_t>(reused.first));
        if (away.exec() == 0) return Status::Ok();
        impl_->db.exec("UPDATE _outbox SET id = -id WHERE id < 0");
        // New mutations follow the renumbered ones: the newest id only grew (decision 065).
        run.note_processed(reused.last);
        run.outbox_changed = true;
        run.mark_shadow_touched();  // replayed with their new ids
        return Status::Ok();
      });
  if (!report.ok()) return report;
  notify(std::move(impl_->pending_changes));
  return report;
}

}  // namespace outpost

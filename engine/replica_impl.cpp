// Replica::Impl: the connection's statement cache, the search-index batching, the shadow
// set and the journal, and the RecordAccess local mutators write through. Plus the small
// helpers every replica_*.cpp shares (replica_internal.h).
#include <sqlite3.h>

#include "engine/replica_internal.h"
#include "engine/replica_journal.h"
#include "engine/scope.h"

namespace outpost {

using google::protobuf::Message;

namespace replica_internal {

Status from_sqlite(const SQLite::Exception& e, const std::string& context) {
  int code = e.getErrorCode();
  ErrorCode mapped = ErrorCode::kIo;
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) mapped = ErrorCode::kCorrupt;
  if (code == SQLITE_READONLY) mapped = ErrorCode::kReadOnly;
  if (code == SQLITE_CANTOPEN || code == SQLITE_PERM) mapped = ErrorCode::kIo;
  return error(mapped, context + ": " + e.what());
}

std::unique_ptr<Message> parse_record(const Collection& collection, const std::string& body) {
  auto record = collection.new_record();
  if (!record->ParseFromString(body)) return nullptr;
  return record;
}

bool collection_in_scope(const Collection& collection, const std::string& scope) {
  auto parsed = ScopeName::parse(scope);
  const bool org = parsed.ok() && parsed->is_org();
  return collection.scope == (org ? SCOPE_ORG : SCOPE_USER);
}

}  // namespace replica_internal

using replica_internal::parse_record;

SQLite::Statement& Replica::Impl::prepared(const std::string& sql) {
  auto it = statements.find(sql);
  if (it == statements.end()) {
    it = statements.emplace(sql, std::make_unique<SQLite::Statement>(db, sql)).first;
  }
  return *it->second;
}

SQLite::Statement& Replica::Impl::cached_by_address(const char* sql) {
  SQLite::Statement* statement = nullptr;
  if (auto found = statements_by_address.find(sql); found != statements_by_address.end()) {
    statement = found->second;
  } else {
    statement = &prepared(sql);
    statements_by_address.emplace(sql, statement);
  }
  statement->reset();
  statement->clearBindings();
  return *statement;
}

namespace replica_internal {

WriteTransaction::WriteTransaction(Replica::Impl& impl) : impl_(impl) {
  impl_.own_commit_stamp.reset();  // whatever happens next, the file moves past it
  impl_.tx_data_version = -1;
  impl_.tx_journal_seq = 0;
  SQLite::Statement& begin = impl_.cached("BEGIN IMMEDIATE");
  begin.exec();
  begin.reset();
}

WriteTransaction::~WriteTransaction() {
  if (!open_) return;
  impl_.no_restart_known = false;  // learnt in what is rolled back
  try {
    SQLite::Statement& rollback = impl_.cached("ROLLBACK");
    rollback.exec();
    rollback.reset();
  } catch (const SQLite::Exception&) {
    // As SQLite::Transaction: SQLite already rolled back (an I/O error, a full disk).
  }
}

void WriteTransaction::commit() {
  // Decision 051: when refresh() had accounted for every other connection's commit when
  // this transaction began (its data_version then), this commit's stamp is "nothing to
  // read" for refresh() — if it is the only commit since: the header's commit count one
  // more than under our write lock. Another commit slipped in before the read below makes
  // it two or more, and refresh() asks SQLite as usual.
  const volatile uint32_t* header = impl_.wal_index_header;
  std::optional<uint32_t> count_before;
  if (header != nullptr && impl_.tx_data_version >= 0 &&
      impl_.tx_data_version == impl_.notified_version) {
    count_before = commit_count_word(read_commit_stamp(header));
  }
  SQLite::Statement& commit = impl_.cached("COMMIT");
  commit.exec();
  commit.reset();
  open_ = false;
  if (impl_.tx_journal_seq != 0) impl_.own_journal_seq = impl_.tx_journal_seq;
  if (count_before) {
    Replica::CommitStamp after = read_commit_stamp(header);
    if (commit_count_word(after) == *count_before + 1) impl_.own_commit_stamp = after;
  }
}

}  // namespace replica_internal

SQLite::Statement& Replica::Impl::cached_or_once(const std::string& sql,
                                                 std::optional<SQLite::Statement>& once) {
  if (statements.size() < kMaxCachedStatements || statements.count(sql) != 0) {
    SQLite::Statement& statement = prepared(sql);  // by text: `sql` is not a literal
    statement.reset();
    statement.clearBindings();
    return statement;
  }
  return once.emplace(db, sql);
}

void Replica::Impl::flush_search() {
  for (auto& [name, table] : tables) table->flush_search_index();
}

void Replica::Impl::discard_search() {
  for (auto& [name, table] : tables) table->discard_pending_search_rows();
}

std::map<std::string, std::unordered_set<int64_t>> Replica::Impl::save_search() const {
  std::map<std::string, std::unordered_set<int64_t>> saved;
  for (const auto& [name, table] : tables) saved[name] = table->pending_search_rows();
  return saved;
}

void Replica::Impl::restore_search(std::map<std::string, std::unordered_set<int64_t>> saved) {
  for (auto& [name, rows] : saved) tables.at(name)->restore_pending_search_rows(std::move(rows));
}

void Replica::Impl::forget_shadow_added() {
  for (const auto& entry : shadow_added) shadowed.erase(entry);
  shadow_added.clear();
}

int64_t Replica::Impl::data_version() {
  SQLite::Statement& pragma = cached("PRAGMA data_version");
  pragma.executeStep();
  int64_t version = pragma.getColumn(0).getInt64();
  pragma.reset();
  return version;
}

void Replica::Impl::load_shadow() {
  shadowed.clear();
  shadow_added.clear();
  SQLite::Statement& select = cached("SELECT collection, key FROM _shadow");
  while (select.executeStep()) {
    shadowed.emplace(select.getColumn(0).getString(), select.getColumn(1).getString());
  }
  select.reset();
}

void Replica::Impl::revalidate() {
  const int64_t version = data_version();
  tx_data_version = version;
  if (version == cache_version) return;
  no_restart_known = false;  // another connection may have restarted a scope
  load_shadow();
  load_search_deferral();
  cache_version = version;
}

std::string Replica::Impl::search_deferred_meta(const Collection& collection) {
  return "search_deferred:" + collection.name;
}

bool Replica::Impl::search_deferred_in_file(const Collection& collection) {
  SQLite::Statement& select = cached("SELECT 1 FROM _meta WHERE name = ?");
  select.bind(1, search_deferred_meta(collection));
  const bool deferred = select.executeStep();
  select.reset();
  return deferred;
}

void Replica::Impl::load_search_deferral() {
  for (auto& [name, table] : tables) {
    if (table->searchable())
      table->set_search_deferred(search_deferred_in_file(table->collection()));
  }
}

void Replica::Impl::journal(const ChangeSet& changes) {
  if (changes.empty()) return;
  std::string entry = encode_journal_entry(changes);
  SQLite::Statement& insert = cached("INSERT INTO _journal (origin, changes) VALUES (?, ?)");
  insert.bind(1, origin);
  insert.bind(2, entry.data(), static_cast<int>(entry.size()));
  insert.exec();
  // Pruning in batches keeps the common commit at one extra statement.
  const int64_t seq = db.getLastInsertRowid();
  tx_journal_seq = seq;  // this connection's once the transaction commits
  if (seq % kJournalPruneEvery != 0) return;
  SQLite::Statement& prune = cached("DELETE FROM _journal WHERE seq <= ?");
  prune.bind(1, seq - kJournalKeep);
  prune.exec();
}

void Replica::Impl::capture_shadow(const Collection& collection, const std::string& key) {
  auto entry = std::make_pair(collection.name, key);
  if (shadowed.count(entry) != 0) return;
  std::optional<StoredRow> row = table(collection).get(key);
  SQLite::Statement& insert = cached(
      "INSERT INTO _shadow (collection, key, present, version, body) VALUES (?, ?, ?, ?, ?)");
  insert.bind(1, collection.name);
  insert.bind(2, key);
  insert.bind(3, row ? 1 : 0);
  insert.bind(4, static_cast<int64_t>(row ? row->version : 0));
  if (row) {
    insert.bind(5, row->body.data(), static_cast<int>(row->body.size()));
  } else {
    insert.bind(5, "", 0);
  }
  insert.exec();
  shadowed.insert(entry);
  shadow_added.push_back(entry);
}

uint64_t Replica::Impl::shadow_version(const Collection& collection, const std::string& key) {
  SQLite::Statement& select =
      cached("SELECT version FROM _shadow WHERE collection = ? AND key = ?");
  select.bind(1, collection.name);
  select.bind(2, key);
  uint64_t version =
      select.executeStep() ? static_cast<uint64_t>(select.getColumn(0).getInt64()) : 0;
  select.reset();
  return version;
}

// RecordAccess for local mutators: writes go to the UI table, the server's version of
// each touched row is parked first.
Result<std::unique_ptr<Message>> Replica::Impl::get(const Collection& collection,
                                                    const std::string& key) {
  std::optional<StoredRow> row = table(collection).get(key);
  if (!row) return std::unique_ptr<Message>();
  auto record = parse_record(collection, row->body);
  if (!record)
    return error(ErrorCode::kCorrupt,
                 "stored " + collection.name + " '" + key + "' does not parse");
  return record;
}

Status Replica::Impl::put(const Message& record) {
  const Collection* collection = schema.find(record.GetDescriptor());
  if (collection == nullptr) {
    return error(ErrorCode::kNotFound,
                 record.GetDescriptor()->full_name() + " is not a collection of this schema");
  }
  std::string key = collection->key_of(record);
  if (key.empty()) {
    return error(ErrorCode::kInvalidArgument, collection->name + ": the key field '" +
                                                  collection->key_field->name() + "' is empty");
  }
  capture_shadow(*collection, key);
  std::string body = record.SerializeAsString();
  table(*collection).upsert(record, body, shadow_version(*collection, key));
  pending_changes.add(collection->name, key);
  return Status::Ok();
}

Status Replica::Impl::remove(const Collection& collection, const std::string& key) {
  capture_shadow(collection, key);
  if (table(collection).remove(key)) pending_changes.add(collection.name, key);
  return Status::Ok();
}

}  // namespace outpost

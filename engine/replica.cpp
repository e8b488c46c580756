#include "engine/replica.h"

#include <sqlite3.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <unordered_set>

#include "engine/collection_table.h"
#include "engine/replica_journal.h"

namespace outpost {
namespace {

using google::protobuf::Message;

// Version of the replica's own layout (internal tables), separate from the schema version.
constexpr int64_t kFormatVersion = 1;
constexpr int kBusyTimeoutMs = 5000;

Status from_sqlite(const SQLite::Exception& e, const std::string& context) {
  int code = e.getErrorCode();
  ErrorCode mapped = ErrorCode::kIo;
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) mapped = ErrorCode::kCorrupt;
  if (code == SQLITE_READONLY) mapped = ErrorCode::kReadOnly;
  if (code == SQLITE_CANTOPEN || code == SQLITE_PERM) mapped = ErrorCode::kIo;
  return error(mapped, context + ": " + e.what());
}

std::string random_client_id() {
  std::random_device device;
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 32; ++i) out += hex[device() % 16];
  return out;
}

std::unique_ptr<Message> parse_record(const Collection& collection, const std::string& body) {
  auto record = collection.new_record();
  if (!record->ParseFromString(body)) return nullptr;
  return record;
}

size_t utf8_length(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

// Well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), as
// protobuf requires of every string field. The search splits text into characters by
// their lead bytes; anything else would reach FTS5 as a malformed MATCH expression.
bool is_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t length = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xE  ? 3
                    : (c >> 3) == 0x1E ? 4
                                       : 0;
    if (length == 0 || i + length > text.size()) return false;
    uint32_t code = length == 1 ? c : c & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) {
      unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

void bind_value(SQLite::Statement& statement, int index, const SqlValue& value) {
  if (std::holds_alternative<int64_t>(value)) {
    statement.bind(index, std::get<int64_t>(value));
  } else if (std::holds_alternative<double>(value)) {
    statement.bind(index, std::get<double>(value));
  } else if (std::holds_alternative<std::string>(value)) {
    statement.bind(index, std::get<std::string>(value));
  } else {
    statement.bind(index);
  }
}

const char* op_sql(Condition::Op op) {
  switch (op) {
    case Condition::Op::kEq:
      return " = ?";
    case Condition::Op::kNe:
      return " <> ?";
    case Condition::Op::kLt:
      return " < ?";
    case Condition::Op::kLe:
      return " <= ?";
    case Condition::Op::kGt:
      return " > ?";
    case Condition::Op::kGe:
      return " >= ?";
  }
  return " = ?";
}

// Resets a cached statement when the read ends (however it ends), so that no read
// transaction stays open between calls.
struct ResetOnExit {
  SQLite::Statement& statement;
  ~ResetOnExit() {
    try {
      statement.reset();
    } catch (const SQLite::Exception&) {
      // The statement's last step failed: that error was reported by the step itself.
    }
  }
};

// Parses the `_body` blobs in the statement's first column, one record per row.
Result<std::vector<std::unique_ptr<Message>>> read_records(SQLite::Statement& statement,
                                                           const Collection& collection) {
  std::vector<std::unique_ptr<Message>> out;
  while (statement.executeStep()) {
    SQLite::Column body = statement.getColumn(0);
    auto record = collection.new_record();
    if (!record->ParseFromArray(body.getBlob(), body.getBytes())) {
      return error(ErrorCode::kCorrupt, "a stored " + collection.name + " does not parse");
    }
    out.push_back(std::move(record));
  }
  return out;
}

}  // namespace

// The connection, the per-collection tables and the rebase bookkeeping.
class Replica::Impl : public RecordAccess {
 public:
  Impl(SQLite::Database db, const Schema& schema) : db(std::move(db)), schema(schema) {}

  SQLite::Database db;
  const Schema& schema;
  std::map<std::string, std::unique_ptr<CollectionTable>, std::less<>> tables;
  // (collection, key) of rows whose server version is parked in _shadow.
  std::set<std::pair<std::string, std::string>> shadowed;
  // Shadow entries added in the current (sub)transaction, undone if it rolls back.
  std::vector<std::pair<std::string, std::string>> shadow_added;
  ChangeSet pending_changes;

  CollectionTable& table(const Collection& collection) { return *tables.at(collection.name); }

  // A prepared statement for `sql`, kept for the connection's life, reset and unbound.
  // Callers reset it again after reading so no read transaction stays open.
  SQLite::Statement& cached(const char* sql) {
    auto it = statements.find(sql);
    if (it == statements.end()) {
      it = statements.emplace(sql, std::make_unique<SQLite::Statement>(db, sql)).first;
    }
    it->second->reset();
    it->second->clearBindings();
    return *it->second;
  }
  std::map<std::string, std::unique_ptr<SQLite::Statement>, std::less<>> statements;

  // The statement of a query or search: cached like the others (a UI runs the same few
  // queries over and over; preparing one costs as much as reading a page of results), up
  // to kMaxCachedStatements distinct ones; past that, prepared into `once` for this call.
  SQLite::Statement& cached_or_once(const std::string& sql,
                                    std::optional<SQLite::Statement>& once) {
    if (statements.size() < kMaxCachedStatements || statements.count(sql) != 0) {
      return cached(sql.c_str());
    }
    return once.emplace(db, sql);
  }
  static constexpr size_t kMaxCachedStatements = 256;

  // Bulk-indexes the rows written in this transaction; call right before committing.
  void flush_search() {
    for (auto& [name, table] : tables) table->flush_search_index();
  }
  void discard_search() {
    for (auto& [name, table] : tables) table->discard_pending_search_rows();
  }
  std::map<std::string, std::unordered_set<int64_t>> save_search() const {
    std::map<std::string, std::unordered_set<int64_t>> saved;
    for (const auto& [name, table] : tables) saved[name] = table->pending_search_rows();
    return saved;
  }
  void restore_search(std::map<std::string, std::unordered_set<int64_t>> saved) {
    for (auto& [name, rows] : saved) tables.at(name)->restore_pending_search_rows(std::move(rows));
  }

  void forget_shadow_added() {
    for (const auto& entry : shadow_added) shadowed.erase(entry);
    shadow_added.clear();
  }

  // ------------------------------------------------ other connections (decision 007)
  // PRAGMA data_version: changes exactly when another connection (another process, or
  // another Replica in this one) committed to the file since this one last looked.
  int64_t data_version() {
    SQLite::Statement& pragma = cached("PRAGMA data_version");
    pragma.executeStep();
    int64_t version = pragma.getColumn(0).getInt64();
    pragma.reset();
    return version;
  }

  void load_shadow() {
    shadowed.clear();
    shadow_added.clear();
    SQLite::Statement& select = cached("SELECT collection, key FROM _shadow");
    while (select.executeStep()) {
      shadowed.emplace(select.getColumn(0).getString(), select.getColumn(1).getString());
    }
    select.reset();
  }

  // First thing in every write transaction (the write lock held, so nobody commits until
  // ours ends): another connection's commit may have parked or restored rows, so the
  // in-memory shadow set is reloaded. Everything else is read from the file each time.
  void revalidate() {
    const int64_t version = data_version();
    if (version == cache_version) return;
    load_shadow();
    cache_version = version;
  }

  // Appends this transaction's changes to `_journal` for other connections and drops the
  // rows past kJournalKeep. Inside the transaction, right before committing.
  void journal(const ChangeSet& changes) {
    if (changes.empty()) return;
    std::string entry = encode_journal_entry(changes);
    SQLite::Statement& insert = cached("INSERT INTO _journal (origin, changes) VALUES (?, ?)");
    insert.bind(1, origin);
    insert.bind(2, entry.data(), static_cast<int>(entry.size()));
    insert.exec();
    // Pruning in batches keeps the common commit at one extra statement.
    const int64_t seq = db.getLastInsertRowid();
    if (seq % kJournalPruneEvery != 0) return;
    SQLite::Statement& prune = cached("DELETE FROM _journal WHERE seq <= ?");
    prune.bind(1, seq - kJournalKeep);
    prune.exec();
  }

  int64_t cache_version = -1;     // data_version when `shadowed` was loaded
  int64_t notified_version = -1;  // data_version when refresh() last read the journal
  int64_t journal_seen = 0;       // newest `_journal` seq refresh() has accounted for
  bool has_journal = false;       // false for a read-only open of a file from before it
  std::string origin;             // this connection's tag on its `_journal` rows

  // Parks the server's version of a row before a local mutation first touches it.
  void capture_shadow(const Collection& collection, const std::string& key) {
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

  uint64_t shadow_version(const Collection& collection, const std::string& key) {
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
  Result<std::unique_ptr<Message>> get(const Collection& collection,
                                       const std::string& key) override {
    std::optional<StoredRow> row = table(collection).get(key);
    if (!row) return std::unique_ptr<Message>();
    auto record = parse_record(collection, row->body);
    if (!record)
      return error(ErrorCode::kCorrupt,
                   "stored " + collection.name + " '" + key + "' does not parse");
    return record;
  }

  Status put(const Message& record) override {
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

  Status remove(const Collection& collection, const std::string& key) override {
    capture_shadow(collection, key);
    if (table(collection).remove(key)) pending_changes.add(collection.name, key);
    return Status::Ok();
  }
};

Replica::Replica(std::string path, const Schema& schema, const MutatorRegistry* mutators)
    : path_(std::move(path)), schema_(schema), mutators_(mutators) {}

Replica::~Replica() = default;

Result<std::unique_ptr<Replica>> Replica::open(const std::string& path, const Schema& schema,
                                               const MutatorRegistry* mutators,
                                               ReplicaOptions options) {
  std::unique_ptr<Replica> replica(new Replica(path, schema, mutators));
  const int flags =
      options.read_only ? SQLite::OPEN_READONLY : (SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  try {
    SQLite::Database db(path, flags, kBusyTimeoutMs);
    // Everything up to the version checks only reads, so a refused file stays untouched.
    bool has_meta = false;
    try {
      has_meta = db.tableExists("_meta");
    } catch (const SQLite::Exception& e) {
      return from_sqlite(e, "'" + path + "' is not an outpost replica").with_context("open");
    }
    std::map<std::string, std::string> meta;
    if (has_meta) {
      SQLite::Statement select(db, "SELECT name, value FROM _meta");
      while (select.executeStep()) {
        meta[select.getColumn(0).getString()] = select.getColumn(1).getString();
      }
      int64_t format = meta.count("format_version") ? std::stoll(meta["format_version"]) : 0;
      int64_t stored_schema = meta.count("schema_version") ? std::stoll(meta["schema_version"]) : 0;
      if (format > kFormatVersion) {
        return error(ErrorCode::kSchemaTooNew,
                     "'" + path + "' uses replica format " + std::to_string(format) +
                         " but this build knows format " + std::to_string(kFormatVersion));
      }
      if (stored_schema > static_cast<int64_t>(schema.version())) {
        return error(ErrorCode::kSchemaTooNew,
                     "'" + path + "' was written by schema version " +
                         std::to_string(stored_schema) + " but this build knows version " +
                         std::to_string(schema.version()) + "; update the app");
      }
    } else {
      SQLite::Statement tables(db, "SELECT count(*) FROM sqlite_master");
      tables.executeStep();
      if (tables.getColumn(0).getInt64() != 0 || options.read_only) {
        return error(ErrorCode::kCorrupt, "'" + path + "' is not an outpost replica");
      }
    }

    if (!options.read_only) {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec(options.sync_on_commit ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
      SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
      db.exec(
          "CREATE TABLE IF NOT EXISTS _meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
          "CREATE TABLE IF NOT EXISTS _outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,"
          " name TEXT NOT NULL, args BLOB NOT NULL, created_ms INTEGER NOT NULL);"
          "CREATE TABLE IF NOT EXISTS _rejected (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
          " args BLOB NOT NULL, created_ms INTEGER NOT NULL, code TEXT NOT NULL,"
          " reason TEXT NOT NULL);"
          "CREATE TABLE IF NOT EXISTS _shadow (collection TEXT NOT NULL, key TEXT NOT NULL,"
          " present INTEGER NOT NULL, version INTEGER NOT NULL, body BLOB NOT NULL,"
          " PRIMARY KEY (collection, key)) WITHOUT ROWID;"
          "CREATE TABLE IF NOT EXISTS _cursors (scope TEXT PRIMARY KEY, seq INTEGER NOT NULL,"
          " token BLOB NOT NULL);"
          "CREATE TABLE IF NOT EXISTS _reset (scope TEXT PRIMARY KEY, target_seq INTEGER NOT NULL,"
          " complete INTEGER NOT NULL);"
          "CREATE TABLE IF NOT EXISTS _manifest (scope TEXT NOT NULL, collection TEXT NOT NULL,"
          " key TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (scope, collection, key))"
          " WITHOUT ROWID;"
          "CREATE TABLE IF NOT EXISTS _journal (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
          " origin TEXT NOT NULL, changes BLOB NOT NULL);");
      for (const auto& collection : schema.collections()) {
        CollectionTable::create_or_migrate(db, *collection);
      }
      auto set_meta = [&](const std::string& name, const std::string& value) {
        SQLite::Statement upsert(db,
                                 "INSERT INTO _meta (name, value) VALUES (?, ?) "
                                 "ON CONFLICT(name) DO UPDATE SET value = excluded.value");
        upsert.bind(1, name);
        upsert.bind(2, value);
        upsert.exec();
        meta[name] = value;
      };
      set_meta("format_version", std::to_string(kFormatVersion));
      set_meta("schema_version", std::to_string(schema.version()));
      // Each writing connection's tag on its `_journal` rows (decision 007), counted in
      // this transaction so two processes opening at once get different ones.
      db.exec(
          "INSERT INTO _meta (name, value) VALUES ('connections', '1') ON CONFLICT(name) "
          "DO UPDATE SET value = CAST(value AS INTEGER) + 1");
      meta["connections"] =
          db.execAndGet("SELECT value FROM _meta WHERE name = 'connections'").getString();
      if (meta["client_id"].empty()) {
        set_meta("client_id", options.client_id.empty() ? random_client_id() : options.client_id);
      }
      // A replica belongs to one user for life: another identity must not inherit its
      // data and outbox.
      const bool has_identity = !meta["tenant"].empty() || !meta["user"].empty();
      const bool other_tenant = !options.tenant.empty() && meta["tenant"] != options.tenant;
      const bool other_user = !options.user.empty() && meta["user"] != options.user;
      if (has_identity && (other_tenant || other_user)) {
        return error(ErrorCode::kPermissionDenied, "'" + path + "' belongs to " + meta["tenant"] +
                                                       "/" + meta["user"] + ", not " +
                                                       options.tenant + "/" + options.user);
      }
      if (!options.tenant.empty() && meta["tenant"] != options.tenant) {
        set_meta("tenant", options.tenant);
      }
      if (!options.user.empty() && meta["user"] != options.user) set_meta("user", options.user);
      tx.commit();
    }
    replica->client_id_ = meta["client_id"];
    replica->tenant_ = meta["tenant"];
    replica->user_ = meta["user"];

    // UI reads hit memory-mapped pages and a larger page cache instead of a read() per page.
    db.exec("PRAGMA mmap_size = 268435456");
    db.exec("PRAGMA cache_size = -16384");
    if (!options.read_only) {
      db.exec("PRAGMA wal_autocheckpoint = " +
              std::to_string(std::max(0, options.wal_autocheckpoint_pages)));
    }
    replica->autocheckpoint_pages_ = options.wal_autocheckpoint_pages;
    replica->impl_ = std::make_unique<Impl>(std::move(db), schema);
    Impl& impl = *replica->impl_;
    for (const auto& collection : schema.collections()) {
      impl.tables[collection->name] = std::make_unique<CollectionTable>(impl.db, *collection);
    }
    // The version first: a commit between the two reads only causes one more reload.
    const int64_t version = impl.data_version();
    impl.load_shadow();
    impl.cache_version = version;
    if (!options.read_only) impl.origin = meta["connections"];
    impl.has_journal = impl.db.tableExists("_journal");
    if (impl.has_journal) {
      SQLite::Statement newest(impl.db, "SELECT coalesce(max(seq), 0) FROM _journal");
      newest.executeStep();
      impl.journal_seen = newest.getColumn(0).getInt64();
    }
    impl.notified_version = version;
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "open '" + path + "'");
  } catch (const std::exception& e) {
    return error(ErrorCode::kCorrupt, "open '" + path + "': " + e.what());
  }
  return replica;
}

Result<std::unique_ptr<Message>> Replica::get(const std::string& collection_name,
                                              const std::string& key) {
  OUTPOST_ASSIGN_OR_RETURN(const Collection* collection, schema_.require(collection_name));
  try {
    return impl_->get(*collection, key);
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "get " + collection_name);
  }
}

Result<bool> Replica::get_into(const std::string& key, Message& out) {
  const Collection* collection = schema_.find(out.GetDescriptor());
  if (collection == nullptr) {
    return error(ErrorCode::kNotFound, out.GetDescriptor()->full_name() + " is not a collection");
  }
  try {
    bool corrupt = false;
    bool found = impl_->table(*collection).read_into(key, out, &corrupt);
    if (corrupt) {
      return error(ErrorCode::kCorrupt,
                   "stored " + collection->name + " '" + key + "' does not parse");
    }
    return found;
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "get " + collection->name);
  }
}

Result<std::vector<std::unique_ptr<Message>>> Replica::query(const Query& query) {
  OUTPOST_ASSIGN_OR_RETURN(const Collection* collection, schema_.require(query.collection));
  std::string sql = "SELECT _body FROM " + table_name(*collection);
  for (size_t i = 0; i < query.where.size(); ++i) {
    const Condition& condition = query.where[i];
    if (collection->column(condition.column) == nullptr) {
      return error(ErrorCode::kInvalidArgument, "collection '" + collection->name +
                                                    "' has no column '" + condition.column + "'");
    }
    sql += i == 0 ? " WHERE " : " AND ";
    sql += condition.column + op_sql(condition.op);
  }
  std::string order = query.order_by;
  bool descending = query.descending;
  if (order.empty() && !collection->default_order_column.empty()) {
    order = collection->default_order_column;
    descending = collection->default_order_descending;
  }
  if (order.empty()) order = collection->key_field->name();
  if (collection->column(order) == nullptr) {
    return error(ErrorCode::kInvalidArgument,
                 "collection '" + collection->name + "' has no column '" + order + "' to order by");
  }
  sql += " ORDER BY " + order + (descending ? " DESC" : " ASC");
  if (query.limit > 0) sql += " LIMIT " + std::to_string(query.limit);
  try {
    std::optional<SQLite::Statement> once;
    SQLite::Statement& statement = impl_->cached_or_once(sql, once);
    ResetOnExit reset{statement};
    for (size_t i = 0; i < query.where.size(); ++i) {
      bind_value(statement, static_cast<int>(i + 1), query.where[i].value);
    }
    return read_records(statement, *collection);
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "query " + collection->name);
  }
}

Result<std::vector<std::unique_ptr<Message>>> Replica::search(const std::string& collection_name,
                                                              const std::string& text,
                                                              const SearchOptions& options) {
  OUTPOST_ASSIGN_OR_RETURN(const Collection* collection, schema_.require(collection_name));
  if (collection->searchable().empty()) {
    return error(ErrorCode::kInvalidArgument,
                 "collection '" + collection->name + "' has no searchable fields");
  }
  if (!is_utf8(text)) return error(ErrorCode::kInvalidArgument, "search text is not UTF-8");
  if (utf8_length(text) < 3) {
    return error(ErrorCode::kInvalidArgument, "search text needs at least 3 characters");
  }
  std::string order = "c." + collection->key_field->name();
  bool descending = options.descending;
  if (options.order_by.empty() && !collection->default_order_column.empty()) {
    order = "c." + collection->default_order_column;
    descending = collection->default_order_descending;
  }
  if (!options.order_by.empty()) {
    if (collection->column(options.order_by) == nullptr) {
      return error(ErrorCode::kInvalidArgument, "collection '" + collection->name +
                                                    "' has no column '" + options.order_by + "'");
    }
    order = "c." + options.order_by;
  }
  // The trigram index (detail=none) finds rows holding every trigram of the text; LIKE
  // then keeps those that contain the text itself in one of the searchable fields.
  std::vector<std::string> trigrams;
  {
    std::vector<std::string> characters;
    for (size_t i = 0; i < text.size();) {
      size_t length = 1;
      unsigned char lead = static_cast<unsigned char>(text[i]);
      if (lead >= 0xF0) {
        length = 4;
      } else if (lead >= 0xE0) {
        length = 3;
      } else if (lead >= 0xC0) {
        length = 2;
      }
      characters.push_back(text.substr(i, length));
      i += length;
    }
    for (size_t i = 0; i + 3 <= characters.size(); ++i) {
      std::string trigram = characters[i] + characters[i + 1] + characters[i + 2];
      if (std::find(trigrams.begin(), trigrams.end(), trigram) == trigrams.end()) {
        trigrams.push_back(trigram);
      }
    }
  }
  std::string match;
  for (const std::string& trigram : trigrams) {
    if (!match.empty()) match += " AND ";
    match += "\"";
    for (char c : trigram) {
      match += c;
      if (c == '"') match += '"';
    }
    match += "\"";
  }
  std::string pattern = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';
    pattern += c;
  }
  pattern += "%";
  const std::string fts = search_table_name(*collection);
  std::string confirm;
  for (const Column* column : collection->searchable()) {
    if (!confirm.empty()) confirm += " OR ";
    confirm += "c." + column->name + " LIKE ?2 ESCAPE '\\'";
  }
  std::string sql = "SELECT c._body FROM " + fts + " JOIN " + table_name(*collection) +
                    " c ON c.rowid = " + fts + ".rowid WHERE " + fts + " MATCH ?1 AND (" + confirm +
                    ") ORDER BY " + order + (descending ? " DESC" : " ASC");
  if (options.limit > 0) sql += " LIMIT " + std::to_string(options.limit);
  try {
    std::optional<SQLite::Statement> once;
    SQLite::Statement& statement = impl_->cached_or_once(sql, once);
    ResetOnExit reset{statement};
    statement.bind(1, match);
    statement.bind(2, pattern);
    return read_records(statement, *collection);
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "search " + collection->name);
  }
}

Result<SqlRows> Replica::sql(const std::string& statement_text,
                             const std::vector<SqlValue>& params) {
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(impl_->db.getHandle(), statement_text.c_str(),
                              static_cast<int>(statement_text.size()), &raw, &tail);
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> statement(raw, &sqlite3_finalize);
  if (rc != SQLITE_OK || raw == nullptr) {
    return error(ErrorCode::kInvalidArgument,
                 std::string("bad SQL: ") + sqlite3_errmsg(impl_->db.getHandle()));
  }
  while (tail != nullptr && (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == ';'))
    ++tail;
  if (tail != nullptr && *tail != '\0') {
    return error(ErrorCode::kInvalidArgument, "one SQL statement at a time");
  }
  if (!sqlite3_stmt_readonly(raw)) {
    return error(ErrorCode::kReadOnly,
                 "only read-only SQL is allowed; change data through mutate()");
  }
  for (size_t i = 0; i < params.size(); ++i) {
    int index = static_cast<int>(i + 1);
    const SqlValue& value = params[i];
    if (std::holds_alternative<int64_t>(value)) {
      sqlite3_bind_int64(raw, index, std::get<int64_t>(value));
    } else if (std::holds_alternative<double>(value)) {
      sqlite3_bind_double(raw, index, std::get<double>(value));
    } else if (std::holds_alternative<std::string>(value)) {
      const std::string& s = std::get<std::string>(value);
      sqlite3_bind_text(raw, index, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_null(raw, index);
    }
  }
  SqlRows out;
  int columns = sqlite3_column_count(raw);
  for (int i = 0; i < columns; ++i) out.columns.emplace_back(sqlite3_column_name(raw, i));
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    std::vector<SqlValue> row;
    for (int i = 0; i < columns; ++i) {
      switch (sqlite3_column_type(raw, i)) {
        case SQLITE_INTEGER:
          row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(raw, i)));
          break;
        case SQLITE_FLOAT:
          row.emplace_back(sqlite3_column_double(raw, i));
          break;
        case SQLITE_NULL:
          row.emplace_back(std::monostate());
          break;
        default: {
          const void* data = sqlite3_column_blob(raw, i);
          int size = sqlite3_column_bytes(raw, i);
          row.emplace_back(std::string(static_cast<const char*>(data), size));
        }
      }
    }
    out.rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) {
    return error(ErrorCode::kInvalidArgument,
                 std::string("SQL failed: ") + sqlite3_errmsg(impl_->db.getHandle()));
  }
  return out;
}

Result<uint64_t> Replica::count(const std::string& collection_name) {
  OUTPOST_ASSIGN_OR_RETURN(const Collection* collection, schema_.require(collection_name));
  try {
    SQLite::Statement statement(impl_->db, "SELECT count(*) FROM " + table_name(*collection));
    statement.executeStep();
    return static_cast<uint64_t>(statement.getColumn(0).getInt64());
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "count " + collection_name);
  }
}

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
    SQLite::Transaction tx(impl.db, SQLite::TransactionBehavior::IMMEDIATE);
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
    SQLite::Statement& insert =
        impl.cached("INSERT INTO _outbox (name, args, created_ms) VALUES (?, ?, ?)");
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
    std::string sql = "SELECT id, name, args, created_ms FROM _outbox ORDER BY id";
    if (max_count > 0) sql += " LIMIT " + std::to_string(max_count);
    SQLite::Statement select(impl_->db, sql);
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
    SQLite::Statement select(impl_->db,
                             "SELECT CAST(value AS INTEGER) FROM _meta WHERE name = "
                             "'processed_through'");
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
    SQLite::Statement select(impl_->db, "SELECT scope, seq, token FROM _cursors ORDER BY scope");
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

namespace {

// Whether `collection` belongs to scopes like `scope` ("org/..." or "user/...").
bool collection_in_scope(const Collection& collection, const std::string& scope) {
  const bool org = scope.rfind("org/", 0) == 0;
  return collection.scope == (org ? SCOPE_ORG : SCOPE_USER);
}

// The apply/rebase steps, run inside one transaction of a Replica::Impl.
class ApplyRun {
 public:
  ApplyRun(Replica::Impl& impl, const Schema& schema, const MutatorRegistry* mutators,
           const std::string& tenant, const std::string& user, const std::string& client_id)
      : impl_(impl),
        schema_(schema),
        mutators_(mutators),
        tenant_(tenant),
        user_(user),
        client_id_(client_id) {}

  ApplyReport report;
  bool outbox_changed = false;

  Status apply_change(const protocol::Change& change) {
    const Collection* collection = schema_.find(change.collection());
    if (collection == nullptr) {
      ++report.changes_skipped;  // a collection from a newer schema: not ours to show
      return Status::Ok();
    }
    bool put = change.op() == protocol::Change::PUT;
    if (!put && change.op() != protocol::Change::DELETE) {
      return error(ErrorCode::kInvalidArgument, "change with an unknown op");
    }
    std::unique_ptr<Message> record;
    if (put) {
      record = parse_record(*collection, change.body());
      if (!record || collection->key_of(*record) != change.key()) {
        return error(ErrorCode::kInvalidArgument,
                     "server sent a malformed " + collection->name + " '" + change.key() + "'");
      }
    }
    auto entry = std::make_pair(collection->name, change.key());
    if (impl_.shadowed.count(entry) != 0) {
      // A pending mutation touched this row: the server's version goes to the shadow and
      // the rebase rebuilds the row from it.
      SQLite::Statement& update = impl_.cached(
          "UPDATE _shadow SET present = ?, version = ?, body = ? "
          "WHERE collection = ? AND key = ? AND version < ?");
      update.bind(1, put ? 1 : 0);
      update.bind(2, static_cast<int64_t>(change.version()));
      update.bind(3, change.body().data(), static_cast<int>(change.body().size()));
      update.bind(4, collection->name);
      update.bind(5, change.key());
      update.bind(6, static_cast<int64_t>(change.version()));
      bool wrote = update.exec() > 0;
      wrote ? ++report.changes_applied : ++report.changes_skipped;
      touched_shadow_ |= wrote;
      return Status::Ok();
    }
    CollectionTable& table = impl_.table(*collection);
    bool wrote = put ? table.upsert_if_newer(*record, change.body(), change.version())
                     : table.remove_if_older(change.key(), change.version());
    if (wrote) {
      ++report.changes_applied;
      impl_.pending_changes.add(collection->name, change.key());
    } else {
      ++report.changes_skipped;
    }
    return Status::Ok();
  }

  // Whether each scope's stored cursor (absent: seq 0, no token) is still `expected`'s.
  bool cursors_still(const std::vector<ScopeCursor>& expected) {
    for (const ScopeCursor& cursor : expected) {
      SQLite::Statement& select = impl_.cached("SELECT seq, token FROM _cursors WHERE scope = ?");
      select.bind(1, cursor.scope);
      uint64_t seq = 0;
      std::string token;
      if (select.executeStep()) {
        seq = static_cast<uint64_t>(select.getColumn(0).getInt64());
        SQLite::Column stored = select.getColumn(1);
        token.assign(static_cast<const char*>(stored.getBlob()), stored.getBytes());
      }
      select.reset();
      if (seq != cursor.seq || token != cursor.token) return false;
    }
    return true;
  }

  void set_cursor(const std::string& scope, uint64_t seq, const std::string& token) {
    SQLite::Statement& upsert = impl_.cached(
        "INSERT INTO _cursors (scope, seq, token) VALUES (?, ?, ?) "
        "ON CONFLICT(scope) DO UPDATE SET seq = excluded.seq, token = excluded.token");
    upsert.bind(1, scope);
    upsert.bind(2, static_cast<int64_t>(seq));
    upsert.bind(3, token.data(), static_cast<int>(token.size()));
    upsert.exec();
  }

  // A page of a reset manifest. The first page of a reset starts it afresh; the last one
  // (no more pages) records the head to jump to once the differing keys are fetched.
  void store_manifest(const protocol::ScopeChanges& scope) {
    SQLite::Statement state(impl_.db, "SELECT complete FROM _reset WHERE scope = ?");
    state.bind(1, scope.scope());
    bool restart = !state.executeStep() || state.getColumn(0).getInt() != 0;
    state.reset();
    if (restart) {
      SQLite::Statement clear(impl_.db, "DELETE FROM _manifest WHERE scope = ?");
      clear.bind(1, scope.scope());
      clear.exec();
    }
    SQLite::Statement insert(impl_.db,
                             "INSERT OR REPLACE INTO _manifest (scope, collection, key, version) "
                             "VALUES (?, ?, ?, ?)");
    for (const protocol::KeyRef& ref : scope.manifest()) {
      insert.reset();
      insert.bind(1, scope.scope());
      insert.bind(2, ref.collection());
      insert.bind(3, ref.key());
      insert.bind(4, static_cast<int64_t>(ref.version()));
      insert.exec();
    }
    SQLite::Statement upsert(impl_.db,
                             "INSERT OR REPLACE INTO _reset (scope, target_seq, complete) "
                             "VALUES (?, ?, ?)");
    upsert.bind(1, scope.scope());
    upsert.bind(2, static_cast<int64_t>(scope.has_more() ? 0 : scope.cursor()));
    upsert.bind(3, scope.has_more() ? 0 : 1);
    upsert.exec();
    // Keep the old seq; the token lets the server continue the manifest. The last page
    // clears it, so every page moves the stored cursor (a request built before it is
    // then stale, see apply's basis) and the fetches go out with the bare seq.
    const std::string next_token = scope.has_more() ? scope.cursor_token() : std::string();
    SQLite::Statement token(impl_.db,
                            "INSERT INTO _cursors (scope, seq, token) VALUES (?, 0, ?) "
                            "ON CONFLICT(scope) DO UPDATE SET token = excluded.token");
    token.bind(1, scope.scope());
    token.bind(2, next_token.data(), static_cast<int>(next_token.size()));
    token.exec();
  }

  void reject(const protocol::MutationResult& result) {
    if (result.outcome() != protocol::MutationResult::REJECTED) return;
    SQLite::Statement select(impl_.db, "SELECT name, args, created_ms FROM _outbox WHERE id = ?");
    select.bind(1, static_cast<int64_t>(result.id()));
    if (!select.executeStep()) return;  // already handled
    SQLite::Column args = select.getColumn(1);
    RejectedMutation rejected{
        result.id(),
        select.getColumn(0).getString(),
        std::string(static_cast<const char*>(args.getBlob()), args.getBytes()),
        select.getColumn(2).getInt64(),
        result.code(),
        result.reason()};
    select.reset();
    SQLite::Statement insert(impl_.db,
                             "INSERT OR REPLACE INTO _rejected (id, name, args, created_ms, "
                             "code, reason) VALUES (?, ?, ?, ?, ?, ?)");
    insert.bind(1, static_cast<int64_t>(rejected.id));
    insert.bind(2, rejected.name);
    insert.bind(3, rejected.args.data(), static_cast<int>(rejected.args.size()));
    insert.bind(4, rejected.created_ms);
    insert.bind(5, rejected.code);
    insert.bind(6, rejected.reason);
    insert.exec();
    SQLite::Statement remove(impl_.db, "DELETE FROM _outbox WHERE id = ?");
    remove.bind(1, static_cast<int64_t>(result.id()));
    remove.exec();
    report.mutations_rejected.push_back(std::move(rejected));
    outbox_changed = true;
  }

  // The highest id a server reported processed, kept for PushRequest.processed_through:
  // a server restored from an older backup takes new ids after it (docs/protocol.md §4).
  void note_processed(uint64_t last_mutation_id) {
    if (last_mutation_id == 0) return;
    SQLite::Statement upsert(impl_.db,
                             "INSERT INTO _meta (name, value) VALUES ('processed_through', ?1) "
                             "ON CONFLICT(name) DO UPDATE SET value = excluded.value "
                             "WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)");
    upsert.bind(1, std::to_string(last_mutation_id));
    upsert.exec();
  }

  void confirm_through(uint64_t last_mutation_id) {
    SQLite::Statement remove(impl_.db, "DELETE FROM _outbox WHERE id <= ?");
    remove.bind(1, static_cast<int64_t>(last_mutation_id));
    int removed = remove.exec();
    report.mutations_confirmed += static_cast<uint64_t>(removed);
    if (removed > 0) outbox_changed = true;
  }

  // `_reset.complete` of a scope that restarted from scratch (restart_scope) and waits for
  // its snapshot to complete; 0 and 1 are a compaction reset's manifest states.
  static constexpr int kRestarting = 2;

  // Every row of `scope` loses its server version (0: older than anything the server
  // sends) and the cursor starts over; finish_restart() removes what the snapshot lacked.
  void restart(const std::string& scope) {
    for (const auto& collection : schema_.collections()) {
      if (!collection_in_scope(*collection, scope)) continue;
      impl_.db.exec("UPDATE " + table_name(*collection) + " SET _version = 0");
      SQLite::Statement shadow(impl_.db, "UPDATE _shadow SET version = 0 WHERE collection = ?");
      shadow.bind(1, collection->name);
      shadow.exec();
    }
    SQLite::Statement clear(impl_.db, "DELETE FROM _manifest WHERE scope = ?");
    clear.bind(1, scope);
    clear.exec();
    SQLite::Statement state(impl_.db,
                            "INSERT OR REPLACE INTO _reset (scope, target_seq, complete) "
                            "VALUES (?, 0, ?)");
    state.bind(1, scope);
    state.bind(2, kRestarting);
    state.exec();
    set_cursor(scope, 0, "");
  }

  // After the restart's snapshot: rows it did not deliver (still version 0) are gone on
  // the server. Rows with pending local changes keep their local state; their parked
  // server version becomes "absent" and the rebase decides.
  void finish_restart(const std::string& scope) {
    SQLite::Statement state(impl_.db, "SELECT 1 FROM _reset WHERE scope = ? AND complete = ?");
    state.bind(1, scope);
    state.bind(2, kRestarting);
    const bool restarting = state.executeStep();
    state.reset();
    if (!restarting) return;
    for (const auto& collection : schema_.collections()) {
      if (!collection_in_scope(*collection, scope)) continue;
      const std::string table = table_name(*collection);
      const std::string key = collection->key_field->name();
      std::vector<std::string> gone;
      SQLite::Statement select(impl_.db, "SELECT " + key + " FROM " + table +
                                             " WHERE _version = 0 AND " + key +
                                             " NOT IN (SELECT key FROM _shadow WHERE "
                                             "collection = ?)");
      select.bind(1, collection->name);
      while (select.executeStep()) gone.push_back(select.getColumn(0).getString());
      for (const std::string& k : gone) {
        impl_.table(*collection).remove(k);
        impl_.pending_changes.add(collection->name, k);
        ++report.changes_applied;
      }
      SQLite::Statement park(impl_.db,
                             "UPDATE _shadow SET present = 0 WHERE collection = ? AND "
                             "present = 1 AND version = 0");
      park.bind(1, collection->name);
      if (park.exec() > 0) touched_shadow_ = true;
    }
    SQLite::Statement clear(impl_.db, "DELETE FROM _reset WHERE scope = ?");
    clear.bind(1, scope);
    clear.exec();
  }

  // Server versions parked in the shadow changed outside apply_change (a reset).
  void mark_shadow_touched() { touched_shadow_ = true; }

  bool needs_rebase() const {
    return !impl_.shadowed.empty() &&
           (touched_shadow_ || outbox_changed || report.changes_applied > 0);
  }

  // Restores the server's version of every parked row, then re-runs the pending
  // mutations on top, each in a savepoint so a failing one leaves no partial effect.
  Status rebase() {
    SQLite::Statement select(impl_.db,
                             "SELECT collection, key, present, version, body FROM _shadow");
    while (select.executeStep()) {
      std::string collection_name = select.getColumn(0).getString();
      std::string key = select.getColumn(1).getString();
      const Collection* collection = schema_.find(collection_name);
      if (collection == nullptr) continue;
      CollectionTable& table = impl_.table(*collection);
      if (select.getColumn(2).getInt() != 0) {
        SQLite::Column body_column = select.getColumn(4);
        std::string body(static_cast<const char*>(body_column.getBlob()), body_column.getBytes());
        auto record = parse_record(*collection, body);
        if (!record)
          return error(ErrorCode::kCorrupt, "parked " + collection_name + " does not parse");
        table.upsert(*record, body, static_cast<uint64_t>(select.getColumn(3).getInt64()));
      } else {
        table.remove(key);
      }
      impl_.pending_changes.add(collection_name, key);
    }
    select.reset();
    impl_.db.exec("DELETE FROM _shadow");
    impl_.shadowed.clear();
    impl_.shadow_added.clear();

    if (mutators_ == nullptr) return Status::Ok();
    SQLite::Statement outbox(impl_.db,
                             "SELECT id, name, args, created_ms FROM _outbox ORDER BY id");
    while (outbox.executeStep()) {
      uint64_t id = static_cast<uint64_t>(outbox.getColumn(0).getInt64());
      const Mutator* mutator = mutators_->find(outbox.getColumn(1).getString());
      if (mutator == nullptr) continue;
      SQLite::Column args_column = outbox.getColumn(2);
      std::string args_bytes(static_cast<const char*>(args_column.getBlob()),
                             args_column.getBytes());
      int64_t created_ms = outbox.getColumn(3).getInt64();
      auto args = mutators_->parse_args(*mutator, args_bytes);
      if (!args.ok()) continue;
      impl_.db.exec("SAVEPOINT replay");
      impl_.shadow_added.clear();
      auto search_before = impl_.save_search();
      auto context = MutationContext::for_rebase(
          impl_, schema_, MutationOrigin{tenant_, user_, client_id_}, id, created_ms);
      Status status = mutator->local(context, **args);
      if (status.ok()) {
        impl_.db.exec("RELEASE replay");
      } else {
        // The mutation no longer applies locally; it stays pending and the server decides.
        impl_.db.exec("ROLLBACK TO replay");
        impl_.db.exec("RELEASE replay");
        impl_.forget_shadow_added();
        impl_.restore_search(std::move(search_before));
      }
      impl_.shadow_added.clear();
      ++report.mutations_replayed;
    }
    return Status::Ok();
  }

 private:
  Replica::Impl& impl_;
  const Schema& schema_;
  const MutatorRegistry* mutators_;
  const std::string& tenant_;
  const std::string& user_;
  const std::string& client_id_;
  bool touched_shadow_ = false;
};

// Reloads the in-memory shadow set after a rolled-back transaction.
void reload_shadow(Replica::Impl& impl) {
  impl.discard_search();
  impl.load_shadow();
}

}  // namespace

namespace {

// Runs `steps` and then the rebase in one IMMEDIATE transaction, indexing what it wrote
// before committing. On any error everything rolls back, in memory too. On success
// impl.pending_changes holds what the transaction changed (also in the journal).
Result<ApplyReport> in_apply_transaction(Replica::Impl& impl, ApplyRun& run, const char* what,
                                         bool cursors_changed,
                                         const std::function<Status()>& steps) {
  impl.pending_changes = ChangeSet();
  try {
    SQLite::Transaction tx(impl.db, SQLite::TransactionBehavior::IMMEDIATE);
    impl.revalidate();
    Status status = steps();
    if (status.ok() && run.needs_rebase()) status = run.rebase();
    if (!status.ok()) {
      reload_shadow(impl);
      return status;
    }
    impl.flush_search();
    impl.pending_changes.cursors_changed = cursors_changed;
    impl.pending_changes.outbox_changed = run.outbox_changed;
    impl.pending_changes.rejections_changed = !run.report.mutations_rejected.empty();
    impl.journal(impl.pending_changes);
    tx.commit();
  } catch (const SQLite::Exception& e) {
    reload_shadow(impl);
    return from_sqlite(e, what);
  }
  return run.report;
}

}  // namespace

Result<ApplyReport> Replica::apply(const protocol::PullResponse& response, const PullBasis* basis) {
  ApplyRun run(*impl_, schema_, mutators_, tenant_, user_, client_id_);
  auto report =
      in_apply_transaction(*impl_, run, "apply", response.scopes_size() > 0, [&]() -> Status {
        if (basis != nullptr && !run.cursors_still(basis->cursors)) {
          run.report.stale = true;
          return Status::Ok();
        }
        bool complete = true;
        for (const protocol::ScopeChanges& scope : response.scopes()) {
          for (const protocol::Change& change : scope.changes()) {
            OUTPOST_RETURN_IF_ERROR(run.apply_change(change));
          }
          if (scope.reset()) {
            run.store_manifest(scope);
            complete = false;
            continue;
          }
          run.set_cursor(scope.scope(), scope.cursor(), scope.cursor_token());
          // The end of a restart's snapshot: a cursor without a token that is a real
          // position (not a scope the page budget skipped before the snapshot began).
          if (scope.cursor_token().empty() && (scope.cursor() > 0 || !scope.has_more())) {
            run.finish_restart(scope.scope());
          }
          complete &= !scope.has_more();
        }
        // Complete only if it covers every scope this replica follows: a mutation's effects
        // may be in either, so a response silent about one has not delivered them all.
        if (!tenant_.empty()) {
          for (const std::string& followed : {"user/" + tenant_ + "/" + user_, "org/" + tenant_}) {
            complete &= std::any_of(response.scopes().begin(), response.scopes().end(),
                                    [&](const auto& scope) { return scope.scope() == followed; });
          }
        }
        for (const protocol::MutationResult& result : response.rejections()) run.reject(result);
        // Only a complete response carries every effect of the mutations it confirms.
        run.note_processed(response.last_mutation_id());
        uint64_t confirmed = response.last_mutation_id();
        if (basis != nullptr) confirmed = std::min(confirmed, basis->newest_pending);
        if (complete && confirmed > 0) run.confirm_through(confirmed);
        return Status::Ok();
      });
  if (!report.ok()) return report;
  notify(std::move(impl_->pending_changes));
  return report;
}

Result<ApplyReport> Replica::apply_push_results(const protocol::PushResponse& response) {
  ApplyRun run(*impl_, schema_, mutators_, tenant_, user_, client_id_);
  auto report = in_apply_transaction(*impl_, run, "apply push results", false, [&]() -> Status {
    for (const protocol::MutationResult& result : response.results()) run.reject(result);
    run.note_processed(response.last_mutation_id());
    return Status::Ok();
  });
  if (!report.ok()) return report;
  notify(std::move(impl_->pending_changes));
  return report;
}

uint64_t Replica::subscribe(Listener listener, Executor executor) {
  std::lock_guard<std::mutex> lock(subscribers_mutex_);
  uint64_t id = next_subscriber_id_++;
  subscribers_.push_back(Subscriber{id, std::move(listener), std::move(executor)});
  return id;
}

void Replica::unsubscribe(uint64_t id) {
  std::lock_guard<std::mutex> lock(subscribers_mutex_);
  std::erase_if(subscribers_, [id](const Subscriber& s) { return s.id == id; });
}

Result<ChangeSet> Replica::refresh() {
  Impl& impl = *impl_;
  ChangeSet changes;
  try {
    const int64_t version = impl.data_version();
    if (version == impl.notified_version) return changes;
    if (!impl.has_journal) {
      impl.has_journal = impl.db.tableExists("_journal");
      if (!impl.has_journal) {
        impl.notified_version = version;
        changes.everything_changed = true;
        notify(changes);
        return changes;
      }
    }
    // One statement: one snapshot, taken after `version` was read, so a commit in between
    // is read now and at most looked for once more.
    SQLite::Statement& select =
        impl.cached("SELECT seq, origin, changes FROM _journal WHERE seq > ? ORDER BY seq");
    ResetOnExit reset{select};
    select.bind(1, impl.journal_seen);
    bool first = true;
    while (select.executeStep()) {
      const int64_t seq = select.getColumn(0).getInt64();
      // Rows between what this connection saw and the oldest one kept were dropped.
      if (first && seq != impl.journal_seen + 1) changes.everything_changed = true;
      first = false;
      impl.journal_seen = seq;
      if (select.getColumn(1).getString() == impl.origin) continue;
      SQLite::Column entry = select.getColumn(2);
      if (!decode_journal_entry(
              std::string_view(static_cast<const char*>(entry.getBlob()), entry.getBytes()),
              changes)) {
        changes.everything_changed = true;
      }
    }
    impl.notified_version = version;
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "refresh");
  }
  notify(changes);
  return changes;
}

void Replica::notify(const ChangeSet& changes) {
  if (changes.empty()) return;
  std::vector<Subscriber> subscribers;
  {
    std::lock_guard<std::mutex> lock(subscribers_mutex_);
    subscribers = subscribers_;
  }
  for (const Subscriber& subscriber : subscribers) {
    if (subscriber.executor) {
      Listener listener = subscriber.listener;
      subscriber.executor([listener, changes] { listener(changes); });
    } else {
      subscriber.listener(changes);
    }
  }
}

Status Replica::check_integrity() {
  try {
    SQLite::Statement check(impl_->db, "PRAGMA integrity_check");
    std::string result;
    while (check.executeStep()) result += check.getColumn(0).getString();
    if (result != "ok") return error(ErrorCode::kCorrupt, "integrity_check: " + result);
    check.reset();
    // Each search index must match its table exactly.
    for (const auto& collection : schema_.collections()) {
      if (collection->searchable().empty()) continue;
      const std::string fts = search_table_name(*collection);
      try {
        impl_->db.exec("INSERT INTO " + fts + "(" + fts + ") VALUES ('integrity-check')");
      } catch (const SQLite::Exception& e) {
        return error(ErrorCode::kCorrupt, "search index of " + collection->name + ": " + e.what());
      }
    }
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "integrity_check");
  }
}

namespace {

// The WAL hook of a replica whose checkpoints are handed off (it replaces SQLite's own
// automatic checkpoint, which is a WAL hook too).
int handed_off_wal_hook(void* arg, sqlite3* db, const char* name, int pages) {
  auto* handoff = static_cast<Replica::CheckpointHandoff*>(arg);
  if (pages >= handoff->bound_pages) {
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (pages >= handoff->request_pages) {
    handoff->request();
  }
  return SQLITE_OK;
}

}  // namespace

Status Replica::hand_off_checkpoints(std::function<void()> request, int request_pages,
                                     int bound_pages) {
  sqlite3* db = impl_->db.getHandle();
  if (!request) {
    sqlite3_wal_autocheckpoint(db, std::max(0, autocheckpoint_pages_));
    checkpoint_handoff_.reset();
    return Status::Ok();
  }
  if (request_pages <= 0 || bound_pages < request_pages) {
    return error(ErrorCode::kInvalidArgument,
                 "checkpoint hand-off needs 0 < request_pages <= bound_pages");
  }
  auto handoff = std::make_unique<CheckpointHandoff>(
      CheckpointHandoff{std::move(request), request_pages, bound_pages});
  sqlite3_wal_hook(db, handed_off_wal_hook, handoff.get());
  checkpoint_handoff_ = std::move(handoff);
  return Status::Ok();
}

}  // namespace outpost

namespace outpost {
Result<std::optional<uint64_t>> Replica::reset_target(const std::string& scope) {
  try {
    SQLite::Statement select(impl_->db,
                             "SELECT target_seq FROM _reset WHERE scope = ? AND complete = 1");
    select.bind(1, scope);
    if (!select.executeStep()) return std::optional<uint64_t>();
    return std::optional<uint64_t>(static_cast<uint64_t>(select.getColumn(0).getInt64()));
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "read reset state");
  }
}

Result<std::vector<protocol::KeyRef>> Replica::reset_fetch_list(const std::string& scope,
                                                                size_t max_count) {
  std::vector<protocol::KeyRef> out;
  try {
    for (const auto& collection : schema_.collections()) {
      if (!collection_in_scope(*collection, scope)) continue;
      // Keys whose local server version is older than the manifest's, or absent. Rows with
      // pending local changes compare the parked server version instead.
      const std::string table = table_name(*collection);
      const std::string key = collection->key_field->name();
      SQLite::Statement select(
          impl_->db,
          "SELECT m.key, m.version FROM _manifest m LEFT JOIN " + table + " c ON c." + key +
              " = m.key LEFT JOIN _shadow s ON s.collection = m.collection AND s.key = m.key "
              "WHERE m.scope = ? AND m.collection = ? AND "
              "(CASE WHEN s.key IS NOT NULL THEN s.version ELSE coalesce(c._version, 0) END) "
              "< m.version");
      select.bind(1, scope);
      select.bind(2, collection->name);
      while (select.executeStep()) {
        if (max_count > 0 && out.size() >= max_count) return out;
        protocol::KeyRef ref;
        ref.set_collection(collection->name);
        ref.set_key(select.getColumn(0).getString());
        ref.set_version(static_cast<uint64_t>(select.getColumn(1).getInt64()));
        out.push_back(std::move(ref));
      }
    }
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "read reset fetch list");
  }
  return out;
}

Result<ApplyReport> Replica::restart_scope(const std::string& scope) {
  ApplyRun run(*impl_, schema_, mutators_, tenant_, user_, client_id_);
  auto report = in_apply_transaction(*impl_, run, "restart scope", true, [&]() -> Status {
    run.restart(scope);
    return Status::Ok();
  });
  if (!report.ok()) return report;
  notify(std::move(impl_->pending_changes));
  return report;
}

Result<ApplyReport> Replica::finish_reset(const std::string& scope) {
  Impl& impl = *impl_;
  ApplyRun run(impl, schema_, mutators_, tenant_, user_, client_id_);
  auto report = in_apply_transaction(impl, run, "finish reset", true, [&]() -> Status {
    SQLite::Statement state(impl.db,
                            "SELECT target_seq FROM _reset WHERE scope = ? AND complete = 1");
    state.bind(1, scope);
    if (!state.executeStep()) {
      return error(ErrorCode::kFailedPrecondition,
                   "no complete reset manifest for '" + scope + "'");
    }
    const uint64_t target = static_cast<uint64_t>(state.getColumn(0).getInt64());
    state.reset();
    for (const auto& collection : schema_.collections()) {
      if (!collection_in_scope(*collection, scope)) continue;
      const std::string table = table_name(*collection);
      const std::string key = collection->key_field->name();
      // Rows the server no longer has. Rows with pending local changes keep their local
      // state; their parked server version becomes "absent" and the rebase decides.
      std::vector<std::string> gone;
      SQLite::Statement select(impl.db,
                               "SELECT " + key + " FROM " + table + " WHERE " + key +
                                   " NOT IN (SELECT key FROM _manifest WHERE scope = ? "
                                   "AND collection = ?) AND " +
                                   key + " NOT IN (SELECT key FROM _shadow WHERE collection = ?)");
      select.bind(1, scope);
      select.bind(2, collection->name);
      select.bind(3, collection->name);
      while (select.executeStep()) gone.push_back(select.getColumn(0).getString());
      for (const std::string& k : gone) {
        impl.table(*collection).remove(k);
        impl.pending_changes.add(collection->name, k);
        ++run.report.changes_applied;
      }
      SQLite::Statement park(impl.db,
                             "UPDATE _shadow SET present = 0, version = ? WHERE collection = ? "
                             "AND present = 1 AND key NOT IN (SELECT key FROM _manifest WHERE "
                             "scope = ? AND collection = ?)");
      park.bind(1, static_cast<int64_t>(target));
      park.bind(2, collection->name);
      park.bind(3, scope);
      park.bind(4, collection->name);
      if (park.exec() > 0) run.mark_shadow_touched();
    }
    run.set_cursor(scope, target, "");
    SQLite::Statement clear_manifest(impl.db, "DELETE FROM _manifest WHERE scope = ?");
    clear_manifest.bind(1, scope);
    clear_manifest.exec();
    SQLite::Statement clear_reset(impl.db, "DELETE FROM _reset WHERE scope = ?");
    clear_reset.bind(1, scope);
    clear_reset.exec();
    return Status::Ok();
  });
  if (!report.ok()) return report;
  notify(std::move(impl.pending_changes));
  return report;
}

}  // namespace outpost

// The store file format: schema, identification and migrations.
#include <sqlite3.h>

#include <string>

#include "adapters/sqlite_server_store_internal.h"

namespace outpost::sqlite_detail {
namespace {

// Store format 1. Scopes are interned to integer ids: a scope name ("user/<tenant>/<user>")
// would otherwise be repeated in every record, change and index entry. Text columns are
// compared bytewise (BINARY), which is also std::string's order.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY NOT NULL,
  value ANY
) STRICT, WITHOUT ROWID;
CREATE TABLE scopes (
  id INTEGER PRIMARY KEY,
  scope TEXT NOT NULL UNIQUE,
  head_seq INTEGER NOT NULL,
  horizon_seq INTEGER NOT NULL,
  compacted_seq INTEGER NOT NULL,  -- log entries up to here were checked for supersession
  record_count INTEGER NOT NULL,
  record_bytes INTEGER NOT NULL
) STRICT;
CREATE TABLE records (
  scope_id INTEGER NOT NULL,
  collection TEXT NOT NULL,
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  body BLOB NOT NULL,
  UNIQUE (scope_id, collection, key)
) STRICT;
CREATE INDEX records_snapshot ON records (scope_id, priority, collection, key);
CREATE TABLE changes (
  scope_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  collection TEXT NOT NULL,
  key TEXT NOT NULL,
  op INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (scope_id, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX changes_by_key ON changes (scope_id, collection, key, seq);
CREATE TABLE clients (
  client_id TEXT PRIMARY KEY NOT NULL,
  last_mutation_id INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE outcomes (
  client_id TEXT NOT NULL,
  mutation_id INTEGER NOT NULL,
  code TEXT NOT NULL,
  reason TEXT NOT NULL,
  PRIMARY KEY (client_id, mutation_id)
) STRICT, WITHOUT ROWID;
)sql";

// Format 2: each client's newest mutation prints (engine/mutation_print.h).
constexpr const char* kPrintsV2 = R"sql(
CREATE TABLE prints (
  client_id TEXT NOT NULL,
  mutation_id INTEGER NOT NULL,
  print INTEGER NOT NULL,
  PRIMARY KEY (client_id, mutation_id)
) STRICT, WITHOUT ROWID;
)sql";

}  // namespace

ErrorCode code_for_sqlite(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return ErrorCode::kCorrupt;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorCode::kUnavailable;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS:
      return ErrorCode::kIo;
    case SQLITE_TOOBIG:
      return ErrorCode::kTooLarge;
    default:
      return ErrorCode::kInternal;
  }
}

// Reads the identity of an existing file without writing anything.
Status check_format(SQLite::Database& db, const std::string& path) {
  const int64_t app_id = db.execAndGet("PRAGMA application_id").getInt64();
  const int64_t objects = db.execAndGet("SELECT count(*) FROM sqlite_master").getInt64();
  if (app_id == 0 && objects == 0) return Status::Ok();  // new or empty: ours to create
  if (app_id != SqliteServerStore::kApplicationId) {
    return error(ErrorCode::kCorrupt, "'" + path +
                                          "' is a SQLite database but not an outpost server "
                                          "store (application_id " +
                                          std::to_string(app_id) + ")");
  }
  if (!db.tableExists("meta")) {
    return error(ErrorCode::kCorrupt, "'" + path + "' has no meta table");
  }
  SQLite::Statement query(db, "SELECT value FROM meta WHERE key = 'format_version'");
  if (!query.executeStep() || query.getColumn(0).getType() != SQLITE_INTEGER) {
    return error(ErrorCode::kCorrupt, "'" + path + "' has no store format version");
  }
  const int64_t version = query.getColumn(0).getInt64();
  if (version > SqliteServerStore::kFormatVersion) {
    return error(ErrorCode::kSchemaTooNew, "'" + path + "' was written by store format " +
                                               std::to_string(version) +
                                               "; this build reads up to format " +
                                               std::to_string(SqliteServerStore::kFormatVersion));
  }
  if (version < 1) {
    return error(ErrorCode::kCorrupt,
                 "'" + path + "' has an invalid store format " + std::to_string(version));
  }
  return Status::Ok();
}

Status configure_and_migrate(SQLite::Database& db, const std::string& path) {
  const std::string mode = db.execAndGet("PRAGMA journal_mode = WAL").getString();
  if (mode != "wal") {
    return error(ErrorCode::kIo, "'" + path + "' cannot use WAL (journal mode " + mode + ")");
  }
  // FULL: a push is acknowledged once commit() returns, so the WAL must reach the disk at
  // every commit; NORMAL could lose the last transactions on power loss.
  db.exec("PRAGMA synchronous = FULL");
  db.exec("PRAGMA cache_size = -16384");
  db.exec("PRAGMA journal_size_limit = 67108864");
  db.exec("PRAGMA temp_store = MEMORY");
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  // Checked again under the write lock: another process may have created it meanwhile.
  OUTPOST_RETURN_IF_ERROR(check_format(db, path));
  if (!db.tableExists("meta")) {
    db.exec(kSchemaV1);
    db.exec("PRAGMA application_id = " + std::to_string(SqliteServerStore::kApplicationId));
    SQLite::Statement insert(db, "INSERT INTO meta (key, value) VALUES ('format_version', 1)");
    insert.exec();
  }
  // Migrations from older formats, each bumping format_version.
  const int64_t version =
      db.execAndGet("SELECT value FROM meta WHERE key = 'format_version'").getInt64();
  if (version < 2) {
    db.exec(kPrintsV2);
    db.exec("UPDATE meta SET value = 2 WHERE key = 'format_version'");
  }
  tx.commit();
  return Status::Ok();
}

}  // namespace outpost::sqlite_detail

// Replica::open: the file's format and schema checks, its layout (internal tables and one
// table per collection, migrated additively), the identity recorded on first open, and the
// connection's settings. Also the integrity check and the WAL checkpoint hand-off.
#include <sqlite3.h>

#include <algorithm>
#include <map>

#include "engine/replica_internal.h"
#include "engine/replica_journal.h"

namespace outpost {
namespace {

using replica_internal::from_sqlite;

// Version of the replica's own layout (internal tables), separate from the schema version.
// 2 (decision 065): `_outbox` without AUTOINCREMENT, its ids numbered on from
// `_meta.mutation_ids_issued`, which a build of format 1 would not read: it refuses the file.
constexpr int64_t kFormatVersion = 2;
constexpr int kBusyTimeoutMs = 5000;

using Meta = std::map<std::string, std::string>;

// Reads `_meta` and refuses a file from a newer format or schema, or one that is not a
// replica. Only reads, so a refused file stays untouched.
Status read_meta(SQLite::Database& db, const std::string& path, const Schema& schema,
                 bool read_only, Meta& meta) {
  bool has_meta = false;
  try {
    has_meta = db.tableExists("_meta");
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "'" + path + "' is not an outpost replica").with_context("open");
  }
  if (!has_meta) {
    SQLite::Statement tables(db, "SELECT count(*) FROM sqlite_master");
    tables.executeStep();
    if (tables.getColumn(0).getInt64() != 0 || read_only) {
      return error(ErrorCode::kCorrupt, "'" + path + "' is not an outpost replica");
    }
    return Status::Ok();
  }
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
                 "'" + path + "' was written by schema version " + std::to_string(stored_schema) +
                     " but this build knows version " + std::to_string(schema.version()) +
                     "; update the app");
  }
  return Status::Ok();
}

// Decision 058: `_journal` without AUTOINCREMENT, so a commit does not write the
// `sqlite_sequence` page too. What AUTOINCREMENT gave — a seq is never reused, so another
// connection's `journal_seen` stays a valid watermark — now rests on the newest row never
// being deleted (the prune keeps kJournalKeep rows): a new row is max(seq) + 1. A file
// from an older build is rebuilt in place, in the layout transaction, seqs kept; if its
// counter is past its newest row, a row at the counter (from no connection, "everything
// changed") carries it. An older build writes the new table with the same statements.
void migrate_journal(SQLite::Database& db) {
  SQLite::Statement sql(db,
                        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '_journal'");
  if (!sql.executeStep() ||
      sql.getColumn(0).getString().find("AUTOINCREMENT") == std::string::npos) {
    return;
  }
  sql.reset();
  const int64_t newest = db.execAndGet("SELECT coalesce(max(seq), 0) FROM _journal").getInt64();
  SQLite::Statement counter(db, "SELECT seq FROM sqlite_sequence WHERE name = '_journal'");
  const int64_t issued = counter.executeStep() ? counter.getColumn(0).getInt64() : 0;
  counter.reset();
  db.exec(
      "CREATE TABLE _journal_058 (seq INTEGER PRIMARY KEY, origin TEXT NOT NULL,"
      " changes BLOB NOT NULL);"
      "INSERT INTO _journal_058 (seq, origin, changes) SELECT seq, origin, changes FROM _journal;");
  if (issued > newest) {
    ChangeSet everything_changed;
    everything_changed.everything_changed = true;
    const std::string everything = encode_journal_entry(everything_changed);
    SQLite::Statement carry(db,
                            "INSERT INTO _journal_058 (seq, origin, changes) VALUES (?, '', ?)");
    carry.bind(1, issued);
    carry.bind(2, everything.data(), static_cast<int>(everything.size()));
    carry.exec();
  }
  db.exec("DROP TABLE _journal; ALTER TABLE _journal_058 RENAME TO _journal;");
}

// Decision 065: `_outbox` without AUTOINCREMENT, so a save does not write the
// `sqlite_sequence` page too. A mutation id is never reused (decision 042): a new one is
// max(the outbox's newest id, `_meta.mutation_ids_issued`) + 1, and whatever deletes outbox
// rows first raises `mutation_ids_issued` to the newest id it deletes, in the same
// transaction (`kRememberIssuedMutationIds` in ApplyRun::confirm_through and ::reject;
// replica_internal.h). A file from an older build is rebuilt in place, in the layout
// transaction, ids kept and its counter carried into the floor.
void migrate_outbox(SQLite::Database& db) {
  SQLite::Statement sql(db,
                        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '_outbox'");
  if (!sql.executeStep() ||
      sql.getColumn(0).getString().find("AUTOINCREMENT") == std::string::npos) {
    return;
  }
  sql.reset();
  SQLite::Statement counter(db, "SELECT seq FROM sqlite_sequence WHERE name = '_outbox'");
  const int64_t issued = counter.executeStep() ? counter.getColumn(0).getInt64() : 0;
  counter.reset();
  db.exec(
      "CREATE TABLE _outbox_065 (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
      " args BLOB NOT NULL, created_ms INTEGER NOT NULL);"
      "INSERT INTO _outbox_065 (id, name, args, created_ms)"
      " SELECT id, name, args, created_ms FROM _outbox;");
  SQLite::Statement carry(db, replica_internal::kRaiseMutationIdsIssued);
  carry.bind(1, issued);
  carry.exec();
  // Dropping the table drops its `sqlite_sequence` row too.
  db.exec("DROP TABLE _outbox; ALTER TABLE _outbox_065 RENAME TO _outbox;");
}

// The internal tables (created if missing) and one table per collection.
void create_layout(SQLite::Database& db, const Schema& schema) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS _meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS _outbox (id INTEGER PRIMARY KEY,"
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
      "CREATE TABLE IF NOT EXISTS _journal (seq INTEGER PRIMARY KEY,"
      " origin TEXT NOT NULL, changes BLOB NOT NULL);");
  migrate_journal(db);
  migrate_outbox(db);
  for (const auto& collection : schema.collections()) {
    CollectionTable::create_or_migrate(db, *collection);
  }
}

void set_meta(SQLite::Database& db, Meta& meta, const std::string& name, const std::string& value) {
  SQLite::Statement upsert(db,
                           "INSERT INTO _meta (name, value) VALUES (?, ?) "
                           "ON CONFLICT(name) DO UPDATE SET value = excluded.value");
  upsert.bind(1, name);
  upsert.bind(2, value);
  upsert.exec();
  meta[name] = value;
}

// The client id (once per file, from the caller), this connection's journal tag and the
// identity: a replica belongs to one user for life, so another identity must not inherit
// its data and outbox. Inside the layout transaction.
Status record_identity(SQLite::Database& db, Meta& meta, const std::string& path,
                       const ReplicaOptions& options) {
  // Each writing connection's tag on its `_journal` rows (decision 007), counted in
  // this transaction so two processes opening at once get different ones.
  db.exec(
      "INSERT INTO _meta (name, value) VALUES ('connections', '1') ON CONFLICT(name) "
      "DO UPDATE SET value = CAST(value AS INTEGER) + 1");
  meta["connections"] =
      db.execAndGet("SELECT value FROM _meta WHERE name = 'connections'").getString();
  if (meta["client_id"].empty()) {
    // The engine draws no randomness: the caller (SyncAgent, the CLI, the simulator's
    // seeded RNG, a test) supplies the id a new file keeps for life.
    if (options.client_id.empty()) {
      return error(ErrorCode::kInvalidArgument,
                   "'" + path + "' is a new replica: ReplicaOptions::client_id is required");
    }
    set_meta(db, meta, "client_id", options.client_id);
  }
  const bool has_identity = !meta["tenant"].empty() || !meta["user"].empty();
  const bool other_tenant = !options.tenant.empty() && meta["tenant"] != options.tenant;
  const bool other_user = !options.user.empty() && meta["user"] != options.user;
  if (has_identity && (other_tenant || other_user)) {
    return error(ErrorCode::kPermissionDenied, "'" + path + "' belongs to " + meta["tenant"] + "/" +
                                                   meta["user"] + ", not " + options.tenant + "/" +
                                                   options.user);
  }
  if (!options.tenant.empty() && meta["tenant"] != options.tenant) {
    set_meta(db, meta, "tenant", options.tenant);
  }
  if (!options.user.empty() && meta["user"] != options.user) {
    set_meta(db, meta, "user", options.user);
  }
  return Status::Ok();
}

// Creates or migrates the layout and records the identity, in one transaction.
Status prepare_for_writing(SQLite::Database& db, Meta& meta, const std::string& path,
                           const Schema& schema, const ReplicaOptions& options) {
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(options.sync_on_commit ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  create_layout(db, schema);
  set_meta(db, meta, "format_version", std::to_string(kFormatVersion));
  set_meta(db, meta, "schema_version", std::to_string(schema.version()));
  OUTPOST_RETURN_IF_ERROR(record_identity(db, meta, path, options));
  tx.commit();
  return Status::Ok();
}

}  // namespace

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
    Meta meta;
    OUTPOST_RETURN_IF_ERROR(read_meta(db, path, schema, options.read_only, meta));
    if (!options.read_only) {
      OUTPOST_RETURN_IF_ERROR(prepare_for_writing(db, meta, path, schema, options));
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
    impl.load_search_deferral();
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

Status Replica::check_integrity() {
  try {
    SQLite::Statement check(impl_->db, "PRAGMA integrity_check");
    std::string result;
    while (check.executeStep()) result += check.getColumn(0).getString();
    if (result != "ok") return error(ErrorCode::kCorrupt, "integrity_check: " + result);
    check.reset();
    // Each search index must match its table exactly.
    for (const auto& collection : schema_.collections()) {
      // A deferred index is incomplete by design until its snapshot ends (decision 029).
      if (collection->searchable().empty() || impl_->search_deferred_in_file(*collection)) {
        continue;
      }
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

// The PostgreSQL store's tables, migrations, prepared statements and error mapping.
#include <cstdint>
#include <string>

#include "adapters/postgres_server_store_internal.h"

namespace outpost::pg_detail {
namespace {

// Every byte string (scope, collection, key, body, client id, reason) is bytea: any bytes
// round-trip, and bytea orders bytewise like std::string (the snapshot order).
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE outpost_scopes (
  id bigserial PRIMARY KEY,
  scope bytea NOT NULL UNIQUE,
  head_seq bigint NOT NULL DEFAULT 0,      -- the per-scope counter row: locked by writers
  horizon_seq bigint NOT NULL DEFAULT 0,
  compacted_seq bigint NOT NULL DEFAULT 0,
  record_count bigint NOT NULL DEFAULT 0,
  record_bytes bigint NOT NULL DEFAULT 0
);
CREATE TABLE outpost_records (
  scope_id bigint NOT NULL,
  collection bytea NOT NULL,
  key bytea NOT NULL,
  version bigint NOT NULL,
  priority integer NOT NULL,
  body bytea NOT NULL,
  PRIMARY KEY (scope_id, collection, key)
);
CREATE INDEX outpost_records_snapshot ON outpost_records (scope_id, priority, collection, key);
CREATE TABLE outpost_changes (
  scope_id bigint NOT NULL,
  seq bigint NOT NULL,
  collection bytea NOT NULL,
  key bytea NOT NULL,
  op smallint NOT NULL,
  priority integer NOT NULL,
  body bytea NOT NULL,
  PRIMARY KEY (scope_id, seq)
);
CREATE INDEX outpost_changes_by_key ON outpost_changes (scope_id, collection, key, seq);
CREATE TABLE outpost_clients (
  client_id bytea PRIMARY KEY,
  last_mutation_id bigint NOT NULL
);
CREATE TABLE outpost_outcomes (
  client_id bytea NOT NULL,
  mutation_id bigint NOT NULL,
  code bytea NOT NULL,
  reason bytea NOT NULL,
  PRIMARY KEY (client_id, mutation_id)
);
)sql";

// Format 2: each client's newest mutation prints (engine/mutation_print.h).
constexpr const char* kPrintsV2 = R"sql(
CREATE TABLE outpost_prints (
  client_id bytea NOT NULL,
  mutation_id bigint NOT NULL,
  print bigint NOT NULL,
  PRIMARY KEY (client_id, mutation_id)
);
)sql";

// Format 3 (decision 054): each log entry names the entry of its key before it when the
// write knew it (it replaced or removed a record: that record's version), so compaction
// deletes superseded entries by their seq; the one index over (collection, key) left is
// on tombstones only, for a put of a key whose record was removed. The bytea index over
// every entry's (collection, key) cost a bulk write ~10% of PostgreSQL's time per row.
// Entries of format 2 get their predecessor from the log itself.
constexpr const char* kPrevSeqV3 = R"sql(
ALTER TABLE outpost_changes ADD COLUMN IF NOT EXISTS prev_seq bigint;
UPDATE outpost_changes c SET prev_seq = p.prev FROM (SELECT scope_id, seq, lag(seq) OVER
  (PARTITION BY scope_id, collection, key ORDER BY seq) AS prev FROM outpost_changes) p
  WHERE c.scope_id = p.scope_id AND c.seq = p.seq AND p.prev IS NOT NULL;
CREATE INDEX IF NOT EXISTS outpost_changes_tombstones ON outpost_changes
  (scope_id, collection, key, seq) WHERE op = 2;
DROP INDEX IF EXISTS outpost_changes_by_key;
)sql";

// Serializes migrations of concurrently starting processes (an arbitrary constant).
constexpr int64_t kMigrationLock = 0x4f50535401;

bool starts_with(const std::string& text, std::string_view prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

bool connection_lost(const std::exception& e) {
  return dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
         dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr;
}

Status status_for(std::string_view what, const std::exception& e) {
  std::string message(what);
  message += ": ";
  message += e.what();
  // libpq's messages span lines ("...failed: Connection refused\n\tIs the server..."):
  // one line each, for logs and error frames.
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  for (size_t at = message.find('\n'); at != std::string::npos; at = message.find('\n', at)) {
    size_t end = at + 1;
    while (end < message.size() && (message[end] == '\t' || message[end] == ' ')) ++end;
    message.replace(at, end - at, "; ");
  }
  if (connection_lost(e) || dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) {
    return error(ErrorCode::kUnavailable, message);
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    // 08: connection exception, 40: rollback (serialization, deadlock), 53: insufficient
    // resources (too many connections, disk full), 57P: shutdown / cannot connect now,
    // 55P03: lock not available.
    if (starts_with(state, "08") || starts_with(state, "40") || starts_with(state, "53") ||
        starts_with(state, "57P") || state == "55P03") {
      return error(ErrorCode::kUnavailable, message);
    }
  }
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) {
    return error(ErrorCode::kInternal, std::string(what) + ": out of memory");
  }
  return error(ErrorCode::kInternal, message);
}

Status migrate(pqxx::connection_base& conn) {
  pqxx::work tx(conn);
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
  tx.exec0("CREATE TABLE IF NOT EXISTS outpost_meta (key text PRIMARY KEY, value bigint NOT NULL)");
  pqxx::result version = tx.exec("SELECT value FROM outpost_meta WHERE key = 'format_version'");
  int64_t found = 1;
  if (version.empty()) {
    tx.exec0(kSchemaV1);
    tx.exec0("INSERT INTO outpost_meta (key, value) VALUES ('format_version', 1)");
  } else {
    found = version[0][0].as<int64_t>();
    if (found > PostgresServerStore::kFormatVersion) {
      return error(ErrorCode::kSchemaTooNew,
                   "the database holds outpost store format " + std::to_string(found) +
                       "; this build reads up to format " +
                       std::to_string(PostgresServerStore::kFormatVersion));
    }
  }
  // Migrations from older formats, each bumping format_version.
  if (found < 2) {
    tx.exec0(kPrintsV2);
    tx.exec0("UPDATE outpost_meta SET value = 2 WHERE key = 'format_version'");
  }
  if (found < 3) {
    tx.exec0(kPrevSeqV3);
    tx.exec0("UPDATE outpost_meta SET value = 3 WHERE key = 'format_version'");
  }
  tx.commit();
  return Status::Ok();
}

void prepare_statements(pqxx::connection_base& c) {
  {
    // A writer never waits forever for a scope or client row: a lock held that long means
    // a stuck transaction somewhere, and the caller gets unavailable (55P03) to retry.
    pqxx::nontransaction session(c);
    session.exec0("SET lock_timeout = " + std::to_string(PostgresServerStore::kLockTimeoutMs));
  }
  // Write transaction.
  c.prepare("scope_create",
            "INSERT INTO outpost_scopes (scope) VALUES ($1) ON CONFLICT DO NOTHING");
  c.prepare("scope_lock",
            "SELECT id, head_seq, record_count, record_bytes FROM outpost_scopes WHERE scope = $1 "
            "FOR UPDATE");
  // A scope needed out of the fixed lock order (engine/server_store.h): never wait for it
  // (55P03 at once when another transaction holds it, which is retryable).
  c.prepare("scope_lock_nowait",
            "SELECT id, head_seq, record_count, record_bytes FROM outpost_scopes WHERE scope = $1 "
            "FOR UPDATE NOWAIT");
  // A scope's new head and counts, and its NOTIFY (delivered only if the transaction
  // commits), in one round trip.
  c.prepare("scope_save",
            "WITH saved AS (UPDATE outpost_scopes SET head_seq = $2, record_count = $3, "
            "record_bytes = $4 WHERE id = $1) SELECT pg_notify($5, $6)");
  // Held-back puts in one round trip (flush_puts): the columns arrive as arrays
  // (bulk_put_columns); every part of the statement reads the snapshot from before it, so
  // `old` sees the bodies being replaced, and their versions: each log entry's prev_seq. Keys not
  // there are plainly inserted, the others updated: no ON CONFLICT (its speculative insertion costs
  // ~10% here), since no other transaction writes the scope's records while this one holds the
  // scope's row lock.
  c.prepare("bulk_put",
            "WITH input AS (SELECT t.n - 1 AS n, t.scope_id, t.collection, t.key, t.version, "
            "t.priority, t.body FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::bigint[], "
            "$5::integer[], $6::bytea[]) WITH ORDINALITY AS t(scope_id, collection, key, version, "
            "priority, body, n)), old AS (SELECT i.n, octet_length(r.body) AS size, r.version "
            "FROM input i "
            "JOIN outpost_records r ON r.scope_id = i.scope_id AND r.collection = i.collection "
            "AND r.key = i.key), fresh AS (INSERT INTO outpost_records (scope_id, collection, key, "
            "version, priority, body) SELECT scope_id, collection, key, version, priority, body "
            "FROM input WHERE n NOT IN (SELECT n FROM old)), replaced AS (UPDATE outpost_records "
            "r SET version = i.version, priority = i.priority, body = i.body FROM input i WHERE "
            "i.n IN (SELECT n FROM old) AND r.scope_id = i.scope_id AND r.collection = "
            "i.collection AND r.key = i.key), log AS (INSERT INTO outpost_changes (scope_id, seq, "
            "collection, key, op, priority, body, prev_seq) SELECT i.scope_id, i.version, "
            "i.collection, i.key, 1, i.priority, i.body, o.version FROM input i LEFT JOIN old o "
            "ON o.n = i.n) SELECT n, size FROM old");
  // A delete in one round trip; the tombstone is only written if a record went, and
  // names the record's last put as the entry before it.
  c.prepare("remove",
            "WITH gone AS (DELETE FROM outpost_records WHERE scope_id = $1 AND collection = $2 "
            "AND key = $3 RETURNING octet_length(body) AS size, version), log AS (INSERT INTO "
            "outpost_changes (scope_id, seq, collection, key, op, priority, body, prev_seq) "
            "SELECT $1, $4, $2, $3, 2, $5, ''::bytea, version FROM gone) SELECT size FROM gone");
  c.prepare("client_ensure",
            "INSERT INTO outpost_clients (client_id, last_mutation_id) VALUES ($1, 0) ON "
            "CONFLICT DO NOTHING");
  c.prepare("client_lock",
            "SELECT last_mutation_id FROM outpost_clients WHERE client_id = $1 FOR UPDATE");
  c.prepare("client_set", "UPDATE outpost_clients SET last_mutation_id = $2 WHERE client_id = $1");
  // The client's last id and the mutation's print in one round trip, keeping the prints
  // of ids above $2 - $4 (the newest kMutationPrintWindow).
  c.prepare("client_set_print",
            "WITH c AS (UPDATE outpost_clients SET last_mutation_id = $2 WHERE client_id = $1), "
            "d AS (DELETE FROM outpost_prints WHERE client_id = $1 AND mutation_id <= $2 - $4) "
            "INSERT INTO outpost_prints (client_id, mutation_id, print) VALUES ($1, $2, $3) ON "
            "CONFLICT (client_id, mutation_id) DO UPDATE SET print = excluded.print");
  c.prepare("outcome_insert",
            "INSERT INTO outpost_outcomes (client_id, mutation_id, code, reason) VALUES ($1, $2, "
            "$3, $4)");
  // Keeps the newest $2 + 1 rejections of a client.
  c.prepare("outcome_prune",
            "DELETE FROM outpost_outcomes WHERE client_id = $1 AND mutation_id < (SELECT "
            "mutation_id FROM outpost_outcomes WHERE client_id = $1 ORDER BY mutation_id DESC "
            "LIMIT 1 OFFSET $2)");
  // Reads (record_get also serves the write transaction).
  c.prepare("record_get",
            "SELECT r.version, r.body FROM outpost_records r JOIN outpost_scopes s ON s.id = "
            "r.scope_id WHERE s.scope = $1 AND r.collection = $2 AND r.key = $3");
  c.prepare("scope_info",
            "SELECT id, head_seq, horizon_seq, record_count, record_bytes FROM outpost_scopes "
            "WHERE scope = $1");
  // Page planning reads sizes only; the bodies of the chosen rows come in a second query.
  c.prepare("log_sizes",
            "SELECT seq, octet_length(collection) + octet_length(key) + octet_length(body) FROM "
            "outpost_changes WHERE scope_id = $1 AND seq > $2 AND ($4 < 0 OR priority <= $4) "
            "ORDER BY seq LIMIT $3");
  c.prepare("log_rows",
            "SELECT seq, collection, key, op, priority, body FROM outpost_changes WHERE scope_id "
            "= $1 AND seq > $2 AND seq <= $3 AND ($4 < 0 OR priority <= $4) ORDER BY seq");
  c.prepare("snapshot_sizes",
            "SELECT priority, collection, key, octet_length(collection) + octet_length(key) + "
            "octet_length(body) FROM outpost_records WHERE scope_id = $1 AND (priority, "
            "collection, key) > ($2, $3, $4) ORDER BY priority, collection, key LIMIT $5");
  c.prepare("snapshot_rows",
            "SELECT priority, collection, key, version, body FROM outpost_records WHERE scope_id "
            "= $1 AND (priority, collection, key) > ($2, $3, $4) AND (priority, collection, key) "
            "<= ($5, $6, $7) ORDER BY priority, collection, key");
  c.prepare("manifest",
            "SELECT r.collection, r.key, r.version FROM outpost_records r JOIN outpost_scopes s "
            "ON s.id = r.scope_id WHERE s.scope = $1 AND (r.collection, r.key) > ($2, $3) ORDER "
            "BY r.collection, r.key LIMIT $4");
  c.prepare("scan_collection",
            "SELECT s.scope, r.key, r.version, r.body FROM outpost_records r JOIN outpost_scopes s "
            "ON s.id = r.scope_id WHERE r.collection = $1 AND (s.scope, r.key) > ($2, $3) ORDER "
            "BY s.scope, r.key LIMIT $4");
  c.prepare("client_get", "SELECT last_mutation_id FROM outpost_clients WHERE client_id = $1");
  c.prepare("prints",
            "SELECT mutation_id, print FROM outpost_prints WHERE client_id = $1 AND mutation_id "
            "> $2 AND mutation_id <= $3 ORDER BY mutation_id");
  c.prepare("rejections",
            "SELECT mutation_id, code, reason FROM outpost_outcomes WHERE client_id = $1 AND "
            "mutation_id > $2 ORDER BY mutation_id LIMIT $3");
}

namespace {

// PostgreSQL's binary format is big-endian.
void put_u32(std::string& out, uint32_t value) {
  const char bytes[4] = {static_cast<char>(value >> 24), static_cast<char>(value >> 16),
                         static_cast<char>(value >> 8), static_cast<char>(value)};
  out.append(bytes, 4);
}
void put_u64(std::string& out, uint64_t value) {
  put_u32(out, static_cast<uint32_t>(value >> 32));
  put_u32(out, static_cast<uint32_t>(value));
}

// A one-dimensional array of `count` elements without nulls, as array_recv reads it: the
// element type's OID must be the one the statement casts the parameter to.
std::string array_header(uint32_t element_oid, size_t count, size_t payload) {
  std::string out;
  out.reserve(20 + payload);
  put_u32(out, 1);  // dimensions
  put_u32(out, 0);  // flags: no nulls
  put_u32(out, element_oid);
  put_u32(out, static_cast<uint32_t>(count));
  put_u32(out, 1);  // lower bound
  return out;
}

constexpr uint32_t kByteaOid = 17;
constexpr uint32_t kInt8Oid = 20;
constexpr uint32_t kInt4Oid = 23;

template <typename Get>
std::string bytea_array(const std::vector<BufferedPut>& puts, Get get) {
  size_t payload = 0;
  for (const BufferedPut& put : puts) payload += 4 + get(put).size();
  std::string out = array_header(kByteaOid, puts.size(), payload);
  for (const BufferedPut& put : puts) {
    const std::string& value = get(put);
    put_u32(out, static_cast<uint32_t>(value.size()));  // check_put bounds it by INT_MAX
    out += value;
  }
  return out;
}

template <typename Get>
std::string int8_array(const std::vector<BufferedPut>& puts, Get get) {
  std::string out = array_header(kInt8Oid, puts.size(), puts.size() * 12);
  for (const BufferedPut& put : puts) {
    put_u32(out, 8);
    put_u64(out, static_cast<uint64_t>(get(put)));
  }
  return out;
}

}  // namespace

BulkPutColumns bulk_put_columns(const std::vector<BufferedPut>& puts) {
  BulkPutColumns columns;
  columns.scope_ids = int8_array(puts, [](const BufferedPut& p) { return p.scope_id; });
  columns.collections =
      bytea_array(puts, [](const BufferedPut& p) -> const std::string& { return p.collection; });
  columns.keys =
      bytea_array(puts, [](const BufferedPut& p) -> const std::string& { return p.key; });
  columns.versions = int8_array(puts, [](const BufferedPut& p) { return p.seq; });
  columns.priorities = array_header(kInt4Oid, puts.size(), puts.size() * 8);
  for (const BufferedPut& put : puts) {
    put_u32(columns.priorities, 4);
    put_u32(columns.priorities, static_cast<uint32_t>(put.priority));
  }
  columns.bodies =
      bytea_array(puts, [](const BufferedPut& p) -> const std::string& { return p.body; });
  return columns;
}

}  // namespace outpost::pg_detail

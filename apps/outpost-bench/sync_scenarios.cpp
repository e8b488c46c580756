#include "apps/outpost-bench/sync_scenarios.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "adapters/demo_data.h"
#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/scope.h"
#include "engine/server_core.h"
#include "outpost/mutations.pb.h"
#include "support/tls_certs.h"
#include "transport/sync_agent.h"

namespace outpost::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kSyncBudget = std::chrono::minutes(10);
constexpr uint32_t kPullChanges = 2000;
constexpr uint64_t kPullBytes = 4 << 20;
constexpr uint32_t kWritesPerTransaction = 1000;
constexpr uint64_t kDemoSeed = 1;  // DemoDataOptions::seed, what `outpost-server seed` uses
constexpr auto kFanoutReadyTimeout = std::chrono::minutes(5);
constexpr auto kFanoutRoundTimeout = std::chrono::seconds(30);
constexpr auto kFanoutPause = std::chrono::milliseconds(100);
// How long the ready devices sit idle (nothing sent to them) while the bench process's CPU
// is measured, before the rounds: what a device costs per second doing nothing.
constexpr auto kFanoutIdleWindow = std::chrono::seconds(1);
constexpr const char* kFanoutDraft = "draft-fanout";

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
      .count();
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<Param> with(std::vector<Param> params, std::vector<Param> more) {
  params.insert(params.end(), more.begin(), more.end());
  return params;
}

struct SyncRun {
  double seconds = 0;
  uint64_t bytes = 0;
  uint64_t changes = 0;
  // From the start of the sync (connect included) until the critical slice — the agent's
  // state, its journal and its voicemail — was committed to the replica (readable).
  double critical_slice_seconds = 0;
};

// The collections a woken or freshly signed-in agent needs first (what the UI shows).
constexpr const char* kCriticalSlice[] = {"agent_state", "interaction", "voicemail"};

Result<SyncRun> sync_device(const std::string& url, const std::string& token,
                            const std::string& replica_path, const TlsClientOptions& tls = {},
                            bool column_pages = true) {
  SyncAgentOptions options;
  options.server_url = url;
  options.tls = tls;
  options.token = token;
  options.replica_path = replica_path;
  options.client.max_changes_per_pull = kPullChanges;
  options.client.max_bytes_per_pull = kPullBytes;
  options.client.accept_column_pages = column_pages;
  OUTPOST_ASSIGN_OR_RETURN(auto agent, SyncAgent::open(options));
  // Runs inline on the loop thread, right after each commit.
  std::atomic<double> critical_seconds{0};
  std::set<std::string> critical_seen;
  Clock::time_point start;
  const uint64_t subscription = agent->subscribe([&](const ChangeSet& changes) {
    if (critical_seconds.load() > 0) return;
    for (const char* collection : kCriticalSlice) {
      if (changes.everything_changed || changes.keys.count(collection) != 0) {
        critical_seen.insert(collection);
      }
    }
    if (critical_seen.size() == std::size(kCriticalSlice)) critical_seconds = seconds_since(start);
  });
  start = Clock::now();
  SyncSummary summary = agent->sync_for(kSyncBudget);
  agent->unsubscribe(subscription);
  SyncRun run{seconds_since(start), summary.stats.bytes_received, summary.stats.changes_received,
              critical_seconds.load()};
  if (!summary.caught_up) {
    return error(ErrorCode::kUnavailable,
                 "the device did not catch up: " + summary.status.to_string());
  }
  return run;
}

// Every record of the replica at `path`, as (collection/key, body): the rows the raw
// baseline inserts.
struct Rows {
  std::vector<std::string> keys;
  std::vector<std::string> bodies;
  uint64_t body_bytes = 0;
};

Rows replica_rows(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  Rows rows;
  for (const auto& collection : Schema::domain().collections()) {
    SQLite::Statement select(
        db, "SELECT " + collection->key_field->name() + ", _body FROM c_" + collection->name);
    while (select.executeStep()) {
      rows.keys.push_back(collection->name + "/" + select.getColumn(0).getString());
      rows.bodies.push_back(select.getColumn(1).getString());
      rows.body_bytes += rows.bodies.back().size();
    }
  }
  return rows;
}

// The physical limit: the same rows bulk-inserted into a plain table in one transaction.
double raw_insert_seconds(const std::string& path, const Rows& rows) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  db.exec("CREATE TABLE record (key TEXT PRIMARY KEY, body BLOB)");
  const auto start = Clock::now();
  SQLite::Transaction tx(db);
  SQLite::Statement insert(db, "INSERT INTO record VALUES (?, ?)");
  for (size_t i = 0; i < rows.keys.size(); ++i) {
    insert.reset();
    insert.bind(1, rows.keys[i]);
    insert.bind(2, rows.bodies[i].data(), static_cast<int>(rows.bodies[i].size()));
    insert.exec();
  }
  tx.commit();
  return seconds_since(start);
}

// The replica's own tables, read back as plain values: each typed table's DDL, its indexes
// and FTS5 table, and its rows column by column (what the second baseline writes).
struct TypedTable {
  std::vector<std::string> ddl;  // CREATE TABLE, CREATE INDEX…, CREATE VIRTUAL TABLE
  std::string insert;            // INSERT INTO c_x VALUES (?, …)
  std::string search;            // the FTS5 table, empty when the collection has none
  int columns = 0;
  // One stored value: an integer, a real, text or a blob (what the typed columns hold).
  struct Value {
    int type = SQLITE_NULL;
    int64_t integer = 0;
    double real = 0;
    std::string bytes;
  };
  std::vector<std::vector<Value>> rows;
};

std::vector<TypedTable> replica_typed_tables(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  std::vector<TypedTable> tables;
  for (const auto& collection : Schema::domain().collections()) {
    TypedTable table;
    const std::string name = "c_" + collection->name;
    const std::string fts = "f_" + collection->name;
    SQLite::Statement ddl(db,
                          "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND "
                          "((type = 'table' AND name = ?1) OR (type = 'index' AND tbl_name = ?1) "
                          "OR (type = 'table' AND name = ?2)) ORDER BY type = 'index', name = ?2");
    ddl.bind(1, name);
    ddl.bind(2, fts);
    while (ddl.executeStep()) {
      table.ddl.push_back(ddl.getColumn(0).getString());
      if (table.ddl.back().rfind("CREATE VIRTUAL TABLE", 0) == 0) table.search = fts;
    }
    SQLite::Statement select(db, "SELECT * FROM " + name);
    table.columns = select.getColumnCount();
    table.insert = "INSERT INTO " + name + " VALUES (";
    for (int i = 0; i < table.columns; ++i) table.insert += i == 0 ? "?" : ", ?";
    table.insert += ")";
    while (select.executeStep()) {
      std::vector<TypedTable::Value> row(static_cast<size_t>(table.columns));
      for (int i = 0; i < table.columns; ++i) {
        SQLite::Column column = select.getColumn(i);
        TypedTable::Value& value = row[static_cast<size_t>(i)];
        value.type = column.getType();
        if (value.type == SQLITE_INTEGER) value.integer = column.getInt64();
        if (value.type == SQLITE_FLOAT) value.real = column.getDouble();
        if (value.type == SQLITE_TEXT || value.type == SQLITE_BLOB) {
          value.bytes.assign(static_cast<const char*>(column.getBlob()), column.getBytes());
        }
      }
      table.rows.push_back(std::move(row));
    }
    tables.push_back(std::move(table));
  }
  return tables;
}

// How the typed baseline's connection is set up. kReplica (decision 060, the like-for-like
// baseline): the replica's own settings — its page cache and mmap (engine/replica_open.cpp)
// and the 8 MiB FTS5 term hash its snapshot rebuild uses (decision 040). kDefaults: SQLite's
// and FTS5's defaults, the baseline of the rounds before decision 060. Both: WAL,
// synchronous NORMAL, 4 KiB pages, the replica's DDL (FTS5 trigram, detail=none,
// columnsize=0), SQLite's automatic checkpoint (inside the timed commit).
enum class TypedSettings { kReplica, kDefaults };

// The physical limit of the work itself: plain SQLite writing the same rows into the same
// typed tables with the same indexes, and building each FTS5 trigram index in one pass,
// in one transaction (the tables are created before the clock starts, as a replica's are).
// Not inlined: `valgrind --tool=callgrind --dump-before=*typed_insert_seconds*` then counts
// each baseline apart (docs/performance.md).
[[gnu::noinline]] double typed_insert_seconds(const std::string& path,
                                              const std::vector<TypedTable>& tables,
                                              TypedSettings settings) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  const bool replica_settings = settings == TypedSettings::kReplica;
  if (replica_settings) db.exec("PRAGMA mmap_size = 268435456; PRAGMA cache_size = -16384");
  for (const TypedTable& table : tables) {
    for (const std::string& ddl : table.ddl) db.exec(ddl);
  }
  const auto start = Clock::now();
  SQLite::Transaction tx(db);
  for (const TypedTable& table : tables) {
    SQLite::Statement insert(db, table.insert);
    for (const auto& row : table.rows) {
      insert.reset();
      for (int i = 0; i < table.columns; ++i) {
        const TypedTable::Value& value = row[static_cast<size_t>(i)];
        switch (value.type) {
          case SQLITE_INTEGER:
            insert.bind(i + 1, value.integer);
            break;
          case SQLITE_FLOAT:
            insert.bind(i + 1, value.real);
            break;
          case SQLITE_TEXT:
            insert.bindNoCopy(i + 1, value.bytes);
            break;
          case SQLITE_BLOB:
            insert.bindNoCopy(i + 1, value.bytes.data(), static_cast<int>(value.bytes.size()));
            break;
          default:
            insert.bind(i + 1);
        }
      }
      insert.exec();
    }
    if (!table.search.empty()) {
      const std::string fts = "INSERT INTO " + table.search + "(" + table.search;
      if (replica_settings) db.exec(fts + ", rank) VALUES ('hashsize', 8388608)");
      db.exec(fts + ") VALUES ('rebuild')");
      if (replica_settings) db.exec(fts + ", rank) VALUES ('hashsize', 1048576)");
    }
  }
  tx.commit();
  return seconds_since(start);
}

int64_t count_rows(const std::string& path, const std::string& table) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  return db.execAndGet("SELECT count(*) FROM " + table).getInt64();
}

// The offline changes of catch_up, written straight into the embedded store (the
// servers are stopped) as upstream events: contacts [records, records + inserts) new,
// [0, updates) changed, the last `deletes` removed.
Status write_offline_changes(const std::string& store_path, const std::string& tenant,
                             uint64_t records, uint64_t inserts, uint64_t updates,
                             uint64_t deletes) {
  OUTPOST_ASSIGN_OR_RETURN(auto store, SqliteServerStore::open(store_path));
  ServerCore core(*store, Schema::domain(), domain_mutators());
  OUTPOST_ASSIGN_OR_RETURN(const ScopeName org_scope, ScopeName::org(tenant));
  const std::string& org = org_scope.str();
  const int priority = Schema::domain().find("contact")->priority;
  auto in_batches = [&](uint64_t from, uint64_t to, auto&& one) -> Status {
    for (uint64_t start = from; start < to; start += kWritesPerTransaction) {
      OUTPOST_RETURN_IF_ERROR(core.write([&](ServerWriteTx& tx) -> Status {
        for (uint64_t i = start; i < std::min(to, start + kWritesPerTransaction); ++i) {
          OUTPOST_RETURN_IF_ERROR(one(tx, i));
        }
        return Status::Ok();
      }));
    }
    return Status::Ok();
  };
  auto put = [&](uint64_t seed) {
    return [&, seed](ServerWriteTx& tx, uint64_t i) -> Status {
      return tx.put(org, "contact", "contact-" + std::to_string(i), priority, demo_contact(i, seed))
          .status();
    };
  };
  OUTPOST_RETURN_IF_ERROR(in_batches(records, records + inserts, put(kDemoSeed)));
  OUTPOST_RETURN_IF_ERROR(in_batches(0, updates, put(kDemoSeed + 1)));
  return in_batches(records - deletes, records, [&](ServerWriteTx& tx, uint64_t i) -> Status {
    return tx.remove(org, "contact", "contact-" + std::to_string(i), priority).status();
  });
}

}  // namespace

std::string sync_tenant(uint64_t records) {
  return "sync" + std::to_string(records);
}

Status run_initial_sync(BenchContext& context, uint64_t records, bool then_catch_up) {
  const std::string dir = context.scenario_dir("initial_sync-" + std::to_string(records));
  const std::string tenant = sync_tenant(records);
  const std::string device_db = dir + "/device.db";
  OUTPOST_RETURN_IF_ERROR(context.start_servers());
  OUTPOST_ASSIGN_OR_RETURN(std::string token,
                           context.tokens->issue(tenant, kBenchUser, "bench-device"));

  reset_peak_rss();
  const ProcessUsage before = process_usage(getpid());
  OUTPOST_ASSIGN_OR_RETURN(SyncRun initial, sync_device(context.server_url(0), token, device_db));
  const ProcessUsage after = process_usage(getpid());
  // The same-run baseline of decision 045: another fresh device of the same user, plain
  // pages (as a device before it), its bytes and its CPU.
  OUTPOST_ASSIGN_OR_RETURN(std::string plain_token,
                           context.tokens->issue(tenant, kBenchUser, "bench-device-plain"));
  const ProcessUsage plain_before = process_usage(getpid());
  OUTPOST_ASSIGN_OR_RETURN(SyncRun plain, sync_device(context.server_url(0), plain_token,
                                                      dir + "/device-plain.db", {}, false));
  const double plain_cpu = process_usage(getpid()).cpu_seconds - plain_before.cpu_seconds;

  const Rows rows = replica_rows(device_db);
  const double raw_seconds = raw_insert_seconds(dir + "/raw.db", rows);
  const std::vector<TypedTable> typed_tables = replica_typed_tables(device_db);
  const double typed_cpu_before = process_usage(getpid()).cpu_seconds;
  const double typed_seconds =
      typed_insert_seconds(dir + "/typed.db", typed_tables, TypedSettings::kReplica);
  const double typed_cpu = process_usage(getpid()).cpu_seconds - typed_cpu_before;
  const double defaults_cpu_before = process_usage(getpid()).cpu_seconds;
  const double typed_defaults_seconds =
      typed_insert_seconds(dir + "/typed-defaults.db", typed_tables, TypedSettings::kDefaults);
  const double typed_defaults_cpu = process_usage(getpid()).cpu_seconds - defaults_cpu_before;
  const uint64_t stored = rows.keys.size();
  if (initial.changes < records || stored < records) {
    return error(ErrorCode::kInternal, "initial sync stored " + std::to_string(stored) +
                                           " records of " + std::to_string(records));
  }
  const auto params =
      with(context.common_params(),
           {param("records", records), param("stored", stored),
            param("avg_record_bytes", rows.body_bytes / std::max<uint64_t>(1, stored)),
            param("seconds", initial.seconds)});
  const double rate = static_cast<double>(stored) / initial.seconds;
  const double raw_rate = static_cast<double>(stored) / raw_seconds;
  const double typed_rate = static_cast<double>(stored) / typed_seconds;
  context.report.add(
      {"initial_sync", rate, "records/s", raw_rate, ratio_of(rate, raw_rate), params});
  // The second baseline: the same typed tables, indexes and FTS5 trigram index built by
  // plain SQLite from the same rows (the physical limit of the work the replica does).
  context.report.add(
      {"initial_sync.vs_typed", rate, "records/s", typed_rate, ratio_of(rate, typed_rate), params});
  // CPU time, steadier than wall time on a shared machine: the device's threads (this
  // process; the server is another) against the typed baseline's, lower is better.
  const double device_cpu = after.cpu_seconds - before.cpu_seconds;
  // The baseline has the replica's connection settings (decision 060); the same against
  // SQLite's defaults (the baseline before it) in the params.
  context.report.add(
      {"initial_sync.device_cpu", device_cpu, "s", typed_cpu, ratio_of(device_cpu, typed_cpu),
       with(params, {param("typed_wall_seconds", typed_seconds),
                     param("typed_defaults_cpu", typed_defaults_cpu),
                     param("typed_defaults_wall_seconds", typed_defaults_seconds),
                     param("ratio_vs_typed_defaults", ratio_of(device_cpu, typed_defaults_cpu))})});
  // Aim < 100 ms with the rest of the records behind it; the baseline is the whole sync.
  context.report.add({"initial_sync.critical_slice", initial.critical_slice_seconds * 1000, "ms",
                      initial.seconds * 1000,
                      ratio_of(initial.critical_slice_seconds, initial.seconds), params});
  context.report.add(
      {"initial_sync.wire", static_cast<double>(initial.bytes), "bytes",
       static_cast<double>(rows.body_bytes),
       ratio_of(static_cast<double>(initial.bytes), static_cast<double>(rows.body_bytes)), params});
  // Column pages (decision 045, the default) against plain pages, same run, same records.
  const auto plain_params = with(params, {param("plain_seconds", plain.seconds)});
  context.report.add(
      {"initial_sync.wire_plain_pages", static_cast<double>(plain.bytes), "bytes",
       static_cast<double>(rows.body_bytes),
       ratio_of(static_cast<double>(plain.bytes), static_cast<double>(rows.body_bytes)),
       plain_params});
  context.report.add(
      {"initial_sync.wire_vs_plain_pages", static_cast<double>(initial.bytes), "bytes",
       static_cast<double>(plain.bytes),
       ratio_of(static_cast<double>(initial.bytes), static_cast<double>(plain.bytes)),
       plain_params});
  context.report.add(
      {"initial_sync.device_cpu_vs_plain_pages", device_cpu, "s", plain_cpu,
       ratio_of(device_cpu, plain_cpu),
       with(plain_params, {param("plain_cpu_vs_typed", ratio_of(plain_cpu, typed_cpu))})});
  context.report.add({"initial_sync.device_rss", after.peak_rss_mib, "MiB", 0, 0,
                      with(params, {param("rss_before_mib", before.rss_mib)})});
  if (!then_catch_up) return Status::Ok();
  if (!context.options.embedded_store()) {
    fprintf(stderr,
            "outpost-bench: catch_up skipped: its offline changes are written into the embedded "
            "store directly\n");
    return Status::Ok();
  }

  const uint64_t inserts = records / 100, updates = records / 100, deletes = records / 1000;
  OUTPOST_RETURN_IF_ERROR(context.stop_servers());
  OUTPOST_RETURN_IF_ERROR(write_offline_changes(context.setup.data_dir + "/outpost.db", tenant,
                                                records, inserts, updates, deletes));
  OUTPOST_RETURN_IF_ERROR(context.start_servers());
  OUTPOST_ASSIGN_OR_RETURN(SyncRun catch_up, sync_device(context.server_url(0), token, device_db));
  const int64_t contacts = count_rows(device_db, "c_contact");
  const int64_t expected = static_cast<int64_t>(records + inserts - deletes);
  if (contacts != expected) {
    return error(ErrorCode::kInternal, "after catch-up the device has " + std::to_string(contacts) +
                                           " contacts, not " + std::to_string(expected));
  }
  const auto catch_params = with(params, {param("changes", inserts + updates + deletes),
                                          param("changes_received", catch_up.changes)});
  context.report.add({"catch_up.time", catch_up.seconds * 1000, "ms", initial.seconds * 1000,
                      catch_up.seconds / initial.seconds, catch_params});
  context.report.add(
      {"catch_up.wire", static_cast<double>(catch_up.bytes), "bytes",
       static_cast<double>(initial.bytes),
       ratio_of(static_cast<double>(catch_up.bytes), static_cast<double>(initial.bytes)),
       catch_params});
  return Status::Ok();
}

Status run_tls_sync(BenchContext& context, uint64_t records) {
  const std::string dir = context.scenario_dir("tls_sync-" + std::to_string(records));
  const std::string tenant = sync_tenant(records);
  // A CA and a server certificate for 127.0.0.1, made for this run.
  support::TestCa ca = support::TestCa::create("outpost-bench CA");
  support::CertificatePem server_pem = ca.issue();
  TlsClientOptions trust;
  trust.ca_file = dir + "/ca.pem";
  if (!support::write_text_file(trust.ca_file, ca.certificate_pem()) ||
      !support::write_text_file(dir + "/server.pem", server_pem.certificate) ||
      !support::write_text_file(dir + "/server.key", server_pem.key)) {
    return error(ErrorCode::kIo, "cannot write the certificates into " + dir);
  }
  // One device per transport, each from scratch; the servers restarted for each.
  auto sync_over = [&](bool tls, const std::string& device) -> Result<std::pair<SyncRun, double>> {
    OUTPOST_RETURN_IF_ERROR(context.stop_servers());
    context.setup.tls_cert = tls ? dir + "/server.pem" : "";
    context.setup.tls_key = tls ? dir + "/server.key" : "";
    Status started = context.start_servers();
    context.setup.tls_cert.clear();
    context.setup.tls_key.clear();
    OUTPOST_RETURN_IF_ERROR(started);
    OUTPOST_ASSIGN_OR_RETURN(std::string token, context.tokens->issue(tenant, kBenchUser, device));
    const double cpu_before = context.servers[0]->usage().cpu_seconds;
    OUTPOST_ASSIGN_OR_RETURN(SyncRun run,
                             sync_device(context.server_url(0), token, dir + "/" + device + ".db",
                                         tls ? trust : TlsClientOptions{}));
    const double cpu = context.servers[0]->usage().cpu_seconds - cpu_before;
    OUTPOST_RETURN_IF_ERROR(context.stop_servers());
    if (run.changes < records) {
      return error(ErrorCode::kInternal, "the " + device + " device received " +
                                             std::to_string(run.changes) + " changes of " +
                                             std::to_string(records));
    }
    return std::make_pair(run, cpu);
  };
  OUTPOST_ASSIGN_OR_RETURN(auto ws, sync_over(false, "ws"));
  OUTPOST_ASSIGN_OR_RETURN(auto wss, sync_over(true, "wss"));
  const double ws_rate = static_cast<double>(ws.first.changes) / ws.first.seconds;
  const double wss_rate = static_cast<double>(wss.first.changes) / wss.first.seconds;
  const auto params =
      with(context.common_params(),
           {param("records", records), param("ws_seconds", ws.first.seconds),
            param("wss_seconds", wss.first.seconds), param("wire_bytes", wss.first.bytes)});
  context.report.add(
      {"tls_sync.wss", wss_rate, "records/s", ws_rate, ratio_of(wss_rate, ws_rate), params});
  context.report.add(
      {"tls_sync.server_cpu", wss.second, "s", ws.second, ratio_of(wss.second, ws.second), params});
  return Status::Ok();
}

namespace {

// One fan-out receiver: the round it last saw, so each round counts once per device.
struct Receiver {
  std::unique_ptr<SyncAgent> agent;
  std::atomic<int> seen_round{0};
};

bool ready(SyncAgent& agent) {
  return agent.state() == AgentState::kConnected && agent.progress().phase == SyncPhase::kIdle &&
         agent.stats().changes_received >= kFanoutContacts;
}

// What one fan-out measurement saw.
struct FanoutRun {
  std::vector<double> latencies_ms;
  int ready_devices = 0;
  int incomplete_rounds = 0;
  double measured_seconds = 0;
  double devices_cpu = 0;
  double server_rss = 0;
  double server_cpu = 0;
  double idle_cpu_us_per_device_second = 0;  // the bench process over kFanoutIdleWindow
  uint64_t carried_applied = 0;              // by the receivers (decision 032)
  uint64_t carried_refused = 0;
};

// One fan-out measurement: `devices` receivers (announcing that they apply changes carried
// with the poke, or not: the devices before decision 032; offering stream format 2 or not:
// the devices before decision 039; noticing other processes' commits through the process's
// commit watch or each with its own timer: the devices before decision 046) and a writer,
// `rounds` drafts.
Result<FanoutRun> measure_fanout(BenchContext& context, int devices, int rounds, bool carried,
                                 bool message_format, bool commit_watch) {
  const std::string dir =
      context.scenario_dir("fanout-" + std::to_string(devices) + (carried ? "" : "-plain") +
                           (message_format ? "-message" : ""));
  OUTPOST_RETURN_IF_ERROR(context.start_servers());
  std::mutex mutex;
  std::vector<double> latencies_ms;
  std::atomic<int> round_now{0};
  std::atomic<int64_t> round_started_us{0};
  std::atomic<int> seen{0};

  auto agent_options = [&](const std::string& device, size_t index) -> Result<SyncAgentOptions> {
    SyncAgentOptions options;
    options.server_url = context.server_url(index);
    OUTPOST_ASSIGN_OR_RETURN(options.token,
                             context.tokens->issue(kFanoutTenant, kBenchUser, device));
    options.replica_path = dir + "/" + device + ".db";
    options.client.accept_carried = carried;
    options.offer_message_format = message_format;
    options.foreign_commit_watch = commit_watch;
    return options;
  };
  std::vector<std::unique_ptr<Receiver>> receivers;
  Status failed = Status::Ok();
  auto stop_all = [&] {
    for (auto& receiver : receivers) receiver->agent->stop();
  };
  for (int i = 0; i < devices && failed.ok(); ++i) {
    auto options = agent_options("device-" + std::to_string(i), static_cast<size_t>(i));
    if (!options.ok()) return options.status();
    auto agent = SyncAgent::open(std::move(options).value());
    if (!agent.ok()) {
      failed = agent.status();
      break;
    }
    auto receiver = std::make_unique<Receiver>();
    receiver->agent = std::move(agent).value();
    Receiver* self = receiver.get();
    receiver->agent->subscribe([&, self](const ChangeSet& changes) {
      auto draft = changes.keys.find("draft");
      if (draft == changes.keys.end() || draft->second.count(kFanoutDraft) == 0) return;
      const int round = round_now.load();
      if (round == 0 || self->seen_round.load() >= round) return;
      self->seen_round = round;
      const double ms = static_cast<double>(now_us() - round_started_us.load()) / 1000.0;
      std::lock_guard lock(mutex);
      latencies_ms.push_back(ms);
      ++seen;
    });
    failed = receiver->agent->start();
    receivers.push_back(std::move(receiver));
  }
  if (!failed.ok()) {
    stop_all();
    return failed;
  }
  // The writer: another device of the same agent (the agent's web client, say).
  auto writer_options = agent_options("writer", 0);
  if (!writer_options.ok()) return writer_options.status();
  auto writer = SyncAgent::open(std::move(writer_options).value());
  if (!writer.ok() || !(*writer)->start().ok()) {
    stop_all();
    return writer.ok() ? error(ErrorCode::kInternal, "writer did not start") : writer.status();
  }

  // Every device connected and caught up, within a bound.
  const auto ready_deadline = Clock::now() + kFanoutReadyTimeout;
  int ready_devices = 0;
  for (auto& receiver : receivers) {
    while (Clock::now() < ready_deadline && !ready(*receiver->agent)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (ready(*receiver->agent)) ++ready_devices;
  }
  while (Clock::now() < ready_deadline && !ready(**writer)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  fprintf(stderr,
          "outpost-bench: fanout (%s, stream format %d): %d of %d devices ready, "
          "measuring %d rounds\n",
          carried ? "changes carried with the poke" : "plain pokes", message_format ? 2 : 1,
          ready_devices, devices, rounds);
  // Idle: every device connected and caught up, nothing to deliver.
  // getrusage: microseconds, where /proc's clock ticks (10 ms) would read 0 at 100 devices.
  auto self_cpu_seconds = [] {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
  };
  const double idle_cpu_before = self_cpu_seconds();
  const auto idle_start = Clock::now();
  std::this_thread::sleep_for(kFanoutIdleWindow);
  const double idle_cpu = self_cpu_seconds() - idle_cpu_before;
  const double idle_device_seconds = seconds_since(idle_start) * (devices + 1);  // + the writer
  std::vector<ProcessUsage> usage_before;
  for (auto& server : context.servers) usage_before.push_back(server->usage());
  const double devices_cpu_before = process_usage(getpid()).cpu_seconds;
  const auto measured_start = Clock::now();
  int incomplete_rounds = 0;
  for (int round = 1; round <= rounds; ++round) {
    seen = 0;
    round_started_us = now_us();
    round_now = round;
    Status posted = (*writer)->post([round](Replica& replica) {
      mutations::SaveDraft args;
      args.mutable_draft()->set_id(kFanoutDraft);
      args.mutable_draft()->set_interaction_id("conv-fanout");
      args.mutable_draft()->set_body("Dear customer, revision " + std::to_string(round));
      (void)replica.mutate("save_draft", args, wall_ms());
    });
    if (!posted.ok()) {
      failed = posted;
      break;
    }
    const auto round_deadline = Clock::now() + kFanoutRoundTimeout;
    while (seen.load() < devices && Clock::now() < round_deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (seen.load() < devices) ++incomplete_rounds;
    std::this_thread::sleep_for(kFanoutPause);
  }
  const double measured_seconds = seconds_since(measured_start);
  const double devices_cpu = process_usage(getpid()).cpu_seconds - devices_cpu_before;
  double server_rss = 0, server_cpu = 0;
  for (size_t i = 0; i < context.servers.size(); ++i) {
    const ProcessUsage now = context.servers[i]->usage();
    server_rss += now.rss_mib;
    server_cpu += now.cpu_seconds - usage_before[i].cpu_seconds;
  }
  FanoutRun run;
  for (auto& receiver : receivers) {
    const SyncStats stats = receiver->agent->stats();
    run.carried_applied += stats.carried_applied;
    run.carried_refused += stats.carried_refused;
  }
  (*writer)->stop();
  stop_all();
  OUTPOST_RETURN_IF_ERROR(failed);
  {
    std::lock_guard lock(mutex);
    run.latencies_ms = latencies_ms;
  }
  run.ready_devices = ready_devices;
  run.incomplete_rounds = incomplete_rounds;
  run.measured_seconds = measured_seconds;
  run.devices_cpu = devices_cpu;
  run.server_rss = server_rss;
  run.server_cpu = server_cpu;
  run.idle_cpu_us_per_device_second = idle_cpu * 1e6 / idle_device_seconds;
  return run;
}

}  // namespace

// Three ways in one run: the devices before decision 032 (plain pokes, each device pulls,
// stream format 1, a foreign-commit poll timer each) are the baseline of the figures with the
// changes carried with the poke — in stream format 1 (`fanout.stream_format`, decision 032's
// devices) and in format 2
// (`fanout`, today's devices: one compression per commit shared by all, decision 039).
// The first two passes' devices also each poll their replica with a timer of their own
// (before decision 046); today's use the process's commit watch.
Status run_fanout(BenchContext& context, int devices, int rounds) {
  OUTPOST_ASSIGN_OR_RETURN(FanoutRun plain,
                           measure_fanout(context, devices, rounds, false, false, false));
  OUTPOST_ASSIGN_OR_RETURN(FanoutRun stream,
                           measure_fanout(context, devices, rounds, true, false, false));
  OUTPOST_ASSIGN_OR_RETURN(FanoutRun run,
                           measure_fanout(context, devices, rounds, true, true, true));
  for (const auto& [name, p] : {std::pair{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}}) {
    const double value = percentile(stream.latencies_ms, p);
    const double baseline = percentile(plain.latencies_ms, p);
    context.report.add(
        {"fanout.stream_format", value, "ms", baseline, baseline > 0 ? value / baseline : 0,
         with(context.common_params(),
              {param("devices", devices), param("rounds", rounds), param("stat", name),
               param("delivered", static_cast<uint64_t>(stream.latencies_ms.size())),
               param("carried_applied", stream.carried_applied),
               param("baseline_is", "plain pokes, stream format 1")})});
  }
  const uint64_t expected = static_cast<uint64_t>(devices) * static_cast<uint64_t>(rounds);
  const std::vector<double>& sorted = run.latencies_ms;
  const auto params =
      with(context.common_params(),
           {param("devices", devices), param("rounds", rounds), param("ready", run.ready_devices),
            param("delivered", static_cast<uint64_t>(sorted.size())), param("expected", expected),
            param("incomplete_rounds", run.incomplete_rounds),
            param("carried_applied", run.carried_applied),
            param("carried_refused", run.carried_refused), param("stream_format", 2),
            param("baseline_is", "plain pokes (devices that do not accept carried changes)"),
            param("baseline_delivered", static_cast<uint64_t>(plain.latencies_ms.size()))});
  for (const auto& [name, p] : {std::pair{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}}) {
    const double value = percentile(sorted, p);
    const double baseline = percentile(plain.latencies_ms, p);
    context.report.add({"fanout", value, "ms", baseline, baseline > 0 ? value / baseline : 0,
                        with(params, {param("stat", name)})});
  }
  context.report.add({"fanout.server_rss", run.server_rss, "MiB", plain.server_rss,
                      plain.server_rss > 0 ? run.server_rss / plain.server_rss : 0, params});
  const double cpu = 100.0 * run.server_cpu / run.measured_seconds;
  const double plain_cpu = 100.0 * plain.server_cpu / plain.measured_seconds;
  context.report.add(
      {"fanout.server_cpu", cpu, "% of a core", plain_cpu, plain_cpu > 0 ? cpu / plain_cpu : 0,
       with(params,
            {param("cpu_seconds", run.server_cpu), param("wall_seconds", run.measured_seconds)})});
  // The devices (and the writer) share this process: its CPU time per delivered change is
  // what each device costs, and with every device on the same cores it bounds the latency.
  auto per_delivery = [](const FanoutRun& r) {
    return r.latencies_ms.empty() ? 0.0 : r.devices_cpu * 1e3 / r.latencies_ms.size();
  };
  context.report.add({"fanout.device_cpu", per_delivery(run), "ms/delivery", per_delivery(plain),
                      per_delivery(plain) > 0 ? per_delivery(run) / per_delivery(plain) : 0,
                      with(params, {param("cpu_seconds", run.devices_cpu),
                                    param("wall_seconds", run.measured_seconds)})});
  // Decision 046: what an idle device costs per second (its foreign-commit check, timers),
  // against devices that each poll with a timer of their own.
  context.report.add(
      {"fanout.idle_device_cpu", run.idle_cpu_us_per_device_second, "us/device-second",
       plain.idle_cpu_us_per_device_second,
       plain.idle_cpu_us_per_device_second > 0
           ? run.idle_cpu_us_per_device_second / plain.idle_cpu_us_per_device_second
           : 0,
       with(context.common_params(),
            {param("devices", devices), param("baseline_is", "plain pokes, a poll timer each")})});
  if (sorted.size() < expected) {
    fprintf(stderr, "outpost-bench: fanout at %d devices: %zu of %llu deliveries seen\n", devices,
            sorted.size(), static_cast<unsigned long long>(expected));
  }
  return Status::Ok();
}

}  // namespace outpost::bench

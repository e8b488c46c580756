// outpost_sync_bench: the sync protocol measured end to end on this machine, each figure
// beside its physical limit measured in the same run.
//
//   initial_sync  N records (~300 bytes) from a local outpost-server (SQLite store, real
//                 loopback WebSocket) into a fresh device replica: records/s, and the
//                 ratio to a raw SQLite bulk insert of the same rows in one transaction;
//                 bytes on the wire vs the raw protobuf size.
//   catch_up      after 1% inserts + 1% updates + 0.1% deletes while offline: time and
//                 bytes, and their ratio to the initial sync.
//   fanout        D devices streaming; a server-side change until it is committed in each
//                 device's store: p50/p99 ms.
//
// Output: one JSON object per line, then a table. Usage:
//   outpost_sync_bench [--records N] [--devices D] [--scenario initial_sync|catch_up|fanout|all]
//   [--quick]
#include <SQLiteCpp/SQLiteCpp.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/server_core.h"
#include "outpost/domain.pb.h"
#include "transport/sync_agent.h"
#include "transport/sync_server.h"
#include "transport/token.h"

namespace {

using namespace outpost;
namespace d = outpost::domain;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Figure {
  std::string scenario;
  double value;
  std::string unit;
  double baseline;
  double ratio;
  std::string params;
};
std::vector<Figure> figures;

void emit(Figure figure) {
  printf(
      "{\"scenario\": \"%s\", \"value\": %.3f, \"unit\": \"%s\", \"baseline\": %.3f, "
      "\"ratio\": %.3f, \"params\": {%s}}\n",
      figure.scenario.c_str(), figure.value, figure.unit.c_str(), figure.baseline, figure.ratio,
      figure.params.c_str());
  fflush(stdout);
  figures.push_back(std::move(figure));
}

// A contact of about 300 bytes serialized.
d::Contact bench_contact(uint64_t i, uint64_t revision) {
  std::mt19937_64 random(i * 7919 + revision);
  d::Contact c;
  c.set_id("contact-" + std::to_string(i));
  const char* first[] = {"Ann", "Bert", "Chloe", "Dirk", "Els", "Frank", "Greet", "Hans"};
  const char* last[] = {"Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems"};
  c.set_first_name(first[random() % 8]);
  c.set_last_name(std::string(last[random() % 6]) + "-" + std::to_string(i));
  c.set_salutation("Dr.");
  c.set_title("Customer success manager");
  c.set_company("Company " + std::to_string(random() % 5000) + " NV");
  c.set_work_phone("+32 2 555 " + std::to_string(10000 + random() % 90000));
  c.set_cell_phone("+32 475 " + std::to_string(100000 + random() % 900000));
  c.set_home_phone("+32 9 222 " + std::to_string(10000 + random() % 90000));
  c.set_work_email("contact" + std::to_string(i) + "@company" + std::to_string(random() % 5000) +
                   ".example.com");
  c.set_personal_email("person" + std::to_string(i) + "@mail.example.org");
  c.set_address("Kerkstraat " + std::to_string(1 + random() % 200) + ", 9000 Gent, Belgium");
  c.set_modified_ms(1'790'000'000'000 + static_cast<int64_t>(revision));
  return c;
}

class Server {
 public:
  explicit Server(const std::string& dir) {
    store_ = std::move(SqliteServerStore::open(dir + "/server.db")).value();
    core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), domain_mutators());
    tokens_ = std::make_unique<TokenAuthority>(std::string(32, 'k'));
    server_ = std::make_unique<SyncServer>(*core_, *tokens_, SyncServerOptions{});
    Status started = server_->start();
    if (!started.ok()) {
      fprintf(stderr, "server: %s\n", started.to_string().c_str());
      exit(1);
    }
  }
  ~Server() { server_->stop(); }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  std::string token(const std::string& device) const {
    protocol::TokenClaims claims;
    claims.set_tenant("acme");
    claims.set_user("agent-1");
    claims.set_device(device);
    claims.set_issued_ms(1);
    claims.set_expires_ms(4'000'000'000'000);
    return std::move(tokens_->issue(claims)).value();
  }
  ServerCore& core() { return *core_; }

 private:
  std::unique_ptr<SqliteServerStore> store_;
  std::unique_ptr<ServerCore> core_;
  std::unique_ptr<TokenAuthority> tokens_;
  std::unique_ptr<SyncServer> server_;
};

void write_contacts(ServerCore& core, uint64_t from, uint64_t to, uint64_t revision) {
  for (uint64_t start = from; start < to; start += 2000) {
    Status status = core.write([&](ServerWriteTx& tx) -> Status {
      for (uint64_t i = start; i < std::min(to, start + 2000); ++i) {
        auto v = tx.put("org/acme", "contact", "contact-" + std::to_string(i), 2,
                        bench_contact(i, revision).SerializeAsString());
        if (!v.ok()) return v.status();
      }
      return Status::Ok();
    });
    if (!status.ok()) {
      fprintf(stderr, "seed: %s\n", status.to_string().c_str());
      exit(1);
    }
  }
}

// The physical limit: the same rows bulk-inserted into a plain table in one transaction.
double raw_insert_seconds(const std::string& path, uint64_t records, uint64_t* raw_bytes) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  db.exec("CREATE TABLE contact (id TEXT PRIMARY KEY, body BLOB)");
  std::vector<std::string> bodies;
  bodies.reserve(records);
  *raw_bytes = 0;
  for (uint64_t i = 0; i < records; ++i) {
    bodies.push_back(bench_contact(i, 0).SerializeAsString());
    *raw_bytes += bodies.back().size();
  }
  auto start = Clock::now();
  SQLite::Transaction tx(db);
  SQLite::Statement insert(db, "INSERT INTO contact VALUES (?, ?)");
  for (uint64_t i = 0; i < records; ++i) {
    insert.reset();
    insert.bind(1, "contact-" + std::to_string(i));
    insert.bind(2, bodies[i].data(), static_cast<int>(bodies[i].size()));
    insert.exec();
  }
  tx.commit();
  return seconds_since(start);
}

long peak_rss_kb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

struct SyncRun {
  double seconds = 0;
  uint64_t bytes = 0;
  uint64_t changes = 0;
};

SyncRun sync_device(Server& server, const std::string& replica_path) {
  SyncAgentOptions options;
  options.server_url = server.url();
  options.token = server.token("bench-device");
  options.replica_path = replica_path;
  options.client.max_changes_per_pull = 2000;
  options.client.max_bytes_per_pull = 4 << 20;
  static const bool trace = getenv("OUTPOST_BENCH_TRACE") != nullptr;
  auto trace_start = Clock::now();
  if (trace) {
    options.on_progress = [trace_start](const SyncProgress& p) {
      uint64_t done = 0;
      for (const auto& s : p.scopes) done += s.records_done;
      fprintf(stderr, "%8.1f ms  %s  %lu records\n",
              std::chrono::duration<double, std::milli>(Clock::now() - trace_start).count(),
              sync_phase_name(p.phase), (unsigned long)done);
    };
  }
  auto agent = SyncAgent::open(options);
  if (!agent.ok()) {
    fprintf(stderr, "agent: %s\n", agent.status().to_string().c_str());
    exit(1);
  }
  auto start = Clock::now();
  SyncSummary summary = (*agent)->sync_for(std::chrono::minutes(10));
  SyncRun run{seconds_since(start), summary.stats.bytes_received, summary.stats.changes_received};
  if (!summary.caught_up) {
    fprintf(stderr, "sync did not catch up: %s\n", summary.status.to_string().c_str());
    exit(1);
  }
  return run;
}

void initial_and_catch_up(const std::string& dir, uint64_t records, bool run_catch_up) {
  std::filesystem::create_directories(dir);
  uint64_t raw_bytes = 0;
  double raw_seconds = raw_insert_seconds(dir + "/raw.db", records, &raw_bytes);
  Server server(dir);
  write_contacts(server.core(), 0, records, 0);
  SyncRun initial = sync_device(server, dir + "/device.db");
  const std::string params = "\"records\": " + std::to_string(records) +
                             ", \"avg_record_bytes\": " + std::to_string(raw_bytes / records);
  double rate = records / initial.seconds;
  double raw_rate = records / raw_seconds;
  emit({"initial_sync", rate, "records/s", raw_rate, rate / raw_rate, params});
  emit({"initial_sync_wire", static_cast<double>(initial.bytes), "bytes",
        static_cast<double>(raw_bytes), static_cast<double>(initial.bytes) / raw_bytes, params});
  emit({"initial_sync_peak_rss", static_cast<double>(peak_rss_kb()) / 1024, "MiB (process)", 0, 0,
        params});
  if (!run_catch_up) return;
  // Offline changes: 1% inserts, 1% updates, 0.1% deletes.
  const uint64_t inserts = records / 100, updates = records / 100, deletes = records / 1000;
  write_contacts(server.core(), records, records + inserts, 0);
  write_contacts(server.core(), 0, updates, 1);
  Status removed = server.core().write([&](ServerWriteTx& tx) -> Status {
    for (uint64_t i = records - deletes; i < records; ++i) {
      auto v = tx.remove("org/acme", "contact", "contact-" + std::to_string(i), 2);
      if (!v.ok()) return v.status();
    }
    return Status::Ok();
  });
  if (!removed.ok()) exit(1);
  SyncRun catch_up = sync_device(server, dir + "/device.db");
  const std::string catch_params =
      params + ", \"changes\": " + std::to_string(inserts + updates + deletes);
  emit({"catch_up_time", catch_up.seconds * 1000, "ms", initial.seconds * 1000,
        catch_up.seconds / initial.seconds, catch_params});
  emit({"catch_up_wire", static_cast<double>(catch_up.bytes), "bytes",
        static_cast<double>(initial.bytes), static_cast<double>(catch_up.bytes) / initial.bytes,
        catch_params});
}

void fanout(const std::string& dir, int devices, int changes) {
  std::filesystem::create_directories(dir);
  Server server(dir);
  write_contacts(server.core(), 0, 10, 0);
  std::vector<std::unique_ptr<SyncAgent>> agents;
  std::mutex mutex;
  std::vector<double> latencies_ms;
  std::atomic<int64_t> committed_at_us{0};
  std::atomic<int> seen{0};
  std::atomic<int> round_now{0};
  for (int i = 0; i < devices; ++i) {
    SyncAgentOptions options;
    options.server_url = server.url();
    options.token = server.token("device-" + std::to_string(i));
    options.replica_path = dir + "/device-" + std::to_string(i) + ".db";
    auto agent = SyncAgent::open(options);
    if (!agent.ok()) {
      fprintf(stderr, "agent %d: %s\n", i, agent.status().to_string().c_str());
      exit(1);
    }
    (*agent)->subscribe([&](const ChangeSet& changes) {
      if (changes.keys.count("contact") == 0 ||
          changes.keys.at("contact").count("contact-0") == 0) {
        return;
      }
      int64_t now_us =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
              .count();
      const int64_t committed = committed_at_us.load();
      if (committed == 0 || now_us < committed) return;
      std::lock_guard<std::mutex> lock(mutex);
      latencies_ms.push_back((now_us - committed) / 1000.0);
      ++seen;
    });
    if (!(*agent)->start().ok()) exit(1);
    agents.push_back(std::move(agent).value());
  }
  // Wait until every device is connected and caught up.
  auto deadline = Clock::now() + std::chrono::seconds(120);
  for (auto& agent : agents) {
    while (Clock::now() < deadline && !(agent->state() == AgentState::kConnected &&
                                        agent->progress().phase == SyncPhase::kIdle &&
                                        agent->stats().changes_received >= 10)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  for (int round = 1; round <= changes; ++round) {
    seen = 0;
    round_now = round;
    committed_at_us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
            .count();
    write_contacts(server.core(), 0, 1, round);
    auto wait_until = Clock::now() + std::chrono::seconds(30);
    while (seen.load() < devices && Clock::now() < wait_until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (auto& agent : agents) agent->stop();
  std::vector<double> sorted = latencies_ms;
  std::sort(sorted.begin(), sorted.end());
  auto pct = [&](double p) {
    return sorted.empty() ? 0.0 : sorted[std::min(sorted.size() - 1, size_t(p * sorted.size()))];
  };
  const std::string params = "\"devices\": " + std::to_string(devices) +
                             ", \"changes\": " + std::to_string(changes) +
                             ", \"delivered\": " + std::to_string(sorted.size());
  emit({"fanout_p50", pct(0.5), "ms", 0, 0, params});
  emit({"fanout_p99", pct(0.99), "ms", 0, 0, params});
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t records = 100000;
  int devices = 100;
  std::string scenario = "all";
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        fprintf(stderr, "%s needs a value\n", arg.c_str());
        exit(2);
      }
      return argv[++i];
    };
    if (arg == "--records") {
      records = std::stoull(value());
    } else if (arg == "--devices") {
      devices = std::stoi(value());
    } else if (arg == "--scenario") {
      scenario = value();
    } else if (arg == "--quick") {
      quick = true;
    } else {
      fprintf(stderr,
              "usage: outpost_sync_bench [--records N] [--devices D] [--scenario "
              "initial_sync|catch_up|fanout|all] [--quick]\n");
      return 2;
    }
  }
  if (quick) {
    records = std::min<uint64_t>(records, 5000);
    devices = std::min(devices, 20);
  }
  const std::string dir = std::filesystem::temp_directory_path().string() + "/outpost-sync-bench-" +
                          std::to_string(getpid());
  if (scenario == "all" || scenario == "initial_sync" || scenario == "catch_up") {
    initial_and_catch_up(dir + "/initial", records, scenario != "initial_sync");
  }
  if (scenario == "all" || scenario == "fanout") fanout(dir + "/fanout", devices, quick ? 5 : 20);
  std::filesystem::remove_all(dir);
  printf("\n%-22s %14s %-14s %14s %8s\n", "scenario", "value", "unit", "baseline", "ratio");
  for (const auto& f : figures) {
    printf("%-22s %14.1f %-14s %14.1f %8.3f\n", f.scenario.c_str(), f.value, f.unit.c_str(),
           f.baseline, f.ratio);
  }
  return 0;
}

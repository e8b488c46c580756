// outpost_store_bench: the server store measured through the real server stack, SQLite
// (default) or PostgreSQL (--store postgres://...), on this machine.
//
//   initial_sync  N contacts (~300 bytes) written through ServerCore, then a fresh device
//                 syncs them over a loopback WebSocket: records/s (and the write rate).
//   bulk_write    (needs --store) the same N contacts written through ServerCore into the
//                 SQLite store and into PostgreSQL, alternately, R rounds (--rounds), each
//                 into an empty store: records/s, the ratio, and CPU µs per record of this
//                 process and of the PostgreSQL cluster's processes (load-independent).
//   push          T agents (distinct users) pushing at once through ServerCore, batches of
//                 B mutations per push: mutations/s, for B = 1 (a commit each) and B = 10.
//   fanout        D streaming devices spread over P server stacks on one store; a change
//                 committed through stack 0 until it is in each device's store: p50/p99 ms.
//                 P > 1 needs PostgreSQL: each stack has its own pool, port and LISTEN
//                 connection (PostgresCommitFeed), as separate processes would. Twice, each
//                 time with fresh devices: first devices that take plain pokes and pull
//                 (the baseline), then devices that take the changes carried with the poke
//                 (decision 032; from the other stacks through the feed, decision 041).
//
// Usage: outpost_store_bench [--store URL] [--records N] [--agents T] [--pushes K]
//                            [--devices D] [--processes P] [--changes C]
//                            [--rounds R] [--only initial_sync|bulk_write|push|fanout]
// The PostgreSQL database should be empty (the bench writes tenant "bench").
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>
#include <pqxx/pqxx>

#include "adapters/postgres_commit_feed.h"
#include "adapters/postgres_server_store.h"
#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/server_core.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "transport/sync_agent.h"
#include "transport/sync_server.h"
#include "transport/token.h"

namespace {

using namespace outpost;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void die(const std::string& what, const Status& status) {
  fprintf(stderr, "%s: %s\n", what.c_str(), status.to_string().c_str());
  exit(1);
}

std::unique_ptr<ServerStore> open_store(const std::string& store, const std::string& dir) {
  if (store.empty()) {
    auto sqlite = SqliteServerStore::open(dir + "/server.db");
    if (!sqlite.ok()) die("sqlite", sqlite.status());
    return std::move(sqlite).value();
  }
  PostgresStoreOptions options;
  options.url = store;
  auto pg = PostgresServerStore::open(options);
  if (!pg.ok()) die("postgres", pg.status());
  return std::move(pg).value();
}

domain::Contact bench_contact(uint64_t i, uint64_t revision) {
  std::mt19937_64 random(i * 7919 + revision);
  domain::Contact c;
  c.set_id("contact-" + std::to_string(i));
  c.set_first_name("Ann");
  c.set_last_name("Peeters-" + std::to_string(i));
  c.set_title("Customer success manager");
  c.set_company("Company " + std::to_string(random() % 5000) + " NV");
  c.set_work_phone("+32 2 555 " + std::to_string(10000 + random() % 90000));
  c.set_cell_phone("+32 475 " + std::to_string(100000 + random() % 900000));
  c.set_work_email("contact" + std::to_string(i) + "@company.example.com");
  c.set_personal_email("person" + std::to_string(i) + "@mail.example.org");
  c.set_address("Kerkstraat " + std::to_string(1 + random() % 200) + ", 9000 Gent, Belgium");
  c.set_modified_ms(1'790'000'000'000 + static_cast<int64_t>(revision));
  return c;
}

void write_contacts(ServerCore& core, uint64_t from, uint64_t to, uint64_t revision) {
  for (uint64_t start = from; start < to; start += 2000) {
    Status status = core.write([&](ServerWriteTx& tx) -> Status {
      for (uint64_t i = start; i < std::min(to, start + 2000); ++i) {
        auto v = tx.put("org/bench", "contact", "contact-" + std::to_string(i), 2,
                        bench_contact(i, revision).SerializeAsString());
        if (!v.ok()) return v.status();
      }
      return Status::Ok();
    });
    if (!status.ok()) die("write contacts", status);
  }
}

// One server stack: a store, its core, a SyncServer and (PostgreSQL) a commit feed.
class Stack {
 public:
  Stack(const std::string& store_url, const std::string& dir) {
    store_ = open_store(store_url, dir);
    core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), domain_mutators());
    server_ = std::make_unique<SyncServer>(*core_, tokens_, SyncServerOptions{});
    if (Status started = server_->start(); !started.ok()) die("server", started);
    if (auto* pg = dynamic_cast<PostgresServerStore*>(store_.get())) {
      PostgresCommitFeedOptions options;
      options.url = pg->url();
      options.own_instance = pg->instance_id();
      options.on_heads = [this](const std::vector<CommittedHead>& heads) { server_->poke(heads); };
      options.on_resync = [this] { server_->poke_all(); };
      feed_ = std::make_unique<PostgresCommitFeed>(options);
      feed_->start();
      for (int i = 0; i < 500 && !feed_->connected(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  }
  ~Stack() {
    if (feed_) feed_->stop();
    server_->stop();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  std::string token(const std::string& device) const {
    protocol::TokenClaims claims;
    claims.set_tenant("bench");
    claims.set_user("agent-1");
    claims.set_device(device);
    claims.set_issued_ms(1);
    claims.set_expires_ms(4'000'000'000'000);
    return std::move(tokens_.issue(claims)).value();
  }
  ServerCore& core() { return *core_; }
  const SyncServer& server() const { return *server_; }

 private:
  TokenAuthority tokens_{std::string(32, 'k')};
  std::unique_ptr<ServerStore> store_;
  std::unique_ptr<ServerCore> core_;
  std::unique_ptr<SyncServer> server_;
  std::unique_ptr<PostgresCommitFeed> feed_;
};

void initial_sync(const std::string& store_url, const std::string& dir, uint64_t records) {
  Stack stack(store_url, dir);
  auto start = Clock::now();
  write_contacts(stack.core(), 0, records, 0);
  const double write_rate = records / seconds_since(start);
  SyncAgentOptions options;
  options.server_url = stack.url();
  options.token = stack.token("initial");
  options.replica_path = dir + "/initial.db";
  options.client.max_changes_per_pull = 2000;
  options.client.max_bytes_per_pull = 4 << 20;
  auto agent = SyncAgent::open(options);
  if (!agent.ok()) die("agent", agent.status());
  start = Clock::now();
  SyncSummary summary = (*agent)->sync_for(std::chrono::minutes(10));
  const double seconds = seconds_since(start);
  if (!summary.caught_up) die("initial sync", summary.status);
  printf("initial_sync   %8.0f records/s   (%lu records in %.2f s; server writes %.0f records/s)\n",
         records / seconds, static_cast<unsigned long>(records), seconds, write_rate);
}

// CPU seconds (user + system) of this process, all threads.
double own_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto sec = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return sec(usage.ru_utime) + sec(usage.ru_stime);
}

// CPU seconds of other processes on this machine: the first field of /proc/PID/schedstat,
// nanoseconds on a CPU (exact, where /proc/PID/stat counts 10 ms ticks).
double pids_cpu_seconds(const std::vector<int>& pids) {
  double total = 0;
  for (int pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/schedstat");
    double ns = 0;
    if (in >> ns) total += ns / 1e9;  // a process gone meanwhile counts nothing
  }
  return total;
}

// The cluster's processes serving this database or the whole cluster (the store's pooled
// backend, the WAL writer, checkpointer, background writer): PostgreSQL's share of a write.
std::vector<int> pg_pids(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  std::vector<int> pids;
  for (const auto& row :
       tx.exec("SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND (datname = "
               "current_database() OR datname IS NULL)")) {
    pids.push_back(row[0].as<int>());
  }
  return pids;
}

struct WriteRun {
  double records_per_s = 0;
  double own_us_per_record = 0;
  double pg_us_per_record = 0;
};

// N contacts into an empty store (a fresh SQLite file, or PostgreSQL's tables emptied).
WriteRun write_run(const std::string& store_url, const std::string& dir, uint64_t records) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::unique_ptr<ServerStore> store = open_store(store_url, dir);
  std::vector<int> pids;
  if (!store_url.empty()) {
    pqxx::connection conn(store_url);
    pqxx::nontransaction tx(conn);
    tx.exec0(
        "TRUNCATE outpost_records, outpost_changes, outpost_scopes, outpost_clients, "
        "outpost_outcomes, outpost_prints; CHECKPOINT");
    pids = pg_pids(store_url);
  }
  ServerCore core(*store, Schema::domain(), domain_mutators());
  const double own_before = own_cpu_seconds();
  const double pg_before = pids_cpu_seconds(pids);
  const auto start = Clock::now();
  write_contacts(core, 0, records, 0);
  const double seconds = seconds_since(start);
  WriteRun run;
  run.records_per_s = records / seconds;
  run.own_us_per_record = (own_cpu_seconds() - own_before) * 1e6 / records;
  run.pg_us_per_record = (pids_cpu_seconds(pids) - pg_before) * 1e6 / records;
  return run;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

// The bulk write of issue 19's aim (PostgreSQL ≥ 0.8× the SQLite store): both stores in
// the same run, alternating which goes first, so each ratio compares neighbouring seconds.
void bulk_write(const std::string& store_url, const std::string& dir, uint64_t records,
                int rounds) {
  std::vector<double> ratios;
  std::vector<double> sqlite_rates;
  std::vector<double> pg_rates;
  for (int round = 1; round <= rounds; ++round) {
    WriteRun sqlite;
    WriteRun pg;
    if (round % 2 == 1) {
      sqlite = write_run("", dir + "/bulk", records);
      pg = write_run(store_url, dir + "/bulk", records);
    } else {
      pg = write_run(store_url, dir + "/bulk", records);
      sqlite = write_run("", dir + "/bulk", records);
    }
    ratios.push_back(pg.records_per_s / sqlite.records_per_s);
    sqlite_rates.push_back(sqlite.records_per_s);
    pg_rates.push_back(pg.records_per_s);
    printf(
        "bulk_write %2d  sqlite %7.0f records/s (cpu %5.1f us/record)   postgresql %7.0f "
        "records/s (cpu %5.1f + backend %5.1f us/record)   ratio %.2f\n",
        round, sqlite.records_per_s, sqlite.own_us_per_record, pg.records_per_s,
        pg.own_us_per_record, pg.pg_us_per_record, ratios.back());
    fflush(stdout);
  }
  const auto [low, high] = std::minmax_element(ratios.begin(), ratios.end());
  printf("bulk_write median: sqlite %.0f, postgresql %.0f records/s, ratio %.2f (%.2f-%.2f)\n",
         median(sqlite_rates), median(pg_rates), median(ratios), *low, *high);
}

void push(const std::string& store_url, const std::string& dir, int agents, int pushes, int batch) {
  Stack stack(store_url, dir);
  std::atomic<uint64_t> applied{0};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int a = 0; a < agents; ++a) {
    threads.emplace_back([&, a] {
      const Principal who{"bench", "push-agent-" + std::to_string(a) + "-" + std::to_string(batch),
                          "phone"};
      uint64_t id = 0;
      for (int p = 0; p < pushes; ++p) {
        protocol::PushRequest request;
        request.set_client_id("client");
        request.set_protocol_version(protocol::VERSION_CURRENT);
        request.set_schema_version(Schema::domain().version());
        for (int m = 0; m < batch; ++m) {
          mutations::SetUserSetting args;
          args.set_name("setting-" + std::to_string(m));
          args.set_value(std::to_string(p));
          auto* mutation = request.add_mutations();
          mutation->set_id(++id);
          mutation->set_name("set_user_setting");
          mutation->set_args(args.SerializeAsString());
          mutation->set_created_ms(1);
        }
        auto response = stack.core().push(who, request, 2);
        if (!response.ok()) die("push", response.status());
        applied += response->results_size();
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = seconds_since(start);
  printf(
      "push           %8.0f mutations/s   (%d agents at once, %d mutation(s) per push, %lu in %.2f "
      "s)\n",
      applied.load() / seconds, agents, batch, static_cast<unsigned long>(applied.load()), seconds);
}

void fanout(const std::string& store_url, const std::string& dir, int processes, int devices,
            int changes, bool carried) {
  std::vector<std::unique_ptr<Stack>> stacks;
  for (int p = 0; p < processes; ++p) stacks.push_back(std::make_unique<Stack>(store_url, dir));
  write_contacts(stacks[0]->core(), 0, 10, 0);
  std::mutex mutex;
  std::vector<double> latencies_ms;
  std::atomic<int64_t> committed_at_us{0};
  std::atomic<int> seen{0};
  std::vector<std::unique_ptr<SyncAgent>> agents;
  for (int i = 0; i < devices; ++i) {
    Stack& stack = *stacks[i % processes];
    SyncAgentOptions options;
    options.server_url = stack.url();
    options.token = stack.token("device-" + std::to_string(i));
    options.replica_path = dir + "/fanout-" + std::to_string(processes) + "-" +
                           (carried ? "carried-" : "plain-") + std::to_string(i) + ".db";
    options.client.accept_carried = carried;
    auto agent = SyncAgent::open(options);
    if (!agent.ok()) die("agent", agent.status());
    (*agent)->subscribe([&](const ChangeSet& changes) {
      if (changes.keys.count("contact") == 0 || changes.keys.at("contact").count("contact-0") == 0)
        return;
      const int64_t now_us =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
              .count();
      const int64_t committed = committed_at_us.load();
      if (committed == 0 || now_us < committed) return;
      std::lock_guard<std::mutex> lock(mutex);
      latencies_ms.push_back((now_us - committed) / 1000.0);
      ++seen;
    });
    if (Status started = (*agent)->start(); !started.ok()) die("agent start", started);
    agents.push_back(std::move(agent).value());
  }
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  for (auto& agent : agents) {
    while (Clock::now() < deadline && !(agent->state() == AgentState::kConnected &&
                                        agent->progress().phase == SyncPhase::kIdle &&
                                        agent->stats().changes_received >= 10)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  for (int round = 1; round <= changes; ++round) {
    seen = 0;
    committed_at_us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
            .count();
    write_contacts(stacks[0]->core(), 0, 1, round);
    const auto wait_until = Clock::now() + std::chrono::seconds(30);
    while (seen.load() < devices && Clock::now() < wait_until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  uint64_t applied = 0;
  uint64_t refused = 0;
  for (auto& agent : agents) {
    agent->stop();
    applied += agent->stats().carried_applied;
    refused += agent->stats().carried_refused;
  }
  uint64_t sent = 0;
  uint64_t encodings = 0;
  for (auto& stack : stacks) {
    sent += stack->server().stats().carried_sent;
    encodings += stack->server().stats().carried_encodings;
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double p) {
    return latencies_ms.empty()
               ? 0.0
               : latencies_ms[std::min(latencies_ms.size() - 1, size_t(p * latencies_ms.size()))];
  };
  printf(
      "fanout %-7s p50 %6.1f ms, p99 %6.1f ms   (%d devices over %d server stack(s), %d "
      "changes, %zu/%d delivered; carried: %lu sent, %lu encodings, %lu applied, %lu "
      "refused)\n",
      carried ? "carried" : "plain", pct(0.5), pct(0.99), devices, processes, changes,
      latencies_ms.size(), devices * changes, static_cast<unsigned long>(sent),
      static_cast<unsigned long>(encodings), static_cast<unsigned long>(applied),
      static_cast<unsigned long>(refused));
}

}  // namespace

int main(int argc, char** argv) {
  std::string store;
  uint64_t records = 20000;
  int agents = 4;
  int pushes = 200;
  int devices = 30;
  int processes = 1;
  int changes = 20;
  int rounds = 5;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) {
      fprintf(stderr, "%s needs a value\n", arg.c_str());
      return 2;
    }
    const std::string value = argv[++i];
    if (arg == "--store")
      store = value;
    else if (arg == "--records")
      records = std::stoull(value);
    else if (arg == "--agents")
      agents = std::stoi(value);
    else if (arg == "--pushes")
      pushes = std::stoi(value);
    else if (arg == "--devices")
      devices = std::stoi(value);
    else if (arg == "--processes")
      processes = std::stoi(value);
    else if (arg == "--changes")
      changes = std::stoi(value);
    else if (arg == "--rounds")
      rounds = std::max(1, std::stoi(value));
    else if (arg == "--only" && (value == "initial_sync" || value == "bulk_write" ||
                                 value == "push" || value == "fanout"))
      only = value;
    else {
      fprintf(stderr,
              "usage: outpost_store_bench [--store postgres://...] [--records N] [--agents T] "
              "[--pushes K] [--devices D] [--processes P] [--changes C] [--rounds R] "
              "[--only initial_sync|bulk_write|push|fanout]\n");
      return 2;
    }
  }
  if (processes > 1 && store.empty()) {
    fprintf(stderr, "--processes > 1 needs --store postgres://...\n");
    return 2;
  }
  if (only == "bulk_write" && store.empty()) {
    fprintf(stderr, "--only bulk_write needs --store postgres://... (it runs both stores)\n");
    return 2;
  }
  const std::string dir = std::filesystem::temp_directory_path().string() +
                          "/outpost-store-bench-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  printf("store: %s\n", store.empty() ? "sqlite (embedded)" : "postgresql");
  if (only.empty() || only == "initial_sync") initial_sync(store, dir, records);
  if (only == "bulk_write") bulk_write(store, dir, records, rounds);
  if (only.empty() || only == "push") {
    push(store, dir, agents, pushes, 1);
    push(store, dir, agents, pushes / 4, 10);
  }
  if (only.empty() || only == "fanout") {
    fanout(store, dir, processes, devices, changes, /*carried=*/false);  // the baseline
    fanout(store, dir, processes, devices, changes, /*carried=*/true);
  }
  std::filesystem::remove_all(dir);
  return 0;
}

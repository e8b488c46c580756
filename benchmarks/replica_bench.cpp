// Device replica reads and writes against the physical limit: the same rows in a plain
// SQLite table, the same query, a plain autocommit write — in the same run. Each benchmark
// alternates outpost and the baseline and reports both (µs, p50/p99) and their ratio
// (outpost / SQLite: 1.0 means "as fast as SQLite").
//
//   build/benchmarks/outpost_micro_bench [--benchmark_filter=...]
#include <SQLiteCpp/SQLiteCpp.h>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>

#include "engine/domain_mutators.h"
#include "engine/replica.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"

namespace {

using namespace outpost;
namespace d = outpost::domain;
using Clock = std::chrono::steady_clock;

constexpr int kInteractions = 100000;
constexpr int kDays = 100;  // 1,000 interactions a day
constexpr int kContacts = 50000;
const char* kFirstNames[] = {"Ann",  "Bert", "Chloe", "Dirk", "Els",  "Frank", "Greet", "Hans",
                             "Ilse", "Jan",  "Karel", "Lies", "Marc", "Nele",  "Olaf",  "Pieter"};
const char* kLastNames[] = {"Peeters", "Janssens", "Maes",    "Jacobs",  "Mertens", "Willems",
                            "Claes",   "Goossens", "Wouters", "De Smet", "Dubois",  "Lambert"};

std::string day_of(int i) {
  char buffer[16];
  snprintf(buffer, sizeof(buffer), "2026-%02d-%02d", 1 + (i % kDays) / 28, 1 + (i % kDays) % 28);
  return buffer;
}

d::Interaction make_interaction(int i) {
  d::Interaction interaction;
  interaction.set_id("conv-" + std::to_string(i));
  interaction.set_media(static_cast<d::MediaType>(1 + i % 5));
  interaction.set_direction(d::DIRECTION_INBOUND);
  interaction.set_state(d::INTERACTION_QUALIFIED);
  interaction.set_peer_address("+3225550" + std::to_string(1000 + i % 9000));
  interaction.set_peer_name(std::string(kFirstNames[i % 16]) + " " + kLastNames[i % 12]);
  interaction.set_started_ms(1'790'000'000'000LL + static_cast<int64_t>(i) * 60'000);
  interaction.set_duration_s(30 + i % 600);
  interaction.set_agent_user_id("agent-1");
  interaction.set_queue_name("Support");
  interaction.set_wrapup_code_name("Solved");
  (*interaction.mutable_participant_data())["customer_segment"] = "gold";
  interaction.set_day(day_of(i));
  return interaction;
}

d::Contact make_contact(int i) {
  d::Contact contact;
  contact.set_id("contact-" + std::to_string(i));
  contact.set_first_name(std::string(kFirstNames[i % 16]) + std::to_string(i % 97));
  contact.set_last_name(std::string(kLastNames[(i / 16) % 12]) + std::to_string(i));
  contact.set_company("Company " + std::to_string(i % 500));
  contact.set_work_phone("+3225" + std::to_string(1000000 + i));
  contact.set_cell_phone("+32475" + std::to_string(100000 + i));
  contact.set_work_email("person" + std::to_string(i) + "@example.com");
  return contact;
}

// One replica and one plain database holding the same rows, built once per process.
struct Fixture {
  std::string dir;
  std::unique_ptr<Replica> replica;
  std::unique_ptr<SQLite::Database> plain;

  Fixture() {
    dir = std::filesystem::temp_directory_path().string() + "/outpost-bench-" +
          std::to_string(getpid());
    std::filesystem::create_directories(dir);
    replica = std::move(Replica::open(dir + "/device.db", Schema::domain(), &domain_mutators(),
                                      {.tenant = "acme", .user = "agent-1"})
                            .value());
    plain = std::make_unique<SQLite::Database>(dir + "/plain.db",
                                               SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    // The same connection settings as the replica (WAL, mmap, page cache), so the ratio is
    // the engine's own cost, not a configuration difference.
    plain->exec(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA mmap_size = 268435456; "
        "PRAGMA cache_size = -16384");
    plain->exec(
        "CREATE TABLE interaction (id TEXT PRIMARY KEY, day TEXT, started_ms INTEGER, body BLOB);"
        "CREATE INDEX i_day ON interaction(day); CREATE INDEX i_started ON interaction(started_ms);"
        "CREATE INDEX i_day_started ON interaction(day, started_ms);"
        "CREATE TABLE contact (id TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, "
        "work_phone TEXT, cell_phone TEXT, work_email TEXT, body BLOB);"
        "CREATE TABLE draft (id TEXT PRIMARY KEY, body BLOB)");
    load();
  }
  ~Fixture() {
    replica.reset();
    plain.reset();
    std::filesystem::remove_all(dir);
  }

  void load() {
    const int batch = 5000;
    uint64_t version = 1;
    SQLite::Transaction tx(*plain);
    SQLite::Statement insert_interaction(*plain, "INSERT INTO interaction VALUES (?, ?, ?, ?)");
    SQLite::Statement insert_contact(*plain, "INSERT INTO contact VALUES (?, ?, ?, ?, ?, ?, ?)");
    for (int start = 0; start < kInteractions; start += batch) {
      protocol::PullResponse response;
      auto* scope = response.add_scopes();
      scope->set_scope("user/acme/agent-1");
      for (int i = start; i < start + batch; ++i) {
        d::Interaction interaction = make_interaction(i);
        std::string body = interaction.SerializeAsString();
        auto* change = scope->add_changes();
        change->set_collection("interaction");
        change->set_key(interaction.id());
        change->set_op(protocol::Change::PUT);
        change->set_version(version++);
        change->set_body(body);
        insert_interaction.reset();
        insert_interaction.bind(1, interaction.id());
        insert_interaction.bind(2, interaction.day());
        insert_interaction.bind(3, static_cast<int64_t>(interaction.started_ms()));
        insert_interaction.bind(4, body.data(), static_cast<int>(body.size()));
        insert_interaction.exec();
      }
      scope->set_cursor(version);
      (void)replica->apply(response);
    }
    for (int start = 0; start < kContacts; start += batch) {
      protocol::PullResponse response;
      auto* scope = response.add_scopes();
      scope->set_scope("org/acme");
      for (int i = start; i < start + batch; ++i) {
        d::Contact contact = make_contact(i);
        std::string body = contact.SerializeAsString();
        auto* change = scope->add_changes();
        change->set_collection("contact");
        change->set_key(contact.id());
        change->set_op(protocol::Change::PUT);
        change->set_version(version++);
        change->set_body(body);
        insert_contact.reset();
        insert_contact.bind(1, contact.id());
        insert_contact.bind(2, contact.first_name());
        insert_contact.bind(3, contact.last_name());
        insert_contact.bind(4, contact.work_phone());
        insert_contact.bind(5, contact.cell_phone());
        insert_contact.bind(6, contact.work_email());
        insert_contact.bind(7, body.data(), static_cast<int>(body.size()));
        insert_contact.exec();
      }
      scope->set_cursor(version);
      (void)replica->apply(response);
    }
    tx.commit();
  }
};

Fixture& fixture() {
  static Fixture* instance = new Fixture();
  return *instance;
}

struct Samples {
  std::vector<double> outpost_us;
  std::vector<double> sqlite_us;
};

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t index = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  return values[index];
}

void report(benchmark::State& state, const Samples& samples) {
  double outpost_p50 = percentile(samples.outpost_us, 0.50);
  double sqlite_p50 = percentile(samples.sqlite_us, 0.50);
  state.counters["outpost_p50_us"] = outpost_p50;
  state.counters["outpost_p99_us"] = percentile(samples.outpost_us, 0.99);
  state.counters["sqlite_p50_us"] = sqlite_p50;
  state.counters["sqlite_p99_us"] = percentile(samples.sqlite_us, 0.99);
  state.counters["ratio_p50"] = sqlite_p50 > 0 ? outpost_p50 / sqlite_p50 : 0;
}

template <typename Fn>
double time_us(Fn&& fn) {
  auto start = Clock::now();
  fn();
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

void BM_PointLookup(benchmark::State& state) {
  Fixture& f = fixture();
  std::mt19937 rng(1);
  SQLite::Statement plain(*f.plain, "SELECT body FROM interaction WHERE id = ?");
  Samples samples;
  for (auto _ : state) {
    std::string key = "conv-" + std::to_string(rng() % kInteractions);
    samples.outpost_us.push_back(time_us([&] {
      auto record = f.replica->get<d::Interaction>(key);
      benchmark::DoNotOptimize(record);
    }));
    samples.sqlite_us.push_back(time_us([&] {
      plain.reset();
      plain.bind(1, key);
      plain.executeStep();
      d::Interaction record;
      record.ParseFromArray(plain.getColumn(0).getBlob(), plain.getColumn(0).getBytes());
      benchmark::DoNotOptimize(record);
    }));
  }
  report(state, samples);
}
BENCHMARK(BM_PointLookup)->Iterations(20000)->Unit(benchmark::kMicrosecond);

void BM_TodaysJournal(benchmark::State& state) {
  Fixture& f = fixture();
  std::mt19937 rng(2);
  SQLite::Statement plain(
      *f.plain, "SELECT body FROM interaction WHERE day = ? ORDER BY started_ms DESC LIMIT 200");
  Samples samples;
  for (auto _ : state) {
    std::string day = day_of(static_cast<int>(rng() % kDays));
    samples.outpost_us.push_back(time_us([&] {
      Query query;
      query.collection = "interaction";
      query.where.push_back({"day", Condition::Op::kEq, day});
      query.order_by = "started_ms";
      query.descending = true;
      query.limit = 200;
      auto rows = f.replica->query(query);
      benchmark::DoNotOptimize(rows);
    }));
    samples.sqlite_us.push_back(time_us([&] {
      plain.reset();
      plain.bind(1, day);
      std::vector<d::Interaction> rows;
      while (plain.executeStep()) {
        rows.emplace_back();
        rows.back().ParseFromArray(plain.getColumn(0).getBlob(), plain.getColumn(0).getBytes());
      }
      benchmark::DoNotOptimize(rows);
    }));
  }
  report(state, samples);
}
BENCHMARK(BM_TodaysJournal)->Iterations(500)->Unit(benchmark::kMicrosecond);

void BM_ContactSearch(benchmark::State& state) {
  Fixture& f = fixture();
  std::mt19937 rng(3);
  // The plain table has no FTS: "contains" is a LIKE scan, as an app would write it.
  SQLite::Statement plain(*f.plain,
                          "SELECT body FROM contact WHERE first_name LIKE ?1 OR last_name LIKE ?1 "
                          "OR work_phone LIKE ?1 OR cell_phone LIKE ?1 OR work_email LIKE ?1 "
                          "ORDER BY first_name LIMIT 50");
  Samples samples;
  for (auto _ : state) {
    std::string needle = "son" + std::to_string(1000 + rng() % 9000);
    samples.outpost_us.push_back(time_us([&] {
      auto rows = f.replica->search("contact", needle, {.order_by = "first_name", .limit = 50});
      benchmark::DoNotOptimize(rows);
    }));
    samples.sqlite_us.push_back(time_us([&] {
      plain.reset();
      plain.bind(1, "%" + needle + "%");
      std::vector<d::Contact> rows;
      while (plain.executeStep()) {
        rows.emplace_back();
        rows.back().ParseFromArray(plain.getColumn(0).getBlob(), plain.getColumn(0).getBytes());
      }
      benchmark::DoNotOptimize(rows);
    }));
  }
  report(state, samples);
}
BENCHMARK(BM_ContactSearch)->Iterations(200)->Unit(benchmark::kMicrosecond);

void BM_DraftSave(benchmark::State& state) {
  Fixture& f = fixture();
  SQLite::Statement plain(*f.plain, "INSERT OR REPLACE INTO draft (id, body) VALUES (?, ?)");
  Samples samples;
  int n = 0;
  for (auto _ : state) {
    mutations::SaveDraft args;
    args.mutable_draft()->set_id("draft-" + std::to_string(n % 50));
    args.mutable_draft()->set_interaction_id("conv-" + std::to_string(n % 50));
    args.mutable_draft()->set_body("Dear customer, thank you for your patience. Revision " +
                                   std::to_string(n));
    ++n;
    samples.outpost_us.push_back(time_us([&] {
      auto id = f.replica->mutate("save_draft", args, n);
      benchmark::DoNotOptimize(id);
    }));
    std::string body = args.draft().SerializeAsString();
    samples.sqlite_us.push_back(time_us([&] {
      plain.reset();
      plain.bind(1, args.draft().id());
      plain.bind(2, body.data(), static_cast<int>(body.size()));
      plain.exec();
    }));
  }
  report(state, samples);
}
BENCHMARK(BM_DraftSave)->Iterations(5000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();

// PostgreSQL-only behaviour of the server store: writers in several processes, the same
// push through two stores at once, the store format, unreachable and killed servers, and
// the commit feed.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "adapters/postgres_commit_feed.h"
#include "adapters/postgres_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/schema.h"
#include "engine/server_core.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "tests/support/pg_test.h"
#include "tests/support/result_or_throw.h"

namespace outpost {
namespace {

using namespace std::chrono_literals;

using testing::take;
std::unique_ptr<PostgresServerStore> open_store(const std::string& url, size_t connections = 4) {
  PostgresStoreOptions options;
  options.url = url;
  options.max_connections = connections;
  return take(PostgresServerStore::open(options));
}

// Waits until pred() or the deadline; returns pred().
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (!pred() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  return pred();
}

// Readers must see a gap-free prefix of the log at every moment, never shrinking.
std::string check_prefix(ServerStore& store, const std::string& scope, uint64_t& last_seen) {
  uint64_t expect = 1;
  uint64_t after = 0;
  for (;;) {
    auto page = store.read_log(scope, after, 500, UINT64_MAX, -1);
    if (!page.ok()) return page.status().to_string();
    for (const LogEntry& e : page->entries) {
      if (e.seq != expect++) return "gap before seq " + std::to_string(e.seq);
    }
    after = page->next_after_seq;
    if (!page->has_more) break;
  }
  if (expect - 1 < last_seen) return "the log went backwards";
  last_seen = expect - 1;
  return "";
}

TEST(PostgresServerStore, WritersInSeveralProcessesKeepEveryScopeGapFreeAndOrdered) {
  pg_test::TestDatabase db;
  open_store(db.url()).reset();  // tables exist before the children race
  constexpr int kProcesses = 3;
  constexpr int kThreads = 2;
  constexpr int kTransactions = 60;
  // Each transaction writes both scopes, so writers contend on both counter rows.
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int failures = 0;
      try {
        auto store = open_store(db.url(), kThreads);
        std::vector<std::thread> threads;
        std::atomic<int> failed{0};
        for (int t = 0; t < kThreads; ++t) {
          threads.emplace_back([&, t] {
            uint64_t previous_a = 0;
            for (int i = 0; i < kTransactions; ++i) {
              const std::string key =
                  std::to_string(p) + "-" + std::to_string(t) + "-" + std::to_string(i);
              for (int attempt = 0;; ++attempt) {
                auto tx = store->begin_write();
                if (!tx.ok()) {
                  ++failed;
                  break;
                }
                // In the store's lock order (user scope first): writers wait, never fail.
                auto b = (*tx)->put("user/t1/u1", "drafts", key, 0, "b" + key);
                auto a = b.ok() ? (*tx)->put("org/t1", "contacts", key, 0, "a" + key)
                                : Result<uint64_t>(b.status());
                auto heads =
                    a.ok() && b.ok()
                        ? (*tx)->commit()
                        : Result<std::vector<CommittedHead>>(a.ok() ? b.status() : a.status());
                if (heads.ok()) {
                  if (*a <= previous_a) ++failed;  // one writer's seqs increase
                  previous_a = *a;
                  break;
                }
                // A lost connection or lock timeout is retryable, and retried.
                if (heads.status().code() != ErrorCode::kUnavailable || attempt > 20) {
                  ++failed;
                  break;
                }
              }
            }
          });
        }
        for (auto& t : threads) t.join();
        failures = failed.load();
      } catch (...) {
        failures = 1;
      }
      _exit(failures == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  auto reader = open_store(db.url(), 2);
  uint64_t seen_org = 0;
  uint64_t seen_user = 0;
  int reads = 0;
  std::string problem;
  for (;;) {
    bool running = false;
    for (pid_t pid : children) running = running || waitpid(pid, nullptr, WNOHANG) == 0;
    problem = check_prefix(*reader, "org/t1", seen_org);
    if (problem.empty()) problem = check_prefix(*reader, "user/t1/u1", seen_user);
    ++reads;
    if (!problem.empty() || !running) break;
  }
  EXPECT_EQ(problem, "");
  EXPECT_GT(reads, 1);
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  const uint64_t total = kProcesses * kThreads * kTransactions;
  EXPECT_EQ(check_prefix(*reader, "org/t1", seen_org), "");
  EXPECT_EQ(check_prefix(*reader, "user/t1/u1", seen_user), "");
  EXPECT_EQ(seen_org, total);
  EXPECT_EQ(seen_user, total);
  EXPECT_EQ(take(reader->scope_info("org/t1")).head_seq, total);
  EXPECT_EQ(take(reader->scope_info("org/t1")).record_count, total);
}

protocol::PushRequest settings_push(const std::string& client, int first, int count) {
  protocol::PushRequest request;
  request.set_client_id(client);
  request.set_protocol_version(protocol::VERSION_CURRENT);
  request.set_schema_version(Schema::domain().version());
  for (int i = first; i < first + count; ++i) {
    mutations::SetUserSetting args;
    args.set_name("s" + std::to_string(i - first));
    args.set_value("v");
    auto* m = request.add_mutations();
    m->set_id(i);
    m->set_name("set_user_setting");
    m->set_args(args.SerializeAsString());
    m->set_created_ms(1000);
  }
  return request;
}

TEST(PostgresServerStore, TheSamePushThroughTwoStoresAtOnceIsAppliedOnce) {
  pg_test::TestDatabase db;
  auto first = open_store(db.url());
  auto second = open_store(db.url());
  ServerCore core_a(*first, Schema::domain(), domain_mutators());
  ServerCore core_b(*second, Schema::domain(), domain_mutators());
  const Principal who{"t1", "u1", "phone"};
  constexpr int kRounds = 25;
  constexpr int kMutations = 5;
  for (int round = 0; round < kRounds; ++round) {
    // One client: from the second round on its row exists, and only its lock orders them.
    const protocol::PushRequest request =
        settings_push("client", round * kMutations + 1, kMutations);
    Result<protocol::PushResponse> a = error(ErrorCode::kInternal, "not run");
    Result<protocol::PushResponse> b = error(ErrorCode::kInternal, "not run");
    std::thread ta([&] { a = core_a.push(who, request, 2000); });
    std::thread tb([&] { b = core_b.push(who, request, 2000); });
    ta.join();
    tb.join();
    for (auto* response : {&a, &b}) {
      ASSERT_TRUE(response->ok()) << response->status().to_string();
      EXPECT_EQ((*response)->last_mutation_id(), static_cast<uint64_t>((round + 1) * kMutations));
      ASSERT_EQ((*response)->results_size(), kMutations);
      for (const auto& r : (*response)->results()) {
        EXPECT_EQ(r.outcome(), protocol::MutationResult::APPLIED);
      }
    }
  }
  // Each setting was written once per round: kRounds log entries per key, no more.
  std::map<std::string, int> writes;
  uint64_t after = 0;
  for (;;) {
    LogPage page = take(first->read_log("user/t1/u1", after, 1000, 1 << 20, -1));
    for (const auto& e : page.entries) ++writes[e.key];
    after = page.next_after_seq;
    if (!page.has_more) break;
  }
  ASSERT_EQ(writes.size(), static_cast<size_t>(kMutations));
  for (const auto& [key, count] : writes) EXPECT_EQ(count, kRounds) << key;
}

// Two pushes of one user from two devices, one writing its user scope then its org scope,
// the other the org scope then the user scope, each waiting (briefly) for the other to hold
// its first scope: locks taken in the order the mutators touch them deadlock (PostgreSQL
// aborts one after deadlock_timeout). Taken in the store's one fixed order, one push waits
// for the other and both apply.
TEST(PostgresServerStore, PushesTouchingTwoScopesInOppositeOrdersBothApply) {
  pg_test::TestDatabase db;
  auto store = open_store(db.url());
  std::mutex mutex;
  std::condition_variable changed;
  bool user_first_holds_user = false;
  bool org_first_holds_org = false;
  auto wait_for = [&](bool& flag) {
    std::unique_lock lock(mutex);
    changed.wait_for(lock, 1500ms, [&] { return flag; });
  };
  auto raise = [&](bool& flag) {
    std::lock_guard lock(mutex);
    flag = true;
    changed.notify_all();
  };
  auto setting = [](const std::string& name) {
    domain::UserSetting record;
    record.set_name(name);
    return record;
  };
  auto org_setting = [](const std::string& name) {
    domain::OrgSetting record;
    record.set_name(name);
    return record;
  };
  MutatorRegistry mutators;
  ASSERT_TRUE(mutators
                  .add<mutations::SetUserSetting>(
                      "user_then_org",
                      [&](MutationContext& ctx, const mutations::SetUserSetting& args) -> Status {
                        OUTPOST_RETURN_IF_ERROR(ctx.put(setting(args.name())));
                        raise(user_first_holds_user);
                        wait_for(org_first_holds_org);
                        return ctx.put(org_setting(args.name()));
                      })
                  .ok());
  ASSERT_TRUE(mutators
                  .add<mutations::SetUserSetting>(
                      "org_then_user",
                      [&](MutationContext& ctx, const mutations::SetUserSetting& args) -> Status {
                        wait_for(user_first_holds_user);
                        OUTPOST_RETURN_IF_ERROR(ctx.put(org_setting(args.name())));
                        raise(org_first_holds_org);
                        return ctx.put(setting(args.name()));
                      })
                  .ok());
  ServerCore core(*store, Schema::domain(), mutators);
  const Principal phone{"t1", "u1", "phone"};
  const Principal tablet{"t1", "u1", "tablet"};
  protocol::PushRequest first = settings_push("phone", 1, 1);
  first.mutable_mutations(0)->set_name("user_then_org");
  protocol::PushRequest second = settings_push("tablet", 1, 1);
  second.mutable_mutations(0)->set_name("org_then_user");
  Result<protocol::PushResponse> a = error(ErrorCode::kInternal, "not run");
  Result<protocol::PushResponse> b = error(ErrorCode::kInternal, "not run");
  std::thread ta([&] { a = core.push(phone, first, 2000); });
  std::thread tb([&] { b = core.push(tablet, second, 2000); });
  ta.join();
  tb.join();
  for (auto* response : {&a, &b}) {
    ASSERT_TRUE(response->ok()) << response->status().to_string();
    ASSERT_EQ((*response)->results_size(), 1);
    EXPECT_EQ((*response)->results(0).outcome(), protocol::MutationResult::APPLIED)
        << (*response)->results(0).reason();
  }
  EXPECT_EQ(take(store->scope_info("user/t1/u1")).head_seq, 2u);
  EXPECT_EQ(take(store->scope_info("org/t1")).head_seq, 2u);
}

TEST(PostgresServerStore, ANewerStoreFormatIsRefusedAndLeftUntouched) {
  pg_test::TestDatabase db;
  open_store(db.url()).reset();
  pg_test::query(db.url(), "UPDATE outpost_meta SET value = 99 WHERE key = 'format_version'");
  PostgresStoreOptions options;
  options.url = db.url();
  auto refused = PostgresServerStore::open(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kSchemaTooNew);
  EXPECT_EQ(pg_test::query(db.url(), "SELECT value FROM outpost_meta"), "99");
}

TEST(PostgresServerStore, UnreachableOrBadSettingsAreClearErrors) {
  PostgresStoreOptions options;
  EXPECT_EQ(PostgresServerStore::open(options).status().code(), ErrorCode::kInvalidArgument);
  options.url = "postgresql://outpost@127.0.0.1:1/postgres";  // nothing listens on port 1
  auto unreachable = PostgresServerStore::open(options);
  ASSERT_FALSE(unreachable.ok());
  EXPECT_EQ(unreachable.status().code(), ErrorCode::kUnavailable);
  pg_test::TestDatabase db;
  options.url = db.url();
  options.max_connections = 0;
  EXPECT_EQ(PostgresServerStore::open(options).status().code(), ErrorCode::kInvalidArgument);
}

TEST(PostgresServerStore, StoreBytesOfAnyKindRoundTrip) {
  pg_test::TestDatabase db;
  auto store = open_store(db.url());
  const std::string scope("user/t\0/u\xff", 10);
  const std::string key("k\0\x01\xfe", 4);
  const std::string body("\0\0binary\xff\x80", 10);
  auto tx = take(store->begin_write());
  EXPECT_EQ(take(tx->put(scope, "c", key, 0, body)), 1u);
  take(tx->commit());
  auto got = take(store->get(scope, "c", key));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->body, body);
  auto snapshot = take(store->read_snapshot(scope, SnapshotPosition{}, 10, 1 << 20));
  ASSERT_EQ(snapshot.records.size(), 1u);
  EXPECT_EQ(snapshot.records[0].record.key, key);
}

// The commit feed hears other stores' commits (not its own), and PostgreSQL killed mid-
// transaction: a retryable error, nothing half-written, service and feed resume.
TEST(PostgresServerStore, AKilledServerIsRetryableLeavesNothingHalfWrittenAndResumes) {
  pg_test::PrivateCluster cluster;
  pg_test::TestDatabase db(cluster.url());
  auto writer = open_store(db.url());
  auto local = open_store(db.url());
  std::mutex mu;
  std::vector<CommittedHead> heard;
  std::atomic<int> resyncs{0};
  PostgresCommitFeedOptions feed_options;
  feed_options.url = db.url();
  feed_options.own_instance = local->instance_id();
  feed_options.on_heads = [&](const std::vector<CommittedHead>& heads) {
    std::lock_guard lock(mu);
    heard.insert(heard.end(), heads.begin(), heads.end());
  };
  feed_options.on_resync = [&] { ++resyncs; };
  PostgresCommitFeed feed(feed_options);
  feed.start();
  ASSERT_TRUE(eventually([&] { return feed.connected(); }, 10s));
  EXPECT_EQ(resyncs.load(), 1);

  auto tx = take(writer->begin_write());
  take(tx->put("org/t1", "contacts", "a", 0, "A"));
  take(tx->commit());
  auto own = take(local->begin_write());
  take(own->put("org/t1", "contacts", "b", 0, "B"));
  take(own->commit());
  ASSERT_TRUE(eventually(
      [&] {
        std::lock_guard lock(mu);
        return !heard.empty();
      },
      5s));
  std::this_thread::sleep_for(200ms);
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(heard.size(), 1u);  // the local store's own commit is skipped
    EXPECT_EQ(heard[0].scope, "org/t1");
    EXPECT_EQ(heard[0].head_seq, 1u);
    EXPECT_EQ(heard[0].base_seq, std::optional<uint64_t>(0));  // decision 041
  }

  // Mid-transaction: two writes done, PostgreSQL dies before the commit.
  auto doomed = take(writer->begin_write());
  take(doomed->put("org/t1", "contacts", "c", 0, "C"));
  take(doomed->put("user/t1/u1", "drafts", "d", 0, "D"));
  cluster.kill();
  auto committed = doomed->commit();
  ASSERT_FALSE(committed.ok());
  EXPECT_EQ(committed.status().code(), ErrorCode::kUnavailable) << committed.status().to_string();
  doomed.reset();
  EXPECT_EQ(writer->scope_info("org/t1").status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(writer->begin_write().status().code(), ErrorCode::kUnavailable);
  ASSERT_TRUE(eventually([&] { return !feed.connected(); }, 5s));

  cluster.restart();
  // Nothing half-written: neither of the doomed writes, and the heads where they were.
  // The pooled connections died with the server; the first request after it is back
  // already succeeds (dead pooled connections are replaced, not reported).
  auto first = writer->scope_info("org/t1");
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(take(writer->scope_info("org/t1")).head_seq, 2u);
  EXPECT_EQ(take(writer->scope_info("user/t1/u1")).head_seq, 0u);
  EXPECT_FALSE(take(writer->get("org/t1", "contacts", "c")).has_value());
  // Service resumes: the next write takes the next seq, and the feed hears it.
  ASSERT_TRUE(eventually([&] { return feed.connected(); }, 10s));
  EXPECT_EQ(resyncs.load(), 2);  // everyone is poked after the reconnect
  auto again = take(writer->begin_write());
  EXPECT_EQ(take(again->put("org/t1", "contacts", "c", 0, "C")), 3u);
  take(again->commit());
  ASSERT_TRUE(eventually(
      [&] {
        std::lock_guard lock(mu);
        return heard.size() == 2;
      },
      5s));
  std::lock_guard lock(mu);
  EXPECT_EQ(heard[1].head_seq, 3u);
  EXPECT_EQ(heard[1].base_seq, std::optional<uint64_t>(2));
}

// A full batch of puts is written while the caller goes on (decision 041): when its
// connection dies meanwhile, the transaction fails at a later call, retryably, and nothing
// of it is written; the store serves the next transaction.
TEST(PostgresServerStore, ABatchSentWhileTheCallerGoesOnFailsTheTransactionWhole) {
  pg_test::TestDatabase db;
  auto store = open_store(db.url());
  auto tx = take(store->begin_write());
  for (int i = 0; i < 2'000; ++i) {  // batches leave from the 100th put on
    take(tx->put("org/t1", "contacts", "k" + std::to_string(i), 0, "body"));
  }
  pg_test::query(db.url(),
                 "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
                 "current_database() AND pid <> pg_backend_pid()");
  auto later = tx->put("org/t1", "contacts", "later", 0, "body");  // held: may still say ok
  auto committed = tx->commit();
  ASSERT_FALSE(committed.ok());
  EXPECT_EQ(committed.status().code(), ErrorCode::kUnavailable) << committed.status().to_string();
  tx.reset();
  EXPECT_EQ(take(store->scope_info("org/t1")).head_seq, 0u);
  EXPECT_FALSE(take(store->get("org/t1", "contacts", "k0")).has_value());
  auto again = take(store->begin_write());
  EXPECT_EQ(take(again->put("org/t1", "contacts", "k0", 0, "body")), 1u);
  take(again->commit());
  EXPECT_EQ(take(store->scope_info("org/t1")).record_count, 1u);
}

// A put PostgreSQL refuses inside a batch written while the caller goes on (here a
// trigger stands in for any statement error): the transaction fails whole, at a later
// call, and nothing of it is written; what was committed before is untouched.
TEST(PostgresServerStore, APutThatFailsMidBatchChangesNothing) {
  pg_test::TestDatabase db;
  auto store = open_store(db.url());
  {
    auto tx = take(store->begin_write());
    take(tx->put("org/t1", "contacts", "k1", 0, "before"));
    take(tx->commit());
  }
  pg_test::query(db.url(),
                 "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF "
                 "NEW.key = 'poison'::bytea THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; "
                 "END $$; CREATE TRIGGER refuse_poison BEFORE INSERT ON outpost_records FOR EACH "
                 "ROW EXECUTE FUNCTION refuse_poison()");
  auto tx = take(store->begin_write());
  Status failed = Status::Ok();
  for (int i = 0; i < 1'200 && failed.ok(); ++i) {
    const std::string key = i == 250 ? "poison" : "k" + std::to_string(i);
    auto put = tx->put("org/t1", "contacts", key, 0, "during " + std::to_string(i));
    if (!put.ok()) failed = put.status();
  }
  auto committed = tx->commit();
  if (failed.ok()) failed = committed.status();
  ASSERT_FALSE(committed.ok());
  EXPECT_EQ(failed.code(), ErrorCode::kInternal) << failed.to_string();
  EXPECT_NE(failed.to_string().find("poisoned"), std::string::npos) << failed.to_string();
  tx.reset();
  const ScopeInfo info = take(store->scope_info("org/t1"));
  EXPECT_EQ(info.head_seq, 1u);
  EXPECT_EQ(info.record_count, 1u);
  EXPECT_EQ(take(store->get("org/t1", "contacts", "k1"))->body, "before");
  EXPECT_FALSE(take(store->get("org/t1", "contacts", "k2")).has_value());
  EXPECT_EQ(pg_test::query(db.url(), "SELECT count(*) FROM outpost_changes"), "1");
  auto again = take(store->begin_write());  // the connection serves the next transaction
  EXPECT_EQ(take(again->put("org/t1", "contacts", "k2", 0, "after")), 2u);
  take(again->commit());
  EXPECT_EQ(take(store->get("org/t1", "contacts", "k2"))->body, "after");
}

// Large bodies go out in batches of at most 4 MiB while the caller goes on: a 10 MiB
// transaction of 256 KiB puts is written whole and exactly.
TEST(PostgresServerStore, LargePutsGoOutInBoundedBatchesAndArriveWhole) {
  pg_test::TestDatabase db;
  auto store = open_store(db.url());
  auto tx = take(store->begin_write());
  for (int i = 0; i < 40; ++i) {
    take(tx->put("org/t1", "blobs", "b" + std::to_string(i), 0,
                 std::string(256 << 10, static_cast<char>('a' + i % 26))));
  }
  take(tx->commit());
  tx.reset();
  EXPECT_EQ(take(store->scope_info("org/t1")).record_count, 40u);
  for (int i = 0; i < 40; i += 13) {
    auto got = take(store->get("org/t1", "blobs", "b" + std::to_string(i)));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->body, std::string(256 << 10, static_cast<char>('a' + i % 26)));
    EXPECT_EQ(got->version, static_cast<uint64_t>(i + 1));
  }
}

// Format 3 (decision 054): a format-2 log, whose entries do not name their predecessors,
// gets them from the log itself on open, and compaction then keeps what it kept before:
// each key's newest entry.
TEST(PostgresServerStore, AFormat2LogIsMigratedAndCompactsAsBefore) {
  pg_test::TestDatabase db;
  {
    auto store = open_store(db.url());
    auto tx = take(store->begin_write());
    take(tx->put("org/t1", "n", "a", 0, "a1"));  // 1: superseded by 3
    take(tx->put("org/t1", "n", "b", 0, "b1"));  // 2: superseded by 4
    take(tx->put("org/t1", "n", "a", 0, "a2"));  // 3: kept
    take(tx->remove("org/t1", "n", "b", 0));     // 4: superseded by 5
    take(tx->put("org/t1", "n", "b", 0, "b2"));  // 5: superseded by 6
    take(tx->remove("org/t1", "n", "b", 0));     // 6: kept (above the horizon)
    take(tx->put("org/t1", "n", "c", 0, "c1"));  // 7: kept
    take(tx->commit());
  }
  pg_test::query(db.url(),
                 "ALTER TABLE outpost_changes DROP COLUMN prev_seq; DROP INDEX "
                 "outpost_changes_tombstones; CREATE INDEX outpost_changes_by_key ON "
                 "outpost_changes (scope_id, collection, key, seq); UPDATE outpost_meta SET "
                 "value = 2 WHERE key = 'format_version'");
  auto store = open_store(db.url());
  EXPECT_EQ(pg_test::query(db.url(), "SELECT value FROM outpost_meta"), "3");
  ASSERT_TRUE(store->compact("org/t1", 0).ok());
  std::vector<uint64_t> seqs;
  for (const LogEntry& e : take(store->read_log("org/t1", 0, 100, UINT64_MAX, -1)).entries) {
    seqs.push_back(e.seq);
  }
  EXPECT_EQ(seqs, (std::vector<uint64_t>{3, 6, 7}));
}

TEST(PostgresCommitFeed, PayloadsParseStrictly) {
  std::string instance;
  CommittedHead head;
  ASSERT_TRUE(parse_commit_payload("ab12 42 6f72672f7431", instance, head));
  EXPECT_EQ(instance, "ab12");
  EXPECT_EQ(head.scope, "org/t1");
  EXPECT_EQ(head.head_seq, 42u);
  EXPECT_FALSE(head.base_seq.has_value());  // a store before decision 041: a plain poke
  // With the commit's base (decision 041): its changes are the seqs in (40, 42].
  ASSERT_TRUE(parse_commit_payload("ab12:40 42 6f72672f7431", instance, head));
  EXPECT_EQ(instance, "ab12");
  EXPECT_EQ(head.scope, "org/t1");
  EXPECT_EQ(head.head_seq, 42u);
  EXPECT_EQ(head.base_seq, std::optional<uint64_t>(40));
  ASSERT_TRUE(parse_commit_payload("ab12:0 1 61", instance, head));
  EXPECT_EQ(head.base_seq, std::optional<uint64_t>(0));
  ASSERT_TRUE(parse_commit_payload("ab12 *", instance, head));
  EXPECT_EQ(head.scope, "");
  EXPECT_FALSE(head.base_seq.has_value());
  for (const char* bad :
       {"", "ab12", " 1 61", "ab12 x 61", "ab12 1 6", "ab12 1 zz", "ab12 1 ", ":3 4 61",
        "ab12: 4 61", "ab12:x 4 61", "ab12:4 4 61", "ab12:5 4 61", "ab12:3 *", "ab12:1:2 4 61",
        "ab12 99999999999999999999 61", "ab12:-1 4 61"}) {
    EXPECT_FALSE(parse_commit_payload(bad, instance, head)) << bad;
  }
}

}  // namespace
}  // namespace outpost

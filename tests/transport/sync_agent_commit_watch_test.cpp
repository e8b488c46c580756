// The process's foreign-commit watch (decision 046) over real replica files: another
// connection's commit wakes the owner of that file, and only it, at the first tick after the
// commit; nothing else wakes anyone.
#include "transport/sync_agent_commit_watch.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "engine/domain_mutators.h"
#include "outpost/mutations.pb.h"
#include "tests/engine/test_support.h"

namespace outpost {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<Replica> open_replica(const std::string& path) {
  ReplicaOptions options;
  options.tenant = "acme";
  options.user = "agent1";
  options.client_id = "watched-client";
  auto opened = Replica::open(path, Schema::domain(), &domain_mutators(), options);
  EXPECT_TRUE(opened.ok()) << opened.status().to_string();
  return opened.ok() ? std::move(opened).value() : nullptr;
}

void commit(Replica& replica, const std::string& name) {
  mutations::SetUserSetting args;
  args.set_name(name);
  args.set_value("1");
  ASSERT_TRUE(replica.mutate("set_user_setting", args, 1).ok());
}

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds within = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return predicate();
}

// One replica file: the owner (whose stamp is watched) and another connection (another
// process, in effect), with the wakes the watch gave the owner and the tick of the last.
struct File {
  explicit File(const std::string& path) : owner(open_replica(path)), other(open_replica(path)) {}
  ~File() {
    if (watcher != nullptr) watcher->remove(id);  // before the replica (its mapping) goes
  }
  std::unique_ptr<Replica> owner;
  std::unique_ptr<Replica> other;
  std::atomic<int> wakes{0};
  std::atomic<uint64_t> woken_at_tick{0};
  uint64_t id = 0;
  CommitWatch* watcher = nullptr;

  void watch(CommitWatch& watch, std::chrono::milliseconds interval = 5ms) {
    watcher = &watch;
    Replica::CommitStampReader reader = owner->commit_stamp_reader();
    ASSERT_TRUE(reader);
    id = watch.add(reader, interval, [this, &watch] {
      woken_at_tick = watch.ticks();
      ++wakes;
    });
  }
};

class CommitWatchTest : public ::testing::Test {
 protected:
  // Lets `ticks` more ticks pass.
  void let_ticks_pass(uint64_t ticks) {
    const uint64_t until = watch_.ticks() + ticks;
    ASSERT_TRUE(eventually([&] { return watch_.ticks() >= until; }));
  }

  testing::TempDir dir_;
  CommitWatch watch_;
};

TEST_F(CommitWatchTest, AnotherConnectionsCommitWakesOnlyItsFileAtTheNextTick) {
  File a(dir_.file("a.db")), b(dir_.file("b.db"));
  ASSERT_TRUE(a.owner && a.other && b.owner && b.other);
  a.watch(watch_);
  b.watch(watch_);
  // The first tick wakes each once (a commit before add() must not go unnoticed).
  ASSERT_TRUE(eventually([&] { return a.wakes == 1 && b.wakes == 1; }));
  let_ticks_pass(5);
  EXPECT_EQ(a.wakes, 1) << "nothing committed: nobody is woken";
  EXPECT_EQ(b.wakes, 1);

  for (int i = 0; i < 3; ++i) {
    commit(*a.other, "from-another-process-" + std::to_string(i));
    const uint64_t committed_at = watch_.ticks();
    ASSERT_TRUE(eventually([&] { return a.wakes == 2 + i; }));
    // The tick under way may have read the stamp before the commit; the next one reads it.
    EXPECT_LE(a.woken_at_tick.load(), committed_at + 1);
  }
  let_ticks_pass(3);
  EXPECT_EQ(a.wakes, 4);
  EXPECT_EQ(b.wakes, 1) << "another file's commits wake only its owner";
}

TEST_F(CommitWatchTest, OwnCommitsMarkedSeenWakeNobodyButLaterOnesDo) {
  File a(dir_.file("a.db"));
  ASSERT_TRUE(a.owner && a.other);
  a.watch(watch_);
  ASSERT_TRUE(eventually([&] { return a.wakes == 1; }));
  commit(*a.owner, "own");
  // What the agent's loop does after a batch of frames: the stamp, refresh(), seen().
  const Replica::CommitStamp stamp = a.owner->commit_stamp_reader()();
  ASSERT_TRUE(a.owner->refresh().ok());
  watch_.seen(a.id, stamp);
  const int woken = a.wakes;  // a tick between the commit and seen() may have woken it
  let_ticks_pass(5);
  EXPECT_EQ(a.wakes, woken);

  // A burst from another connection: at least one wake, and after the last wake the
  // stamp the watch compared is the final one (no commit of the burst goes unnoticed).
  for (int i = 0; i < 50; ++i) commit(*a.other, "burst-" + std::to_string(i));
  ASSERT_TRUE(eventually([&] { return a.wakes > woken; }));
  let_ticks_pass(3);
  const int after_burst = a.wakes;
  let_ticks_pass(3);
  EXPECT_EQ(a.wakes, after_burst) << "settled: the last commit of the burst was seen";
  auto changes = a.owner->refresh();
  ASSERT_TRUE(changes.ok());
  EXPECT_FALSE(changes->empty());
}

TEST_F(CommitWatchTest, LookAgainWakesOnTheNextTickAndRemoveStopsWakes) {
  File a(dir_.file("a.db")), b(dir_.file("b.db"));
  ASSERT_TRUE(a.owner && a.other && b.owner && b.other);
  a.watch(watch_);
  b.watch(watch_);
  ASSERT_TRUE(eventually([&] { return a.wakes == 1 && b.wakes == 1; }));
  watch_.look_again(a.id);  // the owner's refresh() failed: ask again
  ASSERT_TRUE(eventually([&] { return a.wakes == 2; }));

  watch_.remove(a.id);
  commit(*a.other, "after-remove");
  let_ticks_pass(5);  // b keeps the watch ticking
  EXPECT_EQ(a.wakes, 2);
  watch_.remove(a.id);  // idempotent
}

}  // namespace
}  // namespace outpost

// WalCheckpointer against real replica files: it copies the WAL into the database from its
// own connection while the replica's automatic checkpoint is off, never creates a file,
// and reports what goes wrong.
#include "transport/wal_checkpointer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "engine/domain_mutators.h"
#include "engine/replica.h"
#include "outpost/mutations.pb.h"

namespace outpost {
namespace {

using namespace std::chrono_literals;
constexpr auto kWaitBound = 10s;

class WalCheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path().string() + "/outpost-wal-" +
           std::to_string(getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Replica> open_replica(int autocheckpoint_pages) {
    ReplicaOptions options{.tenant = "acme", .user = "agent-1", .client_id = "device-1"};
    options.wal_autocheckpoint_pages = autocheckpoint_pages;
    return std::move(
               Replica::open(dir_ + "/device.db", Schema::domain(), &domain_mutators(), options))
        .value();
  }

  // Enough saves to fill many WAL pages (each draft body is 4 KiB).
  static void save_drafts(Replica& replica, int count) {
    for (int i = 0; i < count; ++i) {
      mutations::SaveDraft args;
      args.mutable_draft()->set_id("draft-" + std::to_string(i));
      args.mutable_draft()->set_interaction_id("conv-" + std::to_string(i));
      args.mutable_draft()->set_body(std::string(4096, static_cast<char>('a' + i % 26)));
      ASSERT_TRUE(replica.mutate("save_draft", args, 1000 + i).ok());
    }
  }

  std::string dir_;
};

TEST_F(WalCheckpointerTest, CopiesTheWalIntoTheDatabaseFromItsOwnConnection) {
  auto replica = open_replica(0);  // SQLite never checkpoints inside a commit
  const auto db_size_before = std::filesystem::file_size(dir_ + "/device.db");
  save_drafts(*replica, 200);
  // Nothing was copied by the commits themselves.
  EXPECT_EQ(std::filesystem::file_size(dir_ + "/device.db"), db_size_before);

  WalCheckpointer checkpointer(dir_ + "/device.db", {.min_interval = 10ms});
  // It passes only when poked.
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(checkpointer.checkpoints(), 0u);
  checkpointer.poke();
  const auto deadline = std::chrono::steady_clock::now() + kWaitBound;
  while (checkpointer.checkpoints() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_GE(checkpointer.checkpoints(), 1u);
  EXPECT_TRUE(checkpointer.last_error().ok()) << checkpointer.last_error().to_string();
  EXPECT_GT(std::filesystem::file_size(dir_ + "/device.db"), db_size_before + 200 * 4096);

  // A pass with nothing new to copy is not counted; the replica keeps working.
  const uint64_t after = checkpointer.checkpoints();
  checkpointer.poke();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(checkpointer.checkpoints(), after);
  save_drafts(*replica, 10);
  checkpointer.stop();
  EXPECT_TRUE(replica->check_integrity().ok());
  auto count = replica->count("draft");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 200u);
}

TEST_F(WalCheckpointerTest, MissingFileIsAnErrorAndIsNotCreated) {
  WalCheckpointer checkpointer(dir_ + "/absent.db", {.min_interval = 5ms});
  checkpointer.poke();
  const auto deadline = std::chrono::steady_clock::now() + kWaitBound;
  while (checkpointer.last_error().ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(checkpointer.last_error().code(), ErrorCode::kIo);
  checkpointer.stop();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/absent.db"));
  EXPECT_EQ(checkpointer.checkpoints(), 0u);
}

TEST_F(WalCheckpointerTest, ReplicaHandsCheckpointsOffAndKeepsTheWalBounded) {
  auto replica = open_replica(1000);
  EXPECT_EQ(replica->hand_off_checkpoints([] {}, 0, 10).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(replica->hand_off_checkpoints([] {}, 20, 10).code(), ErrorCode::kInvalidArgument);

  // Requests only once the WAL holds `request_pages`; never checkpoints itself below the
  // bound.
  WalCheckpointer checkpointer(dir_ + "/device.db", {.min_interval = 1ms});
  std::atomic<int> requests{0};
  auto request = [&] {
    ++requests;
    checkpointer.poke();
  };
  ASSERT_TRUE(replica->hand_off_checkpoints(request, 5000, 100000).ok());
  const auto db_size_before = std::filesystem::file_size(dir_ + "/device.db");
  save_drafts(*replica, 5);
  EXPECT_EQ(requests.load(), 0);  // a few pages: no request
  ASSERT_TRUE(replica->hand_off_checkpoints(request, 50, 100000).ok());
  save_drafts(*replica, 100);
  EXPECT_GT(requests.load(), 0);
  const auto deadline = std::chrono::steady_clock::now() + kWaitBound;
  while (checkpointer.checkpoints() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_GE(checkpointer.checkpoints(), 1u);
  EXPECT_GT(std::filesystem::file_size(dir_ + "/device.db"), db_size_before);

  // The bound: with nobody answering, the commit past `bound_pages` checkpoints itself.
  checkpointer.stop();
  ASSERT_TRUE(replica->hand_off_checkpoints([] {}, 10, 20).ok());
  const auto size_before_bound = std::filesystem::file_size(dir_ + "/device.db");
  save_drafts(*replica, 150);
  EXPECT_GT(std::filesystem::file_size(dir_ + "/device.db"), size_before_bound);

  // Restoring SQLite's automatic checkpoint works, and the replica is sound.
  ASSERT_TRUE(replica->hand_off_checkpoints(nullptr, 0, 0).ok());
  save_drafts(*replica, 10);
  EXPECT_TRUE(replica->check_integrity().ok());
}

}  // namespace
}  // namespace outpost

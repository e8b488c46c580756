// App kill: a child process writes to a replica and is SIGKILLed at a random moment. After
// reopening, every mutation whose mutate() returned is in both the table and the outbox,
// nothing half-applied is visible, and the file passes PRAGMA integrity_check.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <set>

#include "engine/domain_mutators.h"
#include "engine/replica.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "test_support.h"

namespace outpost {
namespace {

namespace d = outpost::domain;
namespace m = outpost::mutations;

constexpr int kIterations = 40;

std::string draft_text(uint64_t n) {
  return "Dear customer, this is reply number " + std::to_string(n) + " and it must survive.";
}

// Child: saves drafts forever, reporting each id that mutate() returned on `report_fd`.
[[noreturn]] void save_drafts_until_killed(const std::string& path, int report_fd, int seed) {
  auto replica = Replica::open(path, Schema::domain(), &domain_mutators(),
                               {.tenant = "acme", .user = "agent1", .client_id = "device-1"});
  if (!replica.ok()) _exit(2);
  if (write(report_fd, "R", 1) != 1) _exit(4);  // opened: the parent's kill clock starts
  for (uint64_t n = 0;; ++n) {
    m::SaveDraft args;
    std::string id = "draft-" + std::to_string(seed) + "-" + std::to_string(n);
    args.mutable_draft()->set_id(id);
    args.mutable_draft()->set_body(draft_text(n));
    auto mutation = (*replica)->mutate("save_draft", args, static_cast<int64_t>(n));
    if (!mutation.ok()) _exit(3);
    uint64_t report[2] = {mutation.value(), n};
    if (write(report_fd, report, sizeof(report)) != sizeof(report)) _exit(4);
  }
}

// Child: applies pull batches of 25 drafts each, the cursor moving with each batch.
[[noreturn]] void apply_batches_until_killed(const std::string& path, int report_fd) {
  auto replica = Replica::open(path, Schema::domain(), &domain_mutators(),
                               {.tenant = "acme", .user = "agent1", .client_id = "device-1"});
  if (!replica.ok()) _exit(2);
  if (write(report_fd, "R", 1) != 1) _exit(4);
  auto cursors = (*replica)->cursors();
  uint64_t seq = cursors.ok() && !cursors->empty() ? (*cursors)[0].seq : 0;
  for (;;) {
    protocol::PullResponse response;
    auto* scope = response.add_scopes();
    scope->set_scope("user/acme/agent1");
    for (int i = 0; i < 25; ++i) {
      ++seq;
      d::Draft draft;
      draft.set_id("server-" + std::to_string(seq));
      draft.set_body(draft_text(seq));
      *scope->add_changes() = testing::put_change("draft", draft.id(), draft, seq);
    }
    scope->set_cursor(seq);
    if (!(*replica)->apply(response).ok()) _exit(3);
    if (write(report_fd, &seq, sizeof(seq)) != sizeof(seq)) _exit(4);
  }
}

template <typename Child>
std::vector<char> run_and_kill(Child child_body, std::mt19937& rng) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    child_body(fds[1]);
  }
  close(fds[1]);
  // Kill at a random moment after the child opened the replica (a slow, loaded machine
  // must not turn the test into one that kills children before they did anything).
  char ready = 0;
  EXPECT_EQ(read(fds[0], &ready, 1), 1);
  std::uniform_int_distribution<int> delay_us(0, 30000);
  usleep(delay_us(rng));
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status)) << "the child exited early with " << WEXITSTATUS(status);
  std::vector<char> reported;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof(buffer))) > 0)
    reported.insert(reported.end(), buffer, buffer + n);
  close(fds[0]);
  return reported;
}

TEST(ReplicaKill, EveryReturnedMutationSurvivesSigkill) {
  testing::TempDir dir;
  const std::string path = dir.file("device.db");
  std::mt19937 rng(20261124);
  uint64_t total_confirmed = 0;
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    auto reported =
        run_and_kill([&](int fd) { save_drafts_until_killed(path, fd, iteration); }, rng);
    auto replica = Replica::open(path, Schema::domain(), &domain_mutators());
    ASSERT_TRUE(replica.ok()) << replica.status().to_string();
    ASSERT_TRUE((*replica)->check_integrity().ok());
    auto pending = (*replica)->pending();
    ASSERT_TRUE(pending.ok());
    std::set<uint64_t> outbox;
    for (const auto& mutation : *pending) outbox.insert(mutation.id);
    // Every report is whole (a report is written after mutate() returned).
    const size_t reports = reported.size() / (2 * sizeof(uint64_t));
    for (size_t i = 0; i < reports; ++i) {
      uint64_t report[2];
      memcpy(report, reported.data() + i * sizeof(report), sizeof(report));
      ASSERT_EQ(outbox.count(report[0]), 1u) << "mutation " << report[0] << " was lost";
      std::string id = "draft-" + std::to_string(iteration) + "-" + std::to_string(report[1]);
      auto draft = (*replica)->get<d::Draft>(id);
      ASSERT_TRUE(draft.ok() && draft->has_value()) << id << " was lost";
      EXPECT_EQ((*draft)->body(), draft_text(report[1]));
    }
    total_confirmed += reports;
    // Nothing half-applied: each draft row has its outbox entry and vice versa.
    auto drafts = (*replica)->count("draft");
    ASSERT_TRUE(drafts.ok());
    EXPECT_EQ(drafts.value(), outbox.size());
  }
  EXPECT_GT(total_confirmed, static_cast<uint64_t>(kIterations));  // the children did work
}

TEST(ReplicaKill, AppliedBatchesMoveTheCursorAtomically) {
  testing::TempDir dir;
  const std::string path = dir.file("device.db");
  std::mt19937 rng(7);
  uint64_t last_reported = 0;
  for (int iteration = 0; iteration < kIterations / 2; ++iteration) {
    auto reported = run_and_kill([&](int fd) { apply_batches_until_killed(path, fd); }, rng);
    if (reported.size() >= sizeof(uint64_t)) {
      memcpy(&last_reported, reported.data() + reported.size() - sizeof(uint64_t),
             sizeof(uint64_t));
    }
    auto replica = Replica::open(path, Schema::domain(), &domain_mutators());
    ASSERT_TRUE(replica.ok()) << replica.status().to_string();
    ASSERT_TRUE((*replica)->check_integrity().ok());
    auto cursors = (*replica)->cursors();
    ASSERT_TRUE(cursors.ok());
    uint64_t cursor = cursors->empty() ? 0 : (*cursors)[0].seq;
    EXPECT_GE(cursor, last_reported);  // nothing reported as applied was lost
    // The rows are exactly the changes up to the cursor: no gap, no half batch.
    EXPECT_EQ((*replica)->count("draft").value(), cursor);
    if (cursor > 0) {
      EXPECT_TRUE((*replica)->get<d::Draft>("server-" + std::to_string(cursor))->has_value());
    }
    EXPECT_FALSE((*replica)->get<d::Draft>("server-" + std::to_string(cursor + 1))->has_value());
  }
  EXPECT_GT(last_reported, 0u);
}

}  // namespace
}  // namespace outpost

// App kill: a child process writes to a replica and is SIGKILLed at a random moment. After
// reopening, every mutation whose mutate() returned is in both the table and the outbox,
// nothing half-applied is visible, and the file passes PRAGMA integrity_check; no mutation
// id is issued twice, whatever the kill interrupted.
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

// A pull response that confirms every mutation up to `last`: complete (both followed
// scopes, nothing changed, the cursors moving on to `seq`), so the outbox empties.
protocol::PullResponse confirming(uint64_t last, uint64_t seq) {
  protocol::PullResponse response;
  for (const char* name : {"user/acme/agent1", "org/acme"}) {
    auto* scope = response.add_scopes();
    scope->set_scope(name);
    scope->set_cursor(seq);
  }
  response.set_last_mutation_id(last);
  return response;
}

// Child: saves drafts and every third save has the server confirm them all (the outbox
// empties), reporting each id mutate() returned, until killed.
[[noreturn]] void save_and_confirm_until_killed(const std::string& path, int report_fd) {
  auto replica = Replica::open(path, Schema::domain(), &domain_mutators(),
                               {.tenant = "acme", .user = "agent1", .client_id = "device-1"});
  if (!replica.ok()) _exit(2);
  if (write(report_fd, "R", 1) != 1) _exit(4);
  auto cursors = (*replica)->cursors();
  uint64_t seq = cursors.ok() && !cursors->empty() ? (*cursors)[0].seq : 0;
  for (uint64_t n = 0;; ++n) {
    m::SaveDraft args;
    args.mutable_draft()->set_id("draft-" + std::to_string(n % 5));
    args.mutable_draft()->set_body(draft_text(n));
    auto mutation = (*replica)->mutate("save_draft", args, static_cast<int64_t>(n));
    if (!mutation.ok()) _exit(3);
    const uint64_t id = mutation.value();
    if (write(report_fd, &id, sizeof(id)) != sizeof(id)) _exit(4);
    if (n % 3 == 2 && !(*replica)->apply(confirming(id, ++seq)).ok()) _exit(3);
  }
}

constexpr int kSnapshotPage = 50;
constexpr const char* kOrgScope = "org/acme";

d::Contact snapshot_contact(int n) {
  d::Contact contact;
  char id[16];
  snprintf(id, sizeof(id), "c%06d", n);  // snapshot order is key order
  contact.set_id(id);
  contact.set_first_name("Snapshotted" + std::to_string(n));
  contact.set_work_email("person" + std::to_string(n) + "@example.org");
  return contact;
}

// One page of the org scope's snapshot: contacts [page * 50, page * 50 + 50); a page
// other than the last carries cursor 0 and a continuation token, as the server's do.
protocol::PullResponse snapshot_page(int page, bool last) {
  protocol::PullResponse response;
  auto* scope = response.add_scopes();
  scope->set_scope(kOrgScope);
  for (int i = page * kSnapshotPage; i < (page + 1) * kSnapshotPage; ++i) {
    d::Contact contact = snapshot_contact(i);
    *scope->add_changes() = testing::put_change("contact", contact.id(), contact, 1);
  }
  scope->set_cursor(last ? 1000 : 0);
  scope->set_cursor_token(last ? "" : "page-" + std::to_string(page));
  scope->set_has_more(!last);
  return response;
}

// Child: applies snapshot pages (never the last one) until killed, reporting each page.
[[noreturn]] void apply_snapshot_until_killed(const std::string& path, int report_fd) {
  auto replica = Replica::open(path, Schema::domain(), &domain_mutators(),
                               {.tenant = "acme", .user = "agent1", .client_id = "device-1"});
  if (!replica.ok()) _exit(2);
  if (write(report_fd, "R", 1) != 1) _exit(4);
  for (int page = 0;; ++page) {
    if (!(*replica)->apply(snapshot_page(page, false)).ok()) _exit(3);
    if (write(report_fd, &page, sizeof(page)) != sizeof(page)) _exit(4);
  }
}

// Whether contact's secondary index (first_name) exists in the file.
int64_t index_count(Replica& replica) {
  auto rows = replica.sql(
      "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'i_contact_first_name'");
  EXPECT_TRUE(rows.ok()) << rows.status().to_string();
  return rows.ok() ? std::get<int64_t>(rows->rows[0][0]) : -1;
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

// Decision 065: mutation ids come from the outbox's newest id and a floor kept in `_meta`
// (no AUTOINCREMENT counter). A kill at any moment, the outbox emptied by confirmations or
// not, never makes the file issue an id again: every id, the children's and this test's,
// is above every one issued before it.
TEST(ReplicaKill, NoMutationIdIsIssuedTwiceAcrossKillsWhileTheOutboxEmpties) {
  testing::TempDir dir;
  const std::string path = dir.file("device.db");
  std::mt19937 rng(65);
  uint64_t highest = 0;
  for (int iteration = 0; iteration < kIterations / 2; ++iteration) {
    auto reported = run_and_kill([&](int fd) { save_and_confirm_until_killed(path, fd); }, rng);
    for (size_t i = 0; i + sizeof(uint64_t) <= reported.size(); i += sizeof(uint64_t)) {
      uint64_t id = 0;
      memcpy(&id, reported.data() + i, sizeof(id));
      ASSERT_GT(id, highest) << "mutation id " << id << " issued again";
      highest = id;
    }
    auto replica = Replica::open(path, Schema::domain(), &domain_mutators(),
                                 {.tenant = "acme", .user = "agent1", .client_id = "device-1"});
    ASSERT_TRUE(replica.ok()) << replica.status().to_string();
    ASSERT_TRUE((*replica)->check_integrity().ok());
    // This test's save always finds the outbox empty: what the kill left is confirmed.
    auto pending = (*replica)->pending();
    ASSERT_TRUE(pending.ok());
    if (!pending->empty()) {
      auto cursors = (*replica)->cursors();
      ASSERT_TRUE(cursors.ok());
      const uint64_t seq = cursors->empty() ? 0 : (*cursors)[0].seq;
      ASSERT_TRUE((*replica)->apply(confirming(pending->back().id, seq + 1)).ok());
      ASSERT_TRUE((*replica)->pending()->empty());
    }
    m::SaveDraft args;
    args.mutable_draft()->set_id("after-the-kill");
    args.mutable_draft()->set_body(draft_text(iteration));
    auto next = (*replica)->mutate("save_draft", args, 0);
    ASSERT_TRUE(next.ok()) << next.status().to_string();
    ASSERT_GT(*next, highest) << "mutation id " << *next << " issued again after a kill";
    highest = *next;
  }
  EXPECT_GT(highest, static_cast<uint64_t>(kIterations));  // the children did work
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

// Decision 029: a snapshot's search index is built once the snapshot is in. A kill
// mid-snapshot leaves the index deferred (recorded in the file): search still finds every
// stored row (a scan), the next pages skip the index too, and the last page rebuilds it
// whole, so the index then holds every row — those applied before the kill included.
TEST(ReplicaKill, AKillMidSnapshotKeepsSearchCorrectAndTheLastPageBuildsTheWholeIndex) {
  std::mt19937 rng(29);
  int resumed_with_rows = 0;
  for (int iteration = 0; iteration < kIterations / 4; ++iteration) {
    testing::TempDir dir;
    const std::string path = dir.file("device.db");
    auto reported = run_and_kill([&](int fd) { apply_snapshot_until_killed(path, fd); }, rng);
    const int reported_pages = static_cast<int>(reported.size() / sizeof(int));
    auto replica = Replica::open(path, Schema::domain(), &domain_mutators());
    ASSERT_TRUE(replica.ok()) << replica.status().to_string();
    ASSERT_TRUE((*replica)->check_integrity().ok());
    const uint64_t stored = (*replica)->count("contact").value();
    ASSERT_EQ(stored % kSnapshotPage, 0u) << "half a page applied";
    ASSERT_GE(stored, static_cast<uint64_t>(reported_pages * kSnapshotPage));
    if (stored > 0) ++resumed_with_rows;
    // The writable open's migration created the secondary index the snapshot had dropped
    // (decision 060): the rest of the snapshot keeps it in step.
    EXPECT_EQ(index_count(**replica), 1);
    // Mid-snapshot, search finds exactly the stored rows.
    auto found = (*replica)->search("contact", "snapshotted", {.limit = 0});
    ASSERT_TRUE(found.ok()) << found.status().to_string();
    EXPECT_EQ(found->size(), stored);

    // The resumed snapshot's next (and last) page.
    const int next_page = static_cast<int>(stored / kSnapshotPage);
    auto applied = (*replica)->apply(snapshot_page(next_page, true));
    ASSERT_TRUE(applied.ok()) << applied.status().to_string();
    const uint64_t total = stored + kSnapshotPage;
    ASSERT_EQ((*replica)->count("contact").value(), total);
    // Every row's typed columns are its body's fields (decision 060 reads them straight
    // from the bytes), before and after the kill alike.
    auto typed = (*replica)->sql(
        "SELECT count(*) FROM c_contact WHERE first_name = 'Snapshotted' || "
        "CAST(substr(id, 2) AS INTEGER) AND work_email = 'person' || "
        "CAST(substr(id, 2) AS INTEGER) || '@example.org' AND last_name = ''");
    ASSERT_TRUE(typed.ok()) << typed.status().to_string();
    EXPECT_EQ(std::get<int64_t>(typed->rows[0][0]), static_cast<int64_t>(total));
    // The index itself holds every row (not a scan's answer), and matches the table.
    auto indexed = (*replica)->sql("SELECT count(*) FROM f_contact WHERE f_contact MATCH 'hot'");
    ASSERT_TRUE(indexed.ok()) << indexed.status().to_string();
    EXPECT_EQ(std::get<int64_t>(indexed->rows[0][0]), static_cast<int64_t>(total));
    auto deferred =
        (*replica)->sql("SELECT count(*) FROM _meta WHERE name LIKE 'search_deferred%'");
    ASSERT_TRUE(deferred.ok());
    EXPECT_EQ(std::get<int64_t>(deferred->rows[0][0]), 0);
    // The rebuild's larger term hash (decision 040) is back to FTS5's default for the
    // row-by-row upkeep that follows.
    auto hash = (*replica)->sql("SELECT v FROM f_contact_config WHERE k = 'hashsize'");
    ASSERT_TRUE(hash.ok()) << hash.status().to_string();
    ASSERT_EQ(hash->rows.size(), 1u);
    EXPECT_EQ(std::get<int64_t>(hash->rows[0][0]), 1024 * 1024);
    EXPECT_TRUE((*replica)->check_integrity().ok()) << (*replica)->check_integrity().to_string();
    found = (*replica)->search("contact", "person0@", {});
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(found->size(), 1u);
    EXPECT_EQ((*replica)->search("contact", "snapshotted", {.limit = 0})->size(), total);
  }
  EXPECT_GT(resumed_with_rows, 0);  // some kills came after a page or more
}

// Decision 060: a snapshot into an empty table drops its secondary indexes and builds them
// when the snapshot completes. Meanwhile an ordered query is still exact; a last page that
// is refused (rolled back) leaves them missing, and the same page applied again builds them.
TEST(ReplicaSnapshot, SecondaryIndexesAreBuiltWhenTheSnapshotCompletesEvenAfterARefusal) {
  testing::TempDir dir;
  auto replica = Replica::open(dir.file("device.db"), Schema::domain(), &domain_mutators(),
                               {.tenant = "acme", .user = "agent1", .client_id = "device-1"});
  ASSERT_TRUE(replica.ok());
  Replica& device = **replica;
  EXPECT_EQ(index_count(device), 1);
  for (int page = 0; page < 3; ++page) ASSERT_TRUE(device.apply(snapshot_page(page, false)).ok());
  EXPECT_EQ(index_count(device), 0);
  Query by_name;
  by_name.collection = "contact";
  by_name.where.push_back({"first_name", Condition::Op::kEq, std::string("Snapshotted7")});
  auto found = device.query(by_name);
  ASSERT_TRUE(found.ok()) << found.status().to_string();
  ASSERT_EQ(found->size(), 1u);
  // The last page with a contact protobuf refuses at its end: nothing of it stays.
  protocol::PullResponse refused = snapshot_page(3, true);
  auto* bad = refused.mutable_scopes(0)->add_changes();
  *bad = refused.scopes(0).changes(0);
  bad->set_body(bad->body() + std::string("\x12\x02\xc3\x28", 4));  // not UTF-8
  EXPECT_EQ(device.apply(refused).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(index_count(device), 0);
  EXPECT_EQ(device.count("contact").value(), 3u * kSnapshotPage);
  ASSERT_TRUE(device.apply(snapshot_page(3, true)).ok());
  EXPECT_EQ(index_count(device), 1);
  EXPECT_EQ(device.count("contact").value(), 4u * kSnapshotPage);
  EXPECT_TRUE(device.check_integrity().ok()) << device.check_integrity().to_string();
  found = device.query(by_name);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->size(), 1u);
}

}  // namespace
}  // namespace outpost

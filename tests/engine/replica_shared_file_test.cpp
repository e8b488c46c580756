// Two Replica objects on one file, as two processes would hold it (an app and its
// extension, the CLI beside an agent): what one commits must not be undone by what the
// other kept in memory, and each learns which keys the other changed (refresh()).
#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include <SQLiteCpp/SQLiteCpp.h>

#include "engine/domain_mutators.h"
#include "engine/replica.h"
#include "engine/replica_journal.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "test_support.h"

namespace outpost {
namespace {

using testing::TempDir;
namespace d = outpost::domain;
namespace m = outpost::mutations;

constexpr const char* kScope = "user/acme/agent1";

class ReplicaSharedFile : public ::testing::Test {
 protected:
  std::unique_ptr<Replica> open(bool read_only = false) {
    ReplicaOptions options;
    options.tenant = "acme";
    options.user = "agent1";
    options.client_id = "shared-client";
    options.read_only = read_only;
    auto opened =
        Replica::open(dir_.file("device.db"), Schema::domain(), &domain_mutators(), options);
    EXPECT_TRUE(opened.ok()) << opened.status().to_string();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  static d::UserSetting setting(const std::string& name, const std::string& value) {
    d::UserSetting record;
    record.set_name(name);
    record.set_value(value);
    return record;
  }

  static void pull(Replica& replica, const std::vector<protocol::Change>& changes, uint64_t cursor,
                   uint64_t last_mutation_id = 0) {
    protocol::PullResponse response;
    auto* scope = response.add_scopes();
    scope->set_scope(kScope);
    for (const auto& change : changes) *scope->add_changes() = change;
    scope->set_cursor(cursor);
    // Nothing new in the org scope: a response names every scope the device follows.
    response.add_scopes()->set_scope("org/acme");
    response.set_last_mutation_id(last_mutation_id);
    auto report = replica.apply(response);
    ASSERT_TRUE(report.ok()) << report.status().to_string();
  }

  static uint64_t set(Replica& replica, const std::string& name, const std::string& value) {
    m::SetUserSetting args;
    args.set_name(name);
    args.set_value(value);
    auto id = replica.mutate("set_user_setting", args, 1);
    EXPECT_TRUE(id.ok()) << id.status().to_string();
    return id.ok() ? *id : 0;
  }

  static std::string value(Replica& replica, const std::string& name) {
    auto record = replica.get<d::UserSetting>(name);
    EXPECT_TRUE(record.ok());
    return record.ok() && record->has_value() ? (*record)->value() : "<absent>";
  }

  static size_t shadow_rows(Replica& replica) {
    auto rows = replica.sql("SELECT count(*) FROM _shadow");
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? static_cast<size_t>(std::get<int64_t>(rows->rows[0][0])) : 0;
  }

  TempDir dir_;
};

// The sync process applies a server change to a row that another process's pending
// mutation touched after the sync process opened the file: the change must go to the
// parked server version and the mutation be replayed on top, not overwrite it.
TEST_F(ReplicaSharedFile, AServerChangeDoesNotOverwriteAnotherProcessesPendingMutation) {
  auto sync = open();
  auto app = open();
  ASSERT_TRUE(sync && app);
  pull(*sync, {testing::put_change("user_setting", "theme", setting("theme", "server-1"), 1)}, 1);
  set(*app, "theme", "local");
  pull(*sync, {testing::put_change("user_setting", "theme", setting("theme", "server-2"), 2)}, 2);
  EXPECT_EQ(value(*sync, "theme"), "local");
  EXPECT_EQ(value(*app, "theme"), "local");

  // The server applied the mutation (a later version); once confirmed, the row is the
  // server's and nothing stays parked.
  pull(*sync, {testing::put_change("user_setting", "theme", setting("theme", "local"), 3)}, 3, 1);
  EXPECT_EQ(value(*app, "theme"), "local");
  EXPECT_TRUE(app->pending()->empty());
  EXPECT_EQ(shadow_rows(*app), 0u);
}

// The other way round: a process that parked a row (its shadow set says "parked") must
// not skip parking it again after another process's rebase restored it.
TEST_F(ReplicaSharedFile, AMutationParksARowAgainAfterAnotherProcessesRebaseRestoredIt) {
  auto app = open();
  auto sync = open();
  ASSERT_TRUE(sync && app);
  pull(*sync, {testing::put_change("user_setting", "theme", setting("theme", "server-1"), 1)}, 1);
  set(*app, "theme", "first");
  // The sync process confirms mutation 1: the parked row is restored and dropped.
  pull(*sync, {testing::put_change("user_setting", "theme", setting("theme", "first"), 2)}, 2, 1);
  EXPECT_EQ(shadow_rows(*sync), 0u);
  // The app types again: the server's version 2 must be parked for the rebase.
  set(*app, "theme", "second");
  EXPECT_EQ(shadow_rows(*app), 1u);
  pull(*sync, {testing::put_change("user_setting", "other", setting("other", "x"), 3)}, 3);
  EXPECT_EQ(value(*sync, "theme"), "second");
  pull(*sync, {testing::put_change("user_setting", "theme", setting("theme", "second"), 4)}, 4, 2);
  EXPECT_EQ(shadow_rows(*sync), 0u);
  EXPECT_EQ(value(*app, "theme"), "second");
}

// A process whose parked set is stale must not drop a server change for a row another
// process's rebase already un-parked (the change would be lost for good: the cursor moves
// past it).
TEST_F(ReplicaSharedFile, AServerChangeForARowAnotherProcessUnparkedIsApplied) {
  auto app = open();
  ASSERT_TRUE(app);
  pull(*app, {testing::put_change("user_setting", "theme", setting("theme", "server-1"), 1)}, 1);
  set(*app, "theme", "mine");  // the app's own set says "theme" is parked
  auto sync = open();
  ASSERT_TRUE(sync);
  pull(*sync, {testing::put_change("user_setting", "theme", setting("theme", "mine"), 2)}, 2, 1);
  // The app (never told) applies the next page itself.
  pull(*app, {testing::put_change("user_setting", "theme", setting("theme", "web"), 3)}, 3);
  EXPECT_EQ(value(*app, "theme"), "web");
  EXPECT_EQ(value(*sync, "theme"), "web");
}

TEST_F(ReplicaSharedFile, RefreshTellsSubscribersWhatAnotherProcessChanged) {
  auto agent = open();
  auto app = open();
  auto reader = open(true);
  ASSERT_TRUE(agent && app && reader);
  std::vector<ChangeSet> seen;
  agent->subscribe([&](const ChangeSet& changes) { seen.push_back(changes); });

  auto nothing = agent->refresh();
  ASSERT_TRUE(nothing.ok());
  EXPECT_TRUE(nothing->empty());
  EXPECT_TRUE(seen.empty());

  set(*app, "theme", "dark");
  set(*app, "lang", "nl");
  set(*agent, "own", "x");  // its own commits were told at commit time
  seen.clear();
  auto changed = agent->refresh();
  ASSERT_TRUE(changed.ok()) << changed.status().to_string();
  EXPECT_TRUE(changed->outbox_changed);
  EXPECT_FALSE(changed->everything_changed);
  EXPECT_EQ(changed->keys["user_setting"], (std::set<std::string>{"lang", "theme"}));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].keys, changed->keys);
  EXPECT_TRUE(agent->refresh()->empty());  // told once

  auto read = reader->refresh();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->keys["user_setting"], (std::set<std::string>{"lang", "own", "theme"}));
}

TEST_F(ReplicaSharedFile, AConnectionAwayLongerThanTheJournalLearnsEverythingChanged) {
  auto agent = open();
  auto app = open();
  ASSERT_TRUE(agent && app);
  for (int64_t i = 0; i < kJournalKeep + kJournalPruneEvery + 5; ++i)
    set(*app, "s" + std::to_string(i), "v");
  auto changed = agent->refresh();
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(changed->everything_changed);
  auto rows = app->sql("SELECT count(*) FROM _journal");
  ASSERT_TRUE(rows.ok());
  EXPECT_GE(std::get<int64_t>(rows->rows[0][0]), kJournalKeep);
  EXPECT_LT(std::get<int64_t>(rows->rows[0][0]), kJournalKeep + kJournalPruneEvery);
}

// Decision 058: without AUTOINCREMENT a new journal row is max(seq) + 1, so a journal
// emptied from outside (a tool, a test) numbers its next rows from 1, below what the other
// connections saw. They must not read that as "nothing new": they start over.
TEST_F(ReplicaSharedFile, AJournalEmptiedFromOutsideMakesTheOthersStartOver) {
  auto agent = open();
  auto app = open();
  ASSERT_TRUE(agent && app);
  for (int i = 0; i < 5; ++i) set(*app, "s" + std::to_string(i), "v");
  auto seen = agent->refresh();
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->keys["user_setting"].size(), 5u);
  {
    SQLite::Database db(dir_.file("device.db"), SQLite::OPEN_READWRITE);
    db.exec("DELETE FROM _journal");
  }
  set(*app, "after", "v");  // journaled at seq 1, below the agent's 5
  auto changed = agent->refresh();
  ASSERT_TRUE(changed.ok()) << changed.status().to_string();
  EXPECT_TRUE(changed->everything_changed);
  // And from then on key by key again.
  set(*app, "later", "v");
  auto next = agent->refresh();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->everything_changed);
  EXPECT_EQ(next->keys["user_setting"].count("later"), 1u);
}

// Decision 046: the stamp read from shared memory moves with every commit of any
// connection (what the agent's commit watch compares) and with nothing else, and can be
// read from another thread than the owner's.
TEST_F(ReplicaSharedFile, TheCommitStampMovesWithEveryCommitOfAnyConnection) {
  auto app = open();
  auto extension = open();
  auto reader_replica = open(/*read_only=*/true);
  ASSERT_TRUE(app && extension && reader_replica);
  Replica::CommitStampReader stamp = app->commit_stamp_reader();
  ASSERT_TRUE(stamp) << "a WAL replica has a shared WAL index";
  ASSERT_TRUE(reader_replica->commit_stamp_reader()) << "a read-only replica too";

  Replica::CommitStamp before = stamp();
  EXPECT_EQ(stamp(), before);
  EXPECT_EQ(value(*app, "theme"), "<absent>");  // reads move nothing
  ASSERT_TRUE(app->refresh().ok());
  EXPECT_EQ(stamp(), before);

  set(*extension, "theme", "dark");  // another connection's commit
  const Replica::CommitStamp after_other = stamp();
  EXPECT_NE(after_other, before);
  EXPECT_EQ(reader_replica->commit_stamp_reader()(), after_other);

  set(*app, "ringtone", "bell");  // its own
  EXPECT_NE(stamp(), after_other);

  // From another thread while the owner's connection sits idle.
  const Replica::CommitStamp mine = stamp();
  set(*extension, "theme", "light");
  Replica::CommitStamp seen_elsewhere;
  std::thread([&] { seen_elsewhere = stamp(); }).join();
  EXPECT_NE(seen_elsewhere, mine);
  EXPECT_EQ(seen_elsewhere, stamp());
}

// Decision 051: after this connection's own commit refresh() answers "nothing" without
// asking SQLite while no other connection committed since — and every commit of another
// connection after it, or between the two, is still reported key by key.
TEST_F(ReplicaSharedFile, RefreshAfterOwnCommitsStillReportsEveryOtherCommit) {
  auto agent = open();
  auto app = open();
  ASSERT_TRUE(agent && app);
  ASSERT_TRUE(agent->refresh().ok());  // what the agent does first: nothing to read

  set(*agent, "own", "1");
  auto nothing = agent->refresh();
  ASSERT_TRUE(nothing.ok()) << nothing.status().to_string();
  EXPECT_TRUE(nothing->empty());

  set(*app, "theme", "dark");  // right after the agent's own commit
  auto changed = agent->refresh();
  ASSERT_TRUE(changed.ok()) << changed.status().to_string();
  EXPECT_TRUE(changed->outbox_changed);
  EXPECT_FALSE(changed->everything_changed);
  EXPECT_EQ(changed->keys["user_setting"], (std::set<std::string>{"theme"}));

  // Another connection commits between two of the agent's own: the second one began with
  // a commit the agent had not read, so refresh() reads it.
  set(*agent, "own", "2");
  set(*app, "lang", "nl");
  set(*agent, "own", "3");
  changed = agent->refresh();
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->keys["user_setting"], (std::set<std::string>{"lang"}));
  EXPECT_TRUE(agent->refresh()->empty());  // told once

  // Many own commits, each followed by a refresh that reads nothing, outlive the journal's
  // window: another connection's next commit is still reported key by key, not as
  // "everything changed" (the own rows were accounted for without reading them).
  for (int64_t i = 0; i < kJournalKeep + kJournalPruneEvery + 5; ++i) {
    set(*agent, "own", std::to_string(i));
    auto quiet = agent->refresh();
    ASSERT_TRUE(quiet.ok());
    ASSERT_TRUE(quiet->empty()) << i;
  }
  set(*app, "theme", "light");
  changed = agent->refresh();
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(changed->everything_changed);
  EXPECT_EQ(changed->keys["user_setting"], (std::set<std::string>{"theme"}));
  EXPECT_EQ(value(*agent, "theme"), "light");
}

// A transaction of the agent's that rolls back leaves nothing that refresh() would take
// for its own: another connection's next commit is reported.
TEST_F(ReplicaSharedFile, ARolledBackOwnTransactionHidesNoOtherCommit) {
  auto agent = open();
  auto app = open();
  ASSERT_TRUE(agent && app);
  ASSERT_TRUE(agent->refresh().ok());
  set(*agent, "own", "1");
  ASSERT_TRUE(agent->refresh()->empty());
  m::SetUserSetting bad;  // no name: the mutator refuses it and the transaction rolls back
  EXPECT_FALSE(agent->mutate("set_user_setting", bad, 1).ok());
  set(*app, "theme", "dark");
  auto changed = agent->refresh();
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->keys["user_setting"], (std::set<std::string>{"theme"}));
}

TEST(ReplicaJournal, EntriesRoundTripAndMalformedOnesAreRefused) {
  ChangeSet changes;
  changes.add("draft", "draft-1");
  changes.add("note", std::string("a\0b", 3));
  changes.add("user_setting", std::string(300, 'k'));
  changes.outbox_changed = true;
  changes.cursors_changed = true;
  std::string entry = encode_journal_entry(changes);
  ChangeSet decoded;
  ASSERT_TRUE(decode_journal_entry(entry, decoded));
  EXPECT_EQ(decoded.keys, changes.keys);
  EXPECT_TRUE(decoded.outbox_changed && decoded.cursors_changed);
  EXPECT_FALSE(decoded.rejections_changed || decoded.everything_changed);
  ChangeSet untouched;
  EXPECT_FALSE(decode_journal_entry("", untouched));
  EXPECT_FALSE(decode_journal_entry(entry.substr(0, entry.size() - 1), untouched));
  EXPECT_FALSE(decode_journal_entry(entry + "\xff", untouched));
  EXPECT_TRUE(untouched.empty());
  ChangeSet big;
  for (size_t i = 0; i <= kJournalMaxKeys; ++i) big.add("contact", std::to_string(i));
  ChangeSet decoded_big;
  ASSERT_TRUE(decode_journal_entry(encode_journal_entry(big), decoded_big));
  EXPECT_TRUE(decoded_big.everything_changed);
  EXPECT_TRUE(decoded_big.keys.empty());
}

}  // namespace
}  // namespace outpost

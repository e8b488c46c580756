// A replica file written by an older schema is migrated additively when opened with a
// newer one; a file written by a newer schema is refused and left untouched. A file whose
// `_journal` an older build made with AUTOINCREMENT is rebuilt in place (decision 058), and
// so is its `_outbox`, its counter carried (decision 065).
#include <gtest/gtest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include "engine/replica.h"
#include "engine/replica_journal.h"
#include "outpost_test/person_v1.pb.h"
#include "outpost_test/person_v2.pb.h"
#include "test_support.h"

namespace outpost {
namespace {

Schema schema_v1() {
  return std::move(Schema::from_file(outpost_test::v1::Person::descriptor()->file())).value();
}
Schema schema_v2() {
  return std::move(Schema::from_file(outpost_test::v2::Person::descriptor()->file())).value();
}

template <typename PutPerson>
MutatorRegistry person_mutators() {
  MutatorRegistry registry;
  Status added = registry.add<PutPerson>(
      "put_person",
      [](MutationContext& ctx, const PutPerson& args) { return ctx.put(args.person()); });
  EXPECT_TRUE(added.ok());
  return registry;
}

TEST(ReplicaMigration, AddedFieldsMigrateWithoutLosingRows) {
  testing::TempDir dir;
  const std::string path = dir.file("device.db");
  {
    Schema v1 = schema_v1();
    MutatorRegistry mutators = person_mutators<outpost_test::v1::PutPerson>();
    auto replica = Replica::open(path, v1, &mutators, {.client_id = "device-1"});
    ASSERT_TRUE(replica.ok()) << replica.status().to_string();
    for (int i = 0; i < 20; ++i) {
      outpost_test::v1::PutPerson args;
      args.mutable_person()->set_id("p" + std::to_string(i));
      args.mutable_person()->set_name("Person " + std::to_string(i));
      ASSERT_TRUE((*replica)->mutate("put_person", args, i).ok());
    }
  }
  Schema v2 = schema_v2();
  MutatorRegistry mutators = person_mutators<outpost_test::v2::PutPerson>();
  auto replica = Replica::open(path, v2, &mutators);
  ASSERT_TRUE(replica.ok()) << replica.status().to_string();
  EXPECT_EQ((*replica)->count("person").value(), 20u);
  EXPECT_EQ((*replica)->pending()->size(), 20u);  // the outbox survives the migration
  auto old_row = (*replica)->get<outpost_test::v2::Person>("p3");
  ASSERT_TRUE(old_row.ok() && old_row->has_value());
  EXPECT_EQ((*old_row)->name(), "Person 3");
  EXPECT_EQ((*old_row)->age(), 0);
  // The new columns exist (with the proto default), are indexed and searchable.
  auto ages = (*replica)->sql("SELECT count(*) FROM c_person WHERE age = 0");
  ASSERT_TRUE(ages.ok()) << ages.status().to_string();
  EXPECT_EQ(std::get<int64_t>(ages->rows[0][0]), 20);
  auto index = (*replica)->sql("SELECT name FROM sqlite_master WHERE name = 'i_person_age'");
  EXPECT_EQ(index->rows.size(), 1u);
  outpost_test::v2::PutPerson args;
  args.mutable_person()->set_id("p3");
  args.mutable_person()->set_name("Person 3");
  args.mutable_person()->set_email("three@example.org");
  args.mutable_person()->set_age(33);
  ASSERT_TRUE((*replica)->mutate("put_person", args, 100).ok());
  auto found = (*replica)->search("person", "example.org");
  ASSERT_TRUE(found.ok()) << found.status().to_string();
  ASSERT_EQ(found->size(), 1u);
  // Old searchable fields are still indexed after the FTS table was rebuilt.
  EXPECT_EQ((*replica)->search("person", "Person 1")->size(), 11u);  // 1, 10..19
  EXPECT_TRUE((*replica)->check_integrity().ok());
}

TEST(ReplicaMigration, AFileFromANewerSchemaIsRefusedAndUntouched) {
  testing::TempDir dir;
  const std::string path = dir.file("device.db");
  {
    Schema v2 = schema_v2();
    auto replica = Replica::open(path, v2, nullptr, {.client_id = "device-1"});
    ASSERT_TRUE(replica.ok());
  }
  std::string before = testing::read_file(path);
  std::string wal_before = testing::read_file(path + "-wal");
  Schema v1 = schema_v1();
  auto refused = Replica::open(path, v1, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kSchemaTooNew);
  EXPECT_NE(refused.status().message().find("schema version 2"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(testing::read_file(path), before);
  EXPECT_EQ(testing::read_file(path + "-wal"), wal_before);
}

// Decision 058. The test builds the file an older build wrote: the same layout, with
// `_journal` made as it was (AUTOINCREMENT, its counter in `sqlite_sequence` at `counter`).
class ReplicaJournalMigration : public ::testing::Test {
 protected:
  std::unique_ptr<Replica> open() {
    auto opened = Replica::open(path_, schema_, &mutators_, {.client_id = "device-1"});
    EXPECT_TRUE(opened.ok()) << opened.status().to_string();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  static void put(Replica& replica, const std::string& id) {
    outpost_test::v1::PutPerson args;
    args.mutable_person()->set_id(id);
    args.mutable_person()->set_name("Person " + id);
    ASSERT_TRUE(replica.mutate("put_person", args, 1).ok());
  }

  void make_old_format_file(int64_t commits, int64_t counter) {
    {
      auto replica = open();
      ASSERT_TRUE(replica);
      for (int64_t i = 0; i < commits; ++i) put(*replica, "p" + std::to_string(i));
    }
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    db.exec(
        "BEGIN;"
        "ALTER TABLE _journal RENAME TO _journal_new;"
        "CREATE TABLE _journal (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " origin TEXT NOT NULL, changes BLOB NOT NULL);"
        "INSERT INTO _journal SELECT * FROM _journal_new;"
        "DROP TABLE _journal_new;"
        "UPDATE sqlite_sequence SET seq = " +
        std::to_string(counter) + " WHERE name = '_journal'; COMMIT;");
    ASSERT_EQ(db.execAndGet("SELECT seq FROM sqlite_sequence WHERE name = '_journal'").getInt64(),
              counter);
  }

  // Decision 065: remakes `_outbox` as a build of format 1 made it (AUTOINCREMENT, its
  // counter at `counter`), with the rows of ids `kept` only (the others confirmed).
  void make_format_1_outbox(const std::string& kept, int64_t counter) {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    db.exec(
        "BEGIN;"
        "ALTER TABLE _outbox RENAME TO _outbox_new;"
        "CREATE TABLE _outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " name TEXT NOT NULL, args BLOB NOT NULL, created_ms INTEGER NOT NULL);"
        "INSERT INTO _outbox SELECT * FROM _outbox_new WHERE id IN (" +
        kept +
        ");"
        "DROP TABLE _outbox_new;"
        "DELETE FROM sqlite_sequence WHERE name = '_outbox';"
        "INSERT INTO sqlite_sequence (name, seq) VALUES ('_outbox', " +
        std::to_string(counter) +
        ");"
        "DELETE FROM _meta WHERE name = 'mutation_ids_issued';"
        "UPDATE _meta SET value = '1' WHERE name = 'format_version'; COMMIT;");
    ASSERT_EQ(db.execAndGet("SELECT seq FROM sqlite_sequence WHERE name = '_outbox'").getInt64(),
              counter);
  }

  bool outbox_autoincrements() {
    SQLite::Database db(path_, SQLite::OPEN_READONLY);
    return db.execAndGet("SELECT sql FROM sqlite_master WHERE name = '_outbox'")
               .getString()
               .find("AUTOINCREMENT") != std::string::npos;
  }

  std::string outbox_ids() {
    SQLite::Database db(path_, SQLite::OPEN_READONLY);
    return db.execAndGet("SELECT coalesce(group_concat(id), '') FROM _outbox").getString();
  }

  int64_t query(const std::string& sql) {
    SQLite::Database db(path_, SQLite::OPEN_READONLY);
    return db.execAndGet(sql).getInt64();
  }

  bool journal_autoincrements() {
    SQLite::Database db(path_, SQLite::OPEN_READONLY);
    return db.execAndGet("SELECT sql FROM sqlite_master WHERE name = '_journal'")
               .getString()
               .find("AUTOINCREMENT") != std::string::npos;
  }

  testing::TempDir dir_;
  std::string path_ = dir_.file("device.db");
  Schema schema_ = schema_v1();
  MutatorRegistry mutators_ = person_mutators<outpost_test::v1::PutPerson>();
};

TEST_F(ReplicaJournalMigration, AnOldJournalIsRebuiltInPlaceWithItsSeqsAndNothingElseLost) {
  make_old_format_file(5, 5);
  ASSERT_TRUE(journal_autoincrements());
  auto agent = open();  // migrates
  ASSERT_TRUE(agent);
  EXPECT_FALSE(journal_autoincrements());
  EXPECT_EQ(query("SELECT count(*) FROM sqlite_sequence WHERE name = '_journal'"), 0);
  SQLite::Database db(path_, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("SELECT group_concat(seq) FROM _journal").getString(), "1,2,3,4,5");
  EXPECT_EQ(agent->pending()->size(), 5u);  // the outbox and its ids are untouched
  EXPECT_EQ(query("SELECT max(id) FROM _outbox"), 5);
  // Another connection on the migrated file learns of the next commit, at seq 6.
  auto app = open();
  ASSERT_TRUE(app);
  put(*agent, "p9");
  auto changed = app->refresh();
  ASSERT_TRUE(changed.ok()) << changed.status().to_string();
  EXPECT_FALSE(changed->everything_changed);
  EXPECT_EQ(changed->keys["person"].count("p9"), 1u);
  EXPECT_EQ(query("SELECT max(seq) FROM _journal"), 6);
  EXPECT_EQ(query("SELECT max(id) FROM _outbox"), 6);
  EXPECT_TRUE(agent->check_integrity().ok());
}

// A counter past the newest row (the newest rows gone): a row at the counter carries it,
// so no seq an older connection may have seen is issued again, and a connection that
// was told of the lost rows' seqs hears "everything changed" rather than nothing.
TEST_F(ReplicaJournalMigration, ACounterPastTheNewestRowIsKeptByARowAtTheCounter) {
  make_old_format_file(3, 40);
  auto agent = open();
  ASSERT_TRUE(agent);
  EXPECT_FALSE(journal_autoincrements());
  EXPECT_EQ(query("SELECT max(seq) FROM _journal"), 40);
  EXPECT_EQ(query("SELECT count(*) FROM _journal WHERE origin = ''"), 1);
  put(*agent, "p9");
  EXPECT_EQ(query("SELECT max(seq) FROM _journal"), 41);
}

// The guarantee AUTOINCREMENT gave, kept by the prune: a seq is never reused, because the
// newest row is never deleted; many commits past several prunes number on from the newest.
TEST_F(ReplicaJournalMigration, SeqsAreNeverReusedAcrossPrunes) {
  auto agent = open();
  ASSERT_TRUE(agent);
  const int64_t commits = kJournalKeep + 3 * kJournalPruneEvery + 1;
  for (int64_t i = 0; i < commits; ++i) put(*agent, "p" + std::to_string(i % 7));
  EXPECT_EQ(query("SELECT max(seq) FROM _journal"), commits);
  EXPECT_LT(query("SELECT count(*) FROM _journal"), kJournalKeep + kJournalPruneEvery);
  // No counter at all in a file this build made: neither `_journal` nor `_outbox` (065).
  EXPECT_EQ(query("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'"), 0);
}

}  // namespace
}  // namespace outpost

namespace outpost {
namespace {

// Decision 065: `_outbox` without AUTOINCREMENT. A file of format 1 (before 058: both
// `_journal` and `_outbox` with their counters) is rebuilt in place at open: ids and rows
// kept, the counter carried into `_meta.mutation_ids_issued`, so no id it issued (ids 6..9
// here, confirmed and gone) is issued again; the file becomes format 2.
TEST_F(ReplicaJournalMigration, AnOldOutboxIsRebuiltInPlaceWithItsIdsAndItsCounterCarried) {
  make_old_format_file(5, 5);
  make_format_1_outbox("4, 5", 9);
  ASSERT_TRUE(outbox_autoincrements());
  auto agent = open();  // migrates
  ASSERT_TRUE(agent);
  EXPECT_FALSE(outbox_autoincrements());
  EXPECT_FALSE(journal_autoincrements());
  EXPECT_EQ(query("SELECT count(*) FROM sqlite_sequence"), 0);
  EXPECT_EQ(query("SELECT CAST(value AS INTEGER) FROM _meta WHERE name = 'format_version'"), 2);
  EXPECT_EQ(outbox_ids(), "4,5");
  auto pending = agent->pending();
  ASSERT_TRUE(pending.ok() && pending->size() == 2u);
  EXPECT_EQ((*pending)[0].name, "put_person");
  put(*agent, "p9");
  EXPECT_EQ(outbox_ids(), "4,5,10");
  EXPECT_TRUE(agent->check_integrity().ok());
}

// A file of format 1 from 058..064 (`_journal` already without a counter) whose outbox the
// server had emptied: the counter is all that remembers its ids.
TEST_F(ReplicaJournalMigration, AnOldFileWithAnEmptiedOutboxNumbersOnFromItsCounter) {
  {
    auto replica = open();
    ASSERT_TRUE(replica);
    for (int i = 0; i < 3; ++i) put(*replica, "p" + std::to_string(i));
  }
  make_format_1_outbox("0", 3);
  ASSERT_EQ(outbox_ids(), "");
  auto agent = open();
  ASSERT_TRUE(agent);
  EXPECT_FALSE(outbox_autoincrements());
  put(*agent, "p9");
  EXPECT_EQ(outbox_ids(), "4");
  // Reopening a migrated file changes nothing more.
  agent.reset();
  agent = open();
  ASSERT_TRUE(agent);
  put(*agent, "p8");
  EXPECT_EQ(outbox_ids(), "4,5");
}

// What an older build (format 1) does with a file this build wrote (format 2), seen from
// this build: a file of a newer format is refused and left as it was. An older build would
// number past an emptied outbox from 1, so it must not open the file at all.
TEST_F(ReplicaJournalMigration, AFileOfANewerFormatIsRefusedAndUntouched) {
  {
    auto replica = open();
    ASSERT_TRUE(replica);
    put(*replica, "p1");
  }
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    db.exec("UPDATE _meta SET value = '3' WHERE name = 'format_version'");
  }
  const std::string before = testing::read_file(path_);
  auto refused = Replica::open(path_, schema_, &mutators_, {.client_id = "device-1"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kSchemaTooNew);
  EXPECT_NE(refused.status().message().find("replica format 3"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(testing::read_file(path_), before);
}

}  // namespace
}  // namespace outpost

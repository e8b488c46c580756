// The mutation prints every store keeps (engine/mutation_print.h, decision 042): the newest
// kMutationPrintWindow per client, written with the outcome, and the migration that adds
// them to a store of format 1. Run against SQLite and a real PostgreSQL.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>

#include "adapters/postgres_server_store.h"
#include "adapters/sqlite_server_store.h"
#include "engine/mutation_print.h"
#include "tests/support/pg_test.h"
#include "tests/support/result_or_throw.h"

namespace outpost {
namespace {

namespace fs = std::filesystem;

using testing::check;
using testing::take;

class StorePrintsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "outpost-prints-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    if (GetParam() == "postgres") database_ = std::make_unique<pg_test::TestDatabase>();
  }
  void TearDown() override {
    database_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::unique_ptr<ServerStore> open_store() {
    if (GetParam() == "sqlite") return take(SqliteServerStore::open(dir_ + "/server.db"));
    PostgresStoreOptions options;
    options.url = database_->url();
    return take(PostgresServerStore::open(options));
  }

  // Turns the store back into format 1: no prints table, format_version 1.
  void downgrade_to_format_1() {
    if (GetParam() == "sqlite") {
      SQLite::Database db(dir_ + "/server.db", SQLite::OPEN_READWRITE);
      db.exec("DROP TABLE prints; UPDATE meta SET value = 1 WHERE key = 'format_version'");
      return;
    }
    pg_test::query(database_->url(), "DROP TABLE outpost_prints");
    // Format 3's log layout (decision 054) back to format 1's.
    pg_test::query(database_->url(),
                   "ALTER TABLE outpost_changes DROP COLUMN prev_seq; DROP INDEX "
                   "outpost_changes_tombstones; CREATE INDEX outpost_changes_by_key ON "
                   "outpost_changes (scope_id, collection, key, seq)");
    pg_test::query(database_->url(),
                   "UPDATE outpost_meta SET value = 1 WHERE key = 'format_version'");
  }

  static uint64_t print_for(uint64_t id) { return 0x9e3779b97f4a7c15ULL * id; }

  std::string dir_;
  std::unique_ptr<pg_test::TestDatabase> database_;
};

INSTANTIATE_TEST_SUITE_P(Stores, StorePrintsTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST_P(StorePrintsTest, TheNewestWindowOfPrintsIsKeptPerClientRejectionsIncluded) {
  auto store = open_store();
  const uint64_t total = kMutationPrintWindow + 300;
  {
    auto tx = take(store->begin_write());
    for (uint64_t id = 1; id <= total; ++id) {
      const bool applied = id % 3 != 0;
      check(tx->record_outcome("dev-1", RecordedOutcome{id, applied, applied ? "" : "rejected",
                                                        applied ? "" : "no", print_for(id)}));
    }
    check(tx->record_outcome("dev-2", RecordedOutcome{1, true, "", "", 42}));
    // Without a print (a caller that has none): the id counts, no print is kept.
    check(tx->record_outcome("dev-3", RecordedOutcome{1, true, "", ""}));
    take(tx->commit());
  }
  auto kept = take(store->mutation_prints("dev-1", 0, total));
  ASSERT_EQ(kept.size(), kMutationPrintWindow);
  EXPECT_EQ(kept.front().mutation_id, total - kMutationPrintWindow + 1);
  EXPECT_EQ(kept.back().mutation_id, total);
  for (const StoredPrint& print : kept) EXPECT_EQ(print.print, print_for(print.mutation_id));
  auto some = take(store->mutation_prints("dev-1", total - 10, total - 5));
  ASSERT_EQ(some.size(), 5u);
  EXPECT_EQ(some.front().mutation_id, total - 9);
  auto other = take(store->mutation_prints("dev-2", 0, 10));
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].print, 42u);
  EXPECT_TRUE(take(store->mutation_prints("dev-3", 0, 10)).empty());
  EXPECT_EQ(take(store->last_mutation_id("dev-3")), 1u);
}

TEST_P(StorePrintsTest, APrintRolledBackWithItsTransactionIsNotKept) {
  auto store = open_store();
  {
    auto tx = take(store->begin_write());
    check(tx->record_outcome("dev-1", RecordedOutcome{1, true, "", "", 7}));
  }
  EXPECT_TRUE(take(store->mutation_prints("dev-1", 0, 10)).empty());
  EXPECT_EQ(take(store->last_mutation_id("dev-1")), 0u);
}

TEST_P(StorePrintsTest, AStoreOfFormatOneGainsPrintsWhenOpened) {
  {
    auto store = open_store();
    auto tx = take(store->begin_write());
    check(tx->record_outcome("dev-1", RecordedOutcome{1, true, "", "", 11}));
    take(tx->commit());
  }
  downgrade_to_format_1();
  auto store = open_store();
  EXPECT_EQ(take(store->last_mutation_id("dev-1")), 1u);
  EXPECT_TRUE(take(store->mutation_prints("dev-1", 0, 10)).empty());  // dropped with format 1
  {
    auto tx = take(store->begin_write());
    check(tx->record_outcome("dev-1", RecordedOutcome{2, true, "", "", 22}));
    take(tx->commit());
  }
  auto kept = take(store->mutation_prints("dev-1", 0, 10));
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].mutation_id, 2u);
  EXPECT_EQ(kept[0].print, 22u);
}

}  // namespace
}  // namespace outpost

// The SQLite store's own behaviour: one writer per thread, and its file (garbage, foreign
// or newer databases left untouched, unwritable directories, the WAL checkpoint).
#include "tests/adapters/server_store_fixture.h"

namespace outpost::store_test {
namespace {

TEST_F(SqliteServerStoreTest, ASecondWriteFromTheSameThreadFailsInsteadOfDeadlocking) {
  auto store = open_store();
  auto tx = take(store->begin_write());
  EXPECT_EQ(store->begin_write().status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store->compact("org/t1", 1).code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store->checkpoint().code(), ErrorCode::kFailedPrecondition);
  take(tx->put("org/t1", "c", "k", 0, "x"));
  take(tx->commit());
  EXPECT_TRUE(store->begin_write().ok());  // free again after commit
  check(store->compact("org/t1", 1));
}

TEST_F(SqliteServerStoreTest, GarbageFileIsCorruptAndLeftUntouched) {
  std::string garbage;
  std::mt19937 rng(1);
  for (int i = 0; i < 8192; ++i) garbage.push_back(static_cast<char>(rng()));
  for (const std::string& bytes : {garbage, std::string("just some text, not a database\n")}) {
    write_bytes(path_, bytes);
    auto result = SqliteServerStore::open(path_);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), ErrorCode::kCorrupt) << result.status().to_string();
    EXPECT_NE(result.status().message().find(path_), std::string::npos);
    EXPECT_EQ(read_bytes(path_), bytes);
    EXPECT_FALSE(fs::exists(path_ + "-wal"));
    EXPECT_FALSE(fs::exists(path_ + "-journal"));
  }
}

TEST_F(SqliteServerStoreTest, ForeignSqliteDatabaseIsRefusedAndLeftUntouched) {
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE something_else (x INTEGER)");
  }
  const std::string before = read_bytes(path_);
  auto result = SqliteServerStore::open(path_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kCorrupt) << result.status().to_string();
  EXPECT_NE(result.status().message().find("not an outpost server store"), std::string::npos);
  EXPECT_EQ(read_bytes(path_), before);
}

TEST_F(SqliteServerStoreTest, NewerStoreFormatIsRefusedAndLeftUntouched) {
  {
    auto store = open_store();
    put_one(*store, "org/t1", "c", "a", 0, "x");
  }
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    db.exec("UPDATE meta SET value = 99 WHERE key = 'format_version'");
  }
  const std::string before = read_bytes(path_);
  auto result = SqliteServerStore::open(path_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kSchemaTooNew) << result.status().to_string();
  EXPECT_EQ(read_bytes(path_), before);
}

TEST_F(SqliteServerStoreTest, EmptyFileBecomesAStore) {
  write_bytes(path_, "");
  auto store = open_store();
  EXPECT_EQ(put_one(*store, "org/t1", "c", "a", 0, "x"), 1u);
}

TEST_F(SqliteServerStoreTest, ReadOnlyDirectoryIsAClearIoError) {
  const std::string ro = dir_ + "/ro";
  ASSERT_EQ(mkdir(ro.c_str(), 0555), 0);
  const std::string path = ro + "/server.db";
  // Root ignores directory permissions: the attempt runs as an unprivileged user in a child.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (geteuid() == 0 && setuid(65534) != 0) _exit(10);
    auto result = SqliteServerStore::open(path);
    if (result.ok()) _exit(11);
    if (result.status().code() != ErrorCode::kIo) _exit(12);
    if (result.status().message().find(path) == std::string::npos) _exit(13);
    if (result.status().message().find("writable") == std::string::npos) _exit(14);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(SqliteServerStoreTest, MissingDirectoryIsAClearIoError) {
  auto result = SqliteServerStore::open(dir_ + "/no/such/dir/server.db");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kIo) << result.status().to_string();
}

TEST_F(SqliteServerStoreTest, CheckpointEmptiesTheWal) {
  auto store = open_store();
  for (int i = 0; i < 20; ++i) put_one(*store, "org/t1", "c", std::to_string(i), 0, "x");
  EXPECT_GT(fs::file_size(path_ + "-wal"), 0u);
  check(store->checkpoint());
  EXPECT_EQ(fs::file_size(path_ + "-wal"), 0u);
  EXPECT_EQ(take(store->scope_info("org/t1")).head_seq, 20u);
}

}  // namespace
}  // namespace outpost::store_test

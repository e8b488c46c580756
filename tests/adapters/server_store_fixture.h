// What the server store tests share (server_store_test.cpp: the contract of every store;
// server_store_log_test.cpp: its log, snapshots and compaction; sqlite_server_store_file_test.cpp:
// the SQLite store's file): a temporary directory, the stores opened on it ("sqlite", or
// "postgres" on its own database of the test cluster), and small readers of their state.
// Named (not anonymous) so that every file's tests share one fixture type.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "adapters/postgres_server_store.h"
#include "adapters/sqlite_server_store.h"
#include "tests/support/pg_test.h"
#include "tests/support/result_or_throw.h"

namespace outpost::store_test {

namespace fs = std::filesystem;

using testing::check;
using testing::take;

using Key = std::pair<std::string, std::string>;  // (collection, key)
struct Value {
  uint64_t version = 0;
  std::string body;
  bool operator==(const Value&) const = default;
};
using State = std::map<Key, Value>;

inline uint64_t entry_cost(const std::string& collection, const std::string& key,
                           const std::string& body) {
  return collection.size() + key.size() + body.size();
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

static_assert(SqliteServerStore::kMaxRejectionsPerClient ==
              PostgresServerStore::kMaxRejectionsPerClient);

class StoreTestBase : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "outpost-store-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/server.db";
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  static uint64_t put_one(ServerStore& store, const std::string& scope,
                          const std::string& collection, const std::string& key, int priority,
                          const std::string& body) {
    auto tx = take(store.begin_write());
    const uint64_t seq = take(tx->put(scope, collection, key, priority, body));
    take(tx->commit());
    return seq;
  }

  static uint64_t remove_one(ServerStore& store, const std::string& scope,
                             const std::string& collection, const std::string& key) {
    auto tx = take(store.begin_write());
    const uint64_t seq = take(tx->remove(scope, collection, key, 0));
    take(tx->commit());
    return seq;
  }

  static std::vector<LogEntry> whole_log(ServerStore& store, const std::string& scope) {
    LogPage page = take(store.read_log(scope, 0, 1000000, UINT64_MAX, -1));
    EXPECT_FALSE(page.has_more);
    return page.entries;
  }

  // The scope's records as read_snapshot sees them, keyed for comparison.
  static State snapshot_state(ServerStore& store, const std::string& scope) {
    State state;
    SnapshotPosition after;
    for (;;) {
      SnapshotPage page = take(store.read_snapshot(scope, after, 97, 4096));
      for (const SnapshotRecord& r : page.records) {
        state[{r.record.collection, r.record.key}] = Value{r.record.version, r.record.body};
      }
      after = page.next;
      if (!page.has_more) return state;
    }
  }

  std::string dir_;
  std::string path_;
};

class SqliteServerStoreTest : public StoreTestBase {
 protected:
  std::unique_ptr<SqliteServerStore> open_store() { return take(SqliteServerStore::open(path_)); }
};

// The contract every store keeps: parameter "sqlite" or "postgres" (its own database).
class ServerStoreTest : public StoreTestBase, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    StoreTestBase::SetUp();
    if (GetParam() == "postgres") database_ = std::make_unique<pg_test::TestDatabase>();
  }
  void TearDown() override {
    database_.reset();
    StoreTestBase::TearDown();
  }

  std::unique_ptr<ServerStore> open_store() {
    if (GetParam() == "sqlite") return take(SqliteServerStore::open(path_));
    PostgresStoreOptions options;
    options.url = database_->url();
    return take(PostgresServerStore::open(options));
  }

  std::unique_ptr<pg_test::TestDatabase> database_;
};

}  // namespace outpost::store_test

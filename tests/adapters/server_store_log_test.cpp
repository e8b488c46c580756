// The server store contract, continued: log pages, snapshots, manifests and scans,
// compaction, readers converging across it, reopening, concurrent writers. Both stores
// (instantiated in server_store_test.cpp).
#include "tests/adapters/server_store_fixture.h"

namespace outpost::store_test {
namespace {

// A mixed log: puts and deletes over a few keys with varying body sizes and priorities.
std::vector<LogEntry> write_mixed_log(ServerStore& store, const std::string& scope, int count) {
  std::vector<LogEntry> expected;
  std::mt19937 rng(42);
  std::set<std::string> live;
  for (int i = 0; i < count;) {
    auto tx = take(store.begin_write());
    for (int j = 0; j < 5 && i < count; ++j, ++i) {
      const std::string key = "k" + std::to_string(rng() % 20);
      const int priority = static_cast<int>(rng() % 4);
      LogEntry e;
      e.collection = (rng() % 2) ? "journal" : "voicemail";
      e.key = key;
      e.priority = priority;
      const std::string id = e.collection + "/" + key;
      if (live.count(id) && rng() % 3 == 0) {
        e.op = ChangeOp::kDelete;
        e.seq = take(tx->remove(scope, e.collection, key, priority));
        live.erase(id);
      } else {
        e.op = ChangeOp::kPut;
        e.body = std::string(rng() % 200, static_cast<char>('a' + i % 26));
        e.seq = take(tx->put(scope, e.collection, key, priority, e.body));
        live.insert(id);
      }
      expected.push_back(e);
    }
    take(tx->commit());
  }
  return expected;
}

void expect_same_entry(const LogEntry& got, const LogEntry& want) {
  EXPECT_EQ(got.seq, want.seq);
  EXPECT_EQ(got.collection, want.collection);
  EXPECT_EQ(got.key, want.key);
  EXPECT_EQ(got.op, want.op);
  EXPECT_EQ(got.priority, want.priority);
  EXPECT_EQ(got.body, want.body);
}

// Reads the whole log in pages, checking every page against the bounds.
std::vector<LogEntry> page_through_log(ServerStore& store, const std::string& scope,
                                       uint32_t max_entries, uint64_t max_bytes, int max_priority,
                                       const std::vector<LogEntry>& matching) {
  std::vector<LogEntry> got;
  uint64_t after = 0;
  const uint64_t head = take(store.scope_info(scope)).head_seq;
  for (int guard = 0; guard < 100000; ++guard) {
    LogPage page = take(store.read_log(scope, after, max_entries, max_bytes, max_priority));
    uint64_t bytes = 0;
    for (const LogEntry& e : page.entries) bytes += entry_cost(e.collection, e.key, e.body);
    EXPECT_LE(page.entries.size(), std::max<uint32_t>(max_entries, 1));
    EXPECT_TRUE(page.entries.size() <= 1 || bytes <= max_bytes);
    if (page.has_more) {
      EXPECT_FALSE(page.entries.empty());
      EXPECT_EQ(page.next_after_seq, page.entries.back().seq);
      // The page is as full as the bounds allow.
      const LogEntry& next = matching[got.size() + page.entries.size()];
      EXPECT_TRUE(page.entries.size() == std::max<uint32_t>(max_entries, 1) ||
                  bytes + entry_cost(next.collection, next.key, next.body) > max_bytes);
    } else {
      EXPECT_EQ(page.next_after_seq, std::max(after, head));
    }
    got.insert(got.end(), page.entries.begin(), page.entries.end());
    after = page.next_after_seq;
    if (!page.has_more) break;
  }
  return got;
}

TEST_P(ServerStoreTest, ReadLogPagesCoverEveryEntryExactlyOnceInOrder) {
  auto store = open_store();
  const std::string scope = "user/t1/u1";
  const std::vector<LogEntry> expected = write_mixed_log(*store, scope, 300);
  for (uint64_t i = 0; i < expected.size(); ++i) ASSERT_EQ(expected[i].seq, i + 1);
  struct Bounds {
    uint32_t entries;
    uint64_t bytes;
  };
  for (Bounds b : std::vector<Bounds>{{1, UINT64_MAX},
                                      {7, UINT64_MAX},
                                      {300, UINT64_MAX},
                                      {1000, UINT64_MAX},
                                      {0, UINT64_MAX},
                                      {1000, 0},
                                      {1000, 150},
                                      {1000, 1000},
                                      {10, 500}}) {
    SCOPED_TRACE("max_entries " + std::to_string(b.entries) + " max_bytes " +
                 std::to_string(b.bytes));
    auto got = page_through_log(*store, scope, b.entries, b.bytes, -1, expected);
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) expect_same_entry(got[i], expected[i]);
  }
  // From the middle, and past the head.
  LogPage page = take(store->read_log(scope, 250, 10, UINT64_MAX, -1));
  ASSERT_EQ(page.entries.size(), 10u);
  EXPECT_EQ(page.entries[0].seq, 251u);
  EXPECT_TRUE(page.has_more);
  page = take(store->read_log(scope, 300, 10, UINT64_MAX, -1));
  EXPECT_TRUE(page.entries.empty());
  EXPECT_FALSE(page.has_more);
  EXPECT_EQ(page.next_after_seq, 300u);
  page = take(store->read_log("org/none", 0, 10, UINT64_MAX, -1));
  EXPECT_TRUE(page.entries.empty());
  EXPECT_FALSE(page.has_more);
  EXPECT_EQ(page.next_after_seq, 0u);
}

TEST_P(ServerStoreTest, ReadLogMaxPriorityKeepsOnlyUrgentEntries) {
  auto store = open_store();
  const std::string scope = "user/t1/u1";
  const std::vector<LogEntry> all = write_mixed_log(*store, scope, 200);
  for (int max_priority : {0, 1, 3}) {
    SCOPED_TRACE("max_priority " + std::to_string(max_priority));
    std::vector<LogEntry> matching;
    std::copy_if(all.begin(), all.end(), std::back_inserter(matching),
                 [&](const LogEntry& e) { return e.priority <= max_priority; });
    ASSERT_FALSE(matching.empty());
    for (uint32_t max_entries : {3u, 1000u}) {
      auto got = page_through_log(*store, scope, max_entries, UINT64_MAX, max_priority, matching);
      ASSERT_EQ(got.size(), matching.size());
      for (size_t i = 0; i < got.size(); ++i) expect_same_entry(got[i], matching[i]);
    }
  }
}

TEST_P(ServerStoreTest, SnapshotIsOrderedByPriorityCollectionKeyAndPagesExactly) {
  auto store = open_store();
  const std::string scope = "org/t1";
  std::map<std::tuple<int, std::string, std::string>, Value> expected;
  std::map<Key, int> priority_of;
  std::mt19937 rng(7);
  const std::vector<std::string> collections = {"contacts", "canned", "queues"};
  const std::vector<std::string> odd_keys = {std::string("a\0b", 3), "\xff\xfe", "", "Z", "a"};
  for (int round = 0; round < 6; ++round) {
    auto tx = take(store->begin_write());
    for (int i = 0; i < 40; ++i) {
      const std::string& collection = collections[rng() % collections.size()];
      std::string key =
          (rng() % 5 == 0) ? odd_keys[rng() % odd_keys.size()] : "k" + std::to_string(rng() % 60);
      const Key id{collection, key};
      if (auto it = priority_of.find(id); it != priority_of.end()) {
        expected.erase({it->second, collection, key});
        priority_of.erase(it);
        if (rng() % 4 == 0) {
          take(tx->remove(scope, collection, key, 0));
          continue;
        }
      }
      const int priority = static_cast<int>(rng() % 3);
      const std::string body(rng() % 120, 'b');
      const uint64_t version = take(tx->put(scope, collection, key, priority, body));
      expected[{priority, collection, key}] = Value{version, body};
      priority_of[id] = priority;
    }
    take(tx->commit());
  }
  std::vector<std::pair<std::tuple<int, std::string, std::string>, Value>> want(expected.begin(),
                                                                                expected.end());
  ASSERT_EQ(take(store->scope_info(scope)).record_count, want.size());
  struct Bounds {
    uint32_t records;
    uint64_t bytes;
  };
  for (Bounds b : std::vector<Bounds>{
           {1, UINT64_MAX}, {3, UINT64_MAX}, {1000, UINT64_MAX}, {1000, 0}, {1000, 300}}) {
    SCOPED_TRACE("max_records " + std::to_string(b.records) + " max_bytes " +
                 std::to_string(b.bytes));
    size_t n = 0;
    SnapshotPosition after;
    for (;;) {
      SnapshotPage page = take(store->read_snapshot(scope, after, b.records, b.bytes));
      uint64_t bytes = 0;
      for (const SnapshotRecord& r : page.records) {
        ASSERT_LT(n, want.size());
        const auto& [pos, value] = want[n++];
        EXPECT_EQ(r.priority, std::get<0>(pos));
        EXPECT_EQ(r.record.collection, std::get<1>(pos));
        EXPECT_EQ(r.record.key, std::get<2>(pos));
        EXPECT_EQ(r.record.version, value.version);
        EXPECT_EQ(r.record.body, value.body);
        bytes += entry_cost(r.record.collection, r.record.key, r.record.body);
      }
      EXPECT_LE(page.records.size(), b.records);
      EXPECT_TRUE(page.records.size() <= 1 || bytes <= b.bytes);
      if (!page.records.empty()) {
        const SnapshotRecord& last = page.records.back();
        EXPECT_EQ(page.next,
                  (SnapshotPosition{last.priority, last.record.collection, last.record.key}));
      } else {
        EXPECT_EQ(page.next, after);
      }
      if (page.has_more) {
        ASSERT_LT(n, want.size());
        const auto& [pos, value] = want[n];
        EXPECT_TRUE(page.records.size() == b.records ||
                    bytes + entry_cost(std::get<1>(pos), std::get<2>(pos), value.body) > b.bytes);
      }
      after = page.next;
      if (!page.has_more) break;
    }
    EXPECT_EQ(n, want.size());
  }
  EXPECT_TRUE(take(store->read_snapshot("org/none", SnapshotPosition{}, 10, 100)).records.empty());
}

TEST_P(ServerStoreTest, ManifestPagesInCollectionKeyOrder) {
  auto store = open_store();
  const std::string scope = "org/t1";
  std::map<Key, uint64_t> expected;
  {
    auto tx = take(store->begin_write());
    for (int i = 0; i < 37; ++i) {
      const std::string collection = (i % 3 == 0) ? "b" : (i % 3 == 1) ? "a" : "c";
      const std::string key = "key" + std::to_string(i * 7 % 37);
      expected[{collection, key}] = take(tx->put(scope, collection, key, i % 4, "v"));
    }
    take(tx->remove(scope, "a", "key7", 0));
    expected.erase({"a", "key7"});
    take(tx->commit());
  }
  std::vector<KeyVersion> got;
  std::string after_collection, after_key;
  for (;;) {
    auto page = take(store->read_manifest(scope, after_collection, after_key, 4));
    EXPECT_LE(page.size(), 4u);
    if (page.empty()) break;
    got.insert(got.end(), page.begin(), page.end());
    after_collection = page.back().collection;
    after_key = page.back().key;
  }
  ASSERT_EQ(got.size(), expected.size());
  size_t i = 0;
  for (const auto& [id, version] : expected) {
    EXPECT_EQ(got[i].collection, id.first);
    EXPECT_EQ(got[i].key, id.second);
    EXPECT_EQ(got[i].version, version);
    ++i;
  }
}

TEST_P(ServerStoreTest, ScanCollectionPagesOneCollectionAcrossScopesInScopeKeyOrder) {
  auto store = open_store();
  std::vector<std::tuple<std::string, std::string, std::string>> expected;  // scope, key, body
  {
    auto tx = take(store->begin_write());
    for (const std::string scope : {"user/t1/b", "user/t1/a", "user/t2/a", "org/t1"}) {
      for (const std::string key : {"tablet", "phone"}) {
        take(tx->put(scope, "push_target", key, 2, scope + "|" + key));
        take(tx->put(scope, "other", key, 2, "x"));
      }
    }
    take(tx->remove("user/t2/a", "push_target", "tablet", 2));
    take(tx->commit());
  }
  for (const std::string scope : {"org/t1", "user/t1/a", "user/t1/b", "user/t2/a"}) {
    for (const std::string key : {"phone", "tablet"}) {
      if (scope == "user/t2/a" && key == "tablet") continue;
      expected.emplace_back(scope, key, scope + "|" + key);
    }
  }
  std::vector<std::tuple<std::string, std::string, std::string>> got;
  std::string after_scope, after_key;
  for (;;) {
    auto page = take(store->scan_collection("push_target", after_scope, after_key, 3));
    EXPECT_LE(page.size(), 3u);
    if (page.empty()) break;
    for (const ScopedRecord& r : page) {
      EXPECT_EQ(r.record.collection, "push_target");
      EXPECT_GT(r.record.version, 0u);
      got.emplace_back(r.scope, r.record.key, r.record.body);
    }
    after_scope = page.back().scope;
    after_key = page.back().record.key;
  }
  EXPECT_EQ(got, expected);
  EXPECT_TRUE(take(store->scan_collection("nothing", "", "", 10)).empty());
}

TEST_P(ServerStoreTest, CompactionKeepsTheLatestPerKeyAndDropsOldTombstones) {
  auto store = open_store();
  const std::string scope = "user/t1/u1";
  {
    auto tx = take(store->begin_write());
    take(tx->put(scope, "n", "a", 0, "a1"));  // 1: superseded by 3
    take(tx->put(scope, "n", "b", 0, "b1"));  // 2: superseded by 4
    take(tx->put(scope, "n", "a", 0, "a2"));  // 3: kept
    take(tx->remove(scope, "n", "b", 0));     // 4: tombstone <= horizon: dropped
    take(tx->put(scope, "n", "c", 0, "c1"));  // 5: superseded by 6
    take(tx->remove(scope, "n", "c", 0));     // 6: superseded by 7
    take(tx->put(scope, "n", "c", 0, "c2"));  // 7: kept
    take(tx->put(scope, "n", "d", 0, "d1"));  // 8: superseded by 9
    take(tx->remove(scope, "n", "d", 0));     // 9: tombstone above horizon: kept
    take(tx->commit());
  }
  check(store->compact(scope, 5));
  auto seqs = [&] {
    std::vector<uint64_t> out;
    for (const LogEntry& e : whole_log(*store, scope)) out.push_back(e.seq);
    return out;
  };
  EXPECT_EQ(seqs(), (std::vector<uint64_t>{3, 7, 9}));
  ScopeInfo info = take(store->scope_info(scope));
  EXPECT_EQ(info.horizon_seq, 5u);
  EXPECT_EQ(info.head_seq, 9u);
  EXPECT_EQ(info.record_count, 2u);

  // Cursors below the horizon must reset; 0 and cursors at or above it read on.
  EXPECT_EQ(store->read_log(scope, 4, 10, UINT64_MAX, -1).status().code(),
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(take(store->read_log(scope, 5, 10, UINT64_MAX, -1)).entries.size(), 2u);
  EXPECT_EQ(take(store->read_log(scope, 0, 10, UINT64_MAX, -1)).entries.size(), 3u);

  check(store->compact(scope, 100));  // clamped to the head
  EXPECT_EQ(take(store->scope_info(scope)).horizon_seq, 9u);
  EXPECT_EQ(seqs(), (std::vector<uint64_t>{3, 7}));
  check(store->compact(scope, 2));  // never moves backwards
  EXPECT_EQ(take(store->scope_info(scope)).horizon_seq, 9u);
  LogPage page = take(store->read_log(scope, 9, 10, UINT64_MAX, -1));
  EXPECT_TRUE(page.entries.empty());
  EXPECT_EQ(page.next_after_seq, 9u);

  // Later writes supersede compacted entries too.
  put_one(*store, scope, "n", "a", 0, "a3");
  check(store->compact(scope, 9));
  EXPECT_EQ(seqs(), (std::vector<uint64_t>{7, 10}));
  check(store->compact("org/unknown", 10));
  EXPECT_EQ(take(store->scope_info("org/unknown")).horizon_seq, 0u);
}

// Bulk rewrites over keys written by earlier transactions (each replaced record's old size
// and version come from the store, batch by batch), removes, and puts of removed keys:
// the counts are exact and compaction to the head leaves one entry per live key, at its
// version (PostgreSQL finds superseded entries by the predecessor each entry names,
// decision 054).
TEST_P(ServerStoreTest, BulkRewritesOfStoredKeysCountExactlyAndCompactToOneEntryPerKey) {
  auto store = open_store();
  const std::string scope = "org/t1";
  std::map<std::string, std::string> want;
  auto write = [&](int from, int to, const std::string& tag) {
    auto tx = take(store->begin_write());
    for (int i = from; i < to; ++i) {
      const std::string key = "k" + std::to_string(i);
      const std::string body = tag + std::string(static_cast<size_t>(i % 7), 'x');
      take(tx->put(scope, "contacts", key, 1, body));
      want[key] = body;
    }
    take(tx->commit());
  };
  write(0, 1'200, "first");
  write(200, 1'400, "second");  // 1,000 rewrites, 200 new
  {
    auto tx = take(store->begin_write());
    for (int i = 0; i < 1'400; i += 10) {
      take(tx->remove(scope, "contacts", "k" + std::to_string(i), 1));
      want.erase("k" + std::to_string(i));
    }
    take(tx->commit());
  }
  write(0, 300, "third");  // puts of removed keys among rewrites
  ScopeInfo info = take(store->scope_info(scope));
  EXPECT_EQ(info.record_count, want.size());
  uint64_t bytes = 0;
  for (const auto& [key, body] : want) bytes += entry_cost("contacts", key, body);
  EXPECT_EQ(info.record_bytes, bytes);

  check(store->compact(scope, info.head_seq));
  std::map<std::string, uint64_t> logged;
  for (const LogEntry& e : whole_log(*store, scope)) {
    EXPECT_EQ(e.op, ChangeOp::kPut) << e.key;
    EXPECT_TRUE(logged.emplace(e.key, e.seq).second) << "two entries for " << e.key;
  }
  ASSERT_EQ(logged.size(), want.size());
  for (const auto& [key, body] : want) {
    auto got = take(store->get(scope, "contacts", key));
    ASSERT_TRUE(got.has_value()) << key;
    EXPECT_EQ(got->body, body);
    EXPECT_EQ(logged[key], got->version) << key;
  }
}

// A device replica: the log replayed onto a map from a cursor.
struct Replica {
  uint64_t cursor = 0;
  State state;
  int resets = 0;

  void apply(const LogEntry& e) {
    if (e.op == ChangeOp::kPut) {
      state[{e.collection, e.key}] = Value{e.seq, e.body};
    } else {
      state.erase({e.collection, e.key});
    }
  }

  // Pulls the log; a cursor behind the horizon resets from a snapshot, then pulls on.
  void sync(ServerStore& store, const std::string& scope) {
    for (;;) {
      Result<LogPage> page = store.read_log(scope, cursor, 13, 700, -1);
      if (page.status().code() == ErrorCode::kFailedPrecondition) {
        reset(store, scope);
        continue;
      }
      for (const LogEntry& e : take(std::move(page)).entries) apply(e);
      cursor = page->next_after_seq;
      if (!page->has_more) return;
    }
  }

  void reset(ServerStore& store, const std::string& scope) {
    ++resets;
    cursor = take(store.scope_info(scope)).head_seq;  // the log continues from here
    state.clear();
    SnapshotPosition after;
    for (;;) {
      SnapshotPage page = take(store.read_snapshot(scope, after, 11, 900));
      for (const SnapshotRecord& r : page.records) {
        state[{r.record.collection, r.record.key}] = Value{r.record.version, r.record.body};
      }
      after = page.next;
      if (!page.has_more) return;
    }
  }
};

TEST_P(ServerStoreTest, ReadersResumingAfterCompactionConverge) {
  auto store = open_store();
  const std::string scope = "user/t1/u1";
  std::mt19937 rng(2024);
  std::vector<Replica> replicas(5);
  for (int round = 0; round < 40; ++round) {
    for (int t = 0; t < 4; ++t) {
      auto tx = take(store->begin_write());
      for (int i = 0; i < 10; ++i) {
        const std::string collection = (rng() % 2) ? "journal" : "drafts";
        const std::string key = "k" + std::to_string(rng() % 25);
        if (rng() % 3 == 0) {
          take(tx->remove(scope, collection, key, 0));
        } else {
          take(tx->put(scope, collection, key, static_cast<int>(rng() % 3),
                       std::string(rng() % 80, 'a' + round % 26)));
        }
      }
      take(tx->commit());
    }
    for (size_t r = 0; r < replicas.size(); ++r) {
      if (round % (r + 1) == 0) replicas[r].sync(*store, scope);
    }
    if (round % 3 == 2) {
      // The server keeps tombstones for most replicas; the slowest ones fall behind.
      std::vector<uint64_t> cursors;
      for (const Replica& r : replicas) cursors.push_back(r.cursor);
      std::sort(cursors.begin(), cursors.end());
      check(store->compact(scope, cursors[2]));
    }
  }
  const State truth = snapshot_state(*store, scope);
  ASSERT_FALSE(truth.empty());
  const ScopeInfo info = take(store->scope_info(scope));
  EXPECT_EQ(truth.size(), info.record_count);
  int resumed_without_reset = 0;
  for (Replica& r : replicas) {
    const int resets_before = r.resets;
    const bool at_or_above_horizon = r.cursor >= info.horizon_seq;
    r.sync(*store, scope);
    EXPECT_EQ(r.state, truth);
    EXPECT_EQ(r.cursor, info.head_seq);
    if (at_or_above_horizon) {
      EXPECT_EQ(r.resets, resets_before);
      ++resumed_without_reset;
    }
  }
  EXPECT_GE(resumed_without_reset, 3);
  int resets = 0;
  for (const Replica& r : replicas) resets += r.resets;
  EXPECT_GT(resets, 0);  // the slow replicas did fall behind the horizon
  // A fresh replica replaying the compacted log from 0 converges as well.
  Replica fresh;
  fresh.sync(*store, scope);
  EXPECT_EQ(fresh.resets, 0);
  EXPECT_EQ(fresh.state, truth);
  // Right after compaction the log holds at most one entry per key.
  check(store->compact(scope, info.head_seq));
  std::set<Key> keys;
  for (const LogEntry& e : whole_log(*store, scope)) {
    EXPECT_TRUE(keys.insert({e.collection, e.key}).second) << e.collection << "/" << e.key;
  }
}

TEST_P(ServerStoreTest, ReopeningKeepsEverything) {
  {
    auto store = open_store();
    put_one(*store, "org/t1", "contacts", "a", 2, "A");
    put_one(*store, "org/t1", "contacts", "b", 1, "B");
    remove_one(*store, "org/t1", "contacts", "b");
    put_one(*store, "user/t1/u1", "drafts", "d", 0, "D");
    auto tx = take(store->begin_write());
    check(tx->record_outcome("dev-1", RecordedOutcome{1, true, "", ""}));
    check(tx->record_outcome("dev-1", RecordedOutcome{2, false, "rejected", "queue closed"}));
    take(tx->commit());
    check(store->compact("org/t1", 3));
  }
  auto store = open_store();
  EXPECT_EQ(take(store->get("org/t1", "contacts", "a"))->body, "A");
  EXPECT_FALSE(take(store->get("org/t1", "contacts", "b")).has_value());
  ScopeInfo info = take(store->scope_info("org/t1"));
  EXPECT_EQ(info.head_seq, 3u);
  EXPECT_EQ(info.horizon_seq, 3u);
  EXPECT_EQ(info.record_count, 1u);
  EXPECT_EQ(info.record_bytes, entry_cost("contacts", "a", "A"));
  EXPECT_EQ(whole_log(*store, "org/t1").size(), 1u);
  EXPECT_EQ(take(store->last_mutation_id("dev-1")), 2u);
  auto rejected = take(store->rejections("dev-1", 0, 10));
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].mutation_id, 2u);
  EXPECT_FALSE(rejected[0].applied);
  EXPECT_EQ(rejected[0].code, "rejected");
  EXPECT_EQ(rejected[0].reason, "queue closed");
  EXPECT_EQ(put_one(*store, "org/t1", "contacts", "c", 0, "C"), 4u);
  EXPECT_EQ(put_one(*store, "user/t1/u1", "drafts", "d", 0, "D2"), 2u);
}

TEST_P(ServerStoreTest, ConcurrentWritersGetGapFreeSeqsWhileAReaderFollows) {
  auto store = open_store();
  const std::string scope = "org/t1";
  constexpr int kWriters = 4;
  constexpr int kPuts = 500;
  std::atomic<int> writers_left{kWriters};
  std::vector<std::vector<uint64_t>> seqs(kWriters);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPuts; ++i) {
        auto tx = store->begin_write();
        if (!tx.ok()) {
          ADD_FAILURE() << tx.status().to_string();
          break;
        }
        auto seq = (*tx)->put(scope, "contacts", "w" + std::to_string(w) + "-" + std::to_string(i),
                              i % 3, "body");
        auto heads = (*tx)->commit();
        if (!seq.ok() || !heads.ok()) {
          ADD_FAILURE() << seq.status().to_string() << heads.status().to_string();
          break;
        }
        seqs[w].push_back(*seq);
      }
      --writers_left;
    });
  }
  int reads = 0;
  std::string reader_error;
  std::thread reader([&] {
    uint64_t last_seen = 0;
    while (writers_left.load() > 0 && reader_error.empty()) {
      // Every read sees a gap-free prefix of the log, and never less than before.
      uint64_t expect = 1;
      uint64_t after = 0;
      for (;;) {
        auto page = store->read_log(scope, after, 97, UINT64_MAX, -1);
        if (!page.ok()) {
          reader_error = page.status().to_string();
          break;
        }
        for (const LogEntry& e : page->entries) {
          if (e.seq != expect++) reader_error = "gap before seq " + std::to_string(e.seq);
        }
        after = page->next_after_seq;
        if (!page->has_more) break;
      }
      if (expect - 1 < last_seen) reader_error = "the log went backwards";
      last_seen = expect - 1;
      ++reads;
    }
  });
  for (std::thread& t : threads) t.join();
  reader.join();
  EXPECT_EQ(reader_error, "");
  EXPECT_GT(reads, 0);
  std::vector<uint64_t> all;
  for (const auto& v : seqs) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), static_cast<size_t>(kWriters * kPuts));
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], i + 1);
  auto log = whole_log(*store, scope);
  ASSERT_EQ(log.size(), all.size());
  for (size_t i = 0; i < log.size(); ++i) ASSERT_EQ(log[i].seq, i + 1);
  for (int w = 0; w < kWriters; ++w) {
    auto r = take(store->get(scope, "contacts", "w" + std::to_string(w) + "-17"));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->version, seqs[w][17]);
  }
  ScopeInfo info = take(store->scope_info(scope));
  EXPECT_EQ(info.head_seq, 2000u);
  EXPECT_EQ(info.record_count, 2000u);
}

TEST_P(ServerStoreTest, TwoStoresOnOneFileShareTheSeqs) {
  auto first = open_store();
  auto second = open_store();
  EXPECT_EQ(put_one(*first, "org/t1", "c", "a", 0, "x"), 1u);
  EXPECT_EQ(put_one(*second, "org/t1", "c", "b", 0, "y"), 2u);
  EXPECT_EQ(put_one(*first, "org/t1", "c", "c", 0, "z"), 3u);
  EXPECT_EQ(take(second->scope_info("org/t1")).record_count, 3u);
}

}  // namespace
}  // namespace outpost::store_test

// The server store contract, run against both stores (SQLite and a real PostgreSQL):
// writes, versions, transactions, the mutation bookkeeping and bulk writes. The log and
// snapshots are in server_store_log_test.cpp, the SQLite file in
// sqlite_server_store_file_test.cpp.
#include "tests/adapters/server_store_fixture.h"

namespace outpost::store_test {
namespace {

INSTANTIATE_TEST_SUITE_P(Stores, ServerStoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST_P(ServerStoreTest, ListScopesNamesEveryWrittenScopeInOrder) {
  // Blob garbage collection reads every scope's records (engine/blob_service.h).
  auto store = open_store();
  EXPECT_TRUE(take(store->list_scopes()).empty());
  put_one(*store, "user/t1/u2", "contacts", "a", 1, "A");
  put_one(*store, "org/t1", "contacts", "a", 1, "A");
  put_one(*store, "user/t1/u1", "contacts", "a", 1, "A");
  remove_one(*store, "user/t1/u1", "contacts", "a");  // an emptied scope is still listed
  EXPECT_EQ(take(store->list_scopes()),
            (std::vector<std::string>{"org/t1", "user/t1/u1", "user/t1/u2"}));
}

TEST_P(ServerStoreTest, PutGetRemoveVersionsAreSeqs) {
  auto store = open_store();
  const std::string scope = "user/t1/u1";
  {
    auto tx = take(store->begin_write());
    EXPECT_EQ(take(tx->put(scope, "contacts", "a", 1, "A1")), 1u);
    EXPECT_EQ(take(tx->put(scope, "contacts", "b", 1, "B1")), 2u);
    auto seen = take(tx->get(scope, "contacts", "a"));  // a transaction sees its own writes
    ASSERT_TRUE(seen.has_value());
    EXPECT_EQ(seen->version, 1u);
    EXPECT_EQ(seen->body, "A1");
    // Not visible to readers before commit.
    EXPECT_FALSE(take(store->get(scope, "contacts", "a")).has_value());
    auto heads = take(tx->commit());
    ASSERT_EQ(heads.size(), 1u);
    EXPECT_EQ(heads[0].scope, scope);
    EXPECT_EQ(heads[0].head_seq, 2u);
  }
  auto a = take(store->get(scope, "contacts", "a"));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->collection, "contacts");
  EXPECT_EQ(a->key, "a");
  EXPECT_EQ(a->version, 1u);
  EXPECT_EQ(a->body, "A1");
  {
    auto tx = take(store->begin_write());
    EXPECT_EQ(take(tx->put(scope, "contacts", "a", 1, "A2")), 3u);
    EXPECT_EQ(take(tx->remove(scope, "contacts", "b", 1)), 4u);
    EXPECT_EQ(take(tx->remove(scope, "contacts", "nope", 1)), 0u);
    EXPECT_FALSE(take(tx->get(scope, "contacts", "b")).has_value());
    auto heads = take(tx->commit());
    ASSERT_EQ(heads.size(), 1u);
    EXPECT_EQ(heads[0].head_seq, 4u);
  }
  EXPECT_EQ(take(store->get(scope, "contacts", "a"))->version, 3u);
  EXPECT_EQ(take(store->get(scope, "contacts", "a"))->body, "A2");
  EXPECT_FALSE(take(store->get(scope, "contacts", "b")).has_value());
  ScopeInfo info = take(store->scope_info(scope));
  EXPECT_EQ(info.head_seq, 4u);
  EXPECT_EQ(info.horizon_seq, 0u);
  EXPECT_EQ(info.record_count, 1u);
  EXPECT_EQ(info.record_bytes, entry_cost("contacts", "a", "A2"));

  auto log = whole_log(*store, scope);
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[3].op, ChangeOp::kDelete);
  EXPECT_EQ(log[3].key, "b");
  EXPECT_EQ(log[3].priority, 1);
  EXPECT_EQ(log[3].body, "");
  EXPECT_EQ(log[2].op, ChangeOp::kPut);
  EXPECT_EQ(log[2].body, "A2");

  ScopeInfo unknown = take(store->scope_info("user/t1/nobody"));
  EXPECT_EQ(unknown.head_seq, 0u);
  EXPECT_EQ(unknown.record_count, 0u);
}

TEST_P(ServerStoreTest, RecordBytesFollowOverwritesAndDeletes) {
  auto store = open_store();
  const std::string scope = "org/t1";
  put_one(*store, scope, "queues", "q1", 0, std::string(100, 'x'));
  put_one(*store, scope, "queues", "q2", 0, std::string(50, 'y'));
  put_one(*store, scope, "queues", "q1", 0, std::string(10, 'z'));
  put_one(*store, scope, "queues", "empty", 0, "");
  ScopeInfo info = take(store->scope_info(scope));
  EXPECT_EQ(info.record_count, 3u);
  EXPECT_EQ(info.record_bytes, (6u + 2 + 10) + (6 + 2 + 50) + (6 + 5 + 0));
  remove_one(*store, scope, "queues", "q2");
  info = take(store->scope_info(scope));
  EXPECT_EQ(info.record_count, 2u);
  EXPECT_EQ(info.record_bytes, (6u + 2 + 10) + (6 + 5 + 0));
  auto empty = take(store->get(scope, "queues", "empty"));
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->body, "");
}

TEST_P(ServerStoreTest, SeqsAreGapFreePerScopeAndIndependentAcrossScopes) {
  auto store = open_store();
  const std::string s1 = "user/t1/u1";
  const std::string s2 = "org/t1";
  std::vector<uint64_t> seqs1, seqs2;
  for (int round = 0; round < 5; ++round) {
    auto tx = take(store->begin_write());
    for (int i = 0; i < 3; ++i) {
      seqs1.push_back(take(tx->put(s1, "notes", "n" + std::to_string(i), 0, "x")));
      seqs2.push_back(take(tx->put(s2, "contacts", "c" + std::to_string(round), 0, "y")));
    }
    auto heads = take(tx->commit());
    ASSERT_EQ(heads.size(), 2u);
    EXPECT_EQ(heads[0].scope, s2);  // sorted by scope name
    EXPECT_EQ(heads[0].head_seq, seqs2.back());
    EXPECT_EQ(heads[1].scope, s1);
    EXPECT_EQ(heads[1].head_seq, seqs1.back());
  }
  for (size_t i = 0; i < seqs1.size(); ++i) {
    EXPECT_EQ(seqs1[i], i + 1);
    EXPECT_EQ(seqs2[i], i + 1);
  }
  for (const std::string& scope : {s1, s2}) {
    auto log = whole_log(*store, scope);
    ASSERT_EQ(log.size(), 15u);
    for (size_t i = 0; i < log.size(); ++i) EXPECT_EQ(log[i].seq, i + 1);
  }
  EXPECT_EQ(take(store->scope_info(s1)).record_count, 3u);
  EXPECT_EQ(take(store->scope_info(s2)).record_count, 5u);
}

TEST_P(ServerStoreTest, DestroyingATransactionRollsEverythingBack) {
  auto store = open_store();
  const std::string scope = "user/t1/u1";
  put_one(*store, scope, "drafts", "d1", 0, "hello");
  {
    auto tx = take(store->begin_write());
    EXPECT_EQ(take(tx->put(scope, "drafts", "d1", 0, "changed")), 2u);
    EXPECT_EQ(take(tx->put(scope, "drafts", "d2", 0, "new")), 3u);
    EXPECT_EQ(take(tx->put("user/t1/other", "drafts", "x", 0, "new scope")), 1u);
    EXPECT_EQ(take(tx->remove(scope, "drafts", "d1", 0)), 4u);
    check(tx->record_outcome("device-1", RecordedOutcome{7, false, "rejected", "nope"}));
  }  // no commit
  auto d1 = take(store->get(scope, "drafts", "d1"));
  ASSERT_TRUE(d1.has_value());
  EXPECT_EQ(d1->body, "hello");
  EXPECT_EQ(d1->version, 1u);
  EXPECT_FALSE(take(store->get(scope, "drafts", "d2")).has_value());
  EXPECT_EQ(take(store->scope_info(scope)).head_seq, 1u);
  EXPECT_EQ(take(store->scope_info(scope)).record_count, 1u);
  EXPECT_EQ(take(store->scope_info("user/t1/other")).head_seq, 0u);
  EXPECT_EQ(whole_log(*store, scope).size(), 1u);
  EXPECT_EQ(take(store->last_mutation_id("device-1")), 0u);
  EXPECT_TRUE(take(store->rejections("device-1", 0, 10)).empty());
  // The seq was not consumed.
  EXPECT_EQ(put_one(*store, scope, "drafts", "d2", 0, "again"), 2u);
}

TEST_P(ServerStoreTest, RemovingAnAbsentRecordWritesNothing) {
  auto store = open_store();
  put_one(*store, "org/t1", "contacts", "a", 0, "A");
  auto tx = take(store->begin_write());
  EXPECT_EQ(take(tx->remove("org/t1", "contacts", "missing", 0)), 0u);
  EXPECT_EQ(take(tx->remove("org/unknown", "contacts", "a", 0)), 0u);
  EXPECT_TRUE(take(tx->commit()).empty());
  EXPECT_EQ(take(store->scope_info("org/t1")).head_seq, 1u);
  EXPECT_EQ(whole_log(*store, "org/t1").size(), 1u);
  EXPECT_EQ(take(store->scope_info("org/unknown")).head_seq, 0u);
}

TEST_P(ServerStoreTest, InvalidArgumentsDoNotAbortTheTransaction) {
  auto store = open_store();
  auto tx = take(store->begin_write());
  EXPECT_EQ(tx->put("org/t1", "", "k", 0, "x").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(tx->put("org/t1", "c", "k", -1, "x").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(tx->remove("org/t1", "", "k", 0).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(tx->record_outcome("dev", RecordedOutcome{0, true, "", ""}).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(take(tx->put("org/t1", "c", "k", 0, "x")), 1u);
  take(tx->commit());
  EXPECT_TRUE(take(store->get("org/t1", "c", "k")).has_value());
}

TEST_P(ServerStoreTest, CommittedTransactionRefusesFurtherUseAndFreesTheWriter) {
  auto store = open_store();
  auto tx = take(store->begin_write());
  take(tx->put("org/t1", "c", "k", 0, "x"));
  take(tx->commit());
  // The old object is still alive, yet the next writer can start.
  auto next = take(store->begin_write());
  EXPECT_EQ(take(next->put("org/t1", "c", "k2", 0, "y")), 2u);
  take(next->commit());
  EXPECT_EQ(tx->put("org/t1", "c", "k3", 0, "z").status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(tx->commit().status().code(), ErrorCode::kFailedPrecondition);
}

TEST_P(ServerStoreTest, MutationBookkeepingCommitsAndRollsBackWithTheEffects) {
  auto store = open_store();
  {
    auto tx = take(store->begin_write());
    take(tx->put("user/t1/u1", "state", "agent", 0, "busy"));
    check(tx->record_outcome("dev-1", RecordedOutcome{1, true, "", ""}));
    EXPECT_EQ(take(tx->last_mutation_id("dev-1")), 1u);
  }  // rolled back together
  EXPECT_EQ(take(store->last_mutation_id("dev-1")), 0u);
  EXPECT_FALSE(take(store->get("user/t1/u1", "state", "agent")).has_value());
  {
    auto tx = take(store->begin_write());
    EXPECT_EQ(take(tx->last_mutation_id("dev-1")), 0u);
    take(tx->put("user/t1/u1", "state", "agent", 0, "busy"));
    check(tx->record_outcome("dev-1", RecordedOutcome{1, true, "", ""}));
    take(tx->commit());
  }
  EXPECT_EQ(take(store->last_mutation_id("dev-1")), 1u);
  EXPECT_EQ(take(store->last_mutation_id("dev-2")), 0u);
  {
    auto tx = take(store->begin_write());
    EXPECT_EQ(take(tx->last_mutation_id("dev-1")), 1u);
    // A replayed mutation id is refused, and the transaction goes on.
    EXPECT_EQ(tx->record_outcome("dev-1", RecordedOutcome{1, true, "", ""}).code(),
              ErrorCode::kAlreadyExists);
    check(tx->record_outcome("dev-1", RecordedOutcome{5, false, "rejected", "not allowed"}));
    take(tx->commit());
  }
  EXPECT_EQ(take(store->last_mutation_id("dev-1")), 5u);
  auto rejected = take(store->rejections("dev-1", 0, 10));
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].mutation_id, 5u);
  EXPECT_TRUE(take(store->rejections("dev-1", 5, 10)).empty());
}

TEST_P(ServerStoreTest, RejectionsAreKeptBoundedPerClient) {
  auto store = open_store();
  {
    auto tx = take(store->begin_write());
    for (uint64_t id = 1; id <= 2500; ++id) {
      const bool applied = id % 2 == 0;
      check(tx->record_outcome("dev-1", RecordedOutcome{id, applied, applied ? "" : "rejected",
                                                        applied ? "" : "r" + std::to_string(id)}));
    }
    check(tx->record_outcome("dev-2", RecordedOutcome{3, false, "permission_denied", "no"}));
    take(tx->commit());
  }
  EXPECT_EQ(take(store->last_mutation_id("dev-1")), 2500u);
  auto all = take(store->rejections("dev-1", 0, 100000));
  ASSERT_EQ(all.size(), SqliteServerStore::kMaxRejectionsPerClient);
  EXPECT_EQ(all.front().mutation_id, 501u);
  EXPECT_EQ(all.back().mutation_id, 2499u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].mutation_id, 501 + 2 * i);
    EXPECT_FALSE(all[i].applied);
    EXPECT_EQ(all[i].code, "rejected");
    EXPECT_EQ(all[i].reason, "r" + std::to_string(all[i].mutation_id));
  }
  auto some = take(store->rejections("dev-1", 2000, 5));
  ASSERT_EQ(some.size(), 5u);
  EXPECT_EQ(some[0].mutation_id, 2001u);
  EXPECT_EQ(some[4].mutation_id, 2009u);
  auto other = take(store->rejections("dev-2", 0, 10));
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].code, "permission_denied");
}

// Bulk writes (seeding, upstream imports): one transaction of many puts over two scopes —
// more than a store may hold back at once, a body over 4 MiB, the same key written
// twice, reads of its own writes, a remove of a record written just before — leaves exactly
// what a put-by-put reading says: bodies, log, heads, counts and bytes.
TEST_P(ServerStoreTest, ABulkTransactionIsWhatItsPutsSayInOrder) {
  auto store = open_store();
  const std::vector<std::string> scopes = {"user/t/a", "user/t/b"};
  std::map<std::string, std::map<std::string, std::string>> want;  // scope -> key -> body
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> log;  // key, body
  auto tx = take(store->begin_write());
  auto put = [&](const std::string& scope, const std::string& key, const std::string& body) {
    const uint64_t seq = take(tx->put(scope, "contacts", key, 1, body));
    log[scope].emplace_back(key, body);
    EXPECT_EQ(seq, log[scope].size());
    want[scope][key] = body;
  };
  for (int i = 0; i < 2'300; ++i) {
    put(scopes[i % 2], "k" + std::to_string(i % 1'200), "body " + std::to_string(i));
    if (i == 640) {
      auto own = take(tx->get(scopes[0], "contacts", "k640"));
      ASSERT_TRUE(own.has_value());
      EXPECT_EQ(own->body, "body 640");
    }
  }
  put(scopes[1], "big", std::string(4'500'000, 'x'));
  put(scopes[1], "big", "small again");
  EXPECT_EQ(take(tx->remove(scopes[0], "contacts", "k2", 1)), log[scopes[0]].size() + 1);
  log[scopes[0]].emplace_back("k2", "");
  want[scopes[0]].erase("k2");
  auto heads = take(tx->commit());
  ASSERT_EQ(heads.size(), 2u);
  tx.reset();
  for (const std::string& scope : scopes) {
    SCOPED_TRACE(scope);
    ScopeInfo info = take(store->scope_info(scope));
    EXPECT_EQ(info.head_seq, log[scope].size());
    EXPECT_EQ(info.record_count, want[scope].size());
    uint64_t bytes = 0;
    for (const auto& [key, body] : want[scope]) bytes += 8 + key.size() + body.size();
    EXPECT_EQ(info.record_bytes, bytes);
    for (const auto& [key, body] : want[scope]) {
      auto got = take(store->get(scope, "contacts", key));
      ASSERT_TRUE(got.has_value()) << key;
      EXPECT_EQ(got->body, body) << key;
    }
    LogPage page = take(store->read_log(scope, 0, 5'000, UINT64_MAX, -1));
    ASSERT_EQ(page.entries.size(), log[scope].size());
    for (size_t i = 0; i < page.entries.size(); ++i) {
      EXPECT_EQ(page.entries[i].seq, i + 1);
      EXPECT_EQ(page.entries[i].key, log[scope][i].first);
      EXPECT_EQ(page.entries[i].body, log[scope][i].second);
    }
  }
}

TEST_P(ServerStoreTest, RollingBackToASavepointUndoesOnlyItsWrites) {
  auto store = open_store();
  auto tx = take(store->begin_write());
  EXPECT_EQ(take(tx->put("user/t/u", "c", "kept", 0, "a")), 1u);
  check(tx->savepoint());
  EXPECT_EQ(take(tx->put("user/t/u", "c", "undone", 0, "b")), 2u);
  check(tx->record_outcome("client", RecordedOutcome{7, true, "", ""}));
  check(tx->rollback_to_savepoint());
  check(tx->savepoint());
  EXPECT_EQ(take(tx->put("user/t/u", "c", "second", 0, "c")), 2u);  // the seq is reused
  check(tx->release_savepoint());
  EXPECT_EQ(tx->rollback_to_savepoint().code(), ErrorCode::kFailedPrecondition);
  auto heads = take(tx->commit());
  ASSERT_EQ(heads.size(), 1u);
  EXPECT_EQ(heads[0].head_seq, 2u);
  tx.reset();
  EXPECT_FALSE(take(store->get("user/t/u", "c", "undone")).has_value());
  EXPECT_TRUE(take(store->get("user/t/u", "c", "second")).has_value());
  EXPECT_EQ(take(store->last_mutation_id("client")), 0u);
  EXPECT_EQ(take(store->scope_info("user/t/u")).record_count, 2u);
}

}  // namespace
}  // namespace outpost::store_test

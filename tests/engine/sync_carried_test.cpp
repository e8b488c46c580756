// A commit's changes carried with its poke (ServerFrame.carried, decision 032), sans-I/O:
// the real server core over a real SQLite server store builds them
// (ServerCore::carried_changes), real replicas apply them through SyncClient::on_carried —
// and refuse, storing nothing, every carried batch whose base is not their own cursor, that
// claims a cursor ahead of its head, that arrives with a request in flight or names a scope
// the device does not follow. A refused device pulls and converges.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/limits.h"
#include "engine/replica.h"
#include "engine/server_core.h"
#include "engine/sync_client.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "support/views.h"
#include "test_support.h"
#include "tests/support/domain_harness.h"

namespace outpost {
namespace {

namespace d = outpost::domain;
namespace m = outpost::mutations;

constexpr const char* kUserScope = "user/acme/ann";
constexpr const char* kOrgScope = "org/acme";

class SyncCarried : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteServerStore::open(dir_.file("server.db"));
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    store_ = std::move(store).value();
    core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), domain_mutators());
    core_->add_commit_listener([this](const std::vector<CommittedHead>& heads) {
      for (const CommittedHead& head : heads) heard_.push_back(head);
    });
  }

  // Writes `count` voicemails into the user scope in one commit; returns its head.
  CommittedHead commit_voicemails(int first, int count, size_t body_bytes = 20) {
    heard_.clear();
    Status written = core_->write([&](ServerWriteTx& tx) -> Status {
      for (int i = first; i < first + count; ++i) {
        d::Voicemail v;
        v.set_id("vm-" + std::to_string(i));
        v.set_caller_name(std::string(body_bytes, 'c'));
        v.set_received_ms(1000 + i);
        OUTPOST_ASSIGN_OR_RETURN(uint64_t version,
                                 tx.put(kUserScope, "voicemail", v.id(), 0, v.SerializeAsString()));
        (void)version;
      }
      return Status::Ok();
    });
    EXPECT_TRUE(written.ok()) << written.to_string();
    EXPECT_EQ(heard_.size(), 1u);
    return heard_.empty() ? CommittedHead{} : heard_.back();
  }

  // The carried frame of `head` as the server would send it.
  protocol::Carried carried_of(const CommittedHead& head) {
    auto changes =
        core_->carried_changes(head, limits::kMaxCarriedChanges, limits::kMaxCarriedBytes);
    EXPECT_TRUE(changes.ok()) << changes.status().to_string();
    EXPECT_TRUE(changes.ok() && changes->has_value());
    protocol::Carried carried;
    carried.set_base(head.base_seq.value_or(0));
    if (changes.ok() && changes->has_value()) *carried.mutable_changes() = **changes;
    return carried;
  }

  testing::TestDevice& device(const std::string& name) {
    auto& device = devices_.emplace_back(std::make_unique<testing::TestDevice>());
    device->path = dir_.file(name + ".db");
    device->who = Principal{"acme", "ann", name};
    device->open();
    return *device;
  }

  uint64_t stored_cursor(testing::TestDevice& device, const std::string& scope) {
    auto cursors = device.replica->cursors();
    EXPECT_TRUE(cursors.ok());
    if (cursors.ok()) {
      for (const auto& cursor : *cursors) {
        if (cursor.scope == scope) return cursor.seq;
      }
    }
    return 0;
  }

  // The device's next request is a pull (it knows it is behind).
  static void expect_next_is_pull(testing::TestDevice& device) {
    auto next = device.client->next_request();
    ASSERT_TRUE(next.ok()) << next.status().to_string();
    ASSERT_TRUE(next->has_value());
    EXPECT_TRUE((*next)->has_pull());
    device.client->on_request_failed();  // not sent: the test syncs it afterwards
  }

  void expect_converged(testing::TestDevice& device) {
    EXPECT_EQ(support::device_view(*device.replica, SCOPE_USER),
              support::server_view(*store_, {kUserScope}));
    EXPECT_EQ(support::device_view(*device.replica, SCOPE_ORG),
              support::server_view(*store_, {kOrgScope}));
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteServerStore> store_;
  std::unique_ptr<ServerCore> core_;
  std::vector<CommittedHead> heard_;
  std::vector<std::unique_ptr<testing::TestDevice>> devices_;
  int64_t now_ms_ = 1'790'000'000'000;
};

TEST_F(SyncCarried, TheStoreReportsEachCommitsBase) {
  CommittedHead first = commit_voicemails(0, 3);
  ASSERT_TRUE(first.base_seq.has_value());
  EXPECT_EQ(*first.base_seq, 0u);
  EXPECT_EQ(first.head_seq, 3u);
  CommittedHead second = commit_voicemails(3, 2);
  ASSERT_TRUE(second.base_seq.has_value());
  EXPECT_EQ(*second.base_seq, 3u);
  EXPECT_EQ(second.head_seq, 5u);
}

TEST_F(SyncCarried, CarriedChangesAreWhatAPullFromTheBaseAnswers) {
  commit_voicemails(0, 3);
  CommittedHead head = commit_voicemails(3, 2);
  protocol::Carried carried = carried_of(head);
  protocol::PullRequest request;
  request.set_client_id("checker");
  request.set_schema_version(Schema::domain().version());
  request.set_protocol_version(protocol::VERSION_CURRENT);
  auto* cursor = request.add_cursors();
  cursor->set_scope(kUserScope);
  cursor->set_seq(3);
  auto pulled = core_->pull(Principal{"acme", "ann", "checker"}, request);
  ASSERT_TRUE(pulled.ok()) << pulled.status().to_string();
  ASSERT_EQ(pulled->scopes_size(), 1);
  EXPECT_EQ(carried.changes().SerializeAsString(), pulled->scopes(0).SerializeAsString());
  EXPECT_EQ(carried.changes().changes_size(), 2);
  EXPECT_EQ(carried.changes().cursor(), 5u);
}

TEST_F(SyncCarried, ChangesThatCannotTravelAreNotCarried) {
  CommittedHead first = commit_voicemails(0, 3);
  auto none = [&](const CommittedHead& head, uint32_t changes = limits::kMaxCarriedChanges,
                  uint64_t bytes = limits::kMaxCarriedBytes) {
    auto carried = core_->carried_changes(head, changes, bytes);
    EXPECT_TRUE(carried.ok()) << carried.status().to_string();
    return carried.ok() && !carried->has_value();
  };
  EXPECT_TRUE(none(first));  // base 0: a fresh device takes a snapshot
  CommittedHead second = commit_voicemails(3, 3);
  EXPECT_TRUE(none(CommittedHead{second.scope, second.head_seq}));  // base unknown
  EXPECT_TRUE(none(second, 2));                                     // more changes than allowed
  EXPECT_TRUE(none(second, limits::kMaxCarriedChanges, 10));        // more bytes than allowed
  EXPECT_FALSE(none(second));
  // Behind the compaction horizon the device must reset: never carried.
  commit_voicemails(0, 6);  // rewrites every record: the old entries can go
  ASSERT_TRUE(core_->compact(kUserScope, 0).ok());
  EXPECT_TRUE(none(second));
}

TEST_F(SyncCarried, ADeviceAtTheBaseAppliesTheCarriedChangesAndConverges) {
  commit_voicemails(0, 3);
  testing::TestDevice& phone = device("phone");
  testing::sync_in_process(*core_, phone, now_ms_);
  ASSERT_EQ(stored_cursor(phone, kUserScope), 3u);
  CommittedHead head = commit_voicemails(3, 2);
  auto applied = phone.client->on_carried(carried_of(head));
  ASSERT_TRUE(applied.ok()) << applied.status().to_string();
  EXPECT_TRUE(*applied);
  EXPECT_EQ(stored_cursor(phone, kUserScope), 5u);
  EXPECT_TRUE(phone.client->up_to_date());
  expect_converged(phone);
  // The next commit follows on from there.
  applied = phone.client->on_carried(carried_of(commit_voicemails(5, 1)));
  ASSERT_TRUE(applied.ok() && *applied);
  EXPECT_EQ(stored_cursor(phone, kUserScope), 6u);
  expect_converged(phone);
}

// The hostile side: whatever a server (or a man in the middle of a broken TLS setup) sends,
// a carried batch that does not start at the device's own cursor is refused with nothing
// stored — never a cursor ahead of what the device saw — and the device pulls instead.
TEST_F(SyncCarried, AWrongBaseIsRefusedNothingStoredAndTheDevicePulls) {
  commit_voicemails(0, 3);
  testing::TestDevice& phone = device("phone");
  testing::sync_in_process(*core_, phone, now_ms_);
  ASSERT_EQ(stored_cursor(phone, kUserScope), 3u);
  commit_voicemails(3, 2);                       // the device missed this one (5)
  CommittedHead head = commit_voicemails(5, 1);  // base 5, head 6
  protocol::Carried carried = carried_of(head);
  for (uint64_t base : {uint64_t{5}, uint64_t{2}, uint64_t{4}}) {
    protocol::Carried wrong = carried;
    wrong.set_base(base);
    auto applied = phone.client->on_carried(wrong);
    ASSERT_TRUE(applied.ok()) << applied.status().to_string();
    EXPECT_FALSE(*applied) << "base " << base;
    EXPECT_EQ(stored_cursor(phone, kUserScope), 3u);
    EXPECT_FALSE(phone.get<d::Voicemail>("vm-5").has_value());
    EXPECT_FALSE(phone.client->up_to_date());
    expect_next_is_pull(phone);
  }
  // The claimed base is the device's, but the batch says its cursor is past its head.
  protocol::Carried ahead = carried;
  ahead.set_base(3);
  ahead.mutable_changes()->set_cursor(99);
  auto applied = phone.client->on_carried(ahead);
  ASSERT_TRUE(applied.ok());
  EXPECT_FALSE(*applied);
  EXPECT_EQ(stored_cursor(phone, kUserScope), 3u);
  // A scope the device does not follow (another user's), whatever its base.
  protocol::Carried foreign = carried;
  foreign.set_base(3);
  foreign.mutable_changes()->set_scope("user/acme/bob");
  applied = phone.client->on_carried(foreign);
  ASSERT_TRUE(applied.ok());
  EXPECT_FALSE(*applied);
  EXPECT_EQ(support::device_view(*phone.replica, SCOPE_USER).size(), 3u);
  // It pulls and converges.
  testing::sync_in_process(*core_, phone, now_ms_);
  EXPECT_EQ(stored_cursor(phone, kUserScope), 6u);
  expect_converged(phone);
}

TEST_F(SyncCarried, ARequestInFlightMeansPullInstead) {
  commit_voicemails(0, 3);
  testing::TestDevice& phone = device("phone");
  testing::sync_in_process(*core_, phone, now_ms_);
  phone.client->on_poke(protocol::Poke());  // something else made it pull
  auto pull = phone.client->next_request();
  ASSERT_TRUE(pull.ok() && pull->has_value());
  CommittedHead head = commit_voicemails(3, 2);
  auto applied = phone.client->on_carried(carried_of(head));
  ASSERT_TRUE(applied.ok());
  EXPECT_FALSE(*applied);
  EXPECT_EQ(stored_cursor(phone, kUserScope), 3u);
  // The pull in flight is answered (it holds the change), then one more pull settles.
  auto response = core_->pull(phone.who, (*pull)->pull());
  ASSERT_TRUE(response.ok());
  ASSERT_TRUE(phone.client->on_pull_response(*response).ok());
  testing::sync_in_process(*core_, phone, now_ms_);
  EXPECT_EQ(stored_cursor(phone, kUserScope), 5u);
  expect_converged(phone);
}

TEST_F(SyncCarried, AnotherProcessThatMovedTheStoredCursorMakesItStale) {
  commit_voicemails(0, 3);
  testing::TestDevice& phone = device("phone");
  testing::sync_in_process(*core_, phone, now_ms_);
  // A second process on the same replica file (decision 007) catches up first.
  testing::TestDevice extension;
  extension.path = phone.path;
  extension.who = phone.who;
  extension.open();
  CommittedHead head = commit_voicemails(3, 2);
  testing::sync_in_process(*core_, extension, now_ms_);
  ASSERT_EQ(stored_cursor(phone, kUserScope), 5u);
  // The phone's memory still says 3, the file says 5: the carried batch is stale.
  auto applied = phone.client->on_carried(carried_of(head));
  ASSERT_TRUE(applied.ok()) << applied.status().to_string();
  EXPECT_FALSE(*applied);
  EXPECT_EQ(stored_cursor(phone, kUserScope), 5u);
  expect_next_is_pull(phone);
}

TEST_F(SyncCarried, ADeviceThatDoesNotAcceptThemDoesNotAnnounceIt) {
  testing::TestDevice& phone = device("phone");
  auto pull = phone.client->next_request();
  ASSERT_TRUE(pull.ok() && pull->has_value());
  EXPECT_TRUE((*pull)->pull().accepts_carried());
  SyncClientOptions old;
  old.accept_carried = false;
  SyncClient older(ReplicaSync(*phone.replica), old);
  auto old_pull = older.next_request();
  ASSERT_TRUE(old_pull.ok() && old_pull->has_value());
  EXPECT_FALSE((*old_pull)->pull().accepts_carried());
}

}  // namespace
}  // namespace outpost

namespace outpost {
namespace {

m::SaveDraft draft_args(const std::string& id, const std::string& body) {
  m::SaveDraft args;
  args.mutable_draft()->set_id(id);
  args.mutable_draft()->set_interaction_id("conversation-" + id);
  args.mutable_draft()->set_body(body);
  return args;
}

// The ids of the mutations a request pushes (none when it is not a push).
std::vector<uint64_t> pushed_ids(const Result<std::optional<protocol::ClientFrame>>& next) {
  std::vector<uint64_t> ids;
  if (next.ok() && next->has_value() && (*next)->has_push()) {
    for (const auto& mutation : (*next)->push().mutations()) ids.push_back(mutation.id());
  }
  return ids;
}

// Decision 051: with skip_unchanged_outbox an idle device does not read its outbox after a
// carried change (which cannot add to it), and reads it again as soon as something may have:
// a mutation through its own replica at once, another connection's once refresh() noticed
// that commit (SyncAgent refreshes on every foreign-commit check). Nothing typed stays behind.
TEST_F(SyncCarried, AnIdleDeviceReadsItsOutboxAgainOnlyWhenSomethingMayHaveAddedToIt) {
  commit_voicemails(0, 3);
  testing::TestDevice& phone = device("phone");
  SyncClientOptions options;
  options.skip_unchanged_outbox = true;
  phone.client = std::make_unique<SyncClient>(*phone.replica, options);
  testing::sync_in_process(*core_, phone, now_ms_);
  ASSERT_TRUE(phone.client->up_to_date());

  // A carried change does not move the outbox's generation: the pump after it reads nothing.
  const uint64_t before_carried = phone.replica->outbox_generation();
  auto applied = phone.client->on_carried(carried_of(commit_voicemails(3, 1)));
  ASSERT_TRUE(applied.ok() && *applied);
  EXPECT_EQ(phone.replica->outbox_generation(), before_carried);
  auto next = phone.client->next_request();
  ASSERT_TRUE(next.ok()) << next.status().to_string();
  EXPECT_FALSE(next->has_value());

  // A mutation through this replica is pushed at once.
  const uint64_t own = phone.mutate("save_draft", draft_args("d1", "mine"), now_ms_);
  EXPECT_NE(phone.replica->outbox_generation(), before_carried);
  next = phone.client->next_request();
  EXPECT_EQ(pushed_ids(next), std::vector<uint64_t>{own});
  phone.client->on_request_failed();  // not sent: synced below
  testing::sync_in_process(*core_, phone, now_ms_);
  ASSERT_TRUE(phone.client->up_to_date());
  next = phone.client->next_request();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());

  // Another connection to the file (an app extension) adds one: this connection learns of
  // it from refresh(), then pushes it. A client that reads the outbox every time (the
  // option's default) pushes it without waiting for the refresh.
  testing::TestDevice extension;
  extension.path = phone.path;
  extension.who = phone.who;
  extension.open();
  const uint64_t theirs = extension.mutate("save_draft", draft_args("d2", "theirs"), now_ms_);
  SyncClient reads_every_time(*phone.replica);
  reads_every_time.on_connected();
  auto eager = reads_every_time.next_request();
  EXPECT_EQ(pushed_ids(eager), std::vector<uint64_t>{theirs});
  next = phone.client->next_request();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value()) << "read although nothing said the outbox moved";
  auto refreshed = phone.replica->refresh();
  ASSERT_TRUE(refreshed.ok()) << refreshed.status().to_string();
  EXPECT_TRUE(refreshed->outbox_changed);
  next = phone.client->next_request();
  EXPECT_EQ(pushed_ids(next), std::vector<uint64_t>{theirs});
  phone.client->on_request_failed();
  testing::sync_in_process(*core_, phone, now_ms_);
  auto pending = phone.replica->pending();
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());
  EXPECT_TRUE(phone.get<d::Draft>("d2").has_value());
}

// The same without a journal entry to say so (a writer that does not keep one, or a
// journal row already pruned): refresh() moves the generation for any commit of another
// connection, whatever its entry says.
TEST_F(SyncCarried, AnyCommitOfAnotherConnectionMovesTheOutboxGeneration) {
  testing::TestDevice& phone = device("phone");
  const uint64_t before = phone.replica->outbox_generation();
  auto unchanged = phone.replica->refresh();
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(phone.replica->outbox_generation(), before);
  // A commit that leaves no journal row: the journal's own table, emptied.
  SQLite::Database db(phone.path, SQLite::OPEN_READWRITE);
  db.exec("DELETE FROM _journal");
  auto refreshed = phone.replica->refresh();
  ASSERT_TRUE(refreshed.ok()) << refreshed.status().to_string();
  EXPECT_NE(phone.replica->outbox_generation(), before);
}

}  // namespace
}  // namespace outpost

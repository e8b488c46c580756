// A device whose cursor or continuation token the server refuses as not issued by it (a
// server restored from a backup; a server whose cursor key changed mid-snapshot) starts
// that scope over and converges, keeping its pending mutations: real replicas, the real
// server core over real SQLite server stores, frames passed by hand.
#include <gtest/gtest.h>

#include "adapters/sqlite_server_store.h"
#include "engine/cursor_token.h"
#include "engine/domain_mutators.h"
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

// One server: a store file and the core in front of it.
struct Server {
  std::unique_ptr<SqliteServerStore> store;
  std::unique_ptr<ServerCore> core;
};

class SyncCursorRefused : public ::testing::Test {
 protected:
  Server server(const std::string& name) {
    auto store = SqliteServerStore::open(dir_.file(name));
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    Server out;
    out.store = std::move(store).value();
    out.core = std::make_unique<ServerCore>(*out.store, Schema::domain(), domain_mutators());
    return out;
  }

  void seed(Server& server, const std::string& scope, const google::protobuf::Message& record) {
    const Collection* collection = Schema::domain().find(record.GetDescriptor());
    Status written = server.core->write([&](ServerWriteTx& tx) -> Status {
      auto version = tx.put(scope, collection->name, collection->key_of(record),
                            collection->priority, record.SerializeAsString());
      return version.ok() ? Status::Ok() : version.status();
    });
    ASSERT_TRUE(written.ok()) << written.to_string();
  }

  static d::Voicemail voicemail(const std::string& id, const std::string& caller) {
    d::Voicemail v;
    v.set_id(id);
    v.set_caller_name(caller);
    v.set_received_ms(1000);
    return v;
  }

  testing::TestDevice& device() {
    device_.path = dir_.file("ann-phone.db");
    device_.who = Principal{"acme", "ann", "ann-phone"};
    device_.open();
    return device_;
  }

  // Equal to the server byte for byte (keys, versions, bodies), nothing pending.
  void expect_converged(Server& server) {
    auto pending = device_.replica->pending();
    ASSERT_TRUE(pending.ok());
    EXPECT_TRUE(pending->empty());
    EXPECT_EQ(support::device_view(*device_.replica, SCOPE_USER),
              support::server_view(*server.store, {kUserScope}));
    EXPECT_EQ(support::device_view(*device_.replica, SCOPE_ORG),
              support::server_view(*server.store, {kOrgScope}));
  }

  // How many times the server's log of `scope` wrote `key`.
  static int writes_of(Server& server, const std::string& scope, const std::string& key) {
    auto page = server.store->read_log(scope, 0, 100000, uint64_t{1} << 40, -1);
    EXPECT_TRUE(page.ok()) << page.status().to_string();
    int writes = 0;
    if (page.ok()) {
      for (const auto& entry : page->entries) writes += entry.key == key ? 1 : 0;
    }
    return writes;
  }

  testing::TempDir dir_;
  testing::TestDevice device_;
  int64_t now_ms_ = 1'790'000'000'000;
};

TEST_F(SyncCursorRefused, RestoredServerBehindTheCursorRestartsTheScopeKeepingPendingMutations) {
  Server before = server("before.db");
  for (int i = 0; i < 6; ++i) {
    seed(before, kUserScope, voicemail("vm-" + std::to_string(i), "Caller " + std::to_string(i)));
  }
  d::Contact contact;
  contact.set_id("c1");
  contact.set_first_name("Chloe");
  seed(before, kOrgScope, contact);
  testing::TestDevice& phone = device();
  testing::sync_in_process(*before.core, phone, now_ms_);
  ASSERT_EQ(support::device_view(*phone.replica, SCOPE_USER).size(), 6u);

  // The server is restored from a backup holding fewer changes: vm-1 as it was earlier
  // (another caller name, a lower version), vm-4 and vm-5 never written, vm-9 only there.
  Server restored = server("restored.db");
  seed(restored, kUserScope, voicemail("vm-0", "Caller 0"));
  seed(restored, kUserScope, voicemail("vm-1", "Earlier caller 1"));
  seed(restored, kUserScope, voicemail("vm-9", "Caller 9"));
  seed(restored, kOrgScope, contact);

  // Offline meanwhile: mutations on a record both servers have, on one the restored server
  // lost, and a new record.
  m::MarkVoicemailRead read;
  read.set_id("vm-1");
  phone.mutate("mark_voicemail_read", read, now_ms_);
  read.set_id("vm-5");
  phone.mutate("mark_voicemail_read", read, now_ms_);
  m::SetUserSetting setting;
  setting.set_name("last_queue.email");
  setting.set_value("q1");
  phone.mutate("set_user_setting", setting, now_ms_);

  testing::sync_in_process(*restored.core, phone, now_ms_);
  expect_converged(restored);
  auto vm1 = phone.get<d::Voicemail>("vm-1");
  ASSERT_TRUE(vm1.has_value());
  EXPECT_TRUE(vm1->read());
  EXPECT_EQ(vm1->caller_name(), "Earlier caller 1");
  EXPECT_FALSE(phone.get<d::Voicemail>("vm-5").has_value());
  EXPECT_TRUE(phone.get<d::Voicemail>("vm-9").has_value());
  ASSERT_TRUE(phone.get<d::UserSetting>("last_queue.email").has_value());
  // Each mutation took effect on the server exactly once (seeded + marked read).
  EXPECT_EQ(writes_of(restored, kUserScope, "vm-1"), 2);
  EXPECT_EQ(writes_of(restored, kUserScope, "last_queue.email"), 1);

  // And it stays converged: a new server change arrives through the log.
  seed(restored, kUserScope, voicemail("vm-10", "Caller 10"));
  testing::sync_in_process(*restored.core, phone, now_ms_);
  expect_converged(restored);
}

// Decision 051: a connection that learnt that no scope restarts (it asks once, then answers
// from memory) still finishes a restart that another connection to the file began (an app
// extension that got the refusal): the rows the new snapshot lacks go.
TEST_F(SyncCursorRefused, ARestartBegunByAnotherConnectionIsFinishedByThisOne) {
  Server before = server("before.db");
  for (int i = 0; i < 6; ++i) {
    seed(before, kUserScope, voicemail("vm-" + std::to_string(i), "Caller " + std::to_string(i)));
  }
  testing::TestDevice& phone = device();
  testing::sync_in_process(*before.core, phone, now_ms_);
  seed(before, kUserScope, voicemail("vm-6", "Caller 6"));
  testing::sync_in_process(*before.core, phone, now_ms_);  // a log page: no restart known
  ASSERT_EQ(support::device_view(*phone.replica, SCOPE_USER).size(), 7u);

  Server restored = server("restored.db");
  seed(restored, kUserScope, voicemail("vm-0", "Caller 0"));
  seed(restored, kUserScope, voicemail("vm-9", "Caller 9"));
  testing::TestDevice extension;
  extension.path = phone.path;
  extension.who = phone.who;
  extension.open();
  auto restarted = extension.replica->restart_scope(kUserScope);
  ASSERT_TRUE(restarted.ok()) << restarted.status().to_string();

  testing::sync_in_process(*restored.core, phone, now_ms_);
  expect_converged(restored);
  EXPECT_FALSE(phone.get<d::Voicemail>("vm-5").has_value());
  EXPECT_TRUE(phone.get<d::Voicemail>("vm-9").has_value());
}

// The backup predates mutations the device pushed and saw confirmed (so dropped from its
// outbox): the restored server's last id for this client is behind the device's next one.
// The device's new mutations must still reach it, not be refused as "skipping" ids forever.
TEST_F(SyncCursorRefused, RestoredServerThatLostConfirmedMutationIdsTakesTheNextOnes) {
  Server before = server("before.db");
  seed(before, kUserScope, voicemail("vm-0", "Caller 0"));
  testing::TestDevice& phone = device();
  testing::sync_in_process(*before.core, phone, now_ms_);
  m::SetUserSetting setting;
  setting.set_name("theme");
  for (const char* value : {"dark", "light", "blue"}) {
    setting.set_value(value);
    phone.mutate("set_user_setting", setting, now_ms_);
  }
  testing::sync_in_process(*before.core, phone, now_ms_);
  expect_converged(before);

  // Restored from a backup taken before those three pushes.
  Server restored = server("restored.db");
  seed(restored, kUserScope, voicemail("vm-0", "Caller 0"));
  setting.set_name("signature");
  setting.set_value("Best regards from Support");
  phone.mutate("set_user_setting", setting, now_ms_);

  testing::sync_in_process(*restored.core, phone, now_ms_);
  expect_converged(restored);
  auto signature = phone.get<d::UserSetting>("signature");
  ASSERT_TRUE(signature.has_value());
  EXPECT_EQ(writes_of(restored, kUserScope, "signature"), 1);

  // And the next one after that goes through as usual.
  setting.set_value("Kind regards");
  phone.mutate("set_user_setting", setting, now_ms_);
  testing::sync_in_process(*restored.core, phone, now_ms_);
  expect_converged(restored);
  EXPECT_EQ(writes_of(restored, kUserScope, "signature"), 2);
}

TEST_F(SyncCursorRefused, UnverifiableTokenMidSnapshotRestartsTheScope) {
  Server server_a = server("server.db");
  server_a.core->set_cursor_key("key before the upgrade");
  // More than one page (the test device pulls 50 changes at a time).
  for (int i = 0; i < 120; ++i) {
    seed(server_a, kUserScope, voicemail("vm-" + std::to_string(i), "Caller"));
  }
  testing::TestDevice& phone = device();
  phone.client->on_connected();
  auto first = phone.client->next_request();
  ASSERT_TRUE(first.ok() && first->has_value());
  ASSERT_TRUE((*first)->has_pull());
  auto page = server_a.core->pull(phone.who, (*first)->pull());
  ASSERT_TRUE(page.ok()) << page.status().to_string();
  ASSERT_TRUE(phone.client->on_pull_response(*page).ok());
  auto cursors = phone.replica->cursors();
  ASSERT_TRUE(cursors.ok());
  bool mid_snapshot = false;
  for (const auto& cursor : *cursors) mid_snapshot |= !cursor.token.empty();
  ASSERT_TRUE(mid_snapshot);

  // Offline edit of a record the first page delivered.
  m::MarkVoicemailRead read;
  read.set_id("vm-0");
  phone.mutate("mark_voicemail_read", read, now_ms_);

  // The server comes back with another cursor key: the stored token no longer verifies.
  Server server_b = server("server.db");
  server_b.core->set_cursor_key("key after the upgrade");
  seed(server_b, kUserScope, voicemail("vm-new", "Caller"));
  testing::sync_in_process(*server_b.core, phone, now_ms_);
  expect_converged(server_b);
  auto vm0 = phone.get<d::Voicemail>("vm-0");
  ASSERT_TRUE(vm0.has_value());
  EXPECT_TRUE(vm0->read());
  EXPECT_EQ(writes_of(server_b, kUserScope, "vm-0"), 2);
}

TEST_F(SyncCursorRefused, OnlyTheNamedScopeRestartsAndOtherRefusalsStand) {
  testing::TestDevice& phone = device();
  phone.client->on_connected();
  auto request = phone.client->next_request();
  ASSERT_TRUE(request.ok() && request->has_value());
  // Another refusal: not this device's cursor, so it stands.
  auto other = phone.client->on_request_refused(
      error(ErrorCode::kFailedPrecondition, "server: " + cursor_not_issued("user/acme/bob")));
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(*other);
  auto plain = phone.client->on_request_refused(error(ErrorCode::kInvalidArgument, "bad"));
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(*plain);
  auto named = phone.client->on_request_refused(
      error(ErrorCode::kFailedPrecondition, "server: " + cursor_not_issued(kOrgScope) + ": x"));
  ASSERT_TRUE(named.ok());
  EXPECT_TRUE(*named);
  EXPECT_FALSE(phone.client->request_in_flight());
}

}  // namespace
}  // namespace outpost

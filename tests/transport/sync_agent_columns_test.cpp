// Decision 045 end to end: a real server (SqliteServerStore + ServerCore + SyncServer on
// 127.0.0.1) and real devices (SyncAgents with their own replica files). A device whose
// pulls accept column pages gets its snapshot and catch-up pages column-wise and lands the
// same replica contents as a device that does not (as one predating it, in stream format 1
// or 2); a new device against a server that does not send them (as one predating it) syncs
// from plain pages.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "adapters/demo_data.h"
#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/server_core.h"
#include "outpost/domain.pb.h"
#include "tests/engine/test_support.h"
#include "tests/transport/server_requests.h"
#include "transport/sync_agent.h"
#include "transport/sync_server.h"
#include "transport/token.h"

namespace outpost {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTenant = "T";
constexpr const char* kUser = "U";
const std::string kKey(32, 'k');
constexpr int kContacts = 700;
constexpr int kInteractions = 300;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

// Every collection's record bodies, sorted: what a replica holds.
using Contents = std::map<std::string, std::vector<std::string>>;

class SyncAgentColumnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteServerStore::open(dir_.file("server.db"));
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    store_ = std::move(store).value();
    core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), domain_mutators());
  }

  void TearDown() override {
    agents_.clear();
    if (server_) server_->stop();
    server_.reset();
    core_.reset();
    store_.reset();
  }

  void start_server(bool send_column_pages) {
    SyncServerOptions options;
    options.shutdown_grace_ms = 1000;
    options.send_column_pages = send_column_pages;
    server_ = std::make_unique<SyncServer>(*core_, tokens_, options);
    ASSERT_TRUE(server_->start().ok());
  }

  // Demo contacts in the org scope; ~300-byte interactions and a few voicemails in the user
  // scope (optional fields left absent on some, repeated fields on others).
  void seed() {
    Status written = core_->write([&](ServerWriteTx& tx) -> Status {
      for (int i = 0; i < kContacts; ++i) {
        OUTPOST_RETURN_IF_ERROR(tx.put(org_scope(kTenant), "contact",
                                       "contact-" + std::to_string(i), 0,
                                       demo_contact(static_cast<uint64_t>(i), 1))
                                    .status());
      }
      for (int i = 0; i < kInteractions; ++i) {
        domain::Interaction interaction;
        interaction.set_id("interaction-" + std::to_string(i));
        interaction.set_media(static_cast<domain::MediaType>(1 + i % 4));
        interaction.set_peer_name("Peer " + std::to_string(i % 17));
        interaction.set_peer_address("+32 470 " + std::to_string(100000 + i * 7));
        interaction.set_started_ms(1'795'000'000'000 + i * 61'000LL);
        if (i % 3 != 0) interaction.set_ended_ms(1'795'000'000'000 + i * 61'000LL + 45'000);
        interaction.set_duration_s(i % 3 != 0 ? 45 : 0);
        interaction.set_queue_name(i % 2 ? "Support" : "Sales");
        interaction.set_wrapup_notes(std::string(i % 100, 'n'));
        interaction.set_day("2026-11-" + std::to_string(10 + i % 20));
        OUTPOST_RETURN_IF_ERROR(tx.put(user_scope(kTenant, kUser), "interaction", interaction.id(),
                                       0, interaction.SerializeAsString())
                                    .status());
      }
      for (int i = 0; i < 20; ++i) {
        domain::Voicemail voicemail;
        voicemail.set_id("vm-" + std::to_string(i));
        voicemail.set_caller_name("caller " + std::to_string(i));
        voicemail.set_received_ms(1'700'000'000'000 + i);
        OUTPOST_RETURN_IF_ERROR(tx.put(user_scope(kTenant, kUser), "voicemail", voicemail.id(), 0,
                                       voicemail.SerializeAsString())
                                    .status());
      }
      return Status::Ok();
    });
    ASSERT_TRUE(written.ok()) << written.to_string();
  }

  // An upstream commit of 60 changes in the org scope: 40 contacts rewritten, 20 deleted.
  void change_contacts() {
    Status written = core_->write([&](ServerWriteTx& tx) -> Status {
      for (int i = 0; i < 60; ++i) {
        const std::string key = "contact-" + std::to_string(i * 7);
        if (i % 3 == 2) {
          OUTPOST_RETURN_IF_ERROR(tx.remove(org_scope(kTenant), "contact", key, 0).status());
        } else {
          OUTPOST_RETURN_IF_ERROR(
              tx.put(org_scope(kTenant), "contact", key, 0, demo_contact(i * 7, 2)).status());
        }
      }
      return Status::Ok();
    });
    ASSERT_TRUE(written.ok()) << written.to_string();
  }

  // Carried frames off, so a commit reaches the devices through a pull (a log page).
  SyncAgent& start_agent(const std::string& device, bool accept_column_pages,
                         bool offer_message_format = true) {
    SyncAgentOptions options;
    options.server_url = "http://127.0.0.1:" + std::to_string(server_->port());
    options.token =
        server_test::issue_token(tokens_, kTenant, kUser, device, wall_ms(), wall_ms() + 3600'000);
    options.replica_path = dir_.file(device + ".db");
    options.backoff_base_ms = 20;
    options.backoff_max_ms = 200;
    options.random_seed = 7;
    options.client.accept_carried = false;
    options.client.accept_column_pages = accept_column_pages;
    options.offer_message_format = offer_message_format;
    auto agent = SyncAgent::open(std::move(options));
    EXPECT_TRUE(agent.ok()) << agent.status().to_string();
    agents_.push_back(std::move(agent).value());
    EXPECT_TRUE(agents_.back()->start().ok());
    return *agents_.back();
  }

  static uint64_t count(SyncAgent& agent, const std::string& collection) {
    uint64_t n = 0;
    (void)agent.with_replica([&](Replica& replica) {
      auto counted = replica.count(collection);
      n = counted.ok() ? *counted : 0;
    });
    return n;
  }

  static bool holds(SyncAgent& agent, uint64_t contacts) {
    return count(agent, "contact") == contacts &&
           count(agent, "interaction") == static_cast<uint64_t>(kInteractions) &&
           count(agent, "voicemail") == 20u;
  }

  static Contents contents(SyncAgent& agent) {
    Contents out;
    (void)agent.with_replica([&](Replica& replica) {
      for (const auto& collection : replica.schema().collections()) {
        Query query;
        query.collection = collection->name;
        auto bodies = replica.query_bytes(query);
        ASSERT_TRUE(bodies.ok()) << bodies.status().to_string();
        std::sort(bodies->begin(), bodies->end());
        out[collection->name] = std::move(bodies).value();
      }
    });
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteServerStore> store_;
  std::unique_ptr<ServerCore> core_;
  TokenAuthority tokens_{kKey};
  std::unique_ptr<SyncServer> server_;
  std::vector<std::unique_ptr<SyncAgent>> agents_;
};

TEST_F(SyncAgentColumnsTest, ColumnPagesLandTheSameReplicaAsPlainPagesForOldAndNewDevices) {
  ASSERT_NO_FATAL_FAILURE(seed());
  ASSERT_NO_FATAL_FAILURE(start_server(true));
  // One device at a time, so the server's counter tells which got column pages.
  SyncAgent& columns = start_agent("columns", true);
  ASSERT_TRUE(eventually([&] { return holds(columns, kContacts); }));
  const uint64_t sent = server_->stats().column_pages_sent;
  EXPECT_GE(sent, 2u);  // both scopes' snapshot pages
  SyncAgent& plain = start_agent("plain", false);
  ASSERT_TRUE(eventually([&] { return holds(plain, kContacts); }));
  // As a device before decision 039 and 045: stream format 1, no column pages.
  SyncAgent& older = start_agent("older", false, /*offer_message_format=*/false);
  ASSERT_TRUE(eventually([&] { return holds(older, kContacts); }));
  EXPECT_EQ(server_->stats().column_pages_sent, sent);

  const Contents want = contents(plain);
  EXPECT_EQ(want.at("contact").size(), static_cast<size_t>(kContacts));
  EXPECT_EQ(contents(columns), want);
  EXPECT_EQ(contents(older), want);
  // What the column pages are for: fewer bytes for the same records.
  EXPECT_LT(columns.stats().bytes_received, plain.stats().bytes_received);

  // A catch-up page with puts and deletes: column-wise to the device that accepts them.
  ASSERT_NO_FATAL_FAILURE(change_contacts());
  for (SyncAgent* agent : {&columns, &plain, &older}) {
    ASSERT_TRUE(eventually([&] { return holds(*agent, kContacts - 20); }));
  }
  EXPECT_EQ(server_->stats().column_pages_sent, sent + 1);
  const Contents changed = contents(plain);
  EXPECT_NE(changed, want);
  EXPECT_EQ(contents(columns), changed);
  EXPECT_EQ(contents(older), changed);
}

TEST_F(SyncAgentColumnsTest, ANewDeviceSyncsFromAServerThatSendsPlainPages) {
  ASSERT_NO_FATAL_FAILURE(seed());
  ASSERT_NO_FATAL_FAILURE(start_server(false));  // as a server before decision 045
  SyncAgent& device = start_agent("device", true);
  SyncAgent& plain = start_agent("plain", false);
  for (SyncAgent* agent : {&device, &plain}) {
    ASSERT_TRUE(eventually([&] { return holds(*agent, kContacts); }));
  }
  EXPECT_EQ(server_->stats().column_pages_sent, 0u);
  EXPECT_EQ(contents(device), contents(plain));
}

}  // namespace
}  // namespace outpost

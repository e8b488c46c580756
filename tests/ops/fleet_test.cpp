// ops/fleet.h: devices, their reports and lag, rejections, scopes; every list bounded.
#include "ops/fleet.h"

#include <gtest/gtest.h>

namespace outpost::ops {
namespace {

Principal device(const std::string& tenant, const std::string& user, const std::string& name) {
  return Principal{tenant, user, name};
}

protocol::PullResponse answer(const std::string& scope, uint64_t cursor, uint64_t head) {
  protocol::PullResponse response;
  auto* changes = response.add_scopes();
  changes->set_scope(scope);
  changes->set_cursor(cursor);
  changes->set_head_seq(head);
  return response;
}

TEST(Fleet, ReportsAreKeptLatestPerDevice) {
  Fleet fleet;
  Principal phone = device("acme", "agent-1", "phone");
  protocol::DeviceReport report;
  report.set_app_version("1.2.3");
  report.set_outbox_depth(4);
  report.set_last_sync_ms(900);
  fleet.seen(phone, 1000, &report, true);
  report.set_outbox_depth(0);
  fleet.seen(phone, 2000, &report, false);
  fleet.seen(phone, 3000, nullptr, false);  // no report: the last one stays
  DevicePage page = fleet.devices(3000, 0, 10);
  ASSERT_EQ(page.total, 1u);
  EXPECT_EQ(page.rows[0].app_version, "1.2.3");
  EXPECT_EQ(page.rows[0].outbox_depth, 0u);
  EXPECT_EQ(page.rows[0].last_seen_ms, 3000);
  EXPECT_EQ(page.rows[0].pushes, 1u);
  EXPECT_EQ(page.rows[0].pulls, 2u);
  report.set_app_version(std::string(1000, 'v'));  // bounded
  fleet.seen(phone, 4000, &report, false);
  EXPECT_EQ(fleet.devices(4000, 0, 1).rows[0].app_version.size(), FleetOptions{}.max_app_version);
}

TEST(Fleet, LagInChangesAndSecondsFollowsTheHeads) {
  Fleet fleet;
  Principal phone = device("acme", "agent-1", "phone");
  protocol::PullRequest request;
  fleet.pulled(phone, request, nullptr, 0);
  fleet.head_moved("user/acme/agent-1", 10, 1000);
  auto caught_up = answer("user/acme/agent-1", 10, 10);
  fleet.pulled(phone, request, &caught_up, 1500);
  EXPECT_EQ(fleet.devices(1500, 0, 1).rows[0].lag_changes, 0u);
  // A complete answer is the server's own "last full sync" for the device.
  EXPECT_EQ(fleet.devices(1500, 0, 1).rows[0].last_sync_ms, 1500);
  fleet.head_moved("user/acme/agent-1", 12, 2000);
  fleet.head_moved("user/acme/agent-1", 15, 5000);
  DeviceRow row = fleet.devices(9000, 0, 1).rows[0];
  EXPECT_EQ(row.lag_changes, 5u);
  EXPECT_EQ(row.lag_ms, 7000);  // behind since the head moved past 10 at t=2000
  EXPECT_EQ(fleet.summary(9000).behind, 1u);
  EXPECT_EQ(fleet.devices(9000, 0, 10, "", true).total, 1u);
  // Another user's scope never counts for this device.
  fleet.head_moved("user/acme/agent-2", 99, 5000);
  EXPECT_EQ(fleet.devices(9000, 0, 1).rows[0].lag_changes, 5u);
}

TEST(Fleet, StreamsMakeADeviceLive) {
  Fleet fleet;
  Principal phone = device("acme", "u", "phone");
  fleet.stream_opened(phone, 1);
  fleet.stream_opened(phone, 2);  // a second stream of the same device
  EXPECT_EQ(fleet.live_count(), 1u);
  fleet.stream_closed(phone, 3);
  EXPECT_TRUE(fleet.devices(3, 0, 1).rows[0].live);
  fleet.stream_closed(phone, 4);
  EXPECT_FALSE(fleet.devices(4, 0, 1).rows[0].live);
  EXPECT_EQ(fleet.live_count(), 0u);
}

TEST(Fleet, DevicesAreBoundedLeastRecentlySeenFirst) {
  FleetOptions options;
  options.max_devices = 100;
  Fleet fleet(options);
  fleet.stream_opened(device("acme", "u", "kept-live"), 0);  // oldest, but streaming
  for (int i = 0; i < 150; ++i) {
    fleet.seen(device("acme", "u", "d" + std::to_string(1000 + i)), 10 + i, nullptr, false);
  }
  EXPECT_LE(fleet.device_count(), 100u);
  EXPECT_GE(fleet.evicted_devices(), 50u);
  DevicePage page = fleet.devices(1000, 0, 200);
  bool live_kept = false;
  for (const auto& row : page.rows) {
    live_kept = live_kept || row.device == "kept-live";
    EXPECT_NE(row.device, "d1000");  // the least recently seen went first
  }
  EXPECT_TRUE(live_kept);
}

TEST(Fleet, PagesByTenantAndRejectionsOncePerMutation) {
  Fleet fleet;
  for (int i = 0; i < 30; ++i) {
    fleet.seen(device(i % 3 == 0 ? "globex" : "acme", "u" + std::to_string(i), "phone"), 1, nullptr,
               false);
  }
  EXPECT_EQ(fleet.devices(1, 0, 5, "globex").total, 10u);
  EXPECT_EQ(fleet.devices(1, 5, 100, "globex").rows.size(), 5u);
  auto tenants = fleet.tenants(1);
  ASSERT_EQ(tenants.size(), 2u);
  EXPECT_EQ(tenants[0].tenant, "acme");
  EXPECT_EQ(tenants[0].devices, 20u);

  protocol::MutationResult result;
  result.set_id(7);
  result.set_code("failed_precondition");
  result.set_reason("the platform refused: not logged in");
  Principal phone = device("acme", "u1", "phone");
  fleet.rejected(phone, result, 5);
  fleet.rejected(phone, result, 6);  // a retried push answers it again
  auto rejections = fleet.rejections(10);
  ASSERT_EQ(rejections.size(), 1u);
  EXPECT_EQ(rejections[0].reason, "the platform refused: not logged in");
  EXPECT_EQ(fleet.devices(6, 0, 1, "acme").total, 20u);
}

TEST(Fleet, ScopesShowHeadsAndHorizons) {
  Fleet fleet;
  fleet.head_moved("org/acme", 50, 10);
  fleet.compacted("org/acme", 20, 11);
  size_t total = 0;
  auto scopes = fleet.scopes(0, 10, &total);
  ASSERT_EQ(total, 1u);
  EXPECT_EQ(scopes[0].head_seq, 50u);
  EXPECT_EQ(scopes[0].horizon_seq, 20u);
  EXPECT_EQ(scopes[0].compacted_ms, 11);
}

}  // namespace
}  // namespace outpost::ops

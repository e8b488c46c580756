// The agent's state: intents the platform accepts or refuses, the website's logout undone,
// the Nordic auto-ready firing and being cancelled, the time-in-state surviving a kill.
#include <gtest/gtest.h>

#include "engine/domain_time.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "test_support.h"
#include "tests/support/domain_harness.h"

namespace outpost {
namespace {

namespace d = outpost::domain;
namespace m = outpost::mutations;
using testing::TestDevice;

class AgentState : public ::testing::Test {
 protected:
  AgentState() : world_(dir_.path(), quiet_platform()) {
    for (const char* id : {"aux-lunch", "aux-training"}) {
      d::AuxReason reason;
      reason.set_id(id);
      reason.set_name(std::string(id).substr(4));
      world_.seed("acme", "agent-1", reason);
    }
    d::AuxReason retired;
    retired.set_id("aux-old");
    retired.set_deactivated(true);
    world_.seed("acme", "agent-1", retired);
  }

  static SimPlatformOptions quiet_platform() {
    SimPlatformOptions options;
    options.route_chance = options.voicemail_chance = options.website_close_chance = 0;
    options.supervisor_chance = options.note_edit_chance = 0;
    return options;
  }

  static m::SetAgentState state(d::Presence presence, const std::string& aux = "") {
    m::SetAgentState args;
    args.set_presence(presence);
    args.set_aux_reason_id(aux);
    return args;
  }

  // A phone that synced the AUX reasons once.
  TestDevice& fresh_phone() {
    TestDevice& phone = world_.device("phone", "acme", "agent-1");
    world_.sync(phone);
    return phone;
  }

  d::AgentState server_state() {
    return world_.server_get<d::AgentState>("user/acme/agent-1", "agent-1")
        .value_or(d::AgentState());
  }

  void website_closed() {
    upstream::Event event;
    event.set_tenant("acme");
    event.set_user("agent-1");
    event.mutable_presence()->set_presence(d::PRESENCE_OFFLINE);
    event.mutable_presence()->set_cause(upstream::CAUSE_WEBSITE_CLOSED);
    world_.platform_event(event);
  }

  testing::TempDir dir_;
  testing::DomainWorld world_;
};

TEST_F(AgentState, AnAcceptedChangeTakesTheServersClockForTheCounter) {
  TestDevice& phone = fresh_phone();
  phone.mutate("set_agent_state", state(d::PRESENCE_NOT_READY, "aux-lunch"), world_.now_ms - 5000);
  world_.sync(phone);
  d::AgentState server = server_state();
  EXPECT_EQ(server.presence(), d::PRESENCE_NOT_READY);
  EXPECT_EQ(server.aux_reason_name(), "lunch");
  EXPECT_EQ(server.since_ms(), world_.now_ms);  // the server's time, not the device's
  // The counter survives an app kill: it is in the store, from the server.
  phone.open();
  EXPECT_EQ(phone.get<d::AgentState>("agent-1")->since_ms(), world_.now_ms);
  // The same state again does not restart the counter.
  world_.now_ms += 60'000;
  phone.mutate("set_agent_state", state(d::PRESENCE_NOT_READY, "aux-lunch"), world_.now_ms);
  world_.sync(phone);
  EXPECT_EQ(server_state().since_ms(), world_.now_ms - 60'000);
  world_.expect_converged(phone);
}

TEST_F(AgentState, ARefusedChangeShowsTheServersStateAndWhy) {
  TestDevice& phone = fresh_phone();
  phone.mutate("set_agent_state", state(d::PRESENCE_READY), world_.now_ms);
  world_.sync(phone);
  phone.mutate("set_agent_state", state(d::PRESENCE_NOT_READY, "aux-training"), world_.now_ms);
  EXPECT_EQ(phone.get<d::AgentState>("agent-1")->presence(), d::PRESENCE_NOT_READY);  // intent
  world_.sync(phone);
  d::AgentState shown = *phone.get<d::AgentState>("agent-1");
  EXPECT_EQ(shown.presence(), d::PRESENCE_READY);
  EXPECT_NE(shown.last_refusal().find("planned by your supervisor"), std::string::npos);
  EXPECT_EQ(world_.platform().counters().refusals, 1u);
  // The next accepted change clears the refusal.
  phone.mutate("set_agent_state", state(d::PRESENCE_NOT_READY, "aux-lunch"), world_.now_ms);
  world_.sync(phone);
  EXPECT_EQ(phone.get<d::AgentState>("agent-1")->last_refusal(), "");
  world_.expect_converged(phone);
}

TEST_F(AgentState, InvalidIntentsAreRefusedOnTheDeviceAndChangeNothing) {
  TestDevice& phone = fresh_phone();
  world_.sync(phone);
  EXPECT_EQ(
      phone.replica->mutate("set_agent_state", state(d::PRESENCE_UNSPECIFIED), 1).status().code(),
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      phone.replica->mutate("set_agent_state", state(d::PRESENCE_NOT_READY), 1).status().code(),
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(phone.replica->mutate("set_agent_state", state(d::PRESENCE_NOT_READY, "aux-old"), 1)
                .status()
                .code(),
            ErrorCode::kRejected);
  EXPECT_EQ(phone.replica->mutate("set_agent_state", state(d::PRESENCE_NOT_READY, "aux-none"), 1)
                .status()
                .code(),
            ErrorCode::kRejected);
  EXPECT_TRUE(phone.replica->pending()->empty());
  EXPECT_FALSE(phone.get<d::AgentState>("agent-1").has_value());
}

TEST_F(AgentState, TheWebsiteClosingDoesNotLogTheAppUserOff) {
  TestDevice& phone = fresh_phone();
  phone.mutate("set_agent_state", state(d::PRESENCE_NOT_READY, "aux-lunch"), world_.now_ms);
  world_.sync(phone);
  world_.now_ms += 1000;
  website_closed();
  world_.sync(phone);
  d::AgentState shown = *phone.get<d::AgentState>("agent-1");
  EXPECT_EQ(shown.presence(), d::PRESENCE_NOT_READY);
  EXPECT_EQ(shown.aux_reason_id(), "aux-lunch");
  EXPECT_EQ(shown.since_ms(), world_.now_ms - 1000) << "the state never changed";
  EXPECT_NE(shown.message().find("restored"), std::string::npos);
  world_.expect_converged(phone);
}

TEST_F(AgentState, ALogoutWhileTheAgentChoseOfflineStands) {
  TestDevice& phone = fresh_phone();
  phone.mutate("set_agent_state", state(d::PRESENCE_OFFLINE), world_.now_ms);
  world_.sync(phone);
  website_closed();
  EXPECT_EQ(server_state().presence(), d::PRESENCE_OFFLINE);
  // A supervisor's change is applied as the platform says, the agent's choice kept.
  upstream::Event event;
  event.set_tenant("acme");
  event.set_user("agent-1");
  event.mutable_presence()->set_presence(d::PRESENCE_NOT_READY);
  event.mutable_presence()->set_aux_reason_id("aux-lunch");
  event.mutable_presence()->set_cause(upstream::CAUSE_SUPERVISOR);
  world_.now_ms += 500;
  world_.platform_event(event);
  EXPECT_EQ(server_state().presence(), d::PRESENCE_NOT_READY);
  EXPECT_EQ(server_state().aux_reason_name(), "lunch");
  EXPECT_EQ(server_state().since_ms(), world_.now_ms);
  EXPECT_EQ(server_state().chosen_presence(), d::PRESENCE_OFFLINE);
  world_.sync(phone);
  world_.expect_converged(phone);
}

TEST_F(AgentState, NordicAutoReadyFiresAtItsTime) {
  TestDevice& phone = fresh_phone();
  phone.mutate("set_agent_state", state(d::PRESENCE_NOT_READY, "aux-lunch"), world_.now_ms);
  m::SetAutoReady auto_ready;
  auto_ready.set_at_ms(world_.now_ms + 3'600'000);
  phone.mutate("set_auto_ready", auto_ready, world_.now_ms);
  world_.sync(phone);
  world_.now_ms += 3'599'000;
  world_.run_platform();
  EXPECT_EQ(server_state().presence(), d::PRESENCE_NOT_READY);
  world_.now_ms += 1000;
  world_.run_platform();
  d::AgentState fired = server_state();
  EXPECT_EQ(fired.presence(), d::PRESENCE_READY);
  EXPECT_EQ(fired.auto_ready_at_ms(), 0);
  EXPECT_EQ(fired.since_ms(), world_.now_ms);
  EXPECT_EQ(fired.chosen_presence(), d::PRESENCE_READY);
  world_.sync(phone);
  EXPECT_EQ(phone.get<d::AgentState>("agent-1")->presence(), d::PRESENCE_READY);
  world_.expect_converged(phone);
}

TEST_F(AgentState, AnyManualStateChangeCancelsTheAutoReady) {
  TestDevice& phone = fresh_phone();
  phone.mutate("set_agent_state", state(d::PRESENCE_NOT_READY, "aux-lunch"), world_.now_ms);
  m::SetAutoReady auto_ready;
  auto_ready.set_at_ms(world_.now_ms + 600'000);
  phone.mutate("set_auto_ready", auto_ready, world_.now_ms);
  world_.sync(phone);
  ASSERT_EQ(server_state().auto_ready_at_ms(), world_.now_ms + 600'000);
  // Offline, the agent changes AUX: the cancellation travels with the intent.
  phone.mutate("set_agent_state", state(d::PRESENCE_NOT_READY, "aux-training"), world_.now_ms);
  EXPECT_EQ(phone.get<d::AgentState>("agent-1")->auto_ready_at_ms(), 0);
  phone.mutate("set_agent_state", state(d::PRESENCE_READY), world_.now_ms + 1);
  phone.mutate("set_agent_state", state(d::PRESENCE_NOT_READY, "aux-lunch"), world_.now_ms + 2);
  world_.sync(phone);
  EXPECT_EQ(server_state().auto_ready_at_ms(), 0);
  world_.now_ms += 700'000;
  world_.run_platform();
  EXPECT_EQ(server_state().presence(), d::PRESENCE_NOT_READY) << "cancelled: nothing fired";
  world_.expect_converged(phone);
}

TEST_F(AgentState, AutoReadyMustBeLaterToday) {
  TestDevice& phone = fresh_phone();
  phone.mutate("set_agent_state", state(d::PRESENCE_NOT_READY, "aux-lunch"), world_.now_ms);
  m::SetAutoReady args;
  args.set_at_ms(world_.now_ms - 1);
  EXPECT_EQ(phone.replica->mutate("set_auto_ready", args, world_.now_ms).status().code(),
            ErrorCode::kRejected);
  // 11:06 UTC now; tomorrow 00:30 is past midnight.
  args.set_at_ms(local_day_start_ms(local_day(world_.now_ms, 0) + 1, 0) + 1'800'000);
  auto refused = phone.replica->mutate("set_auto_ready", args, world_.now_ms);
  EXPECT_EQ(refused.status().code(), ErrorCode::kRejected);
  EXPECT_NE(refused.status().message().find("midnight"), std::string::npos);
  // With the org at UTC+12:23 it is 23:29:40 there: in an hour it is tomorrow.
  d::OrgSetting offset;
  offset.set_name(kUtcOffsetSetting);
  offset.set_value("+743");
  world_.seed("acme", "agent-1", offset);
  world_.sync(phone);
  args.set_at_ms(world_.now_ms + 3'600'000);
  EXPECT_EQ(phone.replica->mutate("set_auto_ready", args, world_.now_ms).status().code(),
            ErrorCode::kRejected);
  args.set_at_ms(world_.now_ms + 600'000);  // 23:39:40 local
  EXPECT_TRUE(phone.replica->mutate("set_auto_ready", args, world_.now_ms).ok());
}

}  // namespace
}  // namespace outpost

// The server's push thread over the real server core and SQLite store, sending to the fake
// APNs, with the org's settings compressed to milliseconds: targets registered by a device's
// mutation, wakes for sleeping devices only, the voicemail notification, the unread count
// at login, a dead token deleted from the store, the inactivity logout mirrored into the
// agent's state (never during a voice interaction), and the wakes a restart re-sends.
#include "adapters/push/push_service.h"

#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "adapters/push/apns_sender.h"
#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/schema.h"
#include "outpost/mutations.pb.h"
#include "tests/adapters/push/fake_service.h"
#include "tests/adapters/push/sender_test_support.h"
#include "tests/engine/test_support.h"

namespace outpost::push {
namespace {

namespace d = outpost::domain;
namespace m = outpost::mutations;
using testing::hex_token;
using testing::str;

class PushServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fake_ = new testing::FakeService("apns"); }
  static void TearDownTestSuite() {
    delete fake_;
    fake_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(fake_->ok()) << "the fake APNs did not start; see " << fake_->log();
    fake_->clear();
    fake_->post("/config", R"({"enforce_refresh_interval": false})");
    store_ = std::move(SqliteServerStore::open(dir_.path() + "/server.db")).value();
    core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), domain_mutators());
    domain_ = std::make_unique<DomainServer>(*core_);
    core_->add_commit_listener([this](const std::vector<CommittedHead>& heads) {
      if (holding_) {
        held_.push_back([this, heads] { service_->on_commit(heads); });
      } else if (service_) {
        service_->on_commit(heads);
      }
    });
    // Compressed inactivity timers, from the org's settings.
    setting(kSettingCoalesceMs, "30");
    setting(kSettingSilentAfterMs, "400");
    setting(kSettingKeepaliveAfterMs, "800");
    setting(kSettingLogoutAfterKeepaliveMs, "200");
  }
  void TearDown() override { service_.reset(); }

  void start_service() {
    ApnsConfig config;
    config.key_pem = fake_->read_file("key_file");
    config.key_id = fake_->get("key_id");
    config.team_id = fake_->get("team_id");
    config.production_host = config.sandbox_host = fake_->get("base_url");
    config.http.ca_file = fake_->get("ca");
    auto sender = ApnsSender::create(std::move(config));
    ASSERT_TRUE(sender.ok()) << sender.status().to_string();
    PushServiceOptions options;
    options.jitter = [] { return 0.0; };
    options.delivery.base_backoff_ms = 50;
    service_ = std::make_unique<PushService>(*core_, domain_.get(), nullptr, std::move(*sender),
                                             nullptr, options);
    ASSERT_TRUE(service_->start().ok());
  }

  void event(const upstream::Event& e) {
    ASSERT_TRUE(domain_->apply(e, testing::wall_ms()).ok());
    if (holding_) {
      held_.push_back([this, e] { service_->on_platform_event(e); });
    } else if (service_) {
      service_->on_platform_event(e);
    }
  }
  void setting(const std::string& name, const std::string& value) {
    upstream::Event e;
    e.set_tenant("acme");
    e.mutable_org_setting()->set_name(name);
    e.mutable_org_setting()->set_value(value);
    event(e);
  }
  void voicemail(const std::string& id) {
    upstream::Event e;
    e.set_tenant("acme");
    e.set_user("agent-1");
    e.mutable_voicemail_left()->set_id(id);
    e.mutable_voicemail_left()->set_caller_name("Alice Customer");
    event(e);
  }
  void voice_call(const std::string& id, d::InteractionState state) {
    upstream::Event e;
    e.set_tenant("acme");
    e.set_user("agent-1");
    e.mutable_interaction()->set_id(id);
    e.mutable_interaction()->set_media(d::MEDIA_VOICE);
    e.mutable_interaction()->set_state(state);
    e.mutable_interaction()->set_started_ms(testing::wall_ms());
    event(e);
  }
  void presence(d::Presence p) {
    upstream::Event e;
    e.set_tenant("acme");
    e.set_user("agent-1");
    e.mutable_presence()->set_presence(p);
    e.mutable_presence()->set_cause(upstream::CAUSE_PLATFORM);
    event(e);
  }

  // The device's own mutation, pushed as the sync protocol does.
  void device_mutation(const std::string& device, const std::string& name,
                       const google::protobuf::Message& args) {
    protocol::PushRequest request;
    request.set_client_id("client-" + device);
    request.set_protocol_version(protocol::VERSION_CURRENT);
    request.set_schema_version(Schema::domain().version());
    auto* mutation = request.add_mutations();
    mutation->set_id(++mutation_ids_[device]);
    mutation->set_name(name);
    mutation->set_args(args.SerializeAsString());
    mutation->set_created_ms(testing::wall_ms());
    auto response = core_->push(Principal{"acme", "agent-1", device}, request, testing::wall_ms());
    ASSERT_TRUE(response.ok()) << response.status().to_string();
    ASSERT_EQ(response->results(0).outcome(), protocol::MutationResult::APPLIED)
        << response->results(0).reason();
  }
  void register_target(const std::string& device, const std::string& token) {
    m::RegisterPushTarget args;
    args.mutable_target()->set_device_id(device);
    args.mutable_target()->set_platform(d::PUSH_APNS);
    args.mutable_target()->set_token(token);
    args.mutable_target()->set_app_id("com.example.outpost");
    device_mutation(device, "register_push_target", args);
  }
  void stream(const std::string& device, bool open) {
    service_->on_stream(Principal{"acme", "agent-1", device}, open);
  }

  // The kinds the fake received for `token` after its first `skip` pushes, waiting until
  // `want` of them arrived.
  std::vector<std::string> kinds_for(const std::string& token, size_t want,
                                     std::chrono::milliseconds within = std::chrono::seconds(5),
                                     size_t skip = 0) {
    const auto until = std::chrono::steady_clock::now() + within;
    std::vector<std::string> kinds;
    for (;;) {
      kinds.clear();
      size_t seen = 0;
      for (const auto& r : fake_->received()) {
        if (str(r, {"path"}) != "/3/device/" + token) continue;
        if (seen++ < skip) continue;
        kinds.push_back(str(testing::body_json(r), {"kind"}));
      }
      if (kinds.size() >= want || std::chrono::steady_clock::now() > until) return kinds;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  size_t pushes_so_far(const std::string& token) {
    return kinds_for(token, 0, std::chrono::milliseconds(0)).size();
  }
  // Waits until `token` was sent a wake for `scope` at `head` or later.
  bool woken_at(const std::string& token, const std::string& scope, uint64_t head) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < until) {
      for (const auto& r : fake_->received()) {
        if (str(r, {"path"}) != "/3/device/" + token) continue;
        auto body = testing::body_json(r);
        if (str(body, {"kind"}) == "wake" && str(body, {"scope"}) == scope &&
            std::stoull(str(body, {"head"})) >= head) {
          return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::optional<d::AgentState> agent_state() {
    auto stored = store_->get("user/acme/agent-1", "agent_state", "agent-1");
    if (!stored.ok() || !stored->has_value()) return std::nullopt;
    d::AgentState state;
    state.ParseFromString((*stored)->body);
    return state;
  }

  static testing::FakeService* fake_;
  outpost::testing::TempDir dir_;
  std::unique_ptr<SqliteServerStore> store_;
  std::unique_ptr<ServerCore> core_;
  std::unique_ptr<DomainServer> domain_;
  std::unique_ptr<PushService> service_;
  std::map<std::string, uint64_t> mutation_ids_;
  // A busy push thread: what it is told reaches it late, in order, in one batch.
  bool holding_ = false;
  std::vector<std::function<void()>> held_;
  void release() {
    holding_ = false;
    for (auto& call : held_) call();
    held_.clear();
  }
};
testing::FakeService* PushServiceTest::fake_ = nullptr;

TEST_F(PushServiceTest, AVoicemailWakesAndNotifiesTheSleepingDeviceOnlyWithoutCustomerData) {
  // Long inactivity timers: only the voicemail matters here.
  setting(kSettingSilentAfterMs, "600000");
  setting(kSettingKeepaliveAfterMs, "1200000");
  start_service();
  const std::string phone = hex_token('a'), tablet = hex_token('b');
  const std::string scope = "user/acme/agent-1";
  register_target("phone", phone);
  register_target("tablet", tablet);
  // The registrations are commits in the sleeping devices' scope: their wake goes out after
  // the coalescing window, which the voicemail's commit may or may not fall into, depending
  // on the machine's load (CI once saw the registrations' wake, head 2, go out first and the
  // voicemail's follow). Let it go out, then count only what the voicemail sends.
  ASSERT_TRUE(woken_at(phone, scope, store_->scope_info(scope)->head_seq));
  const size_t phone_before = pushes_so_far(phone), tablet_before = pushes_so_far(tablet);
  stream("tablet", true);  // the tablet's app is open: its stream delivers the change
  voicemail("vm-1");
  auto kinds = kinds_for(phone, 2, std::chrono::seconds(5), phone_before);
  std::sort(kinds.begin(), kinds.end());
  EXPECT_EQ(kinds, (std::vector<std::string>{"voicemail", "wake"}));
  EXPECT_TRUE(kinds_for(tablet, 1, std::chrono::milliseconds(300), tablet_before).empty());
  for (const auto& r : fake_->received()) {
    EXPECT_EQ(str(r, {"body"}).find("Alice"), std::string::npos) << str(r, {"body"});
  }
  // The voicemail's wake carries the user scope and its head.
  const uint64_t head = store_->scope_info(scope)->head_seq;
  EXPECT_TRUE(woken_at(phone, scope, head));
  for (const auto& r : fake_->received()) {
    auto body = testing::body_json(r);
    if (str(body, {"kind"}) != "wake") continue;
    EXPECT_EQ(str(body, {"scope"}), scope);
    EXPECT_LE(std::stoull(str(body, {"head"})), head);
  }
}

// CI once saw the push thread read the store after the voicemail had also landed: the
// login counted that voicemail as unread-at-login, so the phone got two notifications for
// it and the tablet, whose app is open, got one. A login counts only what was there before it.
TEST_F(PushServiceTest, AVoicemailAfterTheLoginIsNotCountedAsUnreadAtLoginWhenCommitsArriveLate) {
  setting(kSettingSilentAfterMs, "600000");
  setting(kSettingKeepaliveAfterMs, "1200000");
  start_service();
  const std::string phone = hex_token('f'), tablet = hex_token('0');
  holding_ = true;
  register_target("phone", phone);
  register_target("tablet", tablet);
  voicemail("vm-1");
  stream("tablet", true);  // (the stream hook is not held; the app opened before the batch)
  release();
  auto kinds = kinds_for(phone, 2);
  std::sort(kinds.begin(), kinds.end());
  EXPECT_EQ(kinds, (std::vector<std::string>{"voicemail", "wake"}));
  EXPECT_TRUE(kinds_for(tablet, 1, std::chrono::milliseconds(300)).empty());
}

TEST_F(PushServiceTest, TheOrgMayShowTheCallerAndALoginWithUnreadVoicemailNotifies) {
  setting(kSettingSilentAfterMs, "600000");
  setting(kSettingKeepaliveAfterMs, "1200000");
  setting(kSettingShowCaller, "true");
  voicemail("vm-1");
  voicemail("vm-2");
  start_service();
  const std::string phone = hex_token('c');
  register_target("phone", phone);  // the login
  stream("phone", true);
  auto kinds = kinds_for(phone, 1);
  ASSERT_EQ(kinds, (std::vector<std::string>{"unread_voicemail"}));
  EXPECT_NE(str(fake_->received()[0], {"body"}).find("2 unread voicemails"), std::string::npos);
  stream("phone", false);
  voicemail("vm-3");
  kinds_for(phone, 2);
  bool named = false;
  for (const auto& r : fake_->received()) {
    named = named || str(r, {"body"}).find("Alice Customer") != std::string::npos;
  }
  EXPECT_TRUE(named);
}

// A user may be woken on 32 devices. A 33rd registration used to be silently never woken
// (the first 32 keys were read); now the 32 most recently registered are kept, and the
// one left out is counted.
TEST_F(PushServiceTest, PastThirtyTwoDevicesTheMostRecentlyRegisteredAreWoken) {
  setting(kSettingSilentAfterMs, "600000");
  setting(kSettingKeepaliveAfterMs, "1200000");
  start_service();
  std::vector<std::string> tokens;
  for (int i = 0; i <= 32; ++i) {
    std::string token = hex_token('c');
    const std::string digits = std::to_string(10 + i);  // two decimal digits are hex too
    token.replace(0, digits.size(), digits);
    tokens.push_back(token);
    // Keys sort in the order of registration: the first 32 keys are the oldest 32.
    register_target("device-" + std::to_string(10 + i), token);
  }
  // The registrations themselves wake the sleeping devices; wait until the push thread has
  // read all 33, then only the voicemail's notification counts.
  for (int i = 0; i < 250 && service_->stats().targets_over_limit == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(service_->stats().targets, 32u);
  EXPECT_EQ(service_->stats().targets_over_limit, 1u);
  fake_->clear();
  voicemail("vm-many");
  // The newest gets the notification (and a wake, unless its hourly wakes are spent).
  const auto newest = kinds_for(tokens.back(), 2, std::chrono::seconds(1));
  EXPECT_NE(std::find(newest.begin(), newest.end(), "voicemail"), newest.end())
      << "the newest device was not notified";
  EXPECT_TRUE(kinds_for(tokens.front(), 1, std::chrono::milliseconds(300)).empty())
      << "the device registered longest ago was notified";
}

TEST_F(PushServiceTest, ATokenApnsReportsUnregisteredIsDeletedFromTheStore) {
  setting(kSettingSilentAfterMs, "600000");
  setting(kSettingKeepaliveAfterMs, "1200000");
  start_service();
  const std::string phone = hex_token('d');
  register_target("phone", phone);
  fake_->unregister(phone);
  voicemail("vm-1");
  for (int i = 0; i < 250; ++i) {
    if (service_->stats().targets_removed > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // The wake and the notification may have been in flight together: both are answered 410.
  EXPECT_GE(service_->stats().targets_removed, 1u);
  auto stored = store_->get("user/acme/agent-1", "push_target", "phone");
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->has_value());
  // Nothing more goes to it (after what was in flight).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const size_t before = fake_->received().size();
  voicemail("vm-2");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(fake_->received().size(), before);
}

TEST_F(PushServiceTest, InactivityEndsInALogoutMirroredIntoTheAgentState) {
  presence(d::PRESENCE_READY);
  start_service();
  const std::string phone = hex_token('e');
  register_target("phone", phone);
  stream("phone", true);
  stream("phone", false);  // the app went to the background
  auto kinds = kinds_for(phone, 4);
  ASSERT_GE(kinds.size(), 3u);
  std::vector<std::string> timers;
  for (const auto& k : kinds) {
    if (k != "wake") timers.push_back(k);
  }
  EXPECT_EQ(timers, (std::vector<std::string>{"inactivity_check", "keepalive", "logged_out"}));
  for (int i = 0; i < 100 && agent_state()->presence() != d::PRESENCE_OFFLINE; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(agent_state()->presence(), d::PRESENCE_OFFLINE);
  EXPECT_EQ(service_->stats().logouts, 1u);
}

TEST_F(PushServiceTest, AnAgentOnAVoiceCallOrStreamingIsNeverLoggedOut) {
  presence(d::PRESENCE_READY);
  start_service();
  register_target("phone", hex_token('f'));
  stream("phone", true);
  voice_call("call-1", d::INTERACTION_CONNECTED);
  stream("phone", false);  // background during the call: the timer must not run
  std::this_thread::sleep_for(std::chrono::milliseconds(1800));
  EXPECT_EQ(service_->stats().logouts, 0u);
  EXPECT_EQ(agent_state()->presence(), d::PRESENCE_READY);
  voice_call("call-1", d::INTERACTION_DISCONNECTED);  // the call ends: now it runs
  for (int i = 0; i < 150 && service_->stats().logouts == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(service_->stats().logouts, 1u);
}

TEST_F(PushServiceTest, ARestartResendsTheWakeThatWasDue) {
  setting(kSettingSilentAfterMs, "600000");
  setting(kSettingKeepaliveAfterMs, "1200000");
  setting(kSettingCoalesceMs, "60000");  // the wake waits a minute ...
  start_service();
  const std::string phone = hex_token('7');
  register_target("phone", phone);
  voicemail("vm-1");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  service_.reset();  // ... and the server stops before it is sent
  std::vector<std::string> before;
  for (const auto& r : fake_->received()) {
    before.push_back(str(testing::body_json(r), {"kind"}));
  }
  EXPECT_EQ(std::count(before.begin(), before.end(), "wake"), 0);
  setting(kSettingCoalesceMs, "30");
  start_service();
  bool woke = false;
  for (int i = 0; i < 150 && !woke; ++i) {
    for (const auto& r : fake_->received()) {
      auto body = testing::body_json(r);
      woke = woke || (str(body, {"kind"}) == "wake" &&
                      str(body, {"head"}) ==
                          std::to_string(store_->scope_info("user/acme/agent-1")->head_seq));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(woke);
  EXPECT_EQ(service_->stats().restart_wakes, 1u);
}

}  // namespace
}  // namespace outpost::push

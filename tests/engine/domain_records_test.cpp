// Voicemail, wrap-up, favourites, queues, device settings, the journal window and local
// search, as the field guide describes them, through real devices and the server.
#include <gtest/gtest.h>

#include "engine/domain_mutators.h"
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

SimPlatformOptions quiet_platform() {
  SimPlatformOptions options;
  options.route_chance = options.voicemail_chance = options.website_close_chance = 0;
  options.supervisor_chance = options.note_edit_chance = 0;
  options.wrapup_refuse_chance = 0;
  return options;
}

class Records : public ::testing::Test {
 protected:
  Records() : world_(dir_.path(), quiet_platform()) {}

  void voicemail_event(const std::string& id, bool left, bool read = false) {
    upstream::Event event;
    event.set_tenant("acme");
    event.set_user("agent-1");
    d::Voicemail& voicemail =
        left ? *event.mutable_voicemail_left() : *event.mutable_voicemail_updated();
    voicemail.set_id(id);
    voicemail.set_caller_name("Ann");
    voicemail.set_received_ms(world_.now_ms);
    voicemail.set_read(read);
    voicemail.set_transcription(left ? "" : "please call back");
    world_.platform_event(event);
  }

  d::Interaction interaction(const std::string& id, int64_t started_ms,
                             d::InteractionState state = d::INTERACTION_DISCONNECTED) {
    d::Interaction record;
    record.set_id(id);
    record.set_media(d::MEDIA_VOICE);
    record.set_state(state);
    record.set_started_ms(started_ms);
    record.set_queue_id("queue-1");
    record.set_wrapup_required(true);
    return record;
  }

  void interaction_event(const d::Interaction& record) {
    upstream::Event event;
    event.set_tenant("acme");
    event.set_user("agent-1");
    *event.mutable_interaction() = record;
    world_.platform_event(event);
  }

  testing::TempDir dir_;
  testing::DomainWorld world_;
};

// An upstream event's tenant and user become a scope name: one holding '/' would write
// into another user's scope ("acme/x" + "y" and "acme" + "x/y" are both user/acme/x/y).
TEST_F(Records, AnEventWhoseNamesAreNotScopeNamesIsRefused) {
  for (const auto& [tenant, user] : std::vector<std::pair<std::string, std::string>>{
           {"acme", "x/agent-1"}, {"acme/x", "agent-1"}, {"acme\n", "agent-1"}}) {
    upstream::Event event;
    event.set_tenant(tenant);
    event.set_user(user);
    event.mutable_voicemail_left()->set_id("vm-sneaky");
    Status applied = world_.domain().apply(event, world_.now_ms);
    EXPECT_EQ(applied.code(), ErrorCode::kInvalidArgument) << tenant << " " << user;
  }
  auto leaked = world_.store().get("user/acme/x/agent-1", "voicemail", "vm-sneaky");
  ASSERT_TRUE(leaked.ok());
  EXPECT_FALSE(leaked->has_value());
}

TEST_F(Records, ReadVoicemailStaysReadWhateverThePlatformSendsLater) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  voicemail_event("vm-1", true);
  world_.sync(phone);
  m::MarkVoicemailRead read;
  read.set_id("vm-1");
  phone.mutate("mark_voicemail_read", read, world_.now_ms);
  world_.sync(phone);
  voicemail_event("vm-1", false, /*read=*/false);  // the transcription arrives, unread flag
  world_.sync(phone);
  auto shown = phone.get<d::Voicemail>("vm-1");
  EXPECT_TRUE(shown->read());
  EXPECT_EQ(shown->transcription(), "please call back");
  world_.expect_converged(phone);
}

// A platform that refuses every voicemail write (a Genesys 403), else the simulator's answers.
class VoicemailRefusingPlatform : public SimPlatform {
 public:
  using SimPlatform::SimPlatform;
  Result<PlatformAnswer> mark_voicemail_read(const AgentRef&, const std::string&,
                                             int64_t) override {
    return PlatformAnswer::refuse("You may not change this voicemail");
  }
  Result<PlatformAnswer> delete_voicemail(const AgentRef&, const std::string&, int64_t) override {
    return PlatformAnswer::refuse("You may not change this voicemail");
  }
};

TEST_F(Records, APlatformRefusalOfAVoicemailReadOrDeleteRejectsItWithTheReason) {
  VoicemailRefusingPlatform refusing(quiet_platform(), world_.store());
  world_.core().set_platform(&refusing);
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  voicemail_event("vm-1", true);
  world_.sync(phone);
  m::MarkVoicemailRead read;
  read.set_id("vm-1");
  phone.mutate("mark_voicemail_read", read, world_.now_ms);
  m::DeleteVoicemail remove;
  remove.set_id("vm-1");
  phone.mutate("delete_voicemail", remove, world_.now_ms);
  world_.sync(phone);
  auto rejected = phone.replica->rejected();
  ASSERT_EQ(rejected->size(), 2u);
  for (const auto& r : *rejected) {
    EXPECT_EQ(r.code, "rejected");
    EXPECT_EQ(r.reason, "You may not change this voicemail");
  }
  auto kept = world_.server_get<d::Voicemail>("user/acme/agent-1", "vm-1");
  ASSERT_TRUE(kept.has_value());
  EXPECT_FALSE(kept->read());
  ASSERT_TRUE(phone.get<d::Voicemail>("vm-1").has_value());
  world_.expect_converged(phone);
  world_.core().set_platform(&world_.platform());
}

// The platform's recording never changes: an update that does not name it (the Genesys
// adapter after a restart, decision 034) keeps the hash the record has.
TEST_F(Records, AVoicemailUpdateWithoutItsAudioKeepsTheRecording) {
  upstream::Event event;
  event.set_tenant("acme");
  event.set_user("agent-1");
  d::Voicemail& left = *event.mutable_voicemail_left();
  left.set_id("vm-1");
  left.set_audio_uri("genesys-media:voicemail/vm-1");
  left.set_audio_sha256(std::string(64, 'a'));
  left.set_audio_size(1234);
  world_.platform_event(event);
  voicemail_event("vm-1", false);  // no audio fields
  auto kept = world_.server_get<d::Voicemail>("user/acme/agent-1", "vm-1");
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->transcription(), "please call back");
  EXPECT_EQ(kept->audio_sha256(), std::string(64, 'a'));
  EXPECT_EQ(kept->audio_size(), 1234);
  EXPECT_EQ(kept->audio_uri(), "genesys-media:voicemail/vm-1");
}

TEST_F(Records, DeleteWinsOverAConcurrentMarkReadAndALateUpdate) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  TestDevice& tablet = world_.device("tablet", "acme", "agent-1");
  voicemail_event("vm-1", true);
  world_.sync(phone);
  world_.sync(tablet);
  m::DeleteVoicemail remove;
  remove.set_id("vm-1");
  phone.mutate("delete_voicemail", remove, world_.now_ms);
  m::MarkVoicemailRead read;
  read.set_id("vm-1");
  tablet.mutate("mark_voicemail_read", read, world_.now_ms);
  world_.sync(phone);
  world_.sync(tablet);
  voicemail_event("vm-1", false);  // an update the platform made before it saw the delete
  world_.sync(phone);
  world_.sync(tablet);
  EXPECT_FALSE(world_.server_get<d::Voicemail>("user/acme/agent-1", "vm-1").has_value());
  EXPECT_FALSE(tablet.get<d::Voicemail>("vm-1").has_value());
  world_.expect_converged(phone);
  world_.expect_converged(tablet);
  // Voicemail lists newest first by default.
  voicemail_event("vm-2", true);
  world_.now_ms += 1000;
  voicemail_event("vm-3", true);
  world_.sync(phone);
  auto listed = phone.replica->query(Query{.collection = "voicemail"});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ(static_cast<const d::Voicemail&>(*(*listed)[0]).id(), "vm-3");
}

TEST_F(Records, OfflineWrapUpOfSeveralInteractionsWithAPlatformRefusal) {
  d::WrapupCode code;
  code.set_id("wrapup-1");
  code.set_name("Solved");
  world_.seed("acme", "agent-1", code);
  interaction_event(interaction("c-1", world_.now_ms - 60'000));
  interaction_event(interaction("c-2", world_.now_ms - 30'000));
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  world_.sync(phone);

  // The platform still has c-2 live (routed through the simulator).
  SimPlatformOptions options = quiet_platform();
  options.route_chance = 1;
  options.end_chance = 0;
  testing::TempDir dir;
  testing::DomainWorld busy(dir.path(), options);
  busy.seed("acme", "agent-1", code);
  busy.run_platform();  // routes sim-agent-1-1, still alerting
  busy.now_ms += 1000;
  busy.run_platform();  // connects it
  TestDevice& agent = busy.device("agent", "acme", "agent-1");
  busy.sync(agent);
  ASSERT_TRUE(agent.get<d::Interaction>("sim-agent-1-1").has_value());
  m::WrapUp early;
  early.add_interaction_ids("sim-agent-1-1");
  early.set_code_id("wrapup-1");
  agent.mutate("wrap_up", early, busy.now_ms);
  busy.sync(agent);
  d::Interaction refused = *agent.get<d::Interaction>("sim-agent-1-1");
  EXPECT_NE(refused.state(), d::INTERACTION_QUALIFIED);
  EXPECT_EQ(refused.wrapup_refusal(), "the interaction is still active on the platform");
  EXPECT_EQ(refused.wrapup_code_id(), "wrapup-1") << "the user's choice is kept for a retry";

  // On the first world: both ended, qualified together offline, on arrival.
  m::WrapUp both;
  both.add_interaction_ids("c-1");
  both.add_interaction_ids("c-2");
  both.set_code_id("wrapup-1");
  both.set_notes("qualified on the road");
  phone.mutate("wrap_up", both, world_.now_ms);
  EXPECT_EQ(phone.get<d::Interaction>("c-1")->state(), d::INTERACTION_QUALIFIED);
  world_.sync(phone);
  for (const char* id : {"c-1", "c-2"}) {
    auto server = world_.server_get<d::Interaction>("user/acme/agent-1", id);
    EXPECT_EQ(server->state(), d::INTERACTION_QUALIFIED) << id;
    EXPECT_EQ(server->wrapup_code_name(), "Solved");
    EXPECT_EQ(server->wrapup_notes(), "qualified on the road");
  }
  world_.expect_converged(phone);
}

// A platform that refuses every wrap-up as Genesys refuses a second one (HTTP 409).
class WrapUpRefusingPlatform : public SimPlatform {
 public:
  using SimPlatform::SimPlatform;
  Result<PlatformAnswer> wrap_up(const AgentRef&, const d::Interaction&, const std::string&,
                                 int64_t) override {
    return PlatformAnswer::refuse("Wrap-up was already submitted");
  }
};

// Found by outpost-sim --platform-kind genesys (decision 038): two devices wrap up the same
// call; the platform took the first and refused the second, whose code replaced the
// platform's on the record (the journal showed a code the platform never had).
TEST_F(Records, ARefusedWrapUpOfAnInteractionThePlatformWrappedKeepsThePlatformsCode) {
  d::WrapupCode solved, callback;
  solved.set_id("wrapup-1");
  solved.set_name("Solved");
  callback.set_id("wrapup-2");
  callback.set_name("Callback");
  world_.seed("acme", "agent-1", solved);
  world_.seed("acme", "agent-1", callback);
  d::Interaction wrapped = interaction("c-1", world_.now_ms - 60'000, d::INTERACTION_QUALIFIED);
  wrapped.set_wrapup_code_id("wrapup-1");
  wrapped.set_wrapup_code_name("Solved");
  wrapped.set_wrapup_required(false);
  interaction_event(wrapped);
  WrapUpRefusingPlatform refusing(quiet_platform(), world_.store());
  world_.core().set_platform(&refusing);
  TestDevice& tablet = world_.device("tablet", "acme", "agent-1");
  world_.sync(tablet);
  m::WrapUp late;
  late.add_interaction_ids("c-1");
  late.set_code_id("wrapup-2");
  tablet.mutate("wrap_up", late, world_.now_ms);
  world_.sync(tablet);
  auto server = world_.server_get<d::Interaction>("user/acme/agent-1", "c-1");
  ASSERT_TRUE(server.has_value());
  EXPECT_EQ(server->state(), d::INTERACTION_QUALIFIED);
  EXPECT_EQ(server->wrapup_code_id(), "wrapup-1") << "the platform's wrap-up stands";
  EXPECT_EQ(server->wrapup_code_name(), "Solved");
  EXPECT_EQ(server->wrapup_refusal(), "Wrap-up was already submitted") << "the reason is kept";
  // A skip (which the platform never hears of) changes nothing the platform wrapped up.
  world_.core().set_platform(&world_.platform());
  m::WrapUp skip;
  skip.add_interaction_ids("c-1");
  skip.set_skip(true);
  tablet.mutate("wrap_up", skip, world_.now_ms);
  world_.sync(tablet);
  server = world_.server_get<d::Interaction>("user/acme/agent-1", "c-1");
  EXPECT_EQ(server->wrapup_code_id(), "wrapup-1");
  EXPECT_FALSE(server->wrapup_skipped());
  world_.expect_converged(tablet);
}

// A platform that takes a skip (nothing is submitted) and refuses every code.
class CodeRefusingPlatform : public SimPlatform {
 public:
  using SimPlatform::SimPlatform;
  Result<PlatformAnswer> wrap_up(const AgentRef&, const d::Interaction&, const std::string& code,
                                 int64_t) override {
    if (code.empty()) return PlatformAnswer::accept();
    return PlatformAnswer::refuse("The wrap-up code " + code + " does not exist");
  }
};

// Found by outpost-sim --genesys-channel-agents 1 (decision 043, seed 11): a wrap-up the
// platform refused, after a local skip of the same interaction, left it QUALIFIED with the
// refused code and the skip cleared: qualified with a code the platform never took. The
// user's later choice replaces the skip; refused, the interaction is pending again, with
// the code, the notes and the platform's reason kept for a retry (decision 050).
TEST_F(Records, ACodeRefusedAfterALocalSkipLeavesTheInteractionPendingWithTheCode) {
  d::WrapupCode callback;
  callback.set_id("wrapup-2");
  callback.set_name("Callback");
  world_.seed("acme", "agent-1", callback);
  interaction_event(interaction("c-1", world_.now_ms - 60'000));
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  world_.sync(phone);
  m::WrapUp skip;
  skip.add_interaction_ids("c-1");
  skip.set_skip(true);
  phone.mutate("wrap_up", skip, world_.now_ms);
  world_.sync(phone);
  auto server = world_.server_get<d::Interaction>("user/acme/agent-1", "c-1");
  ASSERT_TRUE(server.has_value());
  ASSERT_EQ(server->state(), d::INTERACTION_QUALIFIED);
  ASSERT_TRUE(server->wrapup_skipped());

  CodeRefusingPlatform refusing(quiet_platform(), world_.store());
  world_.core().set_platform(&refusing);
  m::WrapUp coded;
  coded.add_interaction_ids("c-1");
  coded.set_code_id("wrapup-2");
  coded.set_notes("call back on monday");
  phone.mutate("wrap_up", coded, world_.now_ms);
  world_.sync(phone);
  server = world_.server_get<d::Interaction>("user/acme/agent-1", "c-1");
  EXPECT_EQ(server->state(), d::INTERACTION_DISCONNECTED) << "the platform took no wrap-up";
  EXPECT_FALSE(server->wrapup_skipped()) << "the user's later choice replaced the skip";
  EXPECT_EQ(server->wrapup_code_id(), "wrapup-2") << "kept for a retry";
  EXPECT_EQ(server->wrapup_notes(), "call back on monday");
  EXPECT_EQ(server->wrapup_refusal(), "The wrap-up code wrapup-2 does not exist");
  world_.expect_converged(phone);
  world_.core().set_platform(&world_.platform());
}

TEST_F(Records, AWrapUpWithAnUnknownCodeIsKeptAsAnEditableRejectedItem) {
  d::WrapupCode code;
  code.set_id("wrapup-2");
  code.set_name("Callback");
  interaction_event(interaction("c-1", world_.now_ms));
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  TestDevice& tablet = world_.device("tablet", "acme", "agent-1");
  world_.seed("acme", "agent-1", code);
  world_.sync(phone);
  world_.sync(tablet);
  // The code is retired on the server while the phone is offline.
  ASSERT_TRUE(
      world_.core()
          .write_as(Principal{"acme", "agent-1", "admin"}, world_.now_ms,
                    [](MutationContext& ctx) { return ctx.remove<d::WrapupCode>("wrapup-2"); })
          .ok());
  m::WrapUp args;
  args.add_interaction_ids("c-1");
  args.set_code_id("wrapup-2");
  phone.mutate("wrap_up", args, world_.now_ms);
  world_.sync(phone);
  EXPECT_EQ(phone.get<d::Interaction>("c-1")->state(), d::INTERACTION_DISCONNECTED);
  auto rejected = phone.replica->rejected();
  ASSERT_EQ(rejected->size(), 1u);
  EXPECT_EQ((*rejected)[0].code, "rejected");
  EXPECT_NE((*rejected)[0].reason.find("unknown wrap-up code"), std::string::npos);
  // The user picks another code for the same item.
  d::WrapupCode other;
  other.set_id("wrapup-3");
  other.set_name("Solved");
  world_.seed("acme", "agent-1", other);
  world_.sync(phone);
  args.set_code_id("wrapup-3");
  ASSERT_TRUE(phone.replica->retry_rejected((*rejected)[0].id, world_.now_ms, &args).ok());
  EXPECT_TRUE(phone.replica->rejected()->empty());
  world_.sync(phone);
  EXPECT_EQ(world_.server_get<d::Interaction>("user/acme/agent-1", "c-1")->wrapup_code_name(),
            "Solved");
  world_.sync(tablet);
  world_.expect_converged(phone);
  world_.expect_converged(tablet);
  m::WrapUp none;
  EXPECT_EQ(phone.replica->mutate("wrap_up", none, 1).status().code(), ErrorCode::kInvalidArgument);
  m::WrapUp no_code;
  no_code.add_interaction_ids("c-1");
  EXPECT_EQ(phone.replica->mutate("wrap_up", no_code, 1).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST_F(Records, FavouritesAreAddWins) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  TestDevice& tablet = world_.device("tablet", "acme", "agent-1");
  m::SetFavourite add;
  add.set_kind(d::FAVOURITE_CANNED_RESPONSE);
  add.set_target_id("response-7");
  add.set_favourite(true);
  phone.mutate("set_favourite", add, world_.now_ms);
  world_.sync(phone);
  world_.sync(tablet);
  // Offline: the phone removes it; the tablet removes and adds it again.
  m::SetFavourite remove = add;
  remove.set_favourite(false);
  phone.mutate("set_favourite", remove, world_.now_ms);
  tablet.mutate("set_favourite", remove, world_.now_ms);
  tablet.mutate("set_favourite", add, world_.now_ms);
  world_.sync(tablet);
  world_.sync(phone);
  world_.sync(tablet);
  EXPECT_TRUE(phone.get<d::Favourite>("3:response-7").has_value()) << "the re-add wins";
  world_.expect_converged(phone);
  world_.expect_converged(tablet);
  // A removal that saw the current add removes it.
  phone.mutate("set_favourite", remove, world_.now_ms);
  world_.sync(phone);
  world_.sync(tablet);
  EXPECT_FALSE(tablet.get<d::Favourite>("3:response-7").has_value());
  m::SetFavourite bad;
  bad.set_target_id("x");
  EXPECT_EQ(phone.replica->mutate("set_favourite", bad, 1).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST_F(Records, FavouriteAddedAndRemovedOfflineStaysRemoved) {
  // The removal names the add it saw by the token the device gave it; the server must give
  // the add the same token, or it keeps the favourite (issue 12, part 2).
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  TestDevice& tablet = world_.device("tablet", "acme", "agent-1");
  m::SetFavourite add;
  add.set_kind(d::FAVOURITE_CONTACT);
  add.set_target_id("contact-7");
  add.set_favourite(true);
  m::SetFavourite remove = add;
  remove.set_favourite(false);
  phone.mutate("set_favourite", add, world_.now_ms);
  phone.mutate("set_favourite", remove, world_.now_ms);
  world_.sync(phone);
  world_.sync(tablet);
  EXPECT_FALSE(world_.server_get<d::Favourite>("user/acme/agent-1", "2:contact-7").has_value());
  EXPECT_FALSE(phone.get<d::Favourite>("2:contact-7").has_value());
  EXPECT_FALSE(tablet.get<d::Favourite>("2:contact-7").has_value());
  world_.expect_converged(phone);
  world_.expect_converged(tablet);
  // The online control: the add synced before the removal.
  phone.mutate("set_favourite", add, world_.now_ms);
  world_.sync(phone);
  auto on_server = world_.server_get<d::Favourite>("user/acme/agent-1", "2:contact-7");
  ASSERT_TRUE(on_server.has_value());
  EXPECT_EQ(on_server->added_token(), phone.replica->client_id() + ":3")
      << "the server names the add as the device did: <client id>:<mutation id>";
  phone.mutate("set_favourite", remove, world_.now_ms);
  world_.sync(phone);
  world_.sync(tablet);
  EXPECT_FALSE(world_.server_get<d::Favourite>("user/acme/agent-1", "2:contact-7").has_value());
  EXPECT_FALSE(tablet.get<d::Favourite>("2:contact-7").has_value());
}

TEST_F(Records, QueuesAndDeviceSettings) {
  d::Queue queue;
  queue.set_id("queue-1");
  queue.set_name("Support NL");
  world_.seed("acme", "agent-1", queue);
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  world_.sync(phone);
  m::SetQueueJoined join;
  join.set_queue_id("queue-1");
  join.set_joined(true);
  phone.mutate("set_queue_joined", join, world_.now_ms);
  join.set_queue_id("queue-9");
  EXPECT_EQ(phone.replica->mutate("set_queue_joined", join, 1).status().code(),
            ErrorCode::kRejected);
  m::RememberQueue last;
  last.set_media(d::MEDIA_EMAIL);
  last.set_queue_id("queue-1");
  phone.mutate("remember_queue", last, world_.now_ms);
  EXPECT_EQ(last_queue_setting(d::MEDIA_EMAIL), "last_queue.email");
  last.set_queue_id("queue-9");
  EXPECT_EQ(phone.replica->mutate("remember_queue", last, 1).status().code(), ErrorCode::kRejected);
  for (const char* phrase :
       {"refund", "delivery", "invoice", "warranty", "address", "hours", "refund"}) {
    m::RememberSearch search;
    search.set_list("canned_response");
    search.set_phrase(phrase);
    phone.mutate("remember_search", search, world_.now_ms);
  }
  m::RememberSearch short_phrase;
  short_phrase.set_list("canned_response");
  short_phrase.set_phrase("ab");
  EXPECT_EQ(phone.replica->mutate("remember_search", short_phrase, 1).status().code(),
            ErrorCode::kInvalidArgument);
  world_.sync(phone);
  EXPECT_TRUE(world_.server_get<d::Queue>("user/acme/agent-1", "queue-1")->joined());
  EXPECT_EQ(world_.server_get<d::UserSetting>("user/acme/agent-1", "last_queue.email")->value(),
            "queue-1");
  auto history =
      world_.server_get<d::UserSetting>("user/acme/agent-1", "search_history.canned_response");
  ASSERT_EQ(history->values_size(), 5);
  EXPECT_EQ(history->values(0), "refund");
  EXPECT_EQ(history->values(1), "hours");
  EXPECT_EQ(history->values(4), "invoice");
  world_.expect_converged(phone);
}

TEST_F(Records, TheJournalWindowMovesPastMidnight) {
  d::OrgSetting offset;
  offset.set_name(kUtcOffsetSetting);
  offset.set_value("+60");
  world_.seed("acme", "agent-1", offset);
  // 2026-11-18 11:06:40 UTC = 12:06:40 local.
  const int64_t today_start = local_day_start_ms(local_day(world_.now_ms, 60), 60);
  interaction_event(interaction("yesterday-late", today_start - 60'000));  // not carried
  interaction_event(interaction("morning", today_start + 3'600'000));
  interaction_event(interaction("now", world_.now_ms));
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  world_.sync(phone);
  EXPECT_FALSE(phone.get<d::Interaction>("yesterday-late").has_value());
  EXPECT_EQ(phone.get<d::Interaction>("morning")->day(), "2026-11-18");
  world_.run_platform();
  world_.sync(phone);
  EXPECT_EQ(phone.replica->count("interaction").value(), 2u);

  // 23:59 local: still today. 00:00:01 local: yesterday's leave every device by themselves.
  world_.now_ms = today_start + 86'400'000 - 60'000;
  world_.run_platform();
  world_.sync(phone);
  EXPECT_EQ(phone.replica->count("interaction").value(), 2u);
  world_.now_ms = today_start + 86'400'000 + 1000;
  interaction_event(interaction("after-midnight", world_.now_ms - 500));
  world_.run_platform();
  world_.sync(phone);
  EXPECT_FALSE(phone.get<d::Interaction>("morning").has_value());
  EXPECT_FALSE(phone.get<d::Interaction>("now").has_value());
  EXPECT_EQ(phone.get<d::Interaction>("after-midnight")->day(), "2026-11-19");
  world_.expect_converged(phone);

  // A longer window keeps more days.
  d::OrgSetting days;
  days.set_name(kJournalDaysSetting);
  days.set_value("2");
  world_.seed("acme", "agent-1", days);
  interaction_event(interaction("yesterday", world_.now_ms - 86'400'000));
  world_.sync(phone);
  EXPECT_TRUE(phone.get<d::Interaction>("yesterday").has_value());
}

TEST_F(Records, SearchAsTheGuideDescribesIt) {
  const char* people[][4] = {{"c1", "Ann", "Peeters", "ann.p@example.com"},
                             {"c2", "Bert", "Maes", "bert@peeters-bakery.example"},
                             {"c3", "Chloe", "Jacobs", "chloe@example.com"}};
  for (const auto& person : people) {
    d::Contact contact;
    contact.set_id(person[0]);
    contact.set_first_name(person[1]);
    contact.set_last_name(person[2]);
    contact.set_work_email(person[3]);
    contact.set_cell_phone(std::string("+32 475 00") + person[0]);
    world_.seed("acme", "agent-1", contact);
  }
  const char* responses[][3] = {{"r1", "Apology for delay", "We are sorry your parcel is late."},
                                {"r2", "Refund confirmation", "Your refund for the late parcel."},
                                {"r3", "Opening hours", "We are open from 9 to 17."}};
  for (const auto& item : responses) {
    d::CannedResponse response;
    response.set_id(item[0]);
    response.set_title(item[1]);
    response.set_text(item[2]);
    world_.seed("acme", "agent-1", response);
  }
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  world_.sync(phone);
  auto ids = [&](const std::string& collection, const std::string& text) {
    std::vector<std::string> out;
    auto found = phone.replica->search(collection, text);
    EXPECT_TRUE(found.ok()) << found.status().to_string();
    if (!found.ok()) return out;
    const Collection* c = Schema::domain().find(collection);
    for (const auto& record : *found) out.push_back(c->key_of(*record));
    return out;
  };
  // Minimum 3 characters.
  EXPECT_EQ(phone.replica->search("contact", "pe").status().code(), ErrorCode::kInvalidArgument);
  // "Contains", case-insensitive, on first name, last name, e-mail and phones.
  EXPECT_EQ(ids("contact", "eete"), (std::vector<std::string>{"c1", "c2"}));
  EXPECT_EQ(ids("contact", "LOE"), (std::vector<std::string>{"c3"}));
  EXPECT_EQ(ids("contact", "475 00c2"), (std::vector<std::string>{"c2"}));
  // Canned responses: title and text searched, Z-A by title by default.
  EXPECT_EQ(ids("canned_response", "parcel"), (std::vector<std::string>{"r2", "r1"}));
  EXPECT_EQ(ids("canned_response", "open"), (std::vector<std::string>{"r3"}));
  EXPECT_EQ(ids("canned_response", "hours"), (std::vector<std::string>{"r3"}));
  auto ascending = phone.replica->search("canned_response", "parcel", {.order_by = "title"});
  ASSERT_TRUE(ascending.ok());
  EXPECT_EQ(static_cast<const d::CannedResponse&>(*(*ascending)[0]).id(), "r1");
}

TEST_F(Records, PushTargetsAreOnePerDeviceAndADeadTokenRemovesOnlyItself) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  m::RegisterPushTarget reg;
  d::PushTarget& target = *reg.mutable_target();
  target.set_device_id("phone");
  target.set_platform(d::PUSH_APNS);
  target.set_token("aa11");
  target.set_app_id("com.example.outpost");
  target.set_sandbox(true);
  phone.mutate("register_push_target", reg, world_.now_ms);
  target.set_token("bb22");  // a new token replaces the old one
  phone.mutate("register_push_target", reg, world_.now_ms);
  world_.sync(phone);
  auto stored = world_.server_get<d::PushTarget>("user/acme/agent-1", "phone");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->token(), "bb22");
  EXPECT_TRUE(stored->sandbox());
  EXPECT_EQ(stored->registered_ms(), world_.now_ms);

  // The push service reports the old token dead: the newer registration stays.
  m::RemovePushTarget dead;
  dead.set_device_id("phone");
  dead.set_token("aa11");
  ASSERT_TRUE(world_.core()
                  .write_as(Principal{"acme", "agent-1", ""}, world_.now_ms,
                            [&](MutationContext& ctx) { return remove_push_target(ctx, dead); })
                  .ok());
  EXPECT_TRUE(world_.server_get<d::PushTarget>("user/acme/agent-1", "phone").has_value());
  // Logout removes it, whatever the token.
  m::RemovePushTarget logout;
  logout.set_device_id("phone");
  phone.mutate("remove_push_target", logout, world_.now_ms);
  world_.sync(phone);
  EXPECT_FALSE(world_.server_get<d::PushTarget>("user/acme/agent-1", "phone").has_value());
  EXPECT_FALSE(phone.get<d::PushTarget>("phone").has_value());
  world_.expect_converged(phone);
}

TEST_F(Records, AMalformedPushTargetIsRefusedAndNothingChanges) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  auto attempt = [&](const std::function<void(d::PushTarget&)>& edit) {
    m::RegisterPushTarget reg;
    d::PushTarget& t = *reg.mutable_target();
    t.set_device_id("phone");
    t.set_platform(d::PUSH_FCM);
    t.set_token("tok");
    t.set_app_id("app");
    edit(t);
    return phone.replica->mutate("register_push_target", reg, 1).status().code();
  };
  EXPECT_EQ(attempt([](d::PushTarget& t) { t.set_device_id("a/b"); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(attempt([](d::PushTarget& t) { t.set_platform(d::PUSH_PLATFORM_UNSPECIFIED); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(attempt([](d::PushTarget& t) { t.set_token("has space"); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(attempt([](d::PushTarget& t) { t.set_token(std::string(513, 'a')); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(attempt([](d::PushTarget& t) { t.set_app_id(""); }), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(phone.get<d::PushTarget>("phone").has_value());
  EXPECT_EQ(attempt([](d::PushTarget&) {}), ErrorCode::kOk);
}

}  // namespace
}  // namespace outpost

// Drafts and notepads across devices and the web interface: three-way word merges, same-word
// conflicts kept for the user, deletes racing edits, sends the platform refuses. Real
// replicas, the real server core and store, the simulated platform's web edits.
#include <gtest/gtest.h>

#include <set>

#include "engine/domain_merge.h"
#include "engine/text_merge.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "test_support.h"
#include "tests/support/domain_harness.h"

namespace outpost {
namespace {

namespace d = outpost::domain;
namespace m = outpost::mutations;
using testing::TestDevice;

std::set<std::string> words(const std::string& text) {
  std::set<std::string> out;
  for (std::string_view token : split_words(text)) {
    if (token.find_first_not_of(" \t\n\r") != std::string_view::npos) out.emplace(token);
  }
  return out;
}

class Drafts : public ::testing::Test {
 protected:
  Drafts() : world_(dir_.path(), quiet_platform()) {}

  static SimPlatformOptions quiet_platform() {
    SimPlatformOptions options;
    options.route_chance = options.voicemail_chance = options.website_close_chance = 0;
    options.supervisor_chance = options.note_edit_chance = 0;
    options.web_edit_delay_ms = 1'000'000'000;  // the tests make the web's edits themselves
    return options;
  }

  m::SaveDraft save(const std::string& body, const std::string& subject = "Your delivery") {
    m::SaveDraft args;
    d::Draft& draft = *args.mutable_draft();
    draft.set_id("draft-1");
    draft.set_interaction_id("conversation-1");
    draft.set_kind(d::DRAFT_EMAIL_REPLY);
    draft.add_to("ann@example.com");
    draft.set_subject(subject);
    draft.set_body(body);
    return args;
  }

  // The device edits the draft it shows: same metadata, new body.
  m::SaveDraft edit(TestDevice& device, const std::string& body) {
    auto shown = device.get<d::Draft>("draft-1");
    EXPECT_TRUE(shown.has_value());
    m::SaveDraft args;
    *args.mutable_draft() = shown.value_or(d::Draft());
    args.mutable_draft()->set_body(body);
    return args;
  }

  // The web interface loads the server's draft and saves `body`.
  void web_edit(const std::string& body) {
    auto base = world_.server_get<d::Draft>("user/acme/agent-1", "draft-1");
    ASSERT_TRUE(base.has_value());
    upstream::Event event;
    event.set_tenant("acme");
    event.set_user("agent-1");
    *event.mutable_draft_edited()->mutable_base() = *base;
    d::Draft& edited = *event.mutable_draft_edited()->mutable_edited();
    edited = *base;
    edited.set_body(body);
    world_.platform_event(event);
  }

  d::Draft server_draft() {
    return world_.server_get<d::Draft>("user/acme/agent-1", "draft-1").value_or(d::Draft());
  }

  testing::TempDir dir_;
  testing::DomainWorld world_;
};

TEST_F(Drafts, OfflineAppEditAndWebEditOfOtherWordsBothSurvive) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  TestDevice& tablet = world_.device("tablet", "acme", "agent-1");
  phone.mutate("save_draft", save("Dear Anne, your parcel leaves today."), world_.now_ms);
  world_.sync(phone);
  world_.sync(tablet);

  // The phone goes offline and adds a sentence; the web fixes the name meanwhile.
  phone.mutate("save_draft",
               edit(phone, "Dear Anne, your parcel leaves today. The driver calls ahead."),
               world_.now_ms);
  web_edit("Dear Ann, your parcel leaves today.");
  world_.sync(phone);
  world_.sync(tablet);

  d::Draft merged = server_draft();
  EXPECT_EQ(merged.body(), "Dear Ann, your parcel leaves today. The driver calls ahead.");
  EXPECT_FALSE(merged.conflicted());
  EXPECT_EQ(merged.revision(), 3u);
  EXPECT_EQ(phone.get<d::Draft>("draft-1")->body(), merged.body());
  world_.expect_converged(phone);
  world_.expect_converged(tablet);
}

// The README's story (scripts/demo): offline, the phone continues the sentence while the
// web interface adds a sign-off paragraph; every side ends with the draft a person would
// have written, each side's spacing as typed.
TEST_F(Drafts, TheStorysContinuationAndTheWebsSignOffReadAsWritten) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  TestDevice& tablet = world_.device("tablet", "acme", "agent-1");
  const std::string typed = "Dear Ann, your parcel leaves our warehouse today.";
  phone.mutate("save_draft", save(typed), world_.now_ms);
  world_.sync(phone);
  world_.sync(tablet);

  phone.mutate("save_draft", edit(phone, typed + " The driver calls you thirty minutes ahead."),
               world_.now_ms);  // offline
  web_edit(typed + "\n\nBest regards from Support");
  world_.sync(phone);
  world_.sync(tablet);

  d::Draft merged = server_draft();
  EXPECT_EQ(merged.body(),
            "Dear Ann, your parcel leaves our warehouse today. The driver calls you thirty "
            "minutes ahead.\n\nBest regards from Support");
  EXPECT_FALSE(merged.conflicted());
  EXPECT_EQ(phone.get<d::Draft>("draft-1")->body(), merged.body());
  EXPECT_EQ(tablet.get<d::Draft>("draft-1")->body(), merged.body());
  world_.expect_converged(phone);
  world_.expect_converged(tablet);
}

// Both sides changed the same words of a realistic reply: the text keeps the phone's
// sentence, the conflict copy shows the web's whole sentence (not a bare "on Monday."), so
// the person choosing reads both versions side by side; resolving drops that copy.
TEST_F(Drafts, TheConflictCopyShowsTheOtherSidesWholeSentence) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  const std::string before = "Dear Ann,\n\nYour parcel leaves our warehouse ";
  const std::string after = ". The driver calls you thirty minutes ahead.\n\nKind regards";
  phone.mutate("save_draft", save(before + "today" + after), world_.now_ms);
  world_.sync(phone);
  phone.mutate("save_draft", edit(phone, before + "tomorrow morning" + after), world_.now_ms);
  web_edit(before + "on Monday" + after);
  world_.sync(phone);

  d::Draft draft = server_draft();
  EXPECT_TRUE(draft.conflicted());
  EXPECT_EQ(draft.body(),
            "Dear Ann,\n\nYour parcel leaves our warehouse tomorrow morning. The driver calls you "
            "thirty minutes ahead.\n\nKind regards");
  EXPECT_EQ(draft.conflict_body(), "Your parcel leaves our warehouse on Monday.");
  EXPECT_EQ(phone.get<d::Draft>("draft-1")->conflict_body(), draft.conflict_body());

  // The user picks the web's day and saves with resolve_conflict: the copy they saw goes.
  m::SaveDraft resolved = edit(phone, before + "on Monday" + after);
  resolved.set_resolve_conflict(true);
  phone.mutate("save_draft", resolved, world_.now_ms);
  world_.sync(phone);
  draft = server_draft();
  EXPECT_FALSE(draft.conflicted());
  EXPECT_EQ(draft.conflict_body(), "");
  EXPECT_EQ(draft.body(), before + "on Monday" + after);
  world_.expect_converged(phone);
}

TEST_F(Drafts, TheDeviceShowsTheMergeBeforeTheServerConfirmsIt) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  phone.mutate("save_draft", save("one two three"), world_.now_ms);
  world_.sync(phone);
  phone.mutate("save_draft", edit(phone, "one two three four"), world_.now_ms);
  web_edit("zero one two three");
  // A pull only (the push waits): the rebase replays the pending save on the web's version.
  m::SaveDraft pending_args;
  ASSERT_TRUE(pending_args.ParseFromString(phone.replica->pending().value().back().args));
  EXPECT_EQ(pending_args.base().body(), "one two three");  // captured by mutate()
  protocol::PullRequest pull;
  pull.set_protocol_version(protocol::VERSION_CURRENT);
  pull.set_schema_version(Schema::domain().version());
  pull.set_client_id(phone.replica->client_id());
  auto cursors = phone.replica->cursors();
  ASSERT_TRUE(cursors.ok());
  for (const ScopeCursor& cursor : *cursors) {
    auto* scope = pull.add_cursors();
    scope->set_scope(cursor.scope);
    scope->set_seq(cursor.seq);
    scope->set_token(cursor.token);
  }
  auto response = world_.core().pull(phone.who, pull);
  ASSERT_TRUE(response.ok()) << response.status().to_string();
  ASSERT_TRUE(phone.replica->apply(*response).ok());
  EXPECT_EQ(phone.get<d::Draft>("draft-1")->body(), "zero one two three four");
  world_.sync(phone);
  EXPECT_EQ(server_draft().body(), "zero one two three four");
  world_.expect_converged(phone);
}

TEST_F(Drafts, SameWordsChangedOnBothSidesAreKeptAndFlagged) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  phone.mutate("save_draft", save("Your parcel leaves today."), world_.now_ms);
  world_.sync(phone);
  phone.mutate("save_draft", edit(phone, "Your parcel leaves tomorrow morning."), world_.now_ms);
  web_edit("Your parcel leaves on Monday.");
  world_.sync(phone);

  d::Draft draft = server_draft();
  EXPECT_TRUE(draft.conflicted());
  EXPECT_EQ(draft.body(), "Your parcel leaves tomorrow morning.");
  EXPECT_EQ(draft.conflict_body(), "Your parcel leaves on Monday.");  // the web's sentence
  world_.expect_converged(phone);

  // Sending is refused until the user chooses.
  m::SendDraft send;
  send.set_id("draft-1");
  auto refused = phone.replica->mutate("send_draft", send, world_.now_ms);
  EXPECT_EQ(refused.status().code(), ErrorCode::kRejected);

  // The user keeps both versions' words and resolves.
  m::SaveDraft resolved = edit(phone, "Your parcel leaves tomorrow morning, or on Monday.");
  resolved.set_resolve_conflict(true);
  phone.mutate("save_draft", resolved, world_.now_ms);
  world_.sync(phone);
  draft = server_draft();
  EXPECT_FALSE(draft.conflicted());
  EXPECT_EQ(draft.conflict_body(), "");
  EXPECT_EQ(draft.body(), "Your parcel leaves tomorrow morning, or on Monday.");
  phone.mutate("send_draft", send, world_.now_ms);
  world_.sync(phone);
  EXPECT_EQ(server_draft().status(), d::DRAFT_SENT);
  world_.expect_converged(phone);
}

TEST_F(Drafts, ResolvingKeepsAConflictThatArrivedAfterTheUserLooked) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  phone.mutate("save_draft", save("a b c d"), world_.now_ms);
  world_.sync(phone);
  phone.mutate("save_draft", edit(phone, "a B c d"), world_.now_ms);
  web_edit("a X c d");
  world_.sync(phone);
  ASSERT_EQ(server_draft().conflict_body(), "a X c d");
  // The user resolves offline while the web conflicts again on another word.
  m::SaveDraft resolved = edit(phone, "a B c D");
  resolved.set_resolve_conflict(true);
  phone.mutate("save_draft", resolved, world_.now_ms);
  web_edit("a B c Y");
  world_.sync(phone);
  d::Draft draft = server_draft();
  EXPECT_TRUE(draft.conflicted());
  EXPECT_EQ(draft.conflict_body(), "a B c Y");  // "X"'s line was seen and resolved; "Y"'s not
  EXPECT_EQ(draft.body(), "a B c D");
  world_.expect_converged(phone);
}

TEST_F(Drafts, ThreeDevicesTypingAtOnceLoseNoWord) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  TestDevice& tablet = world_.device("tablet", "acme", "agent-1");
  TestDevice& laptop = world_.device("laptop", "acme", "agent-1");
  phone.mutate("save_draft", save("start middle end"), world_.now_ms);
  world_.sync(phone);
  world_.sync(tablet);
  world_.sync(laptop);
  // All three offline: two change the same word, one appends, across several saves.
  phone.mutate("save_draft", edit(phone, "start phoneword end"), world_.now_ms);
  phone.mutate("save_draft", edit(phone, "start phoneword end phonetail"), world_.now_ms);
  tablet.mutate("save_draft", edit(tablet, "start tabletword end"), world_.now_ms);
  laptop.mutate("save_draft", edit(laptop, "laptophead start middle end"), world_.now_ms);
  world_.sync(phone);
  world_.sync(tablet);
  world_.sync(laptop);
  world_.sync(phone);
  world_.sync(tablet);

  d::Draft draft = server_draft();
  std::set<std::string> kept = words(draft.body());
  for (const std::string& word : words(draft.conflict_body())) kept.insert(word);
  for (const char* word : {"phoneword", "phonetail", "tabletword", "laptophead", "start", "end"}) {
    EXPECT_TRUE(kept.count(word)) << word << " lost: body '" << draft.body() << "' conflict '"
                                  << draft.conflict_body() << "'";
  }
  EXPECT_TRUE(draft.conflicted());
  world_.expect_converged(phone);
  world_.expect_converged(tablet);
  world_.expect_converged(laptop);
}

TEST_F(Drafts, AnEditArrivingAfterADeleteRecreatesTheDraft) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  TestDevice& tablet = world_.device("tablet", "acme", "agent-1");
  phone.mutate("save_draft", save("keep me"), world_.now_ms);
  world_.sync(phone);
  world_.sync(tablet);
  tablet.mutate("save_draft", edit(tablet, "keep me please"), world_.now_ms);  // offline
  m::DeleteDraft remove;
  remove.set_id("draft-1");
  phone.mutate("delete_draft", remove, world_.now_ms);
  world_.sync(phone);
  ASSERT_FALSE(world_.server_get<d::Draft>("user/acme/agent-1", "draft-1").has_value());
  world_.sync(tablet);  // typed text wins over the delete
  EXPECT_EQ(server_draft().body(), "keep me please");
  world_.sync(phone);
  world_.expect_converged(phone);
  world_.expect_converged(tablet);
}

TEST_F(Drafts, ADeleteArrivingAfterAnEditIsRefusedAndTheTextKept) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  TestDevice& tablet = world_.device("tablet", "acme", "agent-1");
  phone.mutate("save_draft", save("first words"), world_.now_ms);
  world_.sync(phone);
  world_.sync(tablet);
  m::DeleteDraft remove;
  remove.set_id("draft-1");
  phone.mutate("delete_draft", remove, world_.now_ms);  // offline
  EXPECT_FALSE(phone.get<d::Draft>("draft-1").has_value());
  tablet.mutate("save_draft", edit(tablet, "first words and more"), world_.now_ms);
  world_.sync(tablet);
  world_.sync(phone);
  EXPECT_EQ(server_draft().body(), "first words and more");
  auto shown = phone.get<d::Draft>("draft-1");
  ASSERT_TRUE(shown.has_value()) << "the refused delete is rolled back on the phone";
  EXPECT_EQ(shown->body(), "first words and more");
  auto rejected = phone.replica->rejected();
  ASSERT_TRUE(rejected.ok());
  ASSERT_EQ(rejected->size(), 1u);
  EXPECT_EQ((*rejected)[0].name, "delete_draft");
  EXPECT_NE((*rejected)[0].reason.find("edited elsewhere"), std::string::npos);
  // Retrying with the stored arguments is refused at once (their base is the old text) and
  // changes nothing; retrying with fresh arguments deletes the draft as the user now sees it.
  auto retried = phone.replica->retry_rejected((*rejected)[0].id, world_.now_ms);
  EXPECT_EQ(retried.status().code(), ErrorCode::kRejected);
  EXPECT_TRUE(phone.replica->pending()->empty());
  rejected = phone.replica->rejected();
  ASSERT_EQ(rejected->size(), 1u);
  m::DeleteDraft fresh;
  fresh.set_id("draft-1");
  ASSERT_TRUE(phone.replica->retry_rejected((*rejected)[0].id, world_.now_ms, &fresh).ok());
  world_.sync(phone);
  EXPECT_FALSE(world_.server_get<d::Draft>("user/acme/agent-1", "draft-1").has_value());
  EXPECT_TRUE(phone.replica->rejected()->empty());
  world_.sync(tablet);
  world_.expect_converged(phone);
  world_.expect_converged(tablet);
}

TEST_F(Drafts, ARefusedSendBecomesAnEditableDraftWithTheReason) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  m::SaveDraft args = save("Hello");
  args.mutable_draft()->clear_to();  // no recipient: the platform refuses the send
  phone.mutate("save_draft", args, world_.now_ms);
  m::SendDraft send;
  send.set_id("draft-1");
  phone.mutate("send_draft", send, world_.now_ms);
  EXPECT_EQ(phone.get<d::Draft>("draft-1")->status(), d::DRAFT_SENDING);
  world_.sync(phone);
  d::Draft refused = *phone.get<d::Draft>("draft-1");
  EXPECT_EQ(refused.status(), d::DRAFT_REFUSED);
  EXPECT_EQ(refused.refusal(), "no recipient");
  EXPECT_EQ(refused.body(), "Hello");

  m::SaveDraft fixed = edit(phone, "Hello Ann");
  fixed.mutable_draft()->add_to("ann@example.com");
  phone.mutate("save_draft", fixed, world_.now_ms);
  EXPECT_EQ(phone.get<d::Draft>("draft-1")->status(), d::DRAFT_EDITING);
  phone.mutate("send_draft", send, world_.now_ms);
  world_.sync(phone);
  EXPECT_EQ(server_draft().status(), d::DRAFT_SENT);
  EXPECT_EQ(server_draft().refusal(), "");
  // A sent draft takes no more edits: refused at once on a device that knows it was sent...
  EXPECT_EQ(
      phone.replica->mutate("save_draft", edit(phone, "too late"), world_.now_ms).status().code(),
      ErrorCode::kRejected);
  world_.expect_converged(phone);
}

TEST_F(Drafts, AnEditOfADraftSentElsewhereIsKeptAsARejectedItemWithItsText) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  TestDevice& tablet = world_.device("tablet", "acme", "agent-1");
  phone.mutate("save_draft", save("Hello Ann"), world_.now_ms);
  world_.sync(phone);
  world_.sync(tablet);
  phone.mutate("save_draft", edit(phone, "Hello Ann, PS"), world_.now_ms);  // offline
  m::SendDraft send;
  send.set_id("draft-1");
  tablet.mutate("send_draft", send, world_.now_ms);
  world_.sync(tablet);
  world_.sync(phone);
  EXPECT_EQ(phone.get<d::Draft>("draft-1")->status(), d::DRAFT_SENT);
  auto rejected = phone.replica->rejected();
  ASSERT_EQ(rejected->size(), 1u);
  m::SaveDraft kept;
  ASSERT_TRUE(kept.ParseFromString((*rejected)[0].args));
  EXPECT_EQ(kept.draft().body(), "Hello Ann, PS");
  EXPECT_EQ((*rejected)[0].reason, "draft was already sent");
  world_.expect_converged(phone);
}

TEST_F(Drafts, RecipientsMergePerFieldNotByLastWriter) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  phone.mutate("save_draft", save("body"), world_.now_ms);
  world_.sync(phone);
  m::SaveDraft args = edit(phone, "body text");  // the phone changes the body only
  phone.mutate("save_draft", args, world_.now_ms);
  // The web adds a CC.
  auto base = world_.server_get<d::Draft>("user/acme/agent-1", "draft-1");
  upstream::Event event;
  event.set_tenant("acme");
  event.set_user("agent-1");
  *event.mutable_draft_edited()->mutable_base() = *base;
  *event.mutable_draft_edited()->mutable_edited() = *base;
  event.mutable_draft_edited()->mutable_edited()->add_cc("boss@example.com");
  world_.platform_event(event);
  world_.sync(phone);
  d::Draft draft = server_draft();
  EXPECT_EQ(draft.body(), "body text");
  ASSERT_EQ(draft.cc_size(), 1);
  EXPECT_EQ(draft.cc(0), "boss@example.com");
  world_.expect_converged(phone);
}

TEST_F(Drafts, TheSimulatedWebInterfaceEditsANewDraftOnceAndNothingIsLost) {
  SimPlatformOptions options = quiet_platform();
  options.web_edit_delay_ms = 1000;
  testing::TempDir dir;
  testing::DomainWorld world(dir.path(), options);
  TestDevice& phone = world.device("phone", "acme", "agent-1");
  phone.mutate("save_draft", save("Dear Ann, about your order."), world.now_ms);
  world.sync(phone);
  world.run_platform();  // the web sees the draft
  phone.mutate("save_draft", edit(phone, "Dear Ann, about your order 42."), world.now_ms);
  world.now_ms += 2000;
  world.run_platform();  // the web edits it
  EXPECT_EQ(world.platform().counters().web_draft_edits, 1u);
  world.sync(phone);
  d::Draft draft = world.server_get<d::Draft>("user/acme/agent-1", "draft-1").value_or(d::Draft());
  EXPECT_FALSE(draft.conflicted()) << draft.conflict_body();
  EXPECT_NE(draft.body().find("about your order 42."), std::string::npos) << draft.body();
  EXPECT_GT(draft.body().size(), std::string("Dear Ann, about your order 42.").size())
      << "the web's words are in too: " << draft.body();
  world.expect_converged(phone);
}

TEST_F(Drafts, NotepadEditsOfTheWebAndTheAppMerge) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  m::SaveNote note;
  note.set_interaction_id("conversation-1");
  note.set_text("Customer wants a refund.");
  phone.mutate("save_note", note, world_.now_ms);
  world_.sync(phone);
  note.set_text("Customer wants a refund. Sent form.");
  phone.mutate("save_note", note, world_.now_ms);
  auto base = world_.server_get<d::Note>("user/acme/agent-1", "conversation-1");
  upstream::Event event;
  event.set_tenant("acme");
  event.set_user("agent-1");
  event.mutable_note_edited()->set_interaction_id("conversation-1");
  *event.mutable_note_edited()->mutable_base() = *base;
  event.mutable_note_edited()->set_text("VIP. Customer wants a refund.");
  world_.platform_event(event);
  world_.sync(phone);
  auto merged = world_.server_get<d::Note>("user/acme/agent-1", "conversation-1");
  EXPECT_EQ(merged->text(), "VIP. Customer wants a refund. Sent form.");
  EXPECT_FALSE(merged->conflicted());
  world_.expect_converged(phone);
}

TEST_F(Drafts, PendingSavesSurviveAnAppKillAndStillMerge) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  phone.mutate("save_draft", save("alpha"), world_.now_ms);
  world_.sync(phone);
  phone.mutate("save_draft", edit(phone, "alpha beta"), world_.now_ms);
  phone.mutate("save_draft", edit(phone, "alpha beta gamma"), world_.now_ms);
  phone.open();  // killed and reopened from its file
  web_edit("omega alpha");
  world_.sync(phone);
  EXPECT_EQ(server_draft().body(), "omega alpha beta gamma");
  world_.expect_converged(phone);
}

TEST_F(Drafts, BadDraftInputChangesNothing) {
  TestDevice& phone = world_.device("phone", "acme", "agent-1");
  m::SaveDraft no_id = save("x");
  no_id.mutable_draft()->clear_id();
  EXPECT_EQ(phone.replica->mutate("save_draft", no_id, world_.now_ms).status().code(),
            ErrorCode::kInvalidArgument);
  m::SaveDraft huge = save(std::string(kMaxTextBytes + 1, 'x'));
  EXPECT_EQ(phone.replica->mutate("save_draft", huge, world_.now_ms).status().code(),
            ErrorCode::kTooLarge);
  m::SendDraft send;
  send.set_id("nope");
  EXPECT_EQ(phone.replica->mutate("send_draft", send, world_.now_ms).status().code(),
            ErrorCode::kRejected);
  EXPECT_TRUE(phone.replica->pending()->empty());
  EXPECT_EQ(phone.replica->count("draft").value(), 0u);
}

}  // namespace
}  // namespace outpost

// The Genesys decoders on bodies shaped as shared/reference/platform-apis.md §1 shows them,
// and on what they must refuse: malformed JSON, too deep or too large, missing ids, enums
// this build does not know.
#include "adapters/genesys/genesys_json.h"

#include <gtest/gtest.h>

namespace outpost::genesys {
namespace {

namespace d = outpost::domain;

TEST(GenesysJson, IsoTimesRoundTrip) {
  EXPECT_EQ(parse_iso_ms("1970-01-01T00:00:01.500Z"), 1500);
  EXPECT_EQ(parse_iso_ms("2026-12-06T20:17:14Z"), 1796588234000);
  EXPECT_EQ(format_iso_ms(1796588234123), "2026-12-06T20:17:14.123Z");
  EXPECT_FALSE(parse_iso_ms("2026-13-06T20:17:14Z"));
  EXPECT_FALSE(parse_iso_ms("yesterday"));
  EXPECT_FALSE(parse_iso_ms("2026-12-06T20:17:14.123+02:00"));
}

TEST(GenesysJson, PresenceDefinitionsGiveAuxReasonsAndTheSystemIds) {
  auto defs = decode_presence_definitions(R"({"total":4,"entities":[
    {"id":"q","name":"On Queue","type":"System","systemPresence":"OnQueue"},
    {"id":"off","type":"System","systemPresence":"Offline"},
    {"id":"av","type":"System","systemPresence":"Available"},
    {"id":"lunch","type":"User","systemPresence":"Meal","languageLabels":{"en_US":"Lunch"},
     "deactivated":false}],"selfUri":"/api/v2/presence/definitions"})");
  ASSERT_TRUE(defs.ok()) << defs.status().to_string();
  EXPECT_EQ(defs->map.on_queue_id, "q");
  EXPECT_EQ(defs->map.offline_id, "off");
  EXPECT_EQ(defs->map.available_id, "av");
  ASSERT_EQ(defs->aux_reasons.size(), 2u);  // Available and Lunch; not OnQueue, not Offline
  EXPECT_EQ(defs->aux_reasons[1].name(), "Lunch");
  EXPECT_EQ(defs->aux_reasons[1].system_presence(), "Meal");
}

TEST(GenesysJson, UnknownEnumsAreRefused) {
  auto defs = decode_presence_definitions(
      R"({"entities":[{"id":"x","type":"User","systemPresence":"Dancing"}]})");
  EXPECT_EQ(defs.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(decode_routing_status(R"({"status":"SLEEPING"})").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(decode_contact(R"({"id":"c","type":"Imaginary"})").status().code(),
            ErrorCode::kInvalidArgument);
}

TEST(GenesysJson, PresenceMapsToTheDomain) {
  PresenceMap map;
  map.system_of["lunch"] = "Meal";
  auto ready =
      decode_presence(R"({"presenceDefinition":{"id":"q","systemPresence":"OnQueue"}})", map);
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->presence(), d::PRESENCE_READY);
  auto lunch = decode_presence(R"({"presenceDefinition":{"id":"lunch"}})", map);
  ASSERT_TRUE(lunch.ok());
  EXPECT_EQ(lunch->presence(), d::PRESENCE_NOT_READY);
  EXPECT_EQ(lunch->aux_reason_id(), "lunch");
  EXPECT_FALSE(decode_presence(R"({"presenceDefinition":{"id":"unknown"}})", map).ok());
  EXPECT_EQ(*decode_routing_status(R"({"id":"u","routingStatus":{"status":"IDLE"}})"), "IDLE");
}

TEST(GenesysJson, PagesCarryNextUriCursorsAndTotals) {
  auto page = decode_page(R"({"entities":[{"id":"a"},{"id":"b"}],"pageSize":2,"pageNumber":1,
    "total":5,"pageCount":3,"nextUri":"/api/v2/x?pageNumber=2"})");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->entities.size(), 2u);
  EXPECT_EQ(page->next_uri, "/api/v2/x?pageNumber=2");
  EXPECT_EQ(page->total, 5);
  auto scan = decode_page(R"({"entities":[],"cursors":{"after":"c2"},"nextUri":"/n"})");
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->cursor_after, "c2");
  EXPECT_FALSE(decode_page(R"({"entities":{}})").ok());
  EXPECT_FALSE(decode_page(R"({"entities":[1]})").ok());
}

TEST(GenesysJson, BadBytesAreErrorsNotCrashes) {
  EXPECT_EQ(decode_page("{\"entities\":[").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(decode_page("[]").status().code(), ErrorCode::kInvalidArgument);
  std::string deep(100, '[');
  EXPECT_EQ(decode_page(deep).status().code(), ErrorCode::kInvalidArgument);
  std::string huge = "{\"x\":\"" + std::string(kMaxBodyBytes, 'a') + "\"}";
  EXPECT_EQ(decode_page(huge).status().code(), ErrorCode::kTooLarge);
  EXPECT_EQ(decode_voicemail(R"({"read":true})").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(decode_token(R"({"error":"invalid_client"})").ok());
}

constexpr const char* kConversation = R"({"id":"c-1","startTime":"2026-12-06T10:00:00.000Z",
  "participants":[
    {"id":"p-1","purpose":"customer","name":"Ann","address":"tel:+358401",
     "calls":[{"id":"k-1","state":"connected"}]},
    {"id":"p-2","purpose":"agent","userId":"agent-1","queueId":"queue-1","queueName":"Support",
     "wrapupRequired":true,"attributes":{"order":"42"},
     "calls":[{"id":"k-2","state":"disconnected","direction":"inbound",
               "disconnectedTime":"2026-12-06T10:05:00.000Z"}]}]})";

TEST(GenesysJson, ConversationForItsAgent) {
  auto c = decode_conversation(kConversation, "agent-1");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->media_path, "calls");
  EXPECT_EQ(c->participant_id, "p-2");
  EXPECT_EQ(c->communication_id, "k-2");
  const d::Interaction& it = c->interaction;
  EXPECT_EQ(it.media(), d::MEDIA_VOICE);
  EXPECT_EQ(it.state(), d::INTERACTION_DISCONNECTED);  // wrap-up still required
  EXPECT_EQ(it.peer_address(), "tel:+358401");
  EXPECT_EQ(it.duration_s(), 300);
  EXPECT_EQ(it.participant_data().at("order"), "42");
  EXPECT_EQ(decode_conversation(kConversation, "agent-2").status().code(), ErrorCode::kNotFound);
  std::string odd = kConversation;
  odd.replace(odd.find("disconnected"), 12, "levitating");
  EXPECT_EQ(decode_conversation(odd, "agent-1").status().code(), ErrorCode::kInvalidArgument);
}

TEST(GenesysJson, AnalyticsConversationForItsAgent) {
  auto it = decode_analytics_conversation(R"({"conversationId":"c-9",
    "conversationStart":"2026-12-06T10:00:00.000Z","conversationEnd":"2026-12-06T10:01:00.000Z",
    "originatingDirection":"inbound","participants":[
      {"participantId":"p","purpose":"customer","participantName":"Bo",
       "sessions":[{"mediaType":"email","addressFrom":"bo@example.com"}]},
      {"participantId":"q","purpose":"agent","userId":"agent-1","sessions":[{"mediaType":"email",
       "segments":[{"segmentType":"interact","queueId":"queue-1","wrapUpCode":"wrapup-1",
                    "subject":"Hello"}]}]}]})",
                                          "agent-1");
  ASSERT_TRUE(it.ok()) << it.status().to_string();
  EXPECT_EQ(it->media(), d::MEDIA_EMAIL);
  EXPECT_EQ(it->state(), d::INTERACTION_QUALIFIED);
  EXPECT_EQ(it->wrapup_code_id(), "wrapup-1");
  EXPECT_EQ(it->peer_address(), "bo@example.com");
  EXPECT_EQ(it->subject(), "Hello");
}

TEST(GenesysJson, RecordsOfTheOrg) {
  auto contact = decode_contact(R"({"id":"ec-1","firstName":"Ann","lastName":"Lee",
    "workPhone":{"display":"+358 40 1","e164":"+358401"},"workEmail":"ann@example.com",
    "externalOrganization":{"name":"Example Oy"},"type":"Curated"})");
  ASSERT_TRUE(contact.ok());
  EXPECT_EQ(contact->work_phone(), "+358401");
  EXPECT_EQ(contact->company(), "Example Oy");
  auto response = decode_response(R"({"id":"r","name":"Hi","libraries":[{"id":"l","name":"L"}],
    "texts":[{"content":"Hello {{name}}","contentType":"text/plain","type":"body"}],
    "interactionType":"email","substitutions":[{"id":"name"}]})");
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->text(), "Hello {{name}}");
  EXPECT_EQ(response->variables(0), "name");
  auto queue = decode_user_queue(R"({"id":"q","name":"Support","joined":true,
    "memberCount":3,"mediaSettings":{"call":{},"email":{}}})");
  ASSERT_TRUE(queue.ok());
  EXPECT_TRUE(queue->joined());
  EXPECT_EQ(queue->media_size(), 2);
  auto vm = decode_voicemail(R"({"id":"vm","read":false,"callerAddress":"tel:1",
    "createdDate":"2026-12-06T10:00:00.000Z","audioRecordingDurationSeconds":7,"action":"create"})");
  ASSERT_TRUE(vm.ok());
  EXPECT_EQ(vm->duration_s(), 7);
  EXPECT_EQ(voicemail_action(R"({"id":"vm","action":"create"})"), "create");
}

TEST(GenesysJson, NotificationKinds) {
  using K = Notification::Kind;
  EXPECT_EQ(decode_notification(R"({"topicName":"channel.metadata",
    "eventBody":{"message":"WebSocket Heartbeat"}})")
                ->kind,
            K::kHeartbeat);
  EXPECT_EQ(decode_notification(R"({"topicName":"channel.metadata",
    "eventBody":{"message":"pong"}})")
                ->kind,
            K::kPong);
  EXPECT_EQ(decode_notification(R"({"topicName":"v2.system.socket_closing"})")->kind,
            K::kSocketClosing);
  EXPECT_EQ(decode_notification(R"({"result":"404","message":"gone"})")->kind, K::kChannelGone);
  auto event = decode_notification(R"({"topicName":"v2.users.u.presence","version":"2",
    "eventBody":{"presenceDefinition":{"id":"q"}},"metadata":{"CorrelationId":"abc"}})");
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->kind, K::kEvent);
  EXPECT_EQ(event->correlation_id, "abc");
  EXPECT_FALSE(decode_notification(R"({"topicName":"v2.users.u.presence"})").ok());
}

}  // namespace
}  // namespace outpost::genesys

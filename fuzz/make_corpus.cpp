// Writes the seed corpus of every fuzz target (fuzz/corpus/<target>/seed-*): valid
// requests, frames, tokens and JSON arguments, plus one sample of each bad input the
// server must refuse. The fuzzers start from these; what they find grows the corpus in a
// scratch directory, never here. Usage: make_corpus fuzz/corpus (scripts/fuzz --seed).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "adapters/demo_data.h"
#include "engine/blob.h"
#include "engine/cursor_token.h"
#include "engine/domain_mutators.h"
#include "engine/mutation_print.h"
#include "engine/schema.h"
#include "engine/wire_record.h"
#include "fuzz/fuzz_support.h"
#include "outpost/domain.pb.h"
#include "outpost/protocol.pb.h"
#include "transport/base64url.h"
#include "transport/column_page.h"
#include "transport/limits.h"
#include "transport/zstd_codec.h"

namespace {

namespace protocol = outpost::protocol;
using outpost::fuzz::kNowMs;

// One valid JSON argument object per domain mutator.
const std::map<std::string, std::string>& mutator_json() {
  static const std::map<std::string, std::string> kJson = {
      {"set_agent_state", R"({"presence": "PRESENCE_NOT_READY", "aux_reason_id": "lunch"})"},
      {"set_auto_ready", R"({"at_ms": "1700000060000"})"},
      {"save_draft",
       R"({"draft": {"id": "draft-1", "interaction_id": "i-1", "to": ["ann@example.com"], "subject": "Re", "body": "Dear Ann"}})"},
      {"delete_draft", R"({"id": "draft-1"})"},
      {"send_draft", R"({"id": "draft-1"})"},
      {"save_note", R"({"interaction_id": "i-1", "text": "called back", "base_revision": "0"})"},
      {"mark_voicemail_read", R"({"id": "voicemail-5"})"},
      {"delete_voicemail", R"({"id": "voicemail-5"})"},
      {"wrap_up", R"({"interaction_ids": ["i-1", "i-2"], "code_id": "sale", "notes": "ok"})"},
      {"set_queue_joined", R"({"queue_id": "q7", "joined": true})"},
      {"set_favourite",
       R"({"kind": "FAVOURITE_CONTACT", "target_id": "contact-3", "favourite": true})"},
      {"set_user_setting", R"({"name": "theme", "value": "dark"})"},
      {"remember_search", R"({"list": "contact", "phrase": "peet"})"},
      {"remember_queue", R"({"media": "MEDIA_EMAIL", "queue_id": "q7"})"},
      {"register_push_target",
       R"({"target": {"device_id": "phone", "platform": "PUSH_APNS", "token": "a1b2c3", "app_id": "com.example.outpost"}})"},
      {"remove_push_target", R"({"device_id": "phone", "token": "a1b2c3"})"},
  };
  return kJson;
}

class Writer {
 public:
  explicit Writer(std::filesystem::path root) : root_(std::move(root)) {}
  void add(const std::string& target, const std::string& name, const std::string& bytes) {
    std::filesystem::path dir = root_ / target;
    std::filesystem::create_directories(dir);
    std::ofstream(dir / ("seed-" + name), std::ios::binary) << bytes;
  }

 private:
  std::filesystem::path root_;
};

std::string mode(uint8_t m, const std::string& rest) {
  return std::string(1, static_cast<char>(m)) + rest;
}

// 2-byte little-endian length prefix, as the stream modes of the fuzzers read them.
std::string framed(const std::vector<std::string>& messages) {
  std::string out;
  for (const std::string& message : messages) {
    out.push_back(static_cast<char>(message.size() & 0xff));
    out.push_back(static_cast<char>((message.size() >> 8) & 0xff));
    out += message;
  }
  return out;
}

std::string zstd(const std::string& plain) {
  return outpost::zstd_compress(plain).value();
}

protocol::PushRequest push_of_every_mutator() {
  protocol::PushRequest push;
  push.set_client_id("fuzz-client");
  push.set_schema_version(outpost::Schema::domain().version());
  push.set_protocol_version(protocol::VERSION_CURRENT);
  uint64_t id = 0;
  for (const auto& [name, json] : mutator_json()) {
    const outpost::Mutator* mutator = outpost::domain_mutators().find(name);
    if (mutator == nullptr) {
      std::cerr << "make_corpus: no mutator " << name << "\n";
      std::exit(1);
    }
    auto args = outpost::domain_mutators().parse_json_args(*mutator, json);
    if (!args.ok()) {
      std::cerr << "make_corpus: " << args.status().to_string() << "\n";
      std::exit(1);
    }
    protocol::Mutation* mutation = push.add_mutations();
    mutation->set_id(++id);
    mutation->set_name(name);
    mutation->set_args((*args)->SerializeAsString());
    mutation->set_created_ms(kNowMs);
  }
  return push;
}

protocol::PullRequest pull_request() {
  protocol::PullRequest pull;
  pull.set_client_id("fuzz-client");
  pull.set_schema_version(outpost::Schema::domain().version());
  pull.set_protocol_version(protocol::VERSION_CURRENT);
  pull.add_cursors()->set_scope("user/acme/alice");
  pull.add_cursors()->set_scope("org/acme");
  pull.set_pending_from(1);
  return pull;
}

protocol::PullRequest resuming_pull() {
  protocol::PullRequest pull = pull_request();
  protocol::CursorToken token;
  token.set_kind(protocol::CursorToken::SNAPSHOT);
  token.set_head_seq(3);
  token.set_priority(1);
  token.set_collection("user_setting");
  token.set_key("setting-1");
  // Sealed as fuzz::server_core() seals (its cursor key is empty).
  pull.mutable_cursors(0)->set_token(outpost::seal_cursor_token(token, "user/acme/alice", ""));
  pull.mutable_cursors(1)->set_seq(2);
  return pull;
}

protocol::PullRequest fetch_pull() {
  protocol::PullRequest pull = pull_request();
  pull.set_fetch_scope("user/acme/alice");
  protocol::KeyRef* ref = pull.add_fetch();
  ref->set_collection("user_setting");
  ref->set_key("setting-1");
  ref = pull.add_fetch();
  ref->set_collection("no_such_collection");
  ref->set_key("x");
  return pull;
}

std::string client_stream(const std::vector<protocol::ClientFrame>& frames) {
  outpost::StreamCompressor compressor;
  std::vector<std::string> messages;
  for (const auto& frame : frames) {
    messages.push_back(compressor.compress_message(frame.SerializeAsString()).value());
  }
  return framed(messages);
}

std::string token_with(int64_t issued, int64_t expires, const outpost::TokenAuthority& authority) {
  protocol::TokenClaims claims;
  claims.set_tenant("acme");
  claims.set_user("alice");
  claims.set_device("phone");
  claims.set_issued_ms(issued);
  claims.set_expires_ms(expires);
  return authority.issue(claims).value();
}

void write_all(Writer& out) {
  const protocol::PushRequest push = push_of_every_mutator();
  const std::vector<protocol::PullRequest> pulls = {pull_request(), resuming_pull(), fetch_pull()};
  const std::string bomb = zstd(std::string(outpost::limits::kMaxDecompressedBody + 1, '\0'));

  // wire_frames: 0 push body, 1 pull body, 2 one stream of ClientFrames.
  out.add("wire_frames", "push", mode(0, zstd(push.SerializeAsString())));
  for (size_t i = 0; i < pulls.size(); ++i) {
    out.add("wire_frames", "pull-" + std::to_string(i),
            mode(1, zstd(pulls[i].SerializeAsString())));
  }
  out.add("wire_frames", "bomb", mode(0, bomb));
  std::string truncated = zstd(push.SerializeAsString());
  out.add("wire_frames", "truncated", mode(0, truncated.substr(0, truncated.size() / 2)));
  out.add("wire_frames", "malformed", mode(1, zstd(std::string("\x0a\xff\xff\xff\xff", 5))));
  protocol::ClientFrame ping, pushed, pulled, empty;
  ping.mutable_ping()->set_sent_ms(kNowMs);
  *pushed.mutable_push() = push;
  *pulled.mutable_pull() = pulls[0];
  out.add("wire_frames", "stream", mode(2, client_stream({ping, pushed, pulled, ping})));
  out.add("wire_frames", "stream-empty-frame", mode(2, client_stream({ping, empty, ping})));
  {  // stream format 2 (decision 039): each message its own zstd frame
    std::vector<std::string> messages;
    for (const auto* frame : {&ping, &pushed, &pulled, &empty}) {
      messages.push_back(outpost::zstd_compress_message_frame(frame->SerializeAsString()).value());
    }
    out.add("wire_frames", "message-stream", mode(3, framed(messages)));
  }

  // zstd: 0 decompress with a bound (byte 1), 1 round trip, 2 stream with a bound.
  const std::string text = push.SerializeAsString() + "some text some text some text";
  out.add("zstd", "frame", mode(0, std::string(1, 20) + zstd(text)));
  out.add("zstd", "bomb", mode(0, std::string(1, 16) + zstd(std::string(1 << 20, 'a'))));
  out.add("zstd", "empty-frame", mode(0, std::string(1, 4) + zstd("")));
  out.add("zstd", "round-trip", mode(1, std::string(1, 0) + text));
  // Regression: a legacy-format (v0.7) stream frame that made zstd allocate 64 MiB.
  out.add("zstd", "regress-legacy-window",
          std::string("\xe9\xfe\x14\x00\x24\x27\xb5\x2f\xfd\x00\x80\xd7\x00\x00\x27\x00"
                      "\xd7\x30\xd7\x64",
                      20));
  {
    outpost::StreamCompressor compressor;
    std::vector<std::string> messages;
    for (int i = 0; i < 4; ++i) messages.push_back(compressor.compress_message(text).value());
    out.add("zstd", "stream", mode(2, std::string(1, 20) + framed(messages)));
  }
  {  // standalone message frames (decision 039): a good one, an empty one, a bomb's header
    std::string bomb = "\x28\xB5\x2F\xFD\xA0";
    bomb += std::string("\x00\x00\x00\x02\x09\x00\x00x", 8);
    out.add("zstd", "message-frames",
            mode(3, std::string(1, 20) +
                        framed({outpost::zstd_compress_message_frame(text).value(),
                                outpost::zstd_compress_message_frame("").value(), bomb})));
  }

  // token: 0 verify, 1 base64url, 2 Authorization header, 3 signed claims payload.
  const outpost::TokenAuthority& authority = outpost::fuzz::token_authority();
  const outpost::TokenAuthority other(std::string(32, 'z'));
  const std::string valid = outpost::fuzz::valid_token();
  out.add("token", "valid", mode(0, valid));
  out.add("token", "expired", mode(0, token_with(kNowMs - 7'200'000, kNowMs - 1, authority)));
  out.add("token", "forged", mode(0, token_with(kNowMs - 1, kNowMs + 1000, other)));
  out.add("token", "base64url", mode(1, outpost::base64url_encode("outpost \x01\xff")));
  out.add("token", "bearer", mode(2, "Bearer " + valid));
  out.add("token", "basic", mode(2, "Basic dXNlcjpwYXNz"));
  {
    protocol::TokenClaims claims;
    claims.set_tenant("acme");
    claims.set_user("alice");
    claims.set_device("phone");
    claims.set_issued_ms(kNowMs - 1);
    claims.set_expires_ms(kNowMs + 1000);
    out.add("token", "claims", mode(3, claims.SerializeAsString()));
  }

  // server_core: 0 PushRequest, 1 PullRequest, 2 structured (any bytes).
  out.add("server_core", "push-every-mutator", mode(0, push.SerializeAsString()));
  for (size_t i = 0; i < pulls.size(); ++i) {
    out.add("server_core", "pull-" + std::to_string(i), mode(1, pulls[i].SerializeAsString()));
  }
  out.add("server_core", "structured", mode(2, std::string(64, '\x01')));

  // cli: 0 argv words split at '\0', 1 mutator index + JSON arguments.
  auto argv = [](const std::vector<std::string>& words) {
    std::string joined;
    for (size_t i = 0; i < words.size(); ++i) joined += (i ? std::string(1, '\0') : "") + words[i];
    return mode(0, joined);
  };
  out.add("cli", "status", argv({"--json", "status"}));
  out.add("cli", "get", argv({"get", "user_setting", "theme"}));
  out.add("cli", "query",
          argv({"query", "interaction", "--where", "queue_id=q7", "--order", "started_ms", "--desc",
                "--limit", "5"}));
  out.add("cli", "search", argv({"search", "contact", "peet", "--limit=3"}));
  out.add("cli", "pending", argv({"pending"}));
  out.add("cli", "discard", argv({"discard", "1"}));
  size_t index = 0;
  for (const auto& [name, mutator] : outpost::domain_mutators().all()) {
    auto json = mutator_json().find(name);
    if (json == mutator_json().end()) {
      std::cerr << "make_corpus: no JSON example for mutator " << name << "\n";
      std::exit(1);
    }
    out.add("cli", "mutate-" + name, argv({"mutate", name, json->second}));
    out.add("cli", "json-" + name,
            std::string(1, '\1') + std::string(1, static_cast<char>(index)) + json->second);
    ++index;
  }
}

void write_device_frames(Writer& out) {
  // The device's answers in order: the push, then pages of the user and org scopes.
  protocol::ServerFrame pushed;
  for (uint64_t id = 1; id <= 2; ++id) {
    protocol::MutationResult* result = pushed.mutable_push()->add_results();
    result->set_id(id);
    result->set_outcome(id == 1 ? protocol::MutationResult::APPLIED
                                : protocol::MutationResult::REJECTED);
    if (id == 2) {
      result->set_code("rejected");
      result->set_reason("no");
    }
  }
  pushed.mutable_push()->set_last_mutation_id(2);

  protocol::ServerFrame pulled;
  pulled.mutable_pull()->set_last_mutation_id(2);
  protocol::ScopeChanges* user = pulled.mutable_pull()->add_scopes();
  user->set_scope("user/acme/alice");
  outpost::domain::UserSetting setting;
  setting.set_name("theme");
  setting.set_value("dark");
  protocol::Change* change = user->add_changes();
  change->set_collection("user_setting");
  change->set_key("theme");
  change->set_op(protocol::Change::PUT);
  change->set_version(1);
  change->set_body(setting.SerializeAsString());
  change = user->add_changes();
  change->set_collection("draft");
  change->set_key("draft-9");
  change->set_op(protocol::Change::DELETE);
  change->set_version(2);
  user->set_cursor(2);
  user->set_head_seq(2);
  protocol::ScopeChanges* org = pulled.mutable_pull()->add_scopes();
  org->set_scope("org/acme");
  org->set_cursor(0);
  org->set_head_seq(0);

  protocol::ServerFrame reset = pulled;
  protocol::ScopeChanges* manifest = reset.mutable_pull()->mutable_scopes(0);
  manifest->clear_changes();
  manifest->set_reset(true);
  protocol::KeyRef* ref = manifest->add_manifest();
  ref->set_collection("user_setting");
  ref->set_key("theme");
  ref->set_version(5);
  manifest->set_cursor(5);

  protocol::ServerFrame poke;
  protocol::Cursor* head = poke.mutable_poke()->add_heads();
  head->set_scope("user/acme/alice");
  head->set_seq(9);
  // A commit's changes carried with its poke (decision 032), from the pulled cursor.
  protocol::ServerFrame carried;
  carried.mutable_carried()->set_base(2);
  protocol::ScopeChanges* next = carried.mutable_carried()->mutable_changes();
  next->set_scope("user/acme/alice");
  setting.set_value("light");
  change = next->add_changes();
  change->set_collection("user_setting");
  change->set_key("theme");
  change->set_op(protocol::Change::PUT);
  change->set_version(3);
  change->set_body(setting.SerializeAsString());
  next->set_cursor(3);
  next->set_head_seq(3);
  protocol::ServerFrame failed;
  failed.mutable_error()->set_code("unavailable");
  failed.mutable_error()->set_retryable(true);

  // A restored replica's reused ids (decision 042): the device renumbers and pushes again.
  protocol::ServerFrame reused;
  reused.mutable_error()->set_code("failed_precondition");
  reused.mutable_error()->set_message(outpost::mutation_ids_reused(outpost::ReusedIds{1, 5}) +
                                      ": restored");

  auto serialized = [](const std::vector<protocol::ServerFrame>& frames) {
    std::vector<std::string> messages;
    for (const auto& frame : frames) messages.push_back(frame.SerializeAsString());
    return framed(messages);
  };
  out.add("device_sync", "push-pull", serialized({pushed, pulled, poke, pulled}));
  out.add("device_sync", "reset", serialized({pushed, reset, pulled}));
  out.add("device_sync", "error", serialized({failed, pushed, failed, pulled}));
  out.add("device_sync", "carried", serialized({pushed, pulled, carried, poke, pulled}));
  out.add("device_sync", "reused", serialized({reused, pushed, pulled}));
}

// genesys: byte 0 picks the decoder (fuzz/genesys_fuzzer.cpp), the rest is a body shaped
// as shared/reference/platform-apis.md §1 shows it.
void write_genesys(Writer& out) {
  const std::pair<int, const char*> seeds[] = {
      {0, R"({"entities":[{"id":"a"}],"pageSize":1,"pageNumber":1,"total":2,"pageCount":2,)"
          R"("nextUri":"/api/v2/routing/wrapupcodes?pageSize=1&pageNumber=2"})"},
      {0, R"({"entities":[],"cursors":{"after":"c2"},"nextUri":"/n"})"},
      {1, R"({"total":2,"entities":[{"id":"q","type":"System","systemPresence":"OnQueue"},)"
          R"({"id":"lunch","type":"User","systemPresence":"Meal",)"
          R"("languageLabels":{"en_US":"Lunch"}}]})"},
      {2, R"({"source":"PURECLOUD","presenceDefinition":{"id":"lunch","systemPresence":"Meal"}})"},
      {3, R"({"id":"u","routingStatus":{"status":"IDLE","startTime":"2026-12-06T10:00:00.000Z"}})"},
      {4, R"({"id":"queue-1","name":"Support","joined":true,"memberCount":3,)"
          R"("mediaSettings":{"call":{},"email":{}}})"},
      {5, R"({"id":"wrapup-1","name":"Resolved","description":""})"},
      {6, R"({"id":"vm-1","read":false,"callerAddress":"tel:+358401","action":"create",)"
          R"("createdDate":"2026-12-06T10:00:00.000Z","audioRecordingDurationSeconds":7,)"
          R"("conversation":{"id":"c-1"}})"},
      {7, R"({"id":"ec-1","firstName":"Ann","workPhone":{"e164":"+358401"},)"
          R"("externalOrganization":{"name":"Example Oy"},"type":"Curated",)"
          R"("address":{"address1":"Main 1","city":"Espoo"}})"},
      {8,
       R"({"id":"r-1","name":"Hi","libraries":[{"id":"l","name":"L"}],"interactionType":"email",)"
       R"("texts":[{"content":"Hello","contentType":"text/plain","type":"body"}],)"
       R"("substitutions":[{"id":"name"}]})"},
      {9,
       R"({"id":"c-1","startTime":"2026-12-06T10:00:00.000Z","participants":[)"
       R"({"id":"p-1","purpose":"customer","address":"tel:1","calls":[{"id":"k","state":"connected"}]},)"
       R"({"id":"p-2","purpose":"agent","userId":"agent-1","wrapupRequired":true,)"
       R"("wrapup":{"code":"w","notes":"n"},"attributes":{"a":"b"},)"
       R"("emails":[{"id":"k2","state":"disconnected","direction":"inbound","subject":"S"}]}]})"},
      {10, R"({"conversationId":"c-9","conversationStart":"2026-12-06T10:00:00.000Z",)"
           R"("originatingDirection":"inbound","participants":[{"purpose":"agent",)"
           R"("userId":"agent-1","sessions":[{"mediaType":"voice","segments":[)"
           R"({"queueId":"q","wrapUpCode":"w"}]}]}]})"},
      {11, R"({"id":"d","to":[{"email":"ann@example.com"}],"subject":"Re","textBody":"Dear Ann",)"
           R"("state":"Edited","time":"2026-12-06T10:00:00.000Z"})"},
      {12, R"({"topicName":"v2.users.agent-1.presence","version":"2",)"
           R"("eventBody":{"presenceDefinition":{"id":"q"}},"metadata":{"CorrelationId":"x"}})"},
      {12, R"({"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}})"},
      {12, R"({"result":"404","message":"channel gone"})"},
      // decision 037's read-back of a send: a conversation's message ids, one message.
      {13, R"({"id":"c","participants":[{"id":"p","messages":[{"id":"m","messages":[)"
           R"({"messageId":"x1","messageStatus":"sent"}]}]}]})"},
      {14, R"({"id":"x1","direction":"outbound","textBody":"On my way","status":"sent"})"},
      // The catch-all mode (15): tokens, error bodies, the rest.
      {15, R"({"access_token":"t","token_type":"bearer","expires_in":86400})"},
      {15, R"({"status":429,"code":"too.many.requests","message":"m","contextId":"c"})"},
      // decision 044: a created callback's answer, the analytics read-back's.
      {15, R"({"conversation":{"id":"cb-1","selfUri":"/api/v2/conversations/cb-1"},)"
           R"("callbackIdentifiers":[{"type":"EXTERNAL","id":"p-1"}]})"},
      {15, R"({"totalHits":1,"conversations":[{"conversationId":"cb-1",)"
           R"("participants":[{"purpose":"customer","attributes":{"outpostSendKey":"k"}}]}]})"},
  };
  int n = 0;
  for (const auto& [decoder, body] : seeds) {
    out.add("genesys", "body-" + std::to_string(n++), mode(decoder, body));
  }
}

}  // namespace

// The blob routes' decoders (fuzz/blob_http_fuzzer.cpp): byte 0 picks the decoder.
void write_blob_seeds(Writer& out) {
  const std::string hex = outpost::sha256_of("abc").hex();
  const std::string size100("\x64\x00\x00\x00", 4);
  out.add("blob_http", "range-first-last", std::string(1, '\0') + size100 + "bytes=10-19");
  out.add("blob_http", "range-suffix", std::string(1, '\0') + size100 + "bytes=-30");
  out.add("blob_http", "range-multi", std::string(1, '\0') + size100 + "bytes=0-1,2-3");
  out.add("blob_http", "range-past-end", std::string(1, '\0') + size100 + "bytes=100-");
  out.add("blob_http", "target-download", "\x01/v1/blobs/" + hex + "?ref=voicemail/voicemail%2D5");
  out.add("blob_http", "target-upload", "\x02/v1/uploads/" + hex);  // as headers: refused
  out.add("blob_http", "target-upload-path", "\x01/v1/uploads/" + hex);
  out.add("blob_http", "upload-headers",
          "\x02"
          "4194304\n10000000");
  // Two chunks of the fuzzed upload ("the bytes of the fuzzed upload", 30 bytes).
  auto chunk = [](const std::string& text) {
    return std::string(1, static_cast<char>(text.size() & 0xff)) +
           std::string(1, static_cast<char>(text.size() >> 8)) + text;
  };
  out.add("blob_http", "upload-chunks",
          "\x03" + chunk("0\n30\nthe bytes of ") + chunk("13\n30\nthe fuzzed upload"));
  out.add("blob_http", "upload-wrong-offset", "\x03" + chunk("5\n30\nthe"));
}

// The commit feed's NOTIFY payloads (fuzz/postgres_notify_fuzzer.cpp), as the store writes
// them ("<instance>:<base> <head> <hex scope>"), as a store before decision 041 did, and
// the all-scopes form.
void write_notify_seeds(Writer& out) {
  out.add("postgres_notify", "with-base", "9f2c41:41 42 757365722f61636d652f616c696365");
  out.add("postgres_notify", "without-base", "9f2c41 42 6f72672f61636d65");
  out.add("postgres_notify", "all-scopes", "9f2c41 *");
}

// column_page: 0 a ColumnPage, 1 a ServerFrame whose pull answer holds one, 2 record bodies.
void write_column_pages(Writer& out) {
  google::protobuf::RepeatedPtrField<protocol::Change> changes;
  for (uint64_t i = 0; i < 24; ++i) {
    protocol::Change* change = changes.Add();
    change->set_collection(i % 4 == 3 ? "voicemail" : "contact");
    change->set_key("contact-" + std::to_string(i));
    change->set_op(i % 6 == 5 ? protocol::Change::DELETE : protocol::Change::PUT);
    change->set_version(100 + i * 3);
    if (change->op() == protocol::Change::PUT) change->set_body(outpost::demo_contact(i, 1));
  }
  const protocol::ColumnPage page = *outpost::encode_column_page(changes);
  const std::string bytes = page.SerializeAsString();
  out.add("column_page", "page", mode(0, bytes));
  out.add("column_page", "page-truncated", mode(0, bytes.substr(0, bytes.size() - 7)));
  protocol::ColumnPage lying = page;
  lying.set_count(page.count() + 1);
  out.add("column_page", "page-count-lies", mode(0, lying.SerializeAsString()));
  protocol::ServerFrame frame;
  protocol::ScopeChanges* scope = frame.mutable_pull()->add_scopes();
  scope->set_scope("org/acme");
  *scope->mutable_columns() = page;
  scope->set_cursor(200);
  scope->set_head_seq(200);
  out.add("column_page", "frame", mode(1, frame.SerializeAsString()));
  std::vector<std::string> bodies;
  for (const protocol::Change& change : changes) bodies.push_back(change.body());
  out.add("column_page", "bodies", mode(2, framed(bodies)));
  // Decision 053's transforms: interactions keyed by UUIDs, an end time beside each start.
  google::protobuf::RepeatedPtrField<protocol::Change> interactions;
  std::vector<std::string> interaction_bodies;
  for (uint64_t i = 0; i < 24; ++i) {
    outpost::domain::Interaction record;
    char id[40];
    std::snprintf(id, sizeof id, "%08llx-%04llx-4%03llx-a%03llx-%012llx",
                  static_cast<unsigned long long>(i * 0x9E3779B1 % 0xffffffff),
                  static_cast<unsigned long long>(i * 7919 % 0xffff),
                  static_cast<unsigned long long>(i * 31 % 0xfff),
                  static_cast<unsigned long long>(i * 17 % 0xfff),
                  static_cast<unsigned long long>(i * 0x5DEECE66D % 0xffffffffffff));
    record.set_id(id);
    record.set_started_ms(static_cast<int64_t>(1'795'000'000'000 + i * 97'531 % 3'600'000));
    record.set_ended_ms(record.started_ms() + static_cast<int64_t>(20'000 + i * 1000));
    record.set_duration_s(static_cast<int32_t>(20 + i));
    record.set_queue_id("3f2a9c1e-0b7d-4e55-9a61-2c8d7e4f0a13");
    protocol::Change* change = interactions.Add();
    change->set_collection("interaction");
    change->set_key(record.id());
    change->set_op(protocol::Change::PUT);
    change->set_version(300 + i);
    change->set_body(record.SerializeAsString());
    interaction_bodies.push_back(change->body());
  }
  const protocol::ColumnPage transformed =
      *outpost::encode_column_page(interactions, outpost::kColumnPageVersion);
  out.add("column_page", "page-transforms", mode(0, transformed.SerializeAsString()));
  out.add("column_page", "bodies-transforms", mode(5, framed(interaction_bodies)));
}

// wire_record: byte 0 picks the n-th domain collection the fast column reader serves (in
// the schema's order, as the fuzzer counts them), then a record body of it: one with every
// column set, one with the key only, and a contact from the demo data.
void write_wire_records(Writer& out) {
  using google::protobuf::FieldDescriptor;
  uint8_t n = 0;
  for (const auto& collection : outpost::Schema::domain().collections()) {
    if (!outpost::WireRecordReader(*collection).active()) continue;
    std::unique_ptr<google::protobuf::Message> record = collection->new_record();
    const auto* reflection = record->GetReflection();
    for (const outpost::Column& column : collection->columns) {
      const FieldDescriptor* field = column.field;
      switch (field->cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT32:
          reflection->SetInt32(record.get(), field, -7);
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          reflection->SetInt64(record.get(), field, kNowMs);
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          reflection->SetUInt32(record.get(), field, 300);
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          reflection->SetUInt64(record.get(), field, 1ULL << 40);
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          reflection->SetBool(record.get(), field, true);
          break;
        case FieldDescriptor::CPPTYPE_ENUM: {
          const auto* type = field->enum_type();
          reflection->SetEnum(record.get(), field, type->value(type->value_count() - 1));
          break;
        }
        case FieldDescriptor::CPPTYPE_FLOAT:
          reflection->SetFloat(record.get(), field, 1.5f);
          break;
        case FieldDescriptor::CPPTYPE_DOUBLE:
          reflection->SetDouble(record.get(), field, -0.25);
          break;
        case FieldDescriptor::CPPTYPE_STRING:
          reflection->SetString(record.get(), field,
                                std::string("s\xc3\xa9") + "ed-" + column.name);
          break;
        default:
          break;
      }
    }
    out.add("wire_record", collection->name + "-full", mode(n, record->SerializeAsString()));
    std::unique_ptr<google::protobuf::Message> keyed = collection->new_record();
    keyed->GetReflection()->SetString(keyed.get(), collection->key_field, "k-1");
    out.add("wire_record", collection->name + "-key", mode(n, keyed->SerializeAsString()));
    if (collection->name == "contact") {
      out.add("wire_record", "contact-demo", mode(n, outpost::demo_contact(3, 1)));
    }
    ++n;
  }
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_corpus DIR\n";
    return 2;
  }
  Writer writer(argv[1]);
  write_all(writer);
  write_device_frames(writer);
  write_genesys(writer);
  write_blob_seeds(writer);
  write_notify_seeds(writer);
  write_column_pages(writer);
  write_wire_records(writer);
  return 0;
}

// SyncServer over real sockets on 127.0.0.1 and a real store (each test runs on SQLite and
// on a real PostgreSQL): the HTTP endpoints,
// the WebSocket stream, pokes, bad input (each refused with its documented status and
// code, changing nothing, the server still serving) and graceful stop. The clients are
// minimal Beast clients written here, as a second implementation would be.
#include "tests/transport/sync_server_fixture.h"

#include <gtest/gtest.h>

namespace outpost {
namespace {

using namespace server_test;  // NOLINT: the suite's own fixture and clients

// --- HTTP ------------------------------------------------------------------------------

TEST_P(SyncServerTest, HealthNeedsNoToken) {
  HttpReply reply = http_call(server_->port(), http::verb::get, "/v1/health");
  ASSERT_FALSE(reply.ec) << reply.ec.message();
  EXPECT_EQ(reply.status(), 200u);
  EXPECT_EQ(reply.message.body(), "ok");
}

TEST_P(SyncServerTest, PushThenPullRoundTrip) {
  HttpReply pushed = push(setting_push("phone-1", 1, "last_queue.email", "q7"), token());
  ASSERT_EQ(pushed.status(), 200u) << pushed.message;
  EXPECT_EQ(pushed.header("Content-Type"), "application/x-protobuf");
  EXPECT_EQ(pushed.header("Content-Encoding"), "zstd");
  auto push_response = pushed.decode<protocol::PushResponse>();
  ASSERT_EQ(push_response.results_size(), 1);
  EXPECT_EQ(push_response.results(0).outcome(), protocol::MutationResult::APPLIED);
  EXPECT_EQ(push_response.last_mutation_id(), 1u);

  // Another device of the same user pulls both of its scopes.
  HttpReply pulled =
      pull(pull_request("tablet-1", {kUserScope, kOrgScope}), token(kTenant, kUser, "tablet"));
  ASSERT_EQ(pulled.status(), 200u) << pulled.message;
  auto pull_response = pulled.decode<protocol::PullResponse>();
  auto setting = find_setting(pull_response, "last_queue.email");
  ASSERT_TRUE(setting.has_value());
  EXPECT_EQ(setting->value(), "q7");
  EXPECT_EQ(setting->updated_ms(), kNow);  // the server's (injected) clock
  bool saw_org = false;
  for (const auto& scope : pull_response.scopes()) saw_org = saw_org || scope.scope() == kOrgScope;
  EXPECT_TRUE(saw_org);

  // A retried push is answered from the record, not applied twice.
  HttpReply again = push(setting_push("phone-1", 1, "last_queue.email", "q7"), token());
  ASSERT_EQ(again.status(), 200u);
  EXPECT_EQ(again.decode<protocol::PushResponse>().results(0).outcome(),
            protocol::MutationResult::APPLIED);
}

TEST_P(SyncServerTest, MalformedProtobufIs400) {
  seed();
  auto before = heads();
  std::string garbage("\x0a\xff\xff\xff\xff", 5);  // a length that never ends
  expect_error(post("/v1/push", zstd_compress(garbage).value(), token()), 400, "invalid_argument");
  expect_error(post("/v1/pull", zstd_compress(garbage).value(), token()), 400, "invalid_argument");
  expect_serving_and_unchanged(before);
}

TEST_P(SyncServerTest, TruncatedZstdIs400) {
  seed();
  auto before = heads();
  std::string body = compress(setting_push("phone-1", 1, "theme", "light"));
  expect_error(post("/v1/push", body.substr(0, body.size() / 2), token()), 400, "invalid_argument");
  expect_serving_and_unchanged(before);
}

TEST_P(SyncServerTest, OversizedBodyIs413) {
  seed();
  auto before = heads();
  std::string body(limits::kMaxCompressedBody + limits::kMiB, 'x');
  expect_error(post("/v1/push", body, token()), 413, "too_large");
  expect_serving_and_unchanged(before);
}

TEST_P(SyncServerTest, ZstdBombIs413) {
  seed();
  auto before = heads();
  std::string bomb =
      zstd_compress(std::string(limits::kMaxDecompressedBody + limits::kMiB, '\0')).value();
  ASSERT_LT(bomb.size(), 64 * limits::kKiB);  // small on the wire
  expect_error(post("/v1/push", bomb, token()), 413, "too_large");
  expect_serving_and_unchanged(before);
}

TEST_P(SyncServerTest, ExpiredTokenIs401) {
  seed();
  auto before = heads();
  std::string expired = token(kTenant, kUser, "phone", kNow - 7'200'000, kNow - 3'600'000);
  HttpReply reply = push(setting_push("phone-1", 1, "theme", "light"), expired);
  expect_error(reply, 401, "unauthenticated");
  EXPECT_EQ(reply.decode<protocol::Error>().message(), "token expired");
  expect_serving_and_unchanged(before);
}

TEST_P(SyncServerTest, ForgedTokenIs401) {
  seed();
  auto before = heads();
  TokenAuthority other(std::string(32, 'z'));
  std::string forged = token(kTenant, kUser, "phone", kNow - 1000, kNow + 3'600'000, &other);
  expect_error(push(setting_push("phone-1", 1, "theme", "light"), forged), 401, "unauthenticated");
  expect_error(pull(pull_request("phone-1", {kUserScope}), forged), 401, "unauthenticated");
  expect_serving_and_unchanged(before);
}

TEST_P(SyncServerTest, NoTokenIs401) {
  seed();
  auto before = heads();
  HttpReply reply = push(setting_push("phone-1", 1, "theme", "light"), "");
  expect_error(reply, 401, "unauthenticated");
  EXPECT_EQ(reply.header("WWW-Authenticate"), "Bearer");
  expect_serving_and_unchanged(before);
}

TEST_P(SyncServerTest, OtherTenantScopeIs403) {
  seed();
  auto before = heads();
  expect_error(pull(pull_request("phone-1", {"org/globex"}), token()), 403, "permission_denied");
  expect_error(pull(pull_request("phone-1", {"user/acme/bob"}), token()), 403, "permission_denied");
  expect_serving_and_unchanged(before);
}

TEST_P(SyncServerTest, UnknownMutationIsRejectedNotFound) {
  seed();
  auto before = heads();
  protocol::PushRequest request = setting_push("phone-1", 1, "theme", "light");
  request.mutable_mutations(0)->set_name("launch_rockets");
  HttpReply reply = push(request, token());
  ASSERT_EQ(reply.status(), 200u) << reply.message;
  auto response = reply.decode<protocol::PushResponse>();
  ASSERT_EQ(response.results_size(), 1);
  EXPECT_EQ(response.results(0).outcome(), protocol::MutationResult::REJECTED);
  EXPECT_EQ(response.results(0).code(), "not_found");
  expect_serving_and_unchanged(before);
}

TEST_P(SyncServerTest, SchemaFromTheFutureIs409) {
  seed();
  auto before = heads();
  protocol::PushRequest request = setting_push("phone-1", 1, "theme", "light");
  request.set_schema_version(Schema::domain().version() + 1);
  expect_error(push(request, token()), 409, "schema_too_new");
  protocol::PullRequest newer = pull_request("phone-1", {kUserScope});
  newer.set_protocol_version(protocol::VERSION_CURRENT + 1);
  expect_error(pull(newer, token()), 409, "schema_too_new");
  expect_serving_and_unchanged(before);
}

TEST_P(SyncServerTest, UnknownPathIs404AndWrongMethodIs405) {
  seed();
  auto before = heads();
  expect_error(post("/v1/nothing", compress(pull_request("p", {kUserScope})), token()), 404,
               "not_found");
  HttpReply wrong = http_call(server_->port(), http::verb::get, "/v1/push");
  expect_error(wrong, 405, "invalid_argument");
  EXPECT_EQ(wrong.header("Allow"), "POST");
  expect_serving_and_unchanged(before);
}

TEST_P(SyncServerTest, MissingContentEncodingIs400) {
  seed();
  auto before = heads();
  Headers headers = {{"Content-Type", "application/x-protobuf"},
                     {"Authorization", "Bearer " + token()}};
  HttpReply reply = http_call(server_->port(), http::verb::post, "/v1/push",
                              compress(setting_push("phone-1", 1, "theme", "light")), headers);
  expect_error(reply, 400, "invalid_argument");
  expect_serving_and_unchanged(before);
}

// --- WebSocket -------------------------------------------------------------------------

TEST_P(SyncServerTest, StreamRefusesABadTokenBeforeUpgrading) {
  WsClient client;
  unsigned status = 0;
  beast::error_code ec = client.connect(server_->port(), "", &status);
  EXPECT_EQ(ec, websocket::error::upgrade_declined);
  EXPECT_EQ(status, 401u);

  WsClient forged;
  TokenAuthority other(std::string(32, 'z'));
  ec = forged.connect(server_->port(), token(kTenant, kUser, "phone", kNow - 1, kNow + 1, &other),
                      &status);
  EXPECT_EQ(ec, websocket::error::upgrade_declined);
  EXPECT_EQ(status, 401u);
}

TEST_P(SyncServerTest, StreamPushPokesTheOtherDevicesOfTheUser) {
  WsClient tablet;  // alice's other device
  WsClient bob;     // same tenant, another user: may not hear of alice's scope
  WsClient phone;
  ASSERT_FALSE(tablet.connect(server_->port(), token(kTenant, kUser, "tablet")));
  ASSERT_FALSE(bob.connect(server_->port(), token(kTenant, "bob", "phone")));
  ASSERT_FALSE(phone.connect(server_->port(), token()));
  // The HTTP session that upgraded may outlive the 101 response by a moment.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server_->connection_count() != 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(server_->connection_count(), 3u);

  protocol::ClientFrame frame;
  *frame.mutable_push() = setting_push("phone-1", 1, "theme", "dark");
  ASSERT_FALSE(phone.send(frame));
  protocol::ServerFrame reply;
  ASSERT_FALSE(phone.receive_until(protocol::ServerFrame::kPush, reply));
  ASSERT_EQ(reply.push().results_size(), 1);
  EXPECT_EQ(reply.push().results(0).outcome(), protocol::MutationResult::APPLIED);

  uint64_t head = store_->scope_info(kUserScope)->head_seq;
  ASSERT_GT(head, 0u);
  protocol::ServerFrame poke;
  ASSERT_FALSE(tablet.receive(poke));
  ASSERT_EQ(poke.body_case(), protocol::ServerFrame::kPoke);
  ASSERT_EQ(poke.poke().heads_size(), 1);
  EXPECT_EQ(poke.poke().heads(0).scope(), kUserScope);
  EXPECT_EQ(poke.poke().heads(0).seq(), head);

  // The poke was queued before the push was answered: bob's first frame is his pong.
  ASSERT_FALSE(bob.send(ping_frame(42)));
  protocol::ServerFrame pong;
  ASSERT_FALSE(bob.receive(pong));
  ASSERT_EQ(pong.body_case(), protocol::ServerFrame::kPong);
  EXPECT_EQ(pong.pong().sent_ms(), 42);

  // The poked device pulls over the same socket.
  protocol::ClientFrame pull;
  *pull.mutable_pull() = pull_request("tablet-1", {kUserScope, kOrgScope});
  ASSERT_FALSE(tablet.send(pull));
  protocol::ServerFrame pulled;
  ASSERT_FALSE(tablet.receive_until(protocol::ServerFrame::kPull, pulled));
  auto setting = find_setting(pulled.pull(), "theme");
  ASSERT_TRUE(setting.has_value());
  EXPECT_EQ(setting->value(), "dark");

  // A refused request is an error frame; the stream stays open.
  protocol::ClientFrame foreign;
  *foreign.mutable_pull() = pull_request("tablet-1", {"org/globex"});
  ASSERT_FALSE(tablet.send(foreign));
  protocol::ServerFrame refused;
  ASSERT_FALSE(tablet.receive(refused));
  ASSERT_EQ(refused.body_case(), protocol::ServerFrame::kError);
  EXPECT_EQ(refused.error().code(), "permission_denied");
  ASSERT_FALSE(tablet.send(ping_frame(7)));
  ASSERT_FALSE(tablet.receive(pong));
  EXPECT_EQ(pong.body_case(), protocol::ServerFrame::kPong);
}

// Commits of another server process (here: a second ServerCore on the same store, whose
// commits this server's listener does not hear) reach streams only through poke() and
// poke_all(), and only streams that read the scope.
TEST_P(SyncServerTest, PokesForCommitsElsewhereReachOnlyReadersOfTheScope) {
  WsClient tablet;
  WsClient bob;
  ASSERT_FALSE(tablet.connect(server_->port(), token(kTenant, kUser, "tablet")));
  ASSERT_FALSE(bob.connect(server_->port(), token(kTenant, "bob", "phone")));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server_->connection_count() != 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ServerCore elsewhere(*store_, Schema::domain(), domain_mutators());
  ASSERT_TRUE(elsewhere
                  .write([](ServerWriteTx& tx) {
                    return tx.put(kUserScope, "user_setting", "theme", 0, "x").status();
                  })
                  .ok());
  const uint64_t head = store_->scope_info(kUserScope)->head_seq;
  server_->poke({CommittedHead{kUserScope, head}});
  protocol::ServerFrame poke;
  ASSERT_FALSE(tablet.receive(poke));
  ASSERT_EQ(poke.body_case(), protocol::ServerFrame::kPoke);
  ASSERT_EQ(poke.poke().heads_size(), 1);
  EXPECT_EQ(poke.poke().heads(0).scope(), kUserScope);
  EXPECT_EQ(poke.poke().heads(0).seq(), head);

  // After commits may have been missed: every stream hears the current heads of its scopes.
  ASSERT_TRUE(elsewhere
                  .write([](ServerWriteTx& tx) {
                    return tx.put(kOrgScope, "contact", "c1", 2, "y").status();
                  })
                  .ok());
  server_->poke_all();
  protocol::ServerFrame all;
  ASSERT_FALSE(tablet.receive(all));
  ASSERT_EQ(all.body_case(), protocol::ServerFrame::kPoke);
  std::map<std::string, uint64_t> heads;
  for (const auto& cursor : all.poke().heads()) heads[cursor.scope()] = cursor.seq();
  EXPECT_EQ(heads[kUserScope], head);
  EXPECT_EQ(heads[kOrgScope], store_->scope_info(kOrgScope)->head_seq);
  // Bob reads the org scope only: his first frame is that poke, then his pong; alice's
  // user scope never reached him.
  protocol::ServerFrame bobs;
  ASSERT_FALSE(bob.receive(bobs));
  ASSERT_EQ(bobs.body_case(), protocol::ServerFrame::kPoke);
  for (const auto& cursor : bobs.poke().heads()) EXPECT_EQ(cursor.scope(), kOrgScope);
  ASSERT_FALSE(bob.send(ping_frame(9)));
  protocol::ServerFrame pong;
  ASSERT_FALSE(bob.receive(pong));
  EXPECT_EQ(pong.body_case(), protocol::ServerFrame::kPong);
}

TEST_P(SyncServerTest, StreamUndecodableFrameGetsAnErrorAndTheSocketCloses) {
  seed();
  auto before = heads();
  WsClient bad;
  ASSERT_FALSE(bad.connect(server_->port(), token()));
  ASSERT_FALSE(bad.send_raw("definitely not zstd"));
  protocol::ServerFrame frame;
  ASSERT_FALSE(bad.receive(frame));
  ASSERT_EQ(frame.body_case(), protocol::ServerFrame::kError);
  EXPECT_EQ(frame.error().code(), "invalid_argument");
  EXPECT_EQ(bad.receive(frame), websocket::error::closed);
  EXPECT_EQ(bad.reason().code, websocket::close_code::bad_payload);

  WsClient text;
  ASSERT_FALSE(text.connect(server_->port(), token()));
  ASSERT_FALSE(text.send_raw("hello", /*binary=*/false));
  ASSERT_FALSE(text.receive(frame));
  EXPECT_EQ(frame.error().code(), "invalid_argument");
  EXPECT_EQ(text.receive(frame), websocket::error::closed);

  // A frame past limits::kMaxFrame is refused by the websocket layer itself (1009).
  WsClient huge;
  ASSERT_FALSE(huge.connect(server_->port(), token()));
  (void)huge.send_raw(std::string(limits::kMaxFrame + 1, 'x'));
  EXPECT_TRUE(huge.receive(frame));
  expect_serving_and_unchanged(before);
}

TEST_P(SyncServerTest, StreamFloodIsCutWhileOthersAreServed) {
  SyncServerOptions options;
  options.frames_per_second = 20;
  options.frame_burst = 40;
  start_server(options);
  WsClient calm;
  ASSERT_FALSE(calm.connect(server_->port(), token(kTenant, kUser, "tablet")));
  WsClient flood;
  ASSERT_FALSE(flood.connect(server_->port(), token()));

  for (int i = 0; i < 300; ++i) {
    if (flood.send(ping_frame(i))) break;  // the server may stop reading
  }
  int pongs = 0;
  std::optional<protocol::Error> refused;
  protocol::ServerFrame frame;
  beast::error_code ec;
  while (!(ec = flood.receive(frame))) {
    if (frame.body_case() == protocol::ServerFrame::kPong) ++pongs;
    if (frame.body_case() == protocol::ServerFrame::kError) refused = frame.error();
  }
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(flood.reason().code, websocket::close_code::try_again_later);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->code(), "unavailable");
  EXPECT_TRUE(refused->retryable());
  EXPECT_GE(pongs, 40);
  EXPECT_LT(pongs, 300);

  ASSERT_FALSE(calm.send(ping_frame(1)));
  ASSERT_FALSE(calm.receive_until(protocol::ServerFrame::kPong, frame));
  EXPECT_EQ(frame.pong().sent_ms(), 1);
  HttpReply health = http_call(server_->port(), http::verb::get, "/v1/health");
  EXPECT_EQ(health.status(), 200u);
}

TEST_P(SyncServerTest, StreamReaderThatNeverReadsIsDisconnected) {
  SyncServerOptions options;
  options.max_queued_frames = 2;
  // Shared: server threads may log after this test body returns.
  struct Log {
    std::mutex mutex;
    std::vector<std::string> lines;
  };
  auto log = std::make_shared<Log>();
  options.log = [log](std::string_view line) {
    std::lock_guard lock(log->mutex);
    log->lines.emplace_back(line);
  };
  start_server(options);
  // One large setting that hardly compresses (random base64-like text, a string field
  // must be UTF-8): every pull answer is close to 1 MiB on the wire.
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string noise(limits::kMiB, ' ');
  std::mt19937 random(7);
  for (char& c : noise) c = kAlphabet[random() % kAlphabet.size()];
  HttpReply pushed = push(setting_push("phone-1", 1, "noise", noise), token());
  ASSERT_EQ(pushed.status(), 200u);
  ASSERT_EQ(pushed.decode<protocol::PushResponse>().results(0).outcome(),
            protocol::MutationResult::APPLIED);

  WsClient lazy;
  ASSERT_FALSE(lazy.connect(server_->port(), token()));
  protocol::ClientFrame pull;
  *pull.mutable_pull() = pull_request("phone-1", {kUserScope});
  constexpr int kPulls = 64;  // far more than the socket buffers hold
  for (int i = 0; i < kPulls; ++i) {
    if (lazy.send(pull)) break;
  }
  int answered = 0;
  protocol::ServerFrame frame;
  while (!lazy.receive(frame)) {
    ASSERT_EQ(frame.body_case(), protocol::ServerFrame::kPull);
    ++answered;
  }
  EXPECT_LT(answered, kPulls);
  {
    std::lock_guard lock(log->mutex);
    bool cut = false;
    for (const std::string& line : log->lines)
      cut = cut || line.find("queue full") != std::string::npos;
    EXPECT_TRUE(cut) << "answered " << answered;
  }

  WsClient other;
  ASSERT_FALSE(other.connect(server_->port(), token(kTenant, kUser, "tablet")));
  ASSERT_FALSE(other.send(ping_frame(3)));
  ASSERT_FALSE(other.receive_until(protocol::ServerFrame::kPong, frame));
}

TEST_P(SyncServerTest, StopClosesStreamsWithAReconnectHintAndTellsTheHooks) {
  struct Seen {
    std::mutex mutex;
    std::vector<std::string> events;
  };
  auto seen = std::make_shared<Seen>();
  SyncServerOptions options;
  options.on_stream = [seen](const Principal& who, bool open) {
    std::lock_guard lock(seen->mutex);
    seen->events.push_back(open ? "opened " + who.tenant + "/" + who.user + "/" + who.device
                                : "closed " + who.device);
  };
  start_server(options);
  WsClient client;
  ASSERT_FALSE(client.connect(server_->port(), token()));
  ASSERT_FALSE(client.send(ping_frame(5)));
  protocol::ServerFrame frame;
  ASSERT_FALSE(client.receive_until(protocol::ServerFrame::kPong, frame));
  {
    std::lock_guard lock(seen->mutex);
    ASSERT_EQ(seen->events.size(), 1u);
    EXPECT_EQ(seen->events[0], "opened " + std::string(kTenant) + "/" + kUser + "/phone");
  }

  std::thread stopper([this] { server_->stop(); });
  beast::error_code ec = client.receive(frame);
  stopper.join();
  EXPECT_EQ(ec, websocket::error::closed);
  // 1012 "service restart": the device reconnects, to this server restarted or another.
  EXPECT_EQ(client.reason().code, websocket::close_code::service_restart);
  EXPECT_EQ(std::string(client.reason().reason.c_str()), kRestartCloseReason);
  EXPECT_EQ(server_->connection_count(), 0u);
  EXPECT_EQ(server_->port(), 0);
  EXPECT_EQ(server_->stats().streams_opened, 1u);
  std::lock_guard lock(seen->mutex);
  ASSERT_EQ(seen->events.size(), 2u);
  EXPECT_EQ(seen->events[1], "closed phone");
}

TEST_P(SyncServerTest, StartFailsOnAnAddressInUse) {
  SyncServerOptions options;
  options.port = server_->port();
  SyncServer second(*core_, tokens_, options);
  Status started = second.start();
  EXPECT_EQ(started.code(), ErrorCode::kUnavailable) << started.to_string();

  options.address = "not-an-ip";
  SyncServer third(*core_, tokens_, options);
  EXPECT_EQ(third.start().code(), ErrorCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Stores, SyncServerTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST(HttpApi, StatusTableAndBearerParsing) {
  EXPECT_EQ(http_api::http_status_for(ErrorCode::kInvalidArgument), 400u);
  EXPECT_EQ(http_api::http_status_for(ErrorCode::kUnauthenticated), 401u);
  EXPECT_EQ(http_api::http_status_for(ErrorCode::kPermissionDenied), 403u);
  EXPECT_EQ(http_api::http_status_for(ErrorCode::kNotFound), 404u);
  EXPECT_EQ(http_api::http_status_for(ErrorCode::kSchemaTooNew), 409u);
  EXPECT_EQ(http_api::http_status_for(ErrorCode::kFailedPrecondition), 409u);
  EXPECT_EQ(http_api::http_status_for(ErrorCode::kTooLarge), 413u);
  EXPECT_EQ(http_api::http_status_for(ErrorCode::kUnavailable), 503u);
  EXPECT_EQ(http_api::http_status_for(ErrorCode::kCorrupt), 500u);
  // Read backwards (the device, for refusals without X-Outpost-Error): only unambiguous rows.
  EXPECT_EQ(http_api::error_code_for_http_status(400), ErrorCode::kInvalidArgument);
  EXPECT_EQ(http_api::error_code_for_http_status(401), ErrorCode::kUnauthenticated);
  EXPECT_EQ(http_api::error_code_for_http_status(403), ErrorCode::kPermissionDenied);
  EXPECT_EQ(http_api::error_code_for_http_status(404), ErrorCode::kNotFound);
  EXPECT_EQ(http_api::error_code_for_http_status(413), ErrorCode::kTooLarge);
  EXPECT_EQ(http_api::error_code_for_http_status(503), ErrorCode::kUnavailable);
  EXPECT_EQ(http_api::error_code_for_http_status(409), std::nullopt);
  EXPECT_EQ(http_api::error_code_for_http_status(500), std::nullopt);
  EXPECT_EQ(http_api::error_code_for_http_status(200), std::nullopt);
  EXPECT_EQ(http_api::error_code_for_http_status(418), std::nullopt);
  EXPECT_TRUE(http_api::to_wire_error(error(ErrorCode::kUnavailable, "x")).retryable());
  EXPECT_FALSE(http_api::to_wire_error(error(ErrorCode::kTooLarge, "x")).retryable());

  EXPECT_EQ(http_api::bearer_token("Bearer abc").value(), "abc");
  EXPECT_EQ(http_api::bearer_token("bearer   abc ").value(), "abc");
  EXPECT_EQ(http_api::bearer_token("").status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(http_api::bearer_token("Basic abc").status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(http_api::bearer_token("Bearer").status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(http_api::bearer_token("Bearerabc").status().code(), ErrorCode::kUnauthenticated);
}

}  // namespace
}  // namespace outpost

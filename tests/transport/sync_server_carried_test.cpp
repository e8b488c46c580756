// The server's side of decision 032 over real sockets, on both stores: a commit's changes
// are encoded once (one log read, one protobuf encoding, counted) and carried with the poke
// to every stream whose device is at the commit's base and announced it applies them; a
// stream at another cursor, one that never announced it, and one of another user (who may
// not read the scope) get what they got before — a plain poke, or nothing. Streams in format 2
// (decision 039) share the compressed message too, byte for byte; an older device keeps
// format 1; a bad format-2 message is refused and changes nothing.
#include <zstd.h>

#include <chrono>
#include <thread>

#include "engine/scope.h"
#include "tests/transport/sync_server_fixture.h"

namespace outpost::server_test {
namespace {

// A pull of both scopes from `cursors` (fresh when empty), saying whether carried frames
// are welcome.
protocol::ClientFrame pull_frame(const std::string& client_id, bool accepts_carried,
                                 uint64_t user_seq = 0, uint64_t org_seq = 0) {
  protocol::ClientFrame frame;
  *frame.mutable_pull() = pull_request(client_id, {kUserScope, kOrgScope});
  frame.mutable_pull()->mutable_cursors(0)->set_seq(user_seq);
  frame.mutable_pull()->mutable_cursors(1)->set_seq(org_seq);
  frame.mutable_pull()->set_accepts_carried(accepts_carried);
  return frame;
}

// The user scope's cursor in a pull answer.
uint64_t user_cursor(const protocol::PullResponse& response) {
  for (const auto& scope : response.scopes()) {
    if (scope.scope() == kUserScope) return scope.cursor();
  }
  return 0;
}

class SyncServerCarriedTest : public SyncServerTest {
 protected:
  // A stream of alice's device `name` that pulled once (accepting carried frames or not)
  // and is caught up: the server knows its cursor.
  std::unique_ptr<WsClient> caught_up(const std::string& name, bool accepts_carried,
                                      StreamFormat offer = StreamFormat::kStream) {
    auto client = std::make_unique<WsClient>();
    EXPECT_FALSE(client->connect(server_->port(), token(kTenant, kUser, name), nullptr, offer));
    EXPECT_EQ(client->format(), offer);
    EXPECT_FALSE(client->send(pull_frame(name, accepts_carried)));
    protocol::ServerFrame answer;
    EXPECT_FALSE(client->receive_until(protocol::ServerFrame::kPull, answer));
    EXPECT_EQ(user_cursor(answer.pull()), store_->scope_info(kUserScope)->head_seq);
    return client;
  }

  // A push of one setting over HTTP (a commit on another connection) and its new head.
  uint64_t commit_setting(uint64_t id, const std::string& value) {
    HttpReply reply =
        push(setting_push("writer", id, "theme", value), token(kTenant, kUser, "web"));
    EXPECT_EQ(reply.status(), 200u) << reply.message;
    return store_->scope_info(kUserScope)->head_seq;
  }
};

TEST_P(SyncServerCarriedTest, OneEncodingPerCommitSharedByEveryStreamAtItsBase) {
  const uint64_t seeded = commit_setting(1, "dark");
  constexpr int kDevices = 6;
  std::vector<std::unique_ptr<WsClient>> devices;
  for (int i = 0; i < kDevices; ++i) {
    devices.push_back(caught_up("phone-" + std::to_string(i), true));
  }
  auto older = caught_up("older", false);  // never announced it: plain pokes
  // Behind: it pulled before a commit this server did not hear of (another process's).
  auto behind = caught_up("behind", true);
  ServerCore elsewhere(*store_, Schema::domain(), domain_mutators());
  ASSERT_TRUE(elsewhere
                  .write([](ServerWriteTx& tx) {
                    return tx.put(kUserScope, "user_setting", "other", 0, "x").status();
                  })
                  .ok());
  const uint64_t base = store_->scope_info(kUserScope)->head_seq;
  ASSERT_GT(base, seeded);
  for (auto& device : devices) {  // these pull again and are at `base`
    ASSERT_FALSE(device->send(pull_frame("again", true, seeded, 0)));
    protocol::ServerFrame answer;
    ASSERT_FALSE(device->receive_until(protocol::ServerFrame::kPull, answer));
    ASSERT_EQ(user_cursor(answer.pull()), base);
  }
  // Bob (same tenant, another user) streams and accepts carried frames too.
  WsClient bob;
  ASSERT_FALSE(bob.connect(server_->port(), token(kTenant, "bob", "phone")));
  protocol::ClientFrame bobs_pull = pull_frame("bob", true);
  bobs_pull.mutable_pull()->mutable_cursors(0)->set_scope(ScopeName::format_user(kTenant, "bob"));
  ASSERT_FALSE(bob.send(bobs_pull));
  protocol::ServerFrame bobs;
  ASSERT_FALSE(bob.receive_until(protocol::ServerFrame::kPull, bobs));
  const SyncServerStats before = server_->stats();

  const uint64_t head = commit_setting(2, "light");
  for (auto& device : devices) {
    protocol::ServerFrame frame;
    ASSERT_FALSE(device->receive(frame));
    ASSERT_EQ(frame.body_case(), protocol::ServerFrame::kCarried);
    EXPECT_EQ(frame.carried().base(), base);
    EXPECT_EQ(frame.carried().changes().scope(), kUserScope);
    EXPECT_EQ(frame.carried().changes().cursor(), head);
    EXPECT_FALSE(frame.carried().changes().has_more());
    protocol::PullResponse as_pull;
    *as_pull.add_scopes() = frame.carried().changes();
    auto setting = find_setting(as_pull, "theme");
    ASSERT_TRUE(setting.has_value());
    EXPECT_EQ(setting->value(), "light");
  }
  for (WsClient* poked : {older.get(), behind.get()}) {
    protocol::ServerFrame frame;
    ASSERT_FALSE(poked->receive(frame));
    ASSERT_EQ(frame.body_case(), protocol::ServerFrame::kPoke);
    ASSERT_EQ(frame.poke().heads_size(), 1);
    EXPECT_EQ(frame.poke().heads(0).seq(), head);
  }
  // Bob heard nothing of alice's scope: his first frame is his pong.
  ASSERT_FALSE(bob.send(ping_frame(5)));
  ASSERT_FALSE(bob.receive(bobs));
  EXPECT_EQ(bobs.body_case(), protocol::ServerFrame::kPong);

  SyncServerStats after = server_->stats();
  EXPECT_EQ(after.carried_encodings - before.carried_encodings, 1u);
  EXPECT_EQ(after.carried_sent - before.carried_sent, static_cast<uint64_t>(kDevices));

  // The devices are at `head` now (the server counts what it carried): the next commit is
  // carried again, one more encoding; the behind device, which has not pulled, is poked.
  const uint64_t next = commit_setting(3, "blue");
  for (auto& device : devices) {
    protocol::ServerFrame frame;
    ASSERT_FALSE(device->receive(frame));
    ASSERT_EQ(frame.body_case(), protocol::ServerFrame::kCarried);
    EXPECT_EQ(frame.carried().base(), head);
    EXPECT_EQ(frame.carried().changes().cursor(), next);
  }
  protocol::ServerFrame frame;
  ASSERT_FALSE(behind->receive(frame));
  EXPECT_EQ(frame.body_case(), protocol::ServerFrame::kPoke);
  after = server_->stats();
  EXPECT_EQ(after.carried_encodings - before.carried_encodings, 2u);
  EXPECT_EQ(after.carried_sent - before.carried_sent, 2u * kDevices);
}

// Nobody at the base: nothing is encoded at all (the frame is built by the first stream
// that needs it), and commits heard from other processes (no base) are only poked.
TEST_P(SyncServerCarriedTest, NothingIsEncodedWhenNoStreamIsAtTheBase) {
  commit_setting(1, "dark");
  auto older = caught_up("older", false);
  const SyncServerStats before = server_->stats();
  const uint64_t head = commit_setting(2, "light");
  protocol::ServerFrame frame;
  ASSERT_FALSE(older->receive(frame));
  ASSERT_EQ(frame.body_case(), protocol::ServerFrame::kPoke);
  EXPECT_EQ(frame.poke().heads(0).seq(), head);

  auto device = caught_up("phone", true);
  server_->poke({CommittedHead{kUserScope, head}});  // as from a commit feed: no base
  ASSERT_FALSE(device->receive(frame));
  EXPECT_EQ(frame.body_case(), protocol::ServerFrame::kPoke);
  const SyncServerStats after = server_->stats();
  EXPECT_EQ(after.carried_encodings, before.carried_encodings);
  EXPECT_EQ(after.carried_sent, before.carried_sent);
}

// Decision 039: streams that negotiated format 2 get the carried frame as one standalone zstd
// message compressed once for all of them (the same bytes on every socket); a format-1
// stream beside them compresses the same serialized frame with its own context, and a
// device that offered nothing (every device before 039) is answered in format 1.
TEST_P(SyncServerCarriedTest, FormatTwoStreamsShareOneCompressedMessage) {
  commit_setting(1, "dark");
  constexpr int kStandalone = 5;
  std::vector<std::unique_ptr<WsClient>> devices;
  for (int i = 0; i < kStandalone; ++i) {
    devices.push_back(caught_up("new-" + std::to_string(i), true, StreamFormat::kMessage));
  }
  auto stream = caught_up("stream", true, StreamFormat::kStream);
  const SyncServerStats before = server_->stats();

  const uint64_t head = commit_setting(2, "light");
  std::string shared;
  for (auto& device : devices) {
    protocol::ServerFrame frame;
    ASSERT_FALSE(device->receive(frame));
    ASSERT_EQ(frame.body_case(), protocol::ServerFrame::kCarried);
    EXPECT_EQ(frame.carried().changes().cursor(), head);
    if (shared.empty()) shared = device->last_message();
    EXPECT_EQ(device->last_message(), shared) << "the same compressed bytes on every stream";
    protocol::PullResponse as_pull;
    *as_pull.add_scopes() = frame.carried().changes();
    EXPECT_EQ(find_setting(as_pull, "theme")->value(), "light");
  }
  protocol::ServerFrame frame;
  ASSERT_FALSE(stream->receive(frame));
  ASSERT_EQ(frame.body_case(), protocol::ServerFrame::kCarried);
  EXPECT_EQ(frame.carried().changes().cursor(), head);
  EXPECT_NE(stream->last_message(), shared);

  SyncServerStats after = server_->stats();
  EXPECT_EQ(after.carried_encodings - before.carried_encodings, 1u);
  EXPECT_EQ(after.carried_compressions - before.carried_compressions, 1u);
  EXPECT_EQ(after.carried_sent - before.carried_sent, static_cast<uint64_t>(kStandalone + 1));

  // Answers and pokes in format 2 are standalone messages too: a ping is answered.
  ASSERT_FALSE(devices[0]->send(ping_frame(7)));
  ASSERT_FALSE(devices[0]->receive_until(protocol::ServerFrame::kPong, frame));
  EXPECT_EQ(frame.pong().sent_ms(), 7);
}

// A format-2 stream whose message is not one valid standalone frame (a format-1 message,
// a frame without its content size, one declaring more than the bound) gets an error frame
// and the close code of format 1's equivalent; the push inside is never applied.
TEST_P(SyncServerCarriedTest, FormatTwoRefusesABadMessageAndChangesNothing) {
  commit_setting(1, "dark");
  const uint64_t head = store_->scope_info(kUserScope)->head_seq;
  protocol::ClientFrame push;
  *push.mutable_push() = setting_push("hostile", 1, "theme", "stolen");
  const std::string plain = push.SerializeAsString();

  StreamCompressor format_one;
  // One whole frame whose header does not record its content size.
  std::string unknown_size(ZSTD_compressBound(plain.size()) + 32, '\0');
  {
    ZSTD_CCtx* context = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 0);
    ZSTD_inBuffer in{plain.data(), plain.size(), 0};
    ZSTD_outBuffer out{unknown_size.data(), unknown_size.size(), 0};
    while (ZSTD_compressStream2(context, &out, &in, ZSTD_e_end) != 0) {
    }
    ZSTD_freeCCtx(context);
    unknown_size.resize(out.pos);
  }
  ASSERT_EQ(ZSTD_getFrameContentSize(unknown_size.data(), unknown_size.size()),
            ZSTD_CONTENTSIZE_UNKNOWN);
  struct Case {
    std::string message;
    std::string code;
    websocket::close_code close;
  };
  std::string bomb = "\x28\xB5\x2F\xFD";  // single segment, 64 MiB declared, one raw byte
  bomb.push_back(static_cast<char>(0xA0));
  bomb.append("\x00\x00\x00\x04", 4);
  bomb.append("\x09\x00\x00", 3);
  bomb.push_back('x');
  const Case cases[] = {
      {format_one.compress_message(plain).value(), "invalid_argument",
       websocket::close_code::bad_payload},
      {unknown_size, "invalid_argument", websocket::close_code::bad_payload},
      {bomb, "too_large", websocket::close_code::too_big},
  };
  for (const Case& c : cases) {
    WsClient ws;
    ASSERT_FALSE(ws.connect(server_->port(), token(kTenant, kUser, "hostile"), nullptr,
                            StreamFormat::kMessage));
    ASSERT_EQ(ws.format(), StreamFormat::kMessage);
    ASSERT_FALSE(ws.send_raw(c.message));
    protocol::ServerFrame answer;
    ASSERT_FALSE(ws.receive(answer));
    ASSERT_EQ(answer.body_case(), protocol::ServerFrame::kError);
    EXPECT_EQ(answer.error().code(), c.code) << answer.error().message();
    EXPECT_TRUE(ws.receive(answer)) << "the stream is closed";
    EXPECT_EQ(ws.reason().code, c.close);
  }
  EXPECT_EQ(store_->scope_info(kUserScope)->head_seq, head) << "nothing was applied";
  // The same push as a good format-2 message is applied.
  WsClient good;
  ASSERT_FALSE(good.connect(server_->port(), token(kTenant, kUser, "hostile"), nullptr,
                            StreamFormat::kMessage));
  ASSERT_FALSE(good.send(push));
  protocol::ServerFrame answer;
  ASSERT_FALSE(good.receive_until(protocol::ServerFrame::kPush, answer));
  EXPECT_GT(store_->scope_info(kUserScope)->head_seq, head);
}

INSTANTIATE_TEST_SUITE_P(Stores, SyncServerCarriedTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace outpost::server_test

// The hostile-input catalogue, continued (the fixture and the first cases:
// sync_server_hostile_test.cpp): the stream-side cases of the sync protocol's bad-input list
// that sync_server_test.cpp covers over HTTP (the catalogue, an expiring token, error
// frames), HTTP's header limit and malformed requests, an unknown collection, and the
// TLS-only cases: a client stalling in the TLS handshake, a plain client on the TLS port
// (decision 022). Each case checks the documented outcome, that another client is served
// meanwhile, and that the store's rows are unchanged.

#include "tests/transport/sync_server_hostile_fixture.h"

namespace outpost {
namespace {

using namespace hostile_server_test;  // the catalogue's shared fixture and bounds

TEST_P(SyncServerHostileTest, StreamBadInputCatalogue) {
  const std::string before = hostile::dump_sqlite(store_path());
  struct Case {
    const char* what;
    std::function<std::string(RawStream&)> message;
    const char* code;
    unsigned close_code;
  };
  const std::vector<Case> cases = {
      {"zstd bomb",
       [](RawStream& s) {
         return s.compress_next(std::string(limits::kMaxDecompressedFrame + 1, 0));
       },
       "too_large", 1009},
      {"truncated message",
       [](RawStream& s) {
         std::string whole = s.compress_next(std::string(5000, 'x') + "tail");
         return whole.substr(0, whole.size() / 2);
       },
       "invalid_argument", 1007},
      {"malformed ClientFrame",
       [](RawStream& s) { return s.compress_next(std::string("\x0a\xff\xff\xff\xff", 5)); },
       "invalid_argument", 1007},
      {"empty ClientFrame", [](RawStream& s) { return s.compress_next(""); }, "invalid_argument",
       1007},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    RawStream stream;
    ASSERT_TRUE(open(stream, token()));
    ASSERT_TRUE(stream.send_message(c.message(stream)));
    RawStream::Frame last;
    auto error = stream.receive(&last);
    ASSERT_TRUE(error.has_value());
    ASSERT_EQ(error->body_case(), protocol::ServerFrame::kError);
    EXPECT_EQ(error->error().code(), c.code);
    RawStream::Frame close = stream.read_frame();
    EXPECT_EQ(close.opcode, 0x8);
    EXPECT_EQ(close.close_code(), c.close_code);
    expect_stream_served();
  }
  expect_served();
  EXPECT_EQ(hostile::dump_sqlite(store_path()), before);
}

TEST_P(SyncServerHostileTest, StreamTokenExpiringWhileConnectedIsClosed1008) {
  const std::string before = hostile::dump_sqlite(store_path());
  RawStream stream;
  ASSERT_TRUE(open(stream, token("phone", kNow + 60'000)));
  protocol::ClientFrame ping;
  ping.mutable_ping()->set_sent_ms(1);
  ASSERT_TRUE(stream.send(ping));
  ASSERT_TRUE(stream.receive().has_value());
  now_ = kNow + 60'000;  // the token's expiry
  protocol::ClientFrame push;
  *push.mutable_push() = setting_push("phone-1", 1, "theme", "light");
  ASSERT_TRUE(stream.send(push));
  auto error = stream.receive();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error().code(), "unauthenticated");
  RawStream::Frame close = stream.read_frame();
  EXPECT_EQ(close.opcode, 0x8);
  EXPECT_EQ(close.close_code(), 1008u);
  now_ = kNow;
  expect_served();
  EXPECT_EQ(hostile::dump_sqlite(store_path()), before);
}

TEST_P(SyncServerHostileTest, StreamRequestErrorsAreErrorFramesAndTheStreamStaysOpen) {
  const std::string before = hostile::dump_sqlite(store_path());
  RawStream stream;
  ASSERT_TRUE(open(stream, token()));
  protocol::ClientFrame future;
  *future.mutable_push() = setting_push("phone-1", 1, "theme", "light");
  future.mutable_push()->set_schema_version(Schema::domain().version() + 1);
  ASSERT_TRUE(stream.send(future));
  auto refused = stream.receive();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->error().code(), "schema_too_new");

  protocol::ClientFrame forged;
  *forged.mutable_pull() = pull_request("phone-1", {kUserScope});
  forged.mutable_pull()->mutable_cursors(0)->set_token("\xff\xff not a cursor token");
  ASSERT_TRUE(stream.send(forged));
  refused = stream.receive();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->error().code(), "invalid_argument");

  protocol::ClientFrame unknown;
  *unknown.mutable_push() = setting_push("phone-1", 1, "theme", "light");
  unknown.mutable_push()->mutable_mutations(0)->set_name("launch_rockets");
  ASSERT_TRUE(stream.send(unknown));
  auto rejected = stream.receive();
  ASSERT_TRUE(rejected.has_value());
  ASSERT_EQ(rejected->push().results_size(), 1);
  EXPECT_EQ(rejected->push().results(0).outcome(), protocol::MutationResult::REJECTED);
  EXPECT_EQ(rejected->push().results(0).code(), "not_found");

  protocol::ClientFrame ping;
  ping.mutable_ping()->set_sent_ms(5);
  ASSERT_TRUE(stream.send(ping));
  std::optional<protocol::ServerFrame> pong;
  do {
    pong = stream.receive();  // a poke for the recorded rejection may come first
  } while (pong && pong->body_case() == protocol::ServerFrame::kPoke);
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(pong->pong().sent_ms(), 5);
  // The rejection is recorded (so a retry is answered the same); no record changed.
  auto section = [](const std::string& dump, const std::string& table) {
    size_t start = dump.find("[" + table + "]");
    return dump.substr(start, dump.find("\n[", start + 1) - start);
  };
  const std::string after = hostile::dump_sqlite(store_path());
  for (const char* table : {"records", "changes", "scopes"}) {
    EXPECT_EQ(section(after, table), section(before, table)) << table;
  }
}

// --- the HTTP side: what sync_server_test.cpp does not cover ------------------------------

TEST_P(SyncServerHostileTest, HeadersPastTheLimitAre413AndMalformedHttpIs400) {
  const std::string before = hostile::dump_sqlite(store_path());
  std::string huge =
      "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(limits::kMaxHeaderBytes, 'a') +
      "\r\n\r\n";
  RawReply big = exchange(port(), huge);
  EXPECT_EQ(big.status, 413u);
  EXPECT_EQ(big.error_code, "too_large");
  RawReply garbage = exchange(port(), "HELLO THERE\r\n\r\n");
  EXPECT_EQ(garbage.status, 400u);
  EXPECT_EQ(garbage.error_code, "invalid_argument");
  if (!tls()) {
    RawReply binary =
        exchange(port(), std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
    EXPECT_EQ(binary.status, 400u);  // a TLS ClientHello on the plain port
  }
  expect_served();
  EXPECT_EQ(hostile::dump_sqlite(store_path()), before);
}

TEST_P(SyncServerHostileTest, UnknownCollectionInAFetchIs400) {
  const std::string before = hostile::dump_sqlite(store_path());
  protocol::PullRequest pull = pull_request("phone-1", {kUserScope});
  pull.set_fetch_scope("user/acme/alice");
  protocol::KeyRef* ref = pull.add_fetch();
  ref->set_collection("no_such_collection");
  ref->set_key("k");
  RawReply reply = exchange(port(), http_post("/v1/pull", token(), compress(pull)));
  EXPECT_EQ(reply.status, 400u);
  EXPECT_EQ(reply.error_code, "invalid_argument");
  expect_served();
  EXPECT_EQ(hostile::dump_sqlite(store_path()), before);
}

// --- TLS only: what happens before the TLS handshake is done ------------------------------

// The same fixture, instantiated for TLS alone (no skipped Plain twins).
class SyncServerHostileTlsTest : public SyncServerHostileTest {};
INSTANTIATE_TEST_SUITE_P(Transports, SyncServerHostileTlsTest, ::testing::Values(Transport::kTls),
                         [](const ::testing::TestParamInfo<Transport>&) { return "Tls"; });

TEST_P(SyncServerHostileTlsTest, StallingInTheTlsHandshakeIsCutAtTheHandshakeTimeout) {
  ASSERT_TRUE(tls());
  const std::string before = hostile::dump_sqlite(store_path());
  const size_t fds = hostile::open_descriptors();
  // A TLS record header announcing a 512-byte ClientHello, then its bytes one at a time.
  auto cuts = trickle(port(), nullptr, 20, std::string("\x16\x03\x01\x02\x00", 5), "\x01",
                      [this] { expect_served(); });
  expect_cut_between(cuts, kHandshake);
  EXPECT_TRUE(wait_connections_at_most(0, kSlack));
  EXPECT_LE(hostile::open_descriptors(), fds + 2);
  expect_served();
  EXPECT_EQ(hostile::dump_sqlite(store_path()), before);
}

TEST_P(SyncServerHostileTlsTest, PlainHttpOnTheTlsPortIsNeverReadAsHttp) {
  ASSERT_TRUE(tls());
  const std::string before = hostile::dump_sqlite(store_path());
  auto start = Clock::now();
  RawReply health = exchange_on(port(), nullptr,
                                "GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(health.status, 0u);  // no HTTP answer: a failed TLS handshake, then the end
  RawReply push =
      exchange_on(port(), nullptr,
                  http_post("/v1/push", token(), compress(setting_push("plain", 1, "x", "y"))));
  EXPECT_EQ(push.status, 0u);
  EXPECT_LT(seconds_since(start), std::chrono::duration<double>(kHandshake).count())
      << "refused at once, not at the handshake timeout";
  EXPECT_TRUE(wait_connections_at_most(0, kSlack));
  expect_served();
  EXPECT_EQ(hostile::dump_sqlite(store_path()), before);
}

}  // namespace
}  // namespace outpost

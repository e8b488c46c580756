// What the server refuses to take on trust, against a real SyncServer on 127.0.0.1 and a
// real store (SQLite and a real PostgreSQL): pull cursors it never issued (ahead of the
// head, 2^63 and more, forged or tampered continuation tokens, an empty fetch scope), a
// push whose mutation ids skip one, and connections past the cap. Each is refused with
// its documented status and code (docs/protocol.md), changing nothing.
#include <gtest/gtest.h>
#include <zstd.h>

#include "tests/transport/hostile_client.h"
#include "tests/transport/sync_server_fixture.h"
#include "transport/sync_agent.h"

namespace outpost {
namespace {

using namespace server_test;  // NOLINT: the suite's fixture and clients

class SyncServerBoundsTest : public SyncServerTest {
 protected:
  // Pushes `count` settings as device `client` (ids from `first_id`); expects them applied.
  void push_settings(const std::string& client, uint64_t first_id, int count) {
    for (int i = 0; i < count; ++i) {
      HttpReply reply = push(setting_push(client, first_id + i, "setting-" + std::to_string(i),
                                          "value-" + std::to_string(first_id + i)),
                             token());
      ASSERT_EQ(reply.status(), 200u) << reply.message;
    }
  }

  uint64_t user_head() { return store_->scope_info(kUserScope).value().head_seq; }

  protocol::PullRequest pull_at(uint64_t seq, const std::string& cursor_token = "") {
    protocol::PullRequest request = pull_request("tablet-1", {kUserScope});
    request.mutable_cursors(0)->set_seq(seq);
    request.mutable_cursors(0)->set_token(cursor_token);
    return request;
  }
};

TEST_P(SyncServerBoundsTest, ACursorAheadOfTheHeadIsRefusedNotAdopted) {
  push_settings("phone-1", 1, 3);
  const uint64_t head = user_head();
  // A cursor the server never issued: echoing it back would make the device skip the
  // next real change.
  expect_error(pull(pull_at(head + 1), token()), 409, "failed_precondition");
  push_settings("phone-1", 4, 1);
  HttpReply reply = pull(pull_at(head), token());
  ASSERT_EQ(reply.status(), 200u) << reply.message;
  auto response = reply.decode<protocol::PullResponse>();
  ASSERT_EQ(response.scopes_size(), 1);
  EXPECT_EQ(response.scopes(0).changes_size(), 1) << "the next real change is delivered";
  EXPECT_EQ(response.scopes(0).cursor(), head + 1);
  // The head itself is a cursor the server issued: nothing new, the same cursor back.
  reply = pull(pull_at(head + 1), token());
  ASSERT_EQ(reply.status(), 200u) << reply.message;
  EXPECT_EQ(reply.decode<protocol::PullResponse>().scopes(0).changes_size(), 0);
}

TEST_P(SyncServerBoundsTest, ACursorOf2To63OrMoreIsRefusedNotTheWholeScope) {
  push_settings("phone-1", 1, 3);
  for (uint64_t seq : {uint64_t{1} << 63, ~uint64_t{0}, (uint64_t{1} << 63) + 1}) {
    expect_error(pull(pull_at(seq), token()), 409, "failed_precondition");
  }
  // The same on the stream: an error frame, and the stream stays open.
  WsClient ws;
  ASSERT_FALSE(ws.connect(server_->port(), token()));
  protocol::ClientFrame frame;
  *frame.mutable_pull() = pull_at(uint64_t{1} << 63);
  ASSERT_FALSE(ws.send(frame));
  protocol::ServerFrame answer;
  ASSERT_FALSE(ws.receive(answer));
  ASSERT_EQ(answer.body_case(), protocol::ServerFrame::kError);
  EXPECT_EQ(answer.error().code(), "failed_precondition");
  ASSERT_FALSE(ws.send(ping_frame(7)));
  ASSERT_FALSE(ws.receive_until(protocol::ServerFrame::kPong, answer));
}

TEST_P(SyncServerBoundsTest, SnapshotTokensAreBoundToWhatTheServerIssued) {
  push_settings("phone-1", 1, 5);
  const uint64_t head = user_head();
  protocol::PullRequest first = pull_at(0);
  first.set_max_changes(2);
  HttpReply reply = pull(first, token());
  ASSERT_EQ(reply.status(), 200u) << reply.message;
  auto page = reply.decode<protocol::PullResponse>();
  ASSERT_TRUE(page.scopes(0).has_more());
  const std::string issued = page.scopes(0).cursor_token();
  ASSERT_FALSE(issued.empty());

  // A token built by the device: the snapshot would end at a cursor of its choosing.
  protocol::CursorToken forged;
  forged.set_kind(protocol::CursorToken::SNAPSHOT);
  forged.set_head_seq(999999);
  protocol::PullRequest forged_pull = pull_at(0, forged.SerializeAsString());
  forged_pull.set_max_changes(1000);
  expect_error(pull(forged_pull, token()), 400, "invalid_argument");
  // The issued token with one byte changed.
  for (size_t at : {size_t{0}, issued.size() / 2, issued.size() - 1}) {
    std::string tampered = issued;
    tampered[at] = static_cast<char>(tampered[at] ^ 0x01);
    expect_error(pull(pull_at(0, tampered), token()), 400, "invalid_argument");
  }
  // The issued token for another scope.
  protocol::PullRequest other_scope = pull_request("tablet-1", {kOrgScope});
  other_scope.mutable_cursors(0)->set_token(issued);
  expect_error(pull(other_scope, token()), 400, "invalid_argument");

  // The issued token continues the snapshot and ends it at the head it began at.
  protocol::PullRequest next = pull_at(0, issued);
  next.set_max_changes(1000);
  reply = pull(next, token());
  ASSERT_EQ(reply.status(), 200u) << reply.message;
  auto last = reply.decode<protocol::PullResponse>();
  EXPECT_FALSE(last.scopes(0).has_more());
  EXPECT_EQ(last.scopes(0).cursor(), head);
  EXPECT_EQ(last.scopes(0).changes_size() + page.scopes(0).changes_size(), 5);
}

TEST_P(SyncServerBoundsTest, AFetchWithAnEmptyScopeIsInvalidArgument) {
  push_settings("phone-1", 1, 1);
  protocol::PullRequest fetch = pull_at(user_head());
  auto* ref = fetch.add_fetch();
  ref->set_collection("user_setting");
  ref->set_key("setting-0");
  expect_error(pull(fetch, token()), 400, "invalid_argument");  // no fetch_scope at all
  fetch.set_fetch_scope(kUserScope);
  fetch.mutable_cursors(0)->set_seq(~uint64_t{0});
  expect_error(pull(fetch, token()), 409, "failed_precondition");  // the echoed cursor
  fetch.mutable_cursors(0)->set_seq(user_head());
  fetch.set_fetch_scope("org/globex");
  expect_error(pull(fetch, token()), 403, "permission_denied");
}

TEST_P(SyncServerBoundsTest, APushThatSkipsAMutationIdIsRefused) {
  seed();
  const auto before = heads();
  // A device whose first mutation is not 1, and one that skips one later.
  expect_error(push(setting_push("phone-1", 2, "theme", "light"), token()), 409,
               "failed_precondition");
  push_settings("phone-1", 1, 2);
  const auto after_two = heads();
  expect_error(push(setting_push("phone-1", 4, "theme", "light"), token()), 409,
               "failed_precondition");
  EXPECT_EQ(heads(), after_two) << "nothing of a refused push is applied";
  EXPECT_NE(before, after_two);

  // Processed ids sent again with other mutations (a replica restored from an older
  // copy): refused whole, naming the first reused id (decision 042).
  protocol::PushRequest reused = setting_push("phone-1", 1, "setting-0", "value-1");
  *reused.add_mutations() = setting_push("phone-1", 2, "setting-x", "x").mutations(0);
  expect_error(push(reused, token()), 409, "failed_precondition");
  EXPECT_EQ(heads(), after_two);

  // What a legitimate device sends is accepted: a retried batch (the same mutations) with
  // new ids after it, and a rejected mutation followed by the next one.
  protocol::PushRequest retried = setting_push("phone-1", 1, "setting-0", "value-1");
  *retried.add_mutations() = setting_push("phone-1", 2, "setting-1", "value-2").mutations(0);
  *retried.add_mutations() = setting_push("phone-1", 3, "setting-x", "x").mutations(0);
  retried.mutable_mutations(2)->set_name("launch_rockets");  // rejected: not_found
  HttpReply reply = push(retried, token());
  ASSERT_EQ(reply.status(), 200u) << reply.message;
  auto response = reply.decode<protocol::PushResponse>();
  EXPECT_EQ(response.last_mutation_id(), 3u);
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_EQ(response.results(2).outcome(), protocol::MutationResult::REJECTED);
  reply = push(setting_push("phone-1", 4, "theme", "light"), token());
  ASSERT_EQ(reply.status(), 200u) << reply.message;
  EXPECT_EQ(reply.decode<protocol::PushResponse>().last_mutation_id(), 4u);
  // Ids inside one push must follow on from each other too.
  protocol::PushRequest gap = setting_push("phone-1", 5, "a", "1");
  *gap.add_mutations() = setting_push("phone-1", 7, "b", "2").mutations(0);
  expect_error(push(gap, token()), 409, "failed_precondition");
  EXPECT_EQ(store_->last_mutation_id("acme/alice/phone-1").value(), 4u);
}

TEST_P(SyncServerBoundsTest, ConnectionsPastTheCapGetARetryableRefusal) {
  SyncServerOptions options;
  options.max_connections = 2;
  start_server(options);
  // Between the upgrade and the end of its HTTP session a stream counts twice for a moment:
  // wait for each to settle before the next.
  auto settle_at = [&](size_t open) {
    for (int i = 0; i < 500 && server_->connection_count() != open; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return server_->connection_count();
  };
  WsClient first;
  WsClient second;
  ASSERT_FALSE(first.connect(server_->port(), token()));
  ASSERT_EQ(settle_at(1), 1u);
  ASSERT_FALSE(second.connect(server_->port(), token()));
  ASSERT_EQ(settle_at(2), 2u);
  // HTTP and the WebSocket upgrade alike: 503 unavailable with Retry-After.
  HttpReply refused = pull(pull_request("tablet-1", {kUserScope}), token());
  expect_error(refused, 503, "unavailable");
  EXPECT_FALSE(refused.header("Retry-After").empty());
  WsClient third;
  unsigned status = 0;
  EXPECT_TRUE(third.connect(server_->port(), token(), &status));
  EXPECT_EQ(status, 503u);
  // A connection that sends nothing is not kept past the cap either.
  hostile::RawSocket silent(server_->port());
  ASSERT_TRUE(silent.connected());
  EXPECT_TRUE(silent.drain_until_closed(std::chrono::seconds(15)));

  // The streams already open are served; once one ends, a new connection is too.
  ASSERT_FALSE(first.send(ping_frame(1)));
  protocol::ServerFrame answer;
  ASSERT_FALSE(first.receive_until(protocol::ServerFrame::kPong, answer));
  second.close();
  EXPECT_EQ(settle_at(1), 1u) << "the refused ones are gone within the linger time too";
  HttpReply served = pull(pull_request("tablet-1", {kUserScope}), token());
  EXPECT_EQ(served.status(), 200u) << served.message;
}

// The device's side of the cap: SyncAgent takes the 503 as retryable, backs off, and
// connects and syncs once a slot is free.
TEST_P(SyncServerBoundsTest, ADeviceRefusedAtTheCapBacksOffAndConnectsLater) {
  push_settings("phone-1", 1, 1);
  SyncServerOptions server_options;
  server_options.max_connections = 1;
  start_server(server_options);
  hostile::RawSocket holder(server_->port());  // the one slot: silent until closed
  ASSERT_TRUE(holder.connected());
  for (int i = 0; i < 200 && server_->connection_count() < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  SyncAgentOptions options;
  options.server_url = "http://127.0.0.1:" + std::to_string(server_->port());
  options.token = token(kTenant, kUser, "tablet", kNow - 1000, kNow + 3'600'000);
  options.replica_path = dir_.path() + "/tablet.db";
  options.backoff_base_ms = 20;
  options.backoff_max_ms = 100;
  options.random_seed = 7;
  auto agent = SyncAgent::open(options);
  ASSERT_TRUE(agent.ok()) << agent.status().to_string();
  ASSERT_TRUE((*agent)->start().ok());
  auto within = [](const std::function<bool()>& done) {
    for (int i = 0; i < 1500 && !done(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  };
  EXPECT_TRUE(within([&] { return (*agent)->stats().connection_failures >= 3; }))
      << "refused, and tried again";
  EXPECT_EQ((*agent)->stats().connects, 0u);
  EXPECT_NE((*agent)->state(), AgentState::kFailed) << "a retryable refusal";
  EXPECT_EQ((*agent)->last_error().code(), ErrorCode::kUnavailable);

  holder.reset();
  EXPECT_TRUE(within([&] { return (*agent)->stats().connects >= 1; }));
  EXPECT_TRUE(within([&] {
    uint64_t count = 0;
    Status read = (*agent)->with_replica([&](Replica& replica) {
      auto counted = replica.count("user_setting");
      count = counted.ok() ? *counted : 0;
    });
    return read.ok() && count == 1;
  })) << "synced once a slot was free";
  (*agent)->stop();
}

// docs/protocol.md §3/§5: a stream message whose zstd frame asks for a window above
// 2^kStreamWindowLog has one answer, the one of any message above a size bound:
// error{too_large}, then close 1009.
TEST_P(SyncServerBoundsTest, AStreamWindowAboveTheLimitIsTooLargeAndClose1009) {
  protocol::ClientFrame frame;
  frame.mutable_ping()->set_sent_ms(1);
  std::string plain = frame.SerializeAsString();
  ZSTD_CCtx* context = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(context, ZSTD_c_windowLog, limits::kStreamWindowLog + 4);
  std::string wire(ZSTD_compressBound(plain.size()) + 64, '\0');
  ZSTD_inBuffer in{plain.data(), plain.size(), 0};
  ZSTD_outBuffer out{wire.data(), wire.size(), 0};
  while (ZSTD_compressStream2(context, &out, &in, ZSTD_e_flush) != 0) {
  }
  ZSTD_freeCCtx(context);
  wire.resize(out.pos);
  std::string message(1, static_cast<char>(plain.size()));  // varint: one byte (< 128)
  ASSERT_LT(plain.size(), 128u);
  message += wire;

  WsClient ws;
  ASSERT_FALSE(ws.connect(server_->port(), token()));
  ASSERT_FALSE(ws.send_raw(message));
  protocol::ServerFrame answer;
  ASSERT_FALSE(ws.receive(answer));
  ASSERT_EQ(answer.body_case(), protocol::ServerFrame::kError);
  EXPECT_EQ(answer.error().code(), "too_large");
  EXPECT_TRUE(ws.receive(answer)) << "the stream is closed";
  EXPECT_EQ(ws.reason().code, websocket::close_code::too_big);
}

INSTANTIATE_TEST_SUITE_P(Stores, SyncServerBoundsTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace outpost

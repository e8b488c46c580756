// The server's side of decision 045 over real sockets, on both stores: a pull that says
// accepts_column_pages is answered with its pages column-wise, over HTTP and on the stream
// (counted); the same pull without it — every device before decision 045 — gets plain
// changes, and the columns expand to exactly those changes.
#include "tests/transport/sync_server_fixture.h"
#include "transport/column_page.h"

namespace outpost::server_test {
namespace {

class SyncServerColumnsTest : public SyncServerTest {
 protected:
  // Settings in the user scope, one push of `count` mutations.
  void seed_settings(int count) {
    protocol::PushRequest push = setting_push("seeder", 1, "s-0", "value 0");
    for (int i = 1; i < count; ++i) {
      *push.add_mutations() =
          setting_push("seeder", i + 1, "s-" + std::to_string(i), "value " + std::to_string(i))
              .mutations(0);
    }
    HttpReply reply = this->push(push, token(kTenant, kUser, "seeder"));
    ASSERT_EQ(reply.status(), 200u) << reply.message;
  }
};

TEST_P(SyncServerColumnsTest, HttpPullsAreColumnWiseOnlyWhenAsked) {
  ASSERT_NO_FATAL_FAILURE(seed_settings(40));
  protocol::PullResponse plain, columns;
  for (bool asked : {false, true}) {
    protocol::PullRequest request = pull_request("reader", {kUserScope});
    request.set_accepts_column_pages(asked);
    HttpReply reply = pull(request, token());
    ASSERT_EQ(reply.status(), 200u) << reply.message;
    (asked ? columns : plain) = reply.decode<protocol::PullResponse>();
  }
  ASSERT_EQ(plain.scopes_size(), 1);
  EXPECT_FALSE(plain.scopes(0).has_columns());
  EXPECT_EQ(plain.scopes(0).changes_size(), 40);
  ASSERT_EQ(columns.scopes_size(), 1);
  ASSERT_TRUE(columns.scopes(0).has_columns());
  EXPECT_EQ(columns.scopes(0).changes_size(), 0);
  EXPECT_EQ(columns.scopes(0).columns().count(), 40u);
  EXPECT_EQ(columns.scopes(0).cursor(), plain.scopes(0).cursor());
  ASSERT_TRUE(expand_column_pages(columns, limits::kMaxDecompressedFrame).ok());
  EXPECT_EQ(columns.SerializeAsString(), plain.SerializeAsString());
}

TEST_P(SyncServerColumnsTest, StreamPullsAreColumnWiseOnlyWhenAskedAndCounted) {
  ASSERT_NO_FATAL_FAILURE(seed_settings(40));
  for (bool asked : {false, true}) {
    WsClient client;
    ASSERT_FALSE(client.connect(server_->port(), token(), nullptr, StreamFormat::kMessage));
    protocol::ClientFrame frame;
    *frame.mutable_pull() = pull_request("reader", {kUserScope});
    frame.mutable_pull()->set_accepts_column_pages(asked);
    const uint64_t before = server_->stats().column_pages_sent;
    ASSERT_FALSE(client.send(frame));
    protocol::ServerFrame answer;
    ASSERT_FALSE(client.receive_until(protocol::ServerFrame::kPull, answer));
    ASSERT_EQ(answer.pull().scopes_size(), 1);
    EXPECT_EQ(answer.pull().scopes(0).has_columns(), asked);
    EXPECT_EQ(answer.pull().scopes(0).changes_size(), asked ? 0 : 40);
    EXPECT_EQ(server_->stats().column_pages_sent - before, asked ? 1u : 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, SyncServerColumnsTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace outpost::server_test

// outpost-server's command line: the upstream simulator's flags and its agent list.
#include "apps/outpost-server/server_config.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <vector>

#include "apps/outpost-server/event_inbox.h"
#include "apps/outpost-server/upstream_loop.h"

namespace outpost::server_app {
namespace {

Result<Command> parse(std::vector<std::string> words) {
  std::vector<char*> argv;
  static std::string program = "outpost-server";
  argv.push_back(program.data());
  for (std::string& word : words) argv.push_back(word.data());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

TEST(ServerConfig, UpstreamSimFlags) {
  auto command = parse({"serve", "--data", "d", "--listen", "127.0.0.1:0", "--upstream", "sim",
                        "--sim-seed", "9", "--sim-agents", "acme/a,globex/b", "--sim-step-ms",
                        "250", "--sim-web-edit-delay-ms", "3000"});
  ASSERT_TRUE(command.ok()) << command.status().to_string();
  const auto& serve = std::get<ServeConfig>(*command);
  EXPECT_EQ(serve.upstream, "sim");
  EXPECT_EQ(serve.sim_seed, 9u);
  EXPECT_EQ(serve.sim_step_ms, 250);
  EXPECT_EQ(serve.sim_web_edit_delay_ms, 3000);
  auto agents = parse_agents(serve.sim_agents);
  ASSERT_TRUE(agents.ok());
  ASSERT_EQ(agents->size(), 2u);
  EXPECT_EQ((*agents)[1].tenant, "globex");
  EXPECT_EQ((*agents)[1].user, "b");
  auto plain = parse({"serve", "--data", "d", "--listen", "127.0.0.1:0"});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(std::get<ServeConfig>(*plain).upstream, "");
}

TEST(ServerConfig, BadUpstreamFlagsAreRefusedWithTheReason) {
  auto other = parse({"serve", "--data", "d", "--listen", "127.0.0.1:0", "--upstream", "genesys"});
  EXPECT_EQ(other.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("--upstream"), std::string::npos);
  auto orphan = parse({"serve", "--data", "d", "--listen", "127.0.0.1:0", "--sim-seed", "3"});
  EXPECT_EQ(orphan.status().code(), ErrorCode::kInvalidArgument);
  auto step = parse({"serve", "--data", "d", "--listen", "127.0.0.1:0", "--upstream", "sim",
                     "--sim-step-ms", "1"});
  EXPECT_EQ(step.status().code(), ErrorCode::kInvalidArgument);
  for (const char* bad : {"acme", "/u", "acme/", "a/b/c", "a/b,"}) {
    EXPECT_EQ(parse_agents(bad).status().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(ServerConfig, PushFlagsAndTheEventCommand) {
  auto apns = parse({"serve", "--data", "d", "--listen", "127.0.0.1:0", "--apns-key", "k.p8",
                     "--apns-key-id", "KEY", "--apns-team", "TEAM", "--apns-url",
                     "https://127.0.0.1:9", "--push-ca", "ca.pem"});
  ASSERT_TRUE(apns.ok()) << apns.status().to_string();
  const auto& serve = std::get<ServeConfig>(*apns);
  EXPECT_EQ(serve.apns_key, "k.p8");
  EXPECT_EQ(serve.apns_team, "TEAM");
  EXPECT_EQ(serve.push_ca, "ca.pem");
  auto half = parse({"serve", "--data", "d", "--listen", "127.0.0.1:0", "--apns-key", "k.p8"});
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.status().message().find("--apns-key-id"), std::string::npos);
  auto orphan = parse({"serve", "--data", "d", "--listen", "127.0.0.1:0", "--fcm-url", "u"});
  EXPECT_FALSE(orphan.ok());

  auto event = parse({"event", "--data", "d", R"({"tenant":"acme"})"});
  ASSERT_TRUE(event.ok()) << event.status().to_string();
  EXPECT_EQ(std::get<EventConfig>(*event).json, R"({"tenant":"acme"})");
  EXPECT_FALSE(parse({"event", "--data", "d"}).ok());
}

TEST(EventInbox, OnlyAnEventIsQueued) {
  const std::string dir = ::testing::TempDir() + "/inbox-test-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  EXPECT_EQ(queue_event(dir, "not json").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(queue_event(dir, R"({"tenant":"acme"})").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(queue_event(dir, R"({"tenant":"acme","bogus":1})").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(queue_event(dir, std::string(kMaxInboxFileBytes + 1, ' ')).code(),
            ErrorCode::kTooLarge);
  EXPECT_FALSE(std::filesystem::exists(dir + "/inbox") &&
               !std::filesystem::is_empty(dir + "/inbox"));
  ASSERT_TRUE(
      queue_event(dir, R"({"tenant":"acme","user":"a","voicemailLeft":{"id":"vm-1"}})").ok());
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/inbox")) {
    EXPECT_EQ(entry.path().extension(), ".json");
    ++files;
  }
  EXPECT_EQ(files, 1);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace outpost::server_app

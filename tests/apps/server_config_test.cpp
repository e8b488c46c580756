// outpost-server's command line: the upstream simulator's flags and its agent list, TLS.
#include "apps/outpost-server/server_config.h"

#include <gtest/gtest.h>

#include <vector>

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

TEST(ServerConfig, TlsCertAndKeyGoTogether) {
  auto tls = parse({"serve", "--data", "d", "--listen", "0.0.0.0:443", "--tls-cert", "c.pem",
                    "--tls-key", "k.pem"});
  ASSERT_TRUE(tls.ok()) << tls.status().to_string();
  EXPECT_EQ(std::get<ServeConfig>(*tls).tls_cert, "c.pem");
  EXPECT_EQ(std::get<ServeConfig>(*tls).tls_key, "k.pem");
  auto alone = parse({"serve", "--data", "d", "--listen", "0.0.0.0:443", "--tls-cert", "c.pem"});
  EXPECT_EQ(alone.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(alone.status().message().find("--tls-key"), std::string::npos);
  auto token = parse({"token", "--data", "d", "--tenant", "t", "--user", "u", "--device", "x",
                      "--tls-cert", "c.pem"});
  EXPECT_EQ(token.status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace outpost::server_app

// outpost-server's command line: the upstream simulator's flags and its agent list.
#include "apps/outpost-server/server_config.h"

#include <gtest/gtest.h>

#include <vector>

#include <cstdio>
#include <fstream>
#include <map>

#include "apps/outpost-server/genesys_setup.h"
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
  auto other = parse({"serve", "--data", "d", "--listen", "127.0.0.1:0", "--upstream", "avaya"});
  EXPECT_EQ(other.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("--upstream"), std::string::npos);
  auto bare = parse({"serve", "--data", "d", "--listen", "127.0.0.1:0", "--upstream", "genesys"});
  EXPECT_NE(bare.status().message().find("--genesys-api"), std::string::npos);
  auto orphan = parse({"serve", "--data", "d", "--listen", "127.0.0.1:0", "--sim-seed", "3"});
  EXPECT_EQ(orphan.status().code(), ErrorCode::kInvalidArgument);
  auto step = parse({"serve", "--data", "d", "--listen", "127.0.0.1:0", "--upstream", "sim",
                     "--sim-step-ms", "1"});
  EXPECT_EQ(step.status().code(), ErrorCode::kInvalidArgument);
  for (const char* bad : {"acme", "/u", "acme/", "a/b/c", "a/b,"}) {
    EXPECT_EQ(parse_agents(bad).status().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(ServerConfig, UpstreamGenesysFlags) {
  auto command = parse({"serve", "--data", "d", "--listen", "127.0.0.1:0", "--upstream", "genesys",
                        "--genesys-api", "https://api.mypurecloud.de/", "--genesys-login",
                        "https://login.mypurecloud.de", "--genesys-agents", "acme/u-1,acme/u-2"});
  ASSERT_TRUE(command.ok()) << command.status().to_string();
  const auto& serve = std::get<ServeConfig>(*command);
  EXPECT_EQ(serve.genesys_api, "https://api.mypurecloud.de");
  EXPECT_FALSE(parse({"serve", "--data", "d", "--listen", "127.0.0.1:0", "--upstream", "genesys",
                      "--genesys-login", "https://login.x"})
                   .ok());  // no API base
  EXPECT_FALSE(
      parse({"serve", "--data", "d", "--listen", "127.0.0.1:0", "--genesys-api", "https://api.x"})
          .ok());  // without --upstream genesys
  // There is no flag for a secret: credentials never travel on the command line.
  EXPECT_FALSE(parse({"serve", "--data", "d", "--listen", "127.0.0.1:0", "--upstream", "genesys",
                      "--genesys-api", "https://a", "--genesys-login", "https://l",
                      "--genesys-client-secret", "s3cret"})
                   .ok());
}

TEST(ServerConfig, GenesysCredentialsFromEnvironmentOrFileNeverInMessages) {
  ServeConfig config;
  config.upstream = "genesys";
  config.genesys_api = "https://api.x";
  config.genesys_login = "https://login.x";
  config.genesys_agents = "acme/u-1,acme/u-2";
  std::map<std::string, std::string> env;
  auto getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto none = genesys_options(config, getenv);
  EXPECT_EQ(none.status().code(), ErrorCode::kInvalidArgument);
  env["OUTPOST_GENESYS_CLIENT_ID"] = "id-1";
  env["OUTPOST_GENESYS_CLIENT_SECRET"] = "s3cret-env";
  auto from_env = genesys_options(config, getenv);
  ASSERT_TRUE(from_env.ok()) << from_env.status().to_string();
  EXPECT_EQ(from_env->rest.client_secret, "s3cret-env");
  EXPECT_EQ(from_env->tenant, "acme");
  EXPECT_EQ(from_env->users, (std::vector<std::string>{"u-1", "u-2"}));

  const std::string path = ::testing::TempDir() + "/genesys-credentials.json";
  std::ofstream(path) << R"({"client_id":"id-2","client_secret":"s3cret-file"})";
  config.genesys_credentials = path;
  auto from_file = genesys_options(config, getenv);
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ(from_file->rest.client_secret, "s3cret-file");
  std::ofstream(path) << R"({"client_id":"id-2","client_secret":7})";
  auto bad = genesys_options(config, getenv);
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.status().to_string().find("s3cret"), std::string::npos);
  std::remove(path.c_str());

  config.genesys_credentials.clear();
  config.genesys_agents = "acme/u-1,globex/u-2";
  EXPECT_EQ(genesys_options(config, getenv).status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace outpost::server_app

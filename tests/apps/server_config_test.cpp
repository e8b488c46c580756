// outpost-server's command line: the upstream simulator's flags and its agent list, TLS.
#include "apps/outpost-server/server_config.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "apps/outpost-server/event_inbox.h"
#include "apps/outpost-server/genesys_setup.h"
#include "apps/outpost-server/json_log.h"
#include "apps/outpost-server/upstream_loop.h"

namespace outpost::server_app {
namespace {

Result<Command> parse(std::vector<std::string> words, const Environment& env = {}) {
  std::vector<char*> argv;
  static std::string program = "outpost-server";
  argv.push_back(program.data());
  for (std::string& word : words) argv.push_back(word.data());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(), env);
}

std::string write_file(const std::string& name, const std::string& text) {
  std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path) << text;
  return path;
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

TEST(ServerConfig, MaxConnectionsDefaultsToTheLimitAndIsBounded) {
  auto plain = parse({"serve", "--data", "d", "--listen", "127.0.0.1:0"});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(std::get<ServeConfig>(*plain).max_connections, limits::kMaxConnections);
  auto raised =
      parse({"serve", "--data", "d", "--listen", "127.0.0.1:0", "--max-connections", "50000"});
  ASSERT_TRUE(raised.ok()) << raised.status().to_string();
  EXPECT_EQ(std::get<ServeConfig>(*raised).max_connections, 50000u);
  auto from_env = parse({"serve", "--data", "d", "--listen", "127.0.0.1:0"},
                        Environment{{"OUTPOST_MAX_CONNECTIONS", "20000"}});
  ASSERT_TRUE(from_env.ok()) << from_env.status().to_string();
  EXPECT_EQ(std::get<ServeConfig>(*from_env).max_connections, 20000u);
  for (const char* bad : {"0", "-1", "lots", "1000001"}) {
    auto refused =
        parse({"serve", "--data", "d", "--listen", "127.0.0.1:0", "--max-connections", bad});
    EXPECT_EQ(refused.status().code(), ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(refused.status().message().find("--max-connections"), std::string::npos) << bad;
  }
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

TEST(ServerConfig, GenesysRequestBudgetIsBoundedAndReachesTheRestClient) {
  const std::vector<std::string> base{"serve",           "--data",         "d",
                                      "--listen",        "127.0.0.1:0",    "--upstream",
                                      "genesys",         "--genesys-api",  "https://api.x",
                                      "--genesys-login", "https://login.x"};
  auto with = [&](std::vector<std::string> extra, Environment env = {}) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return parse(args, env);
  };
  auto plain = with({});
  ASSERT_TRUE(plain.ok()) << plain.status().to_string();
  EXPECT_EQ(std::get<ServeConfig>(*plain).genesys_requests_per_minute, 240);
  auto raised = with({"--genesys-requests-per-minute", "900"});
  ASSERT_TRUE(raised.ok()) << raised.status().to_string();
  ServeConfig config = std::get<ServeConfig>(*raised);
  EXPECT_EQ(config.genesys_requests_per_minute, 900);
  auto from_env = with({}, Environment{{"OUTPOST_GENESYS_REQUESTS_PER_MINUTE", "120"}});
  ASSERT_TRUE(from_env.ok()) << from_env.status().to_string();
  EXPECT_EQ(std::get<ServeConfig>(*from_env).genesys_requests_per_minute, 120);
  for (const char* bad : {"0", "5", "6001", "-240", "fast", "240.5"}) {
    auto refused = with({"--genesys-requests-per-minute", bad});
    EXPECT_EQ(refused.status().code(), ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(refused.status().message().find("--genesys-requests-per-minute must be an integer "
                                              "from 6 to 6000"),
              std::string::npos)
        << refused.status().message();
  }
  auto orphan = parse(
      {"serve", "--data", "d", "--listen", "127.0.0.1:0", "--genesys-requests-per-minute", "600"});
  EXPECT_NE(orphan.status().message().find("--upstream genesys"), std::string::npos);
  // The adapter's REST client gets it.
  config.genesys_agents = "acme/u-1";
  auto options = genesys_options(config, [](const char* name) -> const char* {
    return std::string(name) == "OUTPOST_GENESYS_CLIENT_ID"       ? "id"
           : std::string(name) == "OUTPOST_GENESYS_CLIENT_SECRET" ? "secret"
                                                                  : nullptr;
  });
  ASSERT_TRUE(options.ok()) << options.status().to_string();
  EXPECT_EQ(options->rest.requests_per_minute, 900);
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

TEST(ServerConfig, FlagsBeatTheEnvironmentWhichBeatsTheFile) {
  std::string file = write_file("outpost-config-test.conf",
                                "# outpost-server settings\n"
                                "data = /var/lib/outpost\n"
                                "listen = 0.0.0.0:7420\n"
                                "threads = 4\n"
                                "admin-listen = \"127.0.0.1:7421\"\n"
                                "drain-ms = 5000\n");
  auto command = parse({"serve", "--config", file, "--threads", "8"},
                       {{"OUTPOST_LISTEN", "127.0.0.1:9000"}, {"OUTPOST_UNRELATED", "x"}});
  ASSERT_TRUE(command.ok()) << command.status().to_string();
  const auto& serve = std::get<ServeConfig>(*command);
  EXPECT_EQ(serve.data_dir, "/var/lib/outpost");  // the file
  EXPECT_EQ(serve.port, 9000);                    // the environment beats the file
  EXPECT_EQ(serve.threads, 8);                    // the flag beats the file
  EXPECT_EQ(serve.admin_port, 7421);
  EXPECT_EQ(serve.drain_ms, 5000);
  EXPECT_EQ(serve.log_format, "json");
  // The file may come from OUTPOST_CONFIG too.
  auto from_env = parse({"serve"}, {{"OUTPOST_CONFIG", file}});
  ASSERT_TRUE(from_env.ok()) << from_env.status().to_string();
  EXPECT_EQ(std::get<ServeConfig>(*from_env).threads, 4);
}

TEST(ServerConfig, BadSettingsNameTheirSource) {
  std::string file = write_file("outpost-config-bad.conf",
                                "data = d\nlisten = 127.0.0.1:0\n"
                                "threads = many\n");
  auto bad_value = parse({"serve", "--config", file});
  ASSERT_FALSE(bad_value.ok());
  EXPECT_NE(bad_value.status().message().find("--threads must be an integer"), std::string::npos);
  EXPECT_NE(bad_value.status().message().find(file + " line 3"), std::string::npos)
      << bad_value.status().message();

  auto bad_env = parse({"serve", "--data", "d", "--listen", "127.0.0.1:0"},
                       {{"OUTPOST_ADMIN_LISTEN", "localhost"}});
  ASSERT_FALSE(bad_env.ok());
  EXPECT_NE(bad_env.status().message().find("environment OUTPOST_ADMIN_LISTEN"), std::string::npos)
      << bad_env.status().message();

  std::string typo = write_file("outpost-config-typo.conf", "data = d\nlisen = 1\n");
  auto unknown = parse({"serve", "--config", typo});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("line 2: 'lisen' is not a setting"), std::string::npos)
      << unknown.status().message();
  auto missing = parse({"serve", "--config", "/nonexistent/outpost.conf"});
  EXPECT_NE(missing.status().message().find("cannot read the config file"), std::string::npos);
  std::string garbage = write_file("outpost-config-garbage.conf", "just words\n");
  EXPECT_NE(
      parse({"serve", "--config", garbage}).status().message().find("expected 'name = value'"),
      std::string::npos);
}

TEST(ServerConfig, AdminTokenAndFormatsAreChecked) {
  std::vector<std::string> base = {"serve", "--data", "d", "--listen", "127.0.0.1:0"};
  auto with = [&](std::vector<std::string> more, const Environment& env = {}) {
    std::vector<std::string> words = base;
    words.insert(words.end(), more.begin(), more.end());
    return parse(words, env);
  };
  auto token = with({}, {{"OUTPOST_ADMIN_TOKEN", "0123456789abcdef0123\n"}});
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(std::get<ServeConfig>(*token).admin_token, "0123456789abcdef0123");
  EXPECT_FALSE(with({}, {{"OUTPOST_ADMIN_TOKEN", "short"}}).ok());
  std::string file = write_file("outpost-admin-token", "fedcba9876543210fedcba\n");
  auto from_file = with({"--admin-token-file", file});
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ(std::get<ServeConfig>(*from_file).admin_token, "fedcba9876543210fedcba");
  EXPECT_NE(with({"--log-format", "xml"}).status().message().find("--log-format"),
            std::string::npos);
  EXPECT_FALSE(with({"--drain-ms", "-1"}).ok());
  EXPECT_NE(with({"--admin-listen", "nope"}).status().message().find("--admin-listen"),
            std::string::npos);
}

TEST(ServerLog, LinesAreJsonObjectsWithEscapedFields) {
  std::ostringstream sink;
  Logger json(sink, true);
  std::string line = json.format(LogLevel::kWarn, "bad \"input\"\n",
                                 {{"request_id", "r1f"}, {"device", "phone"}}, 1796588984026);
  EXPECT_EQ(line,
            "{\"ts\":\"2026-12-06T20:29:44.026Z\",\"level\":\"warn\",\"msg\":\"bad "
            "\\\"input\\\"\\n\",\"request_id\":\"r1f\",\"device\":\"phone\"}");
  Logger text(sink, false);
  EXPECT_EQ(text.format(LogLevel::kInfo, "serving", {{"listen", "127.0.0.1:1"}}, 0),
            "1970-01-01T00:00:00.000Z info serving listen=127.0.0.1:1");
  json.info("one line", {{"tenant", "acme"}});
  EXPECT_EQ(sink.str().back(), '\n');
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

// outpost-bench --quick end to end (it starts the real outpost-server): it must finish,
// and every line it prints must be one well-formed JSON figure with the required keys,
// covering every scenario. Timings are never asserted.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "support/process.h"
#include "tests/support/pg_test.h"

namespace outpost {
namespace {

using support::run_command;
namespace pb = google::protobuf;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

class OutpostBench : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path().string() + "/outpost-bench-test-" +
           std::to_string(getpid());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs outpost-bench with `args` (after `prefix`, a command it runs under); stdout in
  // *out, stderr in *err.
  int bench(const std::string& args, std::string* out, std::string* err,
            const std::string& prefix = "") {
    const std::string err_path = dir_ + "/stderr";
    const int code = run_command(
        {"/bin/sh", "-c", "exec " + prefix + OUTPOST_BENCH_BIN + " " + args + " 2>" + err_path},
        out, std::chrono::seconds(240));
    *err = read_file(err_path);
    return code;
  }

  std::string dir_;
};

TEST(OutpostBenchOutput, ProtobufJsonParserRejectsMalformedLines) {
  // The validator below is protobuf's JSON parser into a Struct: make sure it is strict.
  pb::Struct parsed;
  EXPECT_TRUE(pb::util::JsonStringToMessage(R"({"a": 1, "b": {"c": "d"}})", &parsed).ok());
  EXPECT_FALSE(pb::util::JsonStringToMessage(R"({"a": 1,)", &parsed).ok());
  EXPECT_FALSE(pb::util::JsonStringToMessage(R"({"a": nan})", &parsed).ok());
  EXPECT_FALSE(pb::util::JsonStringToMessage("scenario value", &parsed).ok());
}

TEST_F(OutpostBench, QuickRunPrintsOneWellFormedFigurePerLine) {
  std::string out, err;
  ASSERT_EQ(bench("--quick --work-dir " + dir_ + "/work", &out, &err), 0) << err;
  const std::vector<std::string> lines = lines_of(out);
  ASSERT_FALSE(lines.empty()) << err;
  std::set<std::string> scenarios;
  for (const std::string& line : lines) {
    pb::Struct figure;
    ASSERT_TRUE(pb::util::JsonStringToMessage(line, &figure).ok()) << line;
    const auto& fields = figure.fields();
    for (const char* key : {"scenario", "unit"}) {
      ASSERT_TRUE(fields.count(key) && fields.at(key).has_string_value()) << key << ": " << line;
    }
    for (const char* key : {"value", "baseline", "ratio"}) {
      ASSERT_TRUE(fields.count(key) && fields.at(key).kind_case() == pb::Value::kNumberValue)
          << key << ": " << line;
      EXPECT_GE(fields.at(key).number_value(), 0) << key << ": " << line;
    }
    ASSERT_TRUE(fields.count("params") && fields.at("params").has_struct_value()) << line;
    EXPECT_EQ(fields.size(), 6u) << line;
    scenarios.insert(fields.at("scenario").string_value());
  }
  for (const char* expected : {"initial_sync",
                               "initial_sync.vs_typed",
                               "initial_sync.critical_slice",
                               "initial_sync.device_cpu",
                               "initial_sync.wire",
                               "initial_sync.device_rss",
                               "catch_up.time",
                               "catch_up.wire",
                               "ui_reads.point_get",
                               "ui_reads.todays_journal",
                               "ui_reads.contact_search",
                               "ui_reads.canned_search",
                               "draft_save",
                               "fanout",
                               "fanout.server_rss",
                               "fanout.server_cpu",
                               "idle_connections",
                               "idle_connections.server_rss",
                               "idle_connections.kib_per_connection",
                               "idle_connections.kib_per_connection_after_ping",
                               "idle_connections.poke",
                               "idle_connections.carried",
                               "idle_connections.message_format.carried",
                               "idle_connections.message_format.kib_per_connection_after_ping",
                               "fanout.stream_format",
                               "fanout.idle_device_cpu",
                               "wire_encoding.demo.pages.columns",
                               "wire_encoding.interaction.pages.columns",
                               "wire_encoding.interaction.single.dictionary",
                               "admin.metrics_scrape",
                               "admin.device_page",
                               "device_reports.push_pull",
                               "tls_sync.wss",
                               "tls_sync.server_cpu"}) {
    EXPECT_TRUE(scenarios.count(expected)) << "missing scenario " << expected;
  }
  // The work directory given is kept; its servers were stopped gracefully (exit 0 above
  // includes their clean stop).
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/work/server/token.key"));
}

// The push scenario against the fake APNs (the script is the tests', passed by path).
TEST_F(OutpostBench, QuickPushScenarioPrintsItsFiguresBesideTheirBaselines) {
  std::string out, err;
  ASSERT_EQ(bench(std::string("--quick --scenario push --push-fake ") + OUTPOST_FAKE_PUSH_SCRIPT,
                  &out, &err),
            0)
      << err;
  std::set<std::string> scenarios;
  for (const std::string& line : lines_of(out)) {
    pb::Struct figure;
    ASSERT_TRUE(pb::util::JsonStringToMessage(line, &figure).ok()) << line;
    const auto& fields = figure.fields();
    scenarios.insert(fields.at("scenario").string_value());
    EXPECT_GT(fields.at("value").number_value(), 0) << line;
    EXPECT_GT(fields.at("baseline").number_value(), 0) << line;
  }
  EXPECT_EQ(scenarios, (std::set<std::string>{"push.commit_to_request", "push.wake_to_voicemail"}))
      << out << err;
}

// Decision 052: past one process's descriptor limit, with several servers on PostgreSQL,
// the idle clients live in worker processes of the bench. Here the limit is lowered to 700
// descriptors (room for 400 connections a process), so 600 connections over 2 servers
// need 2 client processes; every one is opened, held and answers its ping.
TEST_F(OutpostBench, IdleConnectionsPastOneProcesssLimitRunInClientProcesses) {
  pg_test::TestDatabase db;
  std::string out, err;
  ASSERT_EQ(bench("--quick --scenario idle_connections --idle 600 --servers 2 --store " + db.url(),
                  &out, &err, "prlimit --nofile=700:700 "),
            0)
      << err;
  std::map<std::string, pb::Struct> figures;
  for (const std::string& line : lines_of(out)) {
    pb::Struct figure;
    ASSERT_TRUE(pb::util::JsonStringToMessage(line, &figure).ok()) << line;
    figures[figure.fields().at("scenario").string_value()] = figure;
  }
  ASSERT_TRUE(figures.count("idle_connections")) << out << err;
  const auto& held = figures["idle_connections"].fields();
  EXPECT_EQ(held.at("value").number_value(), 600) << out;
  EXPECT_EQ(held.at("params").struct_value().fields().at("client_processes").number_value(), 2);
  EXPECT_EQ(held.at("params").struct_value().fields().at("failed").number_value(), 0);
  ASSERT_TRUE(figures.count("idle_connections.kib_per_connection_after_ping")) << out;
  const auto& pinged = figures["idle_connections.kib_per_connection_after_ping"].fields();
  EXPECT_EQ(pinged.at("params").struct_value().fields().at("ponged").number_value(), 600);
  EXPECT_GT(figures["idle_connections.server_rss"].fields().at("value").number_value(), 0);
}

TEST_F(OutpostBench, RefusesSeveralServersOnTheEmbeddedStore) {
  std::string out, err;
  EXPECT_EQ(bench("--servers 2", &out, &err), 2);
  EXPECT_NE(err.find("--servers 2 needs a store the servers can share"), std::string::npos) << err;
  EXPECT_TRUE(out.empty()) << out;
}

TEST_F(OutpostBench, RefusesBadArguments) {
  std::string out, err;
  EXPECT_EQ(bench("--scenario everything", &out, &err), 2);
  EXPECT_NE(err.find("unknown scenario 'everything'"), std::string::npos) << err;
  EXPECT_EQ(bench("--records 10", &out, &err), 2);
  EXPECT_NE(err.find("--records must be an integer from 100"), std::string::npos) << err;
  EXPECT_EQ(bench("--devices 5000", &out, &err), 2);
  EXPECT_TRUE(out.empty()) << out;
}

}  // namespace
}  // namespace outpost

#include "apps/outpost-bench/ops_scenarios.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <filesystem>

#include "outpost/mutations.pb.h"
#include "support/bench_report.h"
#include "support/process.h"
#include "transport/sync_agent.h"

namespace outpost::bench {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

// One GET on loopback; the body, or an error.
Result<std::string> get(uint16_t port, const std::string& target) {
  try {
    net::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    http::request<http::empty_body> request{http::verb::get, target, 11};
    request.set(http::field::host, "127.0.0.1");
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(stream, buffer, parser);
    if (parser.get().result_int() != 200) {
      return error(ErrorCode::kUnavailable,
                   target + ": HTTP " + std::to_string(parser.get().result_int()));
    }
    return parser.release().body();
  } catch (const std::exception& e) {
    return error(ErrorCode::kUnavailable, target + ": " + e.what());
  }
}

}  // namespace

Result<uint64_t> transport_event(BenchContext& context, const std::string& event) {
  OUTPOST_ASSIGN_OR_RETURN(std::string body,
                           get(context.servers.front()->admin_port(), "/metrics"));
  const std::string key = "outpost_transport_events_total{event=\"" + event + "\"} ";
  const size_t at = body.find(key);
  if (at == std::string::npos) return error(ErrorCode::kNotFound, "no metric for " + event);
  return static_cast<uint64_t>(std::stod(body.substr(at + key.size())));
}

namespace {

// p50 milliseconds and the size of `scrapes` GETs of `target`.
Status time_gets(BenchContext& context, const std::string& scenario, const std::string& target,
                 int scrapes, int connections) {
  const uint16_t port = context.servers.front()->admin_port();
  std::vector<double> ms;
  size_t bytes = 0;
  for (int i = 0; i < scrapes; ++i) {
    auto start = Clock::now();
    OUTPOST_ASSIGN_OR_RETURN(std::string body, get(port, target));
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    bytes = body.size();
  }
  std::vector<Param> params = context.common_params();
  params.push_back(param("connections", connections));
  params.push_back(param("scrapes", scrapes));
  params.push_back(param("bytes", static_cast<uint64_t>(bytes)));
  for (const auto& [name, p] : {std::pair{"p50", 0.50}, {"p99", 0.99}}) {
    std::vector<Param> with_stat = params;
    with_stat.push_back(param("stat", name));
    context.report.add({scenario, percentile(ms, p), "ms", 0, 0, std::move(with_stat)});
  }
  return Status::Ok();
}

// scripts/console-paint prints the page's first paint in milliseconds (from navigation to
// the first rows on screen), or fails when chromium is missing.
void measure_paint(BenchContext& context, int connections) {
  const std::string script = std::string(OUTPOST_SOURCE_DIR) + "/scripts/console-paint";
  if (!std::filesystem::exists("/usr/bin/chromium")) return;
  std::string out;
  const std::string url =
      "http://127.0.0.1:" + std::to_string(context.servers.front()->admin_port()) + "/";
  if (support::run_command({"/usr/bin/python3", script, url}, &out, std::chrono::seconds(120)) !=
      0) {
    return;
  }
  std::vector<Param> params = context.common_params();
  params.push_back(param("connections", connections));
  context.report.add({"console.first_paint", std::stod(out), "ms", 0, 0, params});
}

}  // namespace

Status measure_admin(BenchContext& context, int connections, int scrapes, bool paint) {
  OUTPOST_RETURN_IF_ERROR(
      time_gets(context, "admin.metrics_scrape", "/metrics", scrapes, connections));
  OUTPOST_RETURN_IF_ERROR(
      time_gets(context, "admin.device_page", "/api/devices?limit=100", scrapes, connections));
  if (paint) measure_paint(context, connections);
  return Status::Ok();
}

Status run_device_reports(BenchContext& context, int rounds) {
  OUTPOST_RETURN_IF_ERROR(context.start_servers());
  std::vector<std::unique_ptr<SyncAgent>> agents;
  for (bool reports : {true, false}) {
    SyncAgentOptions options;
    options.server_url = context.server_url(0);
    OUTPOST_ASSIGN_OR_RETURN(options.token,
                             context.tokens->issue(kReportTenant, "agent-1",
                                                   reports ? "with-reports" : "without-reports"));
    options.replica_path = context.scenario_dir(reports ? "reports_on" : "reports_off") + "/d.db";
    options.client.send_reports = reports;
    options.client.app_version = "outpost-bench/1";
    OUTPOST_ASSIGN_OR_RETURN(auto agent, SyncAgent::open(options));
    SyncSummary first = agent->sync_for(std::chrono::seconds(60));
    OUTPOST_RETURN_IF_ERROR(first.status);
    agents.push_back(std::move(agent));
  }
  std::vector<double> ms[2];
  for (int round = 0; round < rounds; ++round) {
    for (int which = 0; which < 2; ++which) {
      SyncAgent& agent = *agents[static_cast<size_t>((round + which) % 2)];
      const int index = (round + which) % 2;
      auto start = Clock::now();
      OUTPOST_RETURN_IF_ERROR(agent.with_replica([round, index](Replica& replica) {
        mutations::SaveDraft args;
        args.mutable_draft()->set_id("draft-report-" + std::to_string(index));
        args.mutable_draft()->set_body("round " + std::to_string(round));
        (void)replica.mutate("save_draft", args, round + 1);
      }));
      SyncSummary summary = agent.sync_for(std::chrono::seconds(30));
      OUTPOST_RETURN_IF_ERROR(summary.status);
      ms[index].push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
  }
  for (int index = 0; index < 2; ++index) {
    std::vector<Param> params = context.common_params();
    params.push_back(param("rounds", rounds));
    params.push_back(param("reports", index == 0 ? "on" : "off"));
    for (const auto& [name, p] : {std::pair{"p50", 0.50}, {"p99", 0.99}}) {
      std::vector<Param> with_stat = params;
      with_stat.push_back(param("stat", name));
      double baseline = percentile(ms[1], p);
      double value = percentile(ms[index], p);
      context.report.add({"device_reports.push_pull", value, "ms", index == 0 ? baseline : 0,
                          index == 0 && baseline > 0 ? value / baseline : 0, std::move(with_stat)});
    }
  }
  return Status::Ok();
}

}  // namespace outpost::bench

#include "apps/outpost-bench/genesys_mirror.h"

#include <curl/curl.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <sstream>
#include <thread>

#include "adapters/genesys/genesys_upstream.h"
#include "support/process.h"

namespace outpost::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kMirrorBound = std::chrono::minutes(5);
constexpr double kBudgetPerMinute = 240;  // RestOptions' default

size_t keep(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

boost::json::value control(const std::string& api, const std::string& path,
                           const std::string& json = "{}") {
  std::string out;
  CURL* easy = curl_easy_init();
  const std::string url = api + "/fake/" + path;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, json.c_str());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, keep);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &out);
  curl_easy_perform(easy);
  curl_easy_cleanup(easy);
  boost::system::error_code ec;
  auto v = boost::json::parse(out, ec);
  return ec ? boost::json::value() : v;
}

struct Fake {
  std::unique_ptr<support::Process> process;
  std::string api, client_id, client_secret;
};

Result<Fake> start_fake(BenchContext& context, const std::string& dir, int agents, int contacts) {
  std::string users;
  for (int i = 1; i <= agents; ++i) users += (i > 1 ? "," : "") + ("agent-" + std::to_string(i));
  Fake fake;
  fake.process = std::make_unique<support::Process>(
      std::vector<std::string>{"/usr/bin/python3", context.options.genesys_fake, "--users", users,
                               "--contacts", std::to_string(contacts)},
      dir + "/fake.log");
  if (!fake.process->wait_for_output("\"ready\"", std::chrono::seconds(60))) {
    return error(ErrorCode::kUnavailable, "the fake Genesys did not start");
  }
  std::istringstream lines(fake.process->output());
  for (std::string line; std::getline(lines, line);) {
    boost::system::error_code ec;
    auto ready = boost::json::parse(line, ec);
    if (ec || !ready.is_object() || !ready.as_object().if_contains("api")) continue;
    fake.api = std::string(ready.at("api").as_string());
    fake.client_id = std::string(ready.at("client_id").as_string());
    fake.client_secret = std::string(ready.at("client_secret").as_string());
  }
  // A bench org: the fake's own rate limit must not be what is measured.
  control(fake.api, "config", R"({"rate_allowed": 1000000, "max_page_size": 100})");
  return fake;
}

genesys::GenesysOptions options_for(const Fake& fake, int agents, double per_minute) {
  genesys::GenesysOptions o;
  o.rest.api_base = fake.api;
  o.rest.login_base = fake.api;
  o.rest.client_id = fake.client_id;
  o.rest.client_secret = fake.client_secret;
  o.rest.requests_per_minute = per_minute;
  o.tenant = "acme";
  for (int i = 1; i <= agents; ++i) o.users.push_back("agent-" + std::to_string(i));
  return o;
}

// Seconds until the first full mirror; the events are drained as a server would.
Result<double> time_mirror(const Fake& fake, int agents, double per_minute) {
  genesys::GenesysUpstream upstream(options_for(fake, agents, per_minute));
  const auto start = Clock::now();
  upstream.start();
  bool done = false;
  while (!done && Clock::now() - start < kMirrorBound) {
    done = upstream.wait_mirrored(std::chrono::milliseconds(200));
    (void)upstream.poll(0);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  upstream.stop();
  if (!done) return error(ErrorCode::kUnavailable, "the mirror did not finish in 5 minutes");
  return seconds;
}

}  // namespace

Status run_genesys_mirror(BenchContext& context, int contacts, int agents) {
  const std::string dir = context.scenario_dir("genesys_mirror");
  OUTPOST_ASSIGN_OR_RETURN(Fake fake, start_fake(context, dir, agents, contacts));

  // (1) The initial mirror: the default budget beside an unbounded one.
  OUTPOST_ASSIGN_OR_RETURN(double unbounded, time_mirror(fake, 1, 1e9));
  OUTPOST_ASSIGN_OR_RETURN(double budgeted, time_mirror(fake, 1, kBudgetPerMinute));
  auto params = context.common_params();
  params.push_back(param("contacts", contacts));
  params.push_back(param("budget_per_minute", kBudgetPerMinute));
  context.report.add(
      {"genesys_initial_mirror", budgeted, "s", unbounded, ratio_of(budgeted, unbounded), params});

  // (2) Steady state: no contacts (their scan is the org's), short reconcile intervals.
  control(fake.api, "contacts", R"({"count": 200})");
  auto o = options_for(fake, agents, 1e9);
  const auto agent_every = std::chrono::seconds(2), org_every = std::chrono::seconds(5);
  o.agent_reconcile_every = agent_every;
  o.org_reconcile_every = org_every;
  genesys::GenesysUpstream upstream(std::move(o));
  upstream.start();
  if (!upstream.wait_mirrored(std::chrono::seconds(60))) {
    upstream.stop();
    return error(ErrorCode::kUnavailable, "the steady-state mirror did not start");
  }
  const auto before = upstream.counters();
  control(fake.api, "clear");
  const auto window_start = Clock::now();
  while (Clock::now() - window_start < std::chrono::seconds(12)) {
    (void)upstream.poll(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto after = upstream.counters();
  auto requests = control(fake.api, "requests");
  upstream.stop();
  uint64_t agent_requests = 0, org_requests = 0;
  if (requests.is_array()) {
    for (const auto& r : requests.as_array()) {
      const std::string path(r.at("path").as_string());
      const bool org = path.find("/presence/definitions") != std::string::npos ||
                       path.find("/routing/wrapupcodes") != std::string::npos ||
                       path.find("/responsemanagement/") != std::string::npos ||
                       path.find("/externalcontacts/") != std::string::npos;
      (org ? org_requests : agent_requests) += 1;
    }
  }
  const uint64_t agent_rounds = after.agent_reconciles - before.agent_reconciles;
  const uint64_t org_rounds = after.org_reconciles - before.org_reconciles;
  if (agent_rounds == 0 || org_rounds == 0) {
    return error(ErrorCode::kUnavailable, "no reconcile in the steady-state window");
  }
  const double per_agent_reconcile = static_cast<double>(agent_requests) / agent_rounds;
  const double per_org_reconcile = static_cast<double>(org_requests) / org_rounds;
  // Default intervals: each agent every 15 min (4 an hour), the org every hour.
  const double per_agent_hour = 4 * per_agent_reconcile + per_org_reconcile / agents;
  const double budget_hour = kBudgetPerMinute * 60;
  auto steady = context.common_params();
  steady.push_back(param("agents", agents));
  steady.push_back(param("per_agent_reconcile", per_agent_reconcile));
  steady.push_back(param("per_org_reconcile", per_org_reconcile));
  const auto by_budget =
      static_cast<uint64_t>((budget_hour - per_org_reconcile) / (4 * per_agent_reconcile));
  // Live notifications: 20 channels per client, 250 agents' 1000 topics each (decision 037).
  const uint64_t by_channels = 20 * 250;
  steady.push_back(param("max_agents_within_budget", by_budget));
  steady.push_back(param("max_agents_by_channels", by_channels));
  steady.push_back(param("largest_org_agents", std::min(by_budget, by_channels)));
  // A dropped channel reconciles its agents: the requests that costs for a full channel.
  steady.push_back(
      param("requests_per_full_channel_gap", static_cast<uint64_t>(250 * per_agent_reconcile)));
  // The baseline: the budget's share per agent were the org that size.
  const double share = budget_hour / agents;
  context.report.add({"genesys_requests_per_agent_hour", per_agent_hour, "requests", share,
                      ratio_of(per_agent_hour, share), steady});
  return Status::Ok();
}

}  // namespace outpost::bench

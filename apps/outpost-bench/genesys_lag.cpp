#include "apps/outpost-bench/genesys_lag.h"

#include <curl/curl.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <mutex>
#include <sstream>
#include <thread>

#include "outpost/mutations.pb.h"
#include "support/process.h"
#include "transport/sync_agent.h"

namespace outpost::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kAgent = "agent-1";
constexpr auto kRoundTimeout = std::chrono::seconds(20);
constexpr auto kPause = std::chrono::milliseconds(150);

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
      .count();
}

size_t discard(char*, size_t size, size_t count, void*) {
  return size * count;
}

Status post(const std::string& url, const std::string& json) {
  CURL* easy = curl_easy_init();
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, json.c_str());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
  CURLcode code = curl_easy_perform(easy);
  curl_easy_cleanup(easy);
  if (code != CURLE_OK) return error(ErrorCode::kUnavailable, curl_easy_strerror(code));
  return Status::Ok();
}

// Waits until `counter` reaches `want`; false after the bound.
bool wait_for(const std::atomic<int>& counter, int want) {
  const auto until = Clock::now() + kRoundTimeout;
  while (counter.load() < want && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return counter.load() >= want;
}

}  // namespace

Status run_genesys_lag(BenchContext& context, int rounds) {
  OUTPOST_RETURN_IF_ERROR(context.stop_servers());
  const std::string dir = context.scenario_dir("genesys_lag");
  support::Process fake({"/usr/bin/python3", context.options.genesys_fake, "--users", kAgent,
                         "--contacts", "20", "--credentials", dir + "/credentials.json"},
                        dir + "/fake.log");
  if (!fake.wait_for_output("\"ready\"", std::chrono::seconds(30))) {
    return error(ErrorCode::kUnavailable, "the fake Genesys did not start: " + fake.output());
  }
  std::string api;
  {
    std::istringstream lines(fake.output());
    for (std::string line; std::getline(lines, line);) {
      boost::system::error_code ec;
      auto ready = boost::json::parse(line, ec);
      if (!ec && ready.is_object() && ready.as_object().if_contains("api")) {
        api = std::string(ready.at("api").as_string());
      }
    }
  }
  ServerSetup setup = context.setup;
  setup.extra_args = {"--upstream",
                      "genesys",
                      "--genesys-api",
                      api,
                      "--genesys-login",
                      api,
                      "--genesys-agents",
                      std::string("acme/") + kAgent,
                      "--genesys-credentials",
                      dir + "/credentials.json",
                      "--genesys-step-ms",
                      "20"};
  OUTPOST_ASSIGN_OR_RETURN(auto server, ServerProcess::start(setup, 90));

  std::atomic<int> round_now{0}, seen_event{0}, seen_draft{0};
  std::atomic<int64_t> started_us{0};
  std::mutex mutex;
  std::vector<double> event_ms, draft_ms;
  auto open_agent = [&](const std::string& device) -> Result<std::unique_ptr<SyncAgent>> {
    SyncAgentOptions options;
    options.server_url = server->url();
    OUTPOST_ASSIGN_OR_RETURN(options.token, context.tokens->issue("acme", kAgent, device));
    options.replica_path = dir + "/" + device + ".db";
    return SyncAgent::open(std::move(options));
  };
  OUTPOST_ASSIGN_OR_RETURN(auto device, open_agent("phone"));
  OUTPOST_ASSIGN_OR_RETURN(auto writer, open_agent("writer"));
  device->subscribe([&](const ChangeSet& changes) {
    const int round = round_now.load();
    const double ms = static_cast<double>(now_us() - started_us.load()) / 1000.0;
    const std::string id = "lag-" + std::to_string(round);
    if (auto it = changes.keys.find("interaction");
        it != changes.keys.end() && it->second.count(id)) {
      std::lock_guard lock(mutex);
      event_ms.push_back(ms);
      ++seen_event;
    }
    if (auto it = changes.keys.find("draft"); it != changes.keys.end() && it->second.count(id)) {
      std::lock_guard lock(mutex);
      draft_ms.push_back(ms);
      ++seen_draft;
    }
  });
  OUTPOST_RETURN_IF_ERROR(device->start());
  OUTPOST_RETURN_IF_ERROR(writer->start());
  std::this_thread::sleep_for(std::chrono::seconds(2));  // both connected, mirror applied

  Status failed = Status::Ok();
  for (int round = 1; round <= rounds && failed.ok(); ++round) {
    const std::string id = "lag-" + std::to_string(round);
    round_now = round;
    started_us = now_us();
    failed = post(api + "/fake/route", R"({"user":")" + std::string(kAgent) +
                                           R"(","media":"voice","id":")" + id + "\"}");
    if (failed.ok()) (void)wait_for(seen_event, round);
    std::this_thread::sleep_for(kPause);
    started_us = now_us();
    failed = writer->post([id](Replica& replica) {
      mutations::SaveDraft args;
      args.mutable_draft()->set_id(id);
      args.mutable_draft()->set_body("baseline " + id);
      (void)replica.mutate("save_draft", args, 0);
    });
    if (failed.ok()) (void)wait_for(seen_draft, round);
    std::this_thread::sleep_for(kPause);
  }
  writer->stop();
  device->stop();
  OUTPOST_RETURN_IF_ERROR(server->stop());
  OUTPOST_RETURN_IF_ERROR(failed);

  std::lock_guard lock(mutex);
  auto params = context.common_params();
  params.push_back(param("rounds", rounds));
  params.push_back(param("delivered", static_cast<uint64_t>(event_ms.size())));
  for (const auto& [name, p] : {std::pair{"p50", 0.50}, {"p99", 0.99}}) {
    const double value = percentile(event_ms, p);
    const double baseline = percentile(draft_ms, p);
    auto figure = params;
    figure.push_back(param("stat", name));
    context.report.add({"genesys_lag", value, "ms", baseline, ratio_of(value, baseline), figure});
  }
  return Status::Ok();
}

}  // namespace outpost::bench

#include "apps/outpost-bench/push_scenarios.h"

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "adapters/push/http2_client.h"
#include "adapters/push/push_service.h"
#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/server_core.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "support/process.h"
#include "transport/http_util.h"
#include "transport/sync_agent.h"

namespace outpost::bench {
namespace {

namespace d = outpost::domain;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kUser = "agent-1";
constexpr auto kRoundTimeout = std::chrono::seconds(60);
constexpr int kPendingChanges = 1'000;

double wall_ms_now() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The fake APNs (tests/adapters/push/fake_push_service.py, given by --push-fake) and its
// control port.
class FakeApns {
 public:
  static Result<std::unique_ptr<FakeApns>> start(const std::string& script,
                                                 const std::string& dir) {
    auto fake = std::unique_ptr<FakeApns>(new FakeApns());
    std::error_code ec;
    fs::create_directories(dir, ec);
    fake->process_ = std::make_unique<support::Process>(
        std::vector<std::string>{"/usr/bin/python3", script, "apns", dir + "/files"},
        dir + "/fake.log");
    if (!fake->process_->wait_for_output("\"ready\"", std::chrono::seconds(60))) {
      return error(ErrorCode::kUnavailable,
                   "the fake APNs did not start: " + fake->process_->output());
    }
    std::istringstream lines(fake->process_->output());
    std::string line;
    while (std::getline(lines, line)) {
      if (line.find("\"ready\"") == std::string::npos) continue;
      boost::system::error_code ec;
      auto v = boost::json::parse(line, ec);
      if (!ec && v.is_object()) fake->ready_ = v.as_object();
      break;
    }
    OUTPOST_ASSIGN_OR_RETURN(fake->http_, push::Http2Client::create(push::Http2Options{}));
    fake->control_ = "http://127.0.0.1:" + fake->get("control_port");
    OUTPOST_RETURN_IF_ERROR(
        fake->call("POST", "/config", R"({"enforce_refresh_interval": false})").status());
    return fake;
  }

  std::string get(const char* key) const {
    auto it = ready_.find(key);
    if (it == ready_.end()) return {};
    if (it->value().is_string()) return std::string(it->value().as_string());
    return boost::json::serialize(it->value());
  }
  Status clear() { return call("POST", "/clear", "{}").status(); }
  // (device token, arrival unix ms) of the requests received so far.
  Result<std::vector<std::pair<std::string, double>>> arrivals() {
    OUTPOST_ASSIGN_OR_RETURN(std::string body, call("GET", "/received", ""));
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    if (ec || !v.is_array()) return error(ErrorCode::kInternal, "fake: bad /received");
    std::vector<std::pair<std::string, double>> times;
    for (const auto& r : v.as_array()) {
      std::string path(r.at("path").as_string());
      times.emplace_back(path.substr(path.rfind('/') + 1),
                         r.at("time").to_number<double>() * 1000.0);
    }
    return times;
  }

 private:
  Result<std::string> call(const std::string& method, const std::string& path,
                           const std::string& body) {
    push::HttpRequest request;
    request.method = method;
    request.url = control_ + path;
    request.body = body;
    auto responses = http_->perform({request});
    if (responses.empty() || responses[0].status != 200) {
      return error(ErrorCode::kUnavailable, "fake control " + path + " failed");
    }
    return responses[0].body;
  }

  std::unique_ptr<support::Process> process_;
  boost::json::object ready_;
  std::unique_ptr<push::Http2Client> http_;
  std::string control_;
};

std::string sleeper(int i) {
  return "sleeper-" + std::to_string(i);
}

// One sleeping phone (a push target, no stream) for each of `users` users, and the org's
// push settings, written into the embedded store before the server starts (as that many
// logins would have).
Status seed_push(const std::string& data_dir, int users) {
  OUTPOST_ASSIGN_OR_RETURN(auto store, SqliteServerStore::open(data_dir + "/outpost.db"));
  ServerCore core(*store, Schema::domain(), domain_mutators());
  for (int i = 0; i < users; ++i) {
    OUTPOST_RETURN_IF_ERROR(core.write_as(Principal{kPushTenant, sleeper(i), ""}, 0,
                                          [&](MutationContext& ctx) -> Status {
                                            d::PushTarget target;
                                            target.set_device_id("phone");
                                            target.set_platform(d::PUSH_APNS);
                                            char token[65];
                                            snprintf(token, sizeof(token), "%064x", i + 1);
                                            target.set_token(token);
                                            target.set_app_id("com.example.outpost");
                                            return ctx.put(target);
                                          }));
  }
  // Measure the pipeline, not the policy: no coalescing window, no hourly budget, no
  // inactivity pushes during the run.
  return core.write_as(Principal{kPushTenant, kUser, ""}, 0, [&](MutationContext& ctx) -> Status {
    for (const auto& [name, value] : {std::pair{push::kSettingCoalesceMs, "0"},
                                      {push::kSettingMaxWakesPerHour, "1000000"},
                                      {push::kSettingSilentAfterMs, "86400000"},
                                      {push::kSettingKeepaliveAfterMs, "172800000"}}) {
      d::OrgSetting setting;
      setting.set_name(name);
      setting.set_value(value);
      OUTPOST_RETURN_IF_ERROR(ctx.put(setting));
    }
    return Status::Ok();
  });
}

// A commit to user i's scope as another device of the user makes it: one mutation pushed
// over plain HTTP (POST /v1/push), answered once durable. Returns (sent, answered) wall ms.
Result<std::pair<double, double>> commit_as(push::Http2Client& http, const std::string& url,
                                            const std::string& token, int user, uint64_t id) {
  protocol::PushRequest request;
  request.set_client_id("desk-" + std::to_string(user));
  request.set_protocol_version(protocol::VERSION_CURRENT);
  request.set_schema_version(Schema::domain().version());
  auto* mutation = request.add_mutations();
  mutation->set_id(id);
  mutation->set_name("set_user_setting");
  mutations::SetUserSetting args;
  args.set_name("bench");
  args.set_value(std::to_string(id));
  mutation->set_args(args.SerializeAsString());
  mutation->set_created_ms(static_cast<int64_t>(wall_ms_now()));
  push::HttpRequest post;
  post.url = url + "/v1/push";
  post.headers = {"Content-Type: application/x-protobuf", "Content-Encoding: zstd",
                  "Authorization: Bearer " + token};
  OUTPOST_ASSIGN_OR_RETURN(post.body, http_api::encode_body(request));
  const double sent = wall_ms_now();
  auto responses = http.perform({post});
  const double answered = wall_ms_now();
  if (responses.empty() || responses[0].status != 200) {
    return error(ErrorCode::kInternal,
                 "POST /v1/push: " + std::to_string(responses.empty() ? 0 : responses[0].status));
  }
  return std::pair{sent, answered};
}

// Waits until the fake received at least `count` requests; returns their arrival times.
Result<std::vector<std::pair<std::string, double>>> await_requests(FakeApns& fake, size_t count) {
  const auto deadline = Clock::now() + kRoundTimeout;
  for (;;) {
    OUTPOST_ASSIGN_OR_RETURN(auto times, fake.arrivals());
    if (times.size() >= count) return times;
    if (Clock::now() > deadline) {
      return error(ErrorCode::kUnavailable, "the fake received " + std::to_string(times.size()) +
                                                " of " + std::to_string(count) + " pushes");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Result<std::unique_ptr<SyncAgent>> agent(BenchContext& context, const std::string& url,
                                         const std::string& dir, const std::string& device) {
  SyncAgentOptions options;
  options.server_url = url;
  OUTPOST_ASSIGN_OR_RETURN(options.token, context.tokens->issue(kPushTenant, kUser, device));
  options.replica_path = dir + "/" + device + ".db";
  return SyncAgent::open(std::move(options));
}

bool idle(SyncAgent& a) {
  return a.state() == AgentState::kConnected && a.progress().phase == SyncPhase::kIdle &&
         a.progress().pending_mutations == 0;
}

Status await_idle(SyncAgent& a) {
  const auto deadline = Clock::now() + kRoundTimeout;
  while (!idle(a)) {
    if (Clock::now() > deadline) return error(ErrorCode::kUnavailable, "agent not idle");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Status::Ok();
}

void copy_replica(const std::string& from, const std::string& to) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    fs::remove(to + suffix, ec);
    if (fs::exists(from + suffix)) fs::copy_file(from + suffix, to + suffix, ec);
  }
}

// One cold `outpost wake` on a copy of `replica`; milliseconds from spawn to exit.
Result<double> cold_wake(const std::string& device_bin, const std::string& replica,
                         const std::string& copy, const std::string& url,
                         const std::string& token) {
  copy_replica(replica, copy);
  std::string out;
  const auto start = Clock::now();
  const int code = support::run_command(
      {device_bin, "--db", copy, "--server", url, "--token", token, "wake", "--budget", "20"},
      &out);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (code != 0 || out.find("voicemail-bench") == std::string::npos) {
    return error(ErrorCode::kInternal, "outpost wake did not show the voicemail: " + out);
  }
  return ms;
}

void report_pair(BenchContext& context, const std::string& scenario, std::vector<double> values,
                 std::vector<double> baseline, std::vector<Param> params) {
  for (const auto& [name, p] : {std::pair{"p50", 0.50}, {"p99", 0.99}}) {
    const double value = percentile(values, p);
    const double base = percentile(baseline, p);
    std::vector<Param> figure_params = params;
    figure_params.push_back(param("stat", name));
    figure_params.push_back(param("samples", static_cast<uint64_t>(values.size())));
    context.report.add(
        {scenario, value, "ms", base, base > 0 ? value / base : 0, std::move(figure_params)});
  }
}

}  // namespace

Status run_push(BenchContext& context, int devices, int rounds, int wakes) {
  if (context.options.push_fake.empty()) {
    fprintf(stderr, "outpost-bench: push: skipped (give --push-fake PATH/fake_push_service.py)\n");
    return Status::Ok();
  }
  if (!context.options.embedded_store()) {
    fprintf(stderr, "outpost-bench: push: skipped (it seeds the embedded store directly)\n");
    return Status::Ok();
  }
  const std::string dir = context.scenario_dir("push");
  OUTPOST_ASSIGN_OR_RETURN(auto fake, FakeApns::start(context.options.push_fake, dir + "/fake"));
  ServerSetup setup = context.setup;
  setup.data_dir = dir + "/server";
  fs::create_directories(setup.data_dir);
  fs::copy_file(context.setup.data_dir + "/token.key", setup.data_dir + "/token.key");
  OUTPOST_RETURN_IF_ERROR(seed_store(setup, kPushTenant, kUser, 50));
  OUTPOST_RETURN_IF_ERROR(seed_push(setup.data_dir, devices));
  setup.extra_args = {"--apns-key",  fake->get("key_file"), "--apns-key-id", fake->get("key_id"),
                      "--apns-team", fake->get("team_id"),  "--apns-url",    fake->get("base_url"),
                      "--push-ca",   fake->get("ca")};
  OUTPOST_ASSIGN_OR_RETURN(auto server, ServerProcess::start(setup, 0));
  const std::string url = server->url();
  // The start wakes every stored target once (decision 018): let those through first.
  OUTPOST_RETURN_IF_ERROR(await_requests(*fake, static_cast<size_t>(devices)).status());
  OUTPOST_RETURN_IF_ERROR(fake->clear());

  // commit -> push request at the fake, beside commit -> its answer (durable), per user.
  OUTPOST_ASSIGN_OR_RETURN(auto http, push::Http2Client::create(push::Http2Options{}));
  std::vector<std::string> tokens;
  for (int i = 0; i < devices; ++i) {
    OUTPOST_ASSIGN_OR_RETURN(std::string token,
                             context.tokens->issue(kPushTenant, sleeper(i), "desk"));
    tokens.push_back(std::move(token));
  }
  std::vector<double> push_ms, ack_ms;
  for (int round = 1; round <= rounds; ++round) {
    std::map<std::string, double> sent;  // token -> commit sent
    for (int i = 0; i < devices; ++i) {
      OUTPOST_ASSIGN_OR_RETURN(auto times, commit_as(*http, url, tokens[static_cast<size_t>(i)], i,
                                                     static_cast<uint64_t>(round)));
      char token[65];
      snprintf(token, sizeof(token), "%064x", i + 1);
      sent[token] = times.first;
      ack_ms.push_back(times.second - times.first);
    }
    OUTPOST_ASSIGN_OR_RETURN(auto arrivals, await_requests(*fake, static_cast<size_t>(devices)));
    for (const auto& [token, at] : arrivals) {
      auto it = sent.find(token);
      if (it != sent.end()) push_ms.push_back(at - it->second);
    }
    OUTPOST_RETURN_IF_ERROR(fake->clear());
  }
  report_pair(context, "push.commit_to_request", push_ms, ack_ms,
              {param("sleeping_devices", devices), param("rounds", rounds),
               param("baseline", "the same commit answered to the device that made it")});
  OUTPOST_ASSIGN_OR_RETURN(auto writer, agent(context, url, dir, "writer"));
  OUTPOST_RETURN_IF_ERROR(writer->start());
  OUTPOST_RETURN_IF_ERROR(await_idle(*writer));

  // wake -> voicemail readable on a cold device, 1,000 other changes pending.
  const std::string device_bin = (fs::path(setup.server_bin).parent_path() / "outpost").string();
  OUTPOST_ASSIGN_OR_RETURN(auto phone, agent(context, url, dir, "phone"));
  SyncSummary first = phone->sync_for(std::chrono::seconds(60));
  OUTPOST_RETURN_IF_ERROR(first.status);
  phone.reset();
  copy_replica(dir + "/phone.db", dir + "/behind.db");
  OUTPOST_RETURN_IF_ERROR(writer->post([](Replica& replica) {
    for (int i = 0; i < kPendingChanges; ++i) {
      mutations::SetUserSetting args;
      args.set_name("bench-" + std::to_string(i));
      args.set_value("v");
      (void)replica.mutate("set_user_setting", args, static_cast<int64_t>(wall_ms_now()));
    }
  }));
  OUTPOST_RETURN_IF_ERROR(await_idle(*writer));
  OUTPOST_ASSIGN_OR_RETURN(phone, agent(context, url, dir, "phone"));
  SyncSummary second = phone->sync_for(std::chrono::seconds(60));
  OUTPOST_RETURN_IF_ERROR(second.status);
  phone.reset();
  copy_replica(dir + "/phone.db", dir + "/current.db");
  std::string out;
  if (support::run_command(
          {setup.server_bin, "event", "--data", setup.data_dir,
           R"({"tenant":"push","user":"agent-1","voicemailLeft":{"id":"voicemail-bench","callerName":"Ann"}})"},
          &out) != 0) {
    return error(ErrorCode::kInternal, "outpost-server event: " + out);
  }
  // The voicemail is committed once the writer sees it.
  const auto deadline = Clock::now() + kRoundTimeout;
  for (;;) {
    bool seen = false;
    (void)writer->with_replica([&](Replica& replica) {
      auto got = replica.get("voicemail", "voicemail-bench");
      seen = got.ok() && *got != nullptr;
    });
    if (seen) break;
    if (Clock::now() > deadline) return error(ErrorCode::kUnavailable, "no voicemail");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  writer->stop();
  OUTPOST_ASSIGN_OR_RETURN(std::string token, context.tokens->issue(kPushTenant, kUser, "phone"));
  std::vector<double> behind_ms, current_ms;
  for (int i = 0; i < wakes; ++i) {
    OUTPOST_ASSIGN_OR_RETURN(
        double a, cold_wake(device_bin, dir + "/behind.db", dir + "/wake.db", url, token));
    behind_ms.push_back(a);
    OUTPOST_ASSIGN_OR_RETURN(
        double b, cold_wake(device_bin, dir + "/current.db", dir + "/wake.db", url, token));
    current_ms.push_back(b);
  }
  report_pair(context, "push.wake_to_voicemail", behind_ms, current_ms,
              {param("pending_changes", kPendingChanges), param("wakes", wakes),
               param("measured", "process start, open, connect, pull, exit"),
               param("baseline", "the same cold wake with only the voicemail pending")});
  return server->stop();
}

}  // namespace outpost::bench

// outpost-bench: the numbers users pick a sync engine on — first sync, UI reads, local
// writes, a change showing up elsewhere, idle devices held — each beside its physical
// limit (plain SQLite doing the same work) measured in the same run. Starts the real
// outpost-server next to this binary; see kBenchUsage and docs/performance.md.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <stdexcept>

#include "apps/outpost-bench/bench_context.h"
#include "apps/outpost-bench/blob_scenarios.h"
#include "apps/outpost-bench/genesys_lag.h"
#include "apps/outpost-bench/genesys_mirror.h"
#include "apps/outpost-bench/idle_connections.h"
#include "apps/outpost-bench/idle_workers.h"
#include "apps/outpost-bench/ops_scenarios.h"
#include "apps/outpost-bench/push_scenarios.h"
#include "apps/outpost-bench/sync_scenarios.h"
#include "apps/outpost-bench/wire_encoding.h"
#include "engine/domain_mutators.h"
#include "support/read_fixture.h"
#include "transport/limits.h"

namespace {

using namespace outpost;
using namespace outpost::bench;

// Room for the idle connections and 1,000 devices' sockets and files; the servers
// inherit it.
void raise_open_files_limit() {
  struct rlimit limit {};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  (void)setrlimit(RLIMIT_NOFILE, &limit);
}

std::string self_dir(const char* argv0) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) self = std::filesystem::absolute(argv0);
  return self.parent_path().string();
}

// Below this many samples p99.9 is just the maximum: it is not reported.
constexpr size_t kSamplesForP999 = 1000;

// The reads and writes of the device: p50/p90/p99/p99.9 of outpost and of the plain table.
void report_samples(BenchContext& context, const std::string& scenario, const Samples& samples,
                    std::vector<Param> params) {
  for (const auto& [name, p] :
       {std::pair{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}, {"p999", 0.999}}) {
    if (p > 0.99 && samples.outpost_us.size() < kSamplesForP999) continue;
    const double value = percentile(samples.outpost_us, p);
    const double baseline = percentile(samples.sqlite_us, p);
    std::vector<Param> figure_params = params;
    figure_params.push_back(param("stat", name));
    figure_params.push_back(param("samples", static_cast<uint64_t>(samples.outpost_us.size())));
    context.report.add(
        {scenario, value, "us", baseline, ratio_of(value, baseline), std::move(figure_params)});
  }
}

void run_device_scenarios(BenchContext& context) {
  const bool quick = context.options.quick;
  ReadFixtureOptions fixture_options;
  if (quick) {
    fixture_options.interactions = 5'000;
    fixture_options.days = 25;
    fixture_options.contacts = 2'500;
    fixture_options.canned_responses = 200;
  }
  ReadFixture fixture(context.scenario_dir("device"), fixture_options);
  const std::vector<Param> params = {param("interactions", fixture_options.interactions),
                                     param("days", fixture_options.days),
                                     param("contacts", fixture_options.contacts),
                                     param("canned_responses", fixture_options.canned_responses)};
  if (context.options.wants("ui_reads")) {
    report_samples(context, "ui_reads.point_get", fixture.point_get(quick ? 2'000 : 20'000),
                   params);
    report_samples(context, "ui_reads.todays_journal", fixture.todays_journal(quick ? 100 : 500),
                   params);
    report_samples(context, "ui_reads.contact_search", fixture.contact_search(quick ? 50 : 200),
                   params);
    report_samples(context, "ui_reads.canned_search", fixture.canned_search(quick ? 100 : 500),
                   params);
  }
  if (context.options.wants("draft_save")) {
    // As an app with a SyncAgent gets it (checkpoints on the agent's thread), then with
    // SQLite's default (the commit that fills the WAL checkpoints it).
    const int saves = quick ? 500 : 5'000;
    fixture.set_background_checkpoints(true);
    std::vector<Param> background = params;
    background.push_back(param("checkpoints", "background"));
    report_samples(context, "draft_save", fixture.draft_save(saves), background);
    fixture.set_background_checkpoints(false);
    std::vector<Param> in_commit = params;
    in_commit.push_back(param("checkpoints", "in_commit"));
    report_samples(context, "draft_save.commit_checkpoints", fixture.draft_save(saves), in_commit);
  }
}

Status seed(BenchContext& context) {
  const BenchOptions& o = context.options;
  if (o.wants("initial_sync") || o.wants("catch_up") || o.wants("tls_sync")) {
    for (size_t i = 0; i < o.records.size(); ++i) {
      if (!o.wants("initial_sync") && i + 1 != o.records.size()) continue;
      OUTPOST_RETURN_IF_ERROR(seed_store(context.setup, sync_tenant(o.records[i]), kBenchUser,
                                         static_cast<uint32_t>(o.records[i])));
    }
  }
  if (o.wants("fanout")) {
    OUTPOST_RETURN_IF_ERROR(seed_store(context.setup, kFanoutTenant, kBenchUser, kFanoutContacts));
  }
  if (o.wants("device_reports")) {
    OUTPOST_RETURN_IF_ERROR(seed_store(context.setup, kReportTenant, kBenchUser, 50));
  }
  return Status::Ok();
}

Status run(BenchContext& context) {
  const BenchOptions& o = context.options;
  OUTPOST_RETURN_IF_ERROR(seed(context));
  if (o.wants("initial_sync") || o.wants("catch_up")) {
    for (size_t i = 0; i < o.records.size(); ++i) {
      const bool last = i + 1 == o.records.size();
      if (!o.wants("initial_sync") && !last) continue;
      OUTPOST_RETURN_IF_ERROR(run_initial_sync(context, o.records[i], last && o.wants("catch_up")));
    }
  }
  if (o.wants("tls_sync")) OUTPOST_RETURN_IF_ERROR(run_tls_sync(context, o.records.back()));
  if (o.wants("ui_reads") || o.wants("draft_save")) run_device_scenarios(context);
  if (o.wants("fanout")) {
    for (int devices : o.devices) {
      OUTPOST_RETURN_IF_ERROR(run_fanout(context, devices, o.quick ? 5 : 20));
    }
  }
  if (o.wants("blob_transfer")) {
    OUTPOST_RETURN_IF_ERROR(
        run_blob_transfer(context, o.quick ? 8ull * 1024 * 1024 : o.blob_bytes));
  }
  if (o.wants("wire_encoding")) {
    OUTPOST_RETURN_IF_ERROR(run_wire_encoding(context, o.quick ? 4'000 : o.records.back()));
  }
  if (o.wants("idle_connections")) {
    OUTPOST_RETURN_IF_ERROR(run_idle_connections(
        context, o.idle_connections, std::chrono::seconds(o.quick ? 1 : 10), o.quick ? 3 : 10));
  }
  if (o.wants("device_reports")) {
    OUTPOST_RETURN_IF_ERROR(run_device_reports(context, o.quick ? 10 : 200));
  }
  if (o.wants("push")) {
    OUTPOST_RETURN_IF_ERROR(context.stop_servers());
    OUTPOST_RETURN_IF_ERROR(run_push(context,
                                     o.quick ? std::min(o.push_devices, 50) : o.push_devices,
                                     o.quick ? 2 : 10, o.quick ? 3 : 30));
  }
  if (o.wants("genesys_lag") && !o.genesys_fake.empty()) {
    OUTPOST_RETURN_IF_ERROR(run_genesys_lag(context, o.quick ? 10 : 50));
  }
  if (o.wants("genesys_mirror") && !o.genesys_fake.empty()) {
    OUTPOST_RETURN_IF_ERROR(
        run_genesys_mirror(context, o.quick ? 5'000 : 50'000, o.quick ? 3 : 10));
  }
  return context.stop_servers();
}

}  // namespace

int main(int argc, char** argv) {
  // A client worker of idle_connections (decision 052), started by the bench itself.
  if (argc == 3 && std::string(argv[1]) == "--idle-worker") {
    return outpost::bench::run_idle_worker(argv[2]);
  }
  auto options = parse_bench_options(argc, argv);
  if (!options.ok()) {
    if (options.status().code() == ErrorCode::kCancelled) {
      std::cout << kBenchUsage;
      return 0;
    }
    std::cerr << "outpost-bench: " << options.status().message() << "\n" << kBenchUsage;
    return 2;
  }
  if (Status built = check_built_in_domain(); !built.ok()) {
    std::cerr << "outpost-bench: " << built.to_string() << "\n";
    return 1;
  }
  raise_open_files_limit();
  BenchContext context;
  context.options = std::move(options).value();
  const bool temporary = context.options.work_dir.empty();
  context.work_dir = temporary ? std::filesystem::temp_directory_path().string() +
                                     "/outpost-bench-" + std::to_string(getpid())
                               : context.options.work_dir;
  context.setup.server_bin = context.options.server_bin.empty()
                                 ? self_dir(argv[0]) + "/outpost-server"
                                 : context.options.server_bin;
  context.setup.data_dir = context.work_dir + "/server";
  context.setup.store_url = context.options.store_url;
  context.setup.threads = context.options.server_threads;
  context.setup.extra_args = {"--max-attachment-mb", std::to_string(kBenchMaxAttachmentMb)};
  // Room for the idle connections (and the writer device, the scrapes) past the default
  // cap; the descriptor limit still bounds them (run_idle_connections opens no more than
  // it allows). Not passed below the default, so an older server binary runs them too.
  const size_t wanted_connections =
      static_cast<size_t>(context.options.idle_connections) + kIdleConnectionsHeadroom;
  if (context.options.wants("idle_connections") && wanted_connections > limits::kMaxConnections) {
    context.setup.extra_args.insert(context.setup.extra_args.end(),
                                    {"--max-connections", std::to_string(wanted_connections)});
  }
  std::filesystem::create_directories(context.setup.data_dir);

  Status result = Status::Ok();
  try {
    auto tokens = TokenIssuer::open(context.setup.data_dir);
    result = tokens.ok() ? Status::Ok() : tokens.status();
    if (result.ok()) {
      context.tokens = std::move(tokens).value();
      result = run(context);
    }
  } catch (const std::exception& e) {
    result = error(ErrorCode::kInternal, e.what());
  }
  (void)context.stop_servers();
  if (context.options.table || isatty(STDERR_FILENO)) context.report.print_table(stderr);
  if (temporary) std::filesystem::remove_all(context.work_dir);
  if (!result.ok()) {
    std::cerr << "outpost-bench: " << result.to_string() << "\n";
    return 1;
  }
  return 0;
}

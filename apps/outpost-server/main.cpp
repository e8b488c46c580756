// outpost-server: the sync server. `serve` runs SyncServer over a store (SQLite in the data
// directory, or PostgreSQL with --store) until SIGINT/SIGTERM; `token` issues bearer
// tokens with the data directory's key.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <sys/resource.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

#include "adapters/demo_data.h"
#include "adapters/dir_blob_store.h"
#include "adapters/postgres_commit_feed.h"
#include "adapters/postgres_server_store.h"
#include "adapters/sim_media.h"
#include "adapters/sim_platform.h"
#include "adapters/sqlite_server_store.h"
#include "apps/outpost-server/event_inbox.h"
#include "apps/outpost-server/genesys_setup.h"
#include "apps/outpost-server/json_log.h"
#include "apps/outpost-server/operations.h"
#include "apps/outpost-server/push_setup.h"
#include "apps/outpost-server/server_config.h"
#include "apps/outpost-server/upstream_loop.h"
#include "engine/blob_service.h"
#include "engine/domain_mutators.h"
#include "engine/domain_server.h"
#include "engine/schema.h"
#include "engine/server_core.h"
#include "transport/sync_server.h"
#include "transport/tls_server.h"
#include "transport/token.h"
#include "transport/token_key_file.h"

namespace {

using namespace outpost;

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status ensure_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return error(ErrorCode::kIo, "cannot create " + dir + ": " + ec.message());
  return Status::Ok();
}

int fail(const Status& status) {
  std::cerr << "outpost-server: " << status.to_string() << "\n";
  return 1;
}

// Descriptors beside the connections: the store's files, the listeners, push and upstream
// clients, the admin listener's scrapes.
constexpr rlim_t kReservedDescriptors = 256;

// Raises the soft descriptor limit to the hard one; warns when even that cannot hold
// `max_connections` (accepts then fail with EMFILE before the 503 cap is reached).
void raise_open_files_limit(size_t max_connections, server_app::Logger& log) {
  struct rlimit limit {};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
    (void)getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < max_connections + kReservedDescriptors) {
    log.warn("the descriptor limit is below --max-connections",
             {{"nofile", std::to_string(limit.rlim_cur)},
              {"max_connections", std::to_string(max_connections)}});
  }
}

int run_token(const server_app::TokenConfig& config) {
  if (Status made = ensure_dir(config.data_dir); !made.ok()) return fail(made);
  auto key = load_or_create_key(config.data_dir);
  if (!key.ok()) return fail(key.status());
  TokenAuthority tokens(std::move(key).value());
  protocol::TokenClaims claims;
  claims.set_tenant(config.tenant);
  claims.set_user(config.user);
  claims.set_device(config.device);
  claims.set_issued_ms(wall_clock_ms());
  claims.set_expires_ms(claims.issued_ms() + config.ttl_seconds * 1000);
  auto token = tokens.issue(claims);
  if (!token.ok()) {
    std::cerr << "outpost-server: " << token.status().to_string() << "\n";
    return token.status().code() == ErrorCode::kInvalidArgument ? 2 : 1;
  }
  std::cout << token.value() << std::endl;
  return 0;
}

// The store: PostgreSQL when a URL is given, else the embedded SQLite file in data_dir.
Result<std::unique_ptr<ServerStore>> open_store(const std::string& data_dir, const std::string& url,
                                                uint32_t connections) {
  if (url.empty()) {
    OUTPOST_ASSIGN_OR_RETURN(auto sqlite, SqliteServerStore::open(data_dir + "/outpost.db"));
    return std::unique_ptr<ServerStore>(std::move(sqlite));
  }
  PostgresStoreOptions options;
  options.url = url;
  options.max_connections = connections;
  OUTPOST_ASSIGN_OR_RETURN(auto pg, PostgresServerStore::open(options));
  return std::unique_ptr<ServerStore>(std::move(pg));
}

int run_seed(const server_app::SeedConfig& config) {
  if (Status made = ensure_dir(config.data_dir); !made.ok()) return fail(made);
  auto store = open_store(config.data_dir, config.store, 2);
  if (!store.ok()) return fail(store.status().with_context("opening the store"));
  ServerCore core(**store, Schema::domain(), domain_mutators());
  DemoDataOptions options;
  options.tenant = config.tenant;
  options.user = config.user;
  options.contacts = config.contacts;
  options.now_ms = wall_clock_ms();
  if (Status seeded = seed_demo_data(core, options); !seeded.ok()) return fail(seeded);
  std::cout << "seeded tenant " << config.tenant << " (" << config.contacts
            << " contacts) and agent " << config.user << std::endl;
  return 0;
}

// Compacts the scopes written since its last pass, every `every` seconds, on its own
// thread; stop() finishes the pass in progress and joins.
class Compactor {
 public:
  Compactor(ServerCore& core, std::chrono::seconds every, uint64_t keep, server_app::Logger& log)
      : core_(core), every_(every), keep_(keep), log_(log) {
    core_.add_commit_listener([this](const std::vector<CommittedHead>& heads) {
      std::lock_guard lock(mutex_);
      for (const auto& head : heads) dirty_.insert(head.scope);
    });
    thread_ = std::thread([this] { run(); });
  }
  ~Compactor() { stop(); }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, every_, [this] { return stopping_; });
      if (stopping_) break;
      std::set<std::string> scopes;
      scopes.swap(dirty_);
      lock.unlock();
      for (const std::string& scope : scopes) {
        Status compacted = core_.compact(scope, keep_);
        if (!compacted.ok()) {
          log_.warn("compaction failed: " + compacted.to_string(), {{"scope", scope}});
        }
      }
      lock.lock();
    }
  }

  ServerCore& core_;
  std::chrono::seconds every_;
  uint64_t keep_;
  server_app::Logger& log_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::set<std::string> dirty_;
  bool stopping_ = false;
  std::thread thread_;
};

// Removes blobs no record references (BlobService::collect_garbage), every `every`, on its
// own thread; stop() finishes the pass in progress and joins.
class BlobCollector {
 public:
  BlobCollector(BlobService& blobs, ServerStore& store, std::chrono::seconds every,
                server_app::Logger& log)
      : blobs_(blobs), store_(store), every_(every), log_(log), thread_([this] { run(); }) {}
  ~BlobCollector() { stop(); }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  // An upload waits this long for the record that will reference it.
  static constexpr int64_t kGraceMs = 24 * 3600 * 1000;

  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, every_, [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      auto scopes = store_.list_scopes();
      auto report = scopes.ok() ? blobs_.collect_garbage(*scopes, wall_clock_ms(), kGraceMs)
                                : Result<BlobGcReport>(scopes.status());
      if (!report.ok()) {
        log_.warn("blob gc: " + report.status().to_string(), {{"component", "blobs"}});
      } else if (report->removed > 0 || report->stale_uploads > 0) {
        log_.info("blob gc", {{"component", "blobs"},
                              {"removed", std::to_string(report->removed)},
                              {"removed_bytes", std::to_string(report->removed_bytes)},
                              {"stale_uploads", std::to_string(report->stale_uploads)}});
      }
      lock.lock();
    }
  }

  BlobService& blobs_;
  ServerStore& store_;
  std::chrono::seconds every_;
  server_app::Logger& log_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// SIGTERM/SIGINT: /readyz fails at once; drain_ms later the listeners close, in-flight
// requests finish and streams close with a reconnect hint (docs/operations.md).
void drain(const server_app::ServeConfig& config, int signal_number, server_app::Logger& log,
           server_app::Operations& operations) {
  operations.begin_drain();
  log.info("draining", {{"signal", std::to_string(signal_number)},
                        {"drain_ms", std::to_string(config.drain_ms)}});
  std::this_thread::sleep_for(std::chrono::milliseconds(config.drain_ms));
}

int run_serve(const server_app::ServeConfig& config) {
  server_app::Logger log(std::cerr, config.log_format == "json");
  auto fail_logged = [&log](const Status& status) {
    log.error(status.to_string());
    return 1;
  };
  raise_open_files_limit(config.max_connections, log);
  if (Status made = ensure_dir(config.data_dir); !made.ok()) return fail_logged(made);
  auto store = open_store(config.data_dir, config.store, config.pg_connections);
  if (!store.ok()) return fail_logged(store.status().with_context("opening the store"));
  auto key = load_or_create_key(config.data_dir);
  if (!key.ok()) return fail_logged(key.status().with_context("loading the token key"));
  TokenAuthority tokens(*key);
  // The agents' platform logins, sealed under a key derived from the token key (decision 035).
  server_app::LoginVault logins(config.data_dir + "/platform-logins", *key);
  // Before the core: it observes the core and must outlive it.
  server_app::Operations operations(config, log, wall_clock_ms);
  ServerCore core(**store, Schema::domain(), domain_mutators());
  auto blob_store = DirBlobStore::open(config.blobs_dir);
  if (!blob_store.ok())
    return fail_logged(blob_store.status().with_context("opening the blob store"));
  BlobServiceOptions blob_options;
  blob_options.limits.max_voicemail_bytes = config.max_voicemail_mb * 1024 * 1024;
  blob_options.limits.max_attachment_bytes = config.max_attachment_mb * 1024 * 1024;
  // The platform's media, fetched the first time a device asks: the simulated platform's
  // (demo data and --upstream sim), or Genesys voicemail recordings (genesys-media: URIs,
  // the media endpoint; set below before the server starts).
  genesys::GenesysUpstream* genesys_media = nullptr;
  blob_options.fetch_media = [&genesys_media](std::string_view uri,
                                              uint64_t max_bytes) -> Result<std::string> {
    if (uri.rfind(genesys::kGenesysMediaScheme, 0) == 0) {
      if (genesys_media == nullptr) return error(ErrorCode::kNotFound, "no Genesys upstream");
      return genesys_media->fetch_media(uri, max_bytes);
    }
    return fetch_sim_media(uri, max_bytes);
  };
  BlobService blobs(**store, **blob_store, Schema::domain(), blob_options);

  std::shared_ptr<TlsServerContext> tls;
  if (!config.tls_cert.empty()) {
    auto loaded = TlsServerContext::load(config.tls_cert, config.tls_key);
    if (!loaded.ok())
      return fail_logged(loaded.status().with_context("loading the TLS certificate"));
    tls = std::move(loaded).value();
    log.info("serving TLS with " + tls->describe(), {{"component", "tls"}});
  }

  // Signals are caught by a private io_context on this thread; the server has its own pool.
  // With TLS, SIGHUP re-reads the certificate and key (decision 022) and the wait goes on.
  boost::asio::io_context signal_context;
  boost::asio::signal_set signals(signal_context, SIGINT, SIGTERM);
  if (tls) signals.add(SIGHUP);
  int caught = 0;
  std::function<void()> wait_for_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int signal_number) {
      if (ec) return;
      if (signal_number != SIGHUP) {
        caught = signal_number;
        return;
      }
      Status reloaded = tls->reload();
      if (reloaded.ok()) {
        log.info("SIGHUP: new connections use " + tls->describe(), {{"component", "tls"}});
      } else {
        log.error("SIGHUP: " + reloaded.to_string() + " (the old certificate stays)",
                  {{"component", "tls"}});
      }
      wait_for_signal();
    });
  };
  wait_for_signal();

  SyncServerOptions options;
  options.address = config.host;
  options.port = config.port;
  options.threads = config.threads;
  options.max_connections = config.max_connections;
  options.tls = tls;
  options.blobs = &blobs;
  options.log = [&log](std::string_view line) {
    log.log(
        line.rfind("listening", 0) == 0 ? server_app::LogLevel::kInfo : server_app::LogLevel::kWarn,
        line, {{"component", "transport"}});
  };

  // The platform and its mirror come first: the push thread logs agents out through them.
  DomainServer domain(core);
  std::unique_ptr<SimPlatform> platform;
  std::unique_ptr<genesys::GenesysUpstream> genesys;
  if (config.upstream == "sim") {
    auto agents = server_app::parse_agents(config.sim_agents);
    if (!agents.ok()) return fail_logged(agents.status());
    SimPlatformOptions sim;
    sim.seed = config.sim_seed;
    sim.agents = std::move(agents).value();
    sim.step_ms = config.sim_step_ms;
    sim.web_edit_delay_ms = config.sim_web_edit_delay_ms;
    platform = std::make_unique<SimPlatform>(std::move(sim), **store);
    core.set_platform(platform.get());
  }
  if (config.upstream == "genesys") {
    auto genesys_config = server_app::genesys_options(
        config, [](const char* name) { return static_cast<const char*>(std::getenv(name)); });
    if (!genesys_config.ok()) return fail_logged(genesys_config.status());
    genesys_config->log = [&log](const std::string& line) {
      log.log(server_app::LogLevel::kWarn, line, {{"component", "genesys"}});
    };
    genesys_config->max_voicemail_bytes = blob_options.limits.max_voicemail_bytes;
    genesys_config->send_journal_dir = config.data_dir + "/platform-sends";  // decision 037
    server_app::wire_genesys_media(*genesys_config, **store, **blob_store, genesys_config->log);
    server_app::wire_genesys_logins(*genesys_config, logins);
    genesys = std::make_unique<genesys::GenesysUpstream>(*genesys_config);
    server_app::restore_genesys_logins(*genesys, *genesys_config, logins);
    core.set_platform(genesys.get());
    genesys_media = genesys.get();
  }
  // The push thread hears commits after they commit, and streams opening and closing; it
  // only ever queues from those callbacks (docs/push.md).
  auto push = server_app::make_push_service(config, core, domain, platform.get(), options.log);
  if (!push.ok()) return fail_logged(push.status().with_context("setting up push"));
  push::PushService& pusher = **push;
  core.add_commit_listener(
      [&pusher](const std::vector<CommittedHead>& heads) { pusher.on_commit(heads); });
  if (Status started = pusher.start(); !started.ok()) return fail_logged(started);
  options.on_stream = [&pusher, &operations](const Principal& who, bool open) {
    operations.on_stream(who, open);
    pusher.on_stream(who, open);
  };
  auto observe = [&pusher](const upstream::Event& event) { pusher.on_platform_event(event); };

  SyncServer server(core, tokens, options);
  std::function<bool()> upstream_connected;
  if (config.upstream == "sim") upstream_connected = [] { return true; };
  // Genesys: ready while its notification channel is connected.
  if (genesys) {
    upstream_connected = [g = genesys.get()] { return g->connected(); };
    server_app::add_genesys_metrics(operations.registry(), *genesys);
  }
  server_app::add_push_metrics(operations.registry(), pusher);
  if (Status started = operations.start(core, server, upstream_connected); !started.ok()) {
    return fail_logged(started);
  }
  if (Status started = server.start(); !started.ok()) return fail_logged(started);
  // Several processes on one PostgreSQL database: commits of the others poke our devices.
  std::unique_ptr<PostgresCommitFeed> feed;
  if (auto* pg = dynamic_cast<PostgresServerStore*>(store->get())) {
    PostgresCommitFeedOptions feed_options;
    feed_options.url = pg->url();
    feed_options.own_instance = pg->instance_id();
    feed_options.on_heads = [&server, &operations](const std::vector<CommittedHead>& heads) {
      operations.telemetry().on_commit(heads);
      server.poke(heads);
    };
    feed_options.on_resync = [&server] { server.poke_all(); };
    feed_options.log = [&log](const std::string& line) {
      log.warn(line, {{"component", "commit-feed"}});
    };
    feed = std::make_unique<PostgresCommitFeed>(std::move(feed_options));
    feed->start();
  }
  Compactor compactor(core, std::chrono::seconds(config.compact_every_seconds), config.keep_log,
                      log);
  BlobCollector collector(blobs, **store, std::chrono::seconds(config.blob_gc_every_seconds), log);
  std::unique_ptr<server_app::UpstreamLoop> upstream_loop;
  if (platform) {
    upstream_loop = std::make_unique<server_app::UpstreamLoop>(
        *platform, domain, std::chrono::milliseconds(config.sim_step_ms), wall_clock_ms,
        options.log, observe);
  }
  if (genesys) {
    genesys->start();
    upstream_loop = std::make_unique<server_app::UpstreamLoop>(
        *genesys, domain, std::chrono::milliseconds(config.genesys_step_ms), wall_clock_ms,
        options.log, observe);
  }
  server_app::EventInbox inbox(config.data_dir, domain, std::chrono::milliseconds(200),
                               wall_clock_ms, options.log, observe);
  auto shown = [](const std::string& host, uint16_t port) {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
           std::to_string(port);
  };
  std::cout << "outpost-server listening on " << shown(config.host, server.port()) << "\n"
            << "outpost-server admin on " << shown(config.admin_host, operations.admin_port())
            << std::endl;
  log.info("serving", {{"listen", shown(config.host, server.port())},
                       {"admin", shown(config.admin_host, operations.admin_port())},
                       {"store", config.store.empty() ? "sqlite" : "postgres"},
                       {"config", config.config_file}});

  signal_context.run();
  drain(config, caught, log, operations);
  if (upstream_loop) upstream_loop->stop();
  if (genesys) genesys->stop();
  inbox.stop();
  if (feed) feed->stop();
  server.stop();
  pusher.stop();
  log.info("stopped");
  compactor.stop();
  collector.stop();
  operations.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto command = server_app::parse_command_line(argc, argv, server_app::process_environment());
  if (!command.ok()) {
    std::cerr << "outpost-server: " << command.status().message() << "\n" << server_app::kUsage;
    return 2;
  }
  if (std::holds_alternative<server_app::HelpRequest>(command.value())) {
    std::cout << server_app::kUsage;
    return 0;
  }
  if (outpost::Status built = outpost::check_built_in_domain(); !built.ok()) {
    std::cerr << "outpost-server: " << built.to_string() << "\n";
    return 1;
  }
  if (auto* serve = std::get_if<server_app::ServeConfig>(&command.value()))
    return run_serve(*serve);
  if (auto* seed = std::get_if<server_app::SeedConfig>(&command.value())) return run_seed(*seed);
  if (auto* event = std::get_if<server_app::EventConfig>(&command.value())) {
    Status queued = server_app::queue_event(event->data_dir, event->json);
    if (!queued.ok()) {
      std::cerr << "outpost-server: " << queued.to_string() << "\n";
      return queued.code() == ErrorCode::kInvalidArgument ? 2 : 1;
    }
    return 0;
  }
  return run_token(std::get<server_app::TokenConfig>(command.value()));
}

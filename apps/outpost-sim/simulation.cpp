#include "apps/outpost-sim/simulation.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "apps/outpost-sim/blobs.h"
#include "apps/outpost-sim/device.h"
#include "apps/outpost-sim/genesys_sim.h"
#include "apps/outpost-sim/ledger.h"
#include "apps/outpost-sim/platform.h"
#include "apps/outpost-sim/push_actor.h"
#include "apps/outpost-sim/server.h"
#include "apps/outpost-sim/trace.h"
#include "apps/outpost-sim/workload.h"
#include "apps/outpost-sim/world.h"
#include "engine/domain_mutators.h"

namespace outpost::sim {
namespace {

constexpr int64_t kStartMs = 1'795'000'000'000;  // "today" of the demo data
constexpr int64_t kMaxStepMs = 40;
constexpr int64_t kMaxClockSkewMs = 5 * 60 * 1000;
constexpr int64_t kIdleTickMs = 25;  // quiescence: clock advance when nothing is in flight
constexpr size_t kTraceTail = 40;
constexpr size_t kTraceLimit = 160;

class Simulation {
 public:
  explicit Simulation(const SimOptions& options)
      : options_(options),
        random_(options.seed),
        trace_(options.verbose),
        network_(random_, options.faults.network),
        world_(make_world(std::max(1, options.users))) {}

  SimResult run();

 private:
  Status setup();
  void step();
  bool quiesce();
  void deliver();
  // A random device that has a backup is restored from it (FaultOptions::restore).
  void restore_a_backup();
  void fail(const std::string& invariant, const std::string& detail,
            std::vector<std::string> terms) {
    trace_.add("VIOLATION " + invariant + ": " + detail);
    violations_.push_back({invariant, detail, std::move(terms)});
  }
  SimDevice* random_device(bool alive_only) {
    std::vector<SimDevice*> candidates;
    for (auto& device : devices_) {
      if (!alive_only || device->alive()) candidates.push_back(device.get());
    }
    return candidates.empty() ? nullptr : candidates[random_.below(candidates.size())];
  }
  const SimUser& user_of(const SimDevice& device) const {
    for (const SimUser& user : world_.users) {
      if (user.user_scope() == device.who().user_scope()) return user;
    }
    return world_.users[static_cast<size_t>(device.index()) % world_.users.size()];
  }
  void reopen(SimDevice& device);
  // The push actor: streams as the run has them, its due actions, (5), wakes.
  void push_step();
  void restart_server();
  void put_to_sleep(SimDevice& device);
  // One platform action for `user`: the Genesys model's for tenant acme in genesys mode,
  // else the simulated contact center's.
  Status platform_step(const SimUser& user);
  void pump_genesys();

  SimOptions options_;
  SimRandom random_;
  Trace trace_;
  SimNetwork network_;
  World world_;
  Ledger ledger_;
  int64_t now_ms_ = kStartMs;
  uint64_t step_ = 0;
  std::string dir_;
  std::unique_ptr<SimContactCenter> platform_;  // declared before server_: outlives it
  std::unique_ptr<SimGenesys> genesys_;         // genesys mode: tenant acme's platform
  std::unique_ptr<SimServer> server_;
  std::vector<std::unique_ptr<SimDevice>> devices_;
  std::vector<int64_t> heal_at_;  // per device: when its partition heals
  std::unique_ptr<Workload> workload_;
  std::unique_ptr<SimBlobs> blobs_;
  SimPushActor push_;
  std::vector<Violation> violations_;
  SimStats stats_;
};

Status Simulation::setup() {
  std::string base = options_.dir;
  if (base.empty()) {
    const char* tmp = getenv("TMPDIR");
    base = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm"
           : tmp != nullptr && *tmp != '\0'     ? tmp
                                                : "/tmp";
  }
  std::string pattern = base + "/outpost-sim-" + std::to_string(options_.seed) + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return error(ErrorCode::kIo, "cannot create a run directory under " + base);
  }
  dir_ = pattern;
  server_ = std::make_unique<SimServer>(
      dir_ + "/server.db", network_, now_ms_, ledger_, trace_,
      [this](int device) -> const Principal& { return devices_[device]->who(); },
      [this] {
        std::vector<std::pair<int, uint64_t>> connected;
        for (auto& device : devices_) {
          if (device->alive() && device->connected()) {
            connected.push_back({device->index(), device->connection()});
          }
        }
        return connected;
      });
  server_->forget_on_restart(options_.lossy_server_restart);
  server_->forget_prints(options_.forget_prints);
  server_->carry_changes(options_.carried);
  OUTPOST_RETURN_IF_ERROR(server_->open());
  OUTPOST_RETURN_IF_ERROR(seed_world(server_->core(), world_, now_ms_));
  platform_ = std::make_unique<SimContactCenter>(world_, ledger_, trace_, server_->core().store(),
                                                 options_.seed, options_.lead_sim_platform);
  server_->set_platform(&platform_->platform());
  if (options_.genesys) {
    GenesysFaults faults;
    faults.channel_agents = static_cast<size_t>(std::max(1, options_.genesys_channel_agents));
    faults.forget_sends = options_.break_send_journal;
    faults.break_recordings = options_.break_recordings;
    faults.blind_draft_retries = options_.break_draft_retry;
    faults.skip_listing_deletes = options_.break_listing_deletes;
    faults.skip_voicemail_listing_deletes = options_.break_voicemail_listing_deletes;
    genesys_ = std::make_unique<SimGenesys>(world_, trace_, options_.seed, now_ms_, faults,
                                            options_.break_gap_reconcile,
                                            options_.break_contacts_reconcile);
    genesys_->set_others(&platform_->platform());
    genesys_->set_ledger(&ledger_);
    world_.draft_interactions = genesys_->draft_conversations();
    server_->set_platform(genesys_.get());
  }
  workload_ = std::make_unique<Workload>(world_, ledger_, trace_, random_);
  if (options_.genesys) workload_->set_genesys_tenant("acme");
  // Blob plays draw from their own stream: the rest of the run is as without them.
  blobs_ = std::make_unique<SimBlobs>(dir_, options_.seed ^ 0xb10b5eedULL, trace_);
  OUTPOST_RETURN_IF_ERROR(blobs_->open());
  if (genesys_) {
    // The recordings the adapter hashed go to the server's blob store (as media_fetched);
    // a blob not stored is fetched from the platform on demand (decision 064).
    genesys_->set_media_sink([this](const genesys::CoreMedia& media) {
      auto hash = BlobHash::parse(media.sha256_hex);
      if (hash.ok()) (void)blobs_->put(*hash, media.bytes);
    });
    blobs_->set_media_source([this](std::string_view uri, uint64_t max_bytes) {
      return genesys_->fetch_media(uri, max_bytes);
    });
  }
  for (int i = 0; i < std::max(1, options_.devices); ++i) {
    const SimUser& user = world_.users[static_cast<size_t>(i) % world_.users.size()];
    std::string name = "d" + std::to_string(i);
    auto device = std::make_unique<SimDevice>(i, Principal{user.tenant, user.user, name},
                                              dir_ + "/" + name + ".db",
                                              "sim-client-" + std::to_string(i), trace_, random_);
    device->clock_skew_ms = random_.between(-kMaxClockSkewMs, kMaxClockSkewMs);
    OUTPOST_RETURN_IF_ERROR(device->open(Schema::domain(), server_->device_mutators()));
    trace_.add(name + " belongs to " + user.user_scope());
    devices_.push_back(std::move(device));
  }
  // Second processes on the first devices' files: same user, client id and file.
  const int first_devices = static_cast<int>(devices_.size());
  for (int i = 0; i < std::min(options_.two_process_devices, first_devices); ++i) {
    SimDevice& first = *devices_[static_cast<size_t>(i)];
    const int index = static_cast<int>(devices_.size());
    std::string name = "d" + std::to_string(index);
    auto device = std::make_unique<SimDevice>(
        index, Principal{first.who().tenant, first.who().user, name},
        dir_ + "/d" + std::to_string(i) + ".db", first.client_id(), trace_, random_);
    device->clock_skew_ms = first.clock_skew_ms;
    device->other_process = &first;
    first.other_process = device.get();
    OUTPOST_RETURN_IF_ERROR(device->open(Schema::domain(), server_->device_mutators()));
    trace_.add(name + " is a second process on " + first.name() + "'s replica file");
    devices_.push_back(std::move(device));
  }
  heal_at_.assign(devices_.size(), 0);
  for (auto& device : devices_) push_.add_device(device->index(), device->who().user_scope());
  server_->set_commit_observer(
      [this](const std::vector<CommittedHead>& heads) { push_.on_commit(heads, now_ms_); });
  platform_->set_observer(
      [this](const upstream::Event& event, int64_t now) { push_.on_platform_event(event, now); });
  if (genesys_) {
    genesys_->set_observer(
        [this](const upstream::Event& event, int64_t now) { push_.on_platform_event(event, now); });
  }
  return Status::Ok();
}

void Simulation::deliver() {
  while (auto envelope = network_.take_due(now_ms_)) {
    SimDevice& device = *devices_[envelope->device];
    if (envelope->closed_notice) {
      device.on_closed(network_, envelope->connection, now_ms_);
    } else if (envelope->to_server) {
      Status handled = server_->handle(*envelope);
      if (!handled.ok()) {
        fail("(P) protocol",
             "the server refused a request of " + device.name() + ": " + handled.to_string(),
             {"d" + std::to_string(device.index())});
      }
    } else {
      Status handled = device.on_frame(network_, envelope->connection, envelope->bytes, now_ms_);
      auto moves = device.take_renumbered();
      if (!moves.empty()) {
        ledger_.renumbered(device.client_id(), moves);
        stats_.renumbered += moves.size();
      }
      if (!handled.ok()) {
        fail("(P) protocol", device.name() + " failed on a server frame: " + handled.to_string(),
             {"d" + std::to_string(device.index())});
        device.disconnect(network_, now_ms_, "client error");
      }
    }
  }
}

void Simulation::reopen(SimDevice& device) {
  Status opened = device.open(Schema::domain(), server_->device_mutators());
  // A woken app with little time asks for the urgent records first, half of the time.
  if (opened.ok() && random_.chance(0.5)) device.client().set_urgent_first(true);
  if (!opened.ok()) {
    fail("(P) protocol", device.name() + " cannot reopen its replica: " + opened.to_string(),
         {"d" + std::to_string(device.index())});
  }
}

void Simulation::push_step() {
  for (auto& device : devices_) {
    push_.set_connected(device->index(), device->alive() && device->connected(), now_ms_);
  }
  auto woken = push_.step(
      now_ms_, [this](const std::string& detail) { fail("(5) no logout while busy", detail, {}); });
  for (int index : woken) {
    SimDevice& device = *devices_[static_cast<size_t>(index)];
    // A background push wakes a sleeping app early (a killed one stays down: iOS does
    // not launch a force-quit app for a background push).
    if (device.alive() && !device.connected() && device.down_until_ms > now_ms_) {
      trace_.add(device.name() + " woken by a push");
      device.down_until_ms = now_ms_;
    }
  }
}

Status Simulation::platform_step(const SimUser& user) {
  if (genesys_ && user.tenant == "acme") {
    genesys_->act(user, now_ms_);
    return Status::Ok();
  }
  return platform_->step(server_->core(), user, now_ms_);
}

void Simulation::pump_genesys() {
  if (!genesys_) return;
  Status pumped = genesys_->pump(server_->core(), now_ms_);
  if (!pumped.ok()) fail("(P) protocol", "genesys: " + pumped.to_string(), {});
}

void Simulation::restart_server() {
  for (auto& device : devices_) {
    // The process is gone: requests in flight die with it; devices see their sockets close.
    if (device->alive() && device->connected()) {
      network_.close(device->connection(), now_ms_, true, 0.0);
    }
  }
  Status restarted = server_->restart();
  if (genesys_) genesys_->restart(now_ms_);
  if (!restarted.ok()) fail("(P) protocol", "server restart: " + restarted.to_string(), {});
  stats_.restarts++;
}

void Simulation::put_to_sleep(SimDevice& device) {
  device.disconnect(network_, now_ms_, "sleep");
  device.down_until_ms = now_ms_ + random_.between(20'000, 60'000);
  trace_.add(device.name() + " sleeps until t=" + std::to_string(device.down_until_ms));
  const SimUser& user = user_of(device);
  // While it sleeps: a tombstone and edits land (unless the platform is off), and the
  // horizon passes its cursor.
  Status status;
  if (options_.faults.platform > 0) {
    // The Genesys platform deletes nothing on its own (docs/genesys.md: not carried).
    if (!genesys_ || user.tenant != "acme") {
      status = platform_->delete_something(server_->core(), user, now_ms_);
    }
    for (int i = 0; status.ok() && i < 2; ++i) status = platform_step(user);
    stats_.platform_events += 3;
  }
  if (status.ok()) status = server_->core().compact(user.user_scope(), 0);
  if (status.ok()) status = server_->core().compact(user.org_scope(), 0);
  if (!status.ok()) fail("(P) protocol", "platform/compaction: " + status.to_string(), {});
  trace_.add("server compacts " + user.user_scope() + " and " + user.org_scope() + " to the head");
  stats_.sleeps++;
  stats_.compactions += 2;
}

void Simulation::restore_a_backup() {
  std::vector<SimDevice*> candidates;
  for (auto& device : devices_) {
    if (device->alive() && device->has_backup()) candidates.push_back(device.get());
  }
  if (candidates.empty()) return;
  SimDevice& device = *candidates[random_.below(candidates.size())];
  auto next_id = device.restore_backup(network_, now_ms_);
  if (!next_id.ok()) {
    fail("(P) protocol", device.name() + " restore: " + next_id.status().to_string(), {});
    return;
  }
  stats_.restores++;
  ledger_.restored(device.client_id(), *next_id, "r" + std::to_string(stats_.restores));
  device.down_until_ms = now_ms_ + random_.between(100, 5'000);
}

void Simulation::step() {
  now_ms_ += random_.between(1, kMaxStepMs);
  trace_.set_clock(step_, now_ms_);
  deliver();
  if (genesys_) genesys_->step_faults(now_ms_);
  pump_genesys();
  const FaultOptions& faults = options_.faults;

  if (random_.chance(faults.reset)) {
    SimDevice* device = random_device(true);
    if (device != nullptr && device->connected()) {
      device->disconnect(network_, now_ms_, "connection reset");
      stats_.resets++;
    }
  }
  if (random_.chance(faults.partition)) {
    SimDevice* device = random_device(false);
    if (device != nullptr && !device->partitioned) {
      device->partitioned = true;
      heal_at_[device->index()] = now_ms_ + random_.between(1'000, 20'000);
      trace_.add(device->name() +
                 " partitioned until t=" + std::to_string(heal_at_[device->index()]));
      device->disconnect(network_, now_ms_, "partition");
      stats_.partitions++;
    }
  }
  if (random_.chance(faults.kill)) {
    SimDevice* device = random_device(true);
    if (device != nullptr) {
      trace_.add(device->name() + " is killed");
      Status killed = device->kill(network_, now_ms_);
      if (!killed.ok()) fail("(P) protocol", device->name() + " kill: " + killed.to_string(), {});
      device->down_until_ms = now_ms_ + random_.between(100, 5'000);
      stats_.kills++;
    }
  }
  if (random_.chance(faults.backup)) {
    SimDevice* device = random_device(true);
    if (device != nullptr && device->other_process == nullptr) {
      Status taken = device->take_backup(ledger_.next_id(device->client_id()));
      if (!taken.ok()) fail("(P) protocol", device->name() + " backup: " + taken.to_string(), {});
      stats_.backups++;
    }
  }
  if (random_.chance(faults.restore)) restore_a_backup();
  if (random_.chance(faults.restart)) restart_server();
  if (random_.chance(faults.sleep)) {
    SimDevice* device = random_device(true);
    if (device != nullptr && device->down_until_ms <= now_ms_) put_to_sleep(*device);
  }
  if (random_.chance(faults.compact)) {
    auto scopes = world_.all_scopes();
    const std::string scope = random_.pick(scopes);
    const uint64_t keep = static_cast<uint64_t>(random_.between(0, 8));
    trace_.add("server compacts " + scope + " keeping " + std::to_string(keep));
    Status compacted = server_->core().compact(scope, keep);
    if (!compacted.ok()) fail("(P) protocol", "compaction: " + compacted.to_string(), {});
    stats_.compactions++;
  }
  if (random_.chance(faults.platform)) {
    const SimUser& user = random_.pick(world_.users);
    Status status = platform_step(user);
    if (!status.ok()) fail("(P) protocol", "platform event: " + status.to_string(), {});
    stats_.platform_events++;
  }
  if (random_.chance(faults.mutate)) {
    SimDevice* device = random_device(true);
    if (device != nullptr) {
      Status status = workload_->step(*device, now_ms_);
      if (!status.ok()) {
        fail("(P) protocol", device->name() + " mutate: " + status.to_string(),
             {"d" + std::to_string(device->index())});
      }
    }
  }
  if (Status played = blobs_->step(devices_, *server_, faults.play); !played.ok()) {
    fail("(P) protocol", "blob play: " + played.to_string(), {});
  }
  push_step();
  for (auto& device : devices_) {
    if (device->partitioned && heal_at_[device->index()] <= now_ms_) {
      device->partitioned = false;
      trace_.add(device->name() + " partition heals");
    }
    if (!device->alive() && device->down_until_ms <= now_ms_) reopen(*device);
    Status status = device->maybe_connect(network_, now_ms_);
    if (status.ok()) status = device->pump(network_, now_ms_);
    if (!status.ok()) {
      fail("(P) protocol", device->name() + " sync: " + status.to_string(),
           {"d" + std::to_string(device->index())});
      device->disconnect(network_, now_ms_, "client error");
    }
  }
}

bool Simulation::quiesce() {
  trace_.add("quiescence: faults off, partitions healed, devices woken");
  network_.calm();
  platform_->calm();
  if (genesys_) genesys_->calm(now_ms_);
  const int64_t started = now_ms_;
  const int64_t deadline = now_ms_ + options_.quiesce_budget_ms;
  for (auto& device : devices_) {
    device->partitioned = false;
    device->down_until_ms = 0;
    if (!device->alive()) reopen(*device);
  }
  while (now_ms_ < deadline) {
    trace_.set_clock(step_, now_ms_);
    deliver();
    pump_genesys();
    bool settled = network_.in_flight() == 0 && (!genesys_ || genesys_->quiet());
    for (auto& device : devices_) {
      Status status = device->maybe_connect(network_, now_ms_);
      if (status.ok()) status = device->pump(network_, now_ms_);
      if (!status.ok()) {
        fail("(P) protocol", device->name() + " sync: " + status.to_string(),
             {"d" + std::to_string(device->index())});
        device->disconnect(network_, now_ms_, "client error");
      }
      settled = settled && device->settled();
    }
    if (settled && network_.in_flight() == 0 && (!genesys_ || genesys_->quiet())) {
      stats_.quiesce_ms = now_ms_ - started;
      trace_.add("quiescent after " + std::to_string(stats_.quiesce_ms) + " ms");
      return true;
    }
    auto next = network_.next_due();
    if (genesys_) {
      auto genesys_next = genesys_->next_due();
      if (genesys_next && (!next || *genesys_next < *next)) next = genesys_next;
    }
    now_ms_ = next ? std::max(now_ms_ + 1, *next) : now_ms_ + kIdleTickMs;
  }
  std::string unsettled;
  for (auto& device : devices_) {
    if (!device->settled()) {
      auto progress = device->alive() ? device->client().progress() : SyncProgress();
      unsettled += " " + device->name() + "(" + sync_phase_name(progress.phase) + ", " +
                   std::to_string(progress.pending_mutations) + " pending" +
                   (device->connected() ? "" : ", disconnected") + ")";
    }
  }
  fail("(Q) quiescence",
       "not settled " + std::to_string(options_.quiesce_budget_ms) +
           " ms after the faults stopped:" + unsettled +
           (genesys_ && !genesys_->quiet() ? ", the Genesys adapter not quiet" : "") + ", " +
           std::to_string(network_.in_flight()) + " frames in flight",
       {});
  return false;
}

SimResult Simulation::run() {
  SimResult result;
  Status ready = setup();
  if (!ready.ok()) {
    fail("(P) protocol", "setup: " + ready.to_string(), {});
  } else {
    for (step_ = 1; step_ <= static_cast<uint64_t>(std::max(0, options_.steps)); ++step_) step();
    stats_.steps = static_cast<uint64_t>(std::max(0, options_.steps));
    if (quiesce()) {
      for (auto& violation : check_invariants(devices_, *server_, world_, ledger_)) {
        fail(violation.invariant, violation.detail, violation.terms);
      }
      if (genesys_) {
        for (const std::string& difference : genesys_->check(server_->core().store())) {
          fail("(M) mirror = platform", difference, {});
        }
        for (const std::string& difference : genesys_->check_sends()) {
          fail("(S) each send at most once", difference, {});
        }
      }
      if (options_.damage_cached_blobs) blobs_->damage_caches(devices_);
      for (auto& violation : blobs_->check(devices_, *server_)) {
        fail(violation.invariant, violation.detail, violation.terms);
      }
    }
  }
  const NetworkStats& net = network_.stats();
  stats_.frames = net.frames;
  stats_.drops = net.drops;
  stats_.ghosts = net.ghosts;
  stats_.connections = net.connections;
  if (blobs_) {
    stats_.blob_plays = blobs_->stats().plays;
    stats_.blob_downloads_cut = blobs_->stats().downloads_cut;
    stats_.blob_resumed = blobs_->stats().resumed;
  }
  if (workload_) {
    stats_.mutations = workload_->stats().mutations;
    stats_.local_refusals = workload_->stats().local_refusals;
  }
  for (const auto& [key, record] : ledger_.mutations()) stats_.server_rejections += record.rejected;
  stats_.words_typed = ledger_.words_typed();
  stats_.push_wakes = push_.stats().wakes;
  stats_.push_logouts = push_.stats().logouts;
  if (genesys_) {
    const GenesysSimStats g = genesys_->stats();
    stats_.genesys_requests = g.requests;
    stats_.genesys_faults = g.dropped + g.lost_answers + g.throttled + g.unavailable + g.missed;
    stats_.genesys_socket_faults = g.socket_drops + g.expiries;
    stats_.genesys_events = g.events;
    stats_.genesys_gaps = g.gaps;
    stats_.genesys_sends = g.sends;
    stats_.genesys_sends_accepted = g.sends_accepted;
    stats_.genesys_sends_refused = g.sends_refused;
    stats_.genesys_sends_found = g.sends_found;
    stats_.genesys_recordings = g.recordings;
    stats_.genesys_media_faults = g.media_faults;
  }

  result.violations = violations_;
  result.stats = stats_;
  result.trace_hash = trace_.hash();
  result.trace_events = trace_.count();
  if (!result.ok()) {
    std::vector<std::string> terms;
    for (const auto& violation : violations_) {
      terms.insert(terms.end(), violation.terms.begin(), violation.terms.end());
    }
    result.trace = trace_.relevant(terms, kTraceTail, kTraceLimit);
  }
  // Close every file before removing the directory.
  devices_.clear();
  server_.reset();
  if (!dir_.empty()) {
    if (!options_.keep_files && (result.ok() || !options_.keep_on_failure)) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    } else {
      result.dir = dir_;
    }
  }
  return result;
}

}  // namespace

void SimStats::add(const SimStats& other) {
  steps += other.steps;
  mutations += other.mutations;
  local_refusals += other.local_refusals;
  server_rejections += other.server_rejections;
  words_typed += other.words_typed;
  frames += other.frames;
  drops += other.drops;
  ghosts += other.ghosts;
  connections += other.connections;
  resets += other.resets;
  partitions += other.partitions;
  kills += other.kills;
  backups += other.backups;
  restores += other.restores;
  renumbered += other.renumbered;
  restarts += other.restarts;
  sleeps += other.sleeps;
  compactions += other.compactions;
  platform_events += other.platform_events;
  blob_plays += other.blob_plays;
  blob_downloads_cut += other.blob_downloads_cut;
  blob_resumed += other.blob_resumed;
  push_wakes += other.push_wakes;
  push_logouts += other.push_logouts;
  genesys_requests += other.genesys_requests;
  genesys_faults += other.genesys_faults;
  genesys_socket_faults += other.genesys_socket_faults;
  genesys_events += other.genesys_events;
  genesys_gaps += other.genesys_gaps;
  genesys_sends += other.genesys_sends;
  genesys_sends_accepted += other.genesys_sends_accepted;
  genesys_sends_refused += other.genesys_sends_refused;
  genesys_sends_found += other.genesys_sends_found;
  genesys_recordings += other.genesys_recordings;
  genesys_media_faults += other.genesys_media_faults;
  quiesce_ms = std::max(quiesce_ms, other.quiesce_ms);
}

SimResult run_simulation(const SimOptions& options) {
  Simulation simulation(options);
  return simulation.run();
}

}  // namespace outpost::sim

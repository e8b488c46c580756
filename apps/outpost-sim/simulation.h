// One deterministic run: N devices of M users in two tenants, the real SyncClient,
// Replica and ServerCore over real SQLite files in a temporary directory, a simulated
// clock and the seeded network of network.h. K steps of workload, platform events and
// faults, then quiescence (faults off, everyone healed, woken and reconnected, run until
// every device is settled) and the checker. Everything is drawn from one seed.
// Thread rules: run_simulation is a plain function; runs share nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/outpost-sim/checker.h"
#include "apps/outpost-sim/network.h"

namespace outpost::sim {

// Per-step fault probabilities (each step draws each of them once).
struct FaultOptions {
  NetworkFaults network;
  double reset = 0.01;       // a device's connection is reset
  double partition = 0.004;  // a device is cut off (heals after 1-20 s)
  double kill = 0.008;       // a device is killed (reopened from its file after 0.1-5 s)
  double restart = 0.003;    // the server restarts
  double sleep = 0.004;      // a device sleeps 20-60 s while its scopes are compacted past it
  double compact = 0.01;     // a random scope is compacted, keeping 0-8 log entries
  double platform = 0.12;    // the platform makes an edit for a random user
  double mutate = 0.35;      // a random device's user does something
  double play = 0.05;        // a user plays a voicemail (its audio fetched, maybe cut off)
  double backup = 0.01;      // a device's replica files are copied (a phone backup)
  // A device with a backup is killed and its files replaced by that copy (restored phone,
  // decision 042): what was typed after the copy and not yet sent is gone with it, what
  // is typed after the restore must reach the server.
  double restore = 0.003;
};

struct SimOptions {
  uint64_t seed = 1;
  int devices = 4;
  int users = 3;
  // The first N devices run a second process on their replica file (an app and its
  // extension): its own Replica, SyncClient and connection, acting at any step like a
  // device of its own. Killing one process leaves the other running on the file.
  int two_process_devices = 0;
  // Commits' changes travel with the poke (decision 032); false: plain pokes only.
  bool carried = true;
  int steps = 400;
  FaultOptions faults;
  bool verbose = false;
  // Where run directories go; default /dev/shm when writable (SQLite's fsyncs cost
  // nothing there: the simulated kills are in-process), else $TMPDIR, else /tmp.
  std::string dir;
  bool keep_files = false;      // keep the run's SQLite files even when it passes
  bool keep_on_failure = true;  // keep them when it fails (the path is printed)
  // Checker self-test (--lossy-restart): each server restart loses every write since the
  // previous one. The invariants must then fail.
  bool lossy_server_restart = false;
  // Checker self-test (--forget-prints): before each push the server's window of
  // mutation prints is emptied, so a restored device's reused ids pass as retries
  // (decision 042's bug). Invariant (1) or (3) must then fail.
  bool forget_prints = false;
  // Checker self-test (--damage-blobs): before the check, one byte is appended to every
  // blob in the devices' caches (bypassing the cache). Invariant (6) must then fail.
  bool damage_cached_blobs = false;
  // How adapters/sim_platform.h runs: one action per platform step, its web edits typing
  // unique words (default), or on the clock as outpost-server runs it (--platform-kind sim).
  bool lead_sim_platform = false;
  // --platform-kind genesys (decision 038): tenant acme mirrored by the Genesys adapter's
  // sans-I/O core from apps/outpost-sim/genesys_model.h over a seeded network; the mirror
  // is checked against the platform at quiescence (M).
  bool genesys = false;
  // Checker self-test (--break-gap-reconcile): the core skips its reconcile after a gap.
  bool break_gap_reconcile = false;
  // Checker self-test (genesys, decision 056): the core does not list the external contacts.
  bool break_contacts_reconcile = false;
  // Checker self-test (--break-send-journal): the core's send journal forgets every mark;
  // invariant (S) must then fail (decision 055).
  bool break_send_journal = false;
  // Checker self-test (--break-recordings, decision 064): the core hashes other bytes than
  // the platform's voicemail recording; (M) must then fail.
  bool break_recordings = false;
  // Checker self-test (--break-draft-retry, decision 062): the core retries a draft PUT
  // blind (the REST retry rules, no read first); the web-word check must fail.
  bool break_draft_retry = false;
  // Checker self-test (--break-listing-deletes, decision 063): the Genesys core's complete
  // org listings delete nothing; (M) must fail once the web deleted a contact or response.
  bool break_listing_deletes = false;
  // Checker self-test (--break-voicemail-listing-deletes, decision 063): the Genesys core's
  // complete voicemail listings delete nothing; (M) must fail once a voicemail's delete
  // notification was missed (or on the demo voicemails, never on the platform).
  bool break_voicemail_listing_deletes = false;
  // --genesys-channel-agents: agents per notification channel of the Genesys core (250 as in
  // production; 1 gives every agent a channel of its own, gaps one channel at a time).
  int genesys_channel_agents = 250;
  // Quiescence must settle within this many simulated milliseconds.
  int64_t quiesce_budget_ms = 10 * 60 * 1000;
};

struct SimStats {
  uint64_t steps = 0;
  uint64_t mutations = 0;
  uint64_t local_refusals = 0;
  uint64_t server_rejections = 0;
  uint64_t words_typed = 0;
  uint64_t frames = 0;
  uint64_t drops = 0;
  uint64_t ghosts = 0;
  uint64_t connections = 0;
  uint64_t resets = 0;
  uint64_t partitions = 0;
  uint64_t kills = 0;
  uint64_t backups = 0;
  uint64_t restores = 0;    // devices restored from a backup
  uint64_t renumbered = 0;  // pending mutations renumbered after a refusal
  uint64_t restarts = 0;
  uint64_t sleeps = 0;
  uint64_t compactions = 0;
  uint64_t platform_events = 0;
  uint64_t blob_plays = 0;
  uint64_t blob_downloads_cut = 0;  // a play killed mid-download
  uint64_t blob_resumed = 0;        // a download resumed from its partial
  int64_t quiesce_ms = 0;           // simulated time quiescence took
  uint64_t push_wakes = 0;          // background pushes the push actor sent
  uint64_t push_logouts = 0;        // inactivity logouts (invariant (5) checked at each)
  // --platform-kind genesys: the adapter's requests, its faults, its events and gaps.
  uint64_t genesys_requests = 0;
  uint64_t genesys_faults = 0;  // requests lost, answers lost, 429s, 503s, notifications missed
  uint64_t genesys_socket_faults = 0;  // sockets dropped, channels expired
  uint64_t genesys_events = 0;
  uint64_t genesys_gaps = 0;
  // Sends (decision 055): POSTs the platform acted on, sends accepted, refused, and found by
  // a retry's look-up.
  uint64_t genesys_sends = 0, genesys_sends_accepted = 0, genesys_sends_refused = 0,
           genesys_sends_found = 0;
  // Voicemail recordings the core hashed, and download links faulted (decision 064).
  uint64_t genesys_recordings = 0, genesys_media_faults = 0;
  void add(const SimStats& other);
};

struct SimResult {
  std::vector<Violation> violations;
  SimStats stats;
  uint64_t trace_hash = 0;
  uint64_t trace_events = 0;
  std::vector<std::string> trace;  // for a failing run: the events that matter
  std::string dir;                 // kept on failure
  bool ok() const { return violations.empty(); }
};

SimResult run_simulation(const SimOptions& options);

}  // namespace outpost::sim

#include "apps/outpost-sim/sim_cli.h"

#include <charconv>

namespace outpost::sim {
namespace {

constexpr uint64_t kMaxSweep = 1'000'000;
constexpr int kMaxDevices = 64;
constexpr int kMaxUsers = 64;
constexpr int kMaxSteps = 10'000'000;

Result<uint64_t> parse_u64(const std::string& flag, const std::string& text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return error(ErrorCode::kInvalidArgument, flag + ": not a number: '" + text + "'");
  }
  return value;
}

Result<int> parse_int(const std::string& flag, const std::string& text, int lo, int hi) {
  OUTPOST_ASSIGN_OR_RETURN(uint64_t value, parse_u64(flag, text));
  if (value < static_cast<uint64_t>(lo) || value > static_cast<uint64_t>(hi)) {
    return error(ErrorCode::kInvalidArgument,
                 flag + " must be in " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  return static_cast<int>(value);
}

Result<double> parse_probability(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  double value = strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(value >= 0.0 && value <= 1.0)) {
    return error(ErrorCode::kInvalidArgument,
                 flag + ": a probability in [0, 1], not '" + text + "'");
  }
  return value;
}

}  // namespace

std::string cli_usage() {
  return R"(usage: outpost-sim [--seed S | --seeds A..B] [--devices N] [--users M] [--steps K]
                   [fault knobs] [--verbose] [--no-shrink] [--dir DIR] [--keep]

Runs the deterministic simulation of devices, the network and the server (docs/reliability.md).
A failing seed prints the violated invariant, a minimal trace and the kept run directory;
the exit code is 1 when any seed fails.

  --seed S            one run (default 1)
  --seeds A..B        every seed from A to B
  --devices N         devices (default 4), spread round-robin over the users
  --users M           users (default 3), alternating between tenants acme and globex
  --two-process N     the first N devices run two processes on one replica file (default 0)
  --steps K           steps before quiescence (default 400)
  --verbose           print the trace as it happens
  --no-shrink         do not look for the smallest failing step count
  --dir DIR           where run directories go (default /dev/shm, else $TMPDIR or /tmp)
  --keep              keep the run directory even when the run passes
  --plain-pokes       commits' changes do not travel with the poke (decision 032); by
                      default every stream gets them and each device checks their base
fault knobs (probabilities; per frame for the network, else per step):
  --drop P (0.01)  --duplicate P (0.02)  --straggle P (0.3)  --reset P (0.01)
  --partition P (0.004)  --kill P (0.008)  --restart P (0.003)  --sleep P (0.004)
  --compact P (0.01)  --platform P (0.12)  --mutate P (0.35)
  --play P (0.05)     a user plays a voicemail: its audio fetched, maybe cut off (blobs)
  --backup P (0.01)   a device's replica files are copied (a phone backup)
  --restore P (0.003) a device with a backup is restored from it (decision 042)
  --no-faults         all fault probabilities 0 (the workload and the platform still run)
  --platform-kind K   how adapters/sim_platform.h runs: events (default: one action per
                      platform step, the web typing unique words) or sim (on the clock,
                      as outpost-server --upstream sim runs it, polled on platform steps);
                      genesys: tenant acme is mirrored by the Genesys adapter's sans-I/O
                      core from an in-process Genesys Cloud over a seeded network of its
                      own (requests lost, late, 429, 503, answers lost, sockets dropped,
                      notifications missed, channels expired; decision 038), and the
                      mirror must equal the platform at quiescence, each send (email
                      reply, message, callback) reach it at most once (S)
  --genesys-channel-agents N  agents per notification channel of the Genesys core (default
                      250 as in production; 1: a channel per agent, gaps one at a time)
  --break-gap-reconcile  checker self-test (genesys): the adapter does not reconcile after
                      a notification gap; the mirror check (M) must fail
  --break-contacts-reconcile  checker self-test (genesys): the adapter does not list the
                      org's external contacts; the mirror check (M) must fail
  --break-send-journal  checker self-test (genesys): the adapter's send journal forgets
                      every mark, so a retry after a lost answer sends again; the
                      at-most-once check (S) must fail
  --break-recordings  checker self-test (genesys): the adapter hashes other bytes than a
                      voicemail's recording; the mirror check (M) must fail
  --break-draft-retry  checker self-test (genesys): the adapter retries an email draft PUT
                      blind, long after its read; a web word it writes over must be
                      reported (M)
  --break-listing-deletes  checker self-test (genesys): the adapter's complete org
                      listings delete nothing (decision 063); the mirror check (M) must
                      fail once the web deleted a contact or response
  --break-voicemail-listing-deletes  checker self-test (genesys): the adapter's complete
                      voicemail listings delete nothing (decision 063); (M) must fail once
                      a voicemail's delete notification was missed
  --lossy-restart     checker self-test: a server restart forgets every write since the
                      previous restart (a lying disk); the invariants must fail
  --forget-prints     checker self-test: the server's mutation prints are emptied before
                      every push, so a restored device's reused ids pass as retries
                      (decision 042's bug); invariant (1) or (3) must fail
  --damage-blobs      checker self-test: the devices' cached blobs are changed behind the
                      cache before the check; invariant (6) must fail
)";
}

Result<CliOptions> parse_cli(const std::vector<std::string>& args) {
  CliOptions cli;
  FaultOptions& faults = cli.sim.faults;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= args.size()) return error(ErrorCode::kInvalidArgument, flag + " needs a value");
      return args[++i];
    };
    auto probability = [&](double& out) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(std::string text, value());
      OUTPOST_ASSIGN_OR_RETURN(out, parse_probability(flag, text));
      return Status::Ok();
    };
    if (flag == "--help" || flag == "-h") {
      cli.help = true;
    } else if (flag == "--seed") {
      OUTPOST_ASSIGN_OR_RETURN(std::string text, value());
      OUTPOST_ASSIGN_OR_RETURN(cli.first_seed, parse_u64(flag, text));
      cli.last_seed = cli.first_seed;
    } else if (flag == "--seeds") {
      OUTPOST_ASSIGN_OR_RETURN(std::string text, value());
      size_t dots = text.find("..");
      if (dots == std::string::npos) {
        return error(ErrorCode::kInvalidArgument, "--seeds takes A..B, not '" + text + "'");
      }
      OUTPOST_ASSIGN_OR_RETURN(cli.first_seed, parse_u64(flag, text.substr(0, dots)));
      OUTPOST_ASSIGN_OR_RETURN(cli.last_seed, parse_u64(flag, text.substr(dots + 2)));
      if (cli.last_seed < cli.first_seed || cli.last_seed - cli.first_seed >= kMaxSweep) {
        return error(ErrorCode::kInvalidArgument, "--seeds A..B needs A <= B and at most " +
                                                      std::to_string(kMaxSweep) + " seeds");
      }
    } else if (flag == "--devices") {
      OUTPOST_ASSIGN_OR_RETURN(std::string text, value());
      OUTPOST_ASSIGN_OR_RETURN(cli.sim.devices, parse_int(flag, text, 1, kMaxDevices));
    } else if (flag == "--two-process") {
      OUTPOST_ASSIGN_OR_RETURN(std::string text, value());
      OUTPOST_ASSIGN_OR_RETURN(cli.sim.two_process_devices, parse_int(flag, text, 0, kMaxDevices));
    } else if (flag == "--users") {
      OUTPOST_ASSIGN_OR_RETURN(std::string text, value());
      OUTPOST_ASSIGN_OR_RETURN(cli.sim.users, parse_int(flag, text, 1, kMaxUsers));
    } else if (flag == "--steps") {
      OUTPOST_ASSIGN_OR_RETURN(std::string text, value());
      OUTPOST_ASSIGN_OR_RETURN(cli.sim.steps, parse_int(flag, text, 0, kMaxSteps));
    } else if (flag == "--verbose") {
      cli.sim.verbose = true;
    } else if (flag == "--plain-pokes") {
      cli.sim.carried = false;
    } else if (flag == "--no-shrink") {
      cli.shrink = false;
    } else if (flag == "--platform-kind") {
      OUTPOST_ASSIGN_OR_RETURN(std::string kind, value());
      if (kind != "sim" && kind != "events" && kind != "genesys") {
        return error(ErrorCode::kInvalidArgument,
                     "--platform-kind is 'events', 'sim' or 'genesys'");
      }
      cli.sim.lead_sim_platform = kind == "sim";
      cli.sim.genesys = kind == "genesys";
    } else if (flag == "--break-gap-reconcile") {
      cli.sim.break_gap_reconcile = true;
    } else if (flag == "--break-contacts-reconcile") {
      cli.sim.break_contacts_reconcile = true;
    } else if (flag == "--break-send-journal") {
      cli.sim.break_send_journal = true;
    } else if (flag == "--break-recordings") {
      cli.sim.break_recordings = true;
    } else if (flag == "--break-draft-retry") {
      cli.sim.break_draft_retry = true;
    } else if (flag == "--break-listing-deletes") {
      cli.sim.break_listing_deletes = true;
    } else if (flag == "--break-voicemail-listing-deletes") {
      cli.sim.break_voicemail_listing_deletes = true;
    } else if (flag == "--forget-prints") {
      cli.sim.forget_prints = true;
    } else if (flag == "--genesys-channel-agents") {
      OUTPOST_ASSIGN_OR_RETURN(std::string text, value());
      OUTPOST_ASSIGN_OR_RETURN(uint64_t agents, parse_u64(flag, text));
      if (agents < 1 || agents > 250) {
        return error(ErrorCode::kInvalidArgument, "--genesys-channel-agents is 1..250");
      }
      cli.sim.genesys_channel_agents = static_cast<int>(agents);
    } else if (flag == "--lossy-restart") {
      cli.sim.lossy_server_restart = true;
    } else if (flag == "--damage-blobs") {
      cli.sim.damage_cached_blobs = true;
    } else if (flag == "--keep") {
      cli.sim.keep_files = true;
    } else if (flag == "--dir") {
      OUTPOST_ASSIGN_OR_RETURN(cli.sim.dir, value());
    } else if (flag == "--drop") {
      OUTPOST_RETURN_IF_ERROR(probability(faults.network.drop));
    } else if (flag == "--duplicate") {
      OUTPOST_RETURN_IF_ERROR(probability(faults.network.duplicate));
    } else if (flag == "--straggle") {
      OUTPOST_RETURN_IF_ERROR(probability(faults.network.straggle));
    } else if (flag == "--reset") {
      OUTPOST_RETURN_IF_ERROR(probability(faults.reset));
    } else if (flag == "--partition") {
      OUTPOST_RETURN_IF_ERROR(probability(faults.partition));
    } else if (flag == "--backup") {
      OUTPOST_RETURN_IF_ERROR(probability(faults.backup));
    } else if (flag == "--restore") {
      OUTPOST_RETURN_IF_ERROR(probability(faults.restore));
    } else if (flag == "--kill") {
      OUTPOST_RETURN_IF_ERROR(probability(faults.kill));
    } else if (flag == "--restart") {
      OUTPOST_RETURN_IF_ERROR(probability(faults.restart));
    } else if (flag == "--sleep") {
      OUTPOST_RETURN_IF_ERROR(probability(faults.sleep));
    } else if (flag == "--compact") {
      OUTPOST_RETURN_IF_ERROR(probability(faults.compact));
    } else if (flag == "--platform") {
      OUTPOST_RETURN_IF_ERROR(probability(faults.platform));
    } else if (flag == "--mutate") {
      OUTPOST_RETURN_IF_ERROR(probability(faults.mutate));
    } else if (flag == "--play") {
      OUTPOST_RETURN_IF_ERROR(probability(faults.play));
    } else if (flag == "--no-faults") {
      faults.network.drop = faults.network.duplicate = faults.network.straggle = 0;
      faults.reset = faults.partition = faults.kill = faults.restart = faults.sleep = 0;
      faults.backup = faults.restore = 0;
      faults.compact = 0;
    } else {
      return error(ErrorCode::kInvalidArgument, "unknown flag '" + flag + "' (see --help)");
    }
  }
  return cli;
}

}  // namespace outpost::sim

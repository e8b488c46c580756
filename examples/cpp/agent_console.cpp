// A minimal agent console in C++ over liboutpost (find_package(outpost) -> outpost::outpost):
// opens the replica, syncs, shows today's journal and voicemail, saves a draft offline and
// sees it sync. Usage: agent_console SERVER_URL TOKEN REPLICA_FILE [DRAFT_TEXT]
#include <outpost/outpost.hpp>

#include <cstdio>
#include <iostream>
#include <string>

namespace {

bool check(const outpost::sdk::Error& error, const char* what) {
  if (!error.ok()) std::cerr << what << ": " << error.to_string() << "\n";
  return error.ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: " << argv[0] << " SERVER_URL TOKEN REPLICA_FILE [DRAFT_TEXT]\n";
    return 2;
  }
  const std::string url = argv[1], token = argv[2], path = argv[3];
  const std::string body = argc > 4 ? argv[4] : "Dear Bo, see you tomorrow.";
  std::cout << "outpost " << outpost_version() << " (ABI " << outpost_abi_version() << ")\n";

  outpost_agent_options options;
  outpost_agent_options_init(&options);
  options.server_url = url.data();
  options.server_url_len = url.size();
  options.token = token.data();
  options.token_len = token.size();
  options.replica_path = path.data();
  options.replica_path_len = path.size();
  outpost::sdk::Agent agent;
  if (!check(outpost::sdk::Agent::open(options, agent), "open")) return 1;
  outpost::sdk::Replica replica = agent.replica();

  outpost_sync_summary summary{};
  if (!check(agent.sync_for(30'000, &summary), "sync")) return 1;
  std::cout << "synced: " << summary.changes_received << " changes\n";
  std::string journal, voicemail;
  if (!check(replica.query(R"({"collection": "interaction", "order_by": "started_ms",
                               "descending": true, "limit": 5})",
                           journal),
             "journal") ||
      !check(replica.query(R"({"collection": "voicemail", "limit": 5})", voicemail), "voicemail")) {
    return 1;
  }
  std::cout << "today's journal: " << journal.substr(0, 300) << "\n";
  std::cout << "voicemail: " << voicemail.substr(0, 300) << "\n";

  // sync_for started and stopped the agent: this save is offline, durable on return.
  uint64_t pending = 0;
  if (!check(replica.mutate("save_draft",
                            R"({"draft": {"id": "console-cpp", "body": ")" + body + "\"}}"),
             "save_draft") ||
      !check(replica.pending_count(pending), "pending")) {
    return 1;
  }
  std::cout << "draft saved offline: " << pending << " pending\n";
  if (!check(agent.sync_for(30'000), "sync") || !check(replica.pending_count(pending), "pending")) {
    return 1;
  }
  if (pending != 0) return 1;
  std::cout << "draft synced\n";
  return 0;
}

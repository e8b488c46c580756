// The server's mirror of the contact-center platform: applies the platform's events to the
// store (interactions routed and ended, voicemail, web-interface edits of drafts and
// notepads merged three-way, presence changes) and runs the domain's clock-driven rules
// (the Nordic auto-ready, the journal window moving past midnight). Sans-I/O: the caller
// passes events and the current time; apps/outpost-server drives it from an Upstream.
// Thread rules: safe to call from several threads (each call is one store transaction);
// the journal-window memory is guarded.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine/platform.h"
#include "engine/server_core.h"
#include "engine/status.h"
#include "outpost/upstream.pb.h"

namespace outpost {

struct DomainTickReport {
  int auto_ready_fired = 0;
  int interactions_expired = 0;
};

class DomainServer {
 public:
  explicit DomainServer(ServerCore& core) : core_(core) {}

  // Applies one platform event in one transaction. Errors: kInvalidArgument (no tenant, no
  // user for a user record, an empty event), store errors.
  Status apply(const upstream::Event& event, int64_t now_ms);

  // Fires the agents' due auto-readies (through the core's platform) and removes the
  // interactions that left the journal window (org_setting journal_days, default 1: today).
  Result<DomainTickReport> tick(const std::vector<AgentRef>& agents, int64_t now_ms);

 private:
  Status apply_presence(MutationContext& ctx, const upstream::PresenceChanged& change);
  Result<int> expire_journal(const AgentRef& agent, int64_t now_ms);

  ServerCore& core_;
  std::mutex mutex_;
  std::map<std::string, int64_t> journal_checked_day_;  // "tenant/user" -> local day
};

}  // namespace outpost

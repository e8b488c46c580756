// Who exists in a simulated run and what the server starts with: M users spread over two
// tenants, the demo contact-center data of each (adapters/demo_data.h), and one private
// record per user scope and per org scope whose key exists nowhere else, so a leak
// across users or tenants (invariant 4) is visible by key, not only by content.
// Thread rules: plain data and functions.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "apps/outpost-sim/ledger.h"
#include "engine/scope.h"
#include "engine/server_core.h"

namespace outpost::sim {

struct SimUser {
  std::string tenant;
  std::string user;
  std::string user_scope() const { return ScopeName::format_user(tenant, user); }
  std::string org_scope() const { return ScopeName::format_org(tenant); }
};

struct World {
  std::vector<std::string> tenants;
  std::vector<SimUser> users;
  // Draft ids the devices of a user type into (shared, so their edits meet).
  std::vector<std::string> draft_ids;
  // "<user scope>|<draft id>" -> the conversation a new draft replies to (genesys mode: the
  // model's email conversations, decision 057); absent: "conversation-1".
  std::map<std::string, std::string> draft_interactions;
  // scope -> "collection/key" of records planted in that scope only.
  std::map<std::string, std::set<std::string>> private_keys;

  std::vector<std::string> all_scopes() const;
};

// `users` users, alternating between the tenants "acme" and "globex".
World make_world(int users);

// Writes the starting data through ServerCore::write.
Status seed_world(ServerCore& core, World& world, int64_t now_ms);

// Text records are word lists: typed words are unique tokens ("d3n17", "web5").
std::vector<std::string> split_words(const std::string& text);
std::string join_words(const std::vector<std::string>& words);
// "draft|<scope>|<id>", "note|<scope>|<interaction id>": a TextEdit's record.
std::string text_record(const std::string& kind, const std::string& scope, const std::string& id);

}  // namespace outpost::sim

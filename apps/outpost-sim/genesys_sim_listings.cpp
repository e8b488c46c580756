// The genesys mode's check of the listings the core mirrors (decision 056): every user's
// queue memberships, the org's external contacts and canned responses, on the server as the
// platform has them at quiescence (each platform entity decoded as the adapter decodes it,
// so the comparison is of the records the mirror should hold), and none on the server that
// the platform no longer has (decision 063; the demo data's too: the platform is the only
// source of these collections), nor an agent's voicemail the platform never had. A fresh
// core is told the store's records and voicemails first, as the production server tells
// its core.
#include "adapters/genesys/genesys_json.h"
#include "apps/outpost-sim/genesys_sim.h"
#include "engine/scope.h"
#include "outpost/domain.pb.h"

namespace outpost::sim {

namespace d = outpost::domain;
namespace g = outpost::genesys;

namespace {

constexpr uint32_t kManifestPage = 500;

// The keys of `collection` in the store's `scope`.
Result<std::vector<std::string>> stored_keys(ServerStore& store, const std::string& scope,
                                             const std::string& collection) {
  std::vector<std::string> keys;
  std::string after;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(auto page,
                             store.read_manifest(scope, collection, after, kManifestPage));
    bool more = false;
    for (const KeyVersion& entry : page) {
      if (entry.collection != collection) break;
      keys.push_back(entry.key);
      after = entry.key;
      more = true;
    }
    if (!more || page.size() < kManifestPage) return keys;
  }
}

}  // namespace

Status SimGenesys::seed_org_records(ServerCore& core) {
  org_records_seeded_ = true;
  const std::string org = ScopeName::format_org(tenant_);
  for (const char* collection : {"contact", "canned_response"}) {
    OUTPOST_ASSIGN_OR_RETURN(auto keys, stored_keys(core.store(), org, collection));
    for (const std::string& key : keys) core_->org_record_known(collection, key);
  }
  // The agents' voicemails too (decision 063: one deleted while the server was down goes).
  for (const std::string& user : users_) {
    OUTPOST_ASSIGN_OR_RETURN(
        auto keys, stored_keys(core.store(), ScopeName::format_user(tenant_, user), "voicemail"));
    for (const std::string& key : keys) core_->voicemail_known(user, key);
  }
  return Status::Ok();
}

void SimGenesys::check_listings(ServerStore& store, std::vector<std::string>& out) const {
  auto get = [&](const std::string& scope, const std::string& collection,
                 const std::string& key) -> std::optional<std::string> {
    auto stored = store.get(scope, collection, key);
    if (!stored.ok() || !*stored) return std::nullopt;
    return (*stored)->body;
  };
  for (const std::string& user : users_) {
    for (const auto& [queue, joined] : model_.queue_memberships(user)) {
      d::Queue q;
      auto body = get(ScopeName::format_user(tenant_, user), "queue", queue);
      if (!body || !q.ParseFromString(*body)) {
        out.push_back(user + ": queue " + queue + " is not on the server");
      } else if (q.joined() != joined) {
        out.push_back(user + ": queue " + queue + (joined ? " joined" : " left") +
                      " on the platform, not on the server");
      }
    }
  }
  // An agent's voicemails on the server the platform never had (the demo data's): the
  // agent's complete voicemail listing deletes them (decision 063; those it deleted are
  // reported by check_mirror as "deleted, still on the server").
  std::set<std::string> platform_voicemails;
  for (const ModelVoicemail& v : model_.voicemails()) platform_voicemails.insert(v.id);
  for (const std::string& user : users_) {
    auto keys = stored_keys(store, ScopeName::format_user(tenant_, user), "voicemail");
    if (!keys.ok()) {
      out.push_back(user + ": the server's voicemail keys: " + keys.status().to_string());
      continue;
    }
    size_t never = 0;
    std::string first;
    for (const std::string& key : *keys) {
      if (platform_voicemails.count(key) != 0) continue;
      if (never++ == 0) first = key;
    }
    if (never > 0) {
      out.push_back(user + ": " + std::to_string(never) +
                    " voicemails on the server never on the platform (first: " + first + ")");
    }
  }
  const std::string org = ScopeName::format_org(tenant_);
  size_t missing = 0, stale = 0, deleted = 0, never = 0;
  std::string first, first_deleted;
  auto differs = [&](const std::string& what, bool present, bool equal) {
    if (present && equal) return;
    ++(present ? stale : missing);
    if (first.empty()) first = what + (present ? " differs" : " is missing");
  };
  std::set<std::string> platform_contacts, platform_responses;
  for (const auto& entity : model_.contact_entities()) {
    auto want = g::decode_contact(boost::json::serialize(entity));
    if (!want.ok()) continue;
    platform_contacts.insert(want->id());
    d::Contact have;
    auto body = get(org, "contact", want->id());
    const bool present = body && have.ParseFromString(*body);
    differs("contact " + want->id(), present,
            have.last_name() == want->last_name() && have.work_email() == want->work_email() &&
                have.modified_ms() == want->modified_ms());
  }
  for (const auto& entity : model_.response_entities()) {
    auto want = g::decode_response(boost::json::serialize(entity));
    if (!want.ok()) continue;
    platform_responses.insert(want->id());
    d::CannedResponse have;
    auto body = get(org, "canned_response", want->id());
    const bool present = body && have.ParseFromString(*body);
    differs("canned response " + want->id(), present,
            have.text() == want->text() && have.title() == want->title());
  }
  // What the platform no longer has (or never had) is not on the server either.
  for (const auto& [collection, platform] : {std::pair{"contact", &platform_contacts},
                                             std::pair{"canned_response", &platform_responses}}) {
    auto keys = stored_keys(store, org, collection);
    if (!keys.ok()) {
      out.push_back("org: the server's " + std::string(collection) +
                    " keys: " + keys.status().to_string());
      continue;
    }
    for (const std::string& key : *keys) {
      if (platform->count(key) != 0) continue;
      const std::string what = std::string(collection) + " " + key;
      if (model_.org_deleted().count(key) != 0) {
        ++deleted;
        if (first_deleted.empty()) first_deleted = what;
      } else {
        ++never;  // the demo data's: never on the platform
        if (first.empty()) first = what + " was never on the platform";
      }
    }
  }
  if (deleted > 0) {
    out.push_back("org: " + std::to_string(deleted) +
                  " contacts or responses the platform deleted still on the server (first: " +
                  first_deleted + ")");
  }
  if (missing + stale + never > 0) {
    out.push_back("org: " + std::to_string(missing) + " contacts or responses missing, " +
                  std::to_string(stale) + " stale, " + std::to_string(never) +
                  " on the server never on the platform (first: " + first + ")");
  }
}

}  // namespace outpost::sim

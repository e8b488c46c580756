// The genesys mode's check of the listings the core mirrors (decision 056): every user's
// queue memberships, the org's external contacts and canned responses, on the server as the
// platform has them at quiescence (each platform entity decoded as the adapter decodes it,
// so the comparison is of the records the mirror should hold).
#include "adapters/genesys/genesys_json.h"
#include "apps/outpost-sim/genesys_sim.h"
#include "engine/scope.h"
#include "outpost/domain.pb.h"

namespace outpost::sim {

namespace d = outpost::domain;
namespace g = outpost::genesys;

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
  const std::string org = ScopeName::format_org(tenant_);
  size_t missing = 0, stale = 0;
  std::string first;
  auto differs = [&](const std::string& what, bool present, bool equal) {
    if (present && equal) return;
    ++(present ? stale : missing);
    if (first.empty()) first = what + (present ? " differs" : " is missing");
  };
  for (const auto& entity : model_.contact_entities()) {
    auto want = g::decode_contact(boost::json::serialize(entity));
    if (!want.ok()) continue;
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
    d::CannedResponse have;
    auto body = get(org, "canned_response", want->id());
    const bool present = body && have.ParseFromString(*body);
    differs("canned response " + want->id(), present,
            have.text() == want->text() && have.title() == want->title());
  }
  if (missing + stale > 0) {
    out.push_back("org: " + std::to_string(missing) + " contacts or responses missing, " +
                  std::to_string(stale) + " stale on the server (first: " + first + ")");
  }
}

}  // namespace outpost::sim

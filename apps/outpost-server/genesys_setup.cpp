#include "apps/outpost-server/genesys_setup.h"

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "apps/outpost-server/upstream_loop.h"

namespace outpost::server_app {
namespace {

Status invalid(const std::string& message) {
  return error(ErrorCode::kInvalidArgument, message);
}

Status read_credentials_file(const std::string& path, genesys::RestOptions& rest) {
  std::ifstream in(path);
  if (!in) return invalid("cannot read the Genesys credentials file " + path);
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto value = boost::json::parse(text.str(), ec);
  const auto* obj = !ec && value.is_object() ? &value.as_object() : nullptr;
  const auto* id = obj ? obj->if_contains("client_id") : nullptr;
  const auto* secret = obj ? obj->if_contains("client_secret") : nullptr;
  if (!id || !secret || !id->is_string() || !secret->is_string() || id->as_string().empty() ||
      secret->as_string().empty()) {
    return invalid("the Genesys credentials file " + path +
                   " must be JSON with string client_id and client_secret");
  }
  rest.client_id = std::string(id->as_string());
  rest.client_secret = std::string(secret->as_string());
  return Status::Ok();
}

}  // namespace

Result<genesys::GenesysOptions> genesys_options(const ServeConfig& config, const Getenv& getenv) {
  genesys::GenesysOptions options;
  options.rest.api_base = config.genesys_api;
  options.rest.login_base = config.genesys_login;
  options.rest.ca_file = config.genesys_ca;
  options.ca_file = config.genesys_ca;
  if (!config.genesys_credentials.empty()) {
    OUTPOST_RETURN_IF_ERROR(read_credentials_file(config.genesys_credentials, options.rest));
  } else {
    const char* id = getenv("OUTPOST_GENESYS_CLIENT_ID");
    const char* secret = getenv("OUTPOST_GENESYS_CLIENT_SECRET");
    if (!id || !secret || !*id || !*secret) {
      return invalid(
          "--upstream genesys needs client credentials: --genesys-credentials FILE or "
          "OUTPOST_GENESYS_CLIENT_ID and OUTPOST_GENESYS_CLIENT_SECRET");
    }
    options.rest.client_id = id;
    options.rest.client_secret = secret;
  }
  auto agents = parse_agents(config.genesys_agents);
  if (!agents.ok()) return agents.status().with_context("--genesys-agents");
  for (const AgentRef& agent : *agents) {
    if (agent.tenant != agents->front().tenant) {
      return invalid("--genesys-agents: one org is one tenant, not '" + agents->front().tenant +
                     "' and '" + agent.tenant + "'");
    }
    options.users.push_back(agent.user);
  }
  options.tenant = agents->front().tenant;
  return options;
}

void add_genesys_metrics(ops::Registry& registry, const genesys::GenesysUpstream& upstream) {
  registry.add_collector([&upstream](ops::Sample& sample) {
    sample.family("outpost_genesys_connected",
                  "1 while the Genesys notification channel's WebSocket is open.",
                  ops::MetricType::kGauge);
    sample.value("outpost_genesys_connected", {}, upstream.connected() ? 1 : 0);
  });
  registry.add_collector([&upstream](ops::Sample& sample) {
    const genesys::GenesysUpstream::Counters c = upstream.counters();
    const std::pair<const char*, uint64_t> kEvents[] = {
        {"events", c.events},
        {"notifications", c.notifications},
        {"heartbeats", c.heartbeats},
        {"decode_errors", c.decode_errors},
        {"gaps", c.gaps},
        {"channels_created", c.channels_created},
        {"agent_reconciles", c.agent_reconciles},
        {"org_reconciles", c.org_reconciles},
        {"incomplete_listings", c.incomplete_listings},
        {"intents", c.intents},
        {"intents_pending", c.intents_pending},
        {"refusals", c.refusals},
        {"user_logins", c.user_logins},
        {"drafts_put", c.drafts_put},
        {"web_draft_edits", c.web_draft_edits}};
    sample.family("outpost_genesys_events_total",
                  "Genesys adapter events: events emitted, notifications and heartbeats read, "
                  "gaps, reconciles, decode errors, intents and refusals, user logins, drafts.",
                  ops::MetricType::kCounter);
    for (const auto& [event, value] : kEvents) {
      sample.value("outpost_genesys_events_total", {{"event", event}}, static_cast<double>(value));
    }
    const std::pair<const char*, uint64_t> kRest[] = {
        {"requests", c.rest.requests},
        {"retried_429", c.rest.retried_429},
        {"retried_5xx", c.rest.retried_5xx},
        {"token_fetches", c.rest.token_fetches},
        {"refreshed_401", c.rest.refreshed_401},
        {"user_refreshes", c.rest.user_refreshes},
        {"user_refresh_failures", c.rest.user_refresh_failures},
        {"transport_errors", c.rest.transport_errors},
        {"budget_waits", c.rest.budget_waits}};
    sample.family("outpost_genesys_rest_total",
                  "Genesys REST calls: requests made, retries after 429 and 5xx, token fetches "
                  "and refreshes, transport errors, waits for the org's request budget.",
                  ops::MetricType::kCounter);
    for (const auto& [event, value] : kRest) {
      sample.value("outpost_genesys_rest_total", {{"event", event}}, static_cast<double>(value));
    }
  });
}

}  // namespace outpost::server_app

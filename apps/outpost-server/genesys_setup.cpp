#include "apps/outpost-server/genesys_setup.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <sstream>

#include "apps/outpost-server/upstream_loop.h"
#include "engine/scope.h"
#include "engine/server_core.h"

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
  options.rest.requests_per_minute = config.genesys_requests_per_minute;
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

void wire_genesys_media(genesys::GenesysOptions& options, ServerStore& store, BlobStore& blobs,
                        std::function<void(const std::string&)> log) {
  const std::string tenant = options.tenant;
  options.audio_stored = [&store, tenant](const std::string& user, const std::string& id) {
    auto stored = store.get(Principal{tenant, user, "platform"}.user_scope(), "voicemail", id);
    if (!stored.ok() || !*stored) return false;
    domain::Voicemail voicemail;
    return voicemail.ParseFromString((*stored)->body) && !voicemail.audio_sha256().empty();
  };
  options.stored_drafts = [&store, tenant](const std::string& user) {
    std::vector<domain::Draft> out;
    const std::string scope = Principal{tenant, user, "platform"}.user_scope();
    std::string after;
    while (out.size() < 10'000) {  // the core follows at most 10,000 conversations
      auto keys = store.read_manifest(scope, "draft", after, 500);
      if (!keys.ok() || keys->empty()) break;
      for (const KeyVersion& key : *keys) {
        if (key.collection != "draft") return out;
        auto stored = store.get(scope, "draft", key.key);
        domain::Draft draft;
        if (stored.ok() && *stored && draft.ParseFromString((*stored)->body) &&
            draft.kind() == domain::DRAFT_EMAIL_REPLY) {
          out.push_back(std::move(draft));
        }
        after = key.key;
      }
    }
    return out;
  };
  options.stored_org_ids = [&store, tenant](const std::string& collection) {
    std::vector<std::string> out;
    const std::string scope = ScopeName::format_org(tenant);
    std::string after;
    while (true) {
      auto keys = store.read_manifest(scope, collection, after, 500);
      if (!keys.ok() || keys->empty()) return out;
      for (const KeyVersion& key : *keys) {
        if (key.collection != collection) return out;
        out.push_back(key.key);
        after = key.key;
      }
    }
  };
  options.stored_voicemail_ids = [&store, tenant](const std::string& user) {
    std::vector<std::string> out;
    const std::string scope = Principal{tenant, user, "platform"}.user_scope();
    std::string after;
    while (true) {
      auto keys = store.read_manifest(scope, "voicemail", after, 500);
      if (!keys.ok() || keys->empty()) return out;
      for (const KeyVersion& key : *keys) {
        if (key.collection != "voicemail") return out;
        out.push_back(key.key);
        after = key.key;
      }
    }
  };
  options.media_fetched = [&blobs, log](const BlobHash& hash, const std::string& bytes) {
    // Not fatal: the blob service fetches the recording again when a device asks.
    if (Status put = blobs.put(hash, bytes); !put.ok() && log) {
      log("genesys: storing a voicemail recording: " + put.to_string());
    }
  };
}

namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void wire_genesys_logins(genesys::GenesysOptions& options, LoginVault& vault) {
  const std::string tenant = options.tenant;
  options.login_changed = [&vault, tenant](const std::string& user, const genesys::Token* token) {
    const AgentRef agent{tenant, user};
    if (token == nullptr) {
      (void)vault.forget(agent);
      return;
    }
    boost::json::object sealed{{"access_token", token->access_token},
                               {"refresh_token", token->refresh_token},
                               {"expires_at_ms", wall_ms() + token->expires_in_s * 1000}};
    (void)vault.save(agent, boost::json::serialize(sealed));  // not kept: log in again later
  };
}

void restore_genesys_logins(genesys::GenesysUpstream& upstream,
                            const genesys::GenesysOptions& options, LoginVault& vault) {
  for (const std::string& user : options.users) {
    auto kept = vault.load(AgentRef{options.tenant, user});
    if (!kept.ok() || !*kept) continue;
    boost::system::error_code ec;
    auto value = boost::json::parse(**kept, ec);
    if (ec || !value.is_object()) continue;
    const auto& obj = value.as_object();
    const auto* access = obj.if_contains("access_token");
    const auto* refresh = obj.if_contains("refresh_token");
    const auto* expires = obj.if_contains("expires_at_ms");
    if (!access || !access->is_string() || !refresh || !refresh->is_string() || !expires ||
        !expires->is_int64()) {
      continue;
    }
    genesys::Token token;
    token.access_token = std::string(access->as_string());
    token.refresh_token = std::string(refresh->as_string());
    token.expires_in_s = std::max<int64_t>(0, (expires->as_int64() - wall_ms()) / 1000);
    (void)upstream.restore_user_login(user, token);
  }
}

void add_genesys_metrics(ops::Registry& registry, const genesys::GenesysUpstream& upstream) {
  registry.add_collector([budget = upstream.requests_per_minute()](ops::Sample& sample) {
    sample.family("outpost_genesys_budget_requests_per_minute",
                  "The org's REST request budget (--genesys-requests-per-minute).",
                  ops::MetricType::kGauge);
    sample.value("outpost_genesys_budget_requests_per_minute", {}, budget);
  });
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
        {"web_draft_edits", c.web_draft_edits},
        {"drafts_ghosts_found", c.drafts_ghosts_found},
        {"drafts_maybe_overwritten", c.drafts_maybe_overwritten},
        {"org_deletions", c.org_deletions},
        {"voicemails_unlisted", c.voicemails_unlisted},
        {"audio_fetched", c.audio_fetched},
        {"audio_failures", c.audio_failures},
        {"sends_unknown", c.sends_unknown},
        {"sends_found", c.sends_found}};
    sample.family("outpost_genesys_events_total",
                  "Genesys adapter events: events emitted, notifications and heartbeats read, "
                  "gaps, reconciles, decode errors, intents and refusals, user logins, drafts, "
                  "sends whose answer was lost and sends found sent on a retry, records "
                  "deleted because a complete listing no longer showed them.",
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
        {"budget_waits", c.rest.budget_waits},
        {"downloads", c.rest.downloads},
        {"rate_limit_holds", c.rest.rate_limit_holds}};
    sample.family("outpost_genesys_rest_total",
                  "Genesys REST calls: requests made, retries after 429 and 5xx, token fetches "
                  "and refreshes, transport errors, waits for the org's request budget, holds "
                  "while the platform's inin-ratelimit window was nearly spent.",
                  ops::MetricType::kCounter);
    for (const auto& [event, value] : kRest) {
      sample.value("outpost_genesys_rest_total", {{"event", event}}, static_cast<double>(value));
    }
  });
}

}  // namespace outpost::server_app

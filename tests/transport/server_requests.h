// Requests, tokens and names the transport suites share (sync_server_fixture.h,
// sync_server_hostile_test.cpp, sync_agent_test.cpp): one copy of each builder, so the
// suites send the same well-formed requests. Header-only, no sockets.
// Thread rules: plain functions of their arguments.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/schema.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "outpost/protocol.pb.h"
#include "transport/token.h"
#include "transport/zstd_codec.h"

namespace outpost::server_test {

inline constexpr int64_t kNow = 1'700'000'000'000;
inline constexpr const char* kTenant = "acme";
inline constexpr const char* kUser = "alice";
inline constexpr const char* kUserScope = "user/acme/alice";
inline constexpr const char* kOrgScope = "org/acme";

// A body as the wire carries it: serialized, then zstd.
inline std::string compress(const google::protobuf::MessageLite& message) {
  return zstd_compress(message.SerializeAsString()).value();
}

// A bearer token of `authority` for tenant/user/device, valid from issued_ms to expires_ms.
// "" (and a test failure) when the authority refuses the claims.
inline std::string issue_token(const TokenAuthority& authority, const std::string& tenant,
                               const std::string& user, const std::string& device,
                               int64_t issued_ms, int64_t expires_ms) {
  protocol::TokenClaims claims;
  claims.set_tenant(tenant);
  claims.set_user(user);
  claims.set_device(device);
  claims.set_issued_ms(issued_ms);
  claims.set_expires_ms(expires_ms);
  auto issued = authority.issue(claims);
  EXPECT_TRUE(issued.ok()) << issued.status().to_string();
  return issued.ok() ? issued.value() : "";
}

// A push of one set_user_setting mutation `id` (name = value) from `client_id`.
inline protocol::PushRequest setting_push(const std::string& client_id, uint64_t id,
                                          const std::string& name, const std::string& value) {
  protocol::PushRequest push;
  push.set_client_id(client_id);
  push.set_schema_version(Schema::domain().version());
  push.set_protocol_version(protocol::VERSION_CURRENT);
  mutations::SetUserSetting args;
  args.set_name(name);
  args.set_value(value);
  protocol::Mutation* mutation = push.add_mutations();
  mutation->set_id(id);
  mutation->set_name("set_user_setting");
  mutation->set_args(args.SerializeAsString());
  mutation->set_created_ms(kNow);
  return push;
}

// A pull of `scopes` from their beginning (fresh cursors).
inline protocol::PullRequest pull_request(const std::string& client_id,
                                          const std::vector<std::string>& scopes) {
  protocol::PullRequest pull;
  pull.set_client_id(client_id);
  pull.set_schema_version(Schema::domain().version());
  pull.set_protocol_version(protocol::VERSION_CURRENT);
  for (const std::string& scope : scopes) pull.add_cursors()->set_scope(scope);
  return pull;
}

// The user_setting `name` in a pull response, if it carries it.
inline std::optional<domain::UserSetting> find_setting(const protocol::PullResponse& pull,
                                                       const std::string& name) {
  for (const auto& scope : pull.scopes()) {
    if (scope.scope() != kUserScope) continue;
    for (const auto& change : scope.changes()) {
      if (change.collection() == "user_setting" && change.key() == name &&
          change.op() == protocol::Change::PUT) {
        domain::UserSetting setting;
        if (setting.ParseFromString(change.body())) return setting;
      }
    }
  }
  return std::nullopt;
}

}  // namespace outpost::server_test

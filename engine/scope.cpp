#include "engine/scope.h"

#include "engine/limits.h"

namespace outpost {
namespace {

constexpr std::string_view kUserPrefix = "user/";
constexpr std::string_view kOrgPrefix = "org/";

// The refused text is not echoed: it may be long or hold control characters.
Status invalid_name(std::string_view what) {
  return error(ErrorCode::kInvalidArgument, std::string(what) + " is not 1 to " +
                                                std::to_string(limits::kMaxNameLength) +
                                                " characters of [A-Za-z0-9._-]");
}

}  // namespace

bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > limits::kMaxNameLength) return false;
  for (char c : name) {
    bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '_' || c == '-';
    if (!allowed) return false;
  }
  return true;
}

std::string ScopeName::format_user(std::string_view tenant, std::string_view user) {
  std::string text(kUserPrefix);
  text.append(tenant).append("/").append(user);
  return text;
}

std::string ScopeName::format_org(std::string_view tenant) {
  std::string text(kOrgPrefix);
  text.append(tenant);
  return text;
}

Result<ScopeName> ScopeName::user(std::string_view tenant, std::string_view user) {
  if (!is_valid_name(tenant)) return invalid_name("tenant");
  if (!is_valid_name(user)) return invalid_name("user");
  return ScopeName(Kind::kUser, std::string(tenant), std::string(user), format_user(tenant, user));
}

Result<ScopeName> ScopeName::org(std::string_view tenant) {
  if (!is_valid_name(tenant)) return invalid_name("tenant");
  return ScopeName(Kind::kOrg, std::string(tenant), "", format_org(tenant));
}

Result<ScopeName> ScopeName::parse(std::string_view text) {
  if (text.starts_with(kOrgPrefix)) return org(text.substr(kOrgPrefix.size()));
  if (text.starts_with(kUserPrefix)) {
    std::string_view rest = text.substr(kUserPrefix.size());
    size_t slash = rest.find('/');
    if (slash != std::string_view::npos) return user(rest.substr(0, slash), rest.substr(slash + 1));
  }
  return error(ErrorCode::kInvalidArgument, "a scope is user/<tenant>/<user> or org/<tenant>");
}

}  // namespace outpost

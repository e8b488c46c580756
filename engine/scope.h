// A scope name: the unit of sync and of access. "user/<tenant>/<user>" holds one user's records,
// "org/<tenant>" what a tenant shares; a device reads exactly its user scope and its
// tenant's org scope. The one parser and the one formatter of scope names: tenant and user
// names are checked here, so no name can reach into another scope.
// Thread rules: plain values, safe to copy and move between threads.
#pragma once

#include <string>
#include <string_view>

#include "engine/status.h"

namespace outpost {

// A tenant, user or device name: 1 to limits::kMaxNameLength characters of [A-Za-z0-9._-].
// The restriction keeps scopes unambiguous: no name contains '/'.
bool is_valid_name(std::string_view name);

class ScopeName {
 public:
  enum class Kind { kUser, kOrg };

  // Errors: kInvalidArgument for a tenant or user that is not a valid name.
  static Result<ScopeName> user(std::string_view tenant, std::string_view user);
  static Result<ScopeName> org(std::string_view tenant);
  // The inverse of str(). Errors: kInvalidArgument for anything but "user/<tenant>/<user>"
  // or "org/<tenant>" with valid names.
  static Result<ScopeName> parse(std::string_view text);

  // The wire form without checking the names: for names already checked once (a verified
  // token's, a Principal's). Invalid names give a string parse() refuses.
  static std::string format_user(std::string_view tenant, std::string_view user);
  static std::string format_org(std::string_view tenant);

  Kind kind() const { return kind_; }
  bool is_org() const { return kind_ == Kind::kOrg; }
  const std::string& tenant() const { return tenant_; }
  const std::string& user() const { return user_; }  // "" for an org scope
  // "user/<tenant>/<user>" or "org/<tenant>".
  const std::string& str() const { return text_; }

  friend bool operator==(const ScopeName& a, const ScopeName& b) { return a.text_ == b.text_; }

 private:
  ScopeName(Kind kind, std::string tenant, std::string user, std::string text)
      : kind_(kind), tenant_(std::move(tenant)), user_(std::move(user)), text_(std::move(text)) {}

  Kind kind_;
  std::string tenant_;
  std::string user_;
  std::string text_;
};

}  // namespace outpost

// The per-user platform logins (decision 030) kept across a server restart (decision 035):
// each sealed with AES-256-GCM under a key derived from the server's token key
// (HMAC-SHA256(token key, "outpost platform logins v1")), bound to its tenant and user (the
// authenticated data: a file copied to another user's name does not open), one file per
// agent in DIR (DATA/platform-logins, mode 0700; files 0600, written by rename). Never in the
// record store (records sync to devices), never logged. A file that does not open (another
// key, tampered, truncated) is removed: the device hands its login over again.
// Thread rules: safe from several threads (one lock around the files).
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "engine/platform.h"
#include "engine/status.h"

namespace outpost::server_app {

class LoginVault {
 public:
  // `token_key`: the server's token key (transport/token_key_file.h), at least 32 bytes.
  LoginVault(std::string dir, std::string_view token_key);

  // Seals `secret` for `agent`, replacing any before. Errors: kIo, kInvalidArgument (a name
  // that is not a plain token name).
  Status save(const AgentRef& agent, std::string_view secret);
  // The secret saved for `agent`; nullopt when none (or it did not open, and was removed).
  Result<std::optional<std::string>> load(const AgentRef& agent);
  // Removes `agent`'s login (a refused refresh ended it). Errors: kIo.
  Status forget(const AgentRef& agent);

 private:
  Result<std::string> path_of(const AgentRef& agent) const;

  std::mutex mutex_;
  std::string dir_;
  std::string key_;  // 32 bytes
};

}  // namespace outpost::server_app

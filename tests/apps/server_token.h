// Mints a device token with the real `outpost-server token` command, as an app's login
// would get one; shared by the end-to-end suites that start real server processes.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "support/process.h"

namespace outpost::testing {

// `outpost-server token --data DATA --tenant acme --user agent-1 --device DEVICE`, its
// trailing newline stripped; a failure is a test failure (and an empty token).
inline std::string mint_token(const std::string& server_bin, const std::string& data_dir,
                              const std::string& device) {
  std::string out;
  EXPECT_EQ(support::run_command({server_bin, "token", "--data", data_dir, "--tenant", "acme",
                                  "--user", "agent-1", "--device", device},
                                 &out),
            0)
      << out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace outpost::testing

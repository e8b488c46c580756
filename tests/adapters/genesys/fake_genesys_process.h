// Starts the fake Genesys Cloud (fake_genesys.py) for a test and talks to its control
// endpoints (/fake/...): route conversations, leave voicemail, script faults, drop sockets.
#pragma once

#include <boost/json.hpp>
#include <memory>
#include <string>

#include "support/process.h"

namespace outpost::genesys::testing {

class FakeGenesys {
 public:
  // Starts the fake with these agents and contacts; waits for its READY line.
  FakeGenesys(const std::string& users, int contacts, const std::string& extra_args = "");
  ~FakeGenesys();

  bool ok() const { return ready_.is_object(); }
  std::string log() const;
  std::string get(const char* key) const;  // a member of the READY line
  std::string api() const { return get("api"); }
  // POST /fake/<path> with a JSON body; the parsed answer (null when none).
  boost::json::value control(const std::string& path, const std::string& json = "{}");
  boost::json::value state() { return control("state"); }
  // The user logs in on the login host as a device would (an authorization code from
  // /fake/login exchanged at /oauth/token with the client's credentials): the token answer
  // JSON {access_token, refresh_token, expires_in, ...}; empty on failure.
  std::string user_login(const std::string& user);
  // How many requests matched method and path prefix so far.
  int count_requests(const std::string& method, const std::string& prefix);
  std::string dir() const { return dir_; }

 private:
  std::string dir_;
  std::unique_ptr<outpost::support::Process> process_;
  boost::json::value ready_;
};

}  // namespace outpost::genesys::testing

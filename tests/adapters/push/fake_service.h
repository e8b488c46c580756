// Starts one of the Python fakes (fake_push_service.py apns|fcm) for a test suite and talks
// to its control port: script answers, mark tokens unregistered, read what it received.
#pragma once

#include <boost/json.hpp>
#include <memory>
#include <string>

#include "support/process.h"

namespace outpost::push::testing {

class FakeService {
 public:
  // Starts the fake and waits for its READY line; check ok() after.
  explicit FakeService(const std::string& kind);
  ~FakeService();

  bool ok() const { return ready_.is_object(); }
  const std::string& log() const { return log_; }
  // A member of the READY line ("base_url", "ca", "key_file", "service_account"...).
  std::string get(const char* key) const;
  std::string read_file(const char* key) const;  // the contents of a file the fake wrote

  void script(const std::string& json_array);  // e.g. R"([{"status":503,"retry_after":1}])"
  void unregister(const std::string& token);
  void post(const std::string& path, const std::string& json);
  void clear();
  boost::json::array received();
  boost::json::object stats();

 private:
  std::string control(const std::string& method, const std::string& path, const std::string& body);
  std::string dir_;
  std::string log_;
  std::unique_ptr<outpost::support::Process> process_;
  boost::json::value ready_;
};

}  // namespace outpost::push::testing

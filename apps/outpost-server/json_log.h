// outpost-server's log: one line per event on stderr, either a JSON object (the default:
// {"ts":..,"level":..,"msg":.., "request_id":.., "tenant":.., "device":.., ...}) or plain
// text. Callers pass fields by name; nothing here knows tokens or record bodies, and no
// caller passes them (docs/operations.md lists what is logged).
// Thread rules: log() is safe from any thread; each line is written whole.
#pragma once

#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace outpost::server_app {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
using LogFields = std::vector<std::pair<std::string, std::string>>;

class Logger {
 public:
  Logger(std::ostream& out, bool json) : out_(out), json_(json) {}
  void log(LogLevel level, std::string_view message, const LogFields& fields = {});
  void info(std::string_view message, const LogFields& fields = {}) {
    log(LogLevel::kInfo, message, fields);
  }
  void warn(std::string_view message, const LogFields& fields = {}) {
    log(LogLevel::kWarn, message, fields);
  }
  void error(std::string_view message, const LogFields& fields = {}) {
    log(LogLevel::kError, message, fields);
  }
  // One line as it would be written (without the newline), at wall time `ts_ms`.
  std::string format(LogLevel level, std::string_view message, const LogFields& fields,
                     int64_t ts_ms) const;

 private:
  std::ostream& out_;
  const bool json_;
  std::mutex mutex_;
};

}  // namespace outpost::server_app

#include "apps/outpost-server/json_log.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "support/cli_args.h"

namespace outpost::server_app {
namespace {

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// RFC 3339 UTC with milliseconds.
std::string timestamp(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms % 1000));
  return buffer;
}

}  // namespace

std::string Logger::format(LogLevel level, std::string_view message, const LogFields& fields,
                           int64_t ts_ms) const {
  std::string line;
  if (json_) {
    line = "{\"ts\":\"" + timestamp(ts_ms) + "\",\"level\":\"" + level_name(level) +
           "\",\"msg\":" + cli::json_string(std::string(message));
    for (const auto& [name, value] : fields) {
      line += "," + cli::json_string(name) + ":" + cli::json_string(value);
    }
    line += "}";
  } else {
    line = timestamp(ts_ms) + " " + level_name(level) + " " + std::string(message);
    for (const auto& [name, value] : fields) line += " " + name + "=" + value;
  }
  return line;
}

void Logger::log(LogLevel level, std::string_view message, const LogFields& fields) {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::string line = format(level, message, fields, now);
  line += '\n';
  std::lock_guard lock(mutex_);
  out_ << line << std::flush;
}

}  // namespace outpost::server_app

// Helpers shared by the sender suites: messages, the wall clock, reading the fakes' records.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "adapters/push/push_sender.h"

namespace outpost::push::testing {

inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline PushMessage wake(std::string token, std::string scope, std::uint64_t head,
                        Platform platform = Platform::kApns,
                        std::string app = "com.example.outpost") {
  PushMessage m;
  m.id = "m-" + scope + "-" + std::to_string(head);
  m.push.device = "dev";
  m.push.target = Target{.platform = platform, .token = std::move(token), .app_id = std::move(app)};
  m.push.kind = PushKind::kWake;
  m.push.scope = std::move(scope);
  m.push.head = head;
  return m;
}

inline std::string str(const boost::json::value& v, std::initializer_list<const char*> path) {
  const boost::json::value* cur = &v;
  for (const char* key : path) {
    const auto* obj = cur->if_object();
    if (obj == nullptr || !obj->contains(key)) return "<missing>";
    cur = &obj->at(key);
  }
  if (cur->is_string()) return std::string(cur->as_string());
  return boost::json::serialize(*cur);
}

inline boost::json::value body_json(const boost::json::value& record) {
  boost::system::error_code ec;
  auto v = boost::json::parse(str(record, {"body"}), ec);
  return ec ? boost::json::value() : v;
}

// A 64-hex-character device token.
inline std::string hex_token(char fill) {
  return std::string(64, fill);
}

}  // namespace outpost::push::testing

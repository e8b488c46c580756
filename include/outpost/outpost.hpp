// C++ over the C API (outpost::outpost in the CMake package): RAII handles and strings for
// apps written in C++ (a React Native JSI module, a Qt or desktop client) that link
// liboutpost.so. Header-only and inline, so the library's ABI stays the C one
// (decision 020). Errors are values: every call returns an outpost::sdk::Error (ok() when
// it succeeded) and fills its out-parameter; no exceptions are thrown.
// Thread rules: those of outpost/outpost.h (handles: any thread; calls serialized).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "outpost/outpost.h"

namespace outpost::sdk {

// A failed call's code and message (code OUTPOST_OK: success).
struct Error {
  outpost_status code = OUTPOST_OK;
  std::string message;
  bool retryable = false;

  bool ok() const { return code == OUTPOST_OK; }
  std::string to_string() const {
    return ok() ? "ok" : std::string(outpost_status_name(code)) + ": " + message;
  }
};

namespace detail {
// Converts (and frees) a C error after a call that returned `status`.
inline Error take(outpost_status status, outpost_error& error) {
  Error out;
  out.code = status;
  if (status != OUTPOST_OK && error.message != nullptr) {
    out.message.assign(error.message, error.message_len);
    out.retryable = error.retryable;
  }
  outpost_error_clear(&error);
  return out;
}
inline std::string take(outpost_bytes& bytes) {
  std::string out = bytes.data != nullptr ? std::string(bytes.data, bytes.len) : std::string();
  outpost_bytes_free(&bytes);
  return out;
}
}  // namespace detail

// A replica handle: owned (Replica::open) or lent by an Agent (Agent::replica()).
class Replica {
 public:
  static Error open(std::string_view path, Replica& out,
                    const outpost_replica_options* options = nullptr) {
    outpost_error error{};
    outpost_replica* handle = nullptr;
    auto status = outpost_replica_open(path.data(), path.size(), options, &handle, &error);
    if (status == OUTPOST_OK) out = Replica(handle, true);
    return detail::take(status, error);
  }
  Replica() = default;
  Replica(Replica&& other) noexcept { *this = std::move(other); }
  Replica& operator=(Replica&& other) noexcept {
    reset();
    std::swap(handle_, other.handle_);
    std::swap(owned_, other.owned_);
    return *this;
  }
  ~Replica() { reset(); }

  outpost_replica* get() const { return handle_; }

  // JSON args (mutations.proto field names); `id` receives the outbox id.
  Error mutate(std::string_view name, std::string_view json_args, uint64_t* id = nullptr) {
    outpost_error error{};
    auto status = outpost_replica_mutate(handle_, OUTPOST_FORMAT_JSON, name.data(), name.size(),
                                         json_args.data(), json_args.size(), id, &error);
    return detail::take(status, error);
  }
  // `json` empty when absent (and *found false).
  Error get(std::string_view collection, std::string_view key, std::string& json,
            bool* found = nullptr) {
    outpost_error error{};
    outpost_bytes bytes{};
    auto status =
        outpost_replica_get(handle_, OUTPOST_FORMAT_JSON, collection.data(), collection.size(),
                            key.data(), key.size(), &bytes, found, &error);
    json = detail::take(bytes);
    return detail::take(status, error);
  }
  // A JSON array of records (the spec: outpost_replica_query).
  Error query(std::string_view spec_json, std::string& json) {
    outpost_error error{};
    outpost_bytes bytes{};
    auto status = outpost_replica_query(handle_, OUTPOST_FORMAT_JSON, spec_json.data(),
                                        spec_json.size(), &bytes, &error);
    json = detail::take(bytes);
    return detail::take(status, error);
  }
  Error pending_count(uint64_t& count) {
    outpost_error error{};
    auto status = outpost_replica_pending_count(handle_, &count, &error);
    return detail::take(status, error);
  }
  Error rejected(std::string& json) {
    outpost_error error{};
    outpost_bytes bytes{};
    auto status = outpost_replica_rejected(handle_, &bytes, &error);
    json = detail::take(bytes);
    return detail::take(status, error);
  }

 private:
  friend class Agent;
  Replica(outpost_replica* handle, bool owned) : handle_(handle), owned_(owned) {}
  void reset() {
    if (handle_ != nullptr && owned_) (void)outpost_replica_close(handle_, nullptr);
    handle_ = nullptr;
    owned_ = false;
  }
  outpost_replica* handle_ = nullptr;
  bool owned_ = false;
};

// The device's sync runtime.
class Agent {
 public:
  static Error open(const outpost_agent_options& options, Agent& out) {
    outpost_error error{};
    outpost_agent* handle = nullptr;
    auto status = outpost_agent_open(&options, &handle, &error);
    if (status == OUTPOST_OK) out = Agent(handle);
    return detail::take(status, error);
  }
  Agent() = default;
  Agent(Agent&& other) noexcept { *this = std::move(other); }
  Agent& operator=(Agent&& other) noexcept {
    reset();
    std::swap(handle_, other.handle_);
    return *this;
  }
  ~Agent() { reset(); }

  outpost_agent* get() const { return handle_; }
  // Lent: valid while this Agent lives.
  Replica replica() const { return Replica(outpost_agent_replica(handle_), false); }

  Error start() { return call(outpost_agent_start); }
  Error stop() { return call(outpost_agent_stop); }
  Error wake(std::string_view reason = "wake") {
    outpost_error error{};
    auto status = outpost_agent_wake(handle_, reason.data(), reason.size(), &error);
    return detail::take(status, error);
  }
  Error set_token(std::string_view token) {
    outpost_error error{};
    auto status = outpost_agent_set_token(handle_, token.data(), token.size(), &error);
    return detail::take(status, error);
  }
  Error sync_for(uint32_t budget_ms, outpost_sync_summary* summary = nullptr,
                 uint32_t max_failures = 0) {
    outpost_error error{};
    auto status = outpost_agent_sync_for(handle_, budget_ms, max_failures, summary, &error);
    return detail::take(status, error);
  }

 private:
  explicit Agent(outpost_agent* handle) : handle_(handle) {}
  Error call(outpost_status (*fn)(outpost_agent*, outpost_error*)) {
    outpost_error error{};
    auto status = fn(handle_, &error);
    return detail::take(status, error);
  }
  void reset() {
    if (handle_ != nullptr) (void)outpost_agent_close(handle_, nullptr);
    handle_ = nullptr;
  }
  outpost_agent* handle_ = nullptr;
};

}  // namespace outpost::sdk

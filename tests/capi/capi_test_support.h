// What the C API's tests share: an outpost_error that frees itself, outpost_bytes taken as
// a string, and the wall clock in milliseconds (tokens, record times).
// Thread rules: plain values and a pure function.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "outpost/outpost.h"

namespace outpost::capi_testing {

inline int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Owns an outpost_error and says what it held.
struct Err {
  outpost_error error{};
  ~Err() { outpost_error_clear(&error); }
  outpost_error* operator&() { return &error; }
  std::string message() const { return error.message ? error.message : ""; }
};

// The bytes as a string; frees them.
inline std::string take(outpost_bytes& bytes) {
  std::string out(bytes.data ? bytes.data : "", bytes.len);
  outpost_bytes_free(&bytes);
  return out;
}

}  // namespace outpost::capi_testing

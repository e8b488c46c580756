// Test helpers: a Result's value or a thrown error GoogleTest reports with its status
// (for the store tests, whose steps are many and whose failures must stop the test).
#pragma once

#include <stdexcept>
#include <utility>

#include "engine/status.h"

namespace outpost::testing {

template <typename T>
T take(Result<T> result) {
  if (!result.ok()) throw std::runtime_error(result.status().to_string());
  return std::move(result).value();
}

inline void check(const Status& status) {
  if (!status.ok()) throw std::runtime_error(status.to_string());
}

}  // namespace outpost::testing

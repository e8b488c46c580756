// Random lowercase UUID-shaped ids (8-4-4-4-12 hex digits) drawn from a seeded generator:
// the interaction records that outpost-bench's wire_encoding scene and the column-page
// transform tests build, so both measure and test the same shape of key.
#pragma once

#include <random>
#include <string>

namespace outpost::support {

inline std::string random_uuid(std::mt19937_64& random) {
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) out.push_back('-');
    out.push_back(kHex[random() % 16]);
  }
  return out;
}

}  // namespace outpost::support

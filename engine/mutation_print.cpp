#include "engine/mutation_print.h"

#include <charconv>

namespace outpost {
namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;
constexpr std::string_view kMarker = "mutation_ids_reused(";

void mix_byte(uint64_t& hash, uint8_t byte) {
  hash ^= byte;
  hash *= kFnvPrime;
}

void mix_u64(uint64_t& hash, uint64_t value) {
  for (int i = 0; i < 8; ++i) mix_byte(hash, static_cast<uint8_t>(value >> (8 * i)));
}

void mix_bytes(uint64_t& hash, std::string_view bytes) {
  mix_u64(hash, bytes.size());
  for (char c : bytes) mix_byte(hash, static_cast<uint8_t>(c));
}

bool parse_u64(std::string_view text, uint64_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

uint64_t mutation_print(std::string_view name, std::string_view args, int64_t created_ms) {
  uint64_t hash = kFnvOffset;
  mix_bytes(hash, name);
  mix_bytes(hash, args);
  mix_u64(hash, static_cast<uint64_t>(created_ms));
  return hash == 0 ? 1 : hash;
}

std::string mutation_ids_reused(const ReusedIds& reused) {
  return std::string(kMarker) + std::to_string(reused.first) + "," + std::to_string(reused.last) +
         ")";
}

std::optional<ReusedIds> find_mutation_ids_reused(std::string_view message) {
  const size_t at = message.find(kMarker);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = message.substr(at + kMarker.size());
  const size_t comma = rest.find(',');
  const size_t close = rest.find(')');
  if (comma == std::string_view::npos || close == std::string_view::npos || close < comma) {
    return std::nullopt;
  }
  ReusedIds reused;
  if (!parse_u64(rest.substr(0, comma), reused.first) ||
      !parse_u64(rest.substr(comma + 1, close - comma - 1), reused.last) || reused.first == 0 ||
      reused.first > reused.last) {
    return std::nullopt;
  }
  return reused;
}

}  // namespace outpost

// A small command-line parser for the outpost tools (apps/outpost, outpost-server,
// outpost-bench) and what they share: global --flags, a command word, its positional
// arguments and its own --flags; bounded integers; JSON string literals. Unknown flags are
// errors, not surprises.
// Thread rules: plain values.
#pragma once

#include <charconv>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/status.h"

namespace outpost::cli {

struct ParsedArgs {
  std::map<std::string, std::vector<std::string>> flags;  // --name value (repeatable)
  std::vector<std::string> positional;                    // the command first

  std::optional<std::string> flag(const std::string& name) const;
  bool has(const std::string& name) const { return flags.count(name) != 0; }
};

// `valued` names flags that take a value; `switches` names flags that do not. A flag may
// be given as "--name value" or "--name=value", a one-letter valued flag also as "-n value".
Result<ParsedArgs> parse_args(int argc, char** argv, const std::vector<std::string>& valued,
                              const std::vector<std::string>& switches);

// `text` as a JSON string literal (quotes, backslashes and control characters escaped).
std::string json_string(const std::string& text);

// An integer flag value in [min, max]. kInvalidArgument naming --flag otherwise.
template <typename Int>
Status parse_int(const std::string& flag, const std::string& text, Int min, Int max, Int& out) {
  Int value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return error(ErrorCode::kInvalidArgument, "--" + flag + " must be an integer from " +
                                                  std::to_string(min) + " to " +
                                                  std::to_string(max) + ", not '" + text + "'");
  }
  out = value;
  return Status::Ok();
}

}  // namespace outpost::cli

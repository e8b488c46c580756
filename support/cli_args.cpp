#include "support/cli_args.h"

#include <algorithm>

#include "engine/json_quote.h"

namespace outpost::cli {

std::optional<std::string> ParsedArgs::flag(const std::string& name) const {
  auto it = flags.find(name);
  if (it == flags.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

Result<ParsedArgs> parse_args(int argc, char** argv, const std::vector<std::string>& valued,
                              const std::vector<std::string>& switches) {
  ParsedArgs out;
  auto contains = [](const std::vector<std::string>& list, const std::string& name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    // A one-letter valued flag may also be written "-o VALUE".
    if (arg.size() == 2 && arg[0] == '-' && arg[1] != '-' && contains(valued, arg.substr(1))) {
      if (i + 1 >= argc) return error(ErrorCode::kInvalidArgument, arg + " needs a value");
      out.flags[arg.substr(1)].push_back(argv[++i]);
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      out.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (contains(switches, name)) {
      if (value) return error(ErrorCode::kInvalidArgument, "--" + name + " takes no value");
      out.flags[name].push_back("");
    } else if (contains(valued, name)) {
      if (!value) {
        if (i + 1 >= argc)
          return error(ErrorCode::kInvalidArgument, "--" + name + " needs a value");
        value = argv[++i];
      }
      out.flags[name].push_back(*value);
    } else {
      return error(ErrorCode::kInvalidArgument, "unknown option --" + name);
    }
  }
  return out;
}

std::string json_string(const std::string& text) {
  return json_quote(text);
}

}  // namespace outpost::cli

#include "apps/outpost-server/config_sources.h"

#include <algorithm>
#include <cctype>
#include <fstream>

extern char** environ;

namespace outpost::server_app {
namespace {

constexpr size_t kMaxConfigLines = 1000;

std::string trim(const std::string& text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return text.substr(begin, end - begin);
}

Status invalid(const std::string& message) {
  return error(ErrorCode::kInvalidArgument, message);
}

bool contains(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// The file's settings, in order, with their line numbers.
Status read_config_file(const std::string& path, const std::vector<std::string>& allowed,
                        std::vector<std::pair<std::string, std::string>>& settings,
                        std::vector<size_t>& lines) {
  std::ifstream in(path);
  if (!in) return invalid("cannot read the config file '" + path + "'");
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    if (++number > kMaxConfigLines) {
      return invalid(path + ": more than " + std::to_string(kMaxConfigLines) + " lines");
    }
    std::string text = trim(line);
    if (text.empty() || text[0] == '#') continue;
    size_t eq = text.find('=');
    if (eq == std::string::npos) {
      return invalid(path + " line " + std::to_string(number) + ": expected 'name = value', got '" +
                     text + "'");
    }
    std::string name = trim(text.substr(0, eq));
    std::string value = trim(text.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (name == "config") {
      return invalid(path + " line " + std::to_string(number) +
                     ": a config file cannot name another");
    }
    if (!contains(allowed, name)) {
      return invalid(path + " line " + std::to_string(number) + ": '" + name +
                     "' is not a setting of 'serve' (settings are named like the flags, "
                     "without --)");
    }
    settings.emplace_back(name, value);
    lines.push_back(number);
  }
  return Status::Ok();
}

}  // namespace

Environment process_environment() {
  Environment out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string text = *entry;
    if (text.rfind("OUTPOST_", 0) != 0) continue;
    size_t eq = text.find('=');
    if (eq == std::string::npos) continue;
    out[text.substr(0, eq)] = text.substr(eq + 1);
  }
  return out;
}

std::string environment_name(const std::string& flag) {
  std::string out = "OUTPOST_";
  for (char c : flag) {
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

Status merge_config_sources(cli::ParsedArgs& args, const Environment& env,
                            const std::vector<std::string>& allowed,
                            std::map<std::string, std::string>& sources) {
  for (const std::string& name : allowed) {
    if (name == "config" || args.has(name)) continue;
    auto it = env.find(environment_name(name));
    if (it == env.end()) continue;
    args.flags[name].push_back(it->second);
    sources[name] = "environment " + it->first;
  }
  std::string file;
  if (auto flag = args.flag("config")) {
    file = *flag;
  } else if (auto it = env.find("OUTPOST_CONFIG"); it != env.end()) {
    file = it->second;
  }
  if (file.empty()) return Status::Ok();
  std::vector<std::pair<std::string, std::string>> settings;
  std::vector<size_t> lines;
  OUTPOST_RETURN_IF_ERROR(read_config_file(file, allowed, settings, lines));
  for (size_t i = 0; i < settings.size(); ++i) {
    const auto& [name, value] = settings[i];
    if (args.has(name) && sources.find(name) == sources.end()) continue;  // a flag wins
    if (sources.count(name) && sources[name].rfind("environment", 0) == 0) continue;
    args.flags[name] = {value};
    sources[name] = file + " line " + std::to_string(lines[i]);
  }
  return Status::Ok();
}

Status with_source(const Status& failure, const std::map<std::string, std::string>& sources) {
  if (failure.ok()) return failure;
  const std::string& message = failure.message();
  for (const auto& [name, source] : sources) {
    if (message.find("--" + name + " ") != std::string::npos ||
        message.find("--" + name + ":") != std::string::npos ||
        message.rfind("--" + name, 0) == 0) {
      return error(failure.code(), message + " (from " + source + ")");
    }
  }
  return failure;
}

}  // namespace outpost::server_app

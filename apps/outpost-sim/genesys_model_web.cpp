// The model's Genesys web interface (guide 2.1.4.3, decision 057): the agent edits an email
// reply draft there (one word typed at a place of the text; the conversation is notified,
// as the Python fake's /fake/web/draft does [inf]) or closes the website (the platform sets
// the agent Offline, which the server undoes).
#include <algorithm>
#include <sstream>

#include "apps/outpost-sim/genesys_model.h"

namespace outpost::sim {
namespace {

std::string str_of(const boost::json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

std::string GenesysModel::web_edit_draft(const std::string& user, size_t pick,
                                         const std::string& word, int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  std::vector<std::string> mine;
  for (const auto& [id, draft] : drafts_) {
    auto it = conversations_.find(id);
    if (it == conversations_.end()) continue;
    Object* agent = agent_participant(it->second);
    if (agent && str_of(*agent, "userId") == user) mine.push_back(id);
  }
  if (mine.empty()) return "";
  const std::string id = mine[pick % mine.size()];
  Object& draft = drafts_[id];
  std::vector<std::string> words;
  std::istringstream in(str_of(draft, "textBody"));
  for (std::string w; in >> w;) words.push_back(w);
  words.insert(words.begin() + static_cast<std::ptrdiff_t>((pick / 7) % (words.size() + 1)), word);
  std::string text;
  for (const std::string& w : words) text += (text.empty() ? "" : " ") + w;
  draft["textBody"] = text;
  draft["time"] = iso(now_ms_);
  notify_conversation(conversations_.at(id));
  return id;
}

void GenesysModel::web_logoff(const std::string& user, int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  if (users_.count(user) != 0) set_presence(user, "pd-offline");
}

std::optional<std::string> GenesysModel::draft_text(const std::string& conversation) const {
  auto it = drafts_.find(conversation);
  if (it == drafts_.end()) return std::nullopt;
  return str_of(it->second, "textBody");
}

}  // namespace outpost::sim

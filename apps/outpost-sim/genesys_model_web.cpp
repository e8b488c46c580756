// The model's Genesys web interface (guide 2.1.4.3, decision 057): the agent edits an email
// reply draft there (one word typed at a place of the text; the conversation is notified,
// as the Python fake's /fake/web/draft does [inf]) or closes the website (the platform sets
// the agent Offline, which the server undoes), or deletes a voicemail (decision 063).
#include <algorithm>
#include <set>
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
  web_typed_ms_[word] = now_ms_;
  draft["time"] = iso(now_ms_);
  notify_conversation(conversations_.at(id));
  return id;
}

void GenesysModel::note_overwrite(const std::string& conversation, const boost::json::value& body,
                                  int64_t sent_ms) {
  std::set<std::string> kept;
  {
    std::istringstream in(body.is_object() ? str_of(body.as_object(), "textBody") : "");
    for (std::string w; in >> w;) kept.insert(w);
  }
  // Dated by its request's send (decision 062): the last read and the last write that had
  // reached the platform when it went out.
  const auto last_before = [sent_ms](const std::vector<int64_t>& times) -> int64_t {
    auto it = std::upper_bound(times.begin(), times.end(), sent_ms);
    return it == times.begin() ? -1 : *std::prev(it);
  };
  const int64_t read_ms = last_before(draft_reads_ms_[conversation]);
  const int64_t written_ms = last_before(draft_writes_ms_[conversation]);
  draft_writes_ms_[conversation].push_back(now_ms_);
  const bool honest = read_ms >= 0 && read_ms >= written_ms && sent_ms - read_ms <= round_trip_ms_;
  auto old = drafts_.find(conversation);
  if (old == drafts_.end() || !honest) return;
  std::istringstream in(str_of(old->second, "textBody"));
  for (std::string w; in >> w;) {
    auto typed = web_typed_ms_.find(w);
    if (typed != web_typed_ms_.end() && kept.count(w) == 0 && typed->second >= read_ms) {
      unseen_.insert(w);
    }
  }
}

void GenesysModel::web_logoff(const std::string& user, int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  if (users_.count(user) != 0) set_presence(user, "pd-offline");
}

std::string GenesysModel::web_delete_voicemail(const std::string& user, size_t pick,
                                               int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  std::vector<std::string> mine;
  for (const std::string& id : voicemail_order_) {
    const Object& v = voicemails_.at(id);
    if (!v.at("deleted").as_bool() && str_of(v.at("user").as_object(), "id") == user) {
      mine.push_back(id);
    }
  }
  if (mine.empty()) return "";
  const std::string id = mine[pick % mine.size()];
  voicemail("DELETE", id, boost::json::value());
  return id;
}

std::optional<std::string> GenesysModel::draft_text(const std::string& conversation) const {
  auto it = drafts_.find(conversation);
  if (it == drafts_.end()) return std::nullopt;
  return str_of(it->second, "textBody");
}

}  // namespace outpost::sim

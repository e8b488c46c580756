#include "apps/outpost-sim/trace.h"

#include <cstdio>
#include <set>

namespace outpost::sim {
namespace {

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// Whether `term` occurs in `text` as a whole token (not inside a longer word).
bool mentions(const std::string& text, const std::string& term) {
  if (term.empty()) return false;
  for (size_t at = text.find(term); at != std::string::npos; at = text.find(term, at + 1)) {
    bool starts = at == 0 || !is_token_char(text[at - 1]);
    size_t end = at + term.size();
    bool ends = end >= text.size() || !is_token_char(text[end]);
    if (starts && ends) return true;
  }
  return false;
}

}  // namespace

std::string Trace::format(const TraceEvent& event) {
  char prefix[64];
  snprintf(prefix, sizeof(prefix), "#%-5llu t=%-8lld ", static_cast<unsigned long long>(event.step),
           static_cast<long long>(event.now_ms));
  return prefix + event.text;
}

void Trace::add(std::string text) {
  for (char c : text) {
    hash_ ^= static_cast<unsigned char>(c);
    hash_ *= 1099511628211ull;
  }
  hash_ ^= static_cast<uint64_t>(step_) * 31 + static_cast<uint64_t>(now_ms_);
  hash_ *= 1099511628211ull;
  ++count_;
  TraceEvent event{step_, now_ms_, std::move(text)};
  if (verbose_) printf("%s\n", format(event).c_str());
  if (events_.size() >= max_events_)
    events_.erase(events_.begin(), events_.begin() + max_events_ / 2);
  events_.push_back(std::move(event));
}

std::vector<std::string> Trace::relevant(const std::vector<std::string>& terms, size_t tail,
                                         size_t limit) const {
  std::set<size_t> keep;
  for (size_t i = 0; i < events_.size(); ++i) {
    for (const std::string& term : terms) {
      if (mentions(events_[i].text, term)) {
        keep.insert(i);
        break;
      }
    }
  }
  for (size_t i = events_.size() > tail ? events_.size() - tail : 0; i < events_.size(); ++i) {
    keep.insert(i);
  }
  std::vector<std::string> out;
  size_t skip = keep.size() > limit ? keep.size() - limit : 0;
  for (size_t i : keep) {
    if (skip > 0) {
      --skip;
      continue;
    }
    out.push_back(format(events_[i]));
  }
  return out;
}

}  // namespace outpost::sim

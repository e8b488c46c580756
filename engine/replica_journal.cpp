#include "engine/replica_journal.h"

namespace outpost {
namespace {

enum Flag : uint8_t {
  kOutbox = 1,
  kRejections = 2,
  kCursors = 4,
  kEverything = 8,
};

void put_string(std::string& out, std::string_view text) {
  uint64_t length = text.size();
  while (length >= 0x80) {
    out.push_back(static_cast<char>((length & 0x7F) | 0x80));
    length >>= 7;
  }
  out.push_back(static_cast<char>(length));
  out.append(text);
}

bool get_string(std::string_view& in, std::string& out) {
  uint64_t length = 0;
  for (int shift = 0;; shift += 7) {
    if (in.empty() || shift > 28) return false;
    const uint8_t byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    length |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) break;
  }
  if (length > in.size()) return false;
  out.assign(in.substr(0, length));
  in.remove_prefix(length);
  return true;
}

}  // namespace

std::string encode_journal_entry(const ChangeSet& changes) {
  size_t keys = 0;
  for (const auto& [collection, set] : changes.keys) keys += set.size();
  const bool everything = changes.everything_changed || keys > kJournalMaxKeys;
  uint8_t flags = (changes.outbox_changed ? kOutbox : 0) |
                  (changes.rejections_changed ? kRejections : 0) |
                  (changes.cursors_changed ? kCursors : 0) | (everything ? kEverything : 0);
  std::string out(1, static_cast<char>(flags));
  if (everything) return out;
  for (const auto& [collection, set] : changes.keys) {
    for (const std::string& key : set) {
      put_string(out, collection);
      put_string(out, key);
    }
  }
  return out;
}

bool decode_journal_entry(std::string_view bytes, ChangeSet& out) {
  if (bytes.empty()) return false;
  const uint8_t flags = static_cast<uint8_t>(bytes.front());
  bytes.remove_prefix(1);
  ChangeSet decoded;
  decoded.outbox_changed = (flags & kOutbox) != 0;
  decoded.rejections_changed = (flags & kRejections) != 0;
  decoded.cursors_changed = (flags & kCursors) != 0;
  decoded.everything_changed = (flags & kEverything) != 0;
  std::string collection;
  std::string key;
  while (!bytes.empty()) {
    if (!get_string(bytes, collection) || !get_string(bytes, key)) return false;
    decoded.add(collection, key);
  }
  out.merge(decoded);
  return true;
}

}  // namespace outpost

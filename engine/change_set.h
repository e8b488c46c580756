// What one committed transaction of a replica changed, delivered to subscribers after the
// commit so live UI queries can refresh just what moved (also for commits made by other
// processes on the same file: Replica::refresh).
// Thread rules: a plain value, safe to copy between threads.
#pragma once

#include <map>
#include <set>
#include <string>

namespace outpost {

struct ChangeSet {
  // collection name -> keys whose row was inserted, updated or deleted
  std::map<std::string, std::set<std::string>> keys;
  bool outbox_changed = false;      // mutations were added, confirmed or rejected
  bool rejections_changed = false;  // the list of rejected mutations changed
  bool cursors_changed = false;     // sync progress moved
  // Another process changed more than this connection could learn key by key (it was
  // away longer than the replica's journal reaches): re-read everything.
  bool everything_changed = false;

  bool empty() const {
    return keys.empty() && !outbox_changed && !rejections_changed && !cursors_changed &&
           !everything_changed;
  }
  void add(const std::string& collection, const std::string& key) { keys[collection].insert(key); }
  void merge(const ChangeSet& other) {
    for (const auto& [collection, set] : other.keys)
      keys[collection].insert(set.begin(), set.end());
    outbox_changed |= other.outbox_changed;
    rejections_changed |= other.rejections_changed;
    cursors_changed |= other.cursors_changed;
    everything_changed |= other.everything_changed;
  }
};

}  // namespace outpost

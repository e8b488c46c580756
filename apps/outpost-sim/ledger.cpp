#include "apps/outpost-sim/ledger.h"

namespace outpost::sim {

void Ledger::add_mutation(MutationRecord record) {
  MutationKey key{record.client_id, record.id};
  mutations_[key] = std::move(record);
}

MutationRecord* Ledger::find(const std::string& client_id, uint64_t id) {
  auto it = mutations_.find({client_id, id});
  return it == mutations_.end() ? nullptr : &it->second;
}

MutationRecord* Ledger::record_for(const std::string& client_id, uint64_t id, uint64_t print) {
  auto it = mutations_.find({client_id, id});
  if (it != mutations_.end() && (it->second.print == 0 || it->second.print == print)) {
    return &it->second;
  }
  for (auto& [key, record] : mutations_) {
    if (record.restored_from == client_id && record.id == id && record.print == print) {
      return &record;
    }
  }
  MutationRecord& record = mutations_[{client_id, id}];
  if (!record.name.empty()) {
    record.print_mismatch =
        "the server took another mutation (print " + std::to_string(print) + ") at this id";
    return nullptr;
  }
  record.client_id = client_id;
  record.id = id;
  record.print = print;
  return &record;
}

void Ledger::server_applied(const std::string& client_id, uint64_t id, uint64_t print) {
  MutationRecord* record = record_for(client_id, id, print);
  if (record == nullptr) return;
  record->applied++;
  if (record->applied_order == 0) record->applied_order = next_order();
}

void Ledger::server_rejected(const std::string& client_id, uint64_t id, uint64_t print,
                             const std::string& code, const std::string& reason) {
  MutationRecord* record = record_for(client_id, id, print);
  if (record == nullptr) return;
  MutationRecord& target = *record;
  target.rejected = true;
  target.code = code;
  target.reason = reason;
}

void Ledger::renumbered(const std::string& client_id,
                        const std::vector<std::pair<uint64_t, uint64_t>>& moves) {
  std::vector<MutationRecord> moved;
  for (const auto& [from, to] : moves) {
    auto it = mutations_.find({client_id, from});
    if (it == mutations_.end()) continue;
    moved.push_back(std::move(it->second));
    moved.back().id = to;
    mutations_.erase(it);
  }
  for (MutationRecord& record : moved) {
    const uint64_t id = record.id;
    mutations_[{client_id, id}] = std::move(record);
  }
  std::map<uint64_t, uint64_t> new_id(moves.begin(), moves.end());
  for (TextEdit& edit : edits_) {
    if (edit.from_platform || edit.client_id != client_id) continue;
    auto it = new_id.find(edit.mutation_id);
    if (it != new_id.end()) edit.mutation_id = it->second;
  }
}

void Ledger::restored(const std::string& client_id, uint64_t next_id, const std::string& tag) {
  restored_clients_.insert(client_id);
  const std::string archive = client_id + "~" + tag;
  auto it = mutations_.lower_bound({client_id, next_id});
  while (it != mutations_.end() && it->first.first == client_id) {
    MutationRecord record = std::move(it->second);
    it = mutations_.erase(it);
    record.restored_from = client_id;
    record.client_id = archive;
    record.lost_to_restore = record.applied == 0 && !record.rejected;
    const uint64_t id = record.id;
    mutations_[{archive, id}] = std::move(record);
  }
  for (TextEdit& edit : edits_) {
    if (!edit.from_platform && edit.client_id == client_id && edit.mutation_id >= next_id) {
      edit.client_id = archive;
    }
  }
}

uint64_t Ledger::next_id(const std::string& client_id) const {
  auto it = mutations_.lower_bound({client_id + '\x01', 0});
  if (it == mutations_.begin()) return 1;
  --it;
  return it->first.first == client_id ? it->first.second + 1 : 1;
}

void Ledger::add_platform_edit(TextEdit edit) {
  edit.from_platform = true;
  edit.platform_order = next_order();
  edits_.push_back(std::move(edit));
}

std::map<std::string, std::set<std::string>> Ledger::required_words() const {
  // Server order of each applied edit (0: never applied).
  auto order_of = [&](const TextEdit& edit) -> uint64_t {
    if (edit.from_platform) return edit.platform_order;
    auto it = mutations_.find({edit.client_id, edit.mutation_id});
    if (it == mutations_.end() || it->second.applied == 0 || it->second.rejected) return 0;
    return it->second.applied_order;
  };
  std::map<std::string, uint64_t> last_delete;
  for (const TextEdit& edit : edits_) {
    uint64_t order = order_of(edit);
    if (edit.is_delete && order > 0) {
      uint64_t& last = last_delete[edit.record];
      if (order > last) last = order;
    }
  }
  std::map<std::string, std::set<std::string>> required;
  for (const TextEdit& edit : edits_) {
    if (edit.is_delete) continue;
    uint64_t order = order_of(edit);
    if (order == 0) continue;
    auto deleted = last_delete.find(edit.record);
    if (deleted != last_delete.end() && order < deleted->second) continue;
    for (const std::string& word : edit.typed) {
      if (deleted_words_.count(word) == 0) required[edit.record].insert(word);
    }
  }
  return required;
}

}  // namespace outpost::sim

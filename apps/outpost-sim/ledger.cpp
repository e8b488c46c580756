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

void Ledger::server_applied(const std::string& client_id, uint64_t id) {
  MutationRecord& record = mutations_[{client_id, id}];
  record.client_id = client_id;
  record.id = id;
  record.applied++;
  if (record.applied_order == 0) record.applied_order = next_order();
}

void Ledger::server_rejected(const std::string& client_id, uint64_t id, const std::string& code,
                             const std::string& reason) {
  MutationRecord& record = mutations_[{client_id, id}];
  record.client_id = client_id;
  record.id = id;
  record.rejected = true;
  record.code = code;
  record.reason = reason;
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

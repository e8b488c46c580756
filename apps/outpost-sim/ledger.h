// What the simulation knows independently of the system under test, for the checker:
// every mutation id mutate() returned on each device and what the server did with it (seen
// by the simulator's own wrapper around each server mutator, so "applied exactly once" is
// counted, not read back from the server's bookkeeping), and every text edit (device saves
// and platform edits of drafts and notes) with the order the server applied it in, plus
// the words users deleted on purpose.
// Thread rules: one object per simulation, used by its single thread.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace outpost::sim {

struct MutationRecord {
  int device = 0;
  std::string client_id;
  uint64_t id = 0;
  std::string name;
  std::string summary;  // what the workload meant (for the trace)
  // Observed on the server (committed pushes only).
  int applied = 0;             // fresh applications; exactly one is the goal
  uint64_t applied_order = 0;  // position in the server's application order
  bool rejected = false;
  std::string code;
  std::string reason;
};

// One write of a text record: the words its text held as written.
struct TextEdit {
  std::string record;  // "draft|<scope>|<id>" or "note|<scope>|<interaction id>"
  bool is_delete = false;
  // A device save (applied when its mutation was) or a platform edit (applied at once).
  bool from_platform = false;
  std::string client_id;
  uint64_t mutation_id = 0;
  uint64_t platform_order = 0;
  std::vector<std::string> typed;  // the words this edit inserted (typing)
  std::vector<std::string> words;  // every word of the text as written (for the trace)
};

class Ledger {
 public:
  using MutationKey = std::pair<std::string, uint64_t>;  // client id, mutation id

  void add_mutation(MutationRecord record);
  MutationRecord* find(const std::string& client_id, uint64_t id);
  const std::map<MutationKey, MutationRecord>& mutations() const { return mutations_; }

  // The server freshly applied (or rejected) a mutation in a committed push.
  void server_applied(const std::string& client_id, uint64_t id);
  void server_rejected(const std::string& client_id, uint64_t id, const std::string& code,
                       const std::string& reason);

  void add_device_edit(TextEdit edit) { edits_.push_back(std::move(edit)); }
  // A platform edit, applied now: takes the next place in the server's order.
  void add_platform_edit(TextEdit edit);
  void deliberately_deleted(const std::string& word) { deleted_words_.insert(word); }

  // Words that must survive in each record at quiescence: those typed by every edit the
  // server applied after the record's last applied delete, less deliberate deletions.
  std::map<std::string, std::set<std::string>> required_words() const;
  const std::vector<TextEdit>& edits() const { return edits_; }
  uint64_t words_typed() const { return words_typed_; }
  void count_typed(uint64_t words) { words_typed_ += words; }

 private:
  uint64_t next_order() { return ++order_; }

  std::map<MutationKey, MutationRecord> mutations_;
  std::vector<TextEdit> edits_;
  std::set<std::string> deleted_words_;
  uint64_t order_ = 0;
  uint64_t words_typed_ = 0;
};

}  // namespace outpost::sim

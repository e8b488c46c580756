// What the simulation knows independently of the system under test, for the checker:
// every mutation id mutate() returned on each device and what the server did with it (seen
// by the simulator's own wrapper around each server mutator, so "applied exactly once" is
// counted, not read back from the server's bookkeeping), and every text edit (device saves
// and platform edits of drafts and notes) with the order the server applied it in, plus
// the words users deleted on purpose. Mutations are known by (client id, id) and checked by
// their print (engine/mutation_print.h): a device renumbering its outbox after a restore
// from an older copy moves its records to their new ids (renumbered()), and the records a
// restore took back (issued after the copy was taken) move to an archive of their own
// (restored()), where only "never applied twice" still holds.
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
  uint64_t print = 0;   // mutation_print() of what the device stored (0: not known)
  // Archived by a restore (restored()): the device's client id this record was issued by,
  // else empty. An archived record is checked only for "never applied twice".
  std::string restored_from;
  bool lost_to_restore = false;  // issued after the copy, not applied when it was restored
  // Observed on the server (committed pushes only).
  int applied = 0;             // fresh applications; exactly one is the goal
  uint64_t applied_order = 0;  // position in the server's application order
  bool rejected = false;
  std::string code;
  std::string reason;
  // The server applied or rejected another mutation (another print) at this id.
  std::string print_mismatch;
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

  // The server freshly applied (or rejected) a mutation in a committed push; `print` is
  // that mutation's. A record of another print at this id is looked for in the client's
  // archives (a push from before a restore arriving after it); none: noted as a mismatch.
  void server_applied(const std::string& client_id, uint64_t id, uint64_t print);
  void server_rejected(const std::string& client_id, uint64_t id, uint64_t print,
                       const std::string& code, const std::string& reason);

  // The device renumbered pending mutations (old id, new id), as Replica::renumber_pending
  // did: their records and text edits move to the new ids.
  void renumbered(const std::string& client_id,
                  const std::vector<std::pair<uint64_t, uint64_t>>& moves);
  // The device's replica was replaced by a copy whose next mutation id was `next_id`: the
  // client's records from `next_id` on go to the archive `client_id + "~" + tag` (their
  // edits too); those not applied nor rejected are lost with the restore.
  void restored(const std::string& client_id, uint64_t next_id, const std::string& tag);
  bool was_restored(const std::string& client_id) const {
    return restored_clients_.count(client_id) != 0;
  }
  // The next id a device's mutate() will return, as far as the ledger knows (max + 1).
  uint64_t next_id(const std::string& client_id) const;

  void add_device_edit(TextEdit edit) { edits_.push_back(std::move(edit)); }
  // A platform edit, applied now: takes the next place in the server's order.
  void add_platform_edit(TextEdit edit);
  void deliberately_deleted(const std::string& word) { deleted_words_.insert(word); }
  bool was_deleted(const std::string& word) const { return deleted_words_.count(word) != 0; }

  // Words that must survive in each record at quiescence: those typed by every edit the
  // server applied after the record's last applied delete, less deliberate deletions.
  std::map<std::string, std::set<std::string>> required_words() const;
  const std::vector<TextEdit>& edits() const { return edits_; }
  uint64_t words_typed() const { return words_typed_; }
  void count_typed(uint64_t words) { words_typed_ += words; }

 private:
  uint64_t next_order() { return ++order_; }
  // The record the server's answer for (client, id, print) belongs to (created if none);
  // nullptr when the record at that id has another print (its mismatch is noted).
  MutationRecord* record_for(const std::string& client_id, uint64_t id, uint64_t print);

  std::map<MutationKey, MutationRecord> mutations_;
  std::vector<TextEdit> edits_;
  std::set<std::string> deleted_words_;
  std::set<std::string> restored_clients_;
  uint64_t order_ = 0;
  uint64_t words_typed_ = 0;
};

}  // namespace outpost::sim

// The port through which the sans-I/O GenesysCore journals its sends (decisions 037, 055):
// before a send's single POST its key (send/user/draft/revision) is marked "attempted", a
// definite answer makes it "accepted" or forgets it. The core calls it synchronously and
// trusts a set() that returned Ok to survive a restart. Production gives it the file journal
// (SendJournal, DATA/platform-sends, fsync'd); outpost-sim an in-memory one that outlives its
// simulated server restarts; without one the core keeps its own in memory.
// Thread rules: as the implementation says (the core calls it from its one owner).
#pragma once

#include <map>
#include <string>

#include "engine/status.h"

namespace outpost::genesys {

class SendMarks {
 public:
  enum class Mark { kNone, kAttempted, kAccepted };
  virtual ~SendMarks() = default;
  virtual Mark get(const std::string& key) = 0;
  // Durable when Ok. Errors: kIo.
  virtual Status set(const std::string& key, Mark mark) = 0;
  virtual Status forget(const std::string& key) = 0;
};

// Marks in memory (the core's own when it is given none; outpost-sim's, kept across its
// restarts). Thread rules: one owner.
class MemorySendMarks : public SendMarks {
 public:
  Mark get(const std::string& key) override {
    auto it = marks_.find(key);
    return it == marks_.end() ? Mark::kNone : it->second;
  }
  Status set(const std::string& key, Mark mark) override {
    if (mark == Mark::kNone) return forget(key);
    marks_[key] = mark;
    return Status::Ok();
  }
  Status forget(const std::string& key) override {
    marks_.erase(key);
    return Status::Ok();
  }
  size_t size() const { return marks_.size(); }

 private:
  std::map<std::string, Mark> marks_;
};

}  // namespace outpost::genesys

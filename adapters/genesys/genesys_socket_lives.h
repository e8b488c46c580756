// A notification socket's lives as GenesysCoreDriver's socket thread sees them (decision
// 049): the core's opens and closes are counted when queued for the thread and when done.
// While the counts differ, the core has already ended (or replaced) the life the socket
// reports on, so what the socket says (a message, a failed read, an open's outcome) is late
// news and is dropped. Kept apart from the driver's threads so the rule is tested alone.
// Thread rules: a plain value; the driver guards it with its lock.
#pragma once

#include <cstdint>

#include "adapters/genesys/genesys_core.h"

namespace outpost::genesys {

class SocketLives {
 public:
  // The driver queued `kind` for the socket thread (a send does not start or end a life).
  void queued(SocketCommand::Kind kind) {
    if (kind != SocketCommand::Kind::kSend) ++queued_;
  }
  // The thread ran `kind`: true when its outcome is news for the core (an open, with no
  // open or close queued behind it).
  bool done(SocketCommand::Kind kind) {
    if (kind == SocketCommand::Kind::kSend) return false;
    ++done_;
    return kind == SocketCommand::Kind::kOpen && current();
  }
  // What the socket reads now (a message, a failed read) is news for the core.
  bool current() const { return queued_ == done_; }

 private:
  uint64_t queued_ = 0;
  uint64_t done_ = 0;
};

}  // namespace outpost::genesys

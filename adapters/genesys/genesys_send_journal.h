// The sends that may have reached the platform (decision 037). Genesys Cloud takes no
// idempotency key, so before a send's POST its key (send/user/draft/revision) is marked
// "attempted" here, durably; a definite answer makes it "accepted" (kept, so a device that
// retries after the server's store lost the answer is answered without asking again) or
// forgets it (refused). A retry of an "attempted" send first reads the conversation's
// messages. One file per key in DIR (DATA/platform-sends), named by the key's SHA-256,
// written by rename with fsync; entries older than `keep` are removed at start.
// Thread rules: safe from several threads (one lock).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "engine/status.h"

namespace outpost::genesys {

class SendJournal {
 public:
  enum class Mark { kNone, kAttempted, kAccepted };

  // `dir` empty: the marks live in memory only (a restart forgets them).
  explicit SendJournal(std::string dir, std::chrono::hours keep = std::chrono::hours(24 * 7));

  Mark get(const std::string& key);
  // Durable when this returns Ok. Errors: kIo.
  Status set(const std::string& key, Mark mark);
  Status forget(const std::string& key);

 private:
  std::string path_of(const std::string& key) const;

  std::mutex mutex_;
  std::string dir_;
  std::map<std::string, Mark> memory_;
};

}  // namespace outpost::genesys

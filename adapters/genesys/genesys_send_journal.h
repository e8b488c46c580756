// The sends that may have reached the platform (decision 037). Genesys Cloud takes no
// idempotency key, so before a send's POST its key (send/user/draft/revision) is marked
// "attempted" here, durably; a definite answer makes it "accepted" (kept, so a device that
// retries after the server's store lost the answer is answered without asking again) or
// forgets it (refused). A retry of an "attempted" send first reads the conversation's
// messages. The core asks it through SendMarks (decision 055), under the driver's lock. One file
// per key in DIR (DATA/platform-sends), named by the key's SHA-256, written by rename with fsync;
// entries older than `keep` are removed at start. Thread rules: safe from several threads (one
// lock).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "adapters/genesys/genesys_send_marks.h"
#include "engine/status.h"

namespace outpost::genesys {

// The core's SendMarks port in production (decision 055).
class SendJournal : public SendMarks {
 public:
  using Mark = SendMarks::Mark;

  // `dir` empty: the marks live in memory only (a restart forgets them).
  explicit SendJournal(std::string dir, std::chrono::hours keep = std::chrono::hours(24 * 7));

  Mark get(const std::string& key) override;
  // Durable when this returns Ok. Errors: kIo.
  Status set(const std::string& key, Mark mark) override;
  Status forget(const std::string& key) override;

 private:
  std::string path_of(const std::string& key) const;

  std::mutex mutex_;
  std::string dir_;
  std::map<std::string, Mark> memory_;
};

}  // namespace outpost::genesys

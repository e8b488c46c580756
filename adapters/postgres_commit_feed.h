// Commits made by other outpost-server processes on the same PostgreSQL database, heard
// through LISTEN outpost_commits on one dedicated connection and handed to the owner as
// moved heads (the same shape ServerCore's commit listeners get for local commits, each
// with its base, so the changes travel with the pokes here too: decision 041).
// When the connection is lost it reconnects with backoff; after every (re)connect it calls
// on_resync, because notifications sent meanwhile are gone: the owner pokes every device
// (pulls are idempotent), so nothing is missed.
// Thread rules: the callbacks run on the feed's own thread; stop() (or the destructor)
// joins it and must not be called from a callback.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "engine/server_store.h"

namespace outpost {

struct PostgresCommitFeedOptions {
  std::string url;
  // Payloads tagged with this instance (the local store's) are skipped: local commits
  // already reach the local listeners.
  std::string own_instance;
  std::function<void(const std::vector<CommittedHead>&)> on_heads;
  std::function<void()> on_resync;
  // One line per connection change. Empty: silent.
  std::function<void(const std::string&)> log;
};

class PostgresCommitFeed {
 public:
  // Reconnect backoff bounds, and how often the thread checks for stop().
  static constexpr int kMinBackoffMs = 100;
  static constexpr int kMaxBackoffMs = 2000;
  static constexpr int kPollMs = 100;
  // Heads gathered from one wake-up before they are handed over.
  static constexpr size_t kMaxHeadsPerBatch = 1000;

  explicit PostgresCommitFeed(PostgresCommitFeedOptions options);
  ~PostgresCommitFeed();
  PostgresCommitFeed(const PostgresCommitFeed&) = delete;
  PostgresCommitFeed& operator=(const PostgresCommitFeed&) = delete;

  // Starts the listening thread (returns at once; the first connect happens there).
  void start();
  void stop();
  // True while the listening connection is up (for tests and health).
  bool connected() const { return connected_.load(); }
  // How many times a connection was established (1 after the first connect).
  int connects() const { return connects_.load(); }

 private:
  void run();

  PostgresCommitFeedOptions options_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> connected_{false};
  std::atomic<int> connects_{0};
  std::thread thread_;
};

// Parses "<instance>:<base> <head> <hex scope>" (head.base_seq set: the commit's changes
// can travel with the poke, decision 041), "<instance> <head> <hex scope>" (a store before
// it: no base) or "<instance> *" (all scopes: head 0, scope ""). A base must be below the
// head. False for anything else.
bool parse_commit_payload(const std::string& payload, std::string& instance, CommittedHead& head);

}  // namespace outpost

// The LISTEN loop: one connection, await_notification with a short timeout so stop() is
// prompt, reconnect with capped exponential backoff.
#include "adapters/postgres_commit_feed.h"

#include <pqxx/pqxx>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

#include "adapters/postgres_server_store.h"

namespace outpost {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection& conn, std::vector<std::string>& payloads)
      : pqxx::notification_receiver(conn, PostgresServerStore::kChannel), payloads_(payloads) {}
  void operator()(const std::string& payload, int) override { payloads_.push_back(payload); }

 private:
  std::vector<std::string>& payloads_;
};

// A decimal seq of at most 19 digits (below 2^63, as PostgreSQL's bigint holds it).
bool parse_seq(std::string_view text, uint64_t& seq) {
  if (text.empty() || text.size() > 19) return false;
  seq = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    seq = seq * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

}  // namespace

bool parse_commit_payload(const std::string& payload, std::string& instance, CommittedHead& head) {
  const size_t space = payload.find(' ');
  if (space == std::string::npos || space == 0) return false;
  const std::string_view tag(payload.data(), space);
  const size_t colon = tag.find(':');
  std::optional<uint64_t> base;
  if (colon != std::string_view::npos) {
    uint64_t value = 0;
    if (colon == 0 || !parse_seq(tag.substr(colon + 1), value)) return false;
    base = value;
  }
  instance = std::string(tag.substr(0, colon));
  const std::string rest = payload.substr(space + 1);
  if (rest == "*") {
    if (base) return false;
    head = CommittedHead{"", 0};
    return true;
  }
  const size_t second = rest.find(' ');
  if (second == std::string::npos || second == 0) return false;
  uint64_t seq = 0;
  if (!parse_seq(std::string_view(rest).substr(0, second), seq)) return false;
  if (base && *base >= seq) return false;
  const std::string hex = rest.substr(second + 1);
  if (hex.empty() || hex.size() % 2 != 0) return false;
  std::string scope;
  scope.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_digit(hex[i]);
    const int lo = hex_digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    scope.push_back(static_cast<char>(hi * 16 + lo));
  }
  head = CommittedHead{std::move(scope), seq, base};
  return true;
}

PostgresCommitFeed::PostgresCommitFeed(PostgresCommitFeedOptions options)
    : options_(std::move(options)) {}

PostgresCommitFeed::~PostgresCommitFeed() {
  stop();
}

void PostgresCommitFeed::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void PostgresCommitFeed::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void PostgresCommitFeed::run() {
  auto log = [&](const std::string& line) {
    if (options_.log) options_.log(line);
  };
  int backoff_ms = kMinBackoffMs;
  bool was_lost = false;
  while (!stopping_) {
    std::vector<std::string> payloads;
    try {
      pqxx::connection conn(options_.url);
      Receiver receiver(conn, payloads);
      conn.get_notifs();  // runs the LISTEN now, so nothing committed after this is missed
      const int pid = conn.backendpid();
      connected_ = true;
      ++connects_;
      backoff_ms = kMinBackoffMs;
      if (was_lost) log("commit feed: reconnected to PostgreSQL");
      // Whatever was committed while we were not listening: let every device pull.
      if (options_.on_resync) options_.on_resync();
      while (!stopping_) {
        conn.await_notification(0, kPollMs * 1000);
        if (!conn.is_open() || conn.backendpid() != pid) {
          throw pqxx::broken_connection("the listening connection was replaced");
        }
        if (payloads.empty()) continue;
        std::vector<CommittedHead> heads;
        bool all = false;
        for (const std::string& payload : payloads) {
          std::string instance;
          CommittedHead head;
          if (!parse_commit_payload(payload, instance, head)) continue;
          if (instance == options_.own_instance) continue;
          if (head.scope.empty()) {
            all = true;
          } else if (heads.size() < kMaxHeadsPerBatch) {
            heads.push_back(std::move(head));
          } else {
            all = true;
          }
        }
        payloads.clear();
        if (all) {
          if (options_.on_resync) options_.on_resync();
        } else if (!heads.empty() && options_.on_heads) {
          options_.on_heads(heads);
        }
      }
    } catch (const std::exception& e) {
      if (connected_ || !was_lost) {
        std::string what = e.what();
        while (!what.empty() && what.back() == '\n') what.pop_back();
        log("commit feed: PostgreSQL connection lost (" + what + "); reconnecting");
      }
      connected_ = false;
      was_lost = true;
    }
    for (int waited = 0; waited < backoff_ms && !stopping_; waited += kPollMs) {
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
    }
    backoff_ms = std::min(backoff_ms * 2, kMaxBackoffMs);
  }
  connected_ = false;
}

}  // namespace outpost

// Internals of the PostgreSQL server store, shared by its .cpp files: pooled connections
// with their prepared statements, exception-to-Status conversion and the table format.
// Thread rules: a Conn belongs to one thread at a time (leased from Pool, thread-safe).
#pragma once

#include <pqxx/pqxx>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/postgres_server_store.h"
#include "engine/status.h"

namespace outpost::pg_detail {

// Maps a libpqxx exception to the error registry (see the store header's Errors).
Status status_for(std::string_view what, const std::exception& e);
// True when the exception means the connection is gone (it must not be reused).
bool connection_lost(const std::exception& e);

// Creates or migrates the tables in one transaction under an advisory lock.
Status migrate(pqxx::connection_base& conn);
// Prepares every statement the store uses on a fresh connection.
void prepare_statements(pqxx::connection_base& conn);

// libpqxx 6.4 keeps its libpq handle private; a connection policy (libpqxx's extension
// point for how a connection is made) is handed it as it connects. The write transaction
// uses it to send a batch of puts and go on without waiting for the answer (libpq's
// asynchronous calls, decision 054). Read by the Conn constructed on the same thread.
class HandlePolicy : public pqxx::connect_direct {
 public:
  explicit HandlePolicy(const std::string& options) : pqxx::connect_direct(options) {}
  handle do_startconnect(handle orig) override;
  static thread_local handle last_connected;
};
using Connection = pqxx::basic_connection_base<HandlePolicy>;
using RawConn = pqxx::internal::pq::PGconn;

// One put a write transaction holds back until its next statement (bulk writes travel as
// one multi-row statement instead of a round trip per record).
struct BufferedPut {
  int64_t scope_id = 0;
  std::string collection;
  std::string key;
  uint64_t seq = 0;
  int priority = 0;
  std::string body;
};
// The prepared statement "bulk_put" writes puts (distinct keys) into records and the change
// log in one round trip, answering (n, old body size) for each put n that replaced a record.
// Its six parameters are the puts' columns, each one PostgreSQL array in binary form
// (array_send's layout), bound as binary parameters: no SQL text per row, no hex, no
// escaping, one small plan (decision 041).
struct BulkPutColumns {
  std::string scope_ids;    // bigint[]
  std::string collections;  // bytea[]
  std::string keys;         // bytea[]
  std::string versions;     // bigint[] (the seqs)
  std::string priorities;   // integer[]
  std::string bodies;       // bytea[]
};
BulkPutColumns bulk_put_columns(const std::vector<BufferedPut>& puts);

// "bulk_put" through libpq's asynchronous calls on a connection no other statement is
// running on (postgres_bulk_put.cpp). Errors are thrown as libpqxx's exceptions
// (pqxx::broken_connection, pqxx::sql_error with its SQLSTATE), as a statement run
// through libpqxx would throw them.
// Sends the statement and returns without waiting for its answer.
void send_bulk_put(RawConn* conn, const BulkPutColumns& columns);
// True when the answer of the statement sent has arrived (reads what the socket holds;
// never blocks).
bool bulk_put_answered(RawConn* conn);
// Waits for the answer: (n, old body size) for each put n that replaced a record.
std::vector<std::pair<size_t, uint64_t>> receive_bulk_put(RawConn* conn);
// Waits for the answer and drops it (the transaction is being rolled back).
void discard_answer(RawConn* conn) noexcept;

inline pqxx::binarystring bytes(const std::string& value) {
  return pqxx::binarystring(value.data(), value.size());
}
inline std::string text_of_bytea(const pqxx::field& field) {
  return pqxx::binarystring(field).str();
}
inline int64_t i64(uint64_t value) {
  return static_cast<int64_t>(value);
}
inline uint64_t u64(const pqxx::field& field) {
  return static_cast<uint64_t>(field.as<int64_t>());
}

struct Conn {
  explicit Conn(const std::string& url);
  Connection db;
  // db's libpq handle: valid while db.is_open(), since libpqxx is told never to reconnect
  // it (a lost connection leaves the pool instead).
  RawConn* raw = nullptr;
  bool bulk_put_prepared = false;
  // raw, once "bulk_put" is prepared on it (the first time: after the tables exist).
  RawConn* bulk_put_handle();
};

// Bounded connections: at most `max` exist; a caller waits up to kPoolWaitMs for one.
class Pool {
 public:
  Pool(std::string url, size_t max) : url_(std::move(url)), max_(max) {}

  // A leased connection; returned to the pool on destruction unless marked lost.
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Conn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {
      other.pool_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    ~Lease() { release(); }
    Conn& operator*() { return *conn_; }
    Conn* operator->() { return conn_.get(); }
    void mark_lost() { lost_ = true; }
    void release() noexcept {
      if (pool_ == nullptr) return;
      pool_->give_back(lost_ ? nullptr : std::move(conn_));
      pool_ = nullptr;
    }

   private:
    Pool* pool_;
    std::unique_ptr<Conn> conn_;
    bool lost_ = false;
  };

  // Errors: kUnavailable when none frees up in time or PostgreSQL refuses to connect.
  Result<Lease> lease(std::string_view what) {
    std::unique_ptr<Conn> conn;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const bool got =
          freed_.wait_for(lock, std::chrono::milliseconds(PostgresServerStore::kPoolWaitMs),
                          [&] { return !idle_.empty() || open_ < max_; });
      if (!got) {
        return error(ErrorCode::kUnavailable, std::string(what) + ": all " + std::to_string(max_) +
                                                  " PostgreSQL connections stayed busy");
      }
      if (!idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++open_;  // reserve the slot, connect outside the lock
      }
    }
    if (!conn) {
      try {
        conn = std::make_unique<Conn>(url_);
      } catch (const std::exception& e) {
        give_back(nullptr);
        return status_for(std::string(what) + ": connecting to PostgreSQL", e);
      }
    }
    return Lease(this, std::move(conn));
  }

  // Runs f(conn) on a leased connection, turning exceptions into a Status. f must be
  // safe to run twice (a read, or its own transaction): when the connection turns out to
  // be dead (PostgreSQL restarted since it was pooled) it runs once more on a fresh one.
  template <typename F>
  auto run(std::string_view what, F&& f) -> decltype(f(std::declval<Conn&>())) {
    for (int attempt = 0;; ++attempt) {
      auto lease_or = lease(what);
      if (!lease_or.ok()) return lease_or.status();
      Lease lease = std::move(lease_or).value();
      try {
        return f(*lease);
      } catch (const std::exception& e) {
        const bool lost = connection_lost(e);
        if (lost) lease.mark_lost();
        if (!lost || attempt > 0) return status_for(what, e);
      }
    }
  }

 private:
  // A lost connection means the server went away: the idle ones are as dead, so they
  // are closed too rather than each failing one request later.
  void give_back(std::unique_ptr<Conn> conn) noexcept {
    std::vector<std::unique_ptr<Conn>> dead;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (conn && conn->db.is_open()) {
        idle_.push_back(std::move(conn));
      } else {
        --open_;
        open_ -= idle_.size();
        dead.swap(idle_);
      }
    }
    freed_.notify_all();
  }

  const std::string url_;
  const size_t max_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Conn>> idle_;
  size_t open_ = 0;  // idle + leased + being connected
};

}  // namespace outpost::pg_detail

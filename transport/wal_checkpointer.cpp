#include "transport/wal_checkpointer.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <memory>

namespace outpost {

WalCheckpointer::WalCheckpointer(std::string replica_path, WalCheckpointerOptions options)
    : path_(std::move(replica_path)), options_(options) {
  thread_ = std::thread([this] { run(); });
}

WalCheckpointer::~WalCheckpointer() {
  stop();
}

void WalCheckpointer::poke() {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (poked_) return;
    poked_ = true;
    wake = waiting_;
  }
  if (wake) wake_.notify_all();
}

void WalCheckpointer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t WalCheckpointer::checkpoints() const {
  std::lock_guard lock(mutex_);
  return checkpoints_;
}

Status WalCheckpointer::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

void WalCheckpointer::run() {
  std::unique_ptr<SQLite::Database> db;
  int64_t last_log = -1, last_copied = -1;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    waiting_ = true;
    wake_.wait(lock, [this] { return stopping_ || poked_; });
    waiting_ = false;
    if (stopping_) break;
    poked_ = false;
    lock.unlock();
    Status result = Status::Ok();
    bool copied = false;
    try {
      if (!db) {
        db = std::make_unique<SQLite::Database>(path_, SQLite::OPEN_READWRITE);
        db->exec("PRAGMA busy_timeout = 0");
      }
      // Columns: busy, frames in the WAL, frames checkpointed (both -1 when not in WAL mode).
      SQLite::Statement checkpoint(*db, "PRAGMA wal_checkpoint(PASSIVE)");
      if (checkpoint.executeStep()) {
        // The counts stay put while nothing is written; they drop when the WAL restarts.
        const int64_t log = checkpoint.getColumn(1).getInt64();
        const int64_t done = checkpoint.getColumn(2).getInt64();
        copied = done > 0 && (done != last_copied || log < last_log);
        last_log = log;
        last_copied = done;
      }
    } catch (const SQLite::Exception& e) {
      result = error(ErrorCode::kIo, std::string("checkpoint of ") + path_ + ": " + e.what());
      db.reset();  // reopen on the next pass
    }
    lock.lock();
    last_error_ = result;
    if (copied) ++checkpoints_;
    // Pokes during the pause are remembered (poked_) and answered after it.
    wake_.wait_for(lock, options_.min_interval, [this] { return stopping_; });
  }
}

}  // namespace outpost

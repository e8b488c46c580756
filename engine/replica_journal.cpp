// The journal of commits for other connections to the file (decision 007): its entry codec,
// Replica::refresh() that reads the entries other connections wrote, the commit stamp that
// says cheaply whether to (decision 046), and the subscribers that hear about every change.
#include "engine/replica_journal.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <mutex>

#include "engine/replica_internal.h"

namespace outpost {
namespace {

enum Flag : uint8_t {
  kOutbox = 1,
  kRejections = 2,
  kCursors = 4,
  kEverything = 8,
};

void put_string(std::string& out, std::string_view text) {
  uint64_t length = text.size();
  while (length >= 0x80) {
    out.push_back(static_cast<char>((length & 0x7F) | 0x80));
    length >>= 7;
  }
  out.push_back(static_cast<char>(length));
  out.append(text);
}

bool get_string(std::string_view& in, std::string& out) {
  uint64_t length = 0;
  for (int shift = 0;; shift += 7) {
    if (in.empty() || shift > 28) return false;
    const uint8_t byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    length |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) break;
  }
  if (length > in.size()) return false;
  out.assign(in.substr(0, length));
  in.remove_prefix(length);
  return true;
}

}  // namespace

std::string encode_journal_entry(const ChangeSet& changes) {
  size_t keys = 0;
  for (const auto& [collection, set] : changes.keys) keys += set.size();
  const bool everything = changes.everything_changed || keys > kJournalMaxKeys;
  uint8_t flags = (changes.outbox_changed ? kOutbox : 0) |
                  (changes.rejections_changed ? kRejections : 0) |
                  (changes.cursors_changed ? kCursors : 0) | (everything ? kEverything : 0);
  std::string out(1, static_cast<char>(flags));
  if (everything) return out;
  for (const auto& [collection, set] : changes.keys) {
    for (const std::string& key : set) {
      put_string(out, collection);
      put_string(out, key);
    }
  }
  return out;
}

bool decode_journal_entry(std::string_view bytes, ChangeSet& out) {
  if (bytes.empty()) return false;
  const uint8_t flags = static_cast<uint8_t>(bytes.front());
  bytes.remove_prefix(1);
  ChangeSet decoded;
  decoded.outbox_changed = (flags & kOutbox) != 0;
  decoded.rejections_changed = (flags & kRejections) != 0;
  decoded.cursors_changed = (flags & kCursors) != 0;
  decoded.everything_changed = (flags & kEverything) != 0;
  std::string collection;
  std::string key;
  while (!bytes.empty()) {
    if (!get_string(bytes, collection) || !get_string(bytes, key)) return false;
    decoded.add(collection, key);
  }
  out.merge(decoded);
  return true;
}

using replica_internal::from_sqlite;
using replica_internal::read_commit_stamp;
using replica_internal::ResetOnExit;

uint64_t Replica::subscribe(Listener listener, Executor executor) {
  std::lock_guard<std::mutex> lock(subscribers_mutex_);
  uint64_t id = next_subscriber_id_++;
  auto next = std::make_shared<std::vector<Subscriber>>(*subscribers_);
  next->push_back(Subscriber{id, std::move(listener), std::move(executor)});
  subscribers_ = std::move(next);
  return id;
}

void Replica::unsubscribe(uint64_t id) {
  std::lock_guard<std::mutex> lock(subscribers_mutex_);
  auto next = std::make_shared<std::vector<Subscriber>>(*subscribers_);
  std::erase_if(*next, [id](const Subscriber& s) { return s.id == id; });
  subscribers_ = std::move(next);
}

Result<ChangeSet> Replica::refresh() {
  Impl& impl = *impl_;
  ChangeSet changes;
  // Decision 051: nobody committed since this connection's own last commit, which itself
  // came right after everything already accounted for: nothing to read, no SQL. Its
  // journal rows (and this connection's before it since the last read) are its own.
  if (impl.own_commit_stamp && impl.has_journal && impl.wal_index_header != nullptr &&
      read_commit_stamp(impl.wal_index_header) == *impl.own_commit_stamp) {
    impl.journal_seen = std::max(impl.journal_seen, impl.own_journal_seq);
    return changes;
  }
  impl.own_commit_stamp.reset();
  try {
    const int64_t version = impl.data_version();
    if (!impl.wal_index_header_looked && impl.has_journal) {  // read in WAL mode by now
      impl.wal_index_header_looked = true;
      (void)impl.map_wal_index_header();
    }
    if (version == impl.notified_version) return changes;
    // Another connection committed: it may have added mutations (a share extension's
    // save, the CLI), whatever its journal says (a writer without one, a dropped row).
    ++outbox_generation_;
    if (!impl.has_journal) {
      impl.has_journal = impl.db.tableExists("_journal");
      if (!impl.has_journal) {
        impl.notified_version = version;
        changes.everything_changed = true;
        notify(changes);
        return changes;
      }
    }
    // One statement: one snapshot, taken after `version` was read, so a commit in between
    // is read now and at most looked for once more.
    SQLite::Statement& select =
        impl.cached("SELECT seq, origin, changes FROM _journal WHERE seq > ? ORDER BY seq");
    ResetOnExit reset{select};
    select.bind(1, impl.journal_seen);
    bool first = true;
    while (select.executeStep()) {
      const int64_t seq = select.getColumn(0).getInt64();
      // Rows between what this connection saw and the oldest one kept were dropped.
      if (first && seq != impl.journal_seen + 1) changes.everything_changed = true;
      first = false;
      impl.journal_seen = seq;
      if (select.getColumn(1).getString() == impl.origin) continue;
      SQLite::Column entry = select.getColumn(2);
      if (!decode_journal_entry(
              std::string_view(static_cast<const char*>(entry.getBlob()), entry.getBytes()),
              changes)) {
        changes.everything_changed = true;
      }
    }
    if (first) {
      // Nothing past what this connection saw. Seqs are never reused while the newest row
      // stays (decision 058: no AUTOINCREMENT); a journal whose newest row is older than
      // that was emptied from outside, and its next rows would reuse seqs: start over.
      select.reset();
      SQLite::Statement& newest = impl.cached("SELECT coalesce(max(seq), 0) FROM _journal");
      ResetOnExit reset_newest{newest};
      newest.executeStep();
      const int64_t kept = newest.getColumn(0).getInt64();
      if (kept < impl.journal_seen) {
        changes.everything_changed = true;
        impl.journal_seen = kept;
      }
    }
    impl.notified_version = version;
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "refresh");
  }
  notify(changes);
  return changes;
}

namespace {

// SQLite's WAL-index (https://sqlite.org/walformat.html, "the wal-index header"): two
// copies of a 48-byte header at the start of the -shm mapping; a commit writes the second,
// then the first. Its first word is the format version, the third `iChange` (one more per
// commit), byte 12 `isInit`; a stamp is the first copy (read while a commit writes it, it
// differs from both: one more refresh()).
constexpr uint32_t kWalIndexVersion = 3007000;
constexpr int kWalIndexRegionBytes = 32768;
constexpr size_t kWalIndexChangeWord = 2;

}  // namespace

namespace replica_internal {

// Read while another connection (another process, or another thread here) may be writing
// it, as SQLite's own readers do: a torn copy only differs from both, which costs one more
// refresh(). Not an access for ThreadSanitizer to judge.
__attribute__((no_sanitize("thread"))) Replica::CommitStamp read_commit_stamp(
    const volatile uint32_t* header) {
  Replica::CommitStamp stamp;
  for (size_t i = 0; i < stamp.words.size(); ++i) stamp.words[i] = header[i];
  std::atomic_thread_fence(std::memory_order_acquire);
  return stamp;
}

}  // namespace replica_internal

const volatile uint32_t* Replica::Impl::map_wal_index_header() {
  if (wal_index_header != nullptr) return wal_index_header;
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db.getHandle(), "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
      file == nullptr || file->pMethods == nullptr || file->pMethods->iVersion < 2 ||
      file->pMethods->xShmMap == nullptr) {
    return nullptr;
  }
  // The region the connection mapped when it first read in WAL mode (bExtend 0: never
  // creates one); it stays mapped until the connection closes.
  volatile void* region = nullptr;
  if (file->pMethods->xShmMap(file, 0, kWalIndexRegionBytes, 0, &region) != SQLITE_OK ||
      region == nullptr) {
    return nullptr;
  }
  const auto* header = static_cast<const volatile uint32_t*>(region);
  const auto* bytes = static_cast<const volatile uint8_t*>(region);
  if (read_commit_stamp(header).words[0] != kWalIndexVersion || bytes[12] != 1) {  // isInit
    return nullptr;
  }
  wal_index_header = header;
  return header;
}

namespace replica_internal {

uint32_t commit_count_word(const Replica::CommitStamp& stamp) {
  return stamp.words[kWalIndexChangeWord];
}

}  // namespace replica_internal

Replica::CommitStampReader Replica::commit_stamp_reader() {
  const volatile uint32_t* header = impl_->map_wal_index_header();
  if (header == nullptr) return nullptr;
  return [header] { return read_commit_stamp(header); };
}

void Replica::notify(const ChangeSet& changes) {
  if (changes.outbox_changed || changes.everything_changed) ++outbox_generation_;
  if (changes.empty()) return;
  std::shared_ptr<const std::vector<Subscriber>> subscribers;
  {
    std::lock_guard<std::mutex> lock(subscribers_mutex_);
    subscribers = subscribers_;
  }
  for (const Subscriber& subscriber : *subscribers) {
    if (subscriber.executor) {
      Listener listener = subscriber.listener;
      subscriber.executor([listener, changes] { listener(changes); });
    } else {
      subscriber.listener(changes);
    }
  }
}

}  // namespace outpost

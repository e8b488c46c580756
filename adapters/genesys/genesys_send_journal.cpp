#include "adapters/genesys/genesys_send_journal.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace outpost::genesys {
namespace {

namespace fs = std::filesystem;
constexpr size_t kMaxEntryBytes = 4096;
// Marks remembered in memory; past it, those on disk are read again when asked, and
// without a directory the accepted ones are forgotten (their retries are long over).
constexpr size_t kMaxRemembered = 10'000;

const char* word_of(SendJournal::Mark mark) {
  return mark == SendJournal::Mark::kAccepted ? "accepted" : "attempted";
}

bool sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

SendJournal::SendJournal(std::string dir, std::chrono::hours keep) : dir_(std::move(dir)) {
  if (dir_.empty()) return;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  const auto cutoff = fs::file_time_type::clock::now() - keep;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code time_ec;
    if (it->path().extension() == ".tmp" || fs::last_write_time(it->path(), time_ec) < cutoff) {
      fs::remove(it->path(), time_ec);
    }
  }
}

std::string SendJournal::path_of(const std::string& key) const {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name;
  for (unsigned char c : digest) {
    name += kHex[c >> 4];
    name += kHex[c & 15];
  }
  return dir_ + "/" + name + ".send";
}

SendJournal::Mark SendJournal::get(const std::string& key) {
  std::lock_guard lock(mutex_);
  if (auto it = memory_.find(key); it != memory_.end()) return it->second;
  if (dir_.empty()) return Mark::kNone;
  const std::string path = path_of(key);
  std::error_code ec;
  if (!fs::exists(path, ec) || fs::file_size(path, ec) > kMaxEntryBytes || ec) return Mark::kNone;
  std::ifstream in(path);
  std::string word, stored_key;
  std::getline(in, word);
  std::getline(in, stored_key);
  if (stored_key != key) return Mark::kNone;  // not this send's (a hash collision, torn)
  const Mark mark = word == "accepted" ? Mark::kAccepted : Mark::kAttempted;
  memory_[key] = mark;
  return mark;
}

Status SendJournal::set(const std::string& key, Mark mark) {
  if (mark == Mark::kNone) return forget(key);
  std::lock_guard lock(mutex_);
  if (memory_.size() >= kMaxRemembered) {
    for (auto it = memory_.begin(); it != memory_.end();) {
      it = !dir_.empty() || it->second == Mark::kAccepted ? memory_.erase(it) : std::next(it);
    }
  }
  memory_[key] = mark;
  if (dir_.empty()) return Status::Ok();
  const std::string path = path_of(key);
  const std::string tmp = path + ".tmp";
  const std::string text = std::string(word_of(mark)) + "\n" + key + "\n";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return error(ErrorCode::kIo, "cannot write " + tmp);
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::rename(tmp.c_str(), path.c_str()) != 0 || !sync_dir(dir_)) {
    ::unlink(tmp.c_str());
    return error(ErrorCode::kIo, "cannot write " + path);
  }
  return Status::Ok();
}

Status SendJournal::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  memory_.erase(key);
  if (dir_.empty()) return Status::Ok();
  std::error_code ec;
  fs::remove(path_of(key), ec);
  if (ec) return error(ErrorCode::kIo, "cannot remove a send's mark: " + ec.message());
  return Status::Ok();
}

}  // namespace outpost::genesys

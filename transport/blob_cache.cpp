#include "transport/blob_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace outpost {
namespace {

namespace fs = std::filesystem;
constexpr size_t kHashPiece = 256 * 1024;

Status io_error(const std::string& what, const std::string& path) {
  return error(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
               what + " " + path + ": " + std::strerror(errno));
}

int64_t mtime_ms(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

void touch(const std::string& path) {
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // both times to now
}

}  // namespace

Result<BlobHash> hash_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", path);
  Sha256 hasher;
  std::string buffer(kHashPiece, '\0');
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status failed = io_error("cannot read", path);
      ::close(fd);
      return failed;
    }
    if (n == 0) break;
    hasher.update(std::string_view(buffer.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
  return hasher.finish();
}

Result<std::unique_ptr<BlobCache>> BlobCache::open(BlobCacheOptions options) {
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) return error(ErrorCode::kIo, "cannot create " + options.dir + ": " + ec.message());
  return std::unique_ptr<BlobCache>(new BlobCache(std::move(options)));
}

std::string BlobCache::path_of(const BlobHash& hash) const {
  return options_.dir + "/" + hash.hex();
}

std::string BlobCache::partial_path(const BlobHash& hash) const {
  return path_of(hash) + ".part";
}

bool BlobCache::contains(const BlobHash& hash) const {
  struct stat st {};
  return ::stat(path_of(hash).c_str(), &st) == 0;
}

uint64_t BlobCache::partial_size(const BlobHash& hash) const {
  struct stat st {};
  if (::stat(partial_path(hash).c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

Status BlobCache::drop_partial(const BlobHash& hash) {
  const std::string path = partial_path(hash);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove", path);
  return Status::Ok();
}

Result<std::optional<std::string>> BlobCache::find(const BlobHash& hash) {
  const std::string path = path_of(hash);
  auto actual = hash_file(path);
  if (!actual.ok()) {
    if (actual.status().code() == ErrorCode::kNotFound) return std::optional<std::string>();
    return actual.status();
  }
  if (*actual != hash) {
    ::unlink(path.c_str());  // damaged or tampered with: never handed out
    return std::optional<std::string>();
  }
  touch(path);
  return std::optional<std::string>(path);
}

Status BlobCache::complete(const BlobHash& hash) {
  OUTPOST_ASSIGN_OR_RETURN(BlobHash actual, hash_file(partial_path(hash)));
  return complete_hashed(hash, actual);
}

Status BlobCache::complete_hashed(const BlobHash& hash, const BlobHash& actual) {
  const std::string partial = partial_path(hash);
  if (actual != hash) {
    ::unlink(partial.c_str());
    return error(ErrorCode::kCorrupt, "the downloaded bytes do not match the blob's SHA-256");
  }
  // Synced once, before it becomes the blob: a power loss never leaves a named blob with
  // holes (the partial's earlier writes were not synced; its final hash covers them).
  const int fd = ::open(partial.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", partial);
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return io_error("cannot sync", partial);
  const std::string target = path_of(hash);
  if (::rename(partial.c_str(), target.c_str()) != 0) return io_error("cannot rename", partial);
  return Status::Ok();
}

Status BlobCache::put(const BlobHash& hash, std::string_view bytes) {
  if (sha256_of(bytes) != hash) {
    return error(ErrorCode::kInvalidArgument, "the bytes do not match the blob's SHA-256");
  }
  const std::string temp = partial_path(hash) + ".put" + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot create", temp);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status failed = io_error("cannot write", temp);
      ::close(fd);
      return failed;
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return io_error("cannot sync", temp);
  if (::rename(temp.c_str(), path_of(hash).c_str()) != 0) return io_error("cannot rename", temp);
  return Status::Ok();
}

Result<std::vector<CachedBlob>> BlobCache::list() const {
  std::vector<CachedBlob> out;
  std::error_code ec;
  for (fs::directory_iterator it(options_.dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto hash = BlobHash::parse(it->path().filename().string());
    struct stat st {};
    if (!hash.ok() || ::stat(it->path().c_str(), &st) != 0) continue;
    out.push_back({*hash, static_cast<uint64_t>(st.st_size), mtime_ms(st)});
  }
  if (ec) return error(ErrorCode::kIo, "cannot list " + options_.dir + ": " + ec.message());
  std::sort(out.begin(), out.end(), [](const CachedBlob& a, const CachedBlob& b) {
    return a.used_ms != b.used_ms ? a.used_ms < b.used_ms : a.hash < b.hash;
  });
  return out;
}

Result<EvictionReport> BlobCache::evict(const std::set<BlobHash>& pinned) {
  OUTPOST_ASSIGN_OR_RETURN(auto blobs, list());
  EvictionReport report;
  for (const CachedBlob& blob : blobs) report.kept_bytes += blob.size;
  for (const CachedBlob& blob : blobs) {
    if (report.kept_bytes <= options_.max_bytes) break;
    if (pinned.count(blob.hash) != 0) continue;
    const std::string path = path_of(blob.hash);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("cannot evict", path);
    ++report.evicted;
    report.evicted_bytes += blob.size;
    report.kept_bytes -= blob.size;
  }
  return report;
}

Result<std::vector<BlobHash>> BlobCache::verify_all() {
  OUTPOST_ASSIGN_OR_RETURN(auto blobs, list());
  std::vector<BlobHash> dropped;
  for (const CachedBlob& blob : blobs) {
    const std::string path = path_of(blob.hash);
    auto actual = hash_file(path);
    if (!actual.ok()) {
      if (actual.status().code() == ErrorCode::kNotFound) continue;
      return actual.status();
    }
    if (*actual != blob.hash) {
      ::unlink(path.c_str());
      dropped.push_back(blob.hash);
    }
  }
  return dropped;
}

}  // namespace outpost

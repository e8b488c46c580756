#include "adapters/dir_blob_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>

namespace outpost {
namespace {

namespace fs = std::filesystem;

constexpr size_t kHashChunk = 256 * 1024;

Status io_error(const std::string& what, const std::string& path) {
  return error(ErrorCode::kIo, what + " " + path + ": " + std::strerror(errno));
}

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

Status write_all(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", path);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status fsync_dir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.ok() || ::fsync(fd.get()) != 0) return io_error("cannot sync", dir);
  return Status::Ok();
}

Result<BlobHash> hash_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return io_error("cannot open", path);
  Sha256 hasher;
  std::string buffer(kHashChunk, '\0');
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read", path);
    }
    if (n == 0) break;
    hasher.update(std::string_view(buffer.data(), static_cast<size_t>(n)));
  }
  return hasher.finish();
}

int64_t mtime_ms(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

std::string unique_suffix() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 random{std::random_device{}()};
  return std::to_string(::getpid()) + "." + std::to_string(counter++) + "." +
         std::to_string(random() % 1000000);
}

class FileReader final : public BlobReader {
 public:
  FileReader(int fd, uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}
  uint64_t size() const override { return size_; }
  Status read(uint64_t offset, size_t max, std::string& out) override {
    out.resize(offset >= size_ ? 0 : std::min<uint64_t>(max, size_ - offset));
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd_.get(), out.data() + done, out.size() - done,
                                static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return io_error("cannot read", path_);
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    out.resize(done);
    return Status::Ok();
  }

 private:
  Fd fd_;
  uint64_t size_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<DirBlobStore>> DirBlobStore::open(const std::string& dir) {
  std::error_code ec;
  for (const char* sub : {"sha256", "uploads", "tmp"}) {
    fs::create_directories(fs::path(dir) / sub, ec);
    if (ec) return error(ErrorCode::kIo, "cannot create " + dir + "/" + sub + ": " + ec.message());
  }
  return std::unique_ptr<DirBlobStore>(new DirBlobStore(dir));
}

std::string DirBlobStore::blob_path(const BlobHash& hash) const {
  const std::string hex = hash.hex();
  return dir_ + "/sha256/" + hex.substr(0, 2) + "/" + hex;
}

Result<std::string> DirBlobStore::partial_path(const std::string& owner,
                                               const BlobHash& hash) const {
  // "tenant/user": names of [A-Za-z0-9._-] not starting with '.', so the directory is
  // always one plain name under uploads/.
  std::string name;
  bool part_start = true;
  for (char c : owner) {
    if (c == '/' && !part_start) {
      name += '+';
      part_start = true;
      continue;
    }
    const bool plain = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                       (c == '.' && !part_start);
    if (!plain) {
      return error(ErrorCode::kInvalidArgument, "an upload owner is a name like tenant/user");
    }
    name += c;
    part_start = false;
  }
  if (part_start) {
    return error(ErrorCode::kInvalidArgument, "an upload owner is a name like tenant/user");
  }
  return dir_ + "/uploads/" + name + "/" + hash.hex() + ".part";
}

Result<std::optional<uint64_t>> DirBlobStore::stat(const BlobHash& hash) {
  struct stat st {};
  const std::string path = blob_path(hash);
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::optional<uint64_t>();
    return io_error("cannot stat", path);
  }
  return std::optional<uint64_t>(static_cast<uint64_t>(st.st_size));
}

Result<std::unique_ptr<BlobReader>> DirBlobStore::open(const BlobHash& hash) {
  const std::string path = blob_path(hash);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return error(ErrorCode::kNotFound, "blob " + hash.hex() + " is not stored");
    return io_error("cannot open", path);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return io_error("cannot stat", path);
  }
  return std::unique_ptr<BlobReader>(
      std::make_unique<FileReader>(fd, static_cast<uint64_t>(st.st_size), path));
}

Status DirBlobStore::publish(const std::string& from, const BlobHash& hash) {
  OUTPOST_ASSIGN_OR_RETURN(BlobHash actual, hash_file(from));
  if (actual != hash) {
    ::unlink(from.c_str());
    return error(ErrorCode::kInvalidArgument,
                 "the content does not match its SHA-256 (" + actual.hex() + ")");
  }
  const std::string target = blob_path(hash);
  const std::string parent = fs::path(target).parent_path().string();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) return error(ErrorCode::kIo, "cannot create " + parent + ": " + ec.message());
  if (::rename(from.c_str(), target.c_str()) != 0) return io_error("cannot rename to", target);
  return fsync_dir(parent);
}

Status DirBlobStore::put(const BlobHash& hash, std::string_view bytes) {
  if (sha256_of(bytes) != hash) {
    return error(ErrorCode::kInvalidArgument, "the content does not match its SHA-256");
  }
  OUTPOST_ASSIGN_OR_RETURN(auto existing, stat(hash));
  if (existing) return Status::Ok();
  const std::string temp = dir_ + "/tmp/" + hash.hex() + "." + unique_suffix();
  {
    Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd.ok()) return io_error("cannot create", temp);
    OUTPOST_RETURN_IF_ERROR(write_all(fd.get(), bytes, temp));
    if (::fsync(fd.get()) != 0) return io_error("cannot sync", temp);
  }
  return publish(temp, hash);
}

Result<uint64_t> DirBlobStore::upload_offset(const std::string& owner, const BlobHash& hash) {
  OUTPOST_ASSIGN_OR_RETURN(std::string partial, partial_path(owner, hash));
  OUTPOST_ASSIGN_OR_RETURN(auto complete, stat(hash));
  if (complete) return *complete;
  struct stat st {};
  if (::stat(partial.c_str(), &st) != 0) {
    if (errno == ENOENT) return uint64_t{0};
    return io_error("cannot stat", partial);
  }
  return static_cast<uint64_t>(st.st_size);
}

Result<uint64_t> DirBlobStore::append_upload(const std::string& owner, const BlobHash& hash,
                                             uint64_t offset, uint64_t total,
                                             std::string_view bytes) {
  OUTPOST_ASSIGN_OR_RETURN(std::string partial, partial_path(owner, hash));
  if (offset > total || bytes.size() > total - offset) {
    return error(ErrorCode::kInvalidArgument, "the chunk passes the upload's length");
  }
  OUTPOST_ASSIGN_OR_RETURN(auto complete, stat(hash));
  if (complete) {
    if (offset == *complete) return *complete;  // a retried last chunk: already done
    return error(ErrorCode::kFailedPrecondition,
                 "the blob is complete at " + std::to_string(*complete) + " bytes");
  }
  std::error_code ec;
  fs::create_directories(fs::path(partial).parent_path(), ec);
  if (ec) return error(ErrorCode::kIo, "cannot create the upload directory: " + ec.message());
  Fd fd(::open(partial.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.ok()) return io_error("cannot open", partial);
  if (::flock(fd.get(), LOCK_EX) != 0) return io_error("cannot lock", partial);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat", partial);
  const uint64_t current = static_cast<uint64_t>(st.st_size);
  if (current != offset) {
    return error(ErrorCode::kFailedPrecondition,
                 "the upload is at offset " + std::to_string(current));
  }
  if (::lseek(fd.get(), static_cast<off_t>(offset), SEEK_SET) < 0) {
    return io_error("cannot seek", partial);
  }
  OUTPOST_RETURN_IF_ERROR(write_all(fd.get(), bytes, partial));
  if (::fsync(fd.get()) != 0) return io_error("cannot sync", partial);
  const uint64_t reached = offset + bytes.size();
  if (reached < total) return reached;
  // Complete: move it aside under the lock (a concurrent append finds no partial at this
  // offset), then hash and publish.
  const std::string temp = dir_ + "/tmp/" + hash.hex() + "." + unique_suffix();
  if (::rename(partial.c_str(), temp.c_str()) != 0) return io_error("cannot rename", partial);
  OUTPOST_RETURN_IF_ERROR(publish(temp, hash));
  return reached;
}

Result<std::vector<StoredBlob>> DirBlobStore::list() {
  std::vector<StoredBlob> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir_ + "/sha256", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    auto hash = BlobHash::parse(it->path().filename().string());
    if (!hash.ok()) continue;
    struct stat st {};
    if (::stat(it->path().c_str(), &st) != 0) continue;  // removed meanwhile
    out.push_back({*hash, static_cast<uint64_t>(st.st_size), mtime_ms(st)});
  }
  if (ec) return error(ErrorCode::kIo, "cannot list blobs: " + ec.message());
  return out;
}

Status DirBlobStore::remove(const BlobHash& hash) {
  const std::string path = blob_path(hash);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove", path);
  return Status::Ok();
}

Result<uint64_t> DirBlobStore::remove_stale_uploads(int64_t older_than_ms) {
  uint64_t removed = 0;
  std::error_code ec;
  for (const char* sub : {"/uploads", "/tmp"}) {
    for (fs::recursive_directory_iterator it(dir_ + sub, ec), end; !ec && it != end;
         it.increment(ec)) {
      struct stat st {};
      if (!it->is_regular_file(ec) || ::stat(it->path().c_str(), &st) != 0) continue;
      if (mtime_ms(st) < older_than_ms && ::unlink(it->path().c_str()) == 0) ++removed;
    }
  }
  if (ec) return error(ErrorCode::kIo, "cannot list uploads: " + ec.message());
  return removed;
}

}  // namespace outpost

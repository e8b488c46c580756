#include "transport/token_key_file.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace outpost {
namespace {

Status io_error(const std::string& what, const std::string& path) {
  return error(ErrorCode::kIo, what + " " + path + ": " + std::strerror(errno));
}

// Closes a file descriptor on every path out of a scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now, reporting the error a deferred close would swallow.
  bool close() {
    int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

Result<std::string> read_key(int fd, const std::string& path) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) return io_error("cannot stat", path);
  if (!S_ISREG(info.st_mode) || static_cast<size_t>(info.st_size) != kTokenKeyBytes) {
    return error(ErrorCode::kCorrupt,
                 path + " is not a " + std::to_string(kTokenKeyBytes) + "-byte token key");
  }
  // Read one byte more than expected, so a file that grew after fstat is caught too.
  std::string key(kTokenKeyBytes + 1, '\0');
  size_t filled = 0;
  while (filled < key.size()) {
    ssize_t got = ::read(fd, key.data() + filled, key.size() - filled);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return io_error("cannot read", path);
    if (got == 0) break;
    filled += static_cast<size_t>(got);
  }
  if (filled != kTokenKeyBytes) {
    return error(ErrorCode::kCorrupt,
                 path + " is not a " + std::to_string(kTokenKeyBytes) + "-byte token key");
  }
  key.resize(kTokenKeyBytes);
  return key;
}

Status write_all(int fd, const std::string& bytes, const std::string& path) {
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t done = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (done < 0 && errno == EINTR) continue;
    if (done < 0) return io_error("cannot write", path);
    written += static_cast<size_t>(done);
  }
  return Status::Ok();
}

// Makes the new directory entry durable; some file systems cannot fsync a directory, and
// the key is still usable then, so this is best effort.
void sync_directory(const std::string& dir) {
  FileDescriptor handle(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (handle.get() >= 0) ::fsync(handle.get());
}

Result<std::string> read_key_file(const std::string& path) {
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) return io_error("cannot open", path);
  return read_key(file.get(), path);
}

}  // namespace

Result<std::string> load_or_create_key(const std::string& dir) {
  const std::string path = dir + "/token.key";
  {
    FileDescriptor existing(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (existing.get() >= 0) return read_key(existing.get(), path);
    if (errno != ENOENT) return io_error("cannot open", path);
  }

  std::string key(kTokenKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    return error(ErrorCode::kInternal, "the random generator failed");
  }

  // mkstemp creates the file with mode 0600 and a name nobody else is using.
  std::string temp_path = path + ".tmp-XXXXXX";
  FileDescriptor temp(::mkstemp(temp_path.data()));
  if (temp.get() < 0) return io_error("cannot create", temp_path);
  auto remove_temp = [&] { ::unlink(temp_path.c_str()); };
  if (::fchmod(temp.get(), S_IRUSR | S_IWUSR) != 0) {
    Status status = io_error("cannot chmod", temp_path);
    remove_temp();
    return status;
  }
  if (Status written = write_all(temp.get(), key, temp_path); !written.ok()) {
    remove_temp();
    return written;
  }
  if (::fsync(temp.get()) != 0 || !temp.close()) {
    Status status = io_error("cannot sync", temp_path);
    remove_temp();
    return status;
  }

  // link() publishes the complete file under its final name, or fails with EEXIST when
  // another process got there first; rename() would silently replace that process's key,
  // leaving it signing tokens nobody else accepts.
  int linked = ::link(temp_path.c_str(), path.c_str());
  int link_errno = errno;
  remove_temp();
  if (linked != 0) {
    if (link_errno == EEXIST) return read_key_file(path);
    errno = link_errno;
    return io_error("cannot publish", path);
  }
  sync_directory(dir);
  return key;
}

}  // namespace outpost

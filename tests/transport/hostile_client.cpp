#include "tests/transport/hostile_client.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <vector>

namespace outpost::hostile {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

SSL_CTX* insecure_tls_client() {
  static SSL_CTX* context = [] {
    SSL_CTX* made = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(made, SSL_VERIFY_NONE, nullptr);
    return made;
  }();
  return context;
}

RawSocket::RawSocket(uint16_t port) : RawSocket(unconnected()) {
  connect(port);
}

RawSocket::RawSocket(uint16_t port, SSL_CTX* tls) : RawSocket(port) {
  if (tls != nullptr && connected()) start_tls(tls);
}

bool RawSocket::start_tls(SSL_CTX* tls) {
  if (!connected()) return false;
  ssl_ = SSL_new(tls);
  SSL_set_fd(ssl_, fd_);
  // Non-blocking from here: every TLS call waits with poll() up to its own deadline.
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    int done = SSL_connect(ssl_);
    if (done == 1) return true;
    int why = SSL_get_error(ssl_, done);
    short wanted = why == SSL_ERROR_WANT_READ ? POLLIN : why == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    pollfd watch{fd_, wanted, 0};
    if (wanted == 0 || ::poll(&watch, 1, remaining_ms(deadline)) <= 0) {
      ERR_clear_error();
      close();
      return false;
    }
  }
}

void RawSocket::free_tls() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  ssl_ = nullptr;
  ERR_clear_error();
}

bool RawSocket::tls_send(std::string_view bytes) {
  auto deadline = Clock::now() + std::chrono::seconds(5);  // as SO_SNDTIMEO for plain
  while (!bytes.empty()) {
    int sent = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
    if (sent > 0) {
      bytes.remove_prefix(static_cast<size_t>(sent));
      continue;
    }
    int why = SSL_get_error(ssl_, sent);
    short wanted = why == SSL_ERROR_WANT_READ ? POLLIN : why == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    pollfd watch{fd_, wanted, 0};
    if (wanted == 0 || ::poll(&watch, 1, remaining_ms(deadline)) <= 0) {
      ERR_clear_error();
      return false;
    }
  }
  return true;
}

long RawSocket::tls_read(char* buffer, size_t size, Clock::time_point deadline) {
  for (;;) {
    int got = SSL_read(ssl_, buffer, static_cast<int>(size));
    if (got > 0) return got;
    int why = SSL_get_error(ssl_, got);
    if (why == SSL_ERROR_ZERO_RETURN) return 0;
    if (why == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
      ERR_clear_error();
      return errno == 0 || got == 0 ? 0 : -1;  // EOF without close_notify is a close too
    }
    short wanted = why == SSL_ERROR_WANT_READ ? POLLIN : why == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (wanted == 0) {
      ERR_clear_error();
      return -1;
    }
    pollfd watch{fd_, wanted, 0};
    int ready = ::poll(&watch, 1, remaining_ms(deadline));
    if (ready < 0) return -1;
    if (ready == 0) return -2;
  }
}

RawSocket RawSocket::unconnected() {
  RawSocket socket;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return socket;
  // Loopback connects complete at once or fail at once; a send timeout bounds the rest.
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  socket.fd_ = fd;
  return socket;
}

bool RawSocket::connect(uint16_t port) {
  if (fd_ < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close();
    return false;
  }
  connected_ = true;
  return true;
}

RawSocket::RawSocket(RawSocket&& other) noexcept
    : fd_(other.fd_), connected_(other.connected_), ssl_(other.ssl_) {
  other.fd_ = -1;
  other.connected_ = false;
  other.ssl_ = nullptr;
}

RawSocket& RawSocket::operator=(RawSocket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    connected_ = other.connected_;
    ssl_ = other.ssl_;
    other.fd_ = -1;
    other.connected_ = false;
    other.ssl_ = nullptr;
  }
  return *this;
}

RawSocket::~RawSocket() {
  close();
}

void RawSocket::close() {
  free_tls();  // no close_notify: a hostile client just hangs up
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  connected_ = false;
}

void RawSocket::reset() {
  if (fd_ < 0) return;
  free_tls();
  linger option{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &option, sizeof(option));
  close();
}

bool RawSocket::send(std::string_view bytes) {
  if (fd_ < 0) return false;
  if (ssl_ != nullptr) return tls_send(bytes);
  while (!bytes.empty()) {
    ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(sent));
  }
  return true;
}

std::string RawSocket::read_some(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return "";
  if (ssl_ != nullptr) {
    char buffer[64 * 1024];
    long got = tls_read(buffer, sizeof(buffer), Clock::now() + timeout);
    return got <= 0 ? std::string() : std::string(buffer, static_cast<size_t>(got));
  }
  pollfd watch{fd_, POLLIN, 0};
  if (::poll(&watch, 1, static_cast<int>(timeout.count())) <= 0) return "";
  char buffer[64 * 1024];
  ssize_t got = ::recv(fd_, buffer, sizeof(buffer), 0);
  return got <= 0 ? std::string() : std::string(buffer, static_cast<size_t>(got));
}

std::string RawSocket::read_until(std::string_view needle, std::chrono::milliseconds timeout) {
  std::string out;
  if (fd_ < 0) return out;
  auto deadline = Clock::now() + timeout;
  char buffer[4096];
  while (out.find(needle) == std::string::npos) {
    if (ssl_ != nullptr) {
      long got = tls_read(buffer, sizeof(buffer), deadline);
      if (got <= 0) break;
      out.append(buffer, static_cast<size_t>(got));
      continue;
    }
    pollfd watch{fd_, POLLIN, 0};
    if (::poll(&watch, 1, remaining_ms(deadline)) <= 0) break;
    ssize_t got = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (got <= 0) break;
    out.append(buffer, static_cast<size_t>(got));
  }
  return out;
}

bool RawSocket::drain_until_closed(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return true;
  auto deadline = Clock::now() + timeout;
  std::vector<char> buffer(256 * 1024);
  for (;;) {
    if (ssl_ != nullptr) {
      long got = tls_read(buffer.data(), buffer.size(), deadline);
      if (got == -2) return false;
      if (got <= 0) return true;
      continue;
    }
    pollfd watch{fd_, POLLIN, 0};
    int ready = ::poll(&watch, 1, remaining_ms(deadline));
    if (ready <= 0) return false;
    ssize_t got = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (got == 0) return true;
    if (got < 0) return errno != EINTR && errno != EAGAIN;
  }
}

bool RawSocket::peer_closed() {
  if (fd_ < 0) return true;
  pollfd watch{fd_, POLLIN | POLLRDHUP, 0};
  if (::poll(&watch, 1, 0) <= 0) return false;
  if (watch.revents & (POLLERR | POLLHUP | POLLRDHUP)) return true;
  char byte;
  if (ssl_ != nullptr) {  // readable: records that may be data, a ticket or close_notify
    int got = SSL_peek(ssl_, &byte, 1);
    if (got > 0) return false;
    int why = SSL_get_error(ssl_, got);
    ERR_clear_error();
    return why != SSL_ERROR_WANT_READ && why != SSL_ERROR_WANT_WRITE;
  }
  ssize_t got = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

std::string websocket_upgrade(const std::string& token) {
  return "GET /v1/stream HTTP/1.1\r\n"
         "Host: 127.0.0.1\r\n"
         "Upgrade: websocket\r\n"
         "Connection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         "Sec-WebSocket-Version: 13\r\n"
         "Authorization: Bearer " +
         token + "\r\n\r\n";
}

std::string websocket_frame(std::string_view payload) {
  std::string frame;
  frame.push_back(static_cast<char>(0x82));  // FIN, binary
  if (payload.size() < 126) {
    frame.push_back(static_cast<char>(0x80 | payload.size()));
  } else if (payload.size() <= 0xFFFF) {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>(payload.size() >> 8));
    frame.push_back(static_cast<char>(payload.size() & 0xFF));
  } else {
    frame.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      frame.push_back(static_cast<char>((payload.size() >> shift) & 0xFF));
    }
  }
  const char mask[4] = {0x12, 0x34, 0x56, 0x78};
  frame.append(mask, 4);
  for (size_t i = 0; i < payload.size(); ++i) frame.push_back(payload[i] ^ mask[i % 4]);
  return frame;
}

size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0;
  size_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

size_t open_descriptors() {
  size_t count = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++count;
  }
  return count;
}

size_t raise_descriptor_limit(size_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < wanted) {
    limit.rlim_cur = std::min<rlim_t>(wanted, limit.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<size_t>(limit.rlim_cur);
}

std::string dump_sqlite(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  std::vector<std::string> tables;
  SQLite::Statement list(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  while (list.executeStep()) tables.push_back(list.getColumn(0).getString());
  std::string out;
  for (const std::string& table : tables) {
    out += "[" + table + "]\n";
    // Some tables are WITHOUT ROWID: sort the rows here instead.
    std::vector<std::string> lines;
    SQLite::Statement rows(db, "SELECT * FROM \"" + table + "\"");
    while (rows.executeStep()) {
      std::string line;
      for (int i = 0; i < rows.getColumnCount(); ++i) {
        line += rows.getColumn(i).isNull() ? "NULL" : rows.getColumn(i).getString();
        line += '|';
      }
      lines.push_back(std::move(line));
    }
    std::sort(lines.begin(), lines.end());
    for (const std::string& line : lines) out += line + "\n";
  }
  return out;
}

}  // namespace outpost::hostile

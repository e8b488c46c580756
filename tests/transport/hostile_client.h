// Test helpers for hostile clients of a SyncServer on 127.0.0.1: raw TCP sockets — or raw
// TLS connections over them, for a server serving TLS — that send exactly the bytes a test
// chooses (a byte at a time, half a frame, never reading), and
// the measurements the hostile catalogue asserts on (resident memory, open descriptors,
// a dump of every row of the server's SQLite file).
// Thread rules: a RawSocket belongs to one thread; the free functions are thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

typedef struct ssl_st SSL;          // NOLINT: OpenSSL's own names
typedef struct ssl_ctx_st SSL_CTX;  // NOLINT

namespace outpost::hostile {

// A TLS client context that trusts anything (the hostile client does not care who the
// server is). Created once, lives for the process.
SSL_CTX* insecure_tls_client();

// A blocking TCP connection to 127.0.0.1:port without SIGPIPE. Every call has a deadline.
// With TLS, every call speaks TLS on the connection instead: send() writes one TLS record
// per call (a byte at a time is a byte per record), reads return decrypted bytes.
class RawSocket {
 public:
  RawSocket() = default;
  explicit RawSocket(uint16_t port);  // connects; check connected()
  // Connects and, with `tls` not null, completes a TLS handshake (connected() is false when
  // either fails).
  RawSocket(uint16_t port, SSL_CTX* tls);
  // A socket whose descriptor exists but is not connected yet: connect() later needs no
  // new descriptor (the descriptor squeeze test connects after lowering RLIMIT_NOFILE).
  static RawSocket unconnected();
  RawSocket(RawSocket&& other) noexcept;
  RawSocket& operator=(RawSocket&& other) noexcept;
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  ~RawSocket();

  bool connected() const { return fd_ >= 0 && connected_; }
  bool has_descriptor() const { return fd_ >= 0; }
  // Connects a socket made by unconnected(); false (and the descriptor closed) on failure.
  bool connect(uint16_t port);
  // A TLS handshake on the connected socket; false (and the socket closed) on failure.
  bool start_tls(SSL_CTX* tls);
  bool tls() const { return ssl_ != nullptr; }
  // False once the peer has closed or reset the connection (or on any other error).
  bool send(std::string_view bytes);
  // Whatever arrives next (at least one byte), or "" on close, error or the deadline.
  std::string read_some(std::chrono::milliseconds timeout);
  // Reads until `needle` has arrived (returns everything read), or the deadline.
  std::string read_until(std::string_view needle, std::chrono::milliseconds timeout);
  // Reads and drops everything until the peer closes: true on EOF or reset within
  // `timeout`, false when the connection is still open at the deadline.
  bool drain_until_closed(std::chrono::milliseconds timeout);
  // True when the peer has closed or reset the connection, without consuming data that
  // is still queued (peeks; a readable socket with data is "open").
  bool peer_closed();
  void close();
  // Closes with a reset (SO_LINGER 0): no TIME_WAIT entry, so thousands of short
  // connections do not use up the ephemeral ports other tests need.
  void reset();

 private:
  bool tls_send(std::string_view bytes);
  // One SSL_read within the deadline: > 0 bytes, 0 on close, -1 on error, -2 at the deadline.
  long tls_read(char* buffer, size_t size, std::chrono::steady_clock::time_point deadline);
  void free_tls();

  int fd_ = -1;
  bool connected_ = false;
  SSL* ssl_ = nullptr;
};

// The bytes of a WebSocket upgrade request for /v1/stream with this bearer token.
std::string websocket_upgrade(const std::string& token);
// One masked client-to-server WebSocket frame (binary, FIN) carrying `payload`.
std::string websocket_frame(std::string_view payload);

// Resident memory of this process, in bytes (/proc/self/statm).
size_t resident_bytes();
// Open file descriptors of this process (/proc/self/fd).
size_t open_descriptors();
// Raises RLIMIT_NOFILE's soft limit to at least `wanted` (up to the hard limit); returns
// the soft limit in force afterwards.
size_t raise_descriptor_limit(size_t wanted);

// Every row of every table of the SQLite file at `path`, as text, read through its own
// read-only connection: equal dumps mean nothing stored changed.
std::string dump_sqlite(const std::string& path);

}  // namespace outpost::hostile

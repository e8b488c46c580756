#include "transport/blob_client.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "transport/blob_http.h"
#include "transport/http_util.h"
#include "transport/server_address.h"
#include "transport/zstd_codec.h"

namespace outpost {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// The body of an answer that carries no blob bytes (an error).
constexpr size_t kMaxAnswerBody = 64 * 1024;

Status network(const beast::error_code& ec, std::string_view what) {
  return error(ErrorCode::kUnavailable, std::string(what) + ": " + ec.message());
}

// The Status of an error answer: X-Outpost-Error and the zstd(protocol::Error) body.
Status answer_error(const http::response<http::string_body>& response) {
  const unsigned code = response.result_int();
  std::string message = "HTTP " + std::to_string(code);
  ErrorCode error_code = http_api::error_code_for_http_status(code).value_or(ErrorCode::kInternal);
  if (auto header = response.find(http_api::kErrorHeader); header != response.end()) {
    error_code = error_code_from_name(http_api::to_view(header->value()));
  }
  if (!response.body().empty()) {
    auto body = zstd_decompress(response.body(), limits::kMaxDecompressedBody);
    protocol::Error decoded;
    if (body.ok() && decoded.ParseFromString(*body) && !decoded.message().empty()) {
      message += ": " + decoded.message();
    }
  }
  if (code >= 500 && error_code == ErrorCode::kInternal && code != 500) {
    error_code = ErrorCode::kUnavailable;
  }
  return Status(error_code, message);
}

std::string percent_encode(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0xf]);
    }
  }
  return out;
}

// The partial file of a download, open for appending, and the SHA-256 of what it holds.
class PartialFile {
 public:
  ~PartialFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Opens (creates) it and takes its lock: another download of the same blob (another
  // thread or process) finishes first. Errors: kIo.
  Status open(const std::string& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return failed("cannot open");
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) return failed("cannot lock");
    }
    return Status::Ok();
  }
  // Hashes the bytes an earlier attempt left (once). Errors: kIo.
  Status hash_held(std::vector<char>& buffer) {
    for (;;) {
      const ssize_t n = ::read(fd_, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return failed("cannot read");
      if (n == 0) break;
      hasher_.update(std::string_view(buffer.data(), static_cast<size_t>(n)));
      size_ += static_cast<uint64_t>(n);
    }
    return Status::Ok();
  }
  // Hashes and appends (not synced: an app kill keeps the page cache, and the final hash
  // catches what a power loss tore).
  Status append(const char* data, size_t length) {
    hasher_.update(std::string_view(data, length));
    size_t done = 0;
    while (done < length) {
      const ssize_t n = ::write(fd_, data + done, length - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return failed("cannot write");
      done += static_cast<size_t>(n);
    }
    size_ += length;
    return Status::Ok();
  }
  uint64_t size() const { return size_; }
  BlobHash finish() { return hasher_.finish(); }

 private:
  Status failed(std::string_view what) {
    return error(ErrorCode::kIo, std::string(what) + " " + path_ + ": " + std::strerror(errno));
  }
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  Sha256 hasher_;
};

// "bytes A-B/TOTAL" -> TOTAL, checking A.
std::optional<uint64_t> total_of_content_range(std::string_view value, uint64_t first) {
  const std::string expected = "bytes " + std::to_string(first) + "-";
  const size_t slash = value.rfind('/');
  if (value.substr(0, expected.size()) != expected || slash == std::string_view::npos) {
    return std::nullopt;
  }
  auto total = blob_http::parse_upload_headers("0", value.substr(slash + 1));
  if (!total.ok()) return std::nullopt;
  return total->total;
}

}  // namespace

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
// The header of a download's answer; its body is read straight from the socket.
using HeadParser = std::optional<http::response_parser<http::buffer_body>>;

// One kept-alive HTTP connection to the server, plain or TLS.
struct BlobClient::Connection {
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;
  net::io_context io;
  std::optional<beast::tcp_stream> plain;
  std::optional<TlsStream> secure;
  beast::flat_buffer buffer;
  bool open = false;

  beast::tcp_stream& lowest() { return secure ? secure->next_layer() : *plain; }
  // Calls `f` with the stream requests travel on.
  template <class F>
  auto with_stream(F&& f) {
    return secure ? f(*secure) : f(*plain);
  }

  // Runs one asynchronous operation to its end: tcp_stream's expiry bounds async
  // operations only, so even this blocking client uses them.
  template <class Initiate>
  beast::error_code run(Initiate&& initiate) {
    std::optional<beast::error_code> result;
    initiate([&result](beast::error_code ec, auto&&...) { result = ec; });
    io.restart();
    io.run();
    return result.value_or(net::error::timed_out);
  }

  Status connect(const ServerAddress& address, std::chrono::milliseconds timeout,
                 TlsClientContext* tls) {
    close();
    beast::error_code ec;
    tcp::resolver resolver(io);
    auto results = resolver.resolve(address.host, address.port, ec);
    if (ec) return network(ec, "resolving " + address.host);
    secure.reset();
    plain.reset();
    if (address.tls) {
      secure.emplace(io, tls->native());
    } else {
      plain.emplace(io);
    }
    lowest().expires_after(timeout);
    ec = run([&](auto handler) { lowest().async_connect(results, std::move(handler)); });
    if (ec) return network(ec, "connecting to " + address.host + ":" + address.port);
    lowest().socket().set_option(tcp::no_delay(true), ec);
    if (secure) {
      // The certificate is verified here, before the request (and its token) goes.
      OUTPOST_RETURN_IF_ERROR(tls->prepare(secure->native_handle(), address.host));
      lowest().expires_after(timeout);
      ec = run([&](auto handler) {
        secure->async_handshake(net::ssl::stream_base::client, std::move(handler));
      });
      if (ec) {
        Status failed = tls->handshake_failure(secure->native_handle(), address.host, ec.message());
        close();
        return failed;
      }
    }
    buffer.clear();
    open = true;
    return Status::Ok();
  }

  void close() {
    if (plain || secure) {
      beast::error_code ignored;
      lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      lowest().close();
    }
    open = false;
  }

  static bool stale(const beast::error_code& ec) {
    return ec == http::error::end_of_stream || ec == net::error::connection_reset ||
           ec == net::error::broken_pipe || ec == net::error::eof;
  }

  // Sends one request (reconnecting once when the kept-alive connection was closed
  // meanwhile) and reads the answer's header into `parser`.
  Status send(const ServerAddress& address, Request& request, HeadParser& parser,
              std::chrono::milliseconds timeout, TlsClientContext* tls) {
    for (int attempt = 0;; ++attempt) {
      const bool reused = open;
      if (!open) OUTPOST_RETURN_IF_ERROR(connect(address, timeout, tls));
      parser.emplace();
      parser->header_limit(limits::kMaxHeaderBytes);
      parser->body_limit(boost::none);
      lowest().expires_after(timeout);
      beast::error_code ec = with_stream([&](auto& stream) {
        return run([&](auto handler) { http::async_write(stream, request, std::move(handler)); });
      });
      if (!ec) {
        lowest().expires_after(timeout);
        ec = with_stream([&](auto& stream) {
          return run([&](auto handler) {
            http::async_read_header(stream, buffer, *parser, std::move(handler));
          });
        });
      }
      if (!ec) return Status::Ok();
      close();
      if (attempt == 0 && reused && stale(ec)) continue;
      return network(ec, "blob request");
    }
  }

  // Reads exactly `length` body bytes into `data` (what the header read left first).
  beast::error_code read_body(char* data, size_t length, std::chrono::milliseconds timeout) {
    const size_t held = std::min(length, buffer.size());
    net::buffer_copy(net::buffer(data, held), buffer.data());
    buffer.consume(held);
    if (held == length) return {};
    lowest().expires_after(timeout);
    return with_stream([&](auto& stream) {
      return run([&](auto handler) {
        net::async_read(stream, net::buffer(data + held, length - held), std::move(handler));
      });
    });
  }

  // An answer that is not the expected one: its body (bounded) for the error's message.
  Response small_answer(HeadParser& parser, std::chrono::milliseconds timeout) {
    Response response;
    response.result(parser->get().result());
    response.version(parser->get().version());
    for (const auto& field : parser->get()) response.set(field.name_string(), field.value());
    const auto length = parser->content_length();
    if (parser->chunked() || !length || *length > kMaxAnswerBody) {
      close();  // its body is not worth reading; the status says enough
      return response;
    }
    std::string body(static_cast<size_t>(*length), '\0');
    if (read_body(body.data(), body.size(), timeout)) {
      close();
      return response;
    }
    response.body() = std::move(body);
    if (!response.keep_alive()) close();
    return response;
  }

  // Sends one request (reconnecting once when the kept-alive connection was closed
  // meanwhile) and reads the whole answer, at most `max_body` bytes of body.
  Result<Response> exchange(const ServerAddress& address, Request& request, size_t max_body,
                            std::chrono::milliseconds timeout, TlsClientContext* tls) {
    for (int attempt = 0;; ++attempt) {
      const bool reused = open;
      if (!open) OUTPOST_RETURN_IF_ERROR(connect(address, timeout, tls));
      http::response_parser<http::string_body> parser;
      parser.body_limit(max_body);
      parser.header_limit(limits::kMaxHeaderBytes);
      if (request.method() == http::verb::head) parser.skip(true);
      lowest().expires_after(timeout);
      beast::error_code ec = with_stream([&](auto& stream) {
        return run([&](auto handler) { http::async_write(stream, request, std::move(handler)); });
      });
      if (!ec) {
        lowest().expires_after(timeout);
        ec = with_stream([&](auto& stream) {
          return run(
              [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
        });
      }
      if (!ec) {
        Response response = parser.release();
        if (!response.keep_alive()) close();
        return response;
      }
      close();
      if (attempt == 0 && reused && stale(ec)) continue;
      if (ec == http::error::body_limit) {
        return error(ErrorCode::kTooLarge, "the server's answer passes the chunk size");
      }
      return network(ec, "blob request");
    }
  }
};

BlobClient::BlobClient(BlobClientOptions options)
    : options_(std::move(options)), connection_(std::make_unique<Connection>()) {}

BlobClient::~BlobClient() = default;

Result<TlsClientContext*> BlobClient::tls_for(const ServerAddress& address) {
  if (!address.tls) return static_cast<TlsClientContext*>(nullptr);
  if (!options_.tls) {
    OUTPOST_ASSIGN_OR_RETURN(options_.tls, TlsClientContext::create(options_.tls_options));
  }
  return options_.tls.get();
}

Result<bool> BlobClient::download(BlobCache& cache, const BlobHash& hash, const BlobRecordRef& ref,
                                  const BlobProgress& progress) {
  OUTPOST_ASSIGN_OR_RETURN(ServerAddress address, parse_server_url(options_.server_url));
  OUTPOST_ASSIGN_OR_RETURN(TlsClientContext * tls, tls_for(address));
  std::vector<char> buffer(std::max<size_t>(options_.buffer_bytes, 4096));
  PartialFile partial;
  OUTPOST_RETURN_IF_ERROR(partial.open(cache.partial_path(hash)));
  // Another download finished while this one waited for the lock: nothing to do.
  if (cache.contains(hash)) return false;
  OUTPOST_RETURN_IF_ERROR(partial.hash_held(buffer));
  const uint64_t offset = partial.size();
  Request request{http::verb::get,
                  address.path_prefix + std::string(blob_http::kBlobsPrefix) + hash.hex() +
                      "?ref=" + percent_encode(ref.collection) + "/" + percent_encode(ref.key),
                  11};
  request.set(http::field::host, address.host);
  request.set(http::field::authorization, "Bearer " + options_.token);
  request.set(http::field::range, "bytes=" + std::to_string(offset) + "-");
  request.keep_alive(true);
  ++requests_;
  HeadParser parser;
  OUTPOST_RETURN_IF_ERROR(connection_->send(address, request, parser, options_.timeout, tls));
  const auto& head = parser->get();
  if (head.result() == http::status::range_not_satisfiable) {
    // The partial holds the whole blob (a kill between the last write and the rename):
    // its hash decides. Longer, it cannot be a prefix of the blob: start over.
    const std::string whole = "bytes */" + std::to_string(offset);
    const bool complete = http_api::to_view(head[http::field::content_range]) == whole;
    connection_->small_answer(parser, options_.timeout);
    if (complete) {
      OUTPOST_RETURN_IF_ERROR(cache.complete_hashed(hash, partial.finish()));
      return true;
    }
    OUTPOST_RETURN_IF_ERROR(cache.drop_partial(hash));
    return error(ErrorCode::kUnavailable, "the partial download did not fit the blob; restarting");
  }
  if (head.result() != http::status::partial_content) {
    return answer_error(connection_->small_answer(parser, options_.timeout));
  }
  auto total = total_of_content_range(http_api::to_view(head[http::field::content_range]), offset);
  const auto length = parser->content_length();
  if (!total || parser->chunked() || !length || *total > limits::kMaxClientBlobBytes ||
      *length == 0 || offset + *length != *total) {
    connection_->close();
    return error(ErrorCode::kUnavailable, "the server's range answer does not fit the request");
  }
  const bool keep_alive = head.keep_alive();
  for (uint64_t remaining = *length; remaining > 0;) {
    const size_t piece = static_cast<size_t>(std::min<uint64_t>(remaining, buffer.size()));
    if (beast::error_code ec = connection_->read_body(buffer.data(), piece, options_.timeout)) {
      connection_->close();  // what arrived before is in the partial: the next attempt resumes
      return network(ec, "blob download");
    }
    remaining -= piece;
    OUTPOST_RETURN_IF_ERROR(partial.append(buffer.data(), piece));
    // Cancelling stops what is left; after the last piece there is nothing left to stop.
    if (progress && !progress(partial.size(), *total) && remaining > 0) {
      connection_->close();
      return error(ErrorCode::kCancelled, "the download was cancelled");
    }
  }
  if (!keep_alive) connection_->close();
  OUTPOST_RETURN_IF_ERROR(cache.complete_hashed(hash, partial.finish()));
  return true;
}

Result<std::string> BlobClient::fetch(BlobCache& cache, const BlobHash& hash,
                                      const BlobRecordRef& ref, const BlobProgress& progress) {
  OUTPOST_ASSIGN_OR_RETURN(auto cached, cache.find(hash));
  if (cached) return *cached;
  OUTPOST_ASSIGN_OR_RETURN(bool downloaded, download(cache, hash, ref, progress));
  // Hashed as it arrived: handed out without reading it again.
  if (downloaded) return cache.path_of(hash);
  OUTPOST_ASSIGN_OR_RETURN(cached, cache.find(hash));
  if (!cached) return error(ErrorCode::kUnavailable, "the blob another download stored vanished");
  return *cached;
}

Status BlobClient::upload(const BlobHash& hash, std::string_view bytes,
                          const BlobProgress& progress) {
  OUTPOST_ASSIGN_OR_RETURN(ServerAddress address, parse_server_url(options_.server_url));
  OUTPOST_ASSIGN_OR_RETURN(TlsClientContext * tls, tls_for(address));
  const std::string target =
      address.path_prefix + std::string(blob_http::kUploadsPrefix) + hash.hex();
  auto make = [&](http::verb verb) {
    Request request{verb, target, 11};
    request.set(http::field::host, address.host);
    request.set(http::field::authorization, "Bearer " + options_.token);
    request.keep_alive(true);
    return request;
  };
  Request ask = make(http::verb::head);
  ++requests_;
  OUTPOST_ASSIGN_OR_RETURN(
      Response where, connection_->exchange(address, ask, kMaxAnswerBody, options_.timeout, tls));
  if (where.result() != http::status::ok) return answer_error(where);
  auto offset = blob_http::parse_upload_headers(
      http_api::to_view(where[blob_http::kUploadOffsetHeader]), "0");
  if (!offset.ok()) return error(ErrorCode::kUnavailable, "the server sent no Upload-Offset");
  uint64_t at = offset->offset;
  while (at < bytes.size()) {
    const std::string_view piece = bytes.substr(at, options_.chunk_bytes);
    Request chunk = make(http::verb::put);
    chunk.set(blob_http::kUploadOffsetHeader, std::to_string(at));
    chunk.set(blob_http::kUploadLengthHeader, std::to_string(bytes.size()));
    chunk.set(http::field::content_type, "application/octet-stream");
    chunk.body() = std::string(piece);
    chunk.prepare_payload();
    ++requests_;
    OUTPOST_ASSIGN_OR_RETURN(Response answer, connection_->exchange(address, chunk, kMaxAnswerBody,
                                                                    options_.timeout, tls));
    if (answer.result() != http::status::ok && answer.result() != http::status::created) {
      return answer_error(answer);
    }
    auto reached = blob_http::parse_upload_headers(
        http_api::to_view(answer[blob_http::kUploadOffsetHeader]), "0");
    if (!reached.ok() || reached->offset <= at) {
      return error(ErrorCode::kUnavailable, "the upload did not move forward");
    }
    at = reached->offset;
    if (progress && !progress(at, bytes.size())) {
      return error(ErrorCode::kCancelled, "the upload was cancelled");
    }
  }
  return Status::Ok();
}

}  // namespace outpost

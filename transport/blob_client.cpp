#include "transport/blob_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>

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

Status append_synced(const std::string& path, uint64_t offset, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return error(ErrorCode::kIo, "cannot open " + path + ": " + std::strerror(errno));
  Status result = Status::Ok();
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      result = error(ErrorCode::kIo, "cannot write " + path + ": " + std::strerror(errno));
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (result.ok() && ::fsync(fd) != 0) {
    result = error(ErrorCode::kIo, "cannot sync " + path + ": " + std::strerror(errno));
  }
  ::close(fd);
  return result;
}

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

// One kept-alive HTTP connection to the server.
struct BlobClient::Connection {
  net::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
  bool open = false;

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

  Status connect(const ServerAddress& address, std::chrono::milliseconds timeout) {
    beast::error_code ec;
    tcp::resolver resolver(io);
    auto results = resolver.resolve(address.host, address.port, ec);
    if (ec) return network(ec, "resolving " + address.host);
    stream.expires_after(timeout);
    ec = run([&](auto handler) { stream.async_connect(results, std::move(handler)); });
    if (ec) return network(ec, "connecting to " + address.host + ":" + address.port);
    stream.socket().set_option(tcp::no_delay(true), ec);
    buffer.clear();
    open = true;
    return Status::Ok();
  }

  void close() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    open = false;
  }

  // Sends one request (reconnecting once when the kept-alive connection was closed
  // meanwhile) and reads the answer, at most `max_body` bytes of body.
  Result<Response> exchange(const ServerAddress& address, Request& request, size_t max_body,
                            std::chrono::milliseconds timeout) {
    for (int attempt = 0;; ++attempt) {
      if (!open) OUTPOST_RETURN_IF_ERROR(connect(address, timeout));
      http::response_parser<http::string_body> parser;
      parser.body_limit(max_body);
      parser.header_limit(limits::kMaxHeaderBytes);
      if (request.method() == http::verb::head) parser.skip(true);
      stream.expires_after(timeout);
      beast::error_code ec =
          run([&](auto handler) { http::async_write(stream, request, std::move(handler)); });
      if (!ec) {
        stream.expires_after(timeout);
        ec = run(
            [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
      }
      if (!ec) {
        Response response = parser.release();
        if (!response.keep_alive()) close();
        return response;
      }
      close();
      const bool stale = ec == http::error::end_of_stream || ec == net::error::connection_reset ||
                         ec == net::error::broken_pipe || ec == net::error::eof;
      if (attempt == 0 && stale) continue;
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

Status BlobClient::download_chunk(BlobCache& cache, const BlobHash& hash, const BlobRecordRef& ref,
                                  uint64_t offset, uint64_t& total) {
  OUTPOST_ASSIGN_OR_RETURN(ServerAddress address, parse_server_url(options_.server_url));
  Request request{http::verb::get,
                  address.path_prefix + std::string(blob_http::kBlobsPrefix) + hash.hex() +
                      "?ref=" + percent_encode(ref.collection) + "/" + percent_encode(ref.key),
                  11};
  request.set(http::field::host, address.host);
  request.set(http::field::authorization, "Bearer " + options_.token);
  request.set(http::field::range, "bytes=" + std::to_string(offset) + "-" +
                                      std::to_string(offset + options_.chunk_bytes - 1));
  request.keep_alive(true);
  ++requests_;
  OUTPOST_ASSIGN_OR_RETURN(
      Response response,
      connection_->exchange(address, request, options_.chunk_bytes + 1, options_.timeout));
  if (response.result() == http::status::range_not_satisfiable) {
    // The partial is longer than the blob (it cannot be a prefix of it): start over.
    OUTPOST_RETURN_IF_ERROR(cache.drop_partial(hash));
    return error(ErrorCode::kUnavailable, "the partial download did not fit the blob; restarting");
  }
  if (response.result() != http::status::partial_content) return answer_error(response);
  auto range_total =
      total_of_content_range(http_api::to_view(response[http::field::content_range]), offset);
  if (!range_total || response.body().empty() || offset + response.body().size() > *range_total) {
    return error(ErrorCode::kUnavailable, "the server's range answer does not fit the request");
  }
  total = *range_total;
  return append_synced(cache.partial_path(hash), offset, response.body());
}

Result<std::string> BlobClient::fetch(BlobCache& cache, const BlobHash& hash,
                                      const BlobRecordRef& ref, const BlobProgress& progress) {
  OUTPOST_ASSIGN_OR_RETURN(auto cached, cache.find(hash));
  if (cached) return *cached;
  uint64_t total = 0;
  for (;;) {
    const uint64_t offset = cache.partial_size(hash);
    if (total != 0 && offset >= total) break;
    OUTPOST_RETURN_IF_ERROR(download_chunk(cache, hash, ref, offset, total));
    if (progress && !progress(cache.partial_size(hash), total)) {
      return error(ErrorCode::kCancelled, "the download was cancelled");
    }
  }
  OUTPOST_RETURN_IF_ERROR(cache.complete(hash));
  OUTPOST_ASSIGN_OR_RETURN(auto stored, cache.find(hash));
  if (!stored) return error(ErrorCode::kIo, "the blob vanished from the cache");
  return *stored;
}

Status BlobClient::upload(const BlobHash& hash, std::string_view bytes,
                          const BlobProgress& progress) {
  OUTPOST_ASSIGN_OR_RETURN(ServerAddress address, parse_server_url(options_.server_url));
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
  OUTPOST_ASSIGN_OR_RETURN(Response where,
                           connection_->exchange(address, ask, kMaxAnswerBody, options_.timeout));
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
    OUTPOST_ASSIGN_OR_RETURN(
        Response answer, connection_->exchange(address, chunk, kMaxAnswerBody, options_.timeout));
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

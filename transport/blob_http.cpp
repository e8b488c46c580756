#include "transport/blob_http.h"

#include <boost/beast/http/field.hpp>

#include <charconv>

#include "transport/limits.h"

namespace outpost::blob_http {
namespace {

namespace http = boost::beast::http;
using http_api::HttpResponse;

Status bad(std::string message) {
  return error(ErrorCode::kInvalidArgument, std::move(message));
}

// A decimal number of at most 19 digits (so it fits in 63 bits), nothing else.
std::optional<uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size()) {
        return bad("a truncated percent-escape in the blob reference");
      }
      const int high = hex_digit(text[i + 1]);
      const int low = hex_digit(text[i + 2]);
      if (high < 0 || low < 0) return bad("a bad percent-escape in the blob reference");
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else {
      out.push_back(text[i] == '+' ? ' ' : text[i]);
    }
    if (out.size() > limits::kMaxBlobRefLength) return bad("the blob reference is too long");
  }
  return out;
}

HttpResponse plain(http::status status, unsigned version) {
  HttpResponse response{status, version};
  response.set(http::field::server, http_api::kServerName);
  return response;
}

HttpResponse method_not_allowed(std::string_view method, std::string_view allowed,
                                unsigned version) {
  HttpResponse response = http_api::error_response(
      bad(std::string(method) + " is not allowed here; use " + std::string(allowed)), version,
      http::status::method_not_allowed);
  response.set(http::field::allow, allowed);
  return response;
}

BlobAnswer fail(const Status& status, unsigned version) {
  return BlobAnswer{http_api::error_response(status, version), nullptr, 0, 0};
}

BlobAnswer download(const http_api::HttpRequest& request, const BlobTarget& target,
                    const Principal& who, BlobService& blobs) {
  const unsigned version = request.version();
  auto reader = blobs.open_for_read(who, target.hash, target.ref_collection, target.ref_key);
  if (!reader.ok()) return fail(reader.status(), version);
  const uint64_t size = (*reader)->size();
  auto range = parse_range(http_api::to_view(request[http::field::range]), size);
  if (!range.ok()) {
    BlobAnswer answer = fail(range.status(), version);
    if (range.status().code() == ErrorCode::kOutOfRange) {
      answer.head.set(http::field::content_range, "bytes */" + std::to_string(size));
    }
    return answer;
  }
  HttpResponse head =
      plain(range->partial ? http::status::partial_content : http::status::ok, version);
  head.set(http::field::content_type, "application/octet-stream");
  head.set(http::field::accept_ranges, "bytes");
  head.set(http::field::etag, "\"" + target.hash.hex() + "\"");
  head.set(http::field::cache_control, "private, max-age=31536000, immutable");
  if (range->partial) {
    head.set(http::field::content_range, "bytes " + std::to_string(range->first) + "-" +
                                             std::to_string(range->first + range->length - 1) +
                                             "/" + std::to_string(size));
  }
  head.content_length(range->length);
  BlobAnswer answer{std::move(head), nullptr, range->first, range->length};
  if (request.method() == http::verb::get && range->length > 0) answer.body = std::move(*reader);
  return answer;
}

BlobAnswer upload(const http_api::HttpRequest& request, const BlobTarget& target,
                  const Principal& who, BlobService& blobs) {
  const unsigned version = request.version();
  auto answer_offset = [&](http::status status, uint64_t offset) {
    HttpResponse head = plain(status, version);
    head.set(kUploadOffsetHeader, std::to_string(offset));
    head.content_length(0);
    return BlobAnswer{std::move(head), nullptr, 0, 0};
  };
  if (request.method() == http::verb::head) {
    auto offset = blobs.upload_offset(who, target.hash);
    if (!offset.ok()) return fail(offset.status(), version);
    return answer_offset(http::status::ok, *offset);
  }
  auto headers = parse_upload_headers(http_api::to_view(request[kUploadOffsetHeader]),
                                      http_api::to_view(request[kUploadLengthHeader]));
  if (!headers.ok()) return fail(headers.status(), version);
  auto reached = blobs.upload(who, target.hash, headers->offset, headers->total, request.body());
  if (!reached.ok()) {
    BlobAnswer answer = fail(reached.status(), version);
    if (reached.status().code() == ErrorCode::kFailedPrecondition) {
      if (auto offset = blobs.upload_offset(who, target.hash); offset.ok()) {
        answer.head.set(kUploadOffsetHeader, std::to_string(*offset));
      }
    }
    return answer;
  }
  return answer_offset(*reached == headers->total ? http::status::created : http::status::ok,
                       *reached);
}

}  // namespace

bool is_blob_path(std::string_view path) {
  return path.substr(0, kBlobsPrefix.size()) == kBlobsPrefix ||
         path.substr(0, kUploadsPrefix.size()) == kUploadsPrefix;
}

Result<BlobTarget> parse_target(std::string_view target) {
  const size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  std::string_view query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  BlobTarget out;
  std::string_view hex;
  if (path.substr(0, kBlobsPrefix.size()) == kBlobsPrefix) {
    hex = path.substr(kBlobsPrefix.size());
  } else if (path.substr(0, kUploadsPrefix.size()) == kUploadsPrefix) {
    hex = path.substr(kUploadsPrefix.size());
    out.upload = true;
  } else {
    return error(ErrorCode::kNotFound, "no such endpoint: " + std::string(path));
  }
  OUTPOST_ASSIGN_OR_RETURN(out.hash, BlobHash::parse(hex));
  if (out.upload) return out;
  // The query: `ref=<collection>/<key>`, other parameters ignored.
  std::optional<std::string> ref;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.substr(0, 4) != "ref=") continue;
    if (ref) return bad("one ref parameter only");
    OUTPOST_ASSIGN_OR_RETURN(ref, percent_decode(pair.substr(4)));
  }
  if (!ref)
    return bad("a download names the record that references the blob: ?ref=<collection>/<key>");
  const size_t slash = ref->find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == ref->size()) {
    return bad("the blob reference is <collection>/<key>");
  }
  out.ref_collection = ref->substr(0, slash);
  out.ref_key = ref->substr(slash + 1);
  return out;
}

Result<ByteRange> parse_range(std::string_view header, uint64_t size) {
  if (header.empty()) return ByteRange{0, size, false};
  if (header.size() > limits::kMaxRangeHeader) return bad("the Range header is too long");
  constexpr std::string_view kUnit = "bytes=";
  if (header.substr(0, kUnit.size()) != kUnit) return bad("a Range is in bytes=");
  const std::string_view spec = header.substr(kUnit.size());
  if (spec.find(',') != std::string_view::npos) return bad("one range per request");
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return bad("a Range is first-last, first- or -suffix");
  const std::string_view first_text = spec.substr(0, dash);
  const std::string_view last_text = spec.substr(dash + 1);
  if (first_text.empty()) {  // the last N bytes
    const auto suffix = parse_decimal(last_text);
    if (!suffix) return bad("a suffix Range is -N");
    if (*suffix == 0 || size == 0) {
      return error(ErrorCode::kOutOfRange, "the range is outside the blob");
    }
    const uint64_t length = std::min(*suffix, size);
    return ByteRange{size - length, length, true};
  }
  const auto first = parse_decimal(first_text);
  if (!first) return bad("a Range's first byte is a decimal number");
  std::optional<uint64_t> last;
  if (!last_text.empty()) {
    last = parse_decimal(last_text);
    if (!last || *last < *first) return bad("a Range's last byte is a number not below its first");
  }
  if (*first >= size) return error(ErrorCode::kOutOfRange, "the range is outside the blob");
  const uint64_t end = last ? std::min(*last, size - 1) : size - 1;
  return ByteRange{*first, end - *first + 1, true};
}

Result<UploadHeaders> parse_upload_headers(std::string_view offset, std::string_view length) {
  const auto parsed_offset = parse_decimal(offset);
  const auto parsed_length = parse_decimal(length);
  if (!parsed_offset || !parsed_length) {
    return bad("an upload chunk carries Upload-Offset and Upload-Length, decimal");
  }
  return UploadHeaders{*parsed_offset, *parsed_length};
}

BlobAnswer answer_blob_request(const http_api::HttpRequest& request, BlobService& blobs,
                               const TokenAuthority& tokens, int64_t now_ms) {
  const unsigned version = request.version();
  auto target = parse_target(http_api::to_view(request.target()));
  if (!target.ok()) return fail(target.status(), version);
  const http::verb method = request.method();
  if (!target->upload && method != http::verb::get && method != http::verb::head) {
    return {method_not_allowed(http_api::to_view(request.method_string()), "GET, HEAD", version),
            nullptr, 0, 0};
  }
  if (target->upload && method != http::verb::put && method != http::verb::head) {
    return {method_not_allowed(http_api::to_view(request.method_string()), "HEAD, PUT", version),
            nullptr, 0, 0};
  }
  auto who = http_api::authenticate(tokens, http_api::to_view(request[http::field::authorization]),
                                    now_ms);
  if (!who.ok()) return fail(who.status(), version);
  try {  // nothing thrown below reaches the I/O threads
    return target->upload ? upload(request, *target, who->who, blobs)
                          : download(request, *target, who->who, blobs);
  } catch (const std::exception& e) {
    return fail(error(ErrorCode::kInternal, std::string("blob service failed: ") + e.what()),
                version);
  }
}

}  // namespace outpost::blob_http

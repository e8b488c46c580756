#include "transport/http_util.h"

#include "transport/column_page.h"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include <cctype>
#include <utility>

#include "engine/platform.h"
#include "transport/limits.h"
#include "transport/zstd_codec.h"

namespace outpost::http_api {
namespace {

namespace http = boost::beast::http;

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The media type without parameters: "application/x-protobuf; x=y" -> "application/x-protobuf".
std::string_view media_type(std::string_view content_type) {
  return trim(content_type.substr(0, content_type.find(';')));
}

HttpResponse make_response(http::status status, unsigned version) {
  HttpResponse response{status, version};
  response.set(http::field::server, kServerName);
  return response;
}

Status check_body_headers(const HttpRequest& request) {
  if (!iequals_ascii(media_type(to_view(request[http::field::content_type])),
                     kContentTypeProtobuf)) {
    return error(ErrorCode::kInvalidArgument,
                 "Content-Type must be " + std::string(kContentTypeProtobuf));
  }
  if (!iequals_ascii(trim(to_view(request[http::field::content_encoding])), kContentEncodingZstd)) {
    return error(ErrorCode::kInvalidArgument,
                 "Content-Encoding must be " + std::string(kContentEncodingZstd));
  }
  return Status::Ok();
}

}  // namespace

namespace {

// Error code -> HTTP status; a code not listed is 500.
constexpr std::pair<ErrorCode, unsigned> kHttpStatusTable[] = {
    {ErrorCode::kInvalidArgument, 400},  {ErrorCode::kUnauthenticated, 401},
    {ErrorCode::kPermissionDenied, 403}, {ErrorCode::kNotFound, 404},
    {ErrorCode::kSchemaTooNew, 409},     {ErrorCode::kFailedPrecondition, 409},
    {ErrorCode::kTooLarge, 413},         {ErrorCode::kUnavailable, 503},
    {ErrorCode::kOutOfRange, 416},
};

}  // namespace

unsigned http_status_for(ErrorCode code) {
  if (code == ErrorCode::kOk) return 200;
  for (const auto& [listed, status] : kHttpStatusTable) {
    if (listed == code) return status;
  }
  return 500;
}

std::optional<ErrorCode> error_code_for_http_status(unsigned status) {
  std::optional<ErrorCode> found;
  for (const auto& [code, listed] : kHttpStatusTable) {
    if (listed != status) continue;
    if (found.has_value()) return std::nullopt;  // ambiguous
    found = code;
  }
  return found;
}

bool is_retryable(ErrorCode code) {
  return code == ErrorCode::kUnavailable;
}

protocol::Error to_wire_error(const Status& status) {
  protocol::Error wire;
  wire.set_code(std::string(error_code_name(status.code())));
  wire.set_message(status.message());
  wire.set_retryable(is_retryable(status.code()));
  return wire;
}

Result<std::string> bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!authorization.empty() && is_space(authorization.front())) authorization.remove_prefix(1);
  while (!authorization.empty() && is_space(authorization.back())) authorization.remove_suffix(1);
  if (authorization.empty()) {
    return error(ErrorCode::kUnauthenticated, "missing bearer token");
  }
  if (authorization.size() <= kScheme.size() || !is_space(authorization[kScheme.size()])) {
    return error(ErrorCode::kUnauthenticated, "Authorization is not a bearer token");
  }
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) {
      return error(ErrorCode::kUnauthenticated, "Authorization is not a bearer token");
    }
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && is_space(token.front())) token.remove_prefix(1);
  if (token.empty()) return error(ErrorCode::kUnauthenticated, "missing bearer token");
  return std::string(token);
}

Result<Authenticated> authenticate(const TokenAuthority& tokens, std::string_view authorization,
                                   int64_t now_ms) {
  OUTPOST_ASSIGN_OR_RETURN(std::string token, bearer_token(authorization));
  Result<protocol::TokenClaims> claims = tokens.verify(token, now_ms);
  if (!claims.ok()) {
    if (claims.status().code() == ErrorCode::kUnauthenticated) return claims.status();
    // The caller did nothing wrong: the server cannot check tokens at all.
    return error(ErrorCode::kInternal, "cannot verify tokens: " + claims.status().message());
  }
  return Authenticated{Principal{claims->tenant(), claims->user(), claims->device()},
                       claims->expires_ms()};
}

Status decode_body(std::string_view body, google::protobuf::MessageLite& out,
                   size_t max_decompressed) {
  OUTPOST_ASSIGN_OR_RETURN(std::string plain, zstd_decompress(body, max_decompressed));
  if (!out.ParseFromString(plain)) {
    return error(ErrorCode::kInvalidArgument, "malformed " + out.GetTypeName());
  }
  return Status::Ok();
}

Result<std::string> encode_body(const google::protobuf::MessageLite& message) {
  std::string plain;
  if (!message.SerializeToString(&plain)) {
    return error(ErrorCode::kInternal, "cannot serialize " + message.GetTypeName());
  }
  return zstd_compress(plain);
}

HttpResponse error_response(const Status& failure, unsigned version,
                            std::optional<http::status> status) {
  HttpResponse response = make_response(
      status.value_or(static_cast<http::status>(http_status_for(failure.code()))), version);
  response.set(http::field::content_type, kContentTypeProtobuf);
  response.set(http::field::content_encoding, kContentEncodingZstd);
  response.set(kErrorHeader, error_code_name(failure.code()));
  if (failure.code() == ErrorCode::kUnauthenticated) {
    response.set(http::field::www_authenticate, "Bearer");
  }
  Result<std::string> body = encode_body(to_wire_error(failure));
  if (body.ok()) response.body() = std::move(body).value();
  return response;
}

HttpResponse message_response(const google::protobuf::MessageLite& message, unsigned version) {
  Result<std::string> body = encode_body(message);
  if (!body.ok()) return error_response(body.status(), version);
  HttpResponse response = make_response(http::status::ok, version);
  response.set(http::field::content_type, kContentTypeProtobuf);
  response.set(http::field::content_encoding, kContentEncodingZstd);
  response.body() = std::move(body).value();
  return response;
}

HttpResponse handle_request(const HttpRequest& request, ServerCore& core,
                            const TokenAuthority& tokens, int64_t now) {
  const unsigned version = request.version();
  std::string_view target = to_view(request.target());
  std::string_view path = request_path(target);
  auto method_not_allowed = [&](std::string_view allowed) {
    HttpResponse response =
        error_response(error(ErrorCode::kInvalidArgument,
                             std::string(to_view(request.method_string())) + " is not allowed on " +
                                 std::string(path) + "; use " + std::string(allowed)),
                       version, http::status::method_not_allowed);
    response.set(http::field::allow, allowed);
    return response;
  };

  if (path == kHealthPath) {
    if (request.method() != http::verb::get) return method_not_allowed("GET");
    HttpResponse response = make_response(http::status::ok, version);
    response.set(http::field::content_type, "text/plain");
    response.body() = "ok";
    return response;
  }
  if (path == kStreamPath) {
    if (request.method() != http::verb::get) return method_not_allowed("GET");
    return error_response(
        error(ErrorCode::kInvalidArgument, "GET /v1/stream must be a WebSocket upgrade"), version);
  }
  if (path == kPlatformLoginPath) {
    if (request.method() != http::verb::post) return method_not_allowed("POST");
    auto who = authenticate(tokens, to_view(request[http::field::authorization]), now);
    if (!who.ok()) return error_response(who.status(), version);
    if (request.body().size() > kMaxPlatformLoginBytes) {
      return error_response(error(ErrorCode::kTooLarge, "platform login over the bound"), version);
    }
    Platform* platform = core.platform();
    Status taken = platform == nullptr
                       ? error(ErrorCode::kFailedPrecondition, "this server mirrors no platform")
                       : platform->set_user_login(AgentRef{who->who.tenant, who->who.user},
                                                  request.body(), now);
    if (!taken.ok()) return error_response(taken, version);
    return make_response(http::status::no_content, version);
  }
  bool is_push = path == kPushPath;
  bool is_pull = path == kPullPath;
  if (!is_push && !is_pull) {
    return error_response(error(ErrorCode::kNotFound, "no such endpoint: " + std::string(path)),
                          version);
  }
  if (request.method() != http::verb::post) return method_not_allowed("POST");

  auto who = authenticate(tokens, to_view(request[http::field::authorization]), now);
  if (!who.ok()) return error_response(who.status(), version);
  if (Status headers = check_body_headers(request); !headers.ok()) {
    return error_response(headers, version);
  }
  if (is_push) {
    protocol::PushRequest push;
    Status decoded = decode_body(request.body(), push, limits::kMaxDecompressedBody);
    if (!decoded.ok()) return error_response(decoded, version);
    auto result = call_core([&] { return core.push(who->who, push, now); });
    if (!result.ok()) return error_response(result.status(), version);
    return message_response(result.value(), version);
  }
  protocol::PullRequest pull;
  Status decoded = decode_body(request.body(), pull, limits::kMaxDecompressedBody);
  if (!decoded.ok()) return error_response(decoded, version);
  auto result = call_core([&] { return core.pull(who->who, pull); });
  if (!result.ok()) return error_response(result.status(), version);
  // Decision 045: a device that expands column pages gets its pages column-wise.
  if (const uint32_t columns = column_page_version(pull); columns > 0) {
    encode_column_pages(result.value(), columns);
  }
  return message_response(result.value(), version);
}

}  // namespace outpost::http_api

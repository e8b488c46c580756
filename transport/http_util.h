// The HTTP side of the wire protocol without the sockets: routes and header names, the
// error-code-to-HTTP-status table, bearer-token authentication, the zstd(protobuf) body
// codec with its bounds, and the answer to one complete request (handle_request).
// SyncServer owns the connections and calls these. docs/protocol.md documents the same
// rules for other clients.
// Thread rules: free functions over their arguments only; safe from any thread.
#pragma once

#include <google/protobuf/message_lite.h>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include "engine/server_core.h"
#include "engine/status.h"
#include "outpost/protocol.pb.h"
#include "transport/token.h"

namespace outpost::http_api {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

inline constexpr std::string_view kServerName = "outpost-server";

inline constexpr std::string_view kPushPath = "/v1/push";
inline constexpr std::string_view kPullPath = "/v1/pull";
inline constexpr std::string_view kStreamPath = "/v1/stream";
inline constexpr std::string_view kHealthPath = "/v1/health";
// The device hands over its user's own platform login (a JSON token answer, at most
// kMaxPlatformLoginBytes): POST with the device's bearer token; 204 when the platform
// adapter took it (engine/platform.h set_user_login), else the error (docs/genesys.md).
inline constexpr std::string_view kPlatformLoginPath = "/v1/platform/login";
inline constexpr size_t kMaxPlatformLoginBytes = 16 * 1024;

inline constexpr std::string_view kContentTypeProtobuf = "application/x-protobuf";
inline constexpr std::string_view kContentEncodingZstd = "zstd";
// Carries the error code name of every error response, so a client can switch on it
// without decoding the body.
inline constexpr std::string_view kErrorHeader = "X-Outpost-Error";

// The HTTP status of an error code: kInvalidArgument 400, kUnauthenticated 401,
// kPermissionDenied 403, kNotFound 404, kSchemaTooNew and kFailedPrecondition 409,
// kTooLarge 413, kOutOfRange 416, kUnavailable 503, everything else 500.
unsigned http_status_for(ErrorCode code);

// The same table read backwards, for answers that carry no X-Outpost-Error (a proxy's): the
// one error code mapped to `status`; nullopt for a status no code or several codes map to
// (409), for 500 (everything else) and for 2xx.
std::optional<ErrorCode> error_code_for_http_status(unsigned status);

// Only kUnavailable is worth retrying unchanged.
bool is_retryable(ErrorCode code);

// The wire form of a failed Status (code name, message, retryable).
protocol::Error to_wire_error(const Status& status);

// The token of an "Authorization: Bearer <token>" header value (scheme case-insensitive).
// Errors: kUnauthenticated when the header is empty or not a bearer credential.
Result<std::string> bearer_token(std::string_view authorization);

struct Authenticated {
  Principal who;
  int64_t expires_ms = 0;  // when the token stops being valid
};

// Verifies the header's bearer token at `now_ms` and returns who it names.
// Errors: kUnauthenticated (missing, malformed, forged or expired token); kInternal when
// the authority itself cannot verify (a misconfigured key).
Result<Authenticated> authenticate(const TokenAuthority& tokens, std::string_view authorization,
                                   int64_t now_ms);

// Decodes one zstd frame holding one serialized message into `out`.
// Errors: kTooLarge when the content passes `max_decompressed` (zstd bombs included);
// kInvalidArgument for corrupt or truncated zstd, or bytes that are not a `out` message.
Status decode_body(std::string_view body, google::protobuf::MessageLite& out,
                   size_t max_decompressed);

// zstd(serialized message). Errors: kInternal if serialization or zstd fails.
Result<std::string> encode_body(const google::protobuf::MessageLite& message);

inline std::string_view to_view(boost::beast::string_view view) {
  return {view.data(), view.size()};
}

// The path of a request target: "/v1/pull?x=1" -> "/v1/pull".
inline std::string_view request_path(std::string_view target) {
  return target.substr(0, target.find('?'));
}

// An error response: status from http_status_for (or `status` when given: 405 only),
// X-Outpost-Error, and the body zstd(protocol::Error).
HttpResponse error_response(const Status& failure, unsigned version,
                            std::optional<boost::beast::http::status> status = std::nullopt);

// 200 with zstd(message) and the protobuf/zstd content headers.
HttpResponse message_response(const google::protobuf::MessageLite& message, unsigned version);

// Answers one complete request that is not a WebSocket upgrade: the route table of
// docs/protocol.md (health, push, pull; 404, 405, and 400 for /v1/stream without an
// upgrade). Push and pull run the blocking ServerCore call on the calling thread.
HttpResponse handle_request(const HttpRequest& request, ServerCore& core,
                            const TokenAuthority& tokens, int64_t now_ms);

// Runs a blocking ServerCore call, turning an escaped exception into kInternal, so that
// nothing thrown below reaches the I/O threads.
template <typename Call>
auto call_core(Call&& call) -> decltype(call()) {
  try {
    return call();
  } catch (const std::exception& e) {
    return error(ErrorCode::kInternal, std::string("server core failed: ") + e.what());
  }
}

}  // namespace outpost::http_api

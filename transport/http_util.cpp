#include "transport/http_util.h"

#include <cctype>

#include "transport/zstd_codec.h"

namespace outpost::http_api {

unsigned http_status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return 200;
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kSchemaTooNew:
    case ErrorCode::kFailedPrecondition:
      return 409;
    case ErrorCode::kTooLarge:
      return 413;
    case ErrorCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
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

}  // namespace outpost::http_api

#include "engine/status.h"

#include <array>

namespace outpost {
namespace {

constexpr std::array<std::pair<ErrorCode, std::string_view>, 17> kNames = {{
    {ErrorCode::kOk, "ok"},
    {ErrorCode::kInvalidArgument, "invalid_argument"},
    {ErrorCode::kNotFound, "not_found"},
    {ErrorCode::kAlreadyExists, "already_exists"},
    {ErrorCode::kFailedPrecondition, "failed_precondition"},
    {ErrorCode::kSchemaTooNew, "schema_too_new"},
    {ErrorCode::kCorrupt, "corrupt"},
    {ErrorCode::kIo, "io"},
    {ErrorCode::kReadOnly, "read_only"},
    {ErrorCode::kUnauthenticated, "unauthenticated"},
    {ErrorCode::kPermissionDenied, "permission_denied"},
    {ErrorCode::kTooLarge, "too_large"},
    {ErrorCode::kRejected, "rejected"},
    {ErrorCode::kUnavailable, "unavailable"},
    {ErrorCode::kCancelled, "cancelled"},
    {ErrorCode::kInternal, "internal"},
    {ErrorCode::kOutOfRange, "out_of_range"},
}};

}  // namespace

std::string_view error_code_name(ErrorCode code) {
  for (const auto& [c, name] : kNames) {
    if (c == code) return name;
  }
  return "internal";
}

ErrorCode error_code_from_name(std::string_view name) {
  for (const auto& [c, n] : kNames) {
    if (n == name) return c;
  }
  return ErrorCode::kInternal;
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  std::string out(error_code_name(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  std::string message(context);
  message += ": ";
  message += message_;
  return Status(code_, std::move(message));
}

}  // namespace outpost

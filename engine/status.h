// Errors as values: Status and Result<T>, with one registry of error codes.
// Every module boundary returns these; exceptions from SQLiteCpp, protobuf or Beast are
// caught at the edge of the module that uses them and converted here.
// Thread rules: plain values, safe to copy and move between threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace outpost {

// The one table of error codes. The wire protocol sends the name (error_code_name) so a
// second client can switch on it; docs/protocol.md lists them with their HTTP status.
enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,  // malformed input: bad protobuf, bad JSON, missing field; on the wire
                     // also an empty scope name, a cursor token the server did not seal
  kNotFound,         // unknown collection, mutator, key or route
  kAlreadyExists,
  kFailedPrecondition,  // the operation does not fit the current state; on the wire: push
                        // ids that skip past the last processed + 1, a pull cursor ahead
                        // of the scope's head (the device lost something; not retryable
                        // as is: a message led by cursor_not_issued('<scope>') means start
                        // that scope over, engine/cursor_token.h)
  kSchemaTooNew,        // data written by a newer schema than this build knows
  kCorrupt,             // a file that is not an outpost store, or is damaged
  kIo,                  // the file system or the database refused
  kReadOnly,            // a write was attempted on something read-only
  kUnauthenticated,     // missing, malformed, forged or expired token
  kPermissionDenied,    // a valid token asking for something it may not have
  kTooLarge,            // a size bound was exceeded (frame, body, batch, decompressed)
  kRejected,            // a mutation the authoritative side refused (reason attached)
  kUnavailable,         // retryable: network, server shutting down, store unreachable,
                        // a scope lock out of order, too many connections (Retry-After)
  kCancelled,
  kInternal,
  kOutOfRange,  // a byte range outside the blob (HTTP 416 with Content-Range: bytes */size)
};

std::string_view error_code_name(ErrorCode code);
// Parses a name produced by error_code_name; unknown names map to kInternal.
ErrorCode error_code_from_name(std::string_view name);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "not_found: unknown collection 'foo'"
  std::string to_string() const;

  // Adds context in front of the message, keeping the code.
  Status with_context(std::string_view context) const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

inline Status error(ErrorCode code, std::string message) {
  return Status(code, std::move(message));
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : state_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(state_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(state_);
  }
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace outpost

// Returns early from the enclosing function when a Status is not ok.
#define OUTPOST_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::outpost::Status outpost_status_ = (expr);        \
    if (!outpost_status_.ok()) return outpost_status_; \
  } while (0)

#define OUTPOST_CONCAT_INNER(a, b) a##b
#define OUTPOST_CONCAT(a, b) OUTPOST_CONCAT_INNER(a, b)
// Declares `lhs` from a Result, or returns its Status from the enclosing function.
#define OUTPOST_ASSIGN_OR_RETURN(lhs, expr) \
  OUTPOST_ASSIGN_OR_RETURN_IMPL(OUTPOST_CONCAT(outpost_result_, __LINE__), lhs, expr)
#define OUTPOST_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

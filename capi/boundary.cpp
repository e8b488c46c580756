#include "capi/boundary.h"

#include <cstdlib>
#include <cstring>

namespace outpost::capi {
namespace {

thread_local int t_callback_depth = 0;
thread_local const void* t_callback_owner = nullptr;

char* copy_string(std::string_view text) noexcept {
  char* data = static_cast<char*>(std::malloc(text.size() + 1));
  if (data == nullptr) return nullptr;
  if (!text.empty()) std::memcpy(data, text.data(), text.size());
  data[text.size()] = '\0';
  return data;
}

}  // namespace

void fill_error(outpost_error* out, const Status& status) noexcept {
  if (out == nullptr) return;
  out->code = static_cast<outpost_status>(status.code());
  out->retryable = status.code() == ErrorCode::kUnavailable;
  out->message = copy_string(status.message());
  out->message_len = out->message != nullptr ? status.message().size() : 0;
}

outpost_status report(const Status& status, outpost_error* error) noexcept {
  if (!status.ok()) fill_error(error, status);
  return static_cast<outpost_status>(status.code());
}

Status set_bytes(outpost_bytes* out, std::string_view data) {
  if (out == nullptr) return Status::Ok();
  out->data = copy_string(data);
  if (out->data == nullptr) {
    out->len = 0;
    return error(ErrorCode::kInternal, "out of memory");
  }
  out->len = data.size();
  return Status::Ok();
}

Status read_string(const char* data, size_t len, std::string_view what, std::string* out) {
  if (data == nullptr && len != 0) {
    return error(ErrorCode::kInvalidArgument, std::string(what) + ": NULL with a length");
  }
  out->assign(data == nullptr ? "" : data, len);
  return Status::Ok();
}

CallbackScope::CallbackScope(const void* owner) : previous_owner_(t_callback_owner) {
  t_callback_depth++;
  t_callback_owner = owner;
}

CallbackScope::~CallbackScope() {
  t_callback_depth--;
  t_callback_owner = previous_owner_;
}

bool CallbackScope::active() {
  return t_callback_depth > 0;
}

bool CallbackScope::active_for(const void* owner) {
  return t_callback_depth > 0 && owner != nullptr && t_callback_owner == owner;
}

}  // namespace outpost::capi

// ------------------------------------------------------------------ exported

extern "C" {

void outpost_error_clear(outpost_error* error) {
  if (error == nullptr) return;
  std::free(error->message);
  *error = outpost_error{};
}

void outpost_bytes_free(outpost_bytes* bytes) {
  if (bytes == nullptr) return;
  std::free(bytes->data);
  *bytes = outpost_bytes{};
}

const char* outpost_status_name(outpost_status code) {
  // error_code_name returns views of string literals: NUL-terminated.
  return outpost::error_code_name(static_cast<outpost::ErrorCode>(code)).data();
}

uint32_t outpost_abi_version(void) {
  return OUTPOST_ABI_VERSION;
}

const char* outpost_version(void) {
  return OUTPOST_VERSION_STRING;
}

}  // extern "C"

// The C codes are the registry's, number for number.
static_assert(OUTPOST_INVALID_ARGUMENT == static_cast<int>(outpost::ErrorCode::kInvalidArgument));
static_assert(OUTPOST_NOT_FOUND == static_cast<int>(outpost::ErrorCode::kNotFound));
static_assert(OUTPOST_FAILED_PRECONDITION ==
              static_cast<int>(outpost::ErrorCode::kFailedPrecondition));
static_assert(OUTPOST_SCHEMA_TOO_NEW == static_cast<int>(outpost::ErrorCode::kSchemaTooNew));
static_assert(OUTPOST_READ_ONLY == static_cast<int>(outpost::ErrorCode::kReadOnly));
static_assert(OUTPOST_UNAUTHENTICATED == static_cast<int>(outpost::ErrorCode::kUnauthenticated));
static_assert(OUTPOST_REJECTED == static_cast<int>(outpost::ErrorCode::kRejected));
static_assert(OUTPOST_UNAVAILABLE == static_cast<int>(outpost::ErrorCode::kUnavailable));
static_assert(OUTPOST_CANCELLED == static_cast<int>(outpost::ErrorCode::kCancelled));
static_assert(OUTPOST_INTERNAL == static_cast<int>(outpost::ErrorCode::kInternal));

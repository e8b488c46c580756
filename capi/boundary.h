// The C boundary's plumbing (implementation detail of liboutpost, never installed): turning a
// Status into an outpost_error, the catch-all every entry point runs its body in, owned
// output bytes, and the marks that tell a call it was made from inside one of our callbacks.
// Thread rules: free functions; CallbackScope is per thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "engine/status.h"
#include "outpost/outpost.h"

namespace outpost::capi {

// Fills `*out` (when not null) from a failed status. Never throws.
void fill_error(outpost_error* out, const Status& status) noexcept;
// Status -> outpost_status, filling `error` when it failed.
outpost_status report(const Status& status, outpost_error* error) noexcept;
// Copies `data` into `*out` (malloc'd, NUL-terminated). kInternal when out of memory.
Status set_bytes(outpost_bytes* out, std::string_view data);
// A (pointer, length) argument as a string; a NULL pointer with a length is refused.
Status read_string(const char* data, size_t len, std::string_view what, std::string* out);

// Runs `body` (returning Status) and reports it; any exception becomes OUTPOST_INTERNAL
// (std::bad_alloc included): nothing C++ crosses the boundary.
template <typename Body>
outpost_status guarded(outpost_error* error, Body&& body) noexcept {
  try {
    return report(body(), error);
  } catch (const std::exception& e) {
    return report(Status(ErrorCode::kInternal, std::string("unexpected: ") + e.what()), error);
  } catch (...) {
    return report(Status(ErrorCode::kInternal, "unexpected exception"), error);
  }
}

// Marks the current thread as running one of our callbacks (for `owner`, the agent handle
// whose thread runs it, or null) while alive.
class CallbackScope {
 public:
  explicit CallbackScope(const void* owner);
  ~CallbackScope();
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;

  // Inside any of our callbacks on this thread.
  static bool active();
  // Inside a callback that `owner`'s thread runs (so its lock is not ours to take).
  static bool active_for(const void* owner);

 private:
  const void* previous_owner_;
};

}  // namespace outpost::capi

// The bounds the engine enforces, by name, in one place: names inside scopes and tokens.
// transport/limits.h re-exports them beside the wire's bounds; docs/protocol.md lists the
// same numbers for other clients. The engine includes nothing from transport/.
// Thread rules: compile-time constants only.
#pragma once

#include <cstddef>

namespace outpost::limits {

// --- Names -----------------------------------------------------------------------------

// A tenant, user or device name ([A-Za-z0-9._-]{1,64}), inside a token and a scope.
inline constexpr size_t kMaxNameLength = 64;

}  // namespace outpost::limits

// Continuation tokens of a pull (where a snapshot or a reset manifest goes on), sealed by
// the server so that a device can only send back a position the server issued for that
// scope: serialized protocol::CursorToken || HMAC-SHA256(key, scope || 0x00 || token).
// The device stores and echoes the bytes; only ServerCore seals and opens them.
// Thread rules: pure functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "engine/status.h"
#include "outpost/protocol.pb.h"

namespace outpost {

// The sealed bytes of `token` for `scope` under `key` (any length; servers sharing a store
// must share it).
std::string seal_cursor_token(const protocol::CursorToken& token, std::string_view scope,
                              std::string_view key);

// The token inside `sealed`, if `key` sealed it for `scope`. The MAC is checked (in
// constant time) before the token is parsed. Errors: kInvalidArgument "cursor token for
// '<scope>' was not issued by this server" (too short, forged, changed, another scope or
// key, or a token that does not parse), its message led by cursor_not_issued(scope);
// kInternal when HMAC-SHA256 itself fails.
Result<protocol::CursorToken> open_cursor_token(std::string_view sealed, std::string_view scope,
                                                std::string_view key);

// The detail that leads the message of a pull refused because `scope`'s cursor or
// continuation token is not one this server issued (a seq ahead of the head: 409
// failed_precondition; a token that does not verify: 400 invalid_argument):
// "cursor_not_issued('<scope>')". A device that finds it for one of its scopes starts that
// scope over (docs/protocol.md §4, SyncClient::on_request_refused).
std::string cursor_not_issued(std::string_view scope);
// Whether `message` (an error's, as received: it may carry a prefix) names `scope`'s cursor
// as not issued.
bool names_cursor_not_issued(std::string_view message, std::string_view scope);

}  // namespace outpost

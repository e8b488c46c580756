// Column pages (decision 045, docs/protocol.md §4 "Column pages"): a pull answer's changes
// re-laid column-wise for the wire — each attribute of the changes and each protobuf field
// of their record bodies stored together, so the message's zstd frame finds the repetition
// (0.19 of the raw protobuf instead of 0.27). Schema-free and exactly reversible: the bodies
// come back byte for byte. The server encodes after ServerCore::pull, only for a device
// whose pull set accepts_column_pages; the device's transport expands before the engine sees
// the answer, so ServerCore, SyncClient and Replica::apply deal in plain changes only.
// I/O-free. Thread rules: free functions on caller-owned messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "engine/status.h"
#include "outpost/protocol.pb.h"

namespace outpost {

// A scope's changes travel column-wise from this many on (below, the columns' own overhead
// outweighs what they save).
inline constexpr int kMinColumnPageChanges = 16;
// Distinct tags (field number, wire type) in one page: more, and the encoder sends the page
// plain; the decoder refuses it.
inline constexpr int kMaxColumnPageFields = 1024;
// The column-page format this build reads and writes: 1 is decision 045's layout, 2 adds a
// transform per column (decision 053: integers against another field of the same record or
// as they are, UUIDs as 16 bytes), chosen per page by the encoder.
inline constexpr uint32_t kColumnPageVersion = 2;

// The format to answer `pull` with: 0 when it does not accept column pages, else the
// highest both ends know.
uint32_t column_page_version(const protocol::PullRequest& pull);

// The page of `changes`, or nullopt when a body cannot be re-laid exactly (not protobuf's
// canonical wire format: groups, over-long varints, truncation) or the page needs more than
// kMaxColumnPageFields columns: then it travels as it is. `version` 2 lets each column take
// the transform that makes it smallest (a device that reads version 2 only).
std::optional<protocol::ColumnPage> encode_column_page(
    const google::protobuf::RepeatedPtrField<protocol::Change>& changes, uint32_t version = 1);

// The server's side: each scope of `response` with at least kMinColumnPageChanges changes
// that encode is sent column-wise (`changes` moved into `columns`), in format `version`
// (column_page_version of the pull). Returns how many scopes.
int encode_column_pages(protocol::PullResponse& response, uint32_t version = 1);

// The device's side, before anything is applied: appends the changes of `page` to `out` (on
// out's arena, if any). Strictly bounded: at most `max_changes` changes, at most
// `max_bytes` of collection names, keys and bodies in all, every count and length checked
// against what is left, every column consumed exactly. Errors: kInvalidArgument ("column
// page: ..."), or kTooLarge past `max_bytes`; `out` then holds a partial result the caller
// drops.
Status decode_column_page(const protocol::ColumnPage& page, size_t max_changes, size_t max_bytes,
                          google::protobuf::RepeatedPtrField<protocol::Change>& out);

// Every scope of `response` that came column-wise gets its changes back. A scope with both
// `changes` and `columns` is refused. `max_bytes` bounds the whole response's expansion.
// Errors: those of decode_column_page; the caller drops the whole response (nothing of it
// is applied).
Status expand_column_pages(protocol::PullResponse& response, size_t max_bytes);

}  // namespace outpost

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

// The page of `changes`, or nullopt when a body cannot be re-laid exactly (not protobuf's
// canonical wire format: groups, over-long varints, truncation) or the page needs more than
// kMaxColumnPageFields columns: then it travels as it is.
std::optional<protocol::ColumnPage> encode_column_page(
    const google::protobuf::RepeatedPtrField<protocol::Change>& changes);

// The server's side: each scope of `response` with at least kMinColumnPageChanges changes
// that encode is sent column-wise (`changes` moved into `columns`). Returns how many scopes.
int encode_column_pages(protocol::PullResponse& response);

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

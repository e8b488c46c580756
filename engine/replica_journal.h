// The replica's journal of commits, for other connections to the same file (other
// processes: an app and its extension, the CLI beside a running agent). Every write
// transaction appends one `_journal` row — its writer's tag and what it changed — so a
// connection that notices foreign commits (PRAGMA data_version moved) can tell its
// subscribers which keys moved. Only the newest kJournalKeep rows are kept; a connection
// that was away longer learns "everything changed". Decision 007.
// Thread rules: plain functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/change_set.h"

namespace outpost {

// Commits kept in `_journal`: at least the newest kJournalKeep; every kJournalPruneEvery
// commits the older ones are dropped.
inline constexpr int64_t kJournalKeep = 256;
inline constexpr int64_t kJournalPruneEvery = 32;
// A commit that changed more keys than this is journaled as "everything changed" (a
// large apply page), so one row stays small.
inline constexpr size_t kJournalMaxKeys = 2000;

// Serializes a ChangeSet for a `_journal` row: one flags byte, then (collection, key)
// pairs, each string as a varint length and its bytes.
std::string encode_journal_entry(const ChangeSet& changes);
// Adds the entry's changes to `out`; false (and `out` unchanged) for a malformed entry.
bool decode_journal_entry(std::string_view bytes, ChangeSet& out);

}  // namespace outpost

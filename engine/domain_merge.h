// The merge rules of the Mobile Office text records (drafts and notepads), shared by the
// device's and the server's mutators and by the server's mirror of web-interface edits,
// so every side computes the same result from the same inputs.
// Thread rules: pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <optional>

#include "engine/status.h"
#include "outpost/domain.pb.h"

namespace outpost {

inline constexpr size_t kMaxTextBytes = 1 << 20;  // a draft body or notepad of 1 MiB is absurd

// Applies `edited` — made from `base` (nullopt: a new draft) — to `current` (what the
// store holds; nullopt: absent, e.g. deleted elsewhere meanwhile: the edit recreates it,
// typed text wins over a delete). Subject and body merge word by word (engine/text_merge);
// other fields merge per field (a field the edit did not change keeps the current value).
// Same-word conflicts set `conflicted` and append the other side's version of each such
// sentence to the conflict copy; `resolve_conflict` drops the conflict copy `base` showed
// (later additions stay).
// Errors: kRejected (the draft was already sent), kTooLarge (text over kMaxTextBytes).
Result<domain::Draft> merge_draft_edit(const std::optional<domain::Draft>& current,
                                       const std::optional<domain::Draft>& base,
                                       const domain::Draft& edited, bool resolve_conflict,
                                       int64_t now_ms);

// The same for a notepad.
Result<domain::Note> merge_note_edit(const std::optional<domain::Note>& current,
                                     const std::optional<domain::Note>& base,
                                     const std::string& interaction_id, const std::string& text,
                                     bool resolve_conflict, int64_t now_ms);

// True when a draft's words as `base` showed them are what `current` still holds (a delete
// made from `base` loses nothing).
bool same_draft_text(const domain::Draft& base, const domain::Draft& current);

}  // namespace outpost

// Three-way merge of user text (draft bodies, subjects, notepads), word by word, against
// the common base the edit started from. Non-overlapping edits of both sides survive;
// insertions at the same place are both kept, in an order that does not depend on which
// side is incoming (a continuation of the line before a new paragraph), each with the
// spaces its side typed; where both sides changed the same words the incoming side's words
// stay in the text and the other side's sentence around them goes to the conflict copy.
// No word of either side is dropped by the merge. Decisions 005 and 009.
// Thread rules: pure functions, safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace outpost {

// Above this many token pairs in the changed middle (after the common prefix and suffix
// are trimmed) the merge compares the middles as one block instead of word by word: a
// bound on time and memory, never on correctness (no word is lost, the merge is coarser).
inline constexpr size_t kMaxMergeCells = 4'000'000;

// The conflict copy shows each conflicting region within the other side's sentence (up to
// . ! ? or … and never past a line break), at most this many more words on either side
// ("… " / " …" mark a sentence cut there).
inline constexpr size_t kConflictContextWords = 30;

struct TextMerge {
  std::string text;  // the merged text: the incoming side's words where both changed
  // For each conflicting region, the other side's version of the sentence around it, as
  // it typed it; in order, regions of one sentence together, joined by
  // kConflictSeparator. Empty when there is no conflict.
  std::string conflict;
  bool conflicted = false;
};

inline constexpr std::string_view kConflictSeparator = "\n…\n";

// Merges `incoming` (the edit being applied, made from `base`) into `current` (what the
// store holds now, also descended from `base`).
TextMerge merge_text(std::string_view base, std::string_view current, std::string_view incoming);

// Maximal runs of whitespace and of non-whitespace (the merge aligns the non-whitespace
// runs, the words, and carries each word's preceding whitespace with it).
std::vector<std::string_view> split_words(std::string_view text);

}  // namespace outpost

// Three-way merge of user text (draft bodies, subjects, notepads), word by word, against
// the common base the edit started from. Non-overlapping edits of both sides survive;
// insertions at the same place are both kept; where both sides changed the same words
// the incoming side's words stay in the text and the other side's words of that region
// go to the conflict copy. No word of either side is dropped by the merge.
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

struct TextMerge {
  std::string text;  // the merged text: the incoming side's words where both changed
  // The other side's words of each conflicting region, in order, joined by
  // kConflictSeparator. Empty when there is no conflict.
  std::string conflict;
  bool conflicted = false;
};

inline constexpr std::string_view kConflictSeparator = "\n…\n";

// Merges `incoming` (the edit being applied, made from `base`) into `current` (what the
// store holds now, also descended from `base`).
TextMerge merge_text(std::string_view base, std::string_view current, std::string_view incoming);

// The tokens the merge works on: maximal runs of whitespace and of non-whitespace.
std::vector<std::string_view> split_words(std::string_view text);

}  // namespace outpost

#include "engine/text_merge.h"

#include <algorithm>
#include <cstdint>
#include <tuple>

namespace outpost {
namespace {

// A word with the whitespace typed before it: a space belongs to the word it leads to, so
// "\n\nBest" says "a new paragraph starts here" wherever the merge moves it. Every text
// ends with an end marker, an empty word whose space is the text's trailing whitespace.
struct Token {
  std::string_view space;
  std::string_view word;
};
using Tokens = std::vector<Token>;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

Tokens tokenize(std::string_view text) {
  Tokens tokens;
  size_t at = 0;
  for (;;) {
    size_t start = at;
    while (at < text.size() && is_space(text[at])) ++at;
    const std::string_view space = text.substr(start, at - start);
    if (at == text.size()) {
      tokens.push_back({space, text.substr(at, 0)});  // the end marker
      return tokens;
    }
    start = at;
    while (at < text.size() && !is_space(text[at])) ++at;
    tokens.push_back({space, text.substr(start, at - start)});
  }
}

// For each token of `from`, the index of the token of `to` it is matched with (a longest
// common subsequence of the words; spaces are merged separately), or -1. Matches are
// strictly increasing; the end markers always match each other.
std::vector<int64_t> match_tokens(const Tokens& from, const Tokens& to) {
  std::vector<int64_t> match(from.size(), -1);
  size_t prefix = 0;
  while (prefix < from.size() && prefix < to.size() && from[prefix].word == to[prefix].word) {
    match[prefix] = static_cast<int64_t>(prefix);
    ++prefix;
  }
  size_t suffix = 0;
  while (suffix < from.size() - prefix && suffix < to.size() - prefix &&
         from[from.size() - 1 - suffix].word == to[to.size() - 1 - suffix].word) {
    match[from.size() - 1 - suffix] = static_cast<int64_t>(to.size() - 1 - suffix);
    ++suffix;
  }
  const size_t n = from.size() - prefix - suffix;
  const size_t m = to.size() - prefix - suffix;
  if (n == 0 || m == 0 || n * m > kMaxMergeCells) return match;  // middles: one block

  // LCS table over the middles, filled from the end so the walk goes forward.
  std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
  auto at = [&](size_t i, size_t j) -> uint32_t& { return lcs[i * (m + 1) + j]; };
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      at(i, j) = from[prefix + i].word == to[prefix + j].word
                     ? at(i + 1, j + 1) + 1
                     : std::max(at(i + 1, j), at(i, j + 1));
    }
  }
  size_t i = 0;
  size_t j = 0;
  while (i < n && j < m) {
    if (from[prefix + i].word == to[prefix + j].word) {
      match[prefix + i] = static_cast<int64_t>(prefix + j);
      ++i;
      ++j;
    } else if (at(i + 1, j) >= at(i, j + 1)) {
      ++i;
    } else {
      ++j;
    }
  }
  return match;
}

// What one text holds between two words the merge keeps in place: the tokens
// [begin, end) and the space before the next kept word (`tokens[end]`), exactly as typed.
struct Gap {
  const Tokens* tokens;
  size_t begin;
  size_t end;

  const Token& at(size_t k) const { return (*tokens)[k]; }
  bool has_words() const { return begin < end; }
  std::string_view text() const { return between(at(has_words() ? begin : end).space.data()); }
  std::string_view lead() const { return at(begin).space; }  // with words only
  std::string_view trail() const { return at(end).space; }
  // From the first word to the end of the last (with words only).
  std::string_view words() const {
    const std::string_view last = at(end - 1).word;
    return {at(begin).word.data(),
            static_cast<size_t>(last.data() + last.size() - at(begin).word.data())};
  }
  // From `from` (inside the gap) to the gap's end.
  std::string_view between(const char* from) const {
    return {from, static_cast<size_t>(at(end).word.data() - from)};
  }
};

// Appends one piece of text, never letting two words touch: pieces start and end at word
// or space boundaries, so touching words can only come from joining pieces of different
// sides (one side deleted the space the other side typed words around).
void emit(std::string& out, std::string_view piece) {
  if (!piece.empty() && !out.empty() && !is_space(out.back()) && !is_space(piece.front())) {
    out.push_back(' ');
  }
  out.append(piece);
}

// How strongly a space separates: 0 within a line, 1 a line break, 2 a paragraph break.
int breaks(std::string_view space) {
  return static_cast<int>(std::min<ptrdiff_t>(2, std::count(space.begin(), space.end(), '\n')));
}

// The stronger of two spaces (more line breaks, then longer, then by bytes): the same
// whichever side is which.
std::string_view stronger(std::string_view a, std::string_view b) {
  return std::make_tuple(breaks(a), a.size(), a) >= std::make_tuple(breaks(b), b.size(), b) ? a : b;
}

// Three-way merge of one space: the side that changed it wins; both: the stronger.
std::string_view merge_space(std::string_view base, std::string_view a, std::string_view b) {
  if (a == b || b == base) return a;
  if (a == base) return b;
  return stronger(a, b);
}

// True when `needle` (not empty) occurs in `hay` as whole words. Knuth-Morris-Pratt:
// linear in the sizes, whatever the texts (both may be near 1 MiB of repeated words).
bool contains_words(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  std::vector<size_t> fallback(needle.size(), 0);
  for (size_t i = 1, k = 0; i < needle.size(); ++i) {
    while (k > 0 && needle[i] != needle[k]) k = fallback[k - 1];
    if (needle[i] == needle[k]) ++k;
    fallback[i] = k;
  }
  for (size_t i = 0, k = 0; i < hay.size(); ++i) {
    while (k > 0 && hay[i] != needle[k]) k = fallback[k - 1];
    if (hay[i] == needle[k]) ++k;
    if (k == needle.size()) {
      const size_t at = i + 1 - k;
      if ((at == 0 || is_space(hay[at - 1])) && (i + 1 == hay.size() || is_space(hay[i + 1]))) {
        return true;
      }
      k = fallback[k - 1];
    }
  }
  return false;
}

// Both sides inserted at the same place (the base has no word there). Order: what
// continues the line before it (its space has no line break) comes first, what starts a
// new line, then a new paragraph, after it; among equals, what runs into the text after
// it without a break comes last; then by bytes. Each insertion keeps the spaces its side
// typed; between the two goes the stronger of the first one's trailing and the second one's
// leading space. The order does not depend on which side is incoming.
void insert_both(std::string& out, const Gap& a, const Gap& b) {
  if (!a.has_words() || !b.has_words()) {  // one side or both changed spaces only
    if (a.has_words() || b.has_words()) {
      emit(out, a.has_words() ? a.text() : b.text());
    } else {
      emit(out, stronger(a.text(), b.text()));
    }
    return;
  }
  auto order = [](const Gap& gap) {
    return std::make_tuple(breaks(gap.lead()), -breaks(gap.trail()), gap.text());
  };
  const bool a_first = order(a) < order(b);
  const Gap& first = a_first ? a : b;
  const Gap& second = a_first ? b : a;
  // One side's words already inside the other's (the same sentence typed twice, or an
  // edit merged before coming back): keeping both would repeat them.
  if (contains_words(first.words(), second.words())) {
    emit(out, first.text());
  } else if (contains_words(second.words(), first.words())) {
    emit(out, second.text());
  } else {
    emit(out, first.lead());
    emit(out, first.words());
    emit(out, stronger(first.trail(), second.lead()));
    emit(out, second.words());
    emit(out, second.trail());
  }
}

bool same_words(const Tokens& a, size_t a_begin, const Tokens& b, size_t b_begin, size_t n) {
  for (size_t k = 0; k < n; ++k) {
    if (a[a_begin + k].word != b[b_begin + k].word) return false;
  }
  return true;
}

// When `keep` holds the base's words `block` with words added only before and after
// them, appends those additions around `other`'s version of the block and returns true:
// the two edits do not overlap. The spaces around the block merge three-way.
bool keeps_block(const Gap& keep, const Gap& block, const Gap& other, std::string& out) {
  const size_t n = block.end - block.begin;
  if (n == 0 || keep.end - keep.begin < n) return false;
  for (size_t at = keep.begin; at + n <= keep.end; ++at) {
    if (!same_words(*keep.tokens, at, *block.tokens, block.begin, n)) continue;
    const std::string_view text = keep.text();
    const std::string_view added_before =
        text.substr(0, static_cast<size_t>(keep.at(at).space.data() - text.data()));
    const bool added_after = at + n < keep.end;
    const std::string_view base_before = block.at(block.begin).space;
    const std::string_view base_after = block.at(block.end).space;
    const std::string_view keep_before = keep.at(at).space;
    const std::string_view keep_after = keep.at(at + n).space;
    emit(out, added_before);
    if (other.has_words()) {
      emit(out, merge_space(base_before, keep_before, other.lead()));
      emit(out, other.words());
      emit(out, merge_space(base_after, keep_after, other.trail()));
    } else {
      // `other` deleted the block, leaving one space. Next to `keep`'s additions the space
      // is the one it typed there; the stronger of the two sides of the block stays.
      const std::string_view joined = other.text();
      emit(out, stronger(added_before.empty() ? merge_space(base_before, keep_before, joined)
                                              : keep_before,
                         added_after ? keep_after : merge_space(base_after, keep_after, joined)));
    }
    if (added_after) emit(out, keep.between(keep.at(at + n).word.data()));
    return true;
  }
  return false;
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// True when `word` ends a sentence: . ! ? or …, maybe followed by closing quotes/brackets.
bool ends_sentence(std::string_view word) {
  static constexpr std::string_view kClosers[] = {"\"", "'", ")", "]", "”", "’", "»"};
  static constexpr std::string_view kEnders[] = {".", "!", "?", "…"};
  for (bool stripped = true; stripped;) {
    stripped = false;
    for (std::string_view closer : kClosers) {
      if (word.size() > closer.size() && ends_with(word, closer)) {
        word.remove_suffix(closer.size());
        stripped = true;
      }
    }
  }
  return std::any_of(std::begin(kEnders), std::end(kEnders),
                     [&](std::string_view ender) { return ends_with(word, ender); });
}

// The other side's words of a conflicting region, widened to its sentence (ended by
// . ! ? …) within its line, at most kConflictContextWords more words on each side.
struct Excerpt {
  size_t begin;
  size_t end;
  bool cut_before;
  bool cut_after;
};

Excerpt widen(const Tokens& tokens, size_t begin, size_t end) {
  const size_t last = tokens.size() - 1;  // the end marker
  auto starts_sentence = [&](size_t k) {
    return k == 0 || breaks(tokens[k].space) > 0 || ends_sentence(tokens[k - 1].word);
  };
  auto ends_here = [&](size_t k) {  // the sentence ends after token k - 1
    return k == last || ends_sentence(tokens[k - 1].word) || breaks(tokens[k].space) > 0;
  };
  Excerpt excerpt{begin, end, false, false};
  while (!starts_sentence(excerpt.begin) && begin - excerpt.begin < kConflictContextWords) {
    --excerpt.begin;
  }
  while (!ends_here(excerpt.end) && excerpt.end - end < kConflictContextWords) ++excerpt.end;
  excerpt.cut_before = !starts_sentence(excerpt.begin);
  excerpt.cut_after = !ends_here(excerpt.end);
  return excerpt;
}

std::string conflict_copy(const Tokens& tokens, const std::vector<Excerpt>& regions) {
  std::vector<Excerpt> merged;
  for (const Excerpt& region : regions) {
    Excerpt wide = widen(tokens, region.begin, region.end);
    if (!merged.empty() && wide.begin <= merged.back().end) {  // same or adjacent sentences
      if (wide.end >= merged.back().end) {
        merged.back().end = wide.end;
        merged.back().cut_after = wide.cut_after;
      }
      continue;
    }
    merged.push_back(wide);
  }
  std::string out;
  for (const Excerpt& excerpt : merged) {
    if (!out.empty()) out.append(kConflictSeparator);
    if (excerpt.cut_before) out.append("… ");
    const Gap gap{&tokens, excerpt.begin, excerpt.end};
    out.append(gap.words());
    if (excerpt.cut_after) out.append(" …");
  }
  return out;
}

}  // namespace

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> tokens;
  size_t start = 0;
  while (start < text.size()) {
    bool space = is_space(text[start]);
    size_t end = start + 1;
    while (end < text.size() && is_space(text[end]) == space) ++end;
    tokens.push_back(text.substr(start, end - start));
    start = end;
  }
  return tokens;
}

TextMerge merge_text(std::string_view base, std::string_view current, std::string_view incoming) {
  TextMerge result;
  if (current == base || current == incoming) {
    result.text = std::string(incoming);
    return result;
  }
  if (incoming == base) {
    result.text = std::string(current);
    return result;
  }
  const Tokens b = tokenize(base);
  const Tokens theirs = tokenize(current);
  const Tokens ours = tokenize(incoming);
  const std::vector<int64_t> to_ours = match_tokens(b, ours);
  const std::vector<int64_t> to_theirs = match_tokens(b, theirs);

  // diff3: walk the base; a base word matched on both sides is kept in place, and each
  // stretch before it (with the space before it) is a gap either side may have changed.
  // The end markers match on both sides, so every stretch ends at a kept word.
  std::vector<Excerpt> conflicts;
  size_t ib = 0;
  size_t io = 0;
  size_t it = 0;
  while (ib < b.size()) {
    size_t next = ib;
    while (to_ours[next] < 0 || to_theirs[next] < 0) ++next;
    const Gap base_gap{&b, ib, next};
    const Gap our_gap{&ours, io, static_cast<size_t>(to_ours[next])};
    const Gap their_gap{&theirs, it, static_cast<size_t>(to_theirs[next])};
    const std::string_view base_text = base_gap.text();
    const std::string_view our_text = our_gap.text();
    const std::string_view their_text = their_gap.text();
    if (their_text == base_text || their_text == our_text) {
      emit(result.text, our_text);
    } else if (our_text == base_text) {
      emit(result.text, their_text);
    } else if (!base_gap.has_words()) {
      insert_both(result.text, our_gap, their_gap);
    } else if (keeps_block(their_gap, base_gap, our_gap, result.text) ||
               keeps_block(our_gap, base_gap, their_gap, result.text)) {
      // One side only added words around the base words the other side changed.
    } else if (!their_gap.has_words()) {
      // The other side deleted these words: what this side typed stays, no conflict.
      emit(result.text, our_gap.has_words() ? our_text : stronger(our_text, their_text));
    } else {
      emit(result.text, our_text);
      conflicts.push_back({it, their_gap.end, false, false});
    }
    emit(result.text, b[next].word);
    ib = next + 1;
    io = our_gap.end + 1;
    it = their_gap.end + 1;
  }
  result.conflicted = !conflicts.empty();
  result.conflict = conflict_copy(theirs, conflicts);
  return result;
}

}  // namespace outpost

#include "engine/text_merge.h"

#include <algorithm>
#include <cstdint>

namespace outpost {
namespace {

using Tokens = std::vector<std::string_view>;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// For each token of `from`, the index of the token of `to` it is matched with (a longest
// common subsequence), or -1. Matches are strictly increasing.
std::vector<int64_t> match_tokens(const Tokens& from, const Tokens& to) {
  std::vector<int64_t> match(from.size(), -1);
  size_t prefix = 0;
  while (prefix < from.size() && prefix < to.size() && from[prefix] == to[prefix]) {
    match[prefix] = static_cast<int64_t>(prefix);
    ++prefix;
  }
  size_t suffix = 0;
  while (suffix < from.size() - prefix && suffix < to.size() - prefix &&
         from[from.size() - 1 - suffix] == to[to.size() - 1 - suffix]) {
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
      at(i, j) = from[prefix + i] == to[prefix + j] ? at(i + 1, j + 1) + 1
                                                    : std::max(at(i + 1, j), at(i, j + 1));
    }
  }
  size_t i = 0;
  size_t j = 0;
  while (i < n && j < m) {
    if (from[prefix + i] == to[prefix + j]) {
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

// Appends one token, never letting two words touch: within one side words and whitespace
// alternate, so touching words can only come from joining pieces of different sides (one
// side deleted the whitespace the other inserted words around).
void append_token(std::string& out, std::string_view token) {
  if (!token.empty() && !out.empty() && !is_space(out.back()) && !is_space(token.front())) {
    out.push_back(' ');
  }
  out.append(token);
}

void append(std::string& out, const Tokens& tokens, size_t begin, size_t end) {
  for (size_t k = begin; k < end; ++k) append_token(out, tokens[k]);
}

bool same(const Tokens& a, size_t a_begin, size_t a_end, const Tokens& b, size_t b_begin,
          size_t b_end) {
  return a_end - a_begin == b_end - b_begin &&
         std::equal(a.begin() + static_cast<ptrdiff_t>(a_begin),
                    a.begin() + static_cast<ptrdiff_t>(a_end),
                    b.begin() + static_cast<ptrdiff_t>(b_begin));
}

// When `side[begin, end)` is the base block `base[b_begin, b_end)` with words added only
// before and after it, appends those additions around the other side's version of the
// block to `out` and returns true: the two edits do not overlap.
bool keeps_block(const Tokens& side, size_t begin, size_t end, const Tokens& base, size_t b_begin,
                 size_t b_end, std::string& out, const Tokens& other, size_t o_begin,
                 size_t o_end) {
  const size_t block = b_end - b_begin;
  if (block == 0 || end - begin < block) return false;
  for (size_t at = begin; at + block <= end; ++at) {
    if (!same(side, at, at + block, base, b_begin, b_end)) continue;
    append(out, side, begin, at);
    append(out, other, o_begin, o_end);
    append(out, side, at + block, end);
    return true;
  }
  return false;
}

}  // namespace

std::vector<std::string_view> split_words(std::string_view text) {
  Tokens tokens;
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
  const Tokens b = split_words(base);
  const Tokens theirs = split_words(current);
  const Tokens ours = split_words(incoming);
  const std::vector<int64_t> to_ours = match_tokens(b, ours);
  const std::vector<int64_t> to_theirs = match_tokens(b, theirs);

  // diff3: walk the base; a base token matched on both sides at the current positions is
  // stable, the stretch up to the next such token is a chunk each side may have changed.
  size_t ib = 0;
  size_t io = 0;
  size_t it = 0;
  while (ib < b.size() || io < ours.size() || it < theirs.size()) {
    if (ib < b.size() && to_ours[ib] == static_cast<int64_t>(io) &&
        to_theirs[ib] == static_cast<int64_t>(it)) {
      append_token(result.text, b[ib]);
      ++ib;
      ++io;
      ++it;
      continue;
    }
    size_t next = ib;
    while (next < b.size() && (to_ours[next] < 0 || to_theirs[next] < 0)) ++next;
    const size_t o_end = next < b.size() ? static_cast<size_t>(to_ours[next]) : ours.size();
    const size_t t_end = next < b.size() ? static_cast<size_t>(to_theirs[next]) : theirs.size();
    const bool ours_changed = !same(b, ib, next, ours, io, o_end);
    const bool theirs_changed = !same(b, ib, next, theirs, it, t_end);
    if (!theirs_changed || same(ours, io, o_end, theirs, it, t_end)) {
      append(result.text, ours, io, o_end);
    } else if (!ours_changed) {
      append(result.text, theirs, it, t_end);
    } else if (ib == next) {
      // Both sides inserted at the same place and changed no base word: keep both, the
      // text already stored first.
      append(result.text, theirs, it, t_end);
      append(result.text, ours, io, o_end);
    } else if (keeps_block(theirs, it, t_end, b, ib, next, result.text, ours, io, o_end) ||
               keeps_block(ours, io, o_end, b, ib, next, result.text, theirs, it, t_end)) {
      // One side only added words around the base words the other side changed.
    } else {
      append(result.text, ours, io, o_end);
      if (result.conflicted) result.conflict.append(kConflictSeparator);
      append(result.conflict, theirs, it, t_end);
      result.conflicted = true;
    }
    ib = next;
    io = o_end;
    it = t_end;
  }
  return result;
}

}  // namespace outpost

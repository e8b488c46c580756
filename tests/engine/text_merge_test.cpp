#include "engine/text_merge.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>

namespace outpost {
namespace {

std::set<std::string> words_of(std::string_view text) {
  std::set<std::string> words;
  for (std::string_view token : split_words(text)) {
    if (!token.empty() && token.find_first_not_of(" \t\n\r\f\v") != std::string_view::npos)
      words.insert(std::string(token));
  }
  return words;
}

TEST(TextMerge, UnchangedSidesFastForward) {
  EXPECT_EQ(merge_text("a b", "a b", "a b c").text, "a b c");
  EXPECT_EQ(merge_text("a b", "a b c", "a b").text, "a b c");
  TextMerge same = merge_text("a", "a b", "a b");
  EXPECT_EQ(same.text, "a b");
  EXPECT_FALSE(same.conflicted);
}

TEST(TextMerge, NonOverlappingEditsBothSurvive) {
  // The web interface fixes the greeting while the app adds a sentence at the end.
  TextMerge merged =
      merge_text("Dear Anne, your parcel leaves today.", "Dear Ann, your parcel leaves today.",
                 "Dear Anne, your parcel leaves today. Kind regards");
  EXPECT_EQ(merged.text, "Dear Ann, your parcel leaves today. Kind regards");
  EXPECT_FALSE(merged.conflicted);
  EXPECT_EQ(merged.conflict, "");
}

TEST(TextMerge, EditsOfDifferentWordsInTheMiddleBothSurvive) {
  TextMerge merged =
      merge_text("one two three four five", "one TWO three four five", "one two three FOUR five");
  EXPECT_EQ(merged.text, "one TWO three FOUR five");
  EXPECT_FALSE(merged.conflicted);
}

TEST(TextMerge, SameWordsChangedBothWaysKeepsBothAndFlagsTheConflict) {
  TextMerge merged = merge_text("your parcel leaves today.", "your parcel leaves on Monday.",
                                "your parcel leaves tomorrow.");
  EXPECT_TRUE(merged.conflicted);
  EXPECT_EQ(merged.text, "your parcel leaves tomorrow.");
  EXPECT_EQ(merged.conflict, "on Monday.");
}

TEST(TextMerge, IdenticalChangesOnBothSidesAreNoConflict) {
  TextMerge merged = merge_text("a b c", "a X c", "a X c");
  EXPECT_EQ(merged.text, "a X c");
  EXPECT_FALSE(merged.conflicted);
}

TEST(TextMerge, InsertionsAtTheSamePlaceAreBothKeptStoredTextFirst) {
  TextMerge merged = merge_text("Hello.", "Hello. From the web.", "Hello. From the app.");
  EXPECT_FALSE(merged.conflicted);
  EXPECT_EQ(merged.text, "Hello. From the web. From the app.");
}

TEST(TextMerge, DeleteRacingAnEditKeepsTheEditedWordsInTheConflictCopy) {
  // The app deletes the last sentence; the web edited a word inside it.
  TextMerge merged =
      merge_text("Keep this. Drop that sentence.", "Keep this. Drop that phrase.", "Keep this.");
  EXPECT_TRUE(merged.conflicted);
  EXPECT_EQ(merged.text, "Keep this.");
  EXPECT_NE(merged.conflict.find("phrase."), std::string::npos);
}

TEST(TextMerge, SeveralConflictRegionsAreSeparated) {
  TextMerge merged = merge_text("a b c d e", "a X c Y e", "a P c Q e");
  EXPECT_TRUE(merged.conflicted);
  EXPECT_EQ(merged.text, "a P c Q e");
  EXPECT_EQ(merged.conflict, std::string("X") + std::string(kConflictSeparator) + "Y");
}

TEST(TextMerge, EmptyBaseWithTwoDifferentTextsKeepsBoth) {
  TextMerge merged = merge_text("", "from the web", "from the app");
  EXPECT_FALSE(merged.conflicted);
  EXPECT_EQ(merged.text, "from the web from the app");
}

TEST(TextMerge, HugeRewritesFallBackToBlocksAndStillLoseNothing) {
  std::string base;
  std::string current;
  std::string incoming;
  for (int i = 0; i < 3000; ++i) {
    base += " b" + std::to_string(i);
    current += " c" + std::to_string(i);
    incoming += " i" + std::to_string(i);
  }
  TextMerge merged = merge_text(base, current, incoming);
  EXPECT_TRUE(merged.conflicted);
  // (EXPECT_TRUE: the texts are too long to print on failure.)
  EXPECT_TRUE(merged.text == incoming);
  EXPECT_TRUE(merged.conflict == current.substr(1)) << merged.conflict.size();
}

// Property: whatever the two sides do with unique words, every word either side has in
// its text ends up in the merged text or in the conflict copy.
TEST(TextMerge, RandomEditsNeverLoseAWord) {
  std::mt19937_64 random(20261201);
  int conflicts = 0;
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::string> base_words;
    int length = static_cast<int>(random() % 12);
    for (int i = 0; i < length; ++i) base_words.push_back("b" + std::to_string(i));
    auto edit = [&](const std::string& side) {
      std::vector<std::string> words = base_words;
      int edits = 1 + static_cast<int>(random() % 4);
      for (int e = 0; e < edits; ++e) {
        size_t at = words.empty() ? 0 : random() % (words.size() + 1);
        switch (random() % 3) {
          case 0:
            words.insert(words.begin() + static_cast<ptrdiff_t>(at), side + std::to_string(e));
            break;
          case 1:
            if (at < words.size()) words[at] = side + std::to_string(e);
            break;
          default:
            if (at < words.size()) words.erase(words.begin() + static_cast<ptrdiff_t>(at));
        }
      }
      std::string text;
      for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
      return text;
    };
    std::string base;
    for (const std::string& word : base_words) base += (base.empty() ? "" : " ") + word;
    std::string current = edit("web");
    std::string incoming = edit("app");
    TextMerge merged = merge_text(base, current, incoming);
    if (merged.conflicted) ++conflicts;
    std::set<std::string> kept = words_of(merged.text);
    for (const std::string& word : words_of(merged.conflict)) kept.insert(word);
    for (const std::string& text : {current, incoming}) {
      for (const std::string& word : words_of(text)) {
        if (word.rfind("b", 0) == 0) continue;  // base words may be deliberately deleted
        EXPECT_TRUE(kept.count(word))
            << "lost '" << word << "' merging base '" << base << "' current '" << current
            << "' incoming '" << incoming << "'";
      }
    }
    // Words added by a side appear in the text unless a conflict moved them aside.
    if (!merged.conflicted) {
      for (const std::string& word : words_of(incoming)) {
        if (word.rfind("app", 0) == 0) {
          EXPECT_TRUE(words_of(merged.text).count(word));
        }
      }
    }
  }
  EXPECT_GT(conflicts, 100);  // the generator does exercise conflicts
}

// Found by outpost-sim (seed 188): the other side deleted the whitespace the incoming edit
// had inserted words around, and two typed words came out glued ("d0n12d0n13").
TEST(TextMerge, WordsInsertedAroundADeletedSpaceStaySeparate) {
  TextMerge merged = merge_text(" d0n3", "d0n3 d3n5 web9 d3n15", "d0n12 d0n13 d0n14 d0n3");
  EXPECT_EQ(words_of(merged.text + " " + merged.conflict),
            (std::set<std::string>{"d0n12", "d0n13", "d0n14", "d0n3", "d3n5", "web9", "d3n15"}))
      << merged.text;
}

TEST(TextMerge, NoMergedWordIsTwoWordsGluedTogether) {
  // Bases with stray whitespace; each side inserts unique words and drops some whitespace.
  std::mt19937_64 random(11);
  const std::vector<std::string> bases = {" a", "a ", " a  b ", "a\nb", "  ", "a b c"};
  for (int round = 0; round < 2000; ++round) {
    const std::string& base = bases[random() % bases.size()];
    auto edit = [&](const std::string& prefix) {
      std::string text = base;
      for (int i = 0; i < 2; ++i) {
        size_t at = random() % (text.size() + 1);
        if (random() % 3 == 0 && at < text.size() && text[at] == ' ') {
          text.erase(at, 1);
        } else {
          text.insert(at, (random() % 2 ? " " : "") + prefix + std::to_string(i) + " ");
        }
      }
      return text;
    };
    const std::string current = edit("t");
    const std::string incoming = edit("o");
    TextMerge merged = merge_text(base, current, incoming);
    std::set<std::string> inputs = words_of(base + " " + current + " " + incoming);
    std::string conflict = merged.conflict;
    for (size_t at; (at = conflict.find(kConflictSeparator)) != std::string::npos;) {
      conflict.replace(at, kConflictSeparator.size(), " ");
    }
    for (const std::string& word : words_of(merged.text + " " + conflict)) {
      EXPECT_TRUE(inputs.count(word))
          << "'" << word << "' merging base '" << base << "' current '" << current << "' incoming '"
          << incoming << "' -> '" << merged.text << "'";
    }
  }
}

}  // namespace
}  // namespace outpost

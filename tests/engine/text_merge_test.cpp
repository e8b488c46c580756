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
  // The other side's whole sentence, as it typed it: enough to choose from.
  EXPECT_EQ(merged.conflict, "your parcel leaves on Monday.");
}

TEST(TextMerge, IdenticalChangesOnBothSidesAreNoConflict) {
  TextMerge merged = merge_text("a b c", "a X c", "a X c");
  EXPECT_EQ(merged.text, "a X c");
  EXPECT_FALSE(merged.conflicted);
}

TEST(TextMerge, InsertionsAtTheSamePlaceAreBothKeptInAnOrderIndependentOfTheSides) {
  // Two continuations of the line: ordered by their bytes, whichever side is incoming.
  TextMerge merged = merge_text("Hello.", "Hello. From the web.", "Hello. From the app.");
  EXPECT_FALSE(merged.conflicted);
  EXPECT_EQ(merged.text, "Hello. From the app. From the web.");
  EXPECT_EQ(merge_text("Hello.", "Hello. From the app.", "Hello. From the web.").text, merged.text);
}

TEST(TextMerge, SamePlaceInsertionsKeepTheirLinesAndParagraphs) {
  // A new line comes after a continuation, a new paragraph after both.
  const std::string base = "Call me.";
  const std::string line = base + "\nPhone: 555 0100";
  const std::string paragraph = base + "\n\nKind regards";
  const std::string continuation = base + " Any time.";
  EXPECT_EQ(merge_text(base, paragraph, line).text, "Call me.\nPhone: 555 0100\n\nKind regards");
  EXPECT_EQ(merge_text(base, line, continuation).text, "Call me. Any time.\nPhone: 555 0100");
  // At the start, an opening that ends in a paragraph break comes before one that runs
  // into the text.
  const std::string text = "your parcel is here.";
  EXPECT_EQ(merge_text(text, "Hello Ann,\n\n" + text, "Good news: " + text).text,
            "Hello Ann,\n\nGood news: your parcel is here.");
  EXPECT_EQ(merge_text(text, "Good news: " + text, "Hello Ann,\n\n" + text).text,
            "Hello Ann,\n\nGood news: your parcel is here.");
}

TEST(TextMerge, AnInsertionAlreadyInsideTheOtherIsNotRepeated) {
  // The same sentence typed on both sides, one with more: kept once.
  EXPECT_EQ(merge_text("Hi.", "Hi. Thanks.", "Hi. Thanks. Bye.").text, "Hi. Thanks. Bye.");
  // Merging an edit again into the text it was merged into changes nothing.
  const std::string base = "Dear Ann, your parcel leaves today.";
  const std::string phone = base + " The driver calls ahead.";
  const std::string web = base + "\n\nBest regards";
  const std::string merged = merge_text(base, web, phone).text;
  EXPECT_EQ(merge_text(base, merged, phone).text, merged);
  EXPECT_EQ(merge_text(base, merged, web).text, merged);
}

TEST(TextMerge, SpacesOnlyOneSideChangedAreKeptNextToTheOtherSidesWords) {
  // The web splits the text into two paragraphs; the phone fixes a word in the second.
  TextMerge merged =
      merge_text("Hello Ann. Your parcel leaves today.", "Hello Ann.\n\nYour parcel leaves today.",
                 "Hello Ann. Your parcel leaves tomorrow.");
  EXPECT_FALSE(merged.conflicted);
  EXPECT_EQ(merged.text, "Hello Ann.\n\nYour parcel leaves tomorrow.");
}

// The README's story (scripts/demo): offline, the phone continues the sentence while the
// web interface adds a sign-off paragraph. The continuation belongs to the sentence, the
// sign-off after it, each with the spacing its side typed, whichever side is incoming.
TEST(TextMerge, AContinuationOfTheSentenceComesBeforeANewParagraph) {
  const std::string base = "Dear Ann, your parcel leaves our warehouse today.";
  const std::string phone = base + " The driver calls you thirty minutes ahead.";
  const std::string web = base + "\n\nBest regards from Support";
  const std::string expected =
      "Dear Ann, your parcel leaves our warehouse today. The driver calls you thirty minutes "
      "ahead.\n\nBest regards from Support";
  TextMerge phone_last = merge_text(base, web, phone);  // the story's order
  EXPECT_FALSE(phone_last.conflicted);
  EXPECT_EQ(phone_last.text, expected);
  TextMerge web_last = merge_text(base, phone, web);
  EXPECT_FALSE(web_last.conflicted);
  EXPECT_EQ(web_last.text, expected);
}

TEST(TextMerge, DeleteRacingAnEditKeepsTheEditedWordsInTheConflictCopy) {
  // The app deletes the last sentence; the web edited a word inside it.
  TextMerge merged =
      merge_text("Keep this. Drop that sentence.", "Keep this. Drop that phrase.", "Keep this.");
  EXPECT_TRUE(merged.conflicted);
  EXPECT_EQ(merged.text, "Keep this.");
  EXPECT_NE(merged.conflict.find("phrase."), std::string::npos);
}

TEST(TextMerge, SeveralConflictRegionsAreSeparatedBySentence) {
  TextMerge merged =
      merge_text("One a. Two b. Three c.", "One X. Two b. Three Y.", "One P. Two b. Three Q.");
  EXPECT_TRUE(merged.conflicted);
  EXPECT_EQ(merged.text, "One P. Two b. Three Q.");
  EXPECT_EQ(merged.conflict, std::string("One X.") + std::string(kConflictSeparator) + "Three Y.");
  // Two regions of one sentence (or line) share one excerpt.
  TextMerge line = merge_text("a b c d e", "a X c Y e", "a P c Q e");
  EXPECT_EQ(line.text, "a P c Q e");
  EXPECT_EQ(line.conflict, "a X c Y e");
}

TEST(TextMerge, TheConflictCopyStopsAtTheLineAndAtALongSentencesBound) {
  // A line break ends the excerpt even without a full stop.
  TextMerge lines = merge_text("Dear Ann,\nthe parcel leaves today\nBest",
                               "Dear Ann,\nthe parcel leaves Monday\nBest",
                               "Dear Ann,\nthe parcel leaves tomorrow\nBest");
  EXPECT_EQ(lines.conflict, "the parcel leaves Monday");
  // A sentence longer than the bound is cut, and the cut is marked.
  std::string before;
  std::string after;
  for (size_t i = 0; i < kConflictContextWords + 5; ++i) {
    before += "w" + std::to_string(i) + " ";
    after += " v" + std::to_string(i);
  }
  TextMerge cut = merge_text(before + "today" + after + ".", before + "Monday" + after + ".",
                             before + "tomorrow" + after + ".");
  EXPECT_EQ(cut.text, before + "tomorrow" + after + ".");
  EXPECT_EQ(cut.conflict.rfind("… w5 w6 ", 0), 0u) << cut.conflict;  // w0..w4 cut
  EXPECT_NE(cut.conflict.find(" Monday v0 "), std::string::npos);
  const std::string tail = " v29 …";  // v30..v34 cut
  EXPECT_EQ(cut.conflict.substr(cut.conflict.size() - tail.size()), tail) << cut.conflict;
}

TEST(TextMerge, EmptyBaseWithTwoDifferentTextsKeepsBoth) {
  TextMerge merged = merge_text("", "from the web", "from the app");
  EXPECT_FALSE(merged.conflicted);
  EXPECT_EQ(merged.text, "from the app from the web");
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

// Property: whatever the two sides do with unique words and spaces (within a line, line
// and paragraph breaks), every word either side has in its text ends up in the merged text
// or in the conflict copy; each run of words a side typed keeps the spaces it typed inside
// it, and a paragraph it started stays a paragraph; and without a conflict the merge is the
// same whichever side is incoming (device, server and rebase converge in any order).
TEST(TextMerge, RandomEditsNeverLoseAWord) {
  std::mt19937_64 random(20261201);
  const std::vector<std::string> spaces = {" ", " ", " ", "\n", "\n\n"};
  struct Word {
    std::string space;  // typed before the word
    std::string word;
  };
  auto render = [](const std::vector<Word>& words) {
    std::string text;
    for (const Word& word : words) text += (text.empty() ? "" : word.space) + word.word;
    return text;
  };
  int conflicts = 0;
  int paragraphs = 0;
  for (int round = 0; round < 2000; ++round) {
    std::vector<Word> base_words;
    int length = static_cast<int>(random() % 12);
    for (int i = 0; i < length; ++i) {
      base_words.push_back({spaces[random() % spaces.size()], "b" + std::to_string(i)});
    }
    // Runs of words a side typed, with their inside spaces, and the ones it typed as a
    // new paragraph (with the break before them).
    struct Typed {
      std::vector<std::string> runs;
      std::vector<std::string> paragraphs;
    };
    auto edit = [&](const std::string& side, Typed& typed) {
      std::vector<Word> words = base_words;
      int edits = 1 + static_cast<int>(random() % 4);
      for (int e = 0; e < edits; ++e) {
        size_t at = words.empty() ? 0 : random() % (words.size() + 1);
        switch (random() % 3) {
          case 0: {
            int count = 1 + static_cast<int>(random() % 3);
            for (int k = count; k-- > 0;) {
              words.insert(words.begin() + static_cast<ptrdiff_t>(at),
                           {spaces[random() % spaces.size()],
                            side + std::to_string(e) + "w" + std::to_string(k)});
            }
            break;
          }
          case 1:
            if (at < words.size()) words[at].word = side + std::to_string(e);
            break;
          default:
            if (at < words.size()) words.erase(words.begin() + static_cast<ptrdiff_t>(at));
        }
      }
      // Maximal runs of this side's words, as rendered.
      for (size_t k = 0; k < words.size();) {
        if (words[k].word.rfind(side, 0) != 0) {
          ++k;
          continue;
        }
        std::string run = words[k].word;
        // (An inserted word: a replaced one keeps the base's space.)
        const bool paragraph = k > 0 && words[k].space == "\n\n" &&
                               words[k].word.find('w', side.size()) != std::string::npos;
        for (++k; k < words.size() && words[k].word.rfind(side, 0) == 0; ++k) {
          run += words[k].space + words[k].word;
        }
        typed.runs.push_back(run);
        if (paragraph) typed.paragraphs.push_back("\n\n" + run);
      }
      return render(words);
    };
    const std::string base = render(base_words);
    Typed web_typed;
    Typed app_typed;
    const std::string current = edit("web", web_typed);
    const std::string incoming = edit("app", app_typed);
    TextMerge merged = merge_text(base, current, incoming);
    const std::string context = "merging base '" + base + "' current '" + current + "' incoming '" +
                                incoming + "' -> '" + merged.text + "' / '" + merged.conflict + "'";
    if (merged.conflicted) ++conflicts;
    std::set<std::string> kept = words_of(merged.text);
    for (const std::string& word : words_of(merged.conflict)) kept.insert(word);
    for (const std::string& text : {current, incoming}) {
      for (const std::string& word : words_of(text)) {
        if (word.rfind("b", 0) == 0) continue;  // base words may be deliberately deleted
        EXPECT_TRUE(kept.count(word)) << "lost '" << word << "' " << context;
      }
    }
    for (const Typed* typed : {&web_typed, &app_typed}) {
      for (const std::string& run : typed->runs) {
        EXPECT_TRUE(merged.text.find(run) != std::string::npos ||
                    merged.conflict.find(run) != std::string::npos)
            << "run '" << run << "' not as typed " << context;
      }
      for (const std::string& paragraph : typed->paragraphs) {
        ++paragraphs;
        EXPECT_TRUE(merged.text.find(paragraph) != std::string::npos ||
                    merged.conflict.find(paragraph.substr(2)) != std::string::npos)
            << "paragraph '" << paragraph << "' lost its break " << context;
      }
    }
    // Words added by a side appear in the text unless a conflict moved them aside.
    if (!merged.conflicted) {
      for (const std::string& word : words_of(incoming)) {
        if (word.rfind("app", 0) == 0) {
          EXPECT_TRUE(words_of(merged.text).count(word));
        }
      }
      TextMerge swapped = merge_text(base, incoming, current);
      if (!swapped.conflicted) {
        EXPECT_EQ(swapped.text, merged.text) << "depends on which side is incoming " << context;
      }
    }
  }
  EXPECT_GT(conflicts, 100);   // the generator does exercise conflicts
  EXPECT_GT(paragraphs, 100);  // and new paragraphs
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

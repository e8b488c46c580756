// The column_page fuzz target (fuzz/column_page_fuzzer.cpp, decision 045) replayed under the
// regular build:
// its checked-in seeds, then seeded random mutations of them, through the same contract
// checks. libFuzzer (scripts/fuzz) explores far more; this keeps the target compiling and
// its contracts exercised in every test run.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string> seeds() {
  std::vector<std::string> out;
  for (const auto& entry :
       std::filesystem::directory_iterator(OUTPOST_SOURCE_DIR "/fuzz/corpus/column_page")) {
    std::ifstream in(entry.path(), std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

void run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

TEST(ColumnPageFuzzReplay, SeedsAndTheirMutationsKeepTheContracts) {
  const auto corpus = seeds();
  ASSERT_GE(corpus.size(), 5u);
  for (const auto& seed : corpus) run(seed);
  std::mt19937_64 random(7);
  for (int i = 0; i < 20000; ++i) {
    std::string input = corpus[random() % corpus.size()];
    const int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits && !input.empty(); ++e) {
      const size_t at = 1 + random() % std::max<size_t>(1, input.size() - 1);
      switch (random() % 4) {
        case 0:
          input[std::min(at, input.size() - 1)] = static_cast<char>(random());
          break;
        case 1:
          input.insert(std::min(at, input.size()), 1, "-,=0123456789%/\n"[random() % 16]);
          break;
        case 2:
          input.erase(std::min(at, input.size() - 1), 1);
          break;
        default:
          input.resize(std::min(at, input.size()));
          break;
      }
    }
    run(input);
  }
}

}  // namespace

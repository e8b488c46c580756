// A fuzz target replayed under the regular build (one test binary per target, linked with
// fuzz/<target>_fuzzer.cpp; OUTPOST_FUZZ_TARGET names its corpus, OUTPOST_FUZZ_REPLAY_SUITE
// the test suite, OUTPOST_FUZZ_MIN_SEEDS how many seeds it must find):
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
  for (const auto& entry : std::filesystem::directory_iterator(
           OUTPOST_SOURCE_DIR "/fuzz/corpus/" OUTPOST_FUZZ_TARGET)) {
    std::ifstream in(entry.path(), std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

void run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

TEST(OUTPOST_FUZZ_REPLAY_SUITE, SeedsAndTheirMutationsKeepTheContracts) {
  const auto corpus = seeds();
  ASSERT_GE(corpus.size(), size_t{OUTPOST_FUZZ_MIN_SEEDS});
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

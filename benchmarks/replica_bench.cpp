// Device replica reads and writes against the physical limit: the same rows in a plain
// SQLite table, the same query, a plain autocommit write — in the same run. Each benchmark
// alternates outpost and the baseline and reports both (µs, p50/p99) and their ratio
// (outpost / SQLite: 1.0 means "as fast as SQLite"). The scenes are shared with
// outpost-bench (benchmarks/support/read_fixture.h).
//
//   build/benchmarks/outpost_micro_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <unistd.h>
#include <filesystem>

#include "support/bench_report.h"
#include "support/read_fixture.h"

namespace {

using outpost::bench::percentile;
using outpost::bench::ReadFixture;
using outpost::bench::Samples;

// One fixture per process (100k interactions, 50k contacts), removed at exit.
struct Scene {
  std::string dir;
  std::unique_ptr<ReadFixture> fixture;
  Scene() {
    dir = std::filesystem::temp_directory_path().string() + "/outpost-bench-" +
          std::to_string(getpid());
    std::filesystem::create_directories(dir);
    fixture = std::make_unique<ReadFixture>(dir, outpost::bench::ReadFixtureOptions{});
  }
  ~Scene() {
    fixture.reset();
    std::filesystem::remove_all(dir);
  }
};

ReadFixture& fixture() {
  static Scene scene;
  return *scene.fixture;
}

void report(benchmark::State& state, const Samples& samples) {
  double outpost_p50 = percentile(samples.outpost_us, 0.50);
  double sqlite_p50 = percentile(samples.sqlite_us, 0.50);
  state.counters["outpost_p50_us"] = outpost_p50;
  state.counters["outpost_p99_us"] = percentile(samples.outpost_us, 0.99);
  state.counters["sqlite_p50_us"] = sqlite_p50;
  state.counters["sqlite_p99_us"] = percentile(samples.sqlite_us, 0.99);
  state.counters["ratio_p50"] = sqlite_p50 > 0 ? outpost_p50 / sqlite_p50 : 0;
}

// Each benchmark runs its scene once, as one "iteration" of `count` operations.
template <Samples (ReadFixture::*Scene)(int)>
void run(benchmark::State& state) {
  ReadFixture& f = fixture();
  Samples samples;
  for (auto _ : state) samples = (f.*Scene)(static_cast<int>(state.range(0)));
  report(state, samples);
}

BENCHMARK(run<&ReadFixture::point_get>)->Name("BM_PointLookup")->Arg(20000)->Iterations(1);
BENCHMARK(run<&ReadFixture::todays_journal>)->Name("BM_TodaysJournal")->Arg(500)->Iterations(1);
BENCHMARK(run<&ReadFixture::contact_search>)->Name("BM_ContactSearch")->Arg(200)->Iterations(1);
BENCHMARK(run<&ReadFixture::canned_search>)->Name("BM_CannedSearch")->Arg(500)->Iterations(1);
BENCHMARK(run<&ReadFixture::draft_save>)->Name("BM_DraftSave")->Arg(5000)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();

// The C API's cost per call against the C++ API it wraps: the same operation on two
// replica files with the same content, one through engine/replica.h, one through
// include/outpost/outpost.h (protobuf bytes, the format a typed binding uses; JSON shown
// beside it), alternating call by call in one run. Reports both p50s (µs) and the
// overhead (C / C++ - 1); the aim is within 5% (decision 020).
//
//   build/benchmarks/outpost_c_api_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/domain_mutators.h"
#include "engine/replica.h"
#include "outpost/mutations.pb.h"
#include "outpost/outpost.h"
#include "support/bench_report.h"

namespace {

using outpost::bench::percentile;
using Clock = std::chrono::steady_clock;
constexpr int kRows = 200;

struct Scene {
  std::string dir;
  std::unique_ptr<outpost::Replica> cpp;
  outpost_replica* c = nullptr;

  Scene() {
    dir = std::filesystem::temp_directory_path().string() + "/outpost-c-api-bench-" +
          std::to_string(getpid());
    std::filesystem::create_directories(dir);
    outpost::ReplicaOptions options;
    options.tenant = "acme";
    options.user = "agent-1";
    cpp = std::move(outpost::Replica::open(dir + "/cpp.db", outpost::Schema::domain(),
                                           &outpost::domain_mutators(), options))
              .value();
    outpost_replica_options c_options;
    outpost_replica_options_init(&c_options);
    c_options.tenant = "acme";
    c_options.tenant_len = 4;
    c_options.user = "agent-1";
    c_options.user_len = 7;
    std::string path = dir + "/c.db";
    if (outpost_replica_open(path.data(), path.size(), &c_options, &c, nullptr) != OUTPOST_OK) {
      std::abort();
    }
    for (int i = 0; i < kRows; ++i) {
      auto args = draft("d-" + std::to_string(i));
      (void)cpp->mutate("save_draft", args, 1);
      std::string bytes = args.SerializeAsString();
      (void)outpost_replica_mutate(c, OUTPOST_FORMAT_PROTO, "save_draft", 10, bytes.data(),
                                   bytes.size(), nullptr, nullptr);
    }
  }
  ~Scene() {
    (void)outpost_replica_close(c, nullptr);
    cpp.reset();
    std::filesystem::remove_all(dir);
  }
  static outpost::mutations::SaveDraft draft(const std::string& id) {
    outpost::mutations::SaveDraft args;
    args.mutable_draft()->set_id(id);
    args.mutable_draft()->set_subject("Re: your order");
    args.mutable_draft()->set_body("Dear Ann, thank you for your call about the delivery.");
    return args;
  }
};

Scene& scene() {
  static Scene instance;
  return instance;
}

double time_us(const std::function<void()>& op) {
  auto start = Clock::now();
  op();
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// p50s by operation, printed side by side at the end.
std::map<std::string, std::pair<double, double>>& table() {
  static std::map<std::string, std::pair<double, double>> rows;
  return rows;
}

// Alternates `cpp_op` and `c_op` `count` times; reports both p50s and the overhead.
void compare(benchmark::State& state, const std::string& name,
             const std::function<void(int)>& cpp_op, const std::function<void(int)>& c_op) {
  std::vector<double> cpp_us, c_us;
  for (auto _ : state) {
    const int count = static_cast<int>(state.range(0));
    for (int i = 0; i < count; ++i) {
      cpp_us.push_back(time_us([&] { cpp_op(i); }));
      c_us.push_back(time_us([&] { c_op(i); }));
    }
  }
  double cpp = percentile(cpp_us, 0.5), c = percentile(c_us, 0.5);
  state.counters["cpp_p50_us"] = cpp;
  state.counters["c_p50_us"] = c;
  state.counters["overhead_pct"] = cpp > 0 ? (c / cpp - 1) * 100 : 0;
  table()[name] = {cpp, c};
}

void BM_Mutate(benchmark::State& state, outpost_format format) {
  Scene& s = scene();
  int round = 0;
  compare(
      state,
      format == OUTPOST_FORMAT_PROTO ? "mutate save_draft (proto)" : "mutate save_draft (JSON)",
      [&](int i) {
        auto args = Scene::draft("m-cpp-" + std::to_string(round) + "-" + std::to_string(i));
        benchmark::DoNotOptimize(s.cpp->mutate("save_draft", args, 1).ok());
      },
      [&](int i) {
        // Building the caller's bytes is part of the call's cost on both sides.
        auto args = Scene::draft("m-c-" + std::to_string(round) + "-" + std::to_string(i));
        std::string bytes;
        if (format == OUTPOST_FORMAT_PROTO) {
          bytes = args.SerializeAsString();
        } else {
          bytes =
              R"({"draft": {"id": ")" + args.draft().id() +
              R"(", "subject": "Re: your order", "body": "Dear Ann, thank you for your call about the delivery."}})";
        }
        benchmark::DoNotOptimize(outpost_replica_mutate(s.c, format, "save_draft", 10, bytes.data(),
                                                        bytes.size(), nullptr, nullptr));
      });
  round++;
}

void BM_Get(benchmark::State& state, outpost_format format) {
  Scene& s = scene();
  compare(
      state, format == OUTPOST_FORMAT_PROTO ? "get draft (proto)" : "get draft (JSON)",
      [&](int i) {
        auto record = s.cpp->get("draft", "d-" + std::to_string(i % kRows));
        benchmark::DoNotOptimize(record.ok());
      },
      [&](int i) {
        std::string key = "d-" + std::to_string(i % kRows);
        outpost_bytes out{};
        bool found = false;
        benchmark::DoNotOptimize(outpost_replica_get(s.c, format, "draft", 5, key.data(),
                                                     key.size(), &out, &found, nullptr));
        outpost_bytes_free(&out);
      });
}

void BM_Query200(benchmark::State& state, outpost_format format) {
  Scene& s = scene();
  outpost::Query query;
  query.collection = "draft";
  query.limit = kRows;
  const std::string spec = R"({"collection": "draft", "limit": 200})";
  compare(
      state,
      format == OUTPOST_FORMAT_PROTO ? "query 200 drafts (proto)" : "query 200 drafts (JSON)",
      [&](int) {
        auto rows = s.cpp->query(query);
        benchmark::DoNotOptimize(rows.ok() && rows->size() == kRows);
      },
      [&](int) {
        outpost_bytes out{};
        benchmark::DoNotOptimize(
            outpost_replica_query(s.c, format, spec.data(), spec.size(), &out, nullptr));
        outpost_bytes_free(&out);
      });
}

BENCHMARK_CAPTURE(BM_Mutate, proto, OUTPOST_FORMAT_PROTO)->Arg(2000)->Iterations(1);
BENCHMARK_CAPTURE(BM_Mutate, json, OUTPOST_FORMAT_JSON)->Arg(2000)->Iterations(1);
BENCHMARK_CAPTURE(BM_Get, proto, OUTPOST_FORMAT_PROTO)->Arg(20000)->Iterations(1);
BENCHMARK_CAPTURE(BM_Get, json, OUTPOST_FORMAT_JSON)->Arg(20000)->Iterations(1);
BENCHMARK_CAPTURE(BM_Query200, proto, OUTPOST_FORMAT_PROTO)->Arg(300)->Iterations(1);
BENCHMARK_CAPTURE(BM_Query200, json, OUTPOST_FORMAT_JSON)->Arg(300)->Iterations(1);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::printf("\n%-28s %12s %12s %10s\n", "operation (p50)", "C++ us", "C API us", "overhead");
  for (const auto& [name, times] : table()) {
    std::printf("%-28s %12.2f %12.2f %9.1f%%\n", name.c_str(), times.first, times.second,
                times.first > 0 ? (times.second / times.first - 1) * 100 : 0.0);
  }
  return 0;
}

// Figures as JSON lines: strings escaped, numbers always valid JSON, params in order.
#include "support/bench_report.h"

#include <gtest/gtest.h>

#include <cmath>

namespace outpost::bench {
namespace {

TEST(BenchReport, FigureIsOneJsonLine) {
  Figure figure{
      "initial_sync",
      40000,
      "records/s",
      200000,
      0.2,
      {param("records", uint64_t{100000}), param("store", "embedded"), param("seconds", 2.5)}};
  EXPECT_EQ(to_json_line(figure),
            R"({"scenario": "initial_sync", "value": 40000, "unit": "records/s", )"
            R"("baseline": 200000, "ratio": 0.2, "params": {"records": 100000, )"
            R"("store": "embedded", "seconds": 2.5}})");
}

TEST(BenchReport, StringsAreEscaped) {
  EXPECT_EQ(json_string("a\"b\\c\nd\te\x01"), R"("a\"b\\c\nd\te\u0001")");
}

TEST(BenchReport, NonFiniteNumbersBecomeZero) {
  EXPECT_EQ(json_number(std::nan("")), "0");
  EXPECT_EQ(json_number(INFINITY), "0");
  EXPECT_EQ(json_number(-INFINITY), "0");
  EXPECT_EQ(json_number(1.5), "1.5");
  EXPECT_EQ(json_number(-3), "-3");
}

TEST(BenchReport, PercentileIsNearestRank) {
  std::vector<double> values;
  for (int i = 100; i >= 1; --i) values.push_back(i);
  EXPECT_EQ(percentile(values, 0.5), 51);
  EXPECT_EQ(percentile(values, 0.99), 100);
  EXPECT_EQ(percentile({}, 0.5), 0);
  EXPECT_EQ(ratio_of(1, 0), 0);
  EXPECT_EQ(ratio_of(1, 4), 0.25);
}

TEST(BenchReport, ReportWritesEachFigureAsItIsAdded) {
  char* buffer = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&buffer, &size);
  ASSERT_NE(out, nullptr);
  {
    Report report(out);
    report.add({"a", 1, "ms", 2, 0.5, {}});
    report.add({"b", 3, "us", 0, 0, {param("stat", "p99")}});
    EXPECT_EQ(report.figures().size(), 2u);
  }
  fclose(out);
  EXPECT_EQ(std::string(buffer, size),
            "{\"scenario\": \"a\", \"value\": 1, \"unit\": \"ms\", \"baseline\": 2, \"ratio\": "
            "0.5, \"params\": {}}\n{\"scenario\": \"b\", \"value\": 3, \"unit\": \"us\", "
            "\"baseline\": 0, \"ratio\": 0, \"params\": {\"stat\": \"p99\"}}\n");
  free(buffer);
}

}  // namespace
}  // namespace outpost::bench

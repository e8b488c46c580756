// ops/metrics.h: the Prometheus text format, bounded label sets, histograms.
#include "ops/metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace outpost::ops {
namespace {

TEST(Metrics, RendersCountersGaugesAndHistogramsInTheTextFormat) {
  Registry registry;
  auto& requests = registry.counter("outpost_requests_total", "Requests.", {"kind", "code"});
  requests.with({"push", "ok"}).add(3);
  requests.with({"pull", "unavailable"}).add();
  registry.gauge("outpost_things", "Things.")().set(2.5);
  auto& latency = registry.histogram("outpost_latency_seconds", "Latency.", {0.01, 0.1});
  latency().observe(0.005);
  latency().observe(0.05);
  latency().observe(7);
  std::string text = registry.render();
  EXPECT_NE(text.find("# HELP outpost_requests_total Requests.\n"
                      "# TYPE outpost_requests_total counter\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("outpost_requests_total{kind=\"push\",code=\"ok\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("outpost_requests_total{kind=\"pull\",code=\"unavailable\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE outpost_things gauge\noutpost_things 2.5\n"), std::string::npos);
  EXPECT_NE(text.find("outpost_latency_seconds_bucket{le=\"0.01\"} 1\n"
                      "outpost_latency_seconds_bucket{le=\"0.1\"} 2\n"
                      "outpost_latency_seconds_bucket{le=\"+Inf\"} 3\n"
                      "outpost_latency_seconds_sum 7.055\n"
                      "outpost_latency_seconds_count 3\n"),
            std::string::npos)
      << text;
}

TEST(Metrics, LabelSetsAreBoundedAndOverflowIntoOther) {
  Registry registry;
  auto& family = registry.counter("outpost_x_total", "X.", {"code"});
  for (size_t i = 0; i < kMaxSeriesPerFamily + 50; ++i)
    family.with({"c" + std::to_string(i)}).add();
  EXPECT_EQ(family.size(), kMaxSeriesPerFamily + 1);  // the bound plus "other"
  std::string text = registry.render();
  EXPECT_NE(text.find("outpost_x_total{code=\"other\"} 50\n"), std::string::npos) << text;
}

TEST(Metrics, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  Registry registry;
  registry.counter("outpost_y_total", "Y.", {"code"}).with({"x\"y"}).add();
  EXPECT_NE(registry.render().find("outpost_y_total{code=\"x\\\"y\"} 1"), std::string::npos);
}

TEST(Metrics, CollectorsAddScrapeTimeGauges) {
  Registry registry;
  int calls = 0;
  registry.add_collector([&calls](Sample& sample) {
    ++calls;
    sample.family("outpost_connections", "Open connections.", MetricType::kGauge);
    sample.value("outpost_connections", {}, 42);
  });
  std::string text = registry.render();
  EXPECT_EQ(calls, 1);
  EXPECT_NE(text.find("# TYPE outpost_connections gauge\noutpost_connections 42\n"),
            std::string::npos);
}

TEST(Metrics, ValuesFormatAsPrometheusReadsThem) {
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
}

}  // namespace
}  // namespace outpost::ops

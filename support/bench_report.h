// Benchmark figures and how they are reported: one JSON object per line on stdout
// ({"scenario", "value", "unit", "baseline", "ratio", "params"}), and a human table.
// Shared by outpost-bench and the micro-benchmarks; also sample statistics (percentiles).
// Thread rules: a Report is used from one thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace outpost::bench {

// One parameter of a figure: a number or a string.
struct Param {
  std::string name;
  std::string json;  // the encoded JSON value
};
Param param(std::string name, double value);
Param param(std::string name, uint64_t value);
Param param(std::string name, int value);
Param param(std::string name, const std::string& value);
Param param(std::string name, const char* value);

// `ratio` is value / baseline: outpost relative to its physical limit, so 1.0 is "as fast
// as SQLite". For a rate (records/s) higher is better; for a time or a size lower is
// better; the unit says which. 0 when the figure has no baseline.
struct Figure {
  std::string scenario;
  double value = 0;
  std::string unit;
  double baseline = 0;
  double ratio = 0;
  std::vector<Param> params;
};

// JSON string literal of `text` (quotes, backslashes and control characters escaped).
std::string json_string(const std::string& text);
// A finite number as JSON (NaN and infinities become 0: JSON has no spelling for them).
std::string json_number(double value);
// The figure as one line of JSON, without the newline.
std::string to_json_line(const Figure& figure);

class Report {
 public:
  // JSON lines go to `json` as they are added (flushed each time).
  explicit Report(FILE* json = stdout) : json_(json) {}
  void add(Figure figure);
  // The figures as an aligned table.
  void print_table(FILE* out) const;
  const std::vector<Figure>& figures() const { return figures_; }

 private:
  FILE* json_;
  std::vector<Figure> figures_;
};

// The p-quantile (0..1) of `values` (nearest rank); 0 for no values.
double percentile(std::vector<double> values, double p);
// value / baseline, 0 when the baseline is 0.
double ratio_of(double value, double baseline);

}  // namespace outpost::bench

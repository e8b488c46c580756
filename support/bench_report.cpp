#include "support/bench_report.h"

#include <algorithm>
#include <cmath>

#include "support/cli_args.h"

namespace outpost::bench {

Param param(std::string name, double value) {
  return {std::move(name), json_number(value)};
}
Param param(std::string name, uint64_t value) {
  return {std::move(name), std::to_string(value)};
}
Param param(std::string name, int value) {
  return {std::move(name), std::to_string(value)};
}
Param param(std::string name, const std::string& value) {
  return {std::move(name), json_string(value)};
}
Param param(std::string name, const char* value) {
  return {std::move(name), json_string(value)};
}

std::string json_string(const std::string& text) {
  return cli::json_string(text);
}

std::string json_number(double value) {
  if (!std::isfinite(value)) return "0";
  char buffer[64];
  // Integers print without a fraction; others with enough digits for the figures.
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    snprintf(buffer, sizeof(buffer), "%.0f", value);
  } else {
    snprintf(buffer, sizeof(buffer), "%.6g", value);
  }
  return buffer;
}

std::string to_json_line(const Figure& figure) {
  std::string line = "{\"scenario\": " + json_string(figure.scenario) +
                     ", \"value\": " + json_number(figure.value) +
                     ", \"unit\": " + json_string(figure.unit) +
                     ", \"baseline\": " + json_number(figure.baseline) +
                     ", \"ratio\": " + json_number(figure.ratio) + ", \"params\": {";
  for (size_t i = 0; i < figure.params.size(); ++i) {
    if (i > 0) line += ", ";
    line += json_string(figure.params[i].name) + ": " + figure.params[i].json;
  }
  return line + "}}";
}

void Report::add(Figure figure) {
  if (json_ != nullptr) {
    fprintf(json_, "%s\n", to_json_line(figure).c_str());
    fflush(json_);
  }
  figures_.push_back(std::move(figure));
}

void Report::print_table(FILE* out) const {
  fprintf(out, "\n%-28s %14s %-12s %14s %8s  %s\n", "scenario", "value", "unit", "baseline",
          "ratio", "params");
  for (const Figure& f : figures_) {
    std::string params;
    for (const Param& p : f.params) {
      if (!params.empty()) params += " ";
      std::string value = p.json;
      if (value.size() >= 2 && value.front() == '"') value = value.substr(1, value.size() - 2);
      params += p.name + "=" + value;
    }
    fprintf(out, "%-28s %14.1f %-12s %14.1f %8.3f  %s\n", f.scenario.c_str(), f.value,
            f.unit.c_str(), f.baseline, f.ratio, params.c_str());
  }
  fflush(out);
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t index = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  return values[index];
}

double ratio_of(double value, double baseline) {
  return baseline > 0 ? value / baseline : 0;
}

}  // namespace outpost::bench

#include "ops/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace outpost::ops {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double value) {
  size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::bucket_counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.9g", value);
  }
  return buffer;
}

namespace {

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void append_labels(std::string& out, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    out += escape_label_value(i < values.size() ? values[i] : std::string());
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

void header(std::string& out, std::string_view name, std::string_view help, MetricType type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type_name(type);
  out += '\n';
}

void render_family(std::string& out, const Family<Counter>& family) {
  header(out, family.name(), family.help(), MetricType::kCounter);
  family.each([&](const std::vector<std::string>& values, const Counter& counter) {
    out += family.name();
    append_labels(out, family.label_names(), values);
    out += ' ';
    out += std::to_string(counter.value());
    out += '\n';
  });
}

void render_family(std::string& out, const Family<Gauge>& family) {
  header(out, family.name(), family.help(), MetricType::kGauge);
  family.each([&](const std::vector<std::string>& values, const Gauge& gauge) {
    out += family.name();
    append_labels(out, family.label_names(), values);
    out += ' ';
    out += format_value(gauge.value());
    out += '\n';
  });
}

void render_family(std::string& out, const Family<Histogram>& family) {
  header(out, family.name(), family.help(), MetricType::kHistogram);
  family.each([&](const std::vector<std::string>& values, const Histogram& histogram) {
    std::vector<uint64_t> counts = histogram.bucket_counts();
    uint64_t cumulative = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      cumulative += counts[i];
      out += family.name();
      out += "_bucket";
      std::string le = i < histogram.bounds().size() ? format_value(histogram.bounds()[i]) : "+Inf";
      append_labels(out, family.label_names(), values, "le", le);
      out += ' ';
      out += std::to_string(cumulative);
      out += '\n';
    }
    out += family.name();
    out += "_sum";
    append_labels(out, family.label_names(), values);
    out += ' ';
    out += format_value(histogram.sum());
    out += '\n';
    out += family.name();
    out += "_count";
    append_labels(out, family.label_names(), values);
    out += ' ';
    out += std::to_string(cumulative);
    out += '\n';
  });
}

}  // namespace

void Sample::family(std::string_view name, std::string_view help, MetricType type) {
  header(out_, name, help, type);
}

void Sample::value(std::string_view name,
                   const std::vector<std::pair<std::string, std::string>>& labels, double value) {
  out_ += name;
  std::vector<std::string> names;
  std::vector<std::string> values;
  for (const auto& [label, label_value] : labels) {
    names.push_back(label);
    values.push_back(label_value);
  }
  append_labels(out_, names, values);
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  counters_.push_back(std::make_unique<Family<Counter>>(
      name, help, std::move(label_names), [] { return std::make_unique<Counter>(); }));
  order_.emplace_back(MetricType::kCounter, counters_.size() - 1);
  return *counters_.back();
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  gauges_.push_back(std::make_unique<Family<Gauge>>(name, help, std::move(label_names),
                                                    [] { return std::make_unique<Gauge>(); }));
  order_.emplace_back(MetricType::kGauge, gauges_.size() - 1);
  return *gauges_.back();
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<double> bounds,
                                       std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  histograms_.push_back(std::make_unique<Family<Histogram>>(
      name, help, std::move(label_names),
      [bounds] { return std::make_unique<Histogram>(bounds); }));
  order_.emplace_back(MetricType::kHistogram, histograms_.size() - 1);
  return *histograms_.back();
}

void Registry::add_collector(std::function<void(Sample&)> collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collector));
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  out.reserve(8192);
  for (const auto& [type, index] : order_) {
    switch (type) {
      case MetricType::kCounter:
        render_family(out, *counters_[index]);
        break;
      case MetricType::kGauge:
        render_family(out, *gauges_[index]);
        break;
      case MetricType::kHistogram:
        render_family(out, *histograms_[index]);
        break;
    }
  }
  Sample sample(out);
  for (const auto& collector : collectors_) collector(sample);
  return out;
}

}  // namespace outpost::ops

// A small Prometheus registry for outpost-server's admin listener: counters, gauges and
// histograms in families with fixed label names, rendered in the text exposition format
// (version 0.0.4). Label sets are bounded: a family holds at most kMaxSeriesPerFamily
// label combinations and folds the rest into one series whose label values are "other",
// so no caller can grow /metrics without bound (no per-device or per-user labels).
// Thread rules: everything is safe from any thread. Series are created once under the
// family's mutex and then updated with atomics; callers on hot paths keep the reference.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::ops {

inline constexpr size_t kMaxSeriesPerFamily = 64;
inline constexpr std::string_view kOtherLabel = "other";
// The Content-Type of the text format.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4";

class Counter {
 public:
  void add(uint64_t amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative buckets with fixed upper bounds (seconds, bytes...), a sum and a count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  const std::vector<double>& bounds() const { return bounds_; }
  // Per bound, observations <= it (not cumulative); the last entry is +Inf.
  std::vector<uint64_t> bucket_counts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// Request latencies: 1 ms to 10 s.
std::vector<double> latency_buckets();

enum class MetricType { kCounter, kGauge, kHistogram };

// One metric name: its help, type, label names and up to kMaxSeriesPerFamily series.
template <typename Series>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<Series>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {}

  // The series of these label values (one per label name, in order). A new combination
  // past the bound returns the shared "other" series.
  Series& with(const std::vector<std::string>& values) {
    std::lock_guard lock(mutex_);
    auto it = series_.find(values);
    if (it != series_.end()) return *it->second;
    std::vector<std::string> key = values;
    key.resize(label_names_.size());
    if (series_.size() >= kMaxSeriesPerFamily)
      key.assign(label_names_.size(), std::string(kOtherLabel));
    auto& slot = series_[key];
    if (!slot) slot = make_();
    return *slot;
  }
  Series& operator()() { return with({}); }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  template <typename Visit>
  void each(Visit&& visit) const {
    std::lock_guard lock(mutex_);
    for (const auto& [values, series] : series_) visit(values, *series);
  }
  size_t size() const {
    std::lock_guard lock(mutex_);
    return series_.size();
  }

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<Series>()> make_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>> series_;
};

// Writes gauges computed at scrape time (connections, heads) into the exposition.
class Sample {
 public:
  explicit Sample(std::string& out) : out_(out) {}
  // One family header (# HELP / # TYPE) followed by the values given to value().
  void family(std::string_view name, std::string_view help, MetricType type);
  void value(std::string_view name, const std::vector<std::pair<std::string, std::string>>& labels,
             double value);

 private:
  std::string& out_;
};

class Registry {
 public:
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<double> bounds,
                               std::vector<std::string> label_names = {});
  // Runs at every render(), after the registered families (each call its own family).
  void add_collector(std::function<void(Sample&)> collector);

  // The whole exposition, families in registration order.
  std::string render() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<std::function<void(Sample&)>> collectors_;
  // Registration order across the three kinds: (kind, index).
  std::vector<std::pair<MetricType, size_t>> order_;
};

// A label value escaped for the text format (backslash, double quote, newline).
std::string escape_label_value(std::string_view value);
// A sample value: integers without a fraction, NaN and infinities by name.
std::string format_value(double value);

}  // namespace outpost::ops

#include "metrics/metrics.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <system_error>

namespace parley {
namespace {

// Registration mistakes are bugs in start-up code: crash loudly, in release builds too.
[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "parley metrics: %s\n", what.c_str());
  std::abort();
}

bool IsMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool IsLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Go's strconv.FormatFloat(v, 'g', -1, 64) style, as other Prometheus clients print:
// shortest round-trip digits, plain notation for ordinary magnitudes.
std::string FormatDouble(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  std::array<char, 64> buffer;
  const double magnitude = std::fabs(value);
  const auto format = (magnitude == 0 || (magnitude >= 1e-4 && magnitude < 1e21))
                          ? std::chars_format::fixed
                          : std::chars_format::scientific;
  const auto [ptr, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, format);
  if (ec != std::errc()) Fail("cannot format a double");
  return std::string(buffer.data(), ptr);
}

void AppendEscaped(std::string& out, std::string_view text, bool escape_quotes) {
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '"':
        out += escape_quotes ? "\\\"" : "\"";
        break;
      default:
        out += c;
    }
  }
}

// Appends `{a="1",b="2"}` (or nothing for no labels); `le`, when given, goes last.
void AppendLabels(std::string& out, const Labels& labels, const std::string* le = nullptr) {
  if (labels.empty() && le == nullptr) return;
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    AppendEscaped(out, value, /*escape_quotes=*/true);
    out += '"';
  }
  if (le != nullptr) {
    if (!first) out += ',';
    out += "le=\"";
    out += *le;
    out += '"';
  }
  out += '}';
}

std::vector<double> CheckedBounds(std::vector<double> bounds) {
  if (!bounds.empty() && bounds.back() == std::numeric_limits<double>::infinity()) {
    bounds.pop_back();
  }
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) Fail("histogram bucket bounds must be finite");
    if (i > 0 && !(bounds[i - 1] < bounds[i])) {
      Fail("histogram bucket bounds must be strictly increasing");
    }
  }
  return bounds;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(CheckedBounds(std::move(bounds))),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  // C++20 atomic<double>::fetch_add is a compare-exchange loop: lock-free, no mutex.
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> counts(bounds_.size() + 1);
  for (size_t i = 0; i < counts.size(); ++i) {
    counts[i] = counts_[i].load(std::memory_order_relaxed);
  }
  return counts;
}

uint64_t Histogram::Count() const {
  uint64_t total = 0;
  for (uint64_t count : BucketCounts()) total += count;
  return total;
}

struct MetricsRegistry::Series {
  Labels labels;  // sorted by name
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
};

struct MetricsRegistry::Family {
  std::string help;
  Type type;
  std::vector<double> bounds;  // histograms only, as given to the first registration
  std::vector<Series> series;  // registration order; Series own their metric by pointer
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Series& MetricsRegistry::FindOrAdd(const std::string& name,
                                                    const std::string& help, Type type,
                                                    Labels labels,
                                                    const std::vector<double>* bounds) {
  if (!IsMetricName(name)) Fail("invalid metric name '" + name + "'");
  std::sort(labels.begin(), labels.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string& label = labels[i].first;
    if (!IsLabelName(label)) Fail("invalid label name '" + label + "' on " + name);
    if (type == Type::kHistogram && label == "le") Fail("label 'le' is reserved on " + name);
    if (i > 0 && labels[i - 1].first == label) Fail("duplicate label '" + label + "' on " + name);
  }

  std::lock_guard lock(mutex_);
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second = std::make_unique<Family>();
    it->second->help = help;
    it->second->type = type;
    if (bounds != nullptr) it->second->bounds = *bounds;
  }
  Family& family = *it->second;
  if (family.type != type) Fail("metric '" + name + "' registered with two types");
  if (family.help != help) Fail("metric '" + name + "' registered with two help texts");
  if (bounds != nullptr && family.bounds != *bounds) {
    Fail("histogram '" + name + "' registered with two bucket layouts");
  }

  for (Series& series : family.series) {
    if (series.labels == labels) return series;
  }
  Series& series = family.series.emplace_back();
  series.labels = std::move(labels);
  switch (type) {
    case Type::kCounter:
      series.counter = std::make_unique<Counter>();
      break;
    case Type::kGauge:
      series.gauge = std::make_unique<Gauge>();
      break;
    case Type::kHistogram:
      series.histogram = std::make_unique<Histogram>(*bounds);
      break;
  }
  return series;
}

Counter& MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                     Labels labels) {
  return *FindOrAdd(name, help, Type::kCounter, std::move(labels), nullptr).counter;
}

Gauge& MetricsRegistry::AddGauge(const std::string& name, const std::string& help, Labels labels) {
  return *FindOrAdd(name, help, Type::kGauge, std::move(labels), nullptr).gauge;
}

Histogram& MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                         std::vector<double> bucket_bounds, Labels labels) {
  // Normalise first so that "[1, 2]" and "[1, 2, +Inf]" count as the same layout.
  const std::vector<double> bounds = CheckedBounds(std::move(bucket_bounds));
  return *FindOrAdd(name, help, Type::kHistogram, std::move(labels), &bounds).histogram;
}

std::string MetricsRegistry::Render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, family] : families_) {
    out += "# HELP ";
    out += name;
    out += ' ';
    AppendEscaped(out, family->help, /*escape_quotes=*/false);
    out += "\n# TYPE ";
    out += name;
    switch (family->type) {
      case Type::kCounter:
        out += " counter\n";
        break;
      case Type::kGauge:
        out += " gauge\n";
        break;
      case Type::kHistogram:
        out += " histogram\n";
        break;
    }
    for (const Series& series : family->series) {
      if (series.counter != nullptr) {
        out += name;
        AppendLabels(out, series.labels);
        out += ' ' + std::to_string(series.counter->Value()) + '\n';
      } else if (series.gauge != nullptr) {
        out += name;
        AppendLabels(out, series.labels);
        out += ' ' + std::to_string(series.gauge->Value()) + '\n';
      } else {
        const Histogram& histogram = *series.histogram;
        // One snapshot of the buckets feeds both the +Inf bucket and _count, so the two
        // always agree even while other threads observe.
        const std::vector<uint64_t> counts = histogram.BucketCounts();
        uint64_t cumulative = 0;
        for (size_t i = 0; i < counts.size(); ++i) {
          cumulative += counts[i];
          const std::string le =
              i < histogram.Bounds().size() ? FormatDouble(histogram.Bounds()[i]) : "+Inf";
          out += name + "_bucket";
          AppendLabels(out, series.labels, &le);
          out += ' ' + std::to_string(cumulative) + '\n';
        }
        out += name + "_sum";
        AppendLabels(out, series.labels);
        out += ' ' + FormatDouble(histogram.Sum()) + '\n';
        out += name + "_count";
        AppendLabels(out, series.labels);
        out += ' ' + std::to_string(cumulative) + '\n';
      }
    }
  }
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace parley

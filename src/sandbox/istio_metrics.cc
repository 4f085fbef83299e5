#include "sandbox/istio_metrics.h"

#include <charconv>
#include <cmath>

#include "common/quote.h"

namespace sandbox {
namespace {

// The `le` values as Prometheus clients print them (plain decimals).
constexpr std::array<const char*, kIstioDurationBucketsMs.size()> kLe = {
    "0.5",  "1",    "5",     "10",    "25",    "50",     "100",    "250",     "500",    "1000",
    "2500", "5000", "10000", "30000", "60000", "300000", "600000", "1800000", "3600000"};

void AppendLabel(std::string& out, const char* name, const std::string& value) {
  if (!out.empty()) out += ',';
  out += name;
  out += "=\"";
  out += value.empty() ? "unknown" : canaryctl::EscapeLabelValue(value);
  out += '"';
}

std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "0";
  return std::string(buf, end);
}

}  // namespace

std::string IstioMetrics::LabelText(const RequestLabels& l) {
  std::string out;
  out.reserve(512);
  AppendLabel(out, "reporter", l.reporter);
  AppendLabel(out, "source_workload", l.source_workload);
  AppendLabel(out, "source_workload_namespace", l.source_workload_namespace);
  AppendLabel(out, "destination_workload", l.destination_workload);
  AppendLabel(out, "destination_workload_namespace", l.destination_workload_namespace);
  AppendLabel(out, "destination_service", l.destination_service);
  AppendLabel(out, "destination_service_name", l.destination_service_name);
  AppendLabel(out, "destination_service_namespace", l.destination_service_namespace);
  AppendLabel(out, "destination_app", l.destination_app);
  AppendLabel(out, "destination_version", l.destination_version);
  AppendLabel(out, "request_protocol", "http");
  AppendLabel(out, "response_code", std::to_string(l.response_code));
  AppendLabel(out, "response_flags", l.response_flags.empty() ? "-" : l.response_flags);
  return out;
}

void IstioMetrics::Record(const RequestLabels& labels, double duration_ms) {
  std::string key = LabelText(labels);
  if (!(duration_ms >= 0)) duration_ms = 0;  // also NaN
  size_t bucket = 0;
  while (bucket < kIstioDurationBucketsMs.size() && duration_ms > kIstioDurationBucketsMs[bucket]) {
    ++bucket;
  }
  std::lock_guard lock(mu_);
  Series& s = series_[std::move(key)];
  ++s.count;
  s.sum += duration_ms;
  if (bucket < s.buckets.size()) ++s.buckets[bucket];
}

uint64_t IstioMetrics::Count(const RequestLabels& labels) const {
  const std::string key = LabelText(labels);
  std::lock_guard lock(mu_);
  auto it = series_.find(key);
  return it == series_.end() ? 0 : it->second.count;
}

size_t IstioMetrics::series() const {
  std::lock_guard lock(mu_);
  return series_.size();
}

std::string IstioMetrics::Render() const {
  std::map<std::string, Series> copy;
  {
    std::lock_guard lock(mu_);
    copy = series_;
  }
  std::string out;
  out.reserve(256 + copy.size() * 12000);
  out +=
      "# HELP istio_requests_total Total number of requests, as Istio's proxies report them.\n"
      "# TYPE istio_requests_total counter\n";
  for (const auto& [labels, s] : copy) {
    out += "istio_requests_total{" + labels + "} " + std::to_string(s.count) + "\n";
  }
  out +=
      "# HELP istio_request_duration_milliseconds Request duration in milliseconds.\n"
      "# TYPE istio_request_duration_milliseconds histogram\n";
  for (const auto& [labels, s] : copy) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < s.buckets.size(); ++i) {
      cumulative += s.buckets[i];
      out += "istio_request_duration_milliseconds_bucket{" + labels + ",le=\"" + kLe[i] + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    out += "istio_request_duration_milliseconds_bucket{" + labels + ",le=\"+Inf\"} " +
           std::to_string(s.count) + "\n";
    out += "istio_request_duration_milliseconds_sum{" + labels + "} " + FormatDouble(s.sum) + "\n";
    out += "istio_request_duration_milliseconds_count{" + labels + "} " + std::to_string(s.count) +
           "\n";
  }
  return out;
}

}  // namespace sandbox

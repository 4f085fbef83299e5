// Istio's standard request metrics, as the sandbox's workloads (reporter "destination") and its
// gateway (reporter "source") record them, rendered in the Prometheus text exposition format
// 0.0.4 for GET /metrics:
//   istio_requests_total                    counter
//   istio_request_duration_milliseconds     histogram (_bucket{le}, _sum, _count) with the
//                                           default buckets of Envoy's stats (which Istio uses)
// Every series carries the same labels (RequestLabels), so Flagger's built-in Istio queries
// work unchanged. Series live as long as the process. Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace sandbox {

// The label values of one request; empty values are rendered as "unknown", as Istio does.
struct RequestLabels {
  std::string reporter;  // "destination" (the workload) or "source" (the gateway)
  std::string source_workload;
  std::string source_workload_namespace;
  std::string destination_workload;  // the owning Deployment (or other controller)
  std::string destination_workload_namespace;
  std::string destination_service;  // "<svc>.<ns>.svc.cluster.local"
  std::string destination_service_name;
  std::string destination_service_namespace;
  std::string destination_app;
  std::string destination_version;
  int response_code = 0;
  std::string response_flags;  // "-" when none; "NR", "UH", "UF", "UT", "NC", "DC"
};

// Envoy's default histogram buckets, in milliseconds (Istio keeps them for this metric).
inline constexpr std::array<double, 19> kIstioDurationBucketsMs = {
    0.5,  1,    5,     10,    25,    50,     100,    250,     500,    1000,
    2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000};

class IstioMetrics {
 public:
  // Counts one request that took duration_ms.
  void Record(const RequestLabels& labels, double duration_ms);
  // The exposition text (HELP and TYPE lines, then the series sorted by their labels).
  std::string Render() const;
  // The value of istio_requests_total for exactly these labels (0 when never recorded).
  uint64_t Count(const RequestLabels& labels) const;
  size_t series() const;

  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";
  // `name="value",...` in Istio's order, values escaped (\\, \", \n).
  static std::string LabelText(const RequestLabels& labels);

 private:
  struct Series {
    uint64_t count = 0;
    double sum = 0;
    std::array<uint64_t, kIstioDurationBucketsMs.size()> buckets{};  // non-cumulative
  };
  mutable std::mutex mu_;
  std::map<std::string, Series> series_;  // keyed by LabelText
};

}  // namespace sandbox

// Instant queries against Prometheus's HTTP API (GET /api/v1/query).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "checks/http_check.h"
#include "common/result.h"

namespace canaryctl::analysis {

class PrometheusClient {
 public:
  virtual ~PrometheusClient() = default;
  // The value of a query that yields one number (a scalar, or a vector of one sample; a vector
  // of several samples is an error naming the query). nullopt: no data (an empty vector, or
  // NaN, as a ratio of two zero rates gives). Errors: kCluster for transport failures and
  // Prometheus's own errors (bad PromQL), with Prometheus's message.
  virtual Result<std::optional<double>> Query(const std::string& promql) = 0;
};

struct PrometheusOptions {
  std::string url;  // base URL, e.g. http://prometheus.istio-system:9090 (a path prefix is kept)
  std::chrono::milliseconds timeout{10000};
  std::optional<checks::HttpProxy> proxy;  // as cli/proxy.h decides for the URL
  bool insecure = false;
  std::string ca_file;
};

std::unique_ptr<PrometheusClient> MakePrometheusClient(const PrometheusOptions& options);

}  // namespace canaryctl::analysis

// A real Prometheus (Debian's /usr/bin/prometheus) for the integration tests of analysis: it
// scrapes the given targets every scrape_interval into a private TSDB and answers instant
// queries over its HTTP API. The child dies with the test process (setpriv --pdeathsig).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <Poco/Process.h>
#include <gtest/gtest.h>

#include "sandbox_fixture.h"

namespace canaryctl::integration {

// Where the prometheus binary is: $CANARYCTL_PROMETHEUS, else /usr/bin/prometheus.
std::string PrometheusBinary();

class Prometheus {
 public:
  // scrape_targets: "host:port" each, scraped at metrics_path over plain HTTP.
  explicit Prometheus(std::vector<std::string> scrape_targets,
                      std::string metrics_path = "/metrics",
                      std::chrono::milliseconds scrape_interval = 1s);
  ~Prometheus();  // SIGTERM, then SIGKILL
  Prometheus(const Prometheus&) = delete;
  Prometheus& operator=(const Prometheus&) = delete;

  // Starts it on a free loopback port and waits until it is ready (/-/ready); fails with its
  // log when it exits or is not ready within 30 s.
  testing::AssertionResult Start();
  const std::string& url() const { return url_; }  // "http://127.0.0.1:PORT"

  // An instant query that yields one number; nullopt for no data, NaN, or an error (error, when
  // given, says which).
  std::optional<double> Query(const std::string& promql, std::string* error = nullptr) const;
  // Polls Query every 200 ms until pred holds for its value (no data never holds).
  bool WaitForValue(const std::string& promql, const std::function<bool(double)>& pred,
                    std::chrono::milliseconds timeout = 30s) const;
  // Waits until every target has been scraped at least once after this call (so counts sent
  // before it are visible to queries).
  bool WaitForScrape(std::chrono::milliseconds timeout = 30s) const;

  std::string log() const;  // what it wrote to stderr

 private:
  std::vector<std::string> targets_;
  std::string metrics_path_;
  std::chrono::milliseconds scrape_interval_;
  TempDir dir_{"canaryctl-prom"};
  std::string url_;
  std::optional<Poco::ProcessHandle> process_;
  std::vector<std::thread> readers_;
  std::shared_ptr<std::string> log_ = std::make_shared<std::string>();
  std::shared_ptr<std::mutex> log_mu_ = std::make_shared<std::mutex>();
};

}  // namespace canaryctl::integration

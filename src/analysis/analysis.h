// Metric analysis of one step (shared/DESIGN.md §5 `analysis:`): measures the candidate through
// Prometheus every `interval` until every metric has a verdict or the step's `window` is over.
//
// Per metric: a measurement is pass (within min/max), fail (outside), or inconclusive (no data:
// an empty result or NaN, which is what Prometheus returns while the candidate gets no
// traffic). A metric passes after `passes` consecutive passing measurements and fails after
// `failures` consecutive failing ones; an inconclusive measurement resets both runs. The step
// fails as soon as one metric fails (or the comparison does), and passes once every metric and
// the comparison have passed. Still undecided when the window ends: fail; if the candidate had
// no data at all, the message says it received no traffic (never a silent pass).
//
// Prometheus errors (unreachable, bad query) count as inconclusive measurements and are
// reported in the message; they never pass a step.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "analysis/prometheus_client.h"
#include "checks/check.h"
#include "config/rollout_spec.h"
#include "report/rollout_record.h"

namespace canaryctl::analysis {

// Who is measured: Istio's destination labels of one side.
struct Workload {
  std::string namespace_name;  // destination_workload_namespace
  std::string name;            // destination_workload (the Deployment)
  std::string service;         // the Service's short name
};

struct StepTarget {
  Workload candidate;
  Workload stable;
  int weight = 0;  // candidate's weight; the comparison needs the stable to get traffic too
  // When the step's weights were written: the comparison counts requests since then.
  std::chrono::system_clock::time_point started_at;
};

struct AnalysisResult {
  checks::Verdict verdict = checks::Verdict::kInconclusive;  // kPass or kFail when done
  std::string message;  // one line: which metric decided, and its value
  // One per metric and, when configured, "error-rate-comparison", for junit.xml and the logs.
  std::vector<checks::CheckResult> checks;
  std::vector<report::MetricRecord> metrics;
};

// The clock and waits, injectable so tests run without real time.
struct AnalysisDeps {
  PrometheusClient* prometheus = nullptr;                      // borrowed
  std::function<std::chrono::system_clock::time_point()> now;  // default: system clock
  std::function<void(std::chrono::milliseconds)> sleep;        // default: sleep_for
  const std::atomic<bool>* interrupted = nullptr;              // stop early: kInconclusive
  // Called after each round of measurements with one line of progress ("request-success-rate
  // 99.8% (min 99) pass 1/2; ... 40s elapsed, 80s left").
  std::function<void(const std::string&)> progress;
};

class Analysis {
 public:
  Analysis(const config::AnalysisSpec& spec, AnalysisDeps deps);
  // Blocks until a verdict, the window's end, or an interrupt.
  AnalysisResult Run(const StepTarget& target);

 private:
  config::AnalysisSpec spec_;
  AnalysisDeps deps_;
};

}  // namespace canaryctl::analysis

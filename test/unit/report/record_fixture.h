// A small, fully populated RolloutRecord for the report writers' golden tests: a hybrid
// rollout that passed its checks at 0% and failed one at 30% (with analysis and generated
// load there), then rolled back in 850 ms.
#pragma once

#include <limits>
#include <string>
#include <utility>

#include "report/rollout_record.h"

namespace canaryctl::report::testing {

inline StepRecord Step(std::string phase, int weight, int64_t started_at = 0,
                       int64_t finished_at = 0) {
  StepRecord s;
  s.phase = std::move(phase);
  s.weight = weight;
  s.started_at = started_at;
  s.finished_at = finished_at;
  return s;
}

// A metric whose last measurement was NaN (Prometheus answers NaN for 0/0: no traffic).
inline MetricRecord NanMetric(std::string name, Verdict verdict = Verdict::kInconclusive) {
  MetricRecord m;
  m.name = std::move(name);
  m.value = std::numeric_limits<double>::quiet_NaN();
  m.verdict = verdict;
  return m;
}

inline RolloutRecord SampleRecord() {
  using std::chrono::milliseconds;
  RolloutRecord r;
  r.app = "demoapp";
  r.strategy = "hybrid";
  r.phase = "shift";
  r.outcome = Outcome::kRolledBack;
  r.message = "health failed at 30%";
  r.started_at = 1700000000;
  r.finished_at = 1700000230;
  r.stable = {"prod", "demoapp", "demoapp-1.0.0", "1.0.0", 3, "aaaa1111"};
  r.candidate = {"stage", "demoapp", "demoapp-1.1.0", "1.1.0", 2, "bbbb2222"};
  r.pipeline = {"1234",     "https://gitlab.example.com/g/demo/-/pipelines/1234", "99",
                "shift-30", "https://gitlab.example.com/g/demo/-/jobs/99",        "alice",
                "main"};
  StepRecord test = Step("test", 0, 1700000000, 1700000060);
  test.duration = std::chrono::milliseconds(59250);
  test.checks.push_back({"health", Verdict::kPass, "status 200", milliseconds(120), "ok"});
  test.checks.push_back({"e2e", Verdict::kPass, "", milliseconds(2500), ""});
  StepRecord shift = Step("shift", 30, 1700000100, 1700000190);
  shift.checks.push_back(
      {"health", Verdict::kFail, "status 500, want 200", milliseconds(250), "HTTP 500"});
  shift.checks.push_back({"latency", Verdict::kInconclusive, "no data", milliseconds(0), ""});
  shift.metrics.push_back({"request-success-rate", "%", 80.5, 99.0, std::nullopt, Verdict::kFail, 2,
                           "80.5% is below 99%"});
  shift.metrics.push_back({"request-duration", "ms", 120.0, std::nullopt, 500.0, Verdict::kPass, 2,
                           "120 ms is within 500 ms"});
  shift.load = LoadRecord{300, 58, 140.5, {{"1.0.0", 210}, {"1.1.0", 90}}};
  r.steps = {test, shift};
  r.rollback_ms = 850;
  r.weights = {{1700000000, 100, 0, "deploy"},
               {1700000100, 70, 30, "shift 30"},
               {1700000200, 100, 0, "rollback"}};
  r.changelog = {"bbbb222 Add search", "ccc3333 Fix login"};
  r.dashboards = {{"Grafana", "https://grafana.example.com/d/demo"}};
  r.environment_name = "production";
  r.environment_url = "https://demo.example.com";
  return r;
}

}  // namespace canaryctl::report::testing

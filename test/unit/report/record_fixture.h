// A small, fully populated RolloutRecord for the report writers' golden tests: a hybrid
// rollout that passed its checks at 0% and failed one at 30%, then rolled back.
#pragma once

#include "report/rollout_record.h"

namespace canaryctl::report::testing {

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
  StepRecord test{"test", 0, 1700000000, {}};
  test.checks.push_back({"health", Verdict::kPass, "status 200", milliseconds(120), "ok"});
  test.checks.push_back({"e2e", Verdict::kPass, "", milliseconds(2500), ""});
  StepRecord shift{"shift", 30, 1700000100, {}};
  shift.checks.push_back(
      {"health", Verdict::kFail, "status 500, want 200", milliseconds(250), "HTTP 500"});
  shift.checks.push_back({"latency", Verdict::kInconclusive, "no data", milliseconds(0), ""});
  r.steps = {test, shift};
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

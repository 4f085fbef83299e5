// Overrides of rollout.yaml keys, applied after the file: CANARYCTL_* environment variables, then
// command-line flags (flags win over variables, variables over the file).
//
// CANARYCTL_<KEY> is the key path in upper snake case (camelCase split, dots as _). The table:
//   CANARYCTL_APP                              app
//   CANARYCTL_STRATEGY                         strategy (hybrid|canary|blue-green)
//   CANARYCTL_HELM_CHART                       helm.chart
//   CANARYCTL_HELM_VERSION                     helm.version
//   CANARYCTL_HELM_REPO                        helm.repo
//   CANARYCTL_HELM_VALUES                      helm.values (comma-separated files)
//   CANARYCTL_HELM_TIMEOUT                     helm.timeout (duration)
//   CANARYCTL_STABLE_NAMESPACE|RELEASE|SERVICE|WORKLOAD      stable.namespace, .release, ...
//   CANARYCTL_CANDIDATE_NAMESPACE|RELEASE|SERVICE|WORKLOAD   candidate.namespace, ...
//   CANARYCTL_TRAFFIC_VIRTUAL_SERVICE_NAMESPACE traffic.virtualService.namespace
//   CANARYCTL_TRAFFIC_VIRTUAL_SERVICE_NAME     traffic.virtualService.name
//   CANARYCTL_TRAFFIC_VIRTUAL_SERVICE_CREATE   traffic.virtualService.create (true|false)
//   CANARYCTL_TRAFFIC_STEPS                    traffic.steps (comma-separated, e.g. "0,30,100")
//   CANARYCTL_TRAFFIC_TEST_ROUTE_HEADER|VALUE  traffic.testRoute.header, .value
//   CANARYCTL_TRAFFIC_PORT                     traffic.port
//   CANARYCTL_ANALYSIS_PROMETHEUS_URL          analysis.prometheus.url
//   CANARYCTL_ANALYSIS_INTERVAL|WINDOW         analysis.interval, analysis.window (durations)
//   CANARYCTL_ANALYSIS_PASSES|FAILURES         analysis.passes, analysis.failures (integers)
//   CANARYCTL_ANALYSIS_COMPARISON_FALSE_ROLLBACK_RATE|MISSED_REGRESSION_RATE|TOLERANCE|
//     MIN_ERROR_RATE                           analysis.comparison.* (numbers)
//   CANARYCTL_LOAD_URL|METHOD                  load.url, load.method
//   CANARYCTL_LOAD_RATE|CONCURRENCY            load.rate (number), load.concurrency (integer)
//   CANARYCTL_LOAD_DURATION|TIMEOUT            load.duration, load.timeout (durations)
//   CANARYCTL_LOAD_SPLIT_HEADER|JSON|CANDIDATE load.split.header, .json, .candidate
//   CANARYCTL_LOAD_SPLIT_CONFIDENCE            load.split.confidence (number)
// A variable that sets a key of an optional section (analysis, its comparison, load, its split)
// creates the section, as writing the key in the file would.
//   CANARYCTL_ROLLBACK_AUTO                    rollback.auto (true|false)
//   CANARYCTL_ROLLBACK_CANDIDATE               rollback.candidate (keep|rollback|uninstall)
//   CANARYCTL_REPORTS_DIR                      reports.dir
//   CANARYCTL_LOCK_TTL                         lock.ttl (duration)
// Other CANARYCTL_* variables are ignored, not errors: canaryctl's own rollout.env report passes
// CANARYCTL_* facts to later jobs, and those must not break loading.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "config/rollout_spec.h"

namespace canaryctl::config {

struct Override {
  std::string key;     // key path as in rollout.yaml, e.g. "reports.dir"
  std::string value;   // as text, in the same syntax as the CANARYCTL_* variable
  std::string source;  // what set it, for errors, e.g. "--reports"
};

// What the command line sets; applied after the CANARYCTL_* variables.
struct Overrides {
  std::vector<Override> entries;
  void Add(std::string key, std::string value, std::string source) {
    entries.push_back({std::move(key), std::move(value), std::move(source)});
  }
};

struct OverrideKey {
  std::string key;       // "traffic.steps"
  std::string variable;  // "CANARYCTL_TRAFFIC_STEPS"
  std::string expected;  // "a comma-separated list of integers"
  // Sets the key from text; false when the text is not what `expected` says.
  std::function<bool(RolloutSpec*, const std::string&)> apply;
};

// Every key that a variable or flag may override.
const std::vector<OverrideKey>& OverrideTable();

// The table entry for a key path, or nullptr.
const OverrideKey* FindOverrideKey(const std::string& key);

std::optional<Strategy> ParseStrategy(const std::string& text);
std::optional<CandidateAfterRollback> ParseCandidateAction(const std::string& text);

}  // namespace canaryctl::config

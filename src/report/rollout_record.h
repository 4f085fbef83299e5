// What the report writers (shared/DESIGN.md §7) are written from: one rollout as the engine
// saw it. Plain data; the engine fills it, the writers only read it. Strings may hold
// anything (check output, commit subjects): every writer redacts and sanitizes them.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "checks/check.h"

namespace canaryctl::report {

// The checks' own verdicts and results, recorded as they were returned.
using checks::Verdict;
using checks::VerdictName;  // "pass", "fail", "inconclusive"
using CheckRecord = checks::CheckResult;

enum class Outcome { kInProgress, kSucceeded, kFailed, kRolledBack, kRollbackFailed, kInterrupted };

// "in_progress", "succeeded", "failed", "rolled_back", "rollback_failed", "interrupted".
const char* OutcomeName(Outcome o);
inline constexpr Outcome kAllOutcomes[] = {Outcome::kInProgress,     Outcome::kSucceeded,
                                           Outcome::kFailed,         Outcome::kRolledBack,
                                           Outcome::kRollbackFailed, Outcome::kInterrupted};

// One metric of analysis at one step: its last measurement and verdict.
struct MetricRecord {
  std::string name;             // "request-success-rate", "request-duration", custom
  std::string unit;             // "%", "ms", "" for custom metrics
  std::optional<double> value;  // last measurement; nullopt: no data
  std::optional<double> min;    // limits as configured
  std::optional<double> max;
  Verdict verdict = Verdict::kInconclusive;
  int measurements = 0;  // how many were taken
  std::string message;   // why this verdict
};

// Traffic canaryctl generated itself during a step (config `load:`).
struct LoadRecord {
  int64_t requests = 0;                       // answered or not
  int64_t errors = 0;                         // 5xx, timeouts and connection failures
  double p99_ms = 0;                          // latency
  std::map<std::string, int64_t> by_version;  // answers per `load.split` value ("" = unknown)
};

// One step of the plan as run: the phase ("test", "shift", "promote", ...) at a weight.
struct StepRecord {
  std::string phase;
  int weight = 0;           // candidate's weight in percent
  int64_t started_at = 0;   // unix seconds
  int64_t finished_at = 0;  // unix seconds; 0: unknown
  // The judging, start to end: checks, load and analysis (waits included), in ms.
  std::chrono::milliseconds duration{0};
  // Every verdict of the step, in order: checks, then "traffic-split" (load), then one per
  // analysis metric and "error-rate-comparison".
  std::vector<CheckRecord> checks;
  std::vector<MetricRecord> metrics;  // analysis, when configured and run at this step
  std::optional<LoadRecord> load;
};

struct WeightChange {
  int64_t at = 0;  // unix seconds
  int stable = 100;
  int candidate = 0;
  std::string reason;  // e.g. "shift 30", "rollback"
};

struct ReleaseInfo {
  std::string namespace_name;
  std::string release;
  std::string chart;    // e.g. "demoapp-1.2.0"
  std::string version;  // app version
  int revision = 0;     // helm revision; 0 = unknown
  std::string commit;   // git SHA
};

struct PipelineInfo {
  std::string pipeline_id;
  std::string pipeline_url;
  std::string job_id;
  std::string job_name;
  std::string job_url;
  std::string user;
  std::string ref;
};

struct Link {
  std::string label;
  std::string url;
};

struct RolloutRecord {
  std::string app;
  std::string strategy;  // hybrid | canary | blue-green
  std::string phase;     // the phase this command ran
  Outcome outcome = Outcome::kInProgress;
  std::string message;  // why, when not succeeded
  int64_t started_at = 0;
  int64_t finished_at = 0;
  ReleaseInfo stable;
  ReleaseInfo candidate;
  PipelineInfo pipeline;
  std::vector<StepRecord> steps;
  std::vector<WeightChange> weights;  // oldest first
  // Automatic rollback: milliseconds from the failing verdict to stable=100 written.
  std::optional<int64_t> rollback_ms;
  std::vector<std::string> changelog;  // one line per commit, e.g. "abc1234 Fix login"
  std::vector<Link> dashboards;
  std::string environment_name;
  std::string environment_url;
  // Extra rollout.env variables (from configuration); must be CANARYCTL_* keys. Built-in
  // keys win over these; extras beyond GitLab's limit are dropped with a warning.
  std::map<std::string, std::string> extra_env;
};

// The last recorded weights, or stable=100/candidate=0 when none was recorded.
WeightChange CurrentWeights(const RolloutRecord& record);

// The check names of a step made unique ("e2e", "e2e #2"): GitLab keeps only the first
// testcase of a duplicated name, and OpenMetrics forbids duplicate label sets.
std::vector<std::string> UniqueCheckNames(const StepRecord& step);
// The same for the analysis metrics of a step ("metric" when unnamed).
std::vector<std::string> UniqueMetricNames(const StepRecord& step);

// "shift/30": the JUnit classname and suite name of a step.
std::string StepLabel(const StepRecord& step);

}  // namespace canaryctl::report

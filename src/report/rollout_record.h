// What the report writers (shared/DESIGN.md §7) are written from: one rollout as the engine
// saw it. Plain data; the engine fills it, the writers only read it. Strings may hold
// anything (check output, commit subjects): every writer redacts and sanitizes them.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
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

// One step of the plan as run: the phase ("test", "shift", "promote", ...) at a weight.
struct StepRecord {
  std::string phase;
  int weight = 0;          // candidate's weight in percent
  int64_t started_at = 0;  // unix seconds
  std::vector<CheckRecord> checks;
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
  std::vector<WeightChange> weights;   // oldest first
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

// "shift/30": the JUnit classname and suite name of a step.
std::string StepLabel(const StepRecord& step);

}  // namespace canaryctl::report

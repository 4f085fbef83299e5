#include "report/rollout_record.h"

#include <set>

namespace canaryctl::report {

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kInProgress:
      return "in_progress";
    case Outcome::kSucceeded:
      return "succeeded";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kRolledBack:
      return "rolled_back";
    case Outcome::kRollbackFailed:
      return "rollback_failed";
    case Outcome::kInterrupted:
      return "interrupted";
  }
  return "in_progress";
}

WeightChange CurrentWeights(const RolloutRecord& record) {
  if (record.weights.empty()) return WeightChange{};
  return record.weights.back();
}

namespace {

template <typename Record>
std::vector<std::string> UniqueNames(const std::vector<Record>& records, const char* unnamed) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const Record& r : records) {
    std::string base = r.name.empty() ? std::string(unnamed) : r.name;
    std::string name = base;
    for (int n = 2; seen.count(name) != 0; ++n) name = base + " #" + std::to_string(n);
    seen.insert(name);
    names.push_back(name);
  }
  return names;
}

}  // namespace

std::vector<std::string> UniqueCheckNames(const StepRecord& step) {
  return UniqueNames(step.checks, "check");
}

std::vector<std::string> UniqueMetricNames(const StepRecord& step) {
  return UniqueNames(step.metrics, "metric");
}

std::string StepLabel(const StepRecord& step) {
  return (step.phase.empty() ? std::string("step") : step.phase) + "/" +
         std::to_string(step.weight);
}

}  // namespace canaryctl::report

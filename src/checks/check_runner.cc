#include "checks/check_runner.h"

namespace canaryctl::checks {

StepVerdict CheckRunner::Run(const std::vector<Check*>& checks, const StepContext& step) const {
  StepVerdict out;
  bool failed = false;
  bool inconclusive = false;
  for (Check* check : checks) {
    if (failed && fail_fast_) {
      out.skipped.push_back(check->name());
      continue;
    }
    CheckResult result = check->Run(step);
    failed = failed || result.verdict == Verdict::kFail;
    inconclusive = inconclusive || result.verdict == Verdict::kInconclusive;
    out.results.push_back(std::move(result));
  }
  out.verdict = failed ? Verdict::kFail : inconclusive ? Verdict::kInconclusive : Verdict::kPass;
  return out;
}

}  // namespace canaryctl::checks

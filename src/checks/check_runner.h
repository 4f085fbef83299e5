// Runs a step's checks one after another and folds their verdicts into the step's: any fail
// makes it fail; otherwise any inconclusive makes it inconclusive; otherwise it passes (also
// when there are no checks: nothing was asked). With fail_fast, the checks after the first
// failing one are not run and are listed as skipped.
#pragma once

#include <string>
#include <vector>

#include "checks/check.h"

namespace canaryctl::checks {

struct StepVerdict {
  Verdict verdict = Verdict::kPass;
  std::vector<CheckResult> results;  // in the order the checks ran
  std::vector<std::string> skipped;  // names of checks not run because of fail_fast
};

class CheckRunner {
 public:
  explicit CheckRunner(bool fail_fast) : fail_fast_(fail_fast) {}

  // The checks are borrowed for the call; each may be a different kind.
  StepVerdict Run(const std::vector<Check*>& checks, const StepContext& step) const;

 private:
  bool fail_fast_;
};

}  // namespace canaryctl::checks

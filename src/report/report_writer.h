// Writes every report of shared/DESIGN.md §7 into one directory.
// Call it whether the command succeeded or failed: GitLab uploads report artifacts either
// way. Every file is attempted even when an earlier one fails.
#pragma once

#include <string>
#include <vector>

#include "ci/redactor.h"
#include "common/result.h"
#include "report/rollout_record.h"

namespace canaryctl::report {

// Writes junit.xml, rollout.env, metrics.txt, annotations.json, rollout.json, summary.md and
// report.html into `dir` (created if needed). Warnings (dropped or changed dotenv variables,
// dropped links) are appended to `warnings` when not null. On failure the error names every
// file that could not be written.
Status WriteReports(const std::string& dir, const RolloutRecord& record,
                    const ci::Redactor& redactor, std::vector<std::string>* warnings);

}  // namespace canaryctl::report

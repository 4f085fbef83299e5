// summary.md: a human summary for the job's artifacts (expose_as): what changed (charts,
// versions, revisions, commits of stable and candidate), the verdict of every check per step,
// the analysis metrics (value against limits) and generated load per step when there are
// any, the rollback time, the weights over time, the changelog and the links. Text is redacted,
// made valid UTF-8 and escaped for Markdown: table cells cannot break the table ('|', line breaks),
// no raw HTML gets through ('<', '>', '&'), and only http(s) URLs become links.
#pragma once

#include <string>

#include "ci/redactor.h"
#include "common/result.h"
#include "report/rollout_record.h"

namespace canaryctl::report {

inline constexpr char kSummaryFile[] = "summary.md";

std::string RenderSummary(const RolloutRecord& record, const ci::Redactor& redactor);
Status WriteSummary(const std::string& dir, const RolloutRecord& record,
                    const ci::Redactor& redactor);

}  // namespace canaryctl::report

// rollout.json: the whole RolloutRecord, machine-readable, keys in a fixed order.
// Strings are redacted and made valid UTF-8; times are unix seconds plus an ISO 8601 copy;
// durations are in milliseconds. The check output is capped like in junit.xml. Absent values
// (no rollback, no load at a step, a metric without data or limit, NaN) are null.
#pragma once

#include <string>

#include "ci/redactor.h"
#include "common/result.h"
#include "report/rollout_record.h"

namespace canaryctl::report {

inline constexpr char kRolloutJsonFile[] = "rollout.json";

std::string RenderRolloutJson(const RolloutRecord& record, const ci::Redactor& redactor);
Status WriteRolloutJson(const std::string& dir, const RolloutRecord& record,
                        const ci::Redactor& redactor);

}  // namespace canaryctl::report

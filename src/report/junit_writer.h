// junit.xml for artifacts:reports:junit (shared/notes/gitlab-ci.md): a <testsuite> per step
// named like its classname ("shift/30"), a <testcase> per check, time in seconds,
// <failure> for fail, <skipped> for inconclusive, <system-out> with the check's output
// (redacted, then capped to its last kMaxOutputBytes). Every string is redacted first and
// then made valid XML 1.0 (invalid UTF-8 and forbidden control characters become U+FFFD).
#pragma once

#include <string>

#include "ci/redactor.h"
#include "common/result.h"
#include "report/rollout_record.h"

namespace canaryctl::report {

inline constexpr size_t kMaxOutputBytes = 64 * 1024;
inline constexpr char kJUnitFile[] = "junit.xml";

std::string RenderJUnit(const RolloutRecord& record, const ci::Redactor& redactor);
Status WriteJUnit(const std::string& dir, const RolloutRecord& record,
                  const ci::Redactor& redactor);

}  // namespace canaryctl::report

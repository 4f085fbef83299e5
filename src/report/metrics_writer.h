// metrics.txt for artifacts:reports:metrics: OpenMetrics text, one gauge family per fact,
// each with # HELP and # TYPE before its samples, names canaryctl_<snake_case>, label values
// redacted, made valid UTF-8 and escaped (\\, \", \n), ending with "# EOF".
// Families: canaryctl_rollout_outcome{outcome} (1 for the outcome, 0 for the others),
// canaryctl_candidate_weight, canaryctl_stable_weight, canaryctl_step_weight{step,phase},
// canaryctl_check_duration_seconds{step,phase,weight,check},
// canaryctl_check_verdict{step,phase,weight,check} (1 pass, 0 fail, -1 inconclusive),
// canaryctl_checks{verdict} (counts); with analysis
// canaryctl_analysis_value{step,phase,weight,metric} (steps with data only) and
// canaryctl_analysis_verdict{...}; with generated load canaryctl_load_requests{step,phase,
// weight}, canaryctl_load_errors, canaryctl_load_latency_p99_seconds and
// canaryctl_load_responses{...,version}; canaryctl_rollback_duration_seconds (after an
// automatic rollback), canaryctl_rollout_duration_seconds (when finished).
// Every sample also carries app="...".
#pragma once

#include <string>

#include "ci/redactor.h"
#include "common/result.h"
#include "report/rollout_record.h"

namespace canaryctl::report {

inline constexpr char kMetricsFile[] = "metrics.txt";

std::string RenderMetrics(const RolloutRecord& record, const ci::Redactor& redactor);
Status WriteMetrics(const std::string& dir, const RolloutRecord& record,
                    const ci::Redactor& redactor);

}  // namespace canaryctl::report

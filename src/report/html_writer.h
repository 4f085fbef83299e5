// report.html: the rollout for people, in one self-contained HTML5 file (inline CSS and SVG,
// no scripts, no external resources) that a browser opens from a job's artifacts:
// - header: app, strategy, outcome (coloured), message, pipeline and job links, times;
// - timeline: the candidate's weight over time (RolloutRecord::weights) as a step chart, one
//   marker per step in its worst verdict's colour, the rollback (the last weight change whose
//   reason contains "rollback") marked with rollback_ms;
// - the candidate's success rate and p99 latency per step against their limits (the metrics
//   named "request-success-rate" and "request-duration"; others are in the tables only);
// - per step: a table of every check verdict, a table of analysis metric values, and the
//   load canaryctl generated (answers per version);
// - the releases (stable, candidate) and the commits being rolled out; links.
// The output is also well-formed XML (void elements self-closed, only XML's predefined
// entities), so tools and tests can parse it. Text is redacted before anything else, made
// valid XML characters and escaped; only absolute http(s) URLs (LinkableUrl) become links.
#pragma once

#include <string>

#include "ci/redactor.h"
#include "common/result.h"
#include "report/rollout_record.h"

namespace canaryctl::report {

inline constexpr char kHtmlReportFile[] = "report.html";

// Pure: the same record gives the same bytes (no clock, no environment).
std::string RenderHtmlReport(const RolloutRecord& record, const ci::Redactor& redactor);
Status WriteHtmlReport(const std::string& dir, const RolloutRecord& record,
                       const ci::Redactor& redactor);

}  // namespace canaryctl::report

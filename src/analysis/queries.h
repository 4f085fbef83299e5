// The PromQL canaryctl sends: the built-in metrics (Flagger's Istio queries, measured on the
// candidate's workload only), custom metric templates with placeholders, and the request and
// error counts behind the error-rate comparison. Pure text functions; nothing is sent here.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "analysis/analysis.h"
#include "common/result.h"

namespace canaryctl::analysis {

// A PromQL range for [..]: whole seconds as "90s" (never "1m30s", which older Prometheus
// versions reject), otherwise milliseconds ("1500ms"); at least "1ms".
std::string PromqlRange(std::chrono::milliseconds range);

// `text` as a double-quoted PromQL string literal, quotes included.
std::string PromqlString(std::string_view text);

// `text` with RE2's metacharacters escaped, so that =~ matches exactly `text` (Prometheus
// anchors the regex). The result still has to go through PromqlString.
std::string RegexEscape(std::string_view text);

// The query of a built-in metric (config::IsBuiltinMetric) for one workload, over `interval`:
//   request-success-rate: percentage of requests answered without a 5xx;
//   request-duration: p99 of the request duration in milliseconds.
// nullopt for any other name.
std::optional<std::string> BuiltinQuery(const std::string& name, const Workload& workload,
                                        std::chrono::milliseconds interval);

// Custom metric queries may use these placeholders, written {{name}} or {{ name }}:
//   {{namespace}} {{workload}} {{service}}                       the candidate's
//   {{stable_namespace}} {{stable_workload}} {{stable_service}}  the stable's
//   {{interval}}                                                 analysis.interval as a range
// Values are inserted as they are (names are DNS labels: nothing to quote). Returns the error
// for an unknown placeholder or an unclosed "{{", nullopt when the template is fine.
std::optional<std::string> ValidateQueryTemplate(const std::string& query);

// The template with its placeholders replaced; a kConfig error as ValidateQueryTemplate says.
Result<std::string> ExpandQueryTemplate(const std::string& query, const Workload& candidate,
                                        const Workload& stable, std::chrono::milliseconds interval);

// Requests received by one workload over the last `range` (Istio's destination reporter), and
// those answered with a 5xx: increase() of istio_requests_total, summed over all series.
std::string RequestsQuery(const Workload& workload, std::chrono::milliseconds range);
std::string ErrorsQuery(const Workload& workload, std::chrono::milliseconds range);

// A count from RequestsQuery/ErrorsQuery as a whole number of requests. increase()
// extrapolates to the ends of the range, so counts come back fractional (e.g. 41.7): rounded
// to the nearest integer; no data and negative values count as 0.
long long RoundCount(std::optional<double> value);

}  // namespace canaryctl::analysis

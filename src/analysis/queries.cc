#include "analysis/queries.h"

#include <cmath>
#include <map>

#include "common/quote.h"

namespace canaryctl::analysis {
namespace {

// Istio's labels of the requests one workload received, as its sidecar (the destination
// reporter) saw them.
std::string Selector(const Workload& workload) {
  return "reporter=\"destination\",destination_workload_namespace=" +
         PromqlString(workload.namespace_name) + ",destination_workload=~" +
         PromqlString(RegexEscape(workload.name));
}

std::string Trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return "";
  const auto last = text.find_last_not_of(" \t");
  return std::string(text.substr(first, last - first + 1));
}

constexpr const char* kPlaceholders =
    "{{namespace}}, {{workload}}, {{service}}, {{interval}}, {{stable_namespace}}, "
    "{{stable_workload}}, {{stable_service}}";

// Replaces every {{name}} by values.at(name) (or, with values null, only checks the names).
// Returns the error message, or nullopt.
std::optional<std::string> Substitute(const std::string& query,
                                      const std::map<std::string, std::string>* values,
                                      std::string* out) {
  static const std::map<std::string, std::string> kNone = {
      {"namespace", ""},        {"workload", ""},        {"service", ""},       {"interval", ""},
      {"stable_namespace", ""}, {"stable_workload", ""}, {"stable_service", ""}};
  const auto& known = values != nullptr ? *values : kNone;
  std::string result;
  std::size_t pos = 0;
  while (true) {
    const auto open = query.find("{{", pos);
    if (open == std::string::npos) break;
    const auto close = query.find("}}", open + 2);
    if (close == std::string::npos) {
      return "unclosed \"{{\" at offset " + std::to_string(open) +
             " (placeholders: " + kPlaceholders + ")";
    }
    const std::string name = Trim(std::string_view(query).substr(open + 2, close - open - 2));
    const auto value = known.find(name);
    if (value == known.end()) {
      return "unknown placeholder \"" + query.substr(open, close + 2 - open) +
             "\" (placeholders: " + kPlaceholders + ")";
    }
    result.append(query, pos, open - pos);
    result += value->second;
    pos = close + 2;
  }
  result.append(query, pos, std::string::npos);
  if (out != nullptr) *out = std::move(result);
  return std::nullopt;
}

}  // namespace

std::string PromqlRange(std::chrono::milliseconds range) {
  const auto ms = std::max<std::chrono::milliseconds::rep>(1, range.count());
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string PromqlString(std::string_view text) { return GoQuote(text); }

std::string RegexEscape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (std::string_view("\\.+*?()|[]{}^$").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

std::optional<std::string> BuiltinQuery(const std::string& name, const Workload& workload,
                                        std::chrono::milliseconds interval) {
  const std::string selector = Selector(workload);
  const std::string range = "[" + PromqlRange(interval) + "]";
  if (name == "request-success-rate") {
    // Flagger's query, plus "or on() vector(0)" on the numerator: a candidate that answers
    // nothing but 5xx measures 0%, not "no data" (which would read as no traffic).
    return "(sum(rate(istio_requests_total{" + selector + ",response_code!~\"5.*\"}" + range +
           ")) or on() vector(0)) / sum(rate(istio_requests_total{" + selector + "}" + range +
           ")) * 100";
  }
  if (name == "request-duration") {
    return "histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{" +
           selector + "}" + range + ")) by (le))";
  }
  return std::nullopt;
}

std::optional<std::string> ValidateQueryTemplate(const std::string& query) {
  return Substitute(query, nullptr, nullptr);
}

Result<std::string> ExpandQueryTemplate(const std::string& query, const Workload& candidate,
                                        const Workload& stable,
                                        std::chrono::milliseconds interval) {
  const std::map<std::string, std::string> values = {{"namespace", candidate.namespace_name},
                                                     {"workload", candidate.name},
                                                     {"service", candidate.service},
                                                     {"interval", PromqlRange(interval)},
                                                     {"stable_namespace", stable.namespace_name},
                                                     {"stable_workload", stable.name},
                                                     {"stable_service", stable.service}};
  std::string out;
  if (auto error = Substitute(query, &values, &out)) return ConfigError(*error);
  return out;
}

std::string RequestsQuery(const Workload& workload, std::chrono::milliseconds range) {
  return "sum(increase(istio_requests_total{" + Selector(workload) + "}[" + PromqlRange(range) +
         "]))";
}

std::string ErrorsQuery(const Workload& workload, std::chrono::milliseconds range) {
  return "sum(increase(istio_requests_total{" + Selector(workload) + ",response_code=~\"5.*\"}[" +
         PromqlRange(range) + "]))";
}

long long RoundCount(std::optional<double> value) {
  if (!value || !std::isfinite(*value) || *value <= 0) return 0;
  return std::llround(*value);
}

}  // namespace canaryctl::analysis

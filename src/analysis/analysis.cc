#include "analysis/analysis.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <utility>

#include "analysis/queries.h"
#include "analysis/sequential_test.h"
#include "config/duration.h"

namespace canaryctl::analysis {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using Clock = std::chrono::system_clock;

constexpr const char* kComparisonName = "error-rate-comparison";
// Waits are cut into slices this long so that an interrupt is noticed quickly.
constexpr milliseconds kSleepSlice{200};

std::string Unit(const std::string& metric) {
  if (metric == "request-success-rate") return "%";
  if (metric == "request-duration") return "ms";
  return "";
}

// Progress and messages need no milliseconds: "1m30s".
std::string Seconds(milliseconds d) {
  return config::FormatDuration(std::chrono::round<std::chrono::seconds>(d));
}

// "99.5%", "120ms", "+Inf ms".
std::string ValueText(double value, const std::string& unit) {
  if (!std::isfinite(value) && !unit.empty()) return FormatNumber(value) + " " + unit;
  return FormatNumber(value) + unit;
}

struct MetricState {
  const config::MetricSpec* spec = nullptr;
  std::string unit;
  std::string query;
  checks::Verdict verdict = checks::Verdict::kInconclusive;
  bool decided = false;
  int pass_run = 0;
  int fail_run = 0;
  int measurements = 0;
  bool had_data = false;
  std::optional<double> value;  // last measurement
  std::string note;             // last measurement, for messages: "99.5% (min 99)", "no data"
  milliseconds decided_after{0};

  std::string Limits() const {
    std::string text;
    if (spec->min) text += "min " + FormatNumber(*spec->min);
    if (spec->max)
      text += std::string(text.empty() ? "" : ", ") + "max " + FormatNumber(*spec->max);
    return "(" + text + ")";
  }
  bool WithinLimits(double v) const {
    return (!spec->min || v >= *spec->min) && (!spec->max || v <= *spec->max);
  }
};

struct ComparisonState {
  bool decided = false;
  checks::Verdict verdict = checks::Verdict::kInconclusive;
  int measurements = 0;
  long long candidate_requests = 0;  // the most seen
  std::string note;                  // last measurement
  milliseconds decided_after{0};
};

std::string Join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string text;
  for (const auto& part : parts) text += (text.empty() ? "" : separator) + part;
  return text;
}

}  // namespace

Analysis::Analysis(const config::AnalysisSpec& spec, AnalysisDeps deps)
    : spec_(spec), deps_(std::move(deps)) {
  if (!deps_.now) deps_.now = [] { return Clock::now(); };
  if (!deps_.sleep) deps_.sleep = [](milliseconds d) { std::this_thread::sleep_for(d); };
}

AnalysisResult Analysis::Run(const StepTarget& target) {
  const auto start = deps_.now();
  const auto window = std::max(spec_.window, milliseconds(1));
  const auto interval = std::max(spec_.interval, milliseconds(1));
  const auto deadline = start + window;
  // The comparison counts requests since the weights were written (or, unknown, since now).
  const auto counted_from =
      target.started_at.time_since_epoch().count() == 0 ? start : target.started_at;
  const auto elapsed = [&] { return duration_cast<milliseconds>(deps_.now() - start); };
  const auto interrupted = [&] {
    return deps_.interrupted != nullptr && deps_.interrupted->load();
  };

  std::vector<MetricState> metrics;
  for (const auto& spec : spec_.metrics) {
    MetricState m;
    m.spec = &spec;
    m.unit = Unit(spec.name);
    metrics.push_back(std::move(m));
  }
  ComparisonState comparison;
  std::string last_error;    // the latest Prometheus error, for the final message
  bool saw_no_data = false;  // a query answered, with no data (or no candidate requests)

  AnalysisResult result;
  // Fills result.checks and .metrics from the states; undecided ones get `undecided`.
  const auto finish = [&](checks::Verdict verdict, std::string message, checks::Verdict undecided) {
    result.verdict = verdict;
    result.message = std::move(message);
    const auto total = elapsed();
    for (const auto& m : metrics) {
      checks::CheckResult check;
      check.name = m.spec->name;
      check.verdict = m.decided ? m.verdict : undecided;
      check.message = m.note.empty() ? "not measured" : m.note;
      if (!m.decided && m.measurements > 0) {
        check.message += " (undecided after " + std::to_string(m.measurements) +
                         (m.measurements == 1 ? " measurement)" : " measurements)");
      }
      check.duration = m.decided ? m.decided_after : total;
      check.attempts = std::max(1, m.measurements);
      result.checks.push_back(check);
      report::MetricRecord record;
      record.name = m.spec->name;
      record.unit = m.unit;
      record.value = m.value;
      record.min = m.spec->min;
      record.max = m.spec->max;
      record.verdict = check.verdict;
      record.measurements = m.measurements;
      record.message = check.message;
      result.metrics.push_back(std::move(record));
    }
    if (spec_.comparison) {
      checks::CheckResult check;
      check.name = kComparisonName;
      check.verdict = comparison.decided ? comparison.verdict : undecided;
      check.message = comparison.note.empty() ? "not measured" : comparison.note;
      check.duration = comparison.decided ? comparison.decided_after : total;
      check.attempts = std::max(1, comparison.measurements);
      result.checks.push_back(std::move(check));
    }
    return result;
  };

  if (deps_.prometheus == nullptr) {
    return finish(checks::Verdict::kFail, "analysis: no Prometheus client",
                  checks::Verdict::kInconclusive);
  }
  for (auto& m : metrics) {
    Result<std::string> query = ConfigError("metric \"" + m.spec->name + "\" has no query");
    if (m.spec->query) {
      query = ExpandQueryTemplate(*m.spec->query, target.candidate, target.stable, interval);
    } else if (auto builtin = BuiltinQuery(m.spec->name, target.candidate, interval)) {
      query = *builtin;
    }
    if (!query.ok()) {
      // A configuration mistake: waiting out the window would not fix it.
      m.decided = true;
      m.verdict = checks::Verdict::kFail;
      m.note = query.error().message;
      return finish(checks::Verdict::kFail, m.spec->name + ": " + m.note,
                    checks::Verdict::kInconclusive);
    }
    m.query = std::move(query).value();
  }

  // Sleeps until `until` in slices; false when interrupted.
  const auto sleep_until = [&](Clock::time_point until) {
    while (!interrupted()) {
      const auto left = duration_cast<milliseconds>(until - deps_.now());
      if (left <= milliseconds(0)) return true;
      deps_.sleep(std::min(left, kSleepSlice));
    }
    return false;
  };
  const auto interrupted_result = [&] {
    return finish(checks::Verdict::kInconclusive,
                  "analysis interrupted after " + Seconds(elapsed()),
                  checks::Verdict::kInconclusive);
  };

  const auto measure_metric = [&](MetricState& m) {
    ++m.measurements;
    auto value = deps_.prometheus->Query(m.query);
    if (!value.ok()) {
      last_error = value.error().message;
      m.pass_run = m.fail_run = 0;
      m.note = "error: " + last_error;
      return;
    }
    m.value = value.value();
    if (!m.value) {
      saw_no_data = true;
      m.pass_run = m.fail_run = 0;
      m.note = "no data " + m.Limits();
      return;
    }
    m.had_data = true;
    const bool pass = m.WithinLimits(*m.value);
    m.pass_run = pass ? m.pass_run + 1 : 0;
    m.fail_run = pass ? 0 : m.fail_run + 1;
    m.note = ValueText(*m.value, m.unit) + " " + m.Limits();
    if (pass && m.pass_run >= spec_.passes) {
      m.decided = true;
      m.verdict = checks::Verdict::kPass;
      m.note += ": " + std::to_string(m.pass_run) + " passing measurement" +
                (m.pass_run == 1 ? "" : "s in a row");
    } else if (!pass && m.fail_run >= spec_.failures) {
      m.decided = true;
      m.verdict = checks::Verdict::kFail;
      m.note += ": " + std::to_string(m.fail_run) + " failing measurement" +
                (m.fail_run == 1 ? "" : "s in a row");
    } else {
      m.note += pass ? " pass " + std::to_string(m.pass_run) + "/" + std::to_string(spec_.passes)
                     : " fail " + std::to_string(m.fail_run) + "/" + std::to_string(spec_.failures);
    }
    if (m.decided) m.decided_after = elapsed();
  };

  const auto measure_comparison = [&] {
    ++comparison.measurements;
    const auto since = std::max<milliseconds>(
        milliseconds(1000), std::chrono::ceil<std::chrono::seconds>(deps_.now() - counted_from));
    ErrorCounts counts[2];  // candidate, stable
    const Workload* sides[2] = {&target.candidate, &target.stable};
    for (int side = 0; side < 2; ++side) {
      auto requests = deps_.prometheus->Query(RequestsQuery(*sides[side], since));
      auto errors =
          requests.ok() ? deps_.prometheus->Query(ErrorsQuery(*sides[side], since)) : requests;
      if (!errors.ok()) {
        last_error = errors.error().message;
        comparison.note = "error: " + last_error;
        return;
      }
      counts[side].requests = RoundCount(requests.value());
      counts[side].errors = RoundCount(errors.value());
    }
    comparison.candidate_requests = std::max(comparison.candidate_requests, counts[0].requests);
    if (counts[0].requests == 0) saw_no_data = true;
    const SequentialResult r = CompareErrorRates(counts[0], counts[1], *spec_.comparison);
    comparison.note = r.explanation;
    if (r.decision == SequentialDecision::kContinue) return;
    comparison.decided = true;
    comparison.verdict =
        r.decision == SequentialDecision::kPass ? checks::Verdict::kPass : checks::Verdict::kFail;
    comparison.decided_after = elapsed();
  };

  for (int round = 1;; ++round) {
    const auto next = std::min(start + round * interval, deadline);
    if (!sleep_until(next)) return interrupted_result();
    for (auto& m : metrics) {
      if (!m.decided) measure_metric(m);
    }
    if (spec_.comparison && !comparison.decided) measure_comparison();
    if (interrupted()) return interrupted_result();

    std::vector<std::string> parts;
    for (const auto& m : metrics) parts.push_back(m.spec->name + " " + m.note);
    if (spec_.comparison) parts.push_back(std::string(kComparisonName) + " " + comparison.note);
    const auto now_elapsed = elapsed();
    const auto left = std::max(milliseconds(0), window - now_elapsed);
    if (deps_.progress) {
      deps_.progress(Join(parts, "; ") + "; " + Seconds(now_elapsed) + " elapsed, " +
                     Seconds(left) + " left");
    }

    for (const auto& m : metrics) {
      if (m.decided && m.verdict == checks::Verdict::kFail) {
        return finish(checks::Verdict::kFail, m.spec->name + " " + m.note,
                      checks::Verdict::kInconclusive);
      }
    }
    if (comparison.decided && comparison.verdict == checks::Verdict::kFail) {
      return finish(checks::Verdict::kFail, std::string(kComparisonName) + ": " + comparison.note,
                    checks::Verdict::kInconclusive);
    }
    const bool all_passed =
        std::all_of(metrics.begin(), metrics.end(), [](const auto& m) { return m.decided; }) &&
        (!spec_.comparison || comparison.decided);
    if (all_passed)
      return finish(checks::Verdict::kPass, "passed: " + Join(parts, "; "),
                    checks::Verdict::kInconclusive);
    if (deps_.now() >= deadline) break;
  }

  // The window is over and something is still undecided: never a silent pass.
  const bool any_data =
      std::any_of(metrics.begin(), metrics.end(), [](const auto& m) { return m.had_data; }) ||
      comparison.candidate_requests > 0;
  std::vector<std::string> undecided;
  for (const auto& m : metrics) {
    if (!m.decided) undecided.push_back(m.spec->name);
  }
  if (spec_.comparison && !comparison.decided) undecided.push_back(kComparisonName);
  const std::string window_text = config::FormatDuration(window);
  std::string message;
  if (!any_data && saw_no_data) {
    message = "the candidate received no traffic: no data for " + Join(undecided, ", ") +
              " during the " + window_text + " window";
    if (!last_error.empty()) message += "; last Prometheus error: " + last_error;
  } else if (!any_data) {
    message = "no measurement of the candidate during the " + window_text +
              " window; last Prometheus error: " + last_error;
  } else {
    std::vector<std::string> notes;
    for (const auto& m : metrics) {
      if (!m.decided) notes.push_back(m.spec->name + " " + m.note);
    }
    if (spec_.comparison && !comparison.decided) {
      notes.push_back(std::string(kComparisonName) + " " + comparison.note);
    }
    message = "undecided when the " + window_text + " window ended: " + Join(notes, "; ");
  }
  return finish(checks::Verdict::kFail, message, checks::Verdict::kFail);
}

}  // namespace canaryctl::analysis

#include "report/metrics_writer.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "common/quote.h"
#include "report/atomic_file.h"
#include "report/text.h"

namespace canaryctl::report {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Families {
 public:
  Families(const ci::Redactor& redactor, std::string app)
      : redactor_(redactor), app_(std::move(app)) {}

  void Family(const std::string& name, const std::string& help) {
    out_ += "# HELP " + name + " " + help + "\n";
    out_ += "# TYPE " + name + " gauge\n";
    if (name.size() > 8 && name.compare(name.size() - 8, 8, "_seconds") == 0) {
      out_ += "# UNIT " + name + " seconds\n";
    }
  }

  void Sample(const std::string& name, const Labels& labels, const std::string& value) {
    out_ += name + "{app=\"" + Escaped(app_) + "\"";
    for (const auto& [k, v] : labels) out_ += "," + k + "=\"" + Escaped(v) + "\"";
    out_ += "} " + value + "\n";
  }

  std::string Finish() { return out_ + "# EOF\n"; }

 private:
  std::string Escaped(const std::string& v) {
    // Line breaks become spaces: some readers of this file split on them before unescaping.
    return EscapeLabelValue(OneLine(ToValidUtf8(redactor_.Redact(v))));
  }
  const ci::Redactor& redactor_;
  std::string app_;
  std::string out_;
};

const char* VerdictValue(Verdict v) {
  return v == Verdict::kPass ? "1" : v == Verdict::kFail ? "0" : "-1";
}

}  // namespace

std::string RenderMetrics(const RolloutRecord& record, const ci::Redactor& redactor) {
  Families m(redactor, record.app);
  m.Family("canaryctl_rollout_outcome", "Outcome of the rollout: 1 for the current one.");
  for (Outcome o : kAllOutcomes) {
    m.Sample("canaryctl_rollout_outcome", {{"outcome", OutcomeName(o)}},
             o == record.outcome ? "1" : "0");
  }
  WeightChange w = CurrentWeights(record);
  m.Family("canaryctl_candidate_weight", "Traffic weight of the candidate, in percent.");
  m.Sample("canaryctl_candidate_weight", {}, std::to_string(w.candidate));
  m.Family("canaryctl_stable_weight", "Traffic weight of the stable release, in percent.");
  m.Sample("canaryctl_stable_weight", {}, std::to_string(w.stable));

  if (!record.steps.empty()) {
    m.Family("canaryctl_step_weight", "Candidate weight of each step run, in percent.");
    for (size_t i = 0; i < record.steps.size(); ++i) {
      const StepRecord& s = record.steps[i];
      m.Sample("canaryctl_step_weight", {{"step", std::to_string(i)}, {"phase", s.phase}},
               std::to_string(s.weight));
    }
  }

  struct CheckSample {
    Labels labels;
    const CheckRecord* check;
  };
  std::vector<CheckSample> checks;
  int counts[3] = {0, 0, 0};
  for (size_t i = 0; i < record.steps.size(); ++i) {
    const StepRecord& s = record.steps[i];
    std::vector<std::string> names = UniqueCheckNames(s);
    for (size_t j = 0; j < s.checks.size(); ++j) {
      checks.push_back({{{"step", std::to_string(i)},
                         {"phase", s.phase},
                         {"weight", std::to_string(s.weight)},
                         {"check", names[j]}},
                        &s.checks[j]});
      ++counts[static_cast<int>(s.checks[j].verdict)];
    }
  }
  if (!checks.empty()) {
    m.Family("canaryctl_check_duration_seconds", "How long each check took.");
    for (const CheckSample& c : checks) {
      m.Sample("canaryctl_check_duration_seconds", c.labels, SecondsText(c.check->duration));
    }
    m.Family("canaryctl_check_verdict", "Verdict of each check: 1 pass, 0 fail, -1 inconclusive.");
    for (const CheckSample& c : checks) {
      m.Sample("canaryctl_check_verdict", c.labels, VerdictValue(c.check->verdict));
    }
  }
  m.Family("canaryctl_checks", "Number of checks run, by verdict.");
  for (Verdict v : {Verdict::kPass, Verdict::kFail, Verdict::kInconclusive}) {
    m.Sample("canaryctl_checks", {{"verdict", std::string(VerdictName(v))}},
             std::to_string(counts[static_cast<int>(v)]));
  }

  // Analysis: the last measurement of each metric at each step (steps without data are left
  // out of the values, not written as 0), and its verdict.
  std::vector<std::pair<Labels, const MetricRecord*>> metrics;
  std::vector<std::pair<Labels, const LoadRecord*>> loads;
  for (size_t i = 0; i < record.steps.size(); ++i) {
    const StepRecord& s = record.steps[i];
    Labels step = {
        {"step", std::to_string(i)}, {"phase", s.phase}, {"weight", std::to_string(s.weight)}};
    std::vector<std::string> names = UniqueMetricNames(s);
    for (size_t j = 0; j < s.metrics.size(); ++j) {
      Labels labels = step;
      labels.emplace_back("metric", names[j]);
      metrics.emplace_back(std::move(labels), &s.metrics[j]);
    }
    if (s.load) loads.emplace_back(step, &*s.load);
  }
  if (std::any_of(metrics.begin(), metrics.end(),
                  [](const auto& m) { return m.second->value.has_value(); })) {
    m.Family("canaryctl_analysis_value", "Last measured value of each analysis metric per step.");
    for (const auto& [labels, metric] : metrics) {
      if (metric->value) m.Sample("canaryctl_analysis_value", labels, ValueText(*metric->value));
    }
  }
  if (!metrics.empty()) {
    m.Family("canaryctl_analysis_verdict",
             "Verdict of each analysis metric per step: 1 pass, 0 fail, -1 inconclusive.");
    for (const auto& [labels, metric] : metrics) {
      m.Sample("canaryctl_analysis_verdict", labels, VerdictValue(metric->verdict));
    }
  }
  if (!loads.empty()) {
    m.Family("canaryctl_load_requests", "Requests canaryctl generated per step.");
    for (const auto& [labels, load] : loads) {
      m.Sample("canaryctl_load_requests", labels, std::to_string(load->requests));
    }
    m.Family("canaryctl_load_errors", "Generated requests that failed per step.");
    for (const auto& [labels, load] : loads) {
      m.Sample("canaryctl_load_errors", labels, std::to_string(load->errors));
    }
    m.Family("canaryctl_load_latency_p99_seconds", "p99 latency of the generated requests.");
    for (const auto& [labels, load] : loads) {
      m.Sample("canaryctl_load_latency_p99_seconds", labels, ValueText(load->p99_ms / 1000.0));
    }
    m.Family("canaryctl_load_responses", "Answers to the generated requests per version.");
    for (const auto& [labels, load] : loads) {
      for (const auto& [version, n] : load->by_version) {
        Labels with_version = labels;
        with_version.emplace_back("version", version);
        m.Sample("canaryctl_load_responses", with_version, std::to_string(n));
      }
    }
  }
  if (record.rollback_ms) {
    m.Family("canaryctl_rollback_duration_seconds",
             "Time from the failing verdict to stable=100 written.");
    m.Sample("canaryctl_rollback_duration_seconds", {},
             SecondsText(std::chrono::milliseconds(*record.rollback_ms)));
  }
  if (record.started_at != 0 && record.finished_at >= record.started_at) {
    m.Family("canaryctl_rollout_duration_seconds", "Duration of this command.");
    m.Sample("canaryctl_rollout_duration_seconds", {},
             std::to_string(record.finished_at - record.started_at));
  }
  return m.Finish();
}

Status WriteMetrics(const std::string& dir, const RolloutRecord& record,
                    const ci::Redactor& redactor) {
  return WriteFileAtomically(dir, kMetricsFile, RenderMetrics(record, redactor));
}

}  // namespace canaryctl::report

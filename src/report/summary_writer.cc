#include "report/summary_writer.h"

#include <cstdio>

#include "report/annotations_writer.h"
#include "report/atomic_file.h"
#include "report/text.h"

namespace canaryctl::report {
namespace {

class Md {
 public:
  explicit Md(const ci::Redactor& redactor) : redactor_(redactor) {}

  // Inline text: one line, HTML and table syntax neutralized, Markdown emphasis escaped.
  std::string T(const std::string& raw) const {
    std::string in = OneLine(ToValidUtf8(redactor_.Redact(raw)));
    std::string out;
    for (char c : in) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '|':
        case '\\':
        case '`':
        case '*':
        case '_':
        case '[':
        case ']':
          out.push_back('\\');
          out.push_back(c);
          break;
        default:
          out.push_back(c);
      }
    }
    return out;
  }

  // Empty cells show a dash, so a table never has a hole.
  std::string Cell(const std::string& raw) const { return raw.empty() ? "-" : T(raw); }

  std::string LinkOr(const std::string& label, const std::string& raw_url) const {
    std::string url = ToValidUtf8(redactor_.Redact(raw_url));
    if (!LinkableUrl(url)) return Cell(label);
    std::string safe;
    for (char c : url) {
      if (c == '(' || c == ')' || c == '<' || c == '>') {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
        safe += buf;
      } else {
        safe.push_back(c);
      }
    }
    return "[" + T(label.empty() ? raw_url : label) + "](" + safe + ")";
  }

 private:
  const ci::Redactor& redactor_;
};

std::string Seconds(std::chrono::milliseconds d) { return SecondsText(d) + " s"; }

}  // namespace

std::string RenderSummary(const RolloutRecord& record, const ci::Redactor& redactor) {
  Md md(redactor);
  std::string o;
  o += "# Rollout of " + md.Cell(record.app) + ": " + OutcomeName(record.outcome) + "\n\n";
  o += "Strategy " + md.Cell(record.strategy) + ", phase " + md.Cell(record.phase);
  if (!record.pipeline.pipeline_id.empty()) {
    o += ", pipeline " + md.LinkOr(record.pipeline.pipeline_id, record.pipeline.pipeline_url);
  }
  if (!record.pipeline.job_name.empty()) {
    o += ", job " + md.LinkOr(record.pipeline.job_name, record.pipeline.job_url);
  }
  if (!record.pipeline.user.empty()) o += ", run by " + md.T(record.pipeline.user);
  o += ".\n";
  if (!record.message.empty()) o += "\n> " + md.T(record.message) + "\n";

  WeightChange w = CurrentWeights(record);
  o += "\nTraffic now: stable " + std::to_string(w.stable) + "%, candidate " +
       std::to_string(w.candidate) + "%.\n";
  if (record.rollback_ms) {
    o += "\nRollback: stable restored " + std::to_string(*record.rollback_ms) +
         " ms after the failing verdict.\n";
  }

  o += "\n## What changed\n\n| | stable | candidate |\n|---|---|---|\n";
  auto row = [&](const char* name, const std::string& s, const std::string& c) {
    o += std::string("| ") + name + " | " + md.Cell(s) + " | " + md.Cell(c) + " |\n";
  };
  auto rev = [](int r) { return r > 0 ? std::to_string(r) : std::string(); };
  row("release",
      record.stable.namespace_name.empty()
          ? record.stable.release
          : record.stable.namespace_name + "/" + record.stable.release,
      record.candidate.namespace_name.empty()
          ? record.candidate.release
          : record.candidate.namespace_name + "/" + record.candidate.release);
  row("chart", record.stable.chart, record.candidate.chart);
  row("version", record.stable.version, record.candidate.version);
  row("revision", rev(record.stable.revision), rev(record.candidate.revision));
  row("commit", record.stable.commit, record.candidate.commit);

  o += "\n## Verdicts\n\n";
  bool any = false;
  for (const StepRecord& s : record.steps) any = any || !s.checks.empty();
  if (!any) {
    o += "No checks ran.\n";
  } else {
    o += "| step | check | verdict | duration | message |\n|---|---|---|---|---|\n";
    for (const StepRecord& s : record.steps) {
      std::vector<std::string> names = UniqueCheckNames(s);
      for (size_t i = 0; i < s.checks.size(); ++i) {
        const CheckRecord& c = s.checks[i];
        o += "| " + md.Cell(StepLabel(s)) + " | " + md.Cell(names[i]) + " | " +
             std::string(VerdictName(c.verdict)) + " | " + Seconds(c.duration) + " | " +
             md.Cell(c.message) + " |\n";
      }
    }
  }

  bool metrics = false, load = false;
  for (const StepRecord& s : record.steps) {
    metrics = metrics || !s.metrics.empty();
    load = load || s.load.has_value();
  }
  if (metrics) {
    o += "\n## Analysis\n\n| step | metric | verdict | value | limits | measurements | message |\n"
         "|---|---|---|---|---|---|---|\n";
    for (const StepRecord& s : record.steps) {
      std::vector<std::string> names = UniqueMetricNames(s);
      for (size_t i = 0; i < s.metrics.size(); ++i) {
        const MetricRecord& m = s.metrics[i];
        std::string unit = m.unit.empty() ? "" : " " + m.unit;
        std::string limits;
        if (m.min) limits = "min " + ValueText(*m.min) + unit;
        if (m.max) limits += (limits.empty() ? "max " : ", max ") + ValueText(*m.max) + unit;
        o += "| " + md.Cell(StepLabel(s)) + " | " + md.Cell(names[i]) + " | " +
             std::string(VerdictName(m.verdict)) + " | " +
             md.Cell(m.value ? ValueText(*m.value) + unit : "no data") + " | " + md.Cell(limits) +
             " | " + std::to_string(m.measurements) + " | " + md.Cell(m.message) + " |\n";
      }
    }
  }
  if (load) {
    o += "\n## Generated load\n\n| step | requests | errors | p99 | answers by version |\n"
         "|---|---|---|---|---|\n";
    for (const StepRecord& s : record.steps) {
      if (!s.load) continue;
      std::string versions;
      for (const auto& [version, n] : s.load->by_version) {
        if (!versions.empty()) versions += ", ";
        versions += (version.empty() ? "unknown" : version) + ": " + std::to_string(n);
      }
      o += "| " + md.Cell(StepLabel(s)) + " | " + std::to_string(s.load->requests) + " | " +
           std::to_string(s.load->errors) + " | " + ValueText(s.load->p99_ms) + " ms | " +
           md.Cell(versions) + " |\n";
    }
  }

  o += "\n## Weights over time\n\n";
  if (record.weights.empty()) {
    o += "No weight changes recorded.\n";
  } else {
    o += "| time (UTC) | stable | candidate | reason |\n|---|---|---|---|\n";
    for (const WeightChange& c : record.weights) {
      o += "| " + IsoTimeUtc(c.at) + " | " + std::to_string(c.stable) + " | " +
           std::to_string(c.candidate) + " | " + md.Cell(c.reason) + " |\n";
    }
  }

  o += "\n## Changelog\n\n";
  if (record.changelog.empty()) o += "No commits recorded.\n";
  for (const std::string& line : record.changelog) o += "- " + md.T(line) + "\n";

  if (!record.environment_url.empty() || !record.dashboards.empty()) {
    o += "\n## Links\n\n";
    if (!record.environment_url.empty()) {
      o += "- Environment: " +
           md.LinkOr(
               record.environment_name.empty() ? record.environment_url : record.environment_name,
               record.environment_url) +
           "\n";
    }
    for (const Link& l : record.dashboards) o += "- " + md.LinkOr(l.label, l.url) + "\n";
  }
  return o;
}

Status WriteSummary(const std::string& dir, const RolloutRecord& record,
                    const ci::Redactor& redactor) {
  return WriteFileAtomically(dir, kSummaryFile, RenderSummary(record, redactor));
}

}  // namespace canaryctl::report

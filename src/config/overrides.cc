#include "config/overrides.h"

#include <cctype>

#include "config/yaml_reader.h"

namespace canaryctl::config {
namespace {

std::string VariableFor(const std::string& key) {
  std::string out = "CANARYCTL_";
  for (size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    if (c == '.') {
      out += '_';
    } else if (std::isupper(static_cast<unsigned char>(c))) {
      out += '_';
      out += c;
    } else {
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string part = text.substr(start, comma - start);
    // Tolerate "0, 30, 100" as people write it in CI variables.
    while (!part.empty() && part.front() == ' ') part.erase(part.begin());
    while (!part.empty() && part.back() == ' ') part.pop_back();
    parts.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return parts;
}

using Apply = std::function<bool(RolloutSpec*, const std::string&)>;

OverrideKey Entry(const std::string& key, const std::string& expected, Apply apply) {
  return {key, VariableFor(key), expected, std::move(apply)};
}

OverrideKey Text(const std::string& key, std::function<std::string*(RolloutSpec*)> field) {
  return Entry(key, "a string", [field](RolloutSpec* s, const std::string& v) {
    *field(s) = v;
    return true;
  });
}

// A key whose text `parse` turns into a value (nullopt: not what `expected` says).
template <typename T, typename Parse>
OverrideKey Parsed(const std::string& key, const std::string& expected, Parse parse,
                   std::function<T*(RolloutSpec*)> field) {
  return Entry(key, expected, [field, parse](RolloutSpec* s, const std::string& v) {
    auto value = parse(v);
    if (value) *field(s) = *value;
    return value.has_value();
  });
}

OverrideKey Time(const std::string& key, std::function<Duration*(RolloutSpec*)> field) {
  return Parsed(
      key, "a duration such as \"30s\", \"5m\" or \"1h30m\"",
      [](const std::string& v) { return ParseDuration(v); }, std::move(field));
}

OverrideKey Flag(const std::string& key, std::function<bool*(RolloutSpec*)> field) {
  return Parsed(key, "true or false", ParseBool, std::move(field));
}

OverrideKey Integer(const std::string& key, std::function<int*(RolloutSpec*)> field) {
  return Parsed(key, "an integer", ParseInt, std::move(field));
}

OverrideKey Number(const std::string& key, std::function<double*(RolloutSpec*)> field) {
  return Parsed(key, "a number", ParseDouble, std::move(field));
}

// Optional sections come into being when a variable sets one of their keys, as in the file.
AnalysisSpec* Analysis(RolloutSpec* s) {
  if (!s->analysis) s->analysis.emplace();
  return &*s->analysis;
}

ComparisonSpec* Comparison(RolloutSpec* s) {
  AnalysisSpec* a = Analysis(s);
  if (!a->comparison) a->comparison.emplace();
  return &*a->comparison;
}

LoadSpec* Load(RolloutSpec* s) {
  if (!s->load) s->load.emplace();
  return &*s->load;
}

SplitSpec* Split(RolloutSpec* s) {
  LoadSpec* l = Load(s);
  if (!l->split) l->split.emplace();
  return &*l->split;
}

TestRouteSpec* TestRoute(RolloutSpec* s) {
  if (!s->traffic.test_route) s->traffic.test_route.emplace();
  return &*s->traffic.test_route;
}

std::vector<OverrideKey> BuildTable() {
  return {
      Text("app", [](RolloutSpec* s) { return &s->app; }),
      Entry("strategy", "one of hybrid, canary, blue-green",
            [](RolloutSpec* s, const std::string& v) {
              auto st = ParseStrategy(v);
              if (st) s->strategy = *st;
              return st.has_value();
            }),
      Text("helm.chart", [](RolloutSpec* s) { return &s->helm.chart; }),
      Entry("helm.version", "a string",
            [](RolloutSpec* s, const std::string& v) { return s->helm.version = v, true; }),
      Entry("helm.repo", "a string",
            [](RolloutSpec* s, const std::string& v) { return s->helm.repo = v, true; }),
      Entry("helm.values", "a comma-separated list of files",
            [](RolloutSpec* s, const std::string& v) {
              s->helm.values = v.empty() ? std::vector<std::string>{} : SplitCommas(v);
              return true;
            }),
      Time("helm.timeout", [](RolloutSpec* s) { return &s->helm.timeout; }),
      Text("stable.namespace", [](RolloutSpec* s) { return &s->stable.namespace_name; }),
      Text("stable.release", [](RolloutSpec* s) { return &s->stable.release; }),
      Text("stable.service", [](RolloutSpec* s) { return &s->stable.service; }),
      Text("stable.workload", [](RolloutSpec* s) { return &s->stable.workload; }),
      Text("candidate.namespace", [](RolloutSpec* s) { return &s->candidate.namespace_name; }),
      Text("candidate.release", [](RolloutSpec* s) { return &s->candidate.release; }),
      Text("candidate.service", [](RolloutSpec* s) { return &s->candidate.service; }),
      Text("candidate.workload", [](RolloutSpec* s) { return &s->candidate.workload; }),
      Text("traffic.virtualService.namespace",
           [](RolloutSpec* s) { return &s->traffic.virtual_service.namespace_name; }),
      Text("traffic.virtualService.name",
           [](RolloutSpec* s) { return &s->traffic.virtual_service.name; }),
      Flag("traffic.virtualService.create",
           [](RolloutSpec* s) { return &s->traffic.virtual_service.create; }),
      Entry("traffic.steps", "a comma-separated list of integers such as \"0,30,100\"",
            [](RolloutSpec* s, const std::string& v) {
              std::vector<int> steps;
              for (const std::string& part : SplitCommas(v)) {
                auto n = ParseInt(part);
                if (!n) return false;
                steps.push_back(*n);
              }
              s->traffic.steps = steps;
              return true;
            }),
      Text("traffic.testRoute.header", [](RolloutSpec* s) { return &TestRoute(s)->header; }),
      Text("traffic.testRoute.value", [](RolloutSpec* s) { return &TestRoute(s)->value; }),
      Entry("traffic.port", "an integer",
            [](RolloutSpec* s, const std::string& v) {
              auto n = ParseInt(v);
              if (n) s->traffic.port = *n;
              return n.has_value();
            }),
      Text("analysis.prometheus.url", [](RolloutSpec* s) { return &Analysis(s)->prometheus_url; }),
      Time("analysis.interval", [](RolloutSpec* s) { return &Analysis(s)->interval; }),
      Time("analysis.window", [](RolloutSpec* s) { return &Analysis(s)->window; }),
      Integer("analysis.passes", [](RolloutSpec* s) { return &Analysis(s)->passes; }),
      Integer("analysis.failures", [](RolloutSpec* s) { return &Analysis(s)->failures; }),
      Number("analysis.comparison.falseRollbackRate",
             [](RolloutSpec* s) { return &Comparison(s)->false_rollback_rate; }),
      Number("analysis.comparison.missedRegressionRate",
             [](RolloutSpec* s) { return &Comparison(s)->missed_regression_rate; }),
      Number("analysis.comparison.tolerance",
             [](RolloutSpec* s) { return &Comparison(s)->tolerance; }),
      Number("analysis.comparison.minErrorRate",
             [](RolloutSpec* s) { return &Comparison(s)->min_error_rate; }),
      Text("load.url", [](RolloutSpec* s) { return &Load(s)->url; }),
      Text("load.method", [](RolloutSpec* s) { return &Load(s)->method; }),
      Number("load.rate", [](RolloutSpec* s) { return &Load(s)->rate; }),
      Integer("load.concurrency", [](RolloutSpec* s) { return &Load(s)->concurrency; }),
      Time("load.duration", [](RolloutSpec* s) { return &Load(s)->duration; }),
      Time("load.timeout", [](RolloutSpec* s) { return &Load(s)->timeout; }),
      Entry("load.split.header", "a string",
            [](RolloutSpec* s, const std::string& v) { return Split(s)->header = v, true; }),
      Entry("load.split.json", "a string",
            [](RolloutSpec* s, const std::string& v) { return Split(s)->json = v, true; }),
      Text("load.split.candidate", [](RolloutSpec* s) { return &Split(s)->candidate; }),
      Number("load.split.confidence", [](RolloutSpec* s) { return &Split(s)->confidence; }),
      Flag("rollback.auto", [](RolloutSpec* s) { return &s->rollback.automatic; }),
      Entry("rollback.candidate", "one of keep, rollback, uninstall",
            [](RolloutSpec* s, const std::string& v) {
              auto a = ParseCandidateAction(v);
              if (a) s->rollback.candidate = *a;
              return a.has_value();
            }),
      Text("reports.dir", [](RolloutSpec* s) { return &s->reports_dir; }),
      Time("lock.ttl", [](RolloutSpec* s) { return &s->lock_ttl; }),
  };
}

}  // namespace

const std::vector<OverrideKey>& OverrideTable() {
  static const std::vector<OverrideKey> table = BuildTable();
  return table;
}

const OverrideKey* FindOverrideKey(const std::string& key) {
  for (const OverrideKey& k : OverrideTable()) {
    if (k.key == key) return &k;
  }
  return nullptr;
}

std::optional<Strategy> ParseStrategy(const std::string& text) {
  if (text == "hybrid") return Strategy::kHybrid;
  if (text == "canary") return Strategy::kCanary;
  if (text == "blue-green") return Strategy::kBlueGreen;
  return std::nullopt;
}

std::optional<CandidateAfterRollback> ParseCandidateAction(const std::string& text) {
  if (text == "keep") return CandidateAfterRollback::kKeep;
  if (text == "rollback") return CandidateAfterRollback::kRollback;
  if (text == "uninstall") return CandidateAfterRollback::kUninstall;
  return std::nullopt;
}

}  // namespace canaryctl::config

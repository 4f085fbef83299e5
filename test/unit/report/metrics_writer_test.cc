#include "report/metrics_writer.h"

#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "record_fixture.h"

namespace canaryctl::report {
namespace {

// A small OpenMetrics text validator: every line is a descriptor or a sample of the grammar,
// a family's # TYPE comes before its samples and appears once, its samples are contiguous,
// no label set repeats, and the text ends with exactly one "# EOF".
std::vector<std::string> OpenMetricsErrors(const std::string& text) {
  static const std::regex kDescriptor(R"(^# (TYPE|HELP|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$)");
  // name{label="value",...} number, with the label value escapes \\ \" \n only.
  static const std::string kName = R"([a-zA-Z_:][a-zA-Z0-9_:]*)";
  static const std::string kLabel = R"([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")";
  static const std::string kNumber =
      R"([-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?Inf|NaN)";
  static const std::regex kSample("^(" + kName + ")(\\{(?:" + kLabel + "(?:," + kLabel +
                                  ")*)?\\})? (" + kNumber + ")$");
  std::vector<std::string> errors;
  if (text.size() < 6 || text.compare(text.size() - 6, 6, "# EOF\n") != 0) {
    errors.push_back("does not end with '# EOF\\n'");
  }
  std::istringstream in(text);
  std::string line;
  std::set<std::string> typed, finished, samples;
  std::string current;
  int n = 0;
  bool eof = false;
  while (std::getline(in, line)) {
    ++n;
    std::string where = "line " + std::to_string(n) + ": " + line;
    if (eof) errors.push_back(where + ": after # EOF");
    if (line == "# EOF") {
      eof = true;
      continue;
    }
    std::smatch m;
    if (std::regex_match(line, m, kDescriptor)) {
      std::string name = m[2];
      if (name != current) {
        if (!current.empty()) finished.insert(current);
        if (finished.count(name) != 0) errors.push_back(where + ": family interleaved");
        current = name;
      }
      if (m[1] == "TYPE") {
        if (!typed.insert(name).second) errors.push_back(where + ": second TYPE");
        static const std::set<std::string> kTypes = {"gauge",   "counter",   "stateset",
                                                     "info",    "histogram", "gaugehistogram",
                                                     "summary", "unknown"};
        if (kTypes.count(m[3]) == 0) errors.push_back(where + ": bad type");
      }
      if (m[1] == "UNIT") {
        std::string suffix = "_" + std::string(m[3]);
        if (name.size() <= suffix.size() ||
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
          errors.push_back(where + ": name does not end with its unit");
        }
      }
      continue;
    }
    if (!std::regex_match(line, m, kSample)) {
      errors.push_back(where + ": not a sample");
      continue;
    }
    std::string name = m[1];
    if (name.rfind("canaryctl_", 0) != 0) errors.push_back(where + ": no canaryctl_ prefix");
    if (name != current) errors.push_back(where + ": sample outside its family's block");
    if (typed.count(name) == 0) errors.push_back(where + ": sample before TYPE");
    if (!samples.insert(name + std::string(m[2])).second) {
      errors.push_back(where + ": duplicate label set");
    }
  }
  if (!eof) errors.push_back("no # EOF line");
  return errors;
}

TEST(MetricsWriterTest, ValidatorRejectsBrokenText) {
  // The validator itself must catch what a wrong writer would produce.
  EXPECT_FALSE(OpenMetricsErrors("canaryctl_x 1\n").empty());  // no TYPE, no EOF
  EXPECT_FALSE(OpenMetricsErrors("# TYPE canaryctl_x gauge\ncanaryctl_x 1\n").empty());
  EXPECT_FALSE(
      OpenMetricsErrors("# TYPE canaryctl_x gauge\ncanaryctl_x{a=\"b\"c\"} 1\n# EOF\n").empty());
  EXPECT_FALSE(
      OpenMetricsErrors("# TYPE canaryctl_x gauge\ncanaryctl_x{a=\"1\"} 1\ncanaryctl_x{a=\"1\"} 2\n"
                        "# EOF\n")
          .empty());
  EXPECT_TRUE(OpenMetricsErrors("# TYPE canaryctl_x gauge\ncanaryctl_x{a=\"q\\\"\"} -1.5\n# EOF\n")
                  .empty());
}

TEST(MetricsWriterTest, SampleRecordIsValidOpenMetrics) {
  std::string text = RenderMetrics(testing::SampleRecord(), ci::Redactor());
  auto errors = OpenMetricsErrors(text);
  EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors) << "\n" << text;
  for (const char* expected : {
           "canaryctl_rollout_outcome{app=\"demoapp\",outcome=\"rolled_back\"} 1\n",
           "canaryctl_rollout_outcome{app=\"demoapp\",outcome=\"succeeded\"} 0\n",
           "canaryctl_candidate_weight{app=\"demoapp\"} 0\n",
           "canaryctl_stable_weight{app=\"demoapp\"} 100\n",
           "canaryctl_step_weight{app=\"demoapp\",step=\"1\",phase=\"shift\"} 30\n",
           "canaryctl_check_duration_seconds{app=\"demoapp\",step=\"0\",phase=\"test\","
           "weight=\"0\",check=\"e2e\"} 2.500\n",
           "canaryctl_check_verdict{app=\"demoapp\",step=\"1\",phase=\"shift\",weight=\"30\","
           "check=\"health\"} 0\n",
           "canaryctl_check_verdict{app=\"demoapp\",step=\"1\",phase=\"shift\",weight=\"30\","
           "check=\"latency\"} -1\n",
           "canaryctl_checks{app=\"demoapp\",verdict=\"pass\"} 2\n",
           "canaryctl_checks{app=\"demoapp\",verdict=\"fail\"} 1\n",
           "canaryctl_rollout_duration_seconds{app=\"demoapp\"} 230\n",
           "# UNIT canaryctl_check_duration_seconds seconds\n",
           "canaryctl_analysis_value{app=\"demoapp\",step=\"1\",phase=\"shift\",weight=\"30\","
           "metric=\"request-success-rate\"} 80.5\n",
           "canaryctl_analysis_value{app=\"demoapp\",step=\"1\",phase=\"shift\",weight=\"30\","
           "metric=\"request-duration\"} 120\n",
           "canaryctl_analysis_verdict{app=\"demoapp\",step=\"1\",phase=\"shift\",weight=\"30\","
           "metric=\"request-success-rate\"} 0\n",
           "canaryctl_load_requests{app=\"demoapp\",step=\"1\",phase=\"shift\",weight=\"30\"} "
           "300\n",
           "canaryctl_load_errors{app=\"demoapp\",step=\"1\",phase=\"shift\",weight=\"30\"} 58\n",
           "canaryctl_load_latency_p99_seconds{app=\"demoapp\",step=\"1\",phase=\"shift\","
           "weight=\"30\"} 0.1405\n",
           "canaryctl_load_responses{app=\"demoapp\",step=\"1\",phase=\"shift\",weight=\"30\","
           "version=\"1.1.0\"} 90\n",
           "# UNIT canaryctl_rollback_duration_seconds seconds\n",
           "canaryctl_rollback_duration_seconds{app=\"demoapp\"} 0.850\n",
       }) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected;
  }
}

TEST(MetricsWriterTest, HostileLabelsAreEscaped) {
  RolloutRecord r;
  r.app = "a\"b\\c\nd";
  StepRecord s = testing::Step("sh\"ift", 10);
  s.checks.push_back({"x\\\"y\nz\xff", Verdict::kPass, "", {}, ""});
  s.checks.push_back({"x\\\"y\nz\xff", Verdict::kPass, "", {}, ""});  // duplicate name
  r.steps.push_back(s);
  std::string text = RenderMetrics(r, ci::Redactor());
  auto errors = OpenMetricsErrors(text);
  EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors) << "\n" << text;
  EXPECT_NE(text.find("app=\"a\\\"b\\\\c d\""), std::string::npos) << text;
  EXPECT_NE(text.find("check=\"x\\\\\\\"y z\xef\xbf\xbd #2\""), std::string::npos) << text;
}

TEST(MetricsWriterTest, AnalysisEdgeCasesStayValid) {
  RolloutRecord r;
  StepRecord s = testing::Step("shift", 10);
  MetricRecord m = testing::NanMetric("custom", Verdict::kFail);
  s.metrics.push_back(m);
  s.metrics.push_back(m);  // the same name twice: label sets must still differ
  m.value.reset();         // no data: a verdict but no value sample
  m.name = "quiet";
  m.verdict = Verdict::kInconclusive;
  s.metrics.push_back(m);
  s.load = LoadRecord{};
  s.load->by_version["a\"b"] = 1;
  r.steps.push_back(s);
  std::string text = RenderMetrics(r, ci::Redactor());
  auto errors = OpenMetricsErrors(text);
  EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors) << "\n" << text;
  EXPECT_NE(text.find("metric=\"custom\"} NaN\n"), std::string::npos) << text;
  EXPECT_NE(text.find("metric=\"custom #2\"} NaN\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("canaryctl_analysis_value{app=\"\",step=\"0\",phase=\"shift\","
                      "weight=\"10\",metric=\"quiet\"}"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("canaryctl_analysis_verdict{app=\"\",step=\"0\",phase=\"shift\","
                      "weight=\"10\",metric=\"quiet\"} -1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("version=\"a\\\"b\"} 1\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("canaryctl_rollback_duration_seconds"), std::string::npos) << text;
}

TEST(MetricsWriterTest, EmptyRecordIsValid) {
  std::string text = RenderMetrics(RolloutRecord{}, ci::Redactor());
  auto errors = OpenMetricsErrors(text);
  EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors) << "\n" << text;
  EXPECT_NE(text.find("canaryctl_rollout_outcome{app=\"\",outcome=\"in_progress\"} 1\n"),
            std::string::npos);
}

TEST(MetricsWriterTest, SecretsInLabelsAreMasked) {
  RolloutRecord r;
  StepRecord s = testing::Step("test", 0);
  s.checks.push_back({"call with tok-12345", Verdict::kPass, "", {}, ""});
  r.steps.push_back(s);
  ci::Redactor redactor;
  redactor.Add("tok-12345");
  std::string text = RenderMetrics(r, redactor);
  EXPECT_EQ(text.find("tok-12345"), std::string::npos);
  EXPECT_NE(text.find("check=\"call with [MASKED]\""), std::string::npos);
}

}  // namespace
}  // namespace canaryctl::report

#include "report/summary_writer.h"

#include <gtest/gtest.h>

#include "record_fixture.h"

namespace canaryctl::report {
namespace {

TEST(SummaryWriterTest, GoldenOutput) {
  EXPECT_EQ(RenderSummary(testing::SampleRecord(), ci::Redactor()),
            R"(# Rollout of demoapp: rolled_back

Strategy hybrid, phase shift, pipeline [1234](https://gitlab.example.com/g/demo/-/pipelines/1234), job [shift-30](https://gitlab.example.com/g/demo/-/jobs/99), run by alice.

> health failed at 30%

Traffic now: stable 100%, candidate 0%.

Rollback: stable restored 850 ms after the failing verdict.

## What changed

| | stable | candidate |
|---|---|---|
| release | prod/demoapp | stage/demoapp |
| chart | demoapp-1.0.0 | demoapp-1.1.0 |
| version | 1.0.0 | 1.1.0 |
| revision | 3 | 2 |
| commit | aaaa1111 | bbbb2222 |

## Verdicts

| step | check | verdict | duration | message |
|---|---|---|---|---|
| test/0 | health | pass | 0.120 s | status 200 |
| test/0 | e2e | pass | 2.500 s | - |
| shift/30 | health | fail | 0.250 s | status 500, want 200 |
| shift/30 | latency | inconclusive | 0.000 s | no data |

## Analysis

| step | metric | verdict | value | limits | measurements | message |
|---|---|---|---|---|---|---|
| shift/30 | request-success-rate | fail | 80.5 % | min 99 % | 2 | 80.5% is below 99% |
| shift/30 | request-duration | pass | 120 ms | max 500 ms | 2 | 120 ms is within 500 ms |

## Generated load

| step | requests | errors | p99 | answers by version |
|---|---|---|---|---|
| shift/30 | 300 | 58 | 140.5 ms | 1.0.0: 210, 1.1.0: 90 |

## Weights over time

| time (UTC) | stable | candidate | reason |
|---|---|---|---|
| 2023-11-14T22:13:20Z | 100 | 0 | deploy |
| 2023-11-14T22:15:00Z | 70 | 30 | shift 30 |
| 2023-11-14T22:16:40Z | 100 | 0 | rollback |

## Changelog

- bbbb222 Add search
- ccc3333 Fix login

## Links

- Environment: [production](https://demo.example.com)
- [Grafana](https://grafana.example.com/d/demo)
)");
}

TEST(SummaryWriterTest, HostileTextCannotBreakTablesOrInjectHtml) {
  RolloutRecord r;
  r.app = "demo";
  StepRecord s = testing::Step("test", 0);
  s.checks.push_back({"a|b", Verdict::kFail, "line1\nline2 | <script>x</script>", {}, ""});
  r.steps.push_back(s);
  r.changelog = {"abc <img src=x onerror=alert(1)> *bold* [link](javascript:x)"};
  r.dashboards = {{"bad", "javascript:alert(1)"}, {"paren", "https://x.example.com/a)b"}};
  std::string md = RenderSummary(r, ci::Redactor());
  EXPECT_NE(
      md.find(
          "| test/0 | a\\|b | fail | 0.000 s | line1 line2 \\| &lt;script&gt;x&lt;/script&gt; |\n"),
      std::string::npos)
      << md;
  EXPECT_EQ(md.find("<script>"), std::string::npos);
  EXPECT_EQ(md.find("<img"), std::string::npos);
  EXPECT_NE(md.find("\\*bold\\* \\[link\\](javascript:x)"), std::string::npos) << md;
  EXPECT_EQ(md.find("[bad]("), std::string::npos);
  EXPECT_EQ(md.find("(javascript:alert"), std::string::npos);
  EXPECT_NE(md.find("- bad\n"), std::string::npos);
  EXPECT_NE(md.find("[paren](https://x.example.com/a%29b)"), std::string::npos) << md;
}

TEST(SummaryWriterTest, NoAnalysisOrLoadSectionsWithoutThem) {
  RolloutRecord r = testing::SampleRecord();
  r.steps[1].metrics.clear();
  r.steps[1].load.reset();
  r.rollback_ms.reset();
  std::string md = RenderSummary(r, ci::Redactor());
  EXPECT_EQ(md.find("## Analysis"), std::string::npos) << md;
  EXPECT_EQ(md.find("## Generated load"), std::string::npos) << md;
  EXPECT_EQ(md.find("Rollback:"), std::string::npos) << md;
}

TEST(SummaryWriterTest, MetricsWithoutDataOrLimitsAndHostileNames) {
  RolloutRecord r;
  StepRecord s = testing::Step("shift", 10);
  MetricRecord m;
  m.name = "p|<b>";
  m.message = "no data for 2m";
  s.metrics.push_back(m);
  s.metrics.push_back(m);  // duplicate name: made unique like checks
  s.load = LoadRecord{};
  s.load->by_version[""] = 3;
  r.steps.push_back(s);
  std::string md = RenderSummary(r, ci::Redactor());
  EXPECT_NE(
      md.find("| shift/10 | p\\|&lt;b&gt; | inconclusive | no data | - | 0 | no data for 2m |\n"),
      std::string::npos)
      << md;
  EXPECT_NE(md.find("| p\\|&lt;b&gt; #2 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| shift/10 | 0 | 0 | 0 ms | unknown: 3 |\n"), std::string::npos) << md;
}

TEST(SummaryWriterTest, SecretsAreMasked) {
  RolloutRecord r = testing::SampleRecord();
  r.changelog.push_back("ddd Leak hunter2-secret");
  r.steps[1].checks[0].message = "bad auth hunter2-secret";
  ci::Redactor redactor;
  redactor.Add("hunter2-secret");
  std::string md = RenderSummary(r, redactor);
  EXPECT_EQ(md.find("hunter2"), std::string::npos);
  EXPECT_NE(md.find("bad auth \\[MASKED\\]"), std::string::npos) << md;
}

}  // namespace
}  // namespace canaryctl::report

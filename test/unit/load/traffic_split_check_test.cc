// Tests of load/TrafficSplitCheck: exact cases of the binomial interval around the weight.
#include <gtest/gtest.h>

#include "load/load_generator.h"

namespace canaryctl::load {
namespace {

using checks::Verdict;

config::SplitSpec Split() {
  config::SplitSpec split;
  split.header = "x-version";
  split.candidate = "v2";
  return split;  // confidence 0.999
}

report::LoadRecord Answers(int64_t stable, int64_t candidate, int64_t unknown = 0) {
  report::LoadRecord load;
  load.requests = stable + candidate + unknown;
  if (stable > 0) load.by_version["v1"] = stable;
  if (candidate > 0) load.by_version["v2"] = candidate;
  if (unknown > 0) load.by_version[""] = unknown;
  return load;
}

Verdict Judge(int64_t stable, int64_t candidate, int weight, int64_t unknown = 0) {
  return TrafficSplitCheck(Answers(stable, candidate, unknown), Split(), weight).verdict;
}

TEST(TrafficSplitCheck, WeightZeroAllowsNoCandidateAnswer) {
  EXPECT_EQ(Judge(1000, 0, 0), Verdict::kPass);
  EXPECT_EQ(Judge(995, 5, 0), Verdict::kFail);
  EXPECT_EQ(Judge(999, 1, 0), Verdict::kFail);  // at weight 0 the mesh sends none at all
}

TEST(TrafficSplitCheck, ThirtyPercent) {
  EXPECT_EQ(Judge(700, 300, 30), Verdict::kPass);
  EXPECT_EQ(Judge(600, 400, 30), Verdict::kFail);
  EXPECT_EQ(Judge(800, 200, 30), Verdict::kFail);
  // Chance: 27% of 1000 is within the 99.9% interval, 25% is not.
  EXPECT_EQ(Judge(730, 270, 30), Verdict::kPass);
  EXPECT_EQ(Judge(750, 250, 30), Verdict::kFail);
  // A small sample cannot tell 40% from 30%.
  EXPECT_EQ(Judge(18, 12, 30), Verdict::kPass);
}

TEST(TrafficSplitCheck, OneHundredPercent) {
  EXPECT_EQ(Judge(0, 1000, 100), Verdict::kPass);
  EXPECT_EQ(Judge(0, 20, 100), Verdict::kPass);
  EXPECT_EQ(Judge(10, 990, 100), Verdict::kFail);
}

TEST(TrafficSplitCheck, MessageStatesCountsShareIntervalAndWeight) {
  checks::CheckResult result = TrafficSplitCheck(Answers(688, 312), Split(), 30);
  EXPECT_EQ(result.name, "traffic-split");
  EXPECT_EQ(result.verdict, Verdict::kPass);
  // Wilson score interval at z = 3.2905 (99.9%), computed independently: 26.60% to 36.20%.
  EXPECT_EQ(result.message, "candidate 312/1000 = 31.2% (99.9% CI 26.6\u201336.2%), weight 30%");
  result = TrafficSplitCheck(Answers(600, 400), Split(), 30);
  EXPECT_EQ(result.message,
            "candidate 400/1000 = 40.0% (99.9% CI 35.0\u201345.2%), weight 30%: outside the "
            "interval, the split differs from the weights");
}

TEST(TrafficSplitCheck, ConfidenceWidensTheInterval) {
  config::SplitSpec split = Split();
  split.confidence = 0.95;
  // 27% of 1000 at 30%: inside the 99.9% interval (22.6%..31.8%), outside the 95% one.
  checks::CheckResult result = TrafficSplitCheck(Answers(730, 270), split, 30);
  EXPECT_EQ(result.verdict, Verdict::kFail);
  EXPECT_NE(result.message.find("(95% CI 24.3\u201329.8%)"), std::string::npos) << result.message;
}

TEST(TrafficSplitCheck, TooFewAnswersIsInconclusive) {
  checks::CheckResult result = TrafficSplitCheck(Answers(14, 5), Split(), 30);
  EXPECT_EQ(result.verdict, Verdict::kInconclusive);
  EXPECT_EQ(result.message, "too few answers to judge the split: 19 with a known version, need 20");
  EXPECT_EQ(Judge(0, 0, 30), Verdict::kInconclusive);
  EXPECT_EQ(Judge(14, 6, 30), Verdict::kPass);  // 20 is enough
}

TEST(TrafficSplitCheck, UnknownAnswersAboveOnePercentFail) {
  checks::CheckResult result = TrafficSplitCheck(Answers(700, 300, 11), Split(), 30);
  EXPECT_EQ(result.verdict, Verdict::kFail);
  EXPECT_EQ(result.message,
            "11 of 1011 answers (1.1%) had no header x-version: the split cannot be verified");
  // 1% is tolerated (the odd error page), and said.
  result = TrafficSplitCheck(Answers(700, 300, 10), Split(), 30);
  EXPECT_EQ(result.verdict, Verdict::kPass);
  EXPECT_NE(result.message.find("(10 answers without a version ignored)"), std::string::npos);
  // A wrong header name: every answer is unknown, which fails rather than stays inconclusive.
  EXPECT_EQ(Judge(0, 0, 30, 50), Verdict::kFail);
  config::SplitSpec json = Split();
  json.header.reset();
  json.json = "build.version";
  EXPECT_NE(
      TrafficSplitCheck(Answers(0, 0, 50), json, 30).message.find("no JSON field build.version"),
      std::string::npos);
}

}  // namespace
}  // namespace canaryctl::load

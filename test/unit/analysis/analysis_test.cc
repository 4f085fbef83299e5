#include "analysis/analysis.h"

#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "analysis/queries.h"

namespace canaryctl::analysis {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Value = Result<std::optional<double>>;

const Workload kCandidate{"stage", "api", "api"};
const Workload kStable{"prod", "api", "api"};

// A scripted answer: a number, no data, or an error.
struct Answer {
  Answer(double value) : value(std::optional<double>(value)) {}  // NOLINT: implicit for brevity
  Answer(std::optional<double> value) : value(value) {}          // NOLINT
  Answer(Error error) : value(std::move(error)) {}               // NOLINT
  Value value;
};

// Answers each query with the next of its scripted values (the last one repeats); an unknown
// query is an error.
class FakePrometheus : public PrometheusClient {
 public:
  Value Query(const std::string& promql) override {
    queries.push_back(promql);
    auto it = script.find(promql);
    if (it == script.end()) return ClusterError("unexpected query " + promql);
    auto& values = it->second;
    Value v = values.front();
    if (values.size() > 1) values.pop_front();
    return v;
  }
  std::map<std::string, std::deque<Value>> script;
  std::vector<std::string> queries;
};

class AnalysisTest : public ::testing::Test {
 protected:
  AnalysisTest() {
    spec_.interval = seconds(30);
    spec_.window = seconds(120);
    target_.candidate = kCandidate;
    target_.stable = kStable;
    target_.weight = 30;
    target_.started_at = start_ - seconds(10);
  }
  void AddMetric(const std::string& name, std::optional<double> min, std::optional<double> max,
                 std::optional<std::string> query = std::nullopt) {
    spec_.metrics.push_back({name, min, max, query});
  }
  static std::string Q(const std::string& builtin) {
    return *BuiltinQuery(builtin, kCandidate, seconds(30));
  }
  void Script(const std::string& query, std::vector<Answer> answers) {
    auto& values = prometheus_.script[query];
    values.clear();
    for (auto& a : answers) values.push_back(a.value);
  }
  AnalysisResult Run() {
    AnalysisDeps deps;
    deps.prometheus = &prometheus_;
    deps.now = [this] { return now_; };
    deps.sleep = [this](milliseconds d) {
      ++sleeps_;
      now_ += d;
      if (on_sleep_) on_sleep_();
    };
    deps.interrupted = &interrupted_;
    deps.progress = [this](const std::string& line) { progress_.push_back(line); };
    return Analysis(spec_, deps).Run(target_);
  }
  seconds Elapsed() const { return std::chrono::duration_cast<seconds>(now_ - start_); }
  const checks::CheckResult* Check(const AnalysisResult& r, const std::string& name) {
    for (const auto& c : r.checks) {
      if (c.name == name) return &c;
    }
    ADD_FAILURE() << "no check " << name;
    return nullptr;
  }

  config::AnalysisSpec spec_;
  StepTarget target_;
  FakePrometheus prometheus_;
  std::chrono::system_clock::time_point start_{seconds(1'700'000'000)};
  std::chrono::system_clock::time_point now_ = start_;
  int sleeps_ = 0;
  std::atomic<bool> interrupted_{false};
  std::function<void()> on_sleep_;
  std::vector<std::string> progress_;
};

const std::optional<double> kNoData;

TEST_F(AnalysisTest, PassesAfterConsecutivePasses) {
  spec_.passes = 2;
  AddMetric("request-success-rate", 99, std::nullopt);
  AddMetric("request-duration", std::nullopt, 500);
  Script(Q("request-success-rate"), {99.5, 99.8});
  Script(Q("request-duration"), {120.0, 130.0});
  const AnalysisResult r = Run();
  EXPECT_EQ(r.verdict, checks::Verdict::kPass) << r.message;
  EXPECT_EQ(Elapsed(), seconds(60));
  ASSERT_EQ(progress_.size(), 2u);
  EXPECT_EQ(progress_[0],
            "request-success-rate 99.5% (min 99) pass 1/2; request-duration 120ms (max 500) "
            "pass 1/2; 30s elapsed, 1m30s left");
  ASSERT_EQ(r.checks.size(), 2u);
  EXPECT_EQ(r.checks[0].name, "request-success-rate");
  EXPECT_EQ(r.checks[0].verdict, checks::Verdict::kPass);
  EXPECT_EQ(r.checks[0].message, "99.8% (min 99): 2 passing measurements in a row");
  EXPECT_EQ(r.checks[0].duration, seconds(60));
  ASSERT_EQ(r.metrics.size(), 2u);
  EXPECT_EQ(r.metrics[0].unit, "%");
  EXPECT_EQ(r.metrics[0].value, 99.8);
  EXPECT_EQ(r.metrics[0].min, 99);
  EXPECT_EQ(r.metrics[0].measurements, 2);
  EXPECT_EQ(r.metrics[1].unit, "ms");
  EXPECT_EQ(r.metrics[1].max, 500);
  EXPECT_EQ(r.metrics[1].verdict, checks::Verdict::kPass);
}

TEST_F(AnalysisTest, FailsAfterConsecutiveFailures) {
  spec_.failures = 2;
  spec_.passes = 3;
  spec_.window = seconds(300);
  AddMetric("request-success-rate", 99, std::nullopt);
  // A pass in between restarts the count of failures.
  Script(Q("request-success-rate"), {98.0, 99.5, 98.0, 97.0, 99.9});
  const AnalysisResult r = Run();
  EXPECT_EQ(r.verdict, checks::Verdict::kFail);
  EXPECT_EQ(Elapsed(), seconds(120));
  EXPECT_EQ(r.message, "request-success-rate 97% (min 99): 2 failing measurements in a row");
  EXPECT_EQ(r.metrics[0].verdict, checks::Verdict::kFail);
  EXPECT_EQ(r.metrics[0].measurements, 4);
}

TEST_F(AnalysisTest, OneMetricFailingFailsTheStepAtOnce) {
  AddMetric("request-success-rate", 99, std::nullopt);
  AddMetric("request-duration", std::nullopt, 500);
  spec_.passes = 2;
  Script(Q("request-success-rate"), {99.9});
  Script(Q("request-duration"), {HUGE_VAL});  // p99 beyond the last bucket
  const AnalysisResult r = Run();
  EXPECT_EQ(r.verdict, checks::Verdict::kFail);
  EXPECT_EQ(Elapsed(), seconds(30));
  EXPECT_EQ(r.message, "request-duration +Inf ms (max 500): 1 failing measurement");
  EXPECT_EQ(Check(r, "request-success-rate")->verdict, checks::Verdict::kInconclusive);
}

TEST_F(AnalysisTest, InconclusiveResetsTheRuns) {
  spec_.passes = 2;
  AddMetric("request-success-rate", 99, std::nullopt);
  Script(Q("request-success-rate"), {99.5, kNoData, 99.5, 99.5});
  const AnalysisResult r = Run();
  EXPECT_EQ(r.verdict, checks::Verdict::kPass) << r.message;
  EXPECT_EQ(Elapsed(), seconds(120));
  EXPECT_EQ(r.metrics[0].measurements, 4);
  EXPECT_EQ(progress_[1], "request-success-rate no data (min 99); 1m elapsed, 1m left");
}

TEST_F(AnalysisTest, NoDataUntilTheWindowEndsFailsWithNoTraffic) {
  AddMetric("request-success-rate", 99, std::nullopt);
  AddMetric("request-duration", std::nullopt, 500);
  spec_.comparison = config::ComparisonSpec{};
  Script(Q("request-success-rate"), {kNoData});
  Script(Q("request-duration"), {kNoData});
  Script(RequestsQuery(kCandidate, seconds(40)), {kNoData});
  Script(RequestsQuery(kStable, seconds(40)), {500.0});
  Script(ErrorsQuery(kStable, seconds(40)), {kNoData});
  for (int s : {70, 100, 130}) {  // the later rounds count from the same start
    Script(RequestsQuery(kCandidate, seconds(s)), {0.0});
    Script(RequestsQuery(kStable, seconds(s)), {900.0});
    Script(ErrorsQuery(kCandidate, seconds(s)), {kNoData});
    Script(ErrorsQuery(kStable, seconds(s)), {kNoData});
  }
  Script(ErrorsQuery(kCandidate, seconds(40)), {kNoData});
  const AnalysisResult r = Run();
  EXPECT_EQ(r.verdict, checks::Verdict::kFail);
  EXPECT_EQ(Elapsed(), seconds(120));
  EXPECT_EQ(r.message,
            "the candidate received no traffic: no data for request-success-rate, "
            "request-duration, error-rate-comparison during the 2m window");
  EXPECT_EQ(progress_.size(), 4u);
  ASSERT_EQ(r.checks.size(), 3u);
  for (const auto& c : r.checks) EXPECT_EQ(c.verdict, checks::Verdict::kFail) << c.name;
  EXPECT_EQ(r.checks[2].name, "error-rate-comparison");
}

TEST_F(AnalysisTest, UndecidedWithDataIsNotCalledNoTraffic) {
  spec_.passes = 5;  // more than the window's 4 measurements
  AddMetric("request-success-rate", 99, std::nullopt);
  Script(Q("request-success-rate"), {99.5});
  const AnalysisResult r = Run();
  EXPECT_EQ(r.verdict, checks::Verdict::kFail);
  EXPECT_EQ(r.message,
            "undecided when the 2m window ended: request-success-rate 99.5% (min 99) pass 4/5");
}

TEST_F(AnalysisTest, WindowNotAMultipleOfTheIntervalEndsWithALastMeasurement) {
  spec_.window = seconds(100);
  spec_.passes = 4;
  AddMetric("request-success-rate", 99, std::nullopt);
  Script(Q("request-success-rate"), {99.5});
  const AnalysisResult r = Run();
  EXPECT_EQ(r.verdict, checks::Verdict::kPass) << r.message;  // at 30, 60, 90 and 100 s
  EXPECT_EQ(Elapsed(), seconds(100));
}

TEST_F(AnalysisTest, PrometheusErrorsAreInconclusiveAndReported) {
  AddMetric("request-success-rate", 99, std::nullopt);
  Script(Q("request-success-rate"), {ClusterError("connection refused")});
  const AnalysisResult r = Run();
  EXPECT_EQ(r.verdict, checks::Verdict::kFail);
  EXPECT_EQ(progress_[0],
            "request-success-rate error: connection refused; 30s elapsed, 1m30s left");
  EXPECT_EQ(r.message,
            "no measurement of the candidate during the 2m window; last Prometheus error: "
            "connection refused");
}

TEST_F(AnalysisTest, ErrorThenPassCounts) {
  spec_.passes = 2;
  AddMetric("request-success-rate", 99, std::nullopt);
  Script(Q("request-success-rate"), {99.5, ClusterError("timeout"), 99.5, 99.5});
  const AnalysisResult r = Run();
  EXPECT_EQ(r.verdict, checks::Verdict::kPass) << r.message;
  EXPECT_EQ(Elapsed(), seconds(120));
}

TEST_F(AnalysisTest, ComparisonFailsAWorseCandidateEarly) {
  spec_.passes = 3;
  AddMetric("request-success-rate", 90, std::nullopt);  // lenient: 95% passes it
  spec_.comparison = config::ComparisonSpec{};
  Script(Q("request-success-rate"), {95.0});
  // Counted since the weights were written, 10 s before the analysis started.
  Script(RequestsQuery(kCandidate, seconds(40)), {200.4});
  Script(ErrorsQuery(kCandidate, seconds(40)), {9.6});
  Script(RequestsQuery(kStable, seconds(40)), {466.6});
  Script(ErrorsQuery(kStable, seconds(40)), {2.2});
  const AnalysisResult r = Run();
  EXPECT_EQ(r.verdict, checks::Verdict::kFail);
  EXPECT_EQ(Elapsed(), seconds(30));
  EXPECT_EQ(r.message,
            "error-rate-comparison: candidate errors 10/200 (5%) vs stable 2/467 (0.43%): worse "
            "than 2x 0.92% (LLR 5.16 >= 4.55)");
  const auto* c = Check(r, "error-rate-comparison");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, checks::Verdict::kFail);
  EXPECT_EQ(c->duration, seconds(30));
  EXPECT_EQ(r.metrics.size(), 1u);  // the comparison is a check, not a metric
}

TEST_F(AnalysisTest, StepPassesOnlyWhenTheComparisonPassesToo) {
  AddMetric("request-success-rate", 99, std::nullopt);
  spec_.comparison = config::ComparisonSpec{};
  Script(Q("request-success-rate"), {100.0});
  // 300 error-free candidate requests by each round: too few to pass (593 needed), then 600.
  Script(RequestsQuery(kCandidate, seconds(40)), {300.0});
  Script(RequestsQuery(kCandidate, seconds(70)), {600.0});
  for (int s : {40, 70}) {
    Script(ErrorsQuery(kCandidate, seconds(s)), {kNoData});
    Script(RequestsQuery(kStable, seconds(s)), {1000.0});
    Script(ErrorsQuery(kStable, seconds(s)), {1.0});
  }
  const AnalysisResult r = Run();
  EXPECT_EQ(r.verdict, checks::Verdict::kPass) << r.message;
  EXPECT_EQ(Elapsed(), seconds(60));
  EXPECT_EQ(Check(r, "error-rate-comparison")->verdict, checks::Verdict::kPass);
  // The metric was decided in the first round and not measured again.
  EXPECT_EQ(r.metrics[0].measurements, 1);
}

TEST_F(AnalysisTest, InterruptStopsWithinASleepSlice) {
  AddMetric("request-success-rate", 99, std::nullopt);
  spec_.passes = 4;
  Script(Q("request-success-rate"), {99.5});
  on_sleep_ = [this] {
    if (now_ >= start_ + seconds(45)) interrupted_ = true;
  };
  const AnalysisResult r = Run();
  EXPECT_EQ(r.verdict, checks::Verdict::kInconclusive);
  EXPECT_LT(now_ - start_, seconds(46));
  EXPECT_EQ(prometheus_.queries.size(), 1u);
  EXPECT_EQ(r.message, "analysis interrupted after 45s");
  EXPECT_EQ(r.checks[0].verdict, checks::Verdict::kInconclusive);
}

TEST_F(AnalysisTest, CustomMetricQueryIsExpanded) {
  const std::string query = "sum(x{ns=\"{{namespace}}\",w=\"{{workload}}\"}[{{interval}}])";
  AddMetric("queue-depth", std::nullopt, 10, query);
  Script("sum(x{ns=\"stage\",w=\"api\"}[30s])", {3.0});
  const AnalysisResult r = Run();
  EXPECT_EQ(r.verdict, checks::Verdict::kPass) << r.message;
  EXPECT_EQ(r.metrics[0].unit, "");
  EXPECT_EQ(r.metrics[0].message, "3 (max 10): 1 passing measurement");
}

TEST_F(AnalysisTest, BadTemplateFailsWithoutWaiting) {
  AddMetric("queue-depth", std::nullopt, 10, "sum(x{ns=\"{{nmespace}}\"})");
  const AnalysisResult r = Run();
  EXPECT_EQ(r.verdict, checks::Verdict::kFail);
  EXPECT_EQ(sleeps_, 0);
  EXPECT_TRUE(prometheus_.queries.empty());
  EXPECT_NE(r.message.find("unknown placeholder \"{{nmespace}}\""), std::string::npos) << r.message;
}

}  // namespace
}  // namespace canaryctl::analysis

#include "checks/check_runner.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace canaryctl::checks {
namespace {

class FakeCheck : public Check {
 public:
  FakeCheck(std::string name, Verdict verdict) : name_(std::move(name)), verdict_(verdict) {}
  const std::string& name() const override { return name_; }
  CheckResult Run(const StepContext& step) override {
    ++runs;
    seen_weight = step.weight;
    CheckResult r;
    r.name = name_;
    r.verdict = verdict_;
    return r;
  }
  int runs = 0;
  int seen_weight = -1;

 private:
  std::string name_;
  Verdict verdict_;
};

struct Fixture {
  explicit Fixture(std::vector<Verdict> verdicts) {
    for (std::size_t i = 0; i < verdicts.size(); ++i) {
      owned.push_back(std::make_unique<FakeCheck>("c" + std::to_string(i), verdicts[i]));
      checks.push_back(owned.back().get());
    }
  }
  std::vector<std::unique_ptr<FakeCheck>> owned;
  std::vector<Check*> checks;
};

std::vector<std::string> Names(const StepVerdict& v) {
  std::vector<std::string> out;
  for (const auto& r : v.results) out.push_back(r.name);
  return out;
}

TEST(CheckRunnerTest, FailFastStopsAtTheFirstFailAndListsTheRestAsSkipped) {
  Fixture f({Verdict::kPass, Verdict::kFail, Verdict::kPass, Verdict::kFail});
  StepContext step;
  step.weight = 30;
  const StepVerdict v = CheckRunner(/*fail_fast=*/true).Run(f.checks, step);
  EXPECT_EQ(v.verdict, Verdict::kFail);
  EXPECT_EQ(Names(v), (std::vector<std::string>{"c0", "c1"}));
  EXPECT_EQ(v.skipped, (std::vector<std::string>{"c2", "c3"}));
  EXPECT_EQ(f.owned[2]->runs, 0);
  EXPECT_EQ(f.owned[1]->seen_weight, 30);
}

TEST(CheckRunnerTest, WithoutFailFastEveryCheckRuns) {
  Fixture f({Verdict::kFail, Verdict::kPass, Verdict::kInconclusive});
  const StepVerdict v = CheckRunner(/*fail_fast=*/false).Run(f.checks, StepContext{});
  EXPECT_EQ(v.verdict, Verdict::kFail);
  EXPECT_EQ(Names(v), (std::vector<std::string>{"c0", "c1", "c2"}));
  EXPECT_TRUE(v.skipped.empty());
}

TEST(CheckRunnerTest, InconclusiveWithoutFailIsInconclusive) {
  Fixture f({Verdict::kPass, Verdict::kInconclusive, Verdict::kPass});
  const StepVerdict v = CheckRunner(/*fail_fast=*/true).Run(f.checks, StepContext{});
  EXPECT_EQ(v.verdict, Verdict::kInconclusive);
  EXPECT_EQ(v.results.size(), 3u);
}

TEST(CheckRunnerTest, AllPassingOrNoChecksPasses) {
  Fixture f({Verdict::kPass, Verdict::kPass});
  EXPECT_EQ(CheckRunner(true).Run(f.checks, StepContext{}).verdict, Verdict::kPass);
  EXPECT_EQ(CheckRunner(true).Run({}, StepContext{}).verdict, Verdict::kPass);
}

TEST(CheckRunnerTest, VerdictNames) {
  EXPECT_EQ(VerdictName(Verdict::kPass), "pass");
  EXPECT_EQ(VerdictName(Verdict::kFail), "fail");
  EXPECT_EQ(VerdictName(Verdict::kInconclusive), "inconclusive");
}

}  // namespace
}  // namespace canaryctl::checks

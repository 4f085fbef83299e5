#include "analysis/sequential_test.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <vector>

namespace canaryctl::analysis {
namespace {

const config::ComparisonSpec kDefaults;  // alpha 1%, beta 5%, tolerance 2, floor 0.5%

SequentialDecision Decide(long long n, long long x, long long stable_n = 0,
                          long long stable_x = 0) {
  return CompareErrorRates({n, x}, {stable_n, stable_x}, kDefaults).decision;
}

// The stable's rate, kStableMargin standard errors up or down, floored at 0.5%.
double Bracket(long long n, long long x, double sign) {
  const double p = static_cast<double>(x) / n, q = std::max(p, 0.005);
  return std::max(0.005, p + sign * kStableMargin * std::sqrt(q * (1 - q) / n));
}

double Llr(long long n, long long x, double rate) {
  return x * std::log(2.0) + (n - x) * std::log((1 - 2 * rate) / (1 - rate));
}

TEST(SequentialTest, WaldBoundsFromAlphaAndBeta) {
  const auto r = CompareErrorRates({100, 0}, {100, 0}, kDefaults);
  EXPECT_DOUBLE_EQ(r.lower, std::log(0.05 / 0.99));
  EXPECT_DOUBLE_EQ(r.upper, std::log(0.95 / 0.01));
}

TEST(SequentialTest, StableRateIsBracketedAndFloored) {
  // No stable requests (weight 100): the floor.
  auto r = CompareErrorRates({100, 1}, {0, 0}, kDefaults);
  EXPECT_DOUBLE_EQ(r.high, 0.005);
  EXPECT_DOUBLE_EQ(r.low, 0.005);
  // No stable errors: low is the floor; high too once the stable has enough requests.
  r = CompareErrorRates({100, 1}, {5000, 0}, kDefaults);
  EXPECT_DOUBLE_EQ(r.low, 0.005);
  EXPECT_DOUBLE_EQ(r.high, 0.005);
  r = CompareErrorRates({100, 1}, {200, 0}, kDefaults);
  EXPECT_DOUBLE_EQ(r.low, 0.005);
  EXPECT_DOUBLE_EQ(r.high, 1.5 * std::sqrt(0.005 * 0.995 / 200));
  // Above the floor: the stable's rate, 1.5 standard errors either way.
  r = CompareErrorRates({100, 1}, {1000, 20}, kDefaults);
  EXPECT_DOUBLE_EQ(r.high, Bracket(1000, 20, +1));
  EXPECT_DOUBLE_EQ(r.low, Bracket(1000, 20, -1));
  EXPECT_NEAR(r.high, 0.02664, 1e-5);
  EXPECT_NEAR(r.low, 0.01336, 1e-5);
  // A stable failing everything still gives finite numbers.
  r = CompareErrorRates({100, 1}, {1000, 1000}, kDefaults);
  EXPECT_LT(r.high, 1);
  EXPECT_TRUE(std::isfinite(r.fail_llr) && std::isfinite(r.pass_llr));
}

TEST(SequentialTest, LikelihoodRatios) {
  const auto r = CompareErrorRates({300, 4}, {1000, 0}, kDefaults);
  EXPECT_NEAR(r.pass_llr, 4 * std::log(2.0) + 296 * std::log(0.99 / 0.995), 1e-12);
  EXPECT_NEAR(r.fail_llr, Llr(300, 4, Bracket(1000, 0, +1)), 1e-12);
  // Above a rate of 1/3, tolerance x rate is capped at (1 + rate) / 2.
  const auto capped = CompareErrorRates({10, 5}, {1000, 600}, kDefaults);
  const double low = Bracket(1000, 600, -1), worse = (1 + low) / 2;
  EXPECT_NEAR(capped.pass_llr, 5 * std::log(worse / low) + 5 * std::log((1 - worse) / (1 - low)),
              1e-12);
}

TEST(SequentialTest, DecisionBoundaries) {
  // At 0.5% / 1%: an error adds ln 2, a good request ln(0.99/0.995) = -0.00504.
  EXPECT_EQ(Decide(592, 0), SequentialDecision::kContinue);
  EXPECT_EQ(Decide(593, 0), SequentialDecision::kPass);
  EXPECT_EQ(Decide(731, 1), SequentialDecision::kContinue);
  EXPECT_EQ(Decide(732, 1), SequentialDecision::kPass);
  EXPECT_EQ(Decide(6, 6), SequentialDecision::kContinue);
  EXPECT_EQ(Decide(7, 7), SequentialDecision::kFail);
  // The same counts against a stable measured at 2%: lenient enough to pass at once.
  EXPECT_EQ(Decide(300, 3, 10000, 200), SequentialDecision::kPass);
  EXPECT_EQ(Decide(300, 3), SequentialDecision::kContinue);
  // A stable measured on few requests is uncertain: the candidate must err much more to fail.
  EXPECT_EQ(Decide(100, 8, 100000, 500), SequentialDecision::kFail);
  EXPECT_EQ(Decide(100, 8, 200, 1), SequentialDecision::kContinue);
}

TEST(SequentialTest, NoCandidateRequestsContinues) {
  const auto r = CompareErrorRates({0, 0}, {1000, 50}, kDefaults);
  EXPECT_EQ(r.decision, SequentialDecision::kContinue);
  EXPECT_NE(r.explanation.find("no candidate requests"), std::string::npos) << r.explanation;
}

TEST(SequentialTest, CountsAreClamped) {
  const auto r = CompareErrorRates({10, 50}, {-5, 3}, kDefaults);
  EXPECT_EQ(r.decision, SequentialDecision::kFail);  // 10 errors out of 10
  EXPECT_NEAR(r.fail_llr, 10 * std::log(2.0), 1e-12);
  EXPECT_DOUBLE_EQ(r.high, 0.005);  // no stable requests
}

TEST(SequentialTest, ExplanationHasTheNumbers) {
  const auto fail = CompareErrorRates({200, 10}, {500, 2}, kDefaults);
  ASSERT_EQ(fail.decision, SequentialDecision::kFail);
  EXPECT_EQ(fail.explanation,
            "candidate errors 10/200 (5%) vs stable 2/500 (0.4%): worse than 2x 0.87% (LLR 5.25 "
            ">= 4.55)");
  const auto pass = CompareErrorRates({600, 0}, {1000, 1}, kDefaults);
  ASSERT_EQ(pass.decision, SequentialDecision::kPass);
  EXPECT_EQ(pass.explanation,
            "candidate errors 0/600 (0%) vs stable 1/1000 (0.1%): no worse than 0.5% (LLR -3.02 "
            "<= -2.99)");
  const auto more = CompareErrorRates({100, 1}, {1000, 5}, kDefaults);
  ASSERT_EQ(more.decision, SequentialDecision::kContinue);
  EXPECT_EQ(more.explanation,
            "candidate errors 1/100 (1%) vs stable 5/1000 (0.5%): more requests needed (LLR -0.14 "
            "of 4.55 to fail, 0.19 of -2.99 to pass)");
}

struct Outcome {
  SequentialDecision decision;
  long long candidate_requests;
};

// Requests split 30/70 between candidate and stable, the test run every 50 requests.
Outcome Simulate(double candidate_rate, double stable_rate, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution to_candidate(0.3), candidate_err(candidate_rate),
      stable_err(stable_rate);
  ErrorCounts candidate, stable;
  for (int round = 0; round < 2000; ++round) {
    for (int i = 0; i < 50; ++i) {
      if (to_candidate(rng)) {
        ++candidate.requests;
        candidate.errors += candidate_err(rng);
      } else {
        ++stable.requests;
        stable.errors += stable_err(rng);
      }
    }
    const auto r = CompareErrorRates(candidate, stable, kDefaults);
    if (r.decision != SequentialDecision::kContinue) return {r.decision, candidate.requests};
  }
  return {SequentialDecision::kContinue, candidate.requests};
}

TEST(SequentialTest, ClearlyWorseCandidateFailsEarly) {
  std::vector<long long> needed;
  for (unsigned seed = 1; seed <= 200; ++seed) {
    const Outcome o = Simulate(0.05, 0.005, seed);
    ASSERT_EQ(o.decision, SequentialDecision::kFail) << "seed " << seed;
    needed.push_back(o.candidate_requests);
  }
  std::sort(needed.begin(), needed.end());
  // Wald's expected sample size at 5% vs 0.5%/1% is about 150 candidate requests.
  EXPECT_LT(needed[needed.size() / 2], 300);
  EXPECT_LT(needed.back(), 1000);
}

// How often each decision is taken over 200 seeded runs.
std::map<SequentialDecision, int> Decisions(double candidate_rate, double stable_rate) {
  std::map<SequentialDecision, int> count;
  for (unsigned seed = 1; seed <= 200; ++seed) {
    ++count[Simulate(candidate_rate, stable_rate, seed).decision];
  }
  return count;
}

TEST(SequentialTest, EqualRatesPass) {
  // alpha is 1%: about 2 false rollbacks in 200 expected, at the floor and above it.
  for (const double rate : {0.005, 0.02, 0.1}) {
    auto d = Decisions(rate, rate);
    EXPECT_LE(d[SequentialDecision::kFail], 6) << rate;
    EXPECT_GE(d[SequentialDecision::kPass], 180) << rate;
  }
}

TEST(SequentialTest, RegressionAtToleranceRarelyPasses) {
  // beta is 5%: about 10 passes in 200 expected. With the stable's plain estimate instead of
  // its bracket, about 28 of 200 would pass.
  for (const double rate : {0.005, 0.02, 0.1}) {
    EXPECT_LE(Decisions(2 * rate, rate)[SequentialDecision::kPass], 16) << rate;
  }
}

TEST(SequentialTest, FormatNumber) {
  EXPECT_EQ(FormatNumber(99.5), "99.5");
  EXPECT_EQ(FormatNumber(120.0), "120");
  EXPECT_EQ(FormatNumber(0.004321, 4), "0.0043");
  EXPECT_EQ(FormatNumber(-0.001), "0");
  EXPECT_EQ(FormatNumber(HUGE_VAL), "+Inf");
}

}  // namespace
}  // namespace canaryctl::analysis

// The error-rate comparison (config `analysis.comparison`): is the candidate's error rate worse
// than `tolerance` times the stable's? Decided by Wald's sequential probability ratio test
// (SPRT) on the candidate's requests, each a Bernoulli trial that errs (5xx) or not, so that it
// stops as soon as the evidence is enough.
//
// The stable's rate is itself measured, over the same window (x_s errors in n_s requests), so
// the test brackets it, p = x_s / n_s and q = max(p, min_error_rate):
//   high = max(min_error_rate, p + 1.5 se),  low = max(min_error_rate, p - 1.5 se),
//   se = sqrt(q (1 - q) / n_s)                (no stable requests: high = low = min_error_rate)
// and runs two SPRTs on the candidate's n requests with x errors, with
//   LLR(r) = x ln(t r / r) + (n - x) ln((1 - t r) / (1 - r)),  t = tolerance (t r capped at
//   (1 + r) / 2, below 1):
//   fail when LLR(high) >= ln((1 - beta) / alpha): the candidate errs at t x high rather than
//        at high, so a candidate as good as the stable fails with probability <= alpha;
//   pass when LLR(low) <= ln(beta / (1 - alpha)): it errs at low rather than at t x low, so a
//        candidate at t x the stable's rate passes with probability <= beta;
//   otherwise more requests are needed. alpha = false_rollback_rate, beta =
//   missed_regression_rate.
// Using the plain estimate p for both would let its noise break both bounds (with the stable
// at 0.5% and 30% of the traffic to the candidate, 14% of regressions at the tolerance passed
// instead of 5%); the 1.5-standard-error bracket keeps them within alpha and beta at the price
// of a few more requests (bench/sequential_test.cc prints the figures). Counts are cumulative
// since the step started and the test is recomputed from them each round.
//
// min_error_rate is the floor of the stable's rate: a stable without errors (or without
// requests, at weight 100, where the test becomes "is the candidate's rate at most
// min_error_rate") still leaves the candidate a rate to be compared with, so one early error
// cannot fail it. At the defaults (alpha 1%, beta 5%, tolerance 2, floor 0.5%) an error adds
// ln 2 = 0.69 to the LLR and a good request about -0.005: seven errors in a row fail a
// candidate, and a flawless one passes after 593 requests.
#pragma once

#include <string>

#include "config/rollout_spec.h"

namespace canaryctl::analysis {

struct ErrorCounts {
  long long requests = 0;
  long long errors = 0;  // 0 <= errors <= requests
};

enum class SequentialDecision { kPass, kFail, kContinue };

struct SequentialResult {
  SequentialDecision decision = SequentialDecision::kContinue;
  double high = 0;  // the stable's rate, bracketed as above
  double low = 0;
  double fail_llr = 0;  // LLR(high): fail at or above `upper`
  double pass_llr = 0;  // LLR(low): pass at or below `lower`
  double lower = 0;     // ln(beta / (1 - alpha)), negative
  double upper = 0;     // ln((1 - beta) / alpha), positive
  // One line with the numbers, e.g. "candidate errors 10/200 (5%) vs stable 2/500 (0.4%):
  // worse than 2x 0.5% (LLR 5.97 >= 4.55)".
  std::string explanation;
};

// Standard errors of the stable's estimate between its rate and `high` (or `low`).
inline constexpr double kStableMargin = 1.5;

// A pure function of the counts: what the test decides now. Counts are clamped into range
// (negative: 0; errors: at most requests). No candidate requests: kContinue.
SequentialResult CompareErrorRates(const ErrorCounts& candidate, const ErrorCounts& stable,
                                   const config::ComparisonSpec& spec);

// The number as messages write it: at most `decimals` decimals, trailing zeros dropped
// ("99.5", "120", "0.43").
std::string FormatNumber(double value, int decimals = 2);

}  // namespace canaryctl::analysis

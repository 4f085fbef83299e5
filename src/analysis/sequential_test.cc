#include "analysis/sequential_test.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace canaryctl::analysis {
namespace {

// The stable's rate is taken as at most this, so that the logarithms stay finite.
constexpr double kMaxRate = 0.99;

std::string Percent(double rate) { return FormatNumber(rate * 100) + "%"; }

std::string Counts(const ErrorCounts& counts) {
  std::string text = std::to_string(counts.errors) + "/" + std::to_string(counts.requests);
  if (counts.requests > 0) {
    text += " (" + Percent(static_cast<double>(counts.errors) / counts.requests) + ")";
  }
  return text;
}

ErrorCounts Clamp(ErrorCounts counts) {
  counts.requests = std::max(0LL, counts.requests);
  counts.errors = std::clamp(counts.errors, 0LL, counts.requests);
  return counts;
}

}  // namespace

std::string FormatNumber(double value, int decimals) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  std::string text = buffer;
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  if (text == "-0") text = "0";
  return text;
}

SequentialResult CompareErrorRates(const ErrorCounts& candidate_in, const ErrorCounts& stable_in,
                                   const config::ComparisonSpec& spec) {
  const ErrorCounts candidate = Clamp(candidate_in);
  const ErrorCounts stable = Clamp(stable_in);
  SequentialResult r;
  const double alpha = spec.false_rollback_rate;
  const double beta = spec.missed_regression_rate;
  const double floor = spec.min_error_rate;
  r.lower = std::log(beta / (1 - alpha));
  r.upper = std::log((1 - beta) / alpha);
  r.high = r.low = floor;
  if (stable.requests > 0) {
    const double p = static_cast<double>(stable.errors) / stable.requests;
    const double q = std::max(p, floor);
    const double se = std::sqrt(q * (1 - q) / stable.requests);
    r.high = std::max(floor, p + kStableMargin * se);
    r.low = std::max(floor, p - kStableMargin * se);
  }
  r.high = std::min(r.high, kMaxRate);
  r.low = std::min(r.low, kMaxRate);
  const auto n = static_cast<double>(candidate.requests);
  const auto x = static_cast<double>(candidate.errors);
  const auto llr = [&](double rate) {
    const double worse = std::min(spec.tolerance * rate, (1 + rate) / 2);
    return x * std::log(worse / rate) + (n - x) * std::log((1 - worse) / (1 - rate));
  };
  r.fail_llr = llr(r.high);
  r.pass_llr = llr(r.low);

  const std::string counts =
      "candidate errors " + Counts(candidate) + " vs stable " + Counts(stable);
  if (candidate.requests == 0) {
    r.decision = SequentialDecision::kContinue;
    r.explanation = "no candidate requests yet (stable errors " + Counts(stable) + ")";
  } else if (r.fail_llr >= r.upper) {
    r.decision = SequentialDecision::kFail;
    r.explanation = counts + ": worse than " + FormatNumber(spec.tolerance) + "x " +
                    Percent(r.high) + " (LLR " + FormatNumber(r.fail_llr) +
                    " >= " + FormatNumber(r.upper) + ")";
  } else if (r.pass_llr <= r.lower) {
    r.decision = SequentialDecision::kPass;
    r.explanation = counts + ": no worse than " + Percent(r.low) + " (LLR " +
                    FormatNumber(r.pass_llr) + " <= " + FormatNumber(r.lower) + ")";
  } else {
    r.decision = SequentialDecision::kContinue;
    r.explanation = counts + ": more requests needed (LLR " + FormatNumber(r.fail_llr) + " of " +
                    FormatNumber(r.upper) + " to fail, " + FormatNumber(r.pass_llr) + " of " +
                    FormatNumber(r.lower) + " to pass)";
  }
  return r;
}

}  // namespace canaryctl::analysis

#include <cmath>
#include <cstdio>
#include <string>

#include "load/load_generator.h"

namespace canaryctl::load {
namespace {

constexpr int64_t kMinKnownAnswers = 20;
constexpr double kMaxUnknownShare = 0.01;

// z with P(|Z| <= z) = confidence for a standard normal Z, by bisection on erfc (monotone).
double TwoSidedZ(double confidence) {
  const double tail = (1 - confidence) / 2;  // P(Z > z)
  double lo = 0, hi = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    (0.5 * std::erfc(mid / std::sqrt(2.0)) > tail ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

std::string Percent(double share) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", share * 100);
  return text;
}

// "99.9" for 0.999, "95" for 0.95: as many digits as the configuration gave, up to four.
std::string ConfidencePercent(double confidence) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", confidence * 100);
  return text;
}

}  // namespace

checks::CheckResult TrafficSplitCheck(const report::LoadRecord& load,
                                      const config::SplitSpec& split, int weight) {
  checks::CheckResult result;
  result.name = "traffic-split";
  int64_t known = 0, unknown = 0, candidate = 0;
  for (const auto& [version, count] : load.by_version) {
    (version.empty() ? unknown : known) += count;
    if (!version.empty() && version == split.candidate) candidate += count;
  }
  const int64_t all = known + unknown;
  const std::string source =
      split.header ? "header " + *split.header : "JSON field " + split.json.value_or("");
  if (all >= kMinKnownAnswers && static_cast<double>(unknown) > kMaxUnknownShare * all) {
    result.verdict = checks::Verdict::kFail;
    result.message = std::to_string(unknown) + " of " + std::to_string(all) + " answers (" +
                     Percent(static_cast<double>(unknown) / all) + "%) had no " + source +
                     ": the split cannot be verified";
    return result;
  }
  if (known < kMinKnownAnswers) {
    result.verdict = checks::Verdict::kInconclusive;
    result.message = "too few answers to judge the split: " + std::to_string(known) +
                     " with a known version, need " + std::to_string(kMinKnownAnswers);
    return result;
  }
  // Wilson score interval for the candidate's share p of n answers.
  const double n = static_cast<double>(known);
  const double p = candidate / n;
  const double z = TwoSidedZ(split.confidence);
  const double z2n = z * z / n;
  const double center = (p + z2n / 2) / (1 + z2n);
  const double half = z / (1 + z2n) * std::sqrt(p * (1 - p) / n + z2n / (4 * n));
  // At the edges the interval reaches 0 or 1 exactly; rounding must not move it off.
  const double low = candidate == 0 ? 0.0 : std::max(0.0, center - half);
  const double high = candidate == known ? 1.0 : std::min(1.0, center + half);
  const double expected = weight / 100.0;
  const bool inside = low <= expected && expected <= high;
  result.verdict = inside ? checks::Verdict::kPass : checks::Verdict::kFail;
  result.message = "candidate " + std::to_string(candidate) + "/" + std::to_string(known) + " = " +
                   Percent(p) + "% (" + ConfidencePercent(split.confidence) + "% CI " +
                   Percent(low) + "\u2013" + Percent(high) + "%), weight " +
                   std::to_string(weight) + "%";
  if (!inside) result.message += ": outside the interval, the split differs from the weights";
  if (unknown > 0) {
    result.message += " (" + std::to_string(unknown) + " answers without a version ignored)";
  }
  return result;
}

}  // namespace canaryctl::load

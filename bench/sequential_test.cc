// The error-rate comparison (analysis/sequential_test.h) on simulated traffic: 1,000 seeded
// runs per scenario. Requests go to the candidate with probability `share` (its weight) and
// to the stable otherwise; each errs with its side's rate; the test looks at the cumulative
// counts every `every` requests, as Prometheus rounds would see them. Default ComparisonSpec
// (alpha 1%, beta 5%, tolerance 2, floor 0.5%).
//
//   bench_sequential_test [--runs N] [--share S] [--every K]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "analysis/sequential_test.h"

namespace {

using canaryctl::analysis::CompareErrorRates;
using canaryctl::analysis::ErrorCounts;
using canaryctl::analysis::SequentialDecision;

constexpr long long kMaxRequests = 1'000'000;  // per run; beyond: undecided

struct Run {
  SequentialDecision decision = SequentialDecision::kContinue;
  long long candidate_requests = 0;
  long long total_requests = 0;
};

Run Simulate(double candidate_rate, double stable_rate, double share, int every, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution to_candidate(share), candidate_errs(candidate_rate),
      stable_errs(stable_rate);
  const canaryctl::config::ComparisonSpec spec;
  ErrorCounts candidate, stable;
  Run run;
  while (run.total_requests < kMaxRequests) {
    for (int i = 0; i < every; ++i, ++run.total_requests) {
      if (to_candidate(rng)) {
        ++candidate.requests;
        candidate.errors += candidate_errs(rng);
      } else {
        ++stable.requests;
        stable.errors += stable_errs(rng);
      }
    }
    run.decision = CompareErrorRates(candidate, stable, spec).decision;
    if (run.decision != SequentialDecision::kContinue) break;
  }
  run.candidate_requests = candidate.requests;
  return run;
}

// "-" when no run ended that way.
std::string Median(std::vector<long long> v) {
  if (v.empty()) return "-";
  std::sort(v.begin(), v.end());
  return std::to_string(v[v.size() / 2]);
}

void Scenario(const char* label, double candidate_rate, double stable_rate, double share, int every,
              int runs) {
  int fails = 0, passes = 0;
  std::vector<long long> fail_candidate, fail_total, pass_candidate, pass_total;
  for (int seed = 1; seed <= runs; ++seed) {
    const Run r = Simulate(candidate_rate, stable_rate, share, every, seed);
    if (r.decision == SequentialDecision::kFail) {
      ++fails;
      fail_candidate.push_back(r.candidate_requests);
      fail_total.push_back(r.total_requests);
    } else if (r.decision == SequentialDecision::kPass) {
      ++passes;
      pass_candidate.push_back(r.candidate_requests);
      pass_total.push_back(r.total_requests);
    }
  }
  std::printf("%-34s %5.2f%% %6.2f%% | %6.1f%% %6.1f%% %6.1f%% | %8s %8s | %8s %8s\n", label,
              candidate_rate * 100, stable_rate * 100, 100.0 * fails / runs, 100.0 * passes / runs,
              100.0 * (runs - fails - passes) / runs, Median(fail_candidate).c_str(),
              Median(fail_total).c_str(), Median(pass_candidate).c_str(),
              Median(pass_total).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 1000;
  double share = 0.3;
  int every = 50;
  CLI::App app{"the error-rate comparison's sequential test on seeded simulations"};
  app.add_option("--runs", runs, "simulations per scenario")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_option("--share", share, "the candidate's share of the requests, within (0, 1)")
      ->check(CLI::Range(0.001, 0.999))
      ->capture_default_str();
  app.add_option("--every", every, "requests between evaluations")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::printf(
      "Error-rate comparison (sequential test), %d seeded runs per row; candidate share %.0f%%, "
      "tested every %d requests;\nalpha 1%%, beta 5%%, tolerance 2, floor 0.5%%. Medians in "
      "requests (candidate's, all).\n\n",
      runs, share * 100, every);
  std::printf("%-34s %6s %7s | %7s %7s %7s | %17s | %17s\n", "scenario", "cand", "stable", "fail",
              "pass", "undec.", "median to fail", "median to pass");
  Scenario("clearly worse candidate", 0.05, 0.005, share, every, runs);
  Scenario("equal: false rollback rate", 0.005, 0.005, share, every, runs);
  Scenario("at tolerance: missed regression", 0.01, 0.005, share, every, runs);
  Scenario("perfect candidate and stable", 0, 0, share, every, runs);
  Scenario("equal above the floor", 0.02, 0.02, share, every, runs);
  Scenario("at tolerance above the floor", 0.04, 0.02, share, every, runs);
  Scenario("candidate at 20% errors", 0.2, 0.005, share, every, runs);
  return 0;
}

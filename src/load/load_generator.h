// Traffic canaryctl generates itself during a step (config `load:`), for environments without
// real users yet, as Flagger's load tester does. `concurrency` workers share one schedule of
// `rate` requests per second (open loop: a slow answer does not slow the schedule down, a
// worker that falls behind sends at once, up to the schedule; request k is never sent before
// k/rate seconds after Start). Each worker keeps its connection alive (a request that fails on
// a reused connection before any answer is sent once more on a new one, as curl does), through
// the proxy when one is given (absolute-form requests; HTTPS through CONNECT). Every answer is
// counted by the side that served it (load.split), so the split can be checked against the
// weights.
//
// Counts (report::LoadRecord): `requests` is every request that completed, answered or not;
// `errors` are 5xx answers, timeouts and connection failures; `p99_ms` is over answered
// requests and timeouts (a timeout counts as the time it waited, so a hanging candidate shows);
// `by_version` counts answers (any status) by the split's header or JSON field, "" when the
// answer lacks it; empty without load.split.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "checks/check.h"
#include "checks/http_check.h"
#include "config/rollout_spec.h"
#include "report/rollout_record.h"

namespace canaryctl::load {

class LoadGenerator {
 public:
  LoadGenerator(const config::LoadSpec& spec, std::optional<checks::HttpProxy> proxy);
  ~LoadGenerator();  // stops the workers
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  // Starts the workers; returns at once. Counts start from zero at each Start (a running
  // generator is stopped first).
  void Start();
  // The counts so far (safe while running, from any thread).
  report::LoadRecord Snapshot() const;
  // Stops the workers (in-flight requests are abandoned after at most the request timeout)
  // and returns the final counts. Stopping a stopped generator only returns the counts.
  report::LoadRecord Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The `traffic-split` check: the observed candidate share (by_version[split.candidate] over all
// answers with a known side) has a binomial confidence interval (Wilson score, at
// split.confidence); the check passes when that interval contains weight/100, so a split that
// differs from the weights by more than chance explains fails. The message states the counts,
// share, interval and weight: "candidate 312/1000 = 31.2% (99.9% CI 27.4–35.3%), weight 30%".
// In order: at least 20 answers and unknown side ("" key) above 1% of them: fail (the split
// cannot be verified); fewer than 20 answers with a known side: inconclusive ("too few
// answers").
checks::CheckResult TrafficSplitCheck(const report::LoadRecord& load,
                                      const config::SplitSpec& split, int weight);

}  // namespace canaryctl::load

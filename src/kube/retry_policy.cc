#include "kube/retry_policy.h"

#include <algorithm>

namespace canaryctl::kube {

bool IsRetryableStatus(int status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

Backoff::Backoff(const RetryPolicy& policy)
    : policy_(policy), rng_(policy.seed != 0 ? policy.seed : std::random_device{}()) {}

std::chrono::milliseconds Backoff::Next(int retry,
                                        std::optional<std::chrono::milliseconds> retry_after) {
  const int64_t initial = std::max<int64_t>(0, policy_.initial_backoff.count());
  const int64_t cap_max = std::max<int64_t>(0, policy_.max_backoff.count());
  int64_t cap = initial;
  for (int i = 1; i < retry && cap < cap_max; ++i) cap *= 2;  // no overflow: stops at cap_max
  cap = std::min(cap, cap_max);
  std::uniform_int_distribution<int64_t> draw(0, cap);
  std::chrono::milliseconds wait(draw(rng_));
  if (retry_after && *retry_after > wait) wait = *retry_after;
  return wait;
}

}  // namespace canaryctl::kube

#include "kube/retry_policy.h"

#include <algorithm>
#include <vector>

#include <gtest/gtest.h>

namespace canaryctl::kube {
namespace {

using std::chrono::milliseconds;

RetryPolicy Policy(uint64_t seed) {
  RetryPolicy policy;
  policy.initial_backoff = milliseconds(100);
  policy.max_backoff = milliseconds(1000);
  policy.seed = seed;
  return policy;
}

std::vector<int64_t> Draws(uint64_t seed, int n) {
  Backoff backoff(Policy(seed));
  std::vector<int64_t> out;
  for (int retry = 1; retry <= n; ++retry) out.push_back(backoff.Next(retry, {}).count());
  return out;
}

TEST(RetryPolicyTest, RetryableStatuses) {
  for (int status : {429, 500, 502, 503, 504}) EXPECT_TRUE(IsRetryableStatus(status)) << status;
  for (int status : {200, 201, 400, 401, 403, 404, 409, 410, 422, 501, 505}) {
    EXPECT_FALSE(IsRetryableStatus(status)) << status;
  }
}

TEST(RetryPolicyTest, FullJitterStaysUnderTheExponentialCap) {
  Backoff backoff(Policy(1));
  for (int round = 0; round < 200; ++round) {
    for (int retry = 1; retry <= 40; ++retry) {
      const int64_t cap = retry >= 5 ? 1000 : 100 << (retry - 1);
      const int64_t wait = backoff.Next(retry, {}).count();
      ASSERT_GE(wait, 0);
      ASSERT_LE(wait, cap) << "retry " << retry;
    }
  }
}

TEST(RetryPolicyTest, JitterSpreadsAndTheSeedMakesItReproducible) {
  EXPECT_EQ(Draws(5, 30), Draws(5, 30));
  EXPECT_NE(Draws(5, 30), Draws(6, 30));
  // Late retries draw from [0, 1000]: they are not all the same value.
  std::vector<int64_t> late = Draws(9, 30);
  late.erase(late.begin(), late.begin() + 5);
  EXPECT_NE(*std::min_element(late.begin(), late.end()),
            *std::max_element(late.begin(), late.end()));
}

TEST(RetryPolicyTest, RetryAfterIsAFloor) {
  Backoff backoff(Policy(3));
  EXPECT_EQ(backoff.Next(1, milliseconds(3000)), milliseconds(3000));
  EXPECT_GE(backoff.Next(8, milliseconds(0)).count(), 0);
}

}  // namespace
}  // namespace canaryctl::kube

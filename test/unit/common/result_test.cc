#include "common/result.h"

#include <gtest/gtest.h>

namespace canaryctl {
namespace {

TEST(ResultTest, ExitCodesFollowTheDesign) {
  EXPECT_EQ(ExitCode(ErrorKind::kCheckFailed), 1);
  EXPECT_EQ(ExitCode(ErrorKind::kConfig), 2);
  EXPECT_EQ(ExitCode(ErrorKind::kCluster), 3);
  EXPECT_EQ(ExitCode(ErrorKind::kLocked), 4);
  EXPECT_EQ(ExitCode(ErrorKind::kRollbackFailed), 5);
  EXPECT_EQ(ExitCode(ErrorKind::kInterrupted), 130);
}

TEST(ResultTest, HoldsAValueOrAnError) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good.value(), 7);
  Result<int> bad = ConfigError("rollout.yaml:3:5: traffic.steps: expected a list");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::kConfig);
  EXPECT_EQ(bad.error().message, "rollout.yaml:3:5: traffic.steps: expected a list");
}

}  // namespace
}  // namespace canaryctl

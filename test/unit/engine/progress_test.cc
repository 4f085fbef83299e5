#include "engine/progress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace canaryctl::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using namespace std::chrono_literals;

TEST(FormatElapsedTest, CompactUnits) {
  EXPECT_EQ(FormatElapsed(850ms), "850ms");
  EXPECT_EQ(FormatElapsed(12s), "12s");
  EXPECT_EQ(FormatElapsed(12999ms), "12s");
  EXPECT_EQ(FormatElapsed(245s), "4m05s");
  EXPECT_EQ(FormatElapsed(3600s), "60m00s");
}

TEST(ProgressTickerTest, LineSaysWhatElapsedLeftAndTheDetail) {
  ProgressTicker ticker(
      "deploy: waiting for helm", 5min, [] { return "3 of 4 pods ready"; }, 1h);
  EXPECT_THAT(
      ticker.Line(),
      MatchesRegex("deploy: waiting for helm: [0-9]+ms elapsed, (4m5[0-9]|5m00)s left; 3 of 4 "
                   "pods ready"));
}

TEST(ProgressTickerTest, NoLimitNoDetail) {
  ProgressTicker ticker("load at 30%", 0ms, {}, 1h);
  EXPECT_THAT(ticker.Line(), MatchesRegex("load at 30%: [0-9]+ms elapsed"));
  ProgressTicker empty_detail(
      "x", 0ms, [] { return std::string(); }, 1h);
  EXPECT_THAT(empty_detail.Line(), Not(HasSubstr(";")));
}

}  // namespace
}  // namespace canaryctl::engine

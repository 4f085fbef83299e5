#include "common/quote.h"

#include <gtest/gtest.h>

namespace canaryctl {
namespace {

TEST(GoQuoteTest, EscapesAsGoDoes) {
  EXPECT_EQ(GoQuote("plain"), "\"plain\"");
  EXPECT_EQ(GoQuote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(GoQuote("l1\nl2\tt\rr"), R"("l1\nl2\tt\rr")");
  EXPECT_EQ(GoQuote(std::string("x\x01y", 3)), R"("x\x01y")");
  EXPECT_EQ(GoQuote("é"), "\"é\"");  // UTF-8 as it is
}

TEST(EscapeLabelValueTest, EscapesBackslashQuoteAndNewlineOnly) {
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(EscapeLabelValue("tab\there"), "tab\there");
  EXPECT_EQ(EscapeLabelValue(""), "");
}

}  // namespace
}  // namespace canaryctl

#include "ci/redactor.h"

#include <gtest/gtest.h>

namespace canaryctl::ci {
namespace {

TEST(RedactorTest, MasksEveryOccurrence) {
  Redactor r;
  ASSERT_TRUE(r.Add("s3cr3t-token"));
  EXPECT_EQ(r.Redact("a s3cr3t-token b s3cr3t-token"), "a [MASKED] b [MASKED]");
  EXPECT_EQ(r.Redact("s3cr3t-tokens3cr3t-token"), "[MASKED][MASKED]");
  EXPECT_EQ(r.Redact("s3cr3t-toke"), "s3cr3t-toke");
}

TEST(RedactorTest, IgnoresShortSecrets) {
  Redactor r;
  EXPECT_FALSE(r.Add("abc"));
  EXPECT_FALSE(r.Add(""));
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.Redact("abc abc"), "abc abc");
  EXPECT_TRUE(r.Add("abcd"));
  EXPECT_EQ(r.Redact("abc abcd"), "abc [MASKED]");
}

TEST(RedactorTest, LongestMatchWinsAndOverlapsAreCovered) {
  Redactor r;
  r.Add("token");
  r.Add("token-extended");
  EXPECT_EQ(r.Redact("x token-extended y token z"), "x [MASKED] y [MASKED] z");
  Redactor o;
  o.Add("abcdef");
  o.Add("defghi");
  // The second secret starts inside the first: its tail must not leak.
  EXPECT_EQ(o.Redact("abcdefghi!"), "[MASKED]!");
}

TEST(RedactorTest, MultiLineSecretIsMaskedLineByLine) {
  Redactor r;
  r.Add("line-one-key\r\nline-two-key\n");
  EXPECT_EQ(r.Redact("got line-two-key here"), "got [MASKED] here");
  EXPECT_EQ(r.Redact("line-one-key\r\nline-two-key\n"), "[MASKED]");
}

TEST(RedactorTest, NoSecretsIsIdentity) {
  Redactor r;
  EXPECT_EQ(r.Redact(std::string("bin\0ary", 7)), std::string("bin\0ary", 7));
}

}  // namespace
}  // namespace canaryctl::ci

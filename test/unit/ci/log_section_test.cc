#include "ci/log_section.h"

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <stdexcept>

namespace canaryctl::ci {
namespace {

SectionLog::Clock FakeClock(int64_t start) {
  auto t = std::make_shared<int64_t>(start);
  return [t] { return (*t)++; };
}

TEST(LogSectionTest, GitLabEscapeSequencesAreByteExact) {
  std::ostringstream out;
  SectionLog log(out, /*gitlab=*/true, FakeClock(1700000000));
  {
    LogSection s(log, "deploy", "Deploying candidate", /*collapsed=*/true);
    out << "work\n";
  }
  EXPECT_EQ(out.str(),
            "\x1b[0Ksection_start:1700000000:deploy[collapsed=true]\r\x1b[0KDeploying candidate\n"
            "work\n"
            "\x1b[0Ksection_end:1700000001:deploy\r\x1b[0K\n");
}

TEST(LogSectionTest, NotCollapsedOmitsOption) {
  std::ostringstream out;
  SectionLog log(out, true, FakeClock(5));
  LogSection s(log, "x", "X");
  EXPECT_EQ(out.str(), "\x1b[0Ksection_start:5:x\r\x1b[0KX\n");
}

TEST(LogSectionTest, NamesAreSanitizedAndHeadersCannotForgeMarkers) {
  std::ostringstream out;
  SectionLog log(out, true, FakeClock(1));
  {
    LogSection s(log, "shift 30%:a/b", "evil\r\x1b[0Ksection_end:1:x\nnext");
    EXPECT_EQ(s.name(), "shift_30__a_b");
  }
  EXPECT_EQ(out.str(),
            "\x1b[0Ksection_start:1:shift_30__a_b\r\x1b[0Kevil  [0Ksection_end:1:x next\n"
            "\x1b[0Ksection_end:2:shift_30__a_b\r\x1b[0K\n");
  EXPECT_EQ(SanitizeSectionName(""), "section");
  EXPECT_EQ(SanitizeSectionName("a.b-c_D9"), "a.b-c_D9");
}

TEST(LogSectionTest, NestedSectionsEndInnerFirstWithUniqueNames) {
  std::ostringstream out;
  SectionLog log(out, true, FakeClock(10));
  LogSection outer(log, "helm", "outer");
  LogSection inner(log, "helm", "inner");
  EXPECT_EQ(inner.name(), "helm-2");
  EXPECT_EQ(log.depth(), 2u);
  outer.End();  // must close the inner one first
  EXPECT_EQ(log.depth(), 0u);
  inner.End();  // already closed: no output
  EXPECT_EQ(out.str(),
            "\x1b[0Ksection_start:10:helm\r\x1b[0Kouter\n"
            "\x1b[0Ksection_start:11:helm-2\r\x1b[0Kinner\n"
            "\x1b[0Ksection_end:12:helm-2\r\x1b[0K\n"
            "\x1b[0Ksection_end:13:helm\r\x1b[0K\n");
}

int EarlyReturn(SectionLog& log, bool fail) {
  LogSection s(log, "phase", "Phase");
  if (fail) return 1;
  s.End();
  return 0;
}

TEST(LogSectionTest, EndsOnEarlyReturnAndException) {
  std::ostringstream out;
  SectionLog log(out, true, FakeClock(0));
  EXPECT_EQ(EarlyReturn(log, true), 1);
  EXPECT_EQ(log.depth(), 0u);
  EXPECT_NE(out.str().find("section_end:1:phase\r"), std::string::npos);
  try {
    LogSection s(log, "boom", "Boom");
    throw std::runtime_error("x");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(log.depth(), 0u);
  EXPECT_NE(out.str().find("section_end:3:boom\r"), std::string::npos);
}

TEST(LogSectionTest, PlainTextOutsideGitLab) {
  std::ostringstream out;
  SectionLog log(out, false, FakeClock(0));
  {
    LogSection a(log, "deploy", "Deploy", true);
    LogSection b(log, "helm", "helm upgrade");
    out << "done\n";
  }
  EXPECT_EQ(out.str(), "Deploy\n  helm upgrade\ndone\n");
  EXPECT_EQ(out.str().find('\x1b'), std::string::npos);
}

TEST(LogSectionTest, HeadersAreRedacted) {
  std::ostringstream out;
  Redactor redactor;
  redactor.Add("tok\nen-1234");  // a secret with a line break, as a header would flatten it
  redactor.Add("pass-5678");
  SectionLog log(out, true, FakeClock(1), &redactor);
  LogSection s(log, "login", "login with pass-5678 and tok\nen-1234");
  EXPECT_EQ(out.str(), "\x1b[0Ksection_start:1:login\r\x1b[0Klogin with [MASKED] and [MASKED]\n");
}

}  // namespace
}  // namespace canaryctl::ci

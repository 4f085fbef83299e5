#include "report/dotenv_writer.h"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "record_fixture.h"

namespace canaryctl::report {
namespace {

// What GitLab accepts, line by line (shared/notes/gitlab-ci.md).
void ExpectValidDotenv(const std::string& text) {
  EXPECT_LE(text.size(), kMaxDotenvBytes);
  std::istringstream in(text);
  std::string line;
  size_t lines = 0;
  static const std::regex kLine(R"(^CANARYCTL_[A-Z0-9_]+=[^\s"'#`\\$]+$)");
  while (std::getline(in, line)) {
    ++lines;
    EXPECT_TRUE(std::regex_match(line, kLine)) << "invalid dotenv line: " << line;
  }
  EXPECT_LE(lines, kMaxDotenvVariables);
  if (!text.empty()) {
    EXPECT_EQ(text.back(), '\n');
  }
}

TEST(DotenvWriterTest, GoldenOutput) {
  DotenvOutput out = RenderDotenv(testing::SampleRecord(), ci::Redactor());
  EXPECT_EQ(out.text,
            "CANARYCTL_ROLLOUT_APP=demoapp\n"
            "CANARYCTL_ROLLOUT_STRATEGY=hybrid\n"
            "CANARYCTL_PHASE=shift\n"
            "CANARYCTL_OUTCOME=rolled_back\n"
            "CANARYCTL_STABLE_WEIGHT=100\n"
            "CANARYCTL_CANDIDATE_WEIGHT=0\n"
            "CANARYCTL_CHECKS_FAILED=1\n"
            "CANARYCTL_STABLE_VERSION=1.0.0\n"
            "CANARYCTL_CANDIDATE_VERSION=1.1.0\n"
            "CANARYCTL_STABLE_REVISION=3\n"
            "CANARYCTL_CANDIDATE_REVISION=2\n"
            "CANARYCTL_STABLE_COMMIT=aaaa1111\n"
            "CANARYCTL_CANDIDATE_COMMIT=bbbb2222\n"
            "CANARYCTL_ENVIRONMENT_URL=https://demo.example.com\n"
            "CANARYCTL_PIPELINE_ID=1234\n"
            "CANARYCTL_JOB_URL=https://gitlab.example.com/g/demo/-/jobs/99\n");
  EXPECT_TRUE(out.warnings.empty());
  ExpectValidDotenv(out.text);
}

TEST(DotenvWriterTest, ValuesArePercentEncodedNotBroken) {
  bool changed = false;
  EXPECT_EQ(SanitizeDotenvValue("plain-value_1.2/x:y@z", &changed), "plain-value_1.2/x:y@z");
  EXPECT_FALSE(changed);
  EXPECT_EQ(SanitizeDotenvValue("a b\tc", &changed), "a%20b%09c");
  EXPECT_TRUE(changed);
  EXPECT_EQ(SanitizeDotenvValue("l1\nl2\r\n", &changed), "l1%0Al2%0D%0A");
  EXPECT_EQ(SanitizeDotenvValue("\"q\" 'q' `q`", &changed), "%22q%22%20%27q%27%20%60q%60");
  EXPECT_EQ(SanitizeDotenvValue("x#comment ${HOME} a\\b", &changed),
            "x%23comment%20%24{HOME}%20a%5Cb");
  // Valid UTF-8 letters stay; Unicode spaces and invalid bytes are encoded.
  EXPECT_EQ(SanitizeDotenvValue("caf\xc3\xa9", &changed), "caf\xc3\xa9");
  EXPECT_FALSE(changed);
  EXPECT_EQ(SanitizeDotenvValue("a\xc2\xa0"
                                "b\xe2\x80\xa8"
                                "c",
                                &changed),
            "a%C2%A0b%E2%80%A8c");
  EXPECT_EQ(SanitizeDotenvValue("x\xff\xc3", &changed), "x%FF%C3");
}

TEST(DotenvWriterTest, HostileExtrasAreSanitizedOrDroppedWithWarnings) {
  RolloutRecord r;
  r.app = "my app";  // a space: encoded, with a warning
  r.extra_env = {
      {"CANARYCTL_NOTE", "multi\nline \"quoted\" #x"},
      {"CANARYCTL_lower", "v"},
      {"OTHER_KEY", "v"},
      {"CANARYCTL_", "v"},
      {"CANARYCTL_BAD-KEY", "v"},
      {"CANARYCTL_ROLLOUT_APP", "override"},
      {"CANARYCTL_EMPTY", ""},
      {"CANARYCTL_UNICODE", "\xe2\x9c\x93 ok"},
  };
  DotenvOutput out = RenderDotenv(r, ci::Redactor());
  ExpectValidDotenv(out.text);
  EXPECT_NE(out.text.find("CANARYCTL_ROLLOUT_APP=my%20app\n"), std::string::npos);
  EXPECT_NE(out.text.find("CANARYCTL_NOTE=multi%0Aline%20%22quoted%22%20%23x\n"),
            std::string::npos);
  EXPECT_NE(out.text.find("CANARYCTL_UNICODE=\xe2\x9c\x93%20ok\n"), std::string::npos);
  EXPECT_EQ(out.text.find("override"), std::string::npos);
  EXPECT_EQ(out.text.find("CANARYCTL_EMPTY"), std::string::npos);
  std::string all;
  for (const std::string& w : out.warnings) all += w + "\n";
  for (const char* key : {"CANARYCTL_lower", "OTHER_KEY", "'CANARYCTL_'", "CANARYCTL_BAD-KEY",
                          "CANARYCTL_ROLLOUT_APP: canaryctl sets it",
                          "encoded characters GitLab cannot "
                          "carry in CANARYCTL_NOTE"}) {
    EXPECT_NE(all.find(key), std::string::npos) << key << " not in:\n" << all;
  }
}

TEST(DotenvWriterTest, AtMostTwentyVariables) {
  RolloutRecord r = testing::SampleRecord();  // 16 built-in lines
  for (int i = 0; i < 10; ++i) {
    r.extra_env["CANARYCTL_EXTRA_" + std::to_string(i)] = "v" + std::to_string(i);
  }
  DotenvOutput out = RenderDotenv(r, ci::Redactor());
  ExpectValidDotenv(out.text);
  EXPECT_NE(out.text.find("CANARYCTL_EXTRA_3=v3\n"), std::string::npos);
  EXPECT_EQ(out.text.find("CANARYCTL_EXTRA_4"), std::string::npos);
  ASSERT_EQ(out.warnings.size(), 6u);
  EXPECT_NE(out.warnings[0].find("CANARYCTL_EXTRA_4: GitLab accepts at most 20"),
            std::string::npos);
}

TEST(DotenvWriterTest, FileStaysWithinFiveKilobytes) {
  RolloutRecord r;
  for (int i = 0; i < 4; ++i)
    r.extra_env["CANARYCTL_BIG_" + std::to_string(i)] = std::string(1500, 'v');
  DotenvOutput out = RenderDotenv(r, ci::Redactor());
  ExpectValidDotenv(out.text);
  EXPECT_NE(out.text.find("CANARYCTL_BIG_2="), std::string::npos);
  EXPECT_EQ(out.text.find("CANARYCTL_BIG_3="), std::string::npos);
  ASSERT_FALSE(out.warnings.empty());
  EXPECT_NE(out.warnings.back().find("CANARYCTL_BIG_3: the file would exceed"), std::string::npos);
}

TEST(DotenvWriterTest, KeyValidation) {
  EXPECT_TRUE(ValidDotenvKey("CANARYCTL_A1_B"));
  EXPECT_FALSE(ValidDotenvKey("CANARYCTL_"));
  EXPECT_FALSE(ValidDotenvKey("canaryctl_x"));
  EXPECT_FALSE(ValidDotenvKey("CANARYCTL_X Y"));
  EXPECT_FALSE(ValidDotenvKey("CANARYCTL_\xc3\x89"));
  EXPECT_FALSE(ValidDotenvKey("CANARYCTL_" + std::string(250, 'A')));
  EXPECT_TRUE(ValidDotenvKey("CANARYCTL_" + std::string(245, 'A')));
}

TEST(DotenvWriterTest, SecretIsMaskedBeforeEncoding) {
  RolloutRecord r;
  r.extra_env["CANARYCTL_URL"] = "https://user:my secret@host";
  ci::Redactor redactor;
  redactor.Add("my secret");
  DotenvOutput out = RenderDotenv(r, redactor);
  // Encoding first would have produced "my%20secret", which GitLab's masking misses.
  EXPECT_NE(out.text.find("CANARYCTL_URL=https://user:[MASKED]@host\n"), std::string::npos)
      << out.text;
  EXPECT_EQ(out.text.find("secret"), std::string::npos);
}

}  // namespace
}  // namespace canaryctl::report

#include "cli/logging.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

namespace canaryctl::cli {
namespace {

using testing::HasSubstr;
using testing::MatchesRegex;
using testing::Not;

// 2024-05-01T14:03:07.250Z
const std::chrono::system_clock::time_point kTime =
    std::chrono::system_clock::time_point(std::chrono::milliseconds(1714572187250));

TEST(FormatLogLine, Text) {
  EXPECT_EQ(FormatLogLine(OutputFormat::kText, kTime, "info", "deploy: candidate installed"),
            "14:03:07 info deploy: candidate installed\n");
}

TEST(FormatLogLine, JsonIsOneEscapedObjectPerLine) {
  const std::string message = "say \"hi\"\\ \n next line \x01 ünïcode";
  std::string line = FormatLogLine(OutputFormat::kJson, kTime, "warning", message);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line only: " << line;
  Poco::JSON::Parser parser;
  auto obj = parser.parse(line).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(obj->getValue<std::string>("time"), "2024-05-01T14:03:07.250Z");
  EXPECT_EQ(obj->getValue<std::string>("level"), "warning");
  EXPECT_EQ(obj->getValue<std::string>("message"), message);
  EXPECT_EQ(line.rfind("{\"time\":", 0), 0u) << line;
}

TEST(LoggingScope, RedactsAndFormats) {
  std::ostringstream stream;
  ci::Redactor redactor;
  ASSERT_TRUE(redactor.Add("hunter2-secret"));
  {
    LoggingScope scope(stream, OutputFormat::kText, /*verbose=*/false, redactor);
    spdlog::info("token is {}", "hunter2-secret");
    spdlog::debug("hidden without -v");
    // A secret learnt later (the kubeconfig's token) is masked from then on.
    ASSERT_TRUE(redactor.Add("late-token-value"));
    spdlog::error("late-token-value leaked?");
  }
  const std::string text = stream.str();
  EXPECT_THAT(text, Not(HasSubstr("hunter2-secret")));
  EXPECT_THAT(text, Not(HasSubstr("late-token-value")));
  EXPECT_THAT(text, HasSubstr("info token is [MASKED]\n"));
  EXPECT_THAT(text, HasSubstr("error [MASKED] leaked?\n"));
  EXPECT_THAT(text, Not(HasSubstr("hidden")));
}

TEST(LoggingScope, VerboseShowsDebugAsJson) {
  std::ostringstream stream;
  ci::Redactor redactor;
  {
    LoggingScope scope(stream, OutputFormat::kJson, /*verbose=*/true, redactor);
    spdlog::debug("step {} at {}", 2, "70/30");
  }
  EXPECT_THAT(stream.str(), MatchesRegex("\\{\"time\":\"[0-9T:.-]+Z\",\"level\":\"debug\","
                                         "\"message\":\"step 2 at 70/30\"\\}\n"));
}

TEST(LoggingScope, RestoresThePreviousLogger) {
  auto before = spdlog::default_logger();
  std::ostringstream stream;
  ci::Redactor redactor;
  {
    LoggingScope scope(stream, OutputFormat::kText, false, redactor);
    EXPECT_NE(spdlog::default_logger(), before);
  }
  EXPECT_EQ(spdlog::default_logger(), before);
  spdlog::info("after the scope");
  EXPECT_THAT(stream.str(), Not(HasSubstr("after the scope")));
}

TEST(LogLineStream, EachLineBecomesOneLogMessage) {
  std::ostringstream stream;
  ci::Redactor redactor;
  ASSERT_TRUE(redactor.Add("hunter2-secret"));
  {
    LoggingScope scope(stream, OutputFormat::kJson, false, redactor);
    LogLineStream lines;
    lines << "helm upgrade: helm upgrade --install web\n"
          << "line two with hunter2-secret\r\n"
          << "unterminated";
  }
  std::istringstream in(stream.str());
  std::vector<std::string> messages;
  Poco::JSON::Parser parser;
  for (std::string line; std::getline(in, line);) {
    parser.reset();
    messages.push_back(
        parser.parse(line).extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("message"));
  }
  EXPECT_EQ(messages, (std::vector<std::string>{"helm upgrade: helm upgrade --install web",
                                                "line two with [MASKED]", "unterminated"}));
}

}  // namespace
}  // namespace canaryctl::cli

#include "report/json_writer.h"

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include "record_fixture.h"

namespace canaryctl::report {
namespace {

using Poco::JSON::Object;

Object::Ptr Parse(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<Object::Ptr>();
}

TEST(RolloutJsonTest, HoldsTheWholeRecord) {
  Object::Ptr root = Parse(RenderRolloutJson(testing::SampleRecord(), ci::Redactor()));
  EXPECT_EQ(root->getValue<std::string>("app"), "demoapp");
  EXPECT_EQ(root->getValue<std::string>("strategy"), "hybrid");
  EXPECT_EQ(root->getValue<std::string>("outcome"), "rolled_back");
  EXPECT_EQ(root->getValue<std::string>("started_at_iso"), "2023-11-14T22:13:20Z");
  EXPECT_EQ(root->getObject("weights")->getValue<int>("stable"), 100);
  EXPECT_EQ(root->getObject("stable")->getValue<int>("revision"), 3);
  EXPECT_EQ(root->getObject("candidate")->getValue<std::string>("chart"), "demoapp-1.1.0");
  EXPECT_EQ(root->getObject("candidate")->getValue<std::string>("commit"), "bbbb2222");
  EXPECT_EQ(root->getObject("pipeline")->getValue<std::string>("user"), "alice");
  auto steps = root->getArray("steps");
  ASSERT_EQ(steps->size(), 2u);
  auto shift = steps->getObject(1);
  EXPECT_EQ(shift->getValue<int>("weight"), 30);
  auto check = shift->getArray("checks")->getObject(0);
  EXPECT_EQ(check->getValue<std::string>("verdict"), "fail");
  EXPECT_EQ(check->getValue<int>("duration_ms"), 250);
  EXPECT_EQ(check->getValue<std::string>("output"), "HTTP 500");
  auto history = root->getArray("weights_history");
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ(history->getObject(1)->getValue<int>("candidate"), 30);
  EXPECT_EQ(history->getObject(1)->getValue<std::string>("reason"), "shift 30");
  EXPECT_EQ(root->getArray("changelog")->getElement<std::string>(1), "ccc3333 Fix login");
  EXPECT_EQ(root->getObject("environment")->getValue<std::string>("url"),
            "https://demo.example.com");
  EXPECT_EQ(root->getArray("dashboards")->getObject(0)->getValue<std::string>("label"), "Grafana");
}

TEST(RolloutJsonTest, HostileStringsStayParseableAndSecretsMasked) {
  RolloutRecord r;
  r.app = "q\"uote\\ \x01 \xff";
  StepRecord s{"test", 0, 0, {}};
  s.checks.push_back({"c", Verdict::kFail, "secret-value in message", {}, "line1\nsecret-value\n"});
  r.steps.push_back(s);
  r.changelog = {"abc Rotate secret-value"};
  ci::Redactor redactor;
  redactor.Add("secret-value");
  std::string text = RenderRolloutJson(r, redactor);
  EXPECT_EQ(text.find("secret-value"), std::string::npos);
  Object::Ptr root = Parse(text);
  EXPECT_EQ(root->getValue<std::string>("app"), "q\"uote\\ \x01 \xef\xbf\xbd");
  auto check = root->getArray("steps")->getObject(0)->getArray("checks")->getObject(0);
  EXPECT_EQ(check->getValue<std::string>("output"), "line1\n[MASKED]\n");
  EXPECT_EQ(check->getValue<std::string>("message"), "[MASKED] in message");
}

}  // namespace
}  // namespace canaryctl::report

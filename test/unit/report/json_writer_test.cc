#include "report/json_writer.h"

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <limits>

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

TEST(RolloutJsonTest, HoldsAnalysisLoadAndRollback) {
  Object::Ptr root = Parse(RenderRolloutJson(testing::SampleRecord(), ci::Redactor()));
  EXPECT_EQ(root->getValue<int>("rollback_ms"), 850);
  auto steps = root->getArray("steps");
  auto test = steps->getObject(0);
  EXPECT_EQ(test->getValue<int64_t>("finished_at"), 1700000060);
  EXPECT_EQ(test->getValue<std::string>("finished_at_iso"), "2023-11-14T22:14:20Z");
  EXPECT_EQ(test->getValue<int64_t>("duration_ms"), 59250);
  EXPECT_EQ(test->getArray("metrics")->size(), 0u);
  EXPECT_TRUE(test->isNull("load"));
  auto shift = steps->getObject(1);
  auto metrics = shift->getArray("metrics");
  ASSERT_EQ(metrics->size(), 2u);
  auto rate = metrics->getObject(0);
  EXPECT_EQ(rate->getValue<std::string>("name"), "request-success-rate");
  EXPECT_EQ(rate->getValue<std::string>("unit"), "%");
  EXPECT_DOUBLE_EQ(rate->getValue<double>("value"), 80.5);
  EXPECT_DOUBLE_EQ(rate->getValue<double>("min"), 99);
  EXPECT_TRUE(rate->isNull("max"));
  EXPECT_EQ(rate->getValue<std::string>("verdict"), "fail");
  EXPECT_EQ(rate->getValue<int>("measurements"), 2);
  EXPECT_EQ(rate->getValue<std::string>("message"), "80.5% is below 99%");
  EXPECT_DOUBLE_EQ(metrics->getObject(1)->getValue<double>("max"), 500);
  auto load = shift->getObject("load");
  ASSERT_FALSE(load.isNull());
  EXPECT_EQ(load->getValue<int>("requests"), 300);
  EXPECT_EQ(load->getValue<int>("errors"), 58);
  EXPECT_DOUBLE_EQ(load->getValue<double>("p99_ms"), 140.5);
  EXPECT_EQ(load->getObject("by_version")->getValue<int>("1.1.0"), 90);
  EXPECT_EQ(load->getObject("by_version")->getValue<int>("1.0.0"), 210);
}

TEST(RolloutJsonTest, AbsentAndNonFiniteValuesAreNull) {
  RolloutRecord r;
  StepRecord s = testing::Step("shift", 10);
  MetricRecord m = testing::NanMetric("custom");
  m.max = std::numeric_limits<double>::infinity();
  s.metrics.push_back(m);
  r.steps.push_back(s);
  std::string text = RenderRolloutJson(r, ci::Redactor());
  Object::Ptr root = Parse(text);  // NaN or inf written as numbers would not parse
  EXPECT_TRUE(root->isNull("rollback_ms")) << text;
  auto metric = root->getArray("steps")->getObject(0)->getArray("metrics")->getObject(0);
  EXPECT_TRUE(metric->isNull("value")) << text;
  EXPECT_TRUE(metric->isNull("min"));
  EXPECT_TRUE(metric->isNull("max"));
  EXPECT_EQ(metric->getValue<std::string>("verdict"), "inconclusive");
}

TEST(RolloutJsonTest, HostileStringsStayParseableAndSecretsMasked) {
  RolloutRecord r;
  r.app = "q\"uote\\ \x01 \xff";
  StepRecord s = testing::Step("test", 0);
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

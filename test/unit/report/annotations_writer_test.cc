#include "report/annotations_writer.h"

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include "record_fixture.h"

namespace canaryctl::report {
namespace {

TEST(AnnotationsWriterTest, GoldenOutput) {
  AnnotationsOutput out = RenderAnnotations(testing::SampleRecord(), ci::Redactor());
  EXPECT_EQ(out.text, R"({
  "canaryctl": [
    {
      "external_link": {
        "label": "Environment: production",
        "url": "https://demo.example.com"
      }
    },
    {
      "external_link": {
        "label": "Grafana",
        "url": "https://grafana.example.com/d/demo"
      }
    }
  ]
}
)");
  EXPECT_TRUE(out.warnings.empty());
}

TEST(AnnotationsWriterTest, UnsafeUrlsAreDroppedWithWarnings) {
  RolloutRecord r;
  r.dashboards = {{"js", "javascript:alert(1)"},
                  {"spaced", "https://x.example.com/a b"},
                  {"relative", "/d/demo"},
                  {"ok \"quoted\"\nlabel", "http://ok.example.com/?a=1&b=2"}};
  AnnotationsOutput out = RenderAnnotations(r, ci::Redactor());
  ASSERT_EQ(out.warnings.size(), 3u);
  EXPECT_NE(out.warnings[0].find("'js'"), std::string::npos);
  EXPECT_NE(out.warnings[1].find("'spaced'"), std::string::npos);
  Poco::JSON::Parser parser;
  auto root = parser.parse(out.text).extract<Poco::JSON::Object::Ptr>();
  auto links = root->getArray("canaryctl");
  ASSERT_EQ(links->size(), 1u);
  auto link = links->getObject(0)->getObject("external_link");
  EXPECT_EQ(link->getValue<std::string>("label"), "ok \"quoted\" label");
  EXPECT_EQ(link->getValue<std::string>("url"), "http://ok.example.com/?a=1&b=2");
}

TEST(AnnotationsWriterTest, NoLinksGivesAnEmptySection) {
  AnnotationsOutput out = RenderAnnotations(RolloutRecord{}, ci::Redactor());
  Poco::JSON::Parser parser;
  auto root = parser.parse(out.text).extract<Poco::JSON::Object::Ptr>();
  ASSERT_TRUE(root->has("canaryctl"));
  EXPECT_EQ(root->getArray("canaryctl")->size(), 0u);
}

TEST(AnnotationsWriterTest, SecretInUrlIsMasked) {
  RolloutRecord r;
  r.dashboards = {{"Grafana", "https://grafana.example.com/d?token=abcd-efgh"}};
  ci::Redactor redactor;
  redactor.Add("abcd-efgh");
  AnnotationsOutput out = RenderAnnotations(r, redactor);
  EXPECT_EQ(out.text.find("abcd-efgh"), std::string::npos);
  EXPECT_NE(out.text.find("token=[MASKED]"), std::string::npos);
}

}  // namespace
}  // namespace canaryctl::report

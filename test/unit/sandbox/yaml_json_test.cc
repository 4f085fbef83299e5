#include "sandbox/yaml_json.h"

#include <gtest/gtest.h>

namespace sandbox {
namespace {

TEST(YamlJsonTest, PlainScalarsFollowTheCoreSchema) {
  auto obj = ParseYamlObject(R"(
int: 42
negative: -7
float: 1.5
yes: true
no: False
nothing: null
tilde: ~
empty:
text: hello
version: v1
)");
  ASSERT_TRUE(obj.ok()) << obj.error().message;
  EXPECT_EQ(json::Stringify(obj.value()),
            R"({"empty":null,"float":1.5,"int":42,"negative":-7,"no":false,"nothing":null,)"
            R"("text":"hello","tilde":null,"version":"v1","yes":true})");
}

TEST(YamlJsonTest, QuotedScalarsStayStrings) {
  auto obj = ParseYamlObject("a: \"42\"\nb: 'true'\nc: \"null\"\n");
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ(json::GetString(obj.value(), "a"), "42");
  EXPECT_EQ(json::GetString(obj.value(), "b"), "true");
  EXPECT_EQ(json::GetString(obj.value(), "c"), "null");
}

TEST(YamlJsonTest, NestedMapsAndLists) {
  auto obj = ParseYamlObject("spec:\n  http:\n  - route:\n    - weight: 70\n    - weight: 30\n");
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ(json::Stringify(obj.value()),
            R"({"spec":{"http":[{"route":[{"weight":70},{"weight":30}]}]}})");
}

TEST(YamlJsonTest, JsonBodiesAreParsedAsJson) {
  auto obj = ParseYamlObject("  {\"a\": [1, \"2\"]}");
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ(json::Stringify(obj.value()), R"({"a":[1,"2"]})");
}

TEST(YamlJsonTest, NonObjectsAndMalformedBodiesAre400) {
  for (const char* body : {"- a\n- b\n", "just text", "a: [1, 2\n", "{\"a\": ", ""}) {
    auto obj = ParseYamlObject(body);
    ASSERT_FALSE(obj.ok()) << body;
    EXPECT_EQ(obj.error().code, 400) << body;
  }
}

TEST(YamlJsonTest, IntegersPastInt64StayText) {
  auto obj = ParseYamlObject("big: 99999999999999999999\n");
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ(json::GetString(obj.value(), "big"), "99999999999999999999");
}

}  // namespace
}  // namespace sandbox

#include "sandbox/schema_validator.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "json_object.h"
#include "sandbox/yaml_json.h"

namespace sandbox {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The Istio VirtualService CRD the repository ships (examples/istio/crds/), Istio's own file
// unchanged: the schemas real VirtualServices are checked against.
json::ObjectPtr LoadCrd() {
  const auto path =
      std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path() /
      "examples" / "istio" / "crds" / "virtualservice.yaml";
  std::ifstream in(path);
  EXPECT_TRUE(in) << "missing " << path;
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  auto crd = ParseYamlObject(text);
  EXPECT_TRUE(crd.ok()) << crd.error().message;
  return crd.ok() ? crd.value() : json::ObjectPtr(new json::Object);
}

json::ObjectPtr VersionSchema(const std::string& version) {
  static const json::ObjectPtr crd = LoadCrd();
  json::ArrayPtr versions = json::GetArray(crd, "spec.versions");
  if (!versions) return nullptr;
  for (size_t i = 0; i < versions->size(); ++i) {
    json::ObjectPtr v = json::AsObject(versions->get(i));
    if (json::GetString(v, "name") == version) {
      return json::GetObject(v, "schema.openAPIV3Schema");
    }
  }
  return nullptr;
}

std::string Dump(const ValidationResult& r) {
  std::string out;
  for (const auto& c : r.causes) out += c.field + " | " + c.reason + " | " + c.message + "\n";
  for (const auto& u : r.unknown_fields) out += "unknown " + u + "\n";
  return out;
}

// The article's VirtualService plus the features a canary rollout uses.
constexpr const char* kValidVs = R"({
  "apiVersion": "networking.istio.io/v1",
  "kind": "VirtualService",
  "metadata": {"name": "demoapp", "namespace": "prod", "labels": {"app": "demo"},
               "annotations": {"x": "y"}, "resourceVersion": "7"},
  "spec": {
    "hosts": ["*", "flaskapp.example.com"],
    "gateways": ["app-gateway", "mesh"],
    "exportTo": ["."],
    "http": [
      {
        "name": "canary",
        "match": [
          {"uri": {"prefix": "/api"}, "headers": {"x-canary": {"exact": "1"}},
           "queryParams": {"debug": {"regex": "^t"}}, "ignoreUriCase": true, "port": 80},
          {"uri": {"exact": "/"}, "method": {"exact": "GET"}},
          {"authority": {}, "sourceLabels": {"app": "client"}}
        ],
        "route": [
          {"destination": {"host": "flaskapp.prod.svc.cluster.local", "port": {"number": 80},
                           "subset": "v1"},
           "weight": 70,
           "headers": {"request": {"set": {"x-v": "1"}, "remove": ["x-old"]}}},
          {"destination": {"host": "flaskapp.stage.svc.cluster.local"}, "weight": 30}
        ],
        "timeout": "5s",
        "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx"},
        "fault": {"delay": {"percentage": {"value": 0.5}, "fixedDelay": "1s"}},
        "mirrorPercentage": {"value": 10.0},
        "corsPolicy": {"allowOrigins": [{"exact": "https://a.example"}],
                       "unmatchedPreflights": "FORWARD", "maxAge": "24h"}
      },
      {"route": [{"destination": {"host": "flaskapp.prod.svc.cluster.local"}}]}
    ],
    "tcp": [{"match": [{"port": 3306}], "route": [{"destination": {"host": "db"}}]}]
  }
})";

TEST(SchemaValidatorIstio, CrdHasEveryServedVersion) {
  for (const char* v : {"v1", "v1beta1", "v1alpha3"}) {
    EXPECT_TRUE(VersionSchema(v)) << v;
  }
}

TEST(SchemaValidatorIstio, OrdinaryVirtualServicesPassInEveryVersion) {
  for (const char* v : {"v1", "v1beta1", "v1alpha3"}) {
    SchemaValidator validator(VersionSchema(v));
    auto vs = Obj(kValidVs);
    const std::string before = json::Stringify(vs);
    auto r = validator.Validate(vs, true);
    EXPECT_TRUE(r.ok()) << v << "\n" << Dump(r);
    EXPECT_EQ(json::Stringify(vs), before) << "a valid object must not be pruned";
  }
}

TEST(SchemaValidatorIstio, ExampleVirtualServiceAndStatusPass) {
  SchemaValidator validator(VersionSchema("v1"));
  auto vs = Obj(R"({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
    "metadata": {"name": "demoapp"},
    "spec": {"hosts": ["*"], "gateways": ["app-gateway"], "http": [{"route": [
      {"destination": {"host": "flaskapp.prod.svc.cluster.local"}, "weight": 100},
      {"destination": {"host": "flaskapp.stage.svc.cluster.local"}, "weight": 0}]}]},
    "status": {"observedGeneration": 3, "conditions": [{"type": "Reconciled",
      "status": "True", "observedGeneration": "3"}]}})");
  auto r = validator.Validate(vs, false);
  EXPECT_TRUE(r.ok()) << Dump(r);
}

TEST(SchemaValidatorIstio, WeightAsStringIsATypeError) {
  SchemaValidator validator(VersionSchema("v1"));
  auto vs = Obj(kValidVs);
  auto route0 = json::AsObject(
      json::GetArray(json::AsObject(json::GetArray(vs, "spec.http")->get(0)), "route")->get(0));
  route0->set("weight", "70");
  auto r = validator.Validate(vs, true);
  ASSERT_EQ(r.causes.size(), 1u) << Dump(r);
  EXPECT_EQ(r.causes[0].field, "spec.http[0].route[0].weight");
  EXPECT_EQ(r.causes[0].reason, "FieldValueTypeInvalid");
  EXPECT_EQ(r.causes[0].message,
            "Invalid value: \"string\": spec.http[0].route[0].weight in body must be of type "
            "integer: \"string\"");
  EXPECT_THAT(r.unknown_fields, IsEmpty());
}

TEST(SchemaValidatorIstio, FractionalWeightAndIntegralFloat) {
  SchemaValidator validator(VersionSchema("v1"));
  auto r = validator.Validate(
      Obj(R"({"spec": {"http": [{"route": [{"destination": {"host": "a"}, "weight": 50.5},
                                           {"destination": {"host": "b"}, "weight": 50.0}]}]}})"),
      false);
  ASSERT_EQ(r.causes.size(), 1u) << Dump(r);
  EXPECT_EQ(r.causes[0].field, "spec.http[0].route[0].weight");
  EXPECT_EQ(r.causes[0].message,
            "Invalid value: \"number\": spec.http[0].route[0].weight in body must be of type "
            "integer: \"number\"");
}

TEST(SchemaValidatorIstio, WrongContainerTypes) {
  SchemaValidator validator(VersionSchema("v1"));
  auto r = validator.Validate(Obj(R"({"spec": {"http": "oops", "hosts": {"a": 1}}})"), false);
  ASSERT_EQ(r.causes.size(), 2u) << Dump(r);
  std::vector<std::string> messages;
  for (const auto& c : r.causes) messages.push_back(c.message);
  std::sort(messages.begin(), messages.end());
  EXPECT_EQ(messages[0],
            "Invalid value: \"object\": spec.hosts in body must be of type array: \"object\"");
  EXPECT_EQ(messages[1],
            "Invalid value: \"string\": spec.http in body must be of type array: \"string\"");
}

TEST(SchemaValidatorIstio, UnknownFieldsAreReportedAndPrunedOnlyWhenAsked) {
  SchemaValidator validator(VersionSchema("v1"));
  const std::string text = R"({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
    "metadata": {"name": "x", "whatever": 1},
    "spec": {"foo": 1, "hosts": ["a"], "http": [{"route": [
       {"destination": {"host": "a", "bogus": true}, "weight": 1}]}]},
    "extra": {"a": 1}})";
  auto kept = Obj(text);
  auto r = validator.Validate(kept, false);
  EXPECT_THAT(r.causes, IsEmpty()) << Dump(r);
  std::vector<std::string> unknown = r.unknown_fields;
  std::sort(unknown.begin(), unknown.end());
  EXPECT_THAT(unknown, ElementsAre("extra", "spec.foo", "spec.http[0].route[0].destination.bogus"));
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(json::GetObject(kept, "spec")->has("foo"));

  auto pruned = Obj(text);
  r = validator.Validate(pruned, true);
  EXPECT_EQ(r.unknown_fields.size(), 3u);
  EXPECT_FALSE(json::GetObject(pruned, "spec")->has("foo"));
  EXPECT_FALSE(pruned->has("extra"));
  auto dest = json::GetObject(
      json::AsObject(
          json::GetArray(json::AsObject(json::GetArray(pruned, "spec.http")->get(0)), "route")
              ->get(0)),
      "destination");
  ASSERT_TRUE(dest);
  EXPECT_FALSE(dest->has("bogus"));
  EXPECT_EQ(json::GetString(dest, "host"), "a");
  // metadata belongs to the apiserver: never unknown, never pruned.
  EXPECT_EQ(json::GetInt(pruned, "metadata.whatever"), 1);
}

TEST(SchemaValidatorIstio, EnumViolation) {
  SchemaValidator validator(VersionSchema("v1"));
  auto r =
      validator.Validate(Obj(R"({"spec": {"http": [{"corsPolicy": {"unmatchedPreflights": "BOGUS"},
                                 "redirect": {"derivePort": 3}}]}})"),
                         false);
  ASSERT_EQ(r.causes.size(), 2u) << Dump(r);
  bool saw_enum = false;
  for (const auto& c : r.causes) {
    if (c.field == "spec.http[0].corsPolicy.unmatchedPreflights") {
      saw_enum = true;
      EXPECT_EQ(c.reason, "FieldValueNotSupported");
      EXPECT_EQ(c.message,
                "Unsupported value: \"BOGUS\": supported values: \"UNSPECIFIED\", \"FORWARD\", "
                "\"IGNORE\"");
    }
  }
  EXPECT_TRUE(saw_enum) << Dump(r);
  // derivePort: 3 is the wrong type; the type error is reported, the enum is not checked.
  const auto type_errors = std::count_if(r.causes.begin(), r.causes.end(), [](const auto& c) {
    return c.field == "spec.http[0].redirect.derivePort" && c.reason == "FieldValueTypeInvalid";
  });
  EXPECT_EQ(type_errors, 1);
}

TEST(SchemaValidatorIstio, RequiredFields) {
  SchemaValidator validator(VersionSchema("v1"));
  auto r = validator.Validate(
      Obj(R"({"spec": {"http": [{"route": [{"weight": 100}, {"destination": {"subset": "v1"}}],
                                 "mirror": {"host": null}}],
                       "tls": [{"route": [{"destination": {"host": "a"}}]}]}})"),
      true);
  std::vector<std::string> fields;
  for (const auto& c : r.causes) {
    EXPECT_EQ(c.reason, "FieldValueRequired");
    EXPECT_EQ(c.message, "Required value");
    fields.push_back(c.field);
  }
  std::sort(fields.begin(), fields.end());
  EXPECT_THAT(fields, ElementsAre("spec.http[0].mirror.host", "spec.http[0].route[0].destination",
                                  "spec.http[0].route[1].destination.host", "spec.tls[0].match"));
}

TEST(SchemaValidatorIstio, StringMatchOneOf) {
  SchemaValidator validator(VersionSchema("v1"));
  // {} and each single alternative pass: the first branch is "none of them".
  for (const char* uri :
       {R"({})", R"({"exact": "/"})", R"({"prefix": "/"})", R"({"regex": ".*"})"}) {
    auto r = validator.Validate(
        Obj(std::string(R"({"spec": {"http": [{"match": [{"uri": )") + uri + "}]}]}}"), false);
    EXPECT_TRUE(r.ok()) << uri << "\n" << Dump(r);
  }
  auto r = validator.Validate(
      Obj(R"({"spec": {"http": [{"match": [{"uri": {"exact": "/", "prefix": "/a"}}]}]}})"), false);
  ASSERT_EQ(r.causes.size(), 1u) << Dump(r);
  EXPECT_EQ(r.causes[0].field, "<nil>");
  EXPECT_EQ(r.causes[0].reason, "FieldValueInvalid");
  EXPECT_EQ(r.causes[0].message,
            "Invalid value: \"\": \"spec.http[0].match[0].uri\" must validate one and only one "
            "schema (oneOf). Found 2 valid alternatives");
  // The same rule guards header matches, which sit under additionalProperties.
  r = validator.Validate(
      Obj(R"({"spec": {"http": [{"match": [{"headers": {"x": {"exact": "1", "regex": "2"}}}]}]}})"),
      false);
  ASSERT_EQ(r.causes.size(), 1u) << Dump(r);
  EXPECT_NE(r.causes[0].message.find("\"spec.http[0].match[0].headers.x\" must validate one"),
            std::string::npos);
}

TEST(SchemaValidatorIstio, IntOrStringAndPreserveUnknownFields) {
  SchemaValidator validator(VersionSchema("v1"));
  for (const char* gen : {"5", "\"5\""}) {
    auto obj = Obj(std::string(R"({"status": {"observedGeneration": )") + gen +
                   R"(, "controllerSpecific": {"deep": [1, 2]}}})");
    auto r = validator.Validate(obj, true);
    EXPECT_TRUE(r.ok()) << gen << "\n" << Dump(r);
    // status preserves unknown fields: neither reported nor pruned.
    EXPECT_TRUE(json::GetObject(obj, "status")->has("controllerSpecific"));
  }
  auto r = validator.Validate(Obj(R"({"status": {"observedGeneration": true}})"), false);
  ASSERT_FALSE(r.causes.empty());
  EXPECT_EQ(r.causes[0].field, "status.observedGeneration");
  EXPECT_EQ(r.causes[0].message,
            "Invalid value: \"boolean\": status.observedGeneration in body must be of type "
            "integer,string: \"boolean\"");
}

TEST(SchemaValidatorIstio, NullsAndNullable) {
  SchemaValidator validator(VersionSchema("v1"));
  // mirrorPercent is nullable; weight is not, so its null is dropped as the apiserver does.
  auto obj = Obj(R"({"spec": {"http": [{"mirrorPercent": null,
                   "route": [{"destination": {"host": "a"}, "weight": null}]}]}})");
  auto r = validator.Validate(obj, true);
  EXPECT_TRUE(r.ok()) << Dump(r);
  auto http0 = json::AsObject(json::GetArray(obj, "spec.http")->get(0));
  EXPECT_TRUE(http0->has("mirrorPercent"));
  EXPECT_FALSE(json::AsObject(json::GetArray(http0, "route")->get(0))->has("weight"));
  // A null array item is a type error.
  r = validator.Validate(Obj(R"({"spec": {"hosts": ["a", null]}})"), false);
  ASSERT_EQ(r.causes.size(), 1u) << Dump(r);
  EXPECT_EQ(r.causes[0].field, "spec.hosts[1]");
  EXPECT_EQ(r.causes[0].message,
            "Invalid value: \"null\": spec.hosts[1] in body must be of type string: \"null\"");
}

TEST(SchemaValidatorIstio, NumericBounds) {
  SchemaValidator validator(VersionSchema("v1"));
  auto r = validator.Validate(Obj(R"({"spec": {"http": [{"route": [
        {"destination": {"host": "a", "port": {"number": -1}}},
        {"destination": {"host": "b", "port": {"number": 4294967296}}}]}]}})"),
                              false);
  ASSERT_EQ(r.causes.size(), 2u) << Dump(r);
  EXPECT_EQ(r.causes[0].field, "spec.http[0].route[0].destination.port.number");
  EXPECT_EQ(r.causes[0].reason, "FieldValueInvalid");
  EXPECT_EQ(r.causes[0].message,
            "Invalid value: -1: spec.http[0].route[0].destination.port.number in body should be "
            "greater than or equal to 0");
  EXPECT_EQ(r.causes[1].message,
            "Invalid value: 4294967296: spec.http[0].route[1].destination.port.number in body "
            "should be less than or equal to 4294967295");
}

// Hand-written schemas for the keywords the Istio CRD does not use.
TEST(SchemaValidatorKeywords, StringsArraysAndObjects) {
  SchemaValidator validator(Obj(R"({"type": "object", "properties": {
    "spec": {"type": "object", "properties": {
      "name": {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-z]+$"},
      "tags": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}},
      "labels": {"type": "object", "additionalProperties": {"type": "integer"},
                 "maxProperties": 2, "minProperties": 1},
      "ratio": {"type": "number", "exclusiveMinimum": true, "minimum": 0,
                "exclusiveMaximum": true, "maximum": 1},
      "step": {"type": "integer", "multipleOf": 5}}}}})"));
  auto ok = validator.Validate(
      Obj(R"({"spec": {"name": "abc", "tags": ["x"], "labels": {"a": 1}, "ratio": 0.5,
                       "step": 10}})"),
      false);
  EXPECT_TRUE(ok.ok()) << Dump(ok);
  auto bad = validator.Validate(
      Obj(R"({"spec": {"name": "ABCDE", "tags": ["x", "y", "z"], "labels": {"a": 1, "b": 2,
                       "c": "x"}, "ratio": 1, "step": 7}})"),
      false);
  std::map<std::string, std::vector<std::string>> by_field;
  for (const auto& c : bad.causes) by_field[c.field].push_back(c.reason + ": " + c.message);
  EXPECT_THAT(by_field["spec.name"],
              ::testing::UnorderedElementsAre(
                  "FieldValueTooLong: Too long: may not be more than 4 bytes",
                  "FieldValueInvalid: Invalid value: \"ABCDE\": spec.name in body should match "
                  "'^[a-z]+$'"));
  EXPECT_THAT(by_field["spec.tags"],
              ElementsAre("FieldValueTooMany: Too many: 3: must have at most 2 items"));
  EXPECT_THAT(by_field["spec.labels"],
              ElementsAre("FieldValueTooMany: Too many: 3: must have at most 2 items"));
  EXPECT_THAT(by_field["spec.labels.c"],
              ElementsAre("FieldValueTypeInvalid: Invalid value: \"string\": spec.labels.c in "
                          "body must be of type integer: \"string\""));
  EXPECT_THAT(by_field["spec.ratio"],
              ElementsAre("FieldValueInvalid: Invalid value: 1: spec.ratio in body should be "
                          "less than 1"));
  EXPECT_THAT(by_field["spec.step"],
              ElementsAre("FieldValueInvalid: Invalid value: 7: spec.step in body should be a "
                          "multiple of 5"));
  auto few = validator.Validate(Obj(R"({"spec": {"name": "a", "tags": [], "labels": {}}})"), false);
  std::vector<std::string> messages;
  for (const auto& c : few.causes) messages.push_back(c.message);
  EXPECT_THAT(messages, ::testing::UnorderedElementsAre(
                            "Invalid value: \"a\": spec.name in body should be at least 2 chars "
                            "long",
                            "Invalid value: 0: spec.tags in body should have at least 1 items",
                            "Invalid value: 0: spec.labels in body should have at least 1 "
                            "properties"));
}

TEST(SchemaValidatorKeywords, LengthsCountRunesNotBytes) {
  SchemaValidator validator(Obj(R"({"type": "object", "properties": {
    "s": {"type": "string", "maxLength": 2}}})"));
  EXPECT_TRUE(validator.Validate(Obj(R"({"s": "\u00e9\u00e9"})"), false).ok());
  EXPECT_FALSE(validator.Validate(Obj(R"({"s": "\u00e9\u00e9\u00e9"})"), false).ok());
}

TEST(SchemaValidatorKeywords, AnyOfAllOfNot) {
  SchemaValidator validator(Obj(R"({"type": "object", "properties": {
    "a": {"type": "object", "properties": {"x": {"type": "string"}, "y": {"type": "string"}},
          "anyOf": [{"required": ["x"]}, {"required": ["y"]}]},
    "b": {"type": "integer", "allOf": [{"minimum": 1}, {"maximum": 3}]},
    "c": {"type": "string", "not": {"enum": ["forbidden"]}}}})"));
  EXPECT_TRUE(validator.Validate(Obj(R"({"a": {"y": "1"}, "b": 2, "c": "fine"})"), false).ok());
  auto r = validator.Validate(Obj(R"({"a": {}, "b": 5, "c": "forbidden"})"), false);
  std::vector<std::string> messages;
  for (const auto& c : r.causes) messages.push_back(c.field + " " + c.message);
  EXPECT_THAT(messages,
              ::testing::UnorderedElementsAre(
                  "<nil> Invalid value: \"\": \"a\" must validate at least one schema (anyOf)",
                  "a.x Required value",
                  "<nil> Invalid value: \"\": \"b\" must validate all the schemas (allOf)",
                  "b Invalid value: 5: b in body should be less than or equal to 3",
                  "<nil> Invalid value: \"\": \"c\" must not validate the schema (not)"));
}

TEST(SchemaValidatorKeywords, OneOfBranchPropertiesAreNotDeclarations) {
  // A property named only inside a oneOf branch is still unknown to the structural schema.
  SchemaValidator validator(Obj(R"({"type": "object", "properties": {
    "spec": {"type": "object", "properties": {"a": {"type": "string"}},
             "oneOf": [{"properties": {"b": {"type": "string"}}}]}}})"));
  auto obj = Obj(R"({"spec": {"a": "1", "b": "2"}})");
  auto r = validator.Validate(obj, true);
  EXPECT_THAT(r.causes, IsEmpty()) << Dump(r);
  EXPECT_THAT(r.unknown_fields, ElementsAre("spec.b"));
  EXPECT_FALSE(json::GetObject(obj, "spec")->has("b"));
}

TEST(SchemaValidatorKeywords, BareObjectsPruneEverythingPreservedOnesNothing) {
  SchemaValidator validator(Obj(R"({"type": "object", "properties": {
    "bare": {"type": "object"},
    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
    "res": {"type": "object", "x-kubernetes-embedded-resource": true,
            "x-kubernetes-preserve-unknown-fields": false,
            "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
    "anyMap": {"type": "object", "additionalProperties": true}}})"));
  auto obj = Obj(R"({"bare": {"x": 1}, "free": {"x": {"y": 1}},
    "res": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"z": 1},
            "other": 1},
    "anyMap": {"k": "v"}})");
  auto r = validator.Validate(obj, true);
  EXPECT_THAT(r.causes, IsEmpty()) << Dump(r);
  std::vector<std::string> unknown = r.unknown_fields;
  std::sort(unknown.begin(), unknown.end());
  EXPECT_THAT(unknown, ElementsAre("bare.x", "res.other"));
  EXPECT_EQ(json::GetObject(obj, "bare")->size(), 0u);
  EXPECT_TRUE(json::GetObject(obj, "free")->has("x"));
  EXPECT_EQ(json::GetString(obj, "res.kind"), "Pod");
  EXPECT_EQ(json::GetString(obj, "anyMap.k"), "v");
}

TEST(SchemaValidatorKeywords, NumbersAcceptIntegersAndEnumsCompareByValue) {
  SchemaValidator validator(Obj(R"({"type": "object", "properties": {
    "n": {"type": "number"}, "e": {"type": "integer", "enum": [1, 2]},
    "b": {"type": "boolean"}}})"));
  EXPECT_TRUE(validator.Validate(Obj(R"({"n": 3, "e": 2.0, "b": false})"), false).ok());
  auto r = validator.Validate(Obj(R"({"e": 3, "b": "true"})"), false);
  std::vector<std::string> messages;
  for (const auto& c : r.causes) messages.push_back(c.message);
  EXPECT_THAT(messages,
              ::testing::UnorderedElementsAre(
                  "Unsupported value: 3: supported values: \"1\", \"2\"",
                  "Invalid value: \"string\": b in body must be of type boolean: \"string\""));
}

TEST(SchemaValidatorKeywords, HostilePatternInputDoesNotCrash) {
  SchemaValidator validator(Obj(R"({"type": "object", "properties": {
    "s": {"type": "string", "pattern": "^(a|b)*$"}, "bad": {"type": "string", "pattern": "("}}})"));
  auto obj = json::ObjectPtr(new json::Object);
  obj->set("s", std::string(200000, 'a'));
  obj->set("bad", "x");
  auto r = validator.Validate(obj, false);
  EXPECT_THAT(r.causes, IsEmpty()) << Dump(r);
  EXPECT_FALSE(validator.Validate(Obj(R"({"s": "abc"})"), false).ok());
}

TEST(SchemaValidatorKeywords, DeeplyNestedValuesAreBounded) {
  SchemaValidator validator(Obj(R"({"type": "object", "properties": {
    "x": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}})"));
  // Preserved subtrees are not walked at all, however deep.
  json::ObjectPtr root = new json::Object;
  json::ObjectPtr cur = new json::Object;
  root->set("x", cur);
  for (int i = 0; i < 10000; ++i) {
    json::ObjectPtr next = new json::Object;
    cur->set("n", next);
    cur = next;
  }
  EXPECT_TRUE(validator.Validate(root, true).ok());
  EXPECT_FALSE(validator.Validate(nullptr, false).ok());
}

}  // namespace
}  // namespace sandbox

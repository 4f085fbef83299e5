#include "sandbox/patch.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace sandbox::patch {
namespace {

using json::ObjectPtr;
using json::Var;

// Any JSON value; Poco's parser takes only objects and arrays at the top, so wrap it.
Var J(const std::string& text) {
  auto parsed = json::Parse("[" + text + "]");
  EXPECT_TRUE(parsed.ok()) << text;
  return parsed.ok() ? json::AsArray(parsed.value())->get(0) : Var();
}

ObjectPtr O(const std::string& text) {
  auto parsed = json::ParseObject(text);
  EXPECT_TRUE(parsed.ok()) << text;
  return parsed.ok() ? parsed.value() : ObjectPtr();
}

#define EXPECT_JSON_EQ(expected_text, actual)          \
  EXPECT_TRUE(json::Equal(J(expected_text), (actual))) \
      << "expected " << (expected_text) << "\n  actual " << json::Stringify(actual)

// ------------------------------------------------------------------------------------------
// RFC 7386

struct MergeCase {
  const char* target;
  const char* patch;
  const char* result;
};

TEST(MergePatch, Rfc7386AppendixA) {
  const MergeCase cases[] = {
      {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {R"({"a":"b"})", R"({"a":null})", R"({})"},
      {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
      {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {R"({"a":"foo"})", "null", "null"},
      {R"({"a":"foo"})", R"("bar")", R"("bar")"},
      {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.target) + " + " + c.patch);
    Var result = MergeValue(J(c.target), J(c.patch));
    EXPECT_JSON_EQ(c.result, result);
  }
}

TEST(MergePatch, MergesObjectsAndLeavesInputsUntouched) {
  ObjectPtr target = O(R"({"spec":{"http":[{"route":[{"weight":100}]}],"hosts":["a"]}})");
  Var patch = J(R"({"spec":{"http":[{"route":[{"weight":70}]}],"gateways":["gw"]}})");
  auto result = MergePatch(target, patch);
  ASSERT_TRUE(result.ok());
  EXPECT_JSON_EQ(R"({"spec":{"http":[{"route":[{"weight":70}]}],"hosts":["a"],"gateways":["gw"]}})",
                 Var(result.value()));
  EXPECT_JSON_EQ(R"({"spec":{"http":[{"route":[{"weight":100}]}],"hosts":["a"]}})", Var(target));
  EXPECT_JSON_EQ(R"({"spec":{"http":[{"route":[{"weight":70}]}],"gateways":["gw"]}})", patch);
  // The result shares nothing with the target.
  result.value()->getObject("spec")->set("hosts", "changed");
  EXPECT_JSON_EQ(R"(["a"])", target->getObject("spec")->get("hosts"));
}

TEST(MergePatch, RejectsNonObjectPatchWith400) {
  for (const char* text : {"[1]", "\"x\"", "3"}) {
    auto result = MergePatch(O(R"({"a":1})"), J(text));
    ASSERT_FALSE(result.ok()) << text;
    EXPECT_EQ(result.error().code, 400);
    EXPECT_EQ(result.error().reason, "BadRequest");
  }
}

// ------------------------------------------------------------------------------------------
// RFC 6902

struct JsonPatchCase {
  const char* name;
  const char* doc;
  const char* patch;
  const char* result;  // nullptr: the patch must fail with 422
};

void RunJsonPatchCases(const std::vector<JsonPatchCase>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ObjectPtr doc = O(c.doc);
    std::string before = json::Stringify(Var(doc));
    auto result = JsonPatch(doc, J(c.patch));
    if (c.result) {
      ASSERT_TRUE(result.ok()) << result.error().message;
      EXPECT_JSON_EQ(c.result, Var(result.value()));
    } else {
      ASSERT_FALSE(result.ok()) << json::Stringify(Var(result.value()));
      EXPECT_EQ(result.error().code, 422);
      EXPECT_EQ(result.error().reason, "Invalid");
    }
    EXPECT_EQ(json::Stringify(Var(doc)), before) << "the target was modified";
  }
}

TEST(JsonPatch, Rfc6902AppendixA) {
  RunJsonPatchCases({
      {"A.1 add member", R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])",
       R"({"baz":"qux","foo":"bar"})"},
      {"A.2 add array element", R"({"foo":["bar","baz"]})",
       R"([{"op":"add","path":"/foo/1","value":"qux"}])", R"({"foo":["bar","qux","baz"]})"},
      {"A.3 remove member", R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])",
       R"({"foo":"bar"})"},
      {"A.4 remove array element", R"({"foo":["bar","qux","baz"]})",
       R"([{"op":"remove","path":"/foo/1"}])", R"({"foo":["bar","baz"]})"},
      {"A.5 replace", R"({"baz":"qux","foo":"bar"})",
       R"([{"op":"replace","path":"/baz","value":"boo"}])", R"({"baz":"boo","foo":"bar"})"},
      {"A.6 move member", R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
       R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])",
       R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"},
      {"A.7 move array element", R"({"foo":["all","grass","cows","eat"]})",
       R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])",
       R"({"foo":["all","cows","eat","grass"]})"},
      {"A.8 test success", R"({"baz":"qux","foo":["a",2,"c"]})",
       R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])",
       R"({"baz":"qux","foo":["a",2,"c"]})"},
      {"A.9 test failure", R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])",
       nullptr},
      {"A.10 add nested member", R"({"foo":"bar"})",
       R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])",
       R"({"foo":"bar","child":{"grandchild":{}}})"},
      {"A.11 unrecognized members ignored", R"({"foo":"bar"})",
       R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])", R"({"foo":"bar","baz":"qux"})"},
      {"A.12 add to nonexistent target", R"({"foo":"bar"})",
       R"([{"op":"add","path":"/baz/bat","value":"qux"}])", nullptr},
      {"A.14 ~ escape ordering", R"({"/":9,"~1":10})",
       R"([{"op":"test","path":"/~01","value":10}])", R"({"/":9,"~1":10})"},
      {"A.15 string is not number", R"({"/":9,"~1":10})",
       R"([{"op":"test","path":"/~01","value":"10"}])", nullptr},
      {"A.16 add array value", R"({"foo":["bar"]})",
       R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])",
       R"({"foo":["bar",["abc","def"]]})"},
  });
}

TEST(JsonPatch, Rfc6901PointerExamples) {
  const char* doc =
      R"({"foo":["bar","baz"],"":0,"a/b":1,"c%d":2,"e^f":3,"g|h":4,"i\\j":5,"k\"l":6," ":7,"m~n":8})";
  const std::pair<const char*, const char*> pointers[] = {
      {"/foo", R"(["bar","baz"])"},
      {"/foo/0", R"("bar")"},
      {"/", "0"},
      {"/a~1b", "1"},
      {"/c%d", "2"},
      {"/e^f", "3"},
      {"/g|h", "4"},
      {"/i\\\\j", "5"},
      {"/k\\\"l", "6"},
      {"/ ", "7"},
      {"/m~0n", "8"},
  };
  for (const auto& [pointer, value] : pointers) {
    SCOPED_TRACE(pointer);
    std::string ok =
        std::string(R"([{"op":"test","path":")") + pointer + R"(","value":)" + value + "}]";
    EXPECT_TRUE(JsonPatch(O(doc), J(ok)).ok());
    std::string wrong =
        std::string(R"([{"op":"test","path":")") + pointer + R"(","value":"something else"}])";
    EXPECT_FALSE(JsonPatch(O(doc), J(wrong)).ok());
  }
  // The whole document is "" and escapes decode to keys holding / and ~.
  auto replaced = JsonPatch(O(doc), J(R"([{"op":"replace","path":"/a~1b","value":"x"},
                                          {"op":"remove","path":"/m~0n"}])"));
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(replaced.value()->getValue<std::string>("a/b"), "x");
  EXPECT_FALSE(replaced.value()->has("m~n"));
  EXPECT_FALSE(replaced.value()->has("m/n"));
}

TEST(JsonPatch, ArrayIndexEdgeCasesAndErrors) {
  const char* doc = R"({"a":[1,2],"o":{"k":"v"},"s":"str"})";
  RunJsonPatchCases({
      {"append with -", doc, R"([{"op":"add","path":"/a/-","value":3}])",
       R"({"a":[1,2,3],"o":{"k":"v"},"s":"str"})"},
      {"insert at size appends", doc, R"([{"op":"add","path":"/a/2","value":3}])",
       R"({"a":[1,2,3],"o":{"k":"v"},"s":"str"})"},
      {"insert at 0", doc, R"([{"op":"add","path":"/a/0","value":0}])",
       R"({"a":[0,1,2],"o":{"k":"v"},"s":"str"})"},
      {"insert past end", doc, R"([{"op":"add","path":"/a/3","value":3}])", nullptr},
      {"remove with -", doc, R"([{"op":"remove","path":"/a/-"}])", nullptr},
      {"remove past end", doc, R"([{"op":"remove","path":"/a/2"}])", nullptr},
      {"replace with -", doc, R"([{"op":"replace","path":"/a/-","value":9}])", nullptr},
      {"leading zero", doc, R"([{"op":"replace","path":"/a/01","value":9}])", nullptr},
      {"negative index", doc, R"([{"op":"add","path":"/a/-1","value":9}])", nullptr},
      {"non-numeric index", doc, R"([{"op":"add","path":"/a/x","value":9}])", nullptr},
      {"huge index", doc, R"([{"op":"add","path":"/a/99999999999999","value":9}])", nullptr},
      {"bad escape", doc, R"([{"op":"add","path":"/o/~2","value":9}])", nullptr},
      {"trailing ~", doc, R"([{"op":"add","path":"/o/~","value":9}])", nullptr},
      {"no leading slash", doc, R"([{"op":"add","path":"o","value":9}])", nullptr},
      {"into a string", doc, R"([{"op":"add","path":"/s/x","value":9}])", nullptr},
      {"replace missing", doc, R"([{"op":"replace","path":"/nope","value":9}])", nullptr},
      {"remove missing", doc, R"([{"op":"remove","path":"/o/nope"}])", nullptr},
      {"remove root", doc, R"([{"op":"remove","path":""}])", nullptr},
      {"copy missing", doc, R"([{"op":"copy","from":"/nope","path":"/x"}])", nullptr},
      {"move into own child", doc, R"([{"op":"move","from":"/o","path":"/o/inner"}])", nullptr},
      {"missing op", doc, R"([{"path":"/x","value":1}])", nullptr},
      {"unknown op", doc, R"([{"op":"frob","path":"/x","value":1}])", nullptr},
      {"add without value", doc, R"([{"op":"add","path":"/x"}])", nullptr},
      {"move without from", doc, R"([{"op":"move","path":"/x"}])", nullptr},
      {"root replaced by a non-object", doc, R"([{"op":"replace","path":"","value":[1]}])",
       nullptr},
      {"second op fails: nothing applied", doc,
       R"([{"op":"add","path":"/x","value":1},{"op":"test","path":"/x","value":2}])", nullptr},
      {"add null value", doc, R"([{"op":"add","path":"/o/n","value":null}])",
       R"({"a":[1,2],"o":{"k":"v","n":null},"s":"str"})"},
      {"test a missing member against null", doc, R"([{"op":"test","path":"/nope","value":null}])",
       doc},
      {"test numbers by value", R"({"n":1})", R"([{"op":"test","path":"/n","value":1.0}])",
       R"({"n":1})"},
      {"test whole objects", doc, R"([{"op":"test","path":"/o","value":{"k":"v"}}])", doc},
      {"replace the root", doc, R"([{"op":"replace","path":"","value":{"z":1}}])", R"({"z":1})"},
      {"move to the same place", doc, R"([{"op":"move","from":"/o","path":"/o"}])", doc},
      {"add replaces an existing member", doc, R"([{"op":"add","path":"/s","value":1}])",
       R"({"a":[1,2],"o":{"k":"v"},"s":1})"},
  });
}

TEST(JsonPatch, FailedTestIsTheApiserversGeneric422) {
  auto result = JsonPatch(O(R"({"spec":{"replicas":1}})"),
                          J(R"([{"op":"test","path":"/spec/replicas","value":2}])"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, 422);
  EXPECT_EQ(result.error().reason, "Invalid");
  EXPECT_EQ(result.error().message,
            "the server rejected our request due to an error in our request");
}

TEST(JsonPatch, MalformedDocumentsAre400) {
  for (const char* text : {R"({"op":"add"})", R"([1])", R"(["add"])", "null"}) {
    auto result = JsonPatch(O(R"({"a":1})"), J(text));
    ASSERT_FALSE(result.ok()) << text;
    EXPECT_EQ(result.error().code, 400) << text;
  }
}

TEST(JsonPatch, CopyIsDeepAndMoveKeepsValue) {
  auto result =
      JsonPatch(O(R"({"a":{"x":1},"l":[{"n":1}]})"), J(R"([{"op":"copy","from":"/a","path":"/b"},
                                {"op":"replace","path":"/b/x","value":2},
                                {"op":"move","from":"/l/0","path":"/m"}])"));
  ASSERT_TRUE(result.ok());
  EXPECT_JSON_EQ(R"({"a":{"x":1},"b":{"x":2},"l":[],"m":{"n":1}})", Var(result.value()));
}

// ------------------------------------------------------------------------------------------
// Strategic merge patch

const char* kDeployment = R"({
  "apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","finalizers":["a","b"]},
  "spec":{"replicas":2,
    "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":0}},
    "template":{"metadata":{"labels":{"app":"web","tier":"fe"}},"spec":{
      "tolerations":[{"key":"k1"},{"key":"k2"}],
      "containers":[
        {"name":"web","image":"web:1","args":["-a","-b"],
         "env":[{"name":"X","value":"1"},{"name":"Y","value":"2"}],
         "ports":[{"containerPort":80,"name":"http"}]},
        {"name":"sidecar","image":"side:1"}]}}}})";

ObjectPtr Smp(const char* patch_text) {
  auto result = StrategicMergePatch(O(kDeployment), O(patch_text));
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
  return result.ok() ? result.value() : ObjectPtr(new json::Object);
}

Var At(const ObjectPtr& obj, const std::string& path) {
  // Dotted path with numeric segments indexing arrays.
  Var cur = obj;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string seg =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (auto o = json::AsObject(cur)) {
      if (!o->has(seg)) return Var();
      cur = o->get(seg);
    } else if (auto a = json::AsArray(cur)) {
      size_t i = std::stoul(seg);
      if (i >= a->size()) return Var();
      cur = a->get(static_cast<unsigned>(i));
    } else {
      return Var();
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

const char* kContainers = "spec.template.spec.containers";

TEST(StrategicMergePatch, MergesContainersByNameAndEnvByName) {
  ObjectPtr out = Smp(R"({"spec":{"template":{"spec":{"containers":[
      {"name":"web","image":"web:2","env":[{"name":"Y","value":"3"},{"name":"Z","value":"4"}]}
  ]}}}})");
  EXPECT_JSON_EQ(R"([
      {"name":"web","image":"web:2","args":["-a","-b"],
       "env":[{"name":"X","value":"1"},{"name":"Y","value":"3"},{"name":"Z","value":"4"}],
       "ports":[{"containerPort":80,"name":"http"}]},
      {"name":"sidecar","image":"side:1"}])",
                 At(out, kContainers));
}

TEST(StrategicMergePatch, AddsNewElementsAfterExistingOnes) {
  ObjectPtr out = Smp(R"({"spec":{"template":{"spec":{"containers":[
      {"name":"new","image":"n:1"}]}}}})");
  EXPECT_EQ(At(out, "spec.template.spec.containers.0.name").toString(), "web");
  EXPECT_EQ(At(out, "spec.template.spec.containers.1.name").toString(), "sidecar");
  EXPECT_EQ(At(out, "spec.template.spec.containers.2.name").toString(), "new");
}

TEST(StrategicMergePatch, DeletesElementWithPatchDelete) {
  ObjectPtr out = Smp(R"({"spec":{"template":{"spec":{"containers":[
      {"name":"sidecar","$patch":"delete"},
      {"name":"web","env":[{"name":"X","$patch":"delete"}]}]}}}})");
  EXPECT_JSON_EQ(R"([{"name":"web","image":"web:1","args":["-a","-b"],
                      "env":[{"name":"Y","value":"2"}],
                      "ports":[{"containerPort":80,"name":"http"}]}])",
                 At(out, kContainers));
}

TEST(StrategicMergePatch, SetElementOrderReorders) {
  // What kubectl client-side apply sends: the full order plus the changed element only.
  ObjectPtr out = Smp(R"({"spec":{"template":{"spec":{
      "$setElementOrder/containers":[{"name":"sidecar"},{"name":"web"}],
      "containers":[{"name":"web","image":"web:3"}]}}}})");
  EXPECT_EQ(At(out, "spec.template.spec.containers.0.name").toString(), "sidecar");
  EXPECT_EQ(At(out, "spec.template.spec.containers.1.name").toString(), "web");
  EXPECT_EQ(At(out, "spec.template.spec.containers.1.image").toString(), "web:3");
  EXPECT_FALSE(At(out, kContainers).isEmpty());
  EXPECT_FALSE(out->has("$setElementOrder/containers"));
  EXPECT_FALSE(json::AsObject(At(out, "spec.template.spec"))->has("$setElementOrder/containers"));
}

TEST(StrategicMergePatch, SetElementOrderPlacesNewElementAndKeepsServerOnlyOnes) {
  ObjectPtr out = Smp(R"({"spec":{"template":{"spec":{
      "$setElementOrder/containers":[{"name":"init"},{"name":"web"}],
      "containers":[{"name":"init","image":"i:1"}]}}}})");
  // "init" goes before "web" as ordered; "sidecar" (not in the order) keeps its place after web.
  EXPECT_EQ(At(out, "spec.template.spec.containers.0.name").toString(), "init");
  EXPECT_EQ(At(out, "spec.template.spec.containers.1.name").toString(), "web");
  EXPECT_EQ(At(out, "spec.template.spec.containers.2.name").toString(), "sidecar");
}

TEST(StrategicMergePatch, SetElementOrderAloneReordersEnv) {
  ObjectPtr out = Smp(R"({"spec":{"template":{"spec":{"containers":[{"name":"web",
      "$setElementOrder/env":[{"name":"Y"},{"name":"X"}]}]}}}})");
  EXPECT_EQ(At(out, "spec.template.spec.containers.0.env.0.name").toString(), "Y");
  EXPECT_EQ(At(out, "spec.template.spec.containers.0.env.1.name").toString(), "X");
}

TEST(StrategicMergePatch, NullDeletesFields) {
  ObjectPtr out = Smp(R"({"spec":{"replicas":null,"template":{"metadata":{"labels":{"tier":null}},
      "spec":{"containers":[{"name":"web","args":null}]}}}})");
  EXPECT_FALSE(json::AsObject(At(out, "spec"))->has("replicas"));
  EXPECT_JSON_EQ(R"({"app":"web"})", At(out, "spec.template.metadata.labels"));
  EXPECT_FALSE(json::AsObject(At(out, "spec.template.spec.containers.0"))->has("args"));
  EXPECT_EQ(At(out, "spec.template.spec.containers.0.image").toString(), "web:1");
}

TEST(StrategicMergePatch, RetainKeysDropsOtherFields) {
  ObjectPtr out = Smp(R"({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}})");
  EXPECT_JSON_EQ(R"({"type":"Recreate"})", At(out, "spec.strategy"));
  // Without $retainKeys, the same patch keeps rollingUpdate.
  ObjectPtr kept = Smp(R"({"spec":{"strategy":{"type":"Recreate"}}})");
  EXPECT_TRUE(json::AsObject(At(kept, "spec.strategy"))->has("rollingUpdate"));
}

TEST(StrategicMergePatch, AtomicListsAreReplaced) {
  ObjectPtr out = Smp(R"({"spec":{"template":{"spec":{"tolerations":[{"key":"k3"}],
      "containers":[{"name":"web","args":["-c"]}]}}}})");
  EXPECT_JSON_EQ(R"([{"key":"k3"}])", At(out, "spec.template.spec.tolerations"));
  EXPECT_JSON_EQ(R"(["-c"])", At(out, "spec.template.spec.containers.0.args"));
}

TEST(StrategicMergePatch, FinalizersUnionAndDeleteFromPrimitiveList) {
  ObjectPtr out = Smp(R"({"metadata":{"finalizers":["b","c"]}})");
  EXPECT_JSON_EQ(R"(["a","b","c"])", At(out, "metadata.finalizers"));
  ObjectPtr removed =
      Smp(R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"],"finalizers":["d"]}})");
  EXPECT_JSON_EQ(R"(["b","d"])", At(removed, "metadata.finalizers"));
  ObjectPtr reordered = Smp(R"({"metadata":{"$setElementOrder/finalizers":["b","a"]}})");
  EXPECT_JSON_EQ(R"(["b","a"])", At(reordered, "metadata.finalizers"));
}

TEST(StrategicMergePatch, ContainerPortsByContainerPortServicePortsByPort) {
  ObjectPtr out = Smp(R"({"spec":{"template":{"spec":{"containers":[{"name":"web",
      "ports":[{"containerPort":80,"protocol":"TCP"},{"containerPort":9090}]}]}}}})");
  EXPECT_JSON_EQ(R"([{"containerPort":80,"name":"http","protocol":"TCP"},{"containerPort":9090}])",
                 At(out, "spec.template.spec.containers.0.ports"));

  ObjectPtr service = O(R"({"apiVersion":"v1","kind":"Service","spec":{"ports":[
      {"port":80,"targetPort":8080,"name":"http"},{"port":443,"targetPort":8443}]}})");
  auto result =
      StrategicMergePatch(service, O(R"({"spec":{"ports":[{"port":80,"targetPort":9090}]}})"));
  ASSERT_TRUE(result.ok());
  EXPECT_JSON_EQ(R"([{"port":80,"targetPort":9090,"name":"http"},{"port":443,"targetPort":8443}])",
                 At(result.value(), "spec.ports"));
}

TEST(StrategicMergePatch, ReplaceAndDeleteDirectivesOnMapsAndLists) {
  ObjectPtr map_replace =
      Smp(R"({"spec":{"template":{"metadata":{"labels":{"$patch":"replace","only":"me"}}}}})");
  EXPECT_JSON_EQ(R"({"only":"me"})", At(map_replace, "spec.template.metadata.labels"));

  ObjectPtr map_delete = Smp(R"({"spec":{"strategy":{"$patch":"delete"}}})");
  EXPECT_JSON_EQ(R"({})", At(map_delete, "spec.strategy"));

  ObjectPtr list_replace = Smp(R"({"spec":{"template":{"spec":{"containers":[
      {"$patch":"replace"},{"name":"solo","image":"s:1"}]}}}})");
  EXPECT_JSON_EQ(R"([{"name":"solo","image":"s:1"}])", At(list_replace, kContainers));
}

TEST(StrategicMergePatch, HelmThreeWayPatch) {
  // helm 3's patch for a changed chart: new image, removed label, order of containers.
  ObjectPtr out = Smp(R"({"metadata":{"labels":{"chart":"demo-0.2.0"}},"spec":{"template":{
      "metadata":{"labels":{"tier":null}},"spec":{
      "$setElementOrder/containers":[{"name":"web"},{"name":"sidecar"}],
      "containers":[{"$setElementOrder/env":[{"name":"X"},{"name":"Y"}],"image":"web:2",
                     "name":"web"}]}}}})");
  EXPECT_EQ(At(out, "metadata.labels.chart").toString(), "demo-0.2.0");
  EXPECT_JSON_EQ(R"({"app":"web"})", At(out, "spec.template.metadata.labels"));
  EXPECT_EQ(At(out, "spec.template.spec.containers.0.image").toString(), "web:2");
  EXPECT_EQ(At(out, "spec.template.spec.containers.0.env.1.value").toString(), "2");
  EXPECT_EQ(At(out, "spec.template.spec.containers.1.name").toString(), "sidecar");
}

TEST(StrategicMergePatch, NewFieldsHaveDirectivesStripped) {
  auto result = StrategicMergePatch(
      O(R"({"spec":{}})"),
      O(R"({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"a"}],
          "containers":[{"name":"a","env":[{"name":"E","value":"1"}],"x":null}]}}}})"));
  ASSERT_TRUE(result.ok());
  EXPECT_JSON_EQ(R"({"spec":{"template":{"spec":{"containers":[
                     {"name":"a","env":[{"name":"E","value":"1"}]}]}}}})",
                 Var(result.value()));
}

TEST(StrategicMergePatch, LeavesInputsUntouched) {
  ObjectPtr target = O(kDeployment);
  ObjectPtr p = O(R"({"spec":{"template":{"spec":{"containers":[{"name":"web","image":"x"}]}}}})");
  std::string target_text = json::Stringify(Var(target));
  std::string patch_text = json::Stringify(Var(p));
  auto result = StrategicMergePatch(target, p);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(json::Stringify(Var(target)), target_text);
  EXPECT_EQ(json::Stringify(Var(p)), patch_text);
}

TEST(StrategicMergePatch, MalformedDirectivesAre400) {
  const char* bad[] = {
      R"({"spec":{"strategy":{"$patch":"frobnicate"}}})",
      R"({"spec":{"strategy":{"$patch":"merge"}}})",
      R"({"spec":{"template":{"spec":{"containers":[{"image":"no-name"}]}}}})",
      R"({"spec":{"template":{"spec":{"containers":["not-a-map"]}}}})",
      R"({"spec":{"template":{"spec":{"containers":[{"$patch":"delete"}]}}}})",
      R"({"spec":{"strategy":{"$retainKeys":"type"}}})",
      R"({"metadata":{"$deleteFromPrimitiveList/finalizers":"a"}})",
  };
  for (const char* text : bad) {
    auto result = StrategicMergePatch(O(kDeployment), O(text));
    ASSERT_FALSE(result.ok()) << text;
    EXPECT_EQ(result.error().code, 400) << text;
  }
}

// ------------------------------------------------------------------------------------------
// Shared helpers

TEST(ListStrategy, ByFieldNameAndElementShape) {
  EXPECT_EQ(ListStrategyFor("containers", nullptr, nullptr).key, "name");
  EXPECT_EQ(ListStrategyFor("volumeMounts", nullptr, nullptr).key, "mountPath");
  EXPECT_EQ(ListStrategyFor("ownerReferences", nullptr, nullptr).key, "uid");
  EXPECT_EQ(ListStrategyFor("conditions", nullptr, nullptr).key, "type");
  EXPECT_EQ(ListStrategyFor("finalizers", nullptr, nullptr).kind, ListStrategy::kMergePrimitives);
  EXPECT_EQ(ListStrategyFor("args", nullptr, nullptr).kind, ListStrategy::kAtomic);
  EXPECT_EQ(ListStrategyFor("tolerations", nullptr, nullptr).kind, ListStrategy::kAtomic);
  EXPECT_EQ(ListStrategyFor("ports", json::AsArray(J(R"([{"containerPort":1}])")), nullptr).key,
            "containerPort");
  EXPECT_EQ(ListStrategyFor("ports", nullptr, json::AsArray(J(R"([{"port":1}])"))).key, "port");
  EXPECT_EQ(ListStrategyFor("ports", nullptr, nullptr).kind, ListStrategy::kAtomic);
}

TEST(IsBuiltInApiVersion, GroupsOfBuiltInKinds) {
  EXPECT_TRUE(IsBuiltInApiVersion("v1"));
  EXPECT_TRUE(IsBuiltInApiVersion("apps/v1"));
  EXPECT_TRUE(IsBuiltInApiVersion("networking.k8s.io/v1"));
  EXPECT_TRUE(IsBuiltInApiVersion("apiextensions.k8s.io/v1"));
  EXPECT_FALSE(IsBuiltInApiVersion("networking.istio.io/v1"));
  EXPECT_FALSE(IsBuiltInApiVersion("example.com/v1"));
  EXPECT_FALSE(IsBuiltInApiVersion("k8s.io.example.com/v1"));
}

std::vector<std::string> Order(std::vector<OrderedItem> items) {
  std::vector<std::string> out;
  for (const auto& v : InterleaveOrder(std::move(items))) out.push_back(v.toString());
  return out;
}

TEST(InterleaveOrder, KeepsServerOnlyElementsInPlace) {
  using V = std::vector<std::string>;
  // live [a, z, b]; patch orders [a, b]: z stays between them.
  EXPECT_EQ(Order({{"a", 0, 0}, {"z", 1, -1}, {"b", 2, 1}}), (V{"a", "z", "b"}));
  // patch reverses a and b; new x goes first.
  EXPECT_EQ(Order({{"a", 0, 2}, {"b", 1, 1}, {"x", -1, 0}}), (V{"x", "b", "a"}));
  // new element with no anchor goes after everything.
  EXPECT_EQ(Order({{"a", 0, -1}, {"b", 1, -1}, {"x", -1, 0}}), (V{"a", "b", "x"}));
  // new element anchored before "a" precedes server-only elements that come after a.
  EXPECT_EQ(Order({{"a", 0, 1}, {"b", 1, -1}, {"c", 2, -1}, {"x", -1, 0}}),
            (V{"x", "a", "b", "c"}));
}

}  // namespace
}  // namespace sandbox::patch

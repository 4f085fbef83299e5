#include "sandbox/apply.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace sandbox::apply {
namespace {

using json::ObjectPtr;
using json::Var;

ObjectPtr O(const std::string& text) {
  auto parsed = json::ParseObject(text);
  EXPECT_TRUE(parsed.ok()) << text;
  return parsed.ok() ? parsed.value() : ObjectPtr();
}

#define EXPECT_JSON_EQ(expected_text, actual)               \
  EXPECT_TRUE(json::Equal(Var(O(expected_text)), (actual))) \
      << "expected " << (expected_text) << "\n  actual " << json::Stringify(actual)

ObjectPtr Deployment(const std::string& spec) {
  return O(R"({"apiVersion":"apps/v1","kind":"Deployment",
               "metadata":{"name":"web","namespace":"prod"},"spec":)" +
           spec + "}");
}

Result<ObjectPtr> DoApply(const ObjectPtr& live, const ObjectPtr& applied,
                          const std::string& manager, bool force = false,
                          const std::string& now = "2025-01-01T00:00:00Z") {
  return Apply(ApplyRequest{live, applied, manager, force, now});
}

ObjectPtr MustApply(const ObjectPtr& live, const ObjectPtr& applied, const std::string& manager,
                    bool force = false, const std::string& now = "2025-01-01T00:00:00Z") {
  auto result = DoApply(live, applied, manager, force, now);
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
  return result.ok() ? result.value() : live;
}

// The managedFields entry of (manager, operation), or null.
ObjectPtr EntryOf(const ObjectPtr& obj, const std::string& manager, const std::string& operation) {
  json::ArrayPtr list = json::GetArray(obj, "metadata.managedFields");
  if (!list) return nullptr;
  for (size_t i = 0; i < list->size(); ++i) {
    ObjectPtr e = json::AsObject(list->get(static_cast<unsigned>(i)));
    if (json::GetString(e, "manager") == manager && json::GetString(e, "operation") == operation) {
      return e;
    }
  }
  return nullptr;
}

size_t EntryCount(const ObjectPtr& obj) {
  json::ArrayPtr list = json::GetArray(obj, "metadata.managedFields");
  return list ? list->size() : 0;
}

ObjectPtr FieldsOf(const ObjectPtr& obj, const std::string& manager, const std::string& operation) {
  ObjectPtr e = EntryOf(obj, manager, operation);
  return e ? e->getObject("fieldsV1") : nullptr;
}

TEST(Apply, CreateRecordsEveryAppliedFieldButSystemOnes) {
  ObjectPtr applied = O(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"web","namespace":"prod","labels":{"app":"web"},
                  "resourceVersion":"7","uid":"u"},
      "spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"web","image":"web:1"}]}}},
      "status":{"replicas":9}})");
  ObjectPtr out = MustApply(nullptr, applied, "helm");
  EXPECT_EQ(json::GetString(out, "metadata.name"), "web");
  EXPECT_EQ(json::GetString(out, "kind"), "Deployment");
  EXPECT_EQ(json::GetInt(out, "spec.replicas"), 2);
  EXPECT_FALSE(out->has("status"));
  EXPECT_FALSE(json::GetObject(out, "metadata")->has("resourceVersion"));
  ASSERT_EQ(EntryCount(out), 1u);
  ObjectPtr entry = EntryOf(out, "helm", "Apply");
  ASSERT_TRUE(entry);
  EXPECT_EQ(json::GetString(entry, "apiVersion"), "apps/v1");
  EXPECT_EQ(json::GetString(entry, "time"), "2025-01-01T00:00:00Z");
  EXPECT_EQ(json::GetString(entry, "fieldsType"), "FieldsV1");
  EXPECT_JSON_EQ(R"({"f:metadata":{"f:labels":{"f:app":{}}},
                     "f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{
                       "k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}}}}}})",
                 Var(entry->getObject("fieldsV1")));
  // The input is untouched.
  EXPECT_EQ(json::GetInt(applied, "status.replicas"), 9);
  EXPECT_FALSE(json::GetObject(applied, "metadata")->has("managedFields"));
}

TEST(Apply, RequiresManagerAndObject) {
  auto no_manager = DoApply(nullptr, Deployment(R"({"replicas":1})"), "");
  ASSERT_FALSE(no_manager.ok());
  EXPECT_EQ(no_manager.error().code, 400);
  auto no_object = DoApply(nullptr, nullptr, "helm");
  ASSERT_FALSE(no_object.ok());
  EXPECT_EQ(no_object.error().code, 400);
}

TEST(Apply, ReapplyRemovesFieldsNoLongerSentAndKeepsOthers) {
  ObjectPtr v1 = MustApply(nullptr, O(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"web","annotations":{"a":"1","b":"2"}},
      "spec":{"replicas":2,"template":{"spec":{"containers":[
        {"name":"web","image":"web:1","env":[{"name":"X","value":"1"},{"name":"Y","value":"2"}]},
        {"name":"old","image":"old:1"}]}}}})"),
                           "helm");
  // Fields nobody applied (e.g. set by the server) survive a re-apply.
  json::EnsureObject(v1, "spec")->set("revisionHistoryLimit", 10);
  ObjectPtr v2 = MustApply(v1, O(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"web","annotations":{"a":"1"}},
      "spec":{"template":{"spec":{"containers":[
        {"name":"web","image":"web:2","env":[{"name":"X","value":"1"}]}]}}}})"),
                           "helm");
  EXPECT_JSON_EQ(R"({"a":"1"})", Var(json::GetObject(v2, "metadata.annotations")));
  EXPECT_FALSE(json::GetObject(v2, "spec")->has("replicas"));
  EXPECT_EQ(json::GetInt(v2, "spec.revisionHistoryLimit"), 10);
  json::ArrayPtr containers = json::GetArray(v2, "spec.template.spec.containers");
  ASSERT_EQ(containers->size(), 1u);
  ObjectPtr web = json::AsObject(containers->get(0));
  EXPECT_EQ(web->getValue<std::string>("image"), "web:2");
  EXPECT_EQ(web->getArray("env")->size(), 1u);
  EXPECT_EQ(EntryCount(v2), 1u);
  EXPECT_JSON_EQ(R"({"f:metadata":{"f:annotations":{"f:a":{}}},
                     "f:spec":{"f:template":{"f:spec":{"f:containers":{
                       "k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{},"f:env":{
                         "k:{\"name\":\"X\"}":{".":{},"f:name":{},"f:value":{}}}}}}}}})",
                 Var(FieldsOf(v2, "helm", "Apply")));
  // The live object passed in is untouched.
  EXPECT_EQ(json::GetInt(v1, "spec.replicas"), 2);
}

TEST(Apply, SameConfigTwiceDoesNotConflictWithItself) {
  ObjectPtr config = Deployment(R"({"replicas":3,"template":{"spec":{"containers":[
      {"name":"web","image":"web:1"}]}}})");
  ObjectPtr v1 = MustApply(nullptr, config, "helm");
  auto v2 = DoApply(v1, config, "helm", false, "2025-02-02T00:00:00Z");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(EntryCount(v2.value()), 1u);
  EXPECT_EQ(json::GetInt(v2.value(), "spec.replicas"), 3);
  // A changed configuration updates the entry's time.
  auto v3 =
      DoApply(v2.value(), Deployment(R"({"replicas":4})"), "helm", false, "2025-03-03T00:00:00Z");
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(json::GetString(EntryOf(v3.value(), "helm", "Apply"), "time"), "2025-03-03T00:00:00Z");
}

TEST(Apply, TwoManagersShareAFieldWithTheSameValue) {
  ObjectPtr v1 = MustApply(nullptr, Deployment(R"({"replicas":3,"paused":false})"), "alice");
  ObjectPtr v2 = MustApply(v1, Deployment(R"({"replicas":3})"), "bob");
  EXPECT_JSON_EQ(R"({"f:spec":{"f:replicas":{}}})", Var(FieldsOf(v2, "bob", "Apply")));
  EXPECT_JSON_EQ(R"({"f:spec":{"f:replicas":{},"f:paused":{}}})",
                 Var(FieldsOf(v2, "alice", "Apply")));
  // alice stops applying replicas: bob still owns it, so it stays.
  ObjectPtr v3 = MustApply(v2, Deployment(R"({"paused":false})"), "alice");
  EXPECT_EQ(json::GetInt(v3, "spec.replicas"), 3);
  // bob stops too: now nobody owns it and it goes.
  ObjectPtr v4 = MustApply(v3, Deployment(R"({"minReadySeconds":1})"), "bob");
  EXPECT_FALSE(json::GetObject(v4, "spec")->has("replicas"));
  EXPECT_EQ(json::GetBool(v4, "spec.paused"), false);
}

TEST(Apply, ConflictWithoutForceIs409WithCauses) {
  ObjectPtr v1 = MustApply(nullptr, Deployment(R"({"replicas":3})"), "alice");
  auto result = DoApply(v1, Deployment(R"({"replicas":5})"), "bob");
  ASSERT_FALSE(result.ok());
  const ApiError& e = result.error();
  EXPECT_EQ(e.code, 409);
  EXPECT_EQ(e.reason, "Conflict");
  // An Apply owner is named without an apiVersion, as the apiserver does.
  EXPECT_EQ(e.message, "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas");
  ASSERT_EQ(e.causes.size(), 1u);
  EXPECT_EQ(e.causes[0].reason, "FieldManagerConflict");
  EXPECT_EQ(e.causes[0].message, "conflict with \"alice\"");
  EXPECT_EQ(e.causes[0].field, ".spec.replicas");
  ObjectPtr status = e.ToStatus();
  EXPECT_EQ(json::GetInt(status, "code"), 409);
}

TEST(Apply, SeveralConflictsAreListedByManager) {
  ObjectPtr v1 = MustApply(nullptr, Deployment(R"({"replicas":3,"paused":false})"), "alice");
  ObjectPtr v2 = MustApply(v1, Deployment(R"({"minReadySeconds":1})"), "carol");
  auto result =
      DoApply(v2, Deployment(R"({"replicas":5,"paused":true,"minReadySeconds":2})"), "bob");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message,
            "Apply failed with 3 conflicts: conflicts with \"alice\":\n- .spec.paused\n"
            "- .spec.replicas\nconflicts with \"carol\":\n- .spec.minReadySeconds");
  EXPECT_EQ(result.error().causes.size(), 3u);
}

TEST(Apply, ForceTakesOwnership) {
  ObjectPtr v1 = MustApply(nullptr, Deployment(R"({"replicas":3,"paused":false})"), "alice");
  ObjectPtr v2 = MustApply(v1, Deployment(R"({"replicas":5})"), "bob", /*force=*/true);
  EXPECT_EQ(json::GetInt(v2, "spec.replicas"), 5);
  EXPECT_JSON_EQ(R"({"f:spec":{"f:replicas":{}}})", Var(FieldsOf(v2, "bob", "Apply")));
  EXPECT_JSON_EQ(R"({"f:spec":{"f:paused":{}}})", Var(FieldsOf(v2, "alice", "Apply")));
  // alice now conflicts with bob in turn.
  auto back = DoApply(v2, Deployment(R"({"replicas":3,"paused":false})"), "alice");
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.error().causes[0].message, "conflict with \"bob\"");
  // A manager that loses everything to a forced apply disappears from managedFields.
  ObjectPtr v3 = MustApply(v2, Deployment(R"({"paused":true})"), "bob", true);
  EXPECT_FALSE(EntryOf(v3, "alice", "Apply"));
  EXPECT_EQ(EntryCount(v3), 1u);
}

const char* kVirtualService = R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService",
    "metadata":{"name":"demo","namespace":"prod"},
    "spec":{"hosts":["demo"],"http":[{"route":[{"destination":{"host":"a"},"weight":100},
                                               {"destination":{"host":"b"},"weight":0}]}]}})";

// "70/30": the route weights of a VirtualService's first http route.
std::string Weights(const ObjectPtr& vs) {
  json::ArrayPtr http = json::GetArray(vs, "spec.http");
  json::ArrayPtr route = json::AsObject(http->get(0))->getArray("route");
  std::string out;
  for (size_t i = 0; i < route->size(); ++i) {
    out += (i ? "/" : "") + std::to_string(*json::GetInt(
                                json::AsObject(route->get(static_cast<unsigned>(i))), "weight"));
  }
  return out;
}

TEST(Apply, RecordUpdateThenApplyConflictsWithTheUpdater) {
  ObjectPtr applied = O(kVirtualService);
  ObjectPtr v1 = MustApply(nullptr, applied, "helm");
  // Custom resources' lists are atomic: spec.http is one field.
  EXPECT_JSON_EQ(R"({"f:spec":{"f:hosts":{},"f:http":{}}})", Var(FieldsOf(v1, "helm", "Apply")));

  // kubectl patch --type merge shifts the weights to 70/30.
  ObjectPtr patched = json::DeepCopy(v1);
  json::GetObject(patched, "spec")
      ->set("http", json::GetArray(O(R"({"h":[{"route":[{"destination":{"host":"a"},"weight":70},
                                        {"destination":{"host":"b"},"weight":30}]}]})"),
                                   "h"));
  ObjectPtr v2 = RecordUpdate(v1, patched, "kubectl-patch", "2025-01-02T00:00:00Z");
  ObjectPtr update = EntryOf(v2, "kubectl-patch", "Update");
  ASSERT_TRUE(update);
  EXPECT_EQ(json::GetString(update, "apiVersion"), "networking.istio.io/v1");
  EXPECT_EQ(json::GetString(update, "time"), "2025-01-02T00:00:00Z");
  EXPECT_JSON_EQ(R"({"f:spec":{"f:http":{}}})", Var(update->getObject("fieldsV1")));
  EXPECT_JSON_EQ(R"({"f:spec":{"f:hosts":{}}})", Var(FieldsOf(v2, "helm", "Apply")));
  EXPECT_EQ(Weights(v2), "70/30");

  // helm 4 re-applies its manifest (100/0): the apiserver's exact message.
  auto conflict = DoApply(v2, applied, "helm");
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, 409);
  EXPECT_EQ(conflict.error().message,
            "Apply failed with 1 conflict: conflict with \"kubectl-patch\" using "
            "networking.istio.io/v1: .spec.http");
  ASSERT_EQ(conflict.error().causes.size(), 1u);
  EXPECT_EQ(conflict.error().causes[0].message,
            "conflict with \"kubectl-patch\" using networking.istio.io/v1");
  EXPECT_EQ(conflict.error().causes[0].field, ".spec.http");

  // Applying the value the patch set is no conflict: shared ownership.
  ObjectPtr same = DoApply(v2, patched, "helm").value();
  EXPECT_TRUE(EntryOf(same, "kubectl-patch", "Update"));
  EXPECT_JSON_EQ(R"({"f:spec":{"f:hosts":{},"f:http":{}}})", Var(FieldsOf(same, "helm", "Apply")));

  // With force, helm takes spec.http back and kubectl-patch's entry, now empty, goes.
  ObjectPtr forced = MustApply(v2, applied, "helm", true);
  EXPECT_FALSE(EntryOf(forced, "kubectl-patch", "Update"));
  EXPECT_EQ(Weights(forced), "100/0");
}

TEST(Apply, KeyedListElementsOwnedSeparatelyByTwoManagers) {
  ObjectPtr v1 = MustApply(nullptr, Deployment(R"({"template":{"spec":{"containers":[
      {"name":"web","image":"web:1"}]}}})"),
                           "helm");
  ObjectPtr v2 = MustApply(v1, Deployment(R"({"template":{"spec":{"containers":[
      {"name":"proxy","image":"envoy:1"}]}}})"),
                           "injector");
  json::ArrayPtr containers = json::GetArray(v2, "spec.template.spec.containers");
  ASSERT_EQ(containers->size(), 2u);
  EXPECT_JSON_EQ(R"({"f:spec":{"f:template":{"f:spec":{"f:containers":{
                     "k:{\"name\":\"proxy\"}":{".":{},"f:image":{},"f:name":{}}}}}}})",
                 Var(FieldsOf(v2, "injector", "Apply")));

  // helm changes its own container: no conflict with the injector's.
  ObjectPtr v3 = MustApply(v2, Deployment(R"({"template":{"spec":{"containers":[
      {"name":"web","image":"web:2"}]}}})"),
                           "helm");
  EXPECT_EQ(json::GetArray(v3, "spec.template.spec.containers")->size(), 2u);

  // Touching the injector's image is a conflict, named by merge key.
  auto conflict = DoApply(v3, Deployment(R"({"template":{"spec":{"containers":[
      {"name":"web","image":"web:2"},{"name":"proxy","image":"envoy:2"}]}}})"),
                          "helm");
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().causes.size(), 1u);
  EXPECT_EQ(conflict.error().causes[0].field,
            ".spec.template.spec.containers[name=\"proxy\"].image");

  // helm drops its container: only the injector's remains.
  ObjectPtr v4 = MustApply(v3, Deployment(R"({"replicas":1})"), "helm");
  containers = json::GetArray(v4, "spec.template.spec.containers");
  ASSERT_EQ(containers->size(), 1u);
  EXPECT_EQ(json::AsObject(containers->get(0))->getValue<std::string>("name"), "proxy");
}

TEST(Apply, KeyedListMergeKeepsOtherFieldsOfAnElement) {
  ObjectPtr v1 = MustApply(nullptr, Deployment(R"({"template":{"spec":{"containers":[
      {"name":"web","image":"web:1","ports":[{"containerPort":80}]}]}}})"),
                           "helm");
  ObjectPtr v2 = MustApply(v1, Deployment(R"({"template":{"spec":{"containers":[
      {"name":"web","resources":{"limits":{"cpu":"1"}}}]}}})"),
                           "tuner");
  ObjectPtr web = json::AsObject(json::GetArray(v2, "spec.template.spec.containers")->get(0));
  EXPECT_EQ(web->getValue<std::string>("image"), "web:1");
  EXPECT_EQ(json::GetString(web, "resources.limits.cpu"), "1");
  EXPECT_JSON_EQ(R"({"f:spec":{"f:template":{"f:spec":{"f:containers":{
                     "k:{\"name\":\"web\"}":{".":{},"f:name":{},
                       "f:resources":{"f:limits":{"f:cpu":{}}}}}}}}})",
                 Var(FieldsOf(v2, "tuner", "Apply")));
  // The container element is shared: helm dropping it keeps the element with tuner's fields.
  ObjectPtr v3 = MustApply(v2, Deployment(R"({"replicas":1})"), "helm");
  json::ArrayPtr containers = json::GetArray(v3, "spec.template.spec.containers");
  ASSERT_EQ(containers->size(), 1u);
  ObjectPtr left = json::AsObject(containers->get(0));
  EXPECT_FALSE(left->has("image"));
  EXPECT_FALSE(left->has("ports"));
  EXPECT_EQ(json::GetString(left, "resources.limits.cpu"), "1");
}

TEST(Apply, PortsAreKeyedByPortAndProtocol) {
  ObjectPtr v1 = MustApply(nullptr, Deployment(R"({"template":{"spec":{"containers":[
      {"name":"dns","ports":[{"containerPort":53,"protocol":"UDP"},{"containerPort":53}]}]}}})"),
                           "helm");
  ObjectPtr dns = json::AsObject(json::GetArray(v1, "spec.template.spec.containers")->get(0));
  EXPECT_EQ(dns->getArray("ports")->size(), 2u);
  ObjectPtr owned = json::GetObject(FieldsOf(v1, "helm", "Apply"), "f:spec.f:template.f:spec");
  ObjectPtr ports =
      json::AsObject(json::AsObject(owned->getObject("f:containers")->get("k:{\"name\":\"dns\"}"))
                         ->get("f:ports"));
  ASSERT_TRUE(ports);
  EXPECT_TRUE(ports->has("k:{\"containerPort\":53,\"protocol\":\"TCP\"}"));
  EXPECT_TRUE(ports->has("k:{\"containerPort\":53,\"protocol\":\"UDP\"}"));
  // Dropping the TCP port removes that element only.
  ObjectPtr v2 = MustApply(v1, Deployment(R"({"template":{"spec":{"containers":[
      {"name":"dns","ports":[{"containerPort":53,"protocol":"UDP"}]}]}}})"),
                           "helm");
  dns = json::AsObject(json::GetArray(v2, "spec.template.spec.containers")->get(0));
  ASSERT_EQ(dns->getArray("ports")->size(), 1u);
  EXPECT_EQ(json::GetString(json::AsObject(dns->getArray("ports")->get(0)), "protocol"), "UDP");
}

TEST(Apply, FinalizersAreOwnedPerValue) {
  ObjectPtr v1 = MustApply(nullptr, O(R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"c","finalizers":["a"]}})"),
                           "one");
  ObjectPtr v2 = MustApply(v1, O(R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"c","finalizers":["b"]}})"),
                           "two");
  EXPECT_JSON_EQ(
      R"({"l":["a","b"]})",
      Var(O(R"({"l":)" + json::Stringify(Var(json::GetArray(v2, "metadata.finalizers"))) + "}")));
  EXPECT_JSON_EQ(R"({"f:metadata":{"f:finalizers":{"v:\"b\"":{}}}})",
                 Var(FieldsOf(v2, "two", "Apply")));
}

TEST(Apply, LiveWithoutManagedFieldsMergesWithoutConflicts) {
  ObjectPtr live = Deployment(R"({"replicas":1,"paused":true})");
  ObjectPtr out = MustApply(live, Deployment(R"({"replicas":2})"), "helm");
  EXPECT_EQ(json::GetInt(out, "spec.replicas"), 2);
  EXPECT_EQ(json::GetBool(out, "spec.paused"), true);
}

TEST(Apply, ExplicitNullRemovesTheField) {
  ObjectPtr v1 = MustApply(nullptr, Deployment(R"({"replicas":1,"paused":true})"), "helm");
  ObjectPtr v2 = MustApply(v1, Deployment(R"({"replicas":1,"paused":null})"), "helm");
  EXPECT_FALSE(json::GetObject(v2, "spec")->has("paused"));
}

// ------------------------------------------------------------------------------------------
// RecordUpdate

TEST(RecordUpdate, CreateOwnsEverythingAsUpdate) {
  ObjectPtr created = Deployment(R"({"replicas":1,"template":{"spec":{"containers":[
      {"name":"web","image":"web:1"}]}}})");
  ObjectPtr out = RecordUpdate(nullptr, created, "kubectl-create", "t1");
  ObjectPtr entry = EntryOf(out, "kubectl-create", "Update");
  ASSERT_TRUE(entry);
  EXPECT_EQ(json::GetString(entry, "apiVersion"), "apps/v1");
  EXPECT_JSON_EQ(R"({"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{
                     "k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}}}}}})",
                 Var(entry->getObject("fieldsV1")));
  EXPECT_FALSE(json::GetObject(created, "metadata")->has("managedFields"));
}

TEST(RecordUpdate, OneEntryPerManagerOperationAndVersion) {
  ObjectPtr v1 = RecordUpdate(nullptr, Deployment(R"({"replicas":1})"), "kubectl", "t1");
  ObjectPtr before = json::DeepCopy(v1);
  json::GetObject(before, "spec")->set("paused", true);
  ObjectPtr v2 = RecordUpdate(v1, before, "kubectl", "t2");
  EXPECT_EQ(EntryCount(v2), 1u);
  EXPECT_JSON_EQ(R"({"f:spec":{"f:replicas":{},"f:paused":{}}})",
                 Var(FieldsOf(v2, "kubectl", "Update")));
  EXPECT_EQ(json::GetString(EntryOf(v2, "kubectl", "Update"), "time"), "t2");
}

TEST(RecordUpdate, RemovedFieldsLeaveEveryOwnerAndEmptyEntriesGo) {
  ObjectPtr v1 = MustApply(nullptr, Deployment(R"({"replicas":1,"paused":true})"), "helm");
  ObjectPtr after = json::DeepCopy(v1);
  json::GetObject(after, "spec")->remove("paused");
  json::GetObject(after, "spec")->remove("replicas");
  json::GetObject(after, "spec")->set("minReadySeconds", 5);
  ObjectPtr v2 = RecordUpdate(v1, after, "editor", "t2");
  EXPECT_FALSE(EntryOf(v2, "helm", "Apply"));
  EXPECT_JSON_EQ(R"({"f:spec":{"f:minReadySeconds":{}}})", Var(FieldsOf(v2, "editor", "Update")));
}

TEST(RecordUpdate, UnchangedWriteAddsNoEntry) {
  ObjectPtr v1 = MustApply(nullptr, Deployment(R"({"replicas":1})"), "helm");
  ObjectPtr v2 = RecordUpdate(v1, json::DeepCopy(v1), "kubectl-label", "t2");
  EXPECT_EQ(EntryCount(v2), 1u);
  EXPECT_FALSE(EntryOf(v2, "kubectl-label", "Update"));
}

TEST(RecordUpdate, ChangedListElementFieldMovesToTheWriter) {
  ObjectPtr v1 = MustApply(nullptr, Deployment(R"({"template":{"spec":{"containers":[
      {"name":"web","image":"web:1"},{"name":"side","image":"s:1"}]}}})"),
                           "helm");
  ObjectPtr after = json::DeepCopy(v1);
  json::AsObject(json::GetArray(after, "spec.template.spec.containers")->get(0))
      ->set("image", "web:9");
  ObjectPtr v2 = RecordUpdate(v1, after, "kubectl-set", "t2");
  EXPECT_JSON_EQ(R"({"f:spec":{"f:template":{"f:spec":{"f:containers":{
                     "k:{\"name\":\"web\"}":{"f:image":{}}}}}}})",
                 Var(FieldsOf(v2, "kubectl-set", "Update")));
  auto conflict = DoApply(v2, Deployment(R"({"template":{"spec":{"containers":[
      {"name":"web","image":"web:1"},{"name":"side","image":"s:1"}]}}})"),
                          "helm");
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().message,
            "Apply failed with 1 conflict: conflict with \"kubectl-set\" using apps/v1: "
            ".spec.template.spec.containers[name=\"web\"].image");
}

TEST(RecordUpdate, ExplicitEmptyManagedFieldsResetsOwnership) {
  ObjectPtr v1 = MustApply(nullptr, Deployment(R"({"replicas":1})"), "helm");
  ObjectPtr after = json::DeepCopy(v1);
  json::GetObject(after, "metadata")->set("managedFields", json::ArrayPtr(new json::Array));
  ObjectPtr v2 = RecordUpdate(v1, after, "kubectl", "t2");
  EXPECT_FALSE(EntryOf(v2, "helm", "Apply"));
  EXPECT_EQ(EntryCount(v2), 0u);
}

TEST(RecordUpdate, StatusAndSystemMetadataAreNotOwned) {
  ObjectPtr v1 = RecordUpdate(nullptr, Deployment(R"({"replicas":1})"), "kubectl", "t1");
  ObjectPtr after = json::DeepCopy(v1);
  after->set("status", O(R"({"readyReplicas":1})"));
  json::GetObject(after, "metadata")->set("resourceVersion", "9");
  json::GetObject(after, "metadata")->set("generation", 2);
  ObjectPtr v2 = RecordUpdate(v1, after, "controller", "t2");
  EXPECT_FALSE(EntryOf(v2, "controller", "Update"));
}

}  // namespace
}  // namespace sandbox::apply

// IstioRouter against a fake API server holding one VirtualService. The fake applies the
// router's patches with the sandbox's JSON patch code and enforces the resourceVersion
// precondition as the apiserver does, so the tests check the resulting object, not the text
// of the patch.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sandbox/json_util.h"
#include "sandbox/patch.h"
#include "traffic/istio_router.h"
#include "traffic/virtual_service.h"

namespace canaryctl::traffic {
namespace {

namespace json = sandbox::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPath[] = "/apis/networking.istio.io/v1/namespaces/prod/virtualservices/demoapp";

json::ObjectPtr Obj(const std::string& text) {
  auto r = json::ParseObject(text);
  EXPECT_TRUE(r.ok()) << r.error().message << "\n" << text;
  return r.ok() ? r.value() : json::ObjectPtr(new json::Object);
}

// The object without its resourceVersion, for comparing content across writes.
json::ObjectPtr Content(const json::ObjectPtr& obj) {
  json::ObjectPtr copy = json::DeepCopy(obj);
  json::EnsureObject(copy, "metadata")->remove("resourceVersion");
  return copy;
}

class FakeApiServer : public kube::Client {
 public:
  std::optional<json::ObjectPtr> object;
  int resource_version = 1;
  std::vector<kube::Request> requests;
  // Runs before a PATCH is applied: a concurrent writer.
  std::function<void()> before_patch;

  void Store(const std::string& text) {
    object = Obj(text);
    json::EnsureObject(*object, "metadata")->set("resourceVersion", RvString());
  }
  std::string RvString() const { return std::to_string(resource_version); }
  // Another writer sets the managed route's weights (kRichVs's second route).
  void MoveWeights(int stable, int candidate) {
    auto route = json::AsArray(json::GetObject(*object, "spec")->get("http"))
                     ->getObject(1)
                     ->getArray("route");
    route->getObject(0)->set("weight", stable);
    route->getObject(1)->set("weight", candidate);
    ++resource_version;
    json::EnsureObject(*object, "metadata")->set("resourceVersion", RvString());
  }
  std::vector<kube::Request> Writes() const {
    std::vector<kube::Request> out;
    for (const auto& r : requests) {
      if (r.method != "GET") out.push_back(r);
    }
    return out;
  }

  Result<kube::Response> Send(const kube::Request& req) override {
    requests.push_back(req);
    if (req.method == "GET") {
      if (req.path != kPath) return Status(404, "NotFound", "wrong path " + req.path);
      if (!object) return Status(404, "NotFound", "virtualservices \"demoapp\" not found");
      return kube::Response{200, json::Stringify(*object), {}};
    }
    if (req.method == "POST") {
      if (object) return Status(409, "AlreadyExists", "exists");
      ++resource_version;
      Store(req.body);
      return kube::Response{201, json::Stringify(*object), {}};
    }
    if (req.method == "PATCH") {
      if (before_patch) before_patch();
      if (!object) return Status(404, "NotFound", "not found");
      auto doc = json::Parse(req.body);
      if (!doc.ok()) return Status(400, "BadRequest", doc.error().message);
      auto patched = req.content_type == "application/json-patch+json"
                         ? sandbox::patch::JsonPatch(*object, doc.value())
                         : sandbox::patch::MergePatch(*object, doc.value());
      if (!patched.ok()) return Status(422, "Invalid", patched.error().message);
      auto precondition = json::GetString(patched.value(), "metadata.resourceVersion");
      if (precondition && *precondition != RvString()) {
        return Status(409, "Conflict", "the object has been modified");
      }
      ++resource_version;
      object = patched.value();
      json::EnsureObject(*object, "metadata")->set("resourceVersion", RvString());
      return kube::Response{200, json::Stringify(*object), {}};
    }
    return Status(405, "MethodNotAllowed", req.method);
  }

 private:
  static kube::Response Status(int code, const std::string& reason, const std::string& message) {
    return {code,
            R"({"kind":"Status","status":"Failure","reason":")" + reason + R"(","message":")" +
                message + R"(","code":)" + std::to_string(code) + "}",
            {}};
  }
};

RouterConfig Hybrid() {
  RouterConfig c;
  c.virtual_service = {"prod", "demoapp", "networking.istio.io/v1", false, {"app-gateway"}, {"*"}};
  c.stable = {"flaskapp", "prod", std::nullopt, ""};
  c.candidate = {"flaskapp", "stage", std::nullopt, ""};
  c.test_route = TestRouteSpec{"x-canary", "always"};
  return c;
}

// A VirtualService with much that canaryctl must not touch: labels, other annotations, a match
// route before the managed one, retries/timeouts/headers/mirror on it, a fault route after.
constexpr char kRichVs[] = R"({
  "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
  "metadata": {"name": "demoapp", "namespace": "prod",
    "labels": {"team": "web", "app": "demoapp"},
    "annotations": {"owner": "platform", "note": "hands off"}},
  "spec": {"hosts": ["*", "demo.example.com"], "gateways": ["app-gateway", "mesh"],
    "http": [
      {"name": "admin", "match": [{"uri": {"prefix": "/admin"}}],
       "route": [{"destination": {"host": "admin.prod.svc.cluster.local"}}], "timeout": "5s"},
      {"name": "primary",
       "route": [
         {"destination": {"host": "flaskapp.prod.svc.cluster.local", "port": {"number": 80}},
          "weight": 100, "headers": {"response": {"add": {"x-served-by": "stable"}}}},
         {"destination": {"host": "flaskapp.stage.svc.cluster.local", "port": {"number": 80}},
          "weight": 0}],
       "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx"},
       "timeout": "10s",
       "mirror": {"host": "shadow.prod.svc.cluster.local"}, "mirrorPercentage": {"value": 12.5}},
      {"name": "faulty", "match": [{"headers": {"x-fault": {"exact": "1"}}}],
       "fault": {"abort": {"percentage": {"value": 0.1}, "httpStatus": 503}},
       "route": [{"destination": {"host": "other.prod.svc.cluster.local"}}]}
    ]}})";

class RouterTest : public ::testing::Test {
 protected:
  FakeApiServer api_;
};

TEST_F(RouterTest, SetsOnlyTheManagedWeightsAndAnnotationsInOneRequest) {
  api_.Store(kRichVs);
  IstioRouter router(api_, Hybrid());
  auto before = router.Weights();
  ASSERT_TRUE(before.ok()) << before.error().message;
  EXPECT_EQ(before.value().stable, 100);
  EXPECT_EQ(before.value().candidate, 0);
  EXPECT_EQ(before.value().annotations.at("owner"), "platform");

  api_.requests.clear();
  WeightUpdate u{70,
                 30,
                 R"({"phase":"shift","step":1})",
                 R"({"pipeline":"42"})",
                 before.value().resource_version,
                 false};
  auto written = router.SetWeights(u);
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_EQ(written.value().outcome, WriteOutcome::kWritten);
  EXPECT_EQ(written.value().resource_version, api_.RvString());

  // One write, and it carries the weights and both annotations.
  auto writes = api_.Writes();
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].content_type, "application/json-patch+json");
  auto ops = json::AsArray(json::Parse(writes[0].body).value());
  ASSERT_TRUE(ops);
  std::vector<std::string> paths;
  for (size_t i = 0; i < ops->size(); ++i) {
    paths.push_back(json::GetString(ops->getObject(i), "path").value_or(""));
  }
  EXPECT_THAT(paths, ::testing::Contains("/spec/http/1/route/0/weight"));
  EXPECT_THAT(paths, ::testing::Contains("/spec/http/1/route/1/weight"));
  EXPECT_THAT(paths, ::testing::Contains("/metadata/annotations/canaryctl.io~1state"));
  EXPECT_THAT(paths, ::testing::Contains("/metadata/annotations/canaryctl.io~1lock"));

  // The result is the original with exactly those changes.
  json::ObjectPtr expected = Obj(kRichVs);
  auto route = json::AsArray(json::GetObject(expected, "spec")->get("http"))->getObject(1);
  route->getArray("route")->getObject(0)->set("weight", 70);
  route->getArray("route")->getObject(1)->set("weight", 30);
  auto annotations = json::GetObject(expected, "metadata.annotations");
  annotations->set("canaryctl.io/state", std::string(R"({"phase":"shift","step":1})"));
  annotations->set("canaryctl.io/lock", std::string(R"({"pipeline":"42"})"));
  EXPECT_TRUE(json::Equal(Content(*api_.object), Content(expected)))
      << json::Stringify(*api_.object);

  auto after = router.Weights();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.value().stable, 70);
  EXPECT_EQ(after.value().candidate, 30);
  EXPECT_EQ(after.value().annotations.at(kStateAnnotation), R"({"phase":"shift","step":1})");
}

TEST_F(RouterTest, SameWeightsAndAnnotationsSendNothing) {
  api_.Store(kRichVs);
  IstioRouter router(api_, Hybrid());
  WeightUpdate u{70, 30, "{\"s\":1}", "", "1", false};
  ASSERT_EQ(router.SetWeights(u).value().outcome, WriteOutcome::kWritten);
  api_.requests.clear();
  u.expected_resource_version = api_.RvString();
  auto again = router.SetWeights(u);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again.value().outcome, WriteOutcome::kUnchanged);
  EXPECT_TRUE(api_.Writes().empty());
}

TEST_F(RouterTest, EmptyLockRemovesTheAnnotationAndKeepsTheOthers) {
  api_.Store(kRichVs);
  IstioRouter router(api_, Hybrid());
  ASSERT_TRUE(router.SetWeights({60, 40, "{\"s\":1}", "{\"l\":1}", "1", false}).ok());
  auto w = router.SetWeights({60, 40, "{\"s\":2}", "", api_.RvString(), false});
  ASSERT_TRUE(w.ok()) << w.error().message;
  auto annotations = json::GetObject(*api_.object, "metadata.annotations");
  EXPECT_FALSE(annotations->has("canaryctl.io/lock"));
  EXPECT_EQ(annotations->getValue<std::string>("canaryctl.io/state"), "{\"s\":2}");
  EXPECT_EQ(annotations->getValue<std::string>("owner"), "platform");
}

TEST_F(RouterTest, AnnotationsAddedToAnObjectWithoutAny) {
  api_.Store(R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService",
    "metadata":{"name":"demoapp","namespace":"prod"},
    "spec":{"http":[{"route":[
      {"destination":{"host":"flaskapp.prod.svc.cluster.local"},"weight":100},
      {"destination":{"host":"flaskapp.stage.svc.cluster.local"},"weight":0}]}]}})");
  IstioRouter router(api_, Hybrid());
  auto w = router.SetWeights({100, 0, "{\"phase\":\"deploy\"}", "{\"l\":1}", "1", false});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(api_.Writes().size(), 1u);
  auto s = router.Weights();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().annotations.at(kStateAnnotation), "{\"phase\":\"deploy\"}");
  EXPECT_EQ(s.value().annotations.at(kLockAnnotation), "{\"l\":1}");
}

TEST_F(RouterTest, ShortHostFormsAreRecognizedAndLeftAsWritten) {
  api_.Store(R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService",
    "metadata":{"name":"demoapp","namespace":"prod"},
    "spec":{"http":[{"route":[
      {"destination":{"host":"flaskapp"},"weight":100},
      {"destination":{"host":"flaskapp.stage"},"weight":0}]}]}})");
  IstioRouter router(api_, Hybrid());
  auto w = router.SetWeights({40, 60, "{}", "", "1", false});
  ASSERT_TRUE(w.ok()) << w.error().message;
  auto route = json::AsArray(json::GetObject(*api_.object, "spec")->get("http"))
                   ->getObject(0)
                   ->getArray("route");
  ASSERT_EQ(route->size(), 2u);
  EXPECT_EQ(json::GetString(route->getObject(0), "destination.host"), "flaskapp");
  EXPECT_EQ(json::GetInt(route->getObject(0), "weight"), 40);
  EXPECT_EQ(json::GetString(route->getObject(1), "destination.host"), "flaskapp.stage");
  EXPECT_EQ(json::GetInt(route->getObject(1), "weight"), 60);
}

TEST(HostNamesTest, ShortFormsResolveRelativeToTheVirtualServiceNamespace) {
  ServiceDestination stage{"flaskapp", "stage", std::nullopt, ""};
  EXPECT_TRUE(HostNames("flaskapp.stage.svc.cluster.local", "prod", stage));
  EXPECT_TRUE(HostNames("flaskapp.stage.svc", "prod", stage));
  EXPECT_TRUE(HostNames("flaskapp.stage", "prod", stage));
  EXPECT_TRUE(HostNames("flaskapp", "stage", stage));
  EXPECT_FALSE(HostNames("flaskapp", "prod", stage));  // that is prod's flaskapp
  EXPECT_FALSE(HostNames("flaskapp.stage.svc.cluster", "prod", stage));
  EXPECT_FALSE(HostNames("flaskapp2.stage", "prod", stage));
}

TEST_F(RouterTest, ReconcileAddsTheMissingCandidateWithTheStablePort) {
  api_.Store(R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService",
    "metadata":{"name":"demoapp","namespace":"prod"},
    "spec":{"hosts":["*"],"http":[
      {"name":"api","match":[{"uri":{"prefix":"/api"}}],
       "route":[{"destination":{"host":"api.prod.svc.cluster.local"}}]},
      {"route":[{"destination":{"host":"flaskapp.prod.svc.cluster.local",
                               "port":{"number":8080}}}],
       "timeout":"3s"}]}})");
  json::ObjectPtr original = json::DeepCopy(*api_.object);
  IstioRouter router(api_, Hybrid());
  auto s = router.Weights();
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s.value().stable, 100);
  EXPECT_EQ(s.value().candidate, 0);

  auto r = router.Reconcile();
  ASSERT_TRUE(r.ok()) << r.error().message;
  json::ObjectPtr expected = json::DeepCopy(original);
  auto managed = json::AsArray(json::GetObject(expected, "spec")->get("http"))->getObject(1);
  managed->getArray("route")->getObject(0)->set("weight", 100);
  managed->getArray("route")->add(Obj(R"({"destination":{"host":
      "flaskapp.stage.svc.cluster.local","port":{"number":8080}},"weight":0})"));
  EXPECT_TRUE(json::Equal(Content(*api_.object), Content(expected)))
      << json::Stringify(*api_.object);

  api_.requests.clear();
  ASSERT_TRUE(router.Reconcile().ok());
  EXPECT_TRUE(api_.Writes().empty()) << "a second Reconcile changes nothing";
}

TEST_F(RouterTest, SetWeightsAddsTheMissingCandidateInTheSameRequest) {
  api_.Store(R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService",
    "metadata":{"name":"demoapp","namespace":"prod"},
    "spec":{"http":[{"route":[{"destination":{"host":"flaskapp.prod.svc.cluster.local"}}]}]}})");
  IstioRouter router(api_, Hybrid());
  auto w = router.SetWeights({90, 10, "{}", "", "1", false});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(api_.Writes().size(), 1u);
  auto s = router.Weights();
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s.value().stable, 90);
  EXPECT_EQ(s.value().candidate, 10);
}

TEST_F(RouterTest, ReconcileCreatesTheVirtualServiceWhenAllowed) {
  RouterConfig c = Hybrid();
  c.virtual_service.create = true;
  IstioRouter router(api_, c);
  auto r = router.Reconcile();
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(api_.object);
  ASSERT_EQ(api_.Writes().size(), 1u);
  EXPECT_EQ(api_.Writes()[0].method, "POST");
  EXPECT_EQ(api_.Writes()[0].path, "/apis/networking.istio.io/v1/namespaces/prod/virtualservices");
  json::ObjectPtr expected = Obj(R"({"apiVersion":"networking.istio.io/v1",
    "kind":"VirtualService","metadata":{"name":"demoapp","namespace":"prod"},
    "spec":{"hosts":["*"],"gateways":["app-gateway"],"http":[{"route":[
      {"destination":{"host":"flaskapp.prod.svc.cluster.local"},"weight":100},
      {"destination":{"host":"flaskapp.stage.svc.cluster.local"},"weight":0}]}]}})");
  EXPECT_TRUE(json::Equal(Content(*api_.object), expected)) << json::Stringify(*api_.object);
  api_.requests.clear();
  ASSERT_TRUE(router.Reconcile().ok());
  EXPECT_TRUE(api_.Writes().empty());
}

TEST_F(RouterTest, MissingVirtualServiceWithoutCreateIsAnErrorNamingIt) {
  IstioRouter router(api_, Hybrid());
  auto r = router.Reconcile();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kCluster);
  EXPECT_THAT(r.error().message, HasSubstr("VirtualService prod/demoapp not found"));
  EXPECT_TRUE(api_.Writes().empty());
  auto absent = router.Weights();
  ASSERT_TRUE(absent.ok()) << absent.error().message;
  EXPECT_FALSE(absent.value().exists);
}

struct InvalidCase {
  std::string name;
  std::string http;  // the spec.http array
  std::string message;
};

class InvalidObjectTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidObjectTest, IsRejectedWithAMessageAndNothingWritten) {
  FakeApiServer api;
  api.Store(R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService",
    "metadata":{"name":"demoapp","namespace":"prod"},"spec":{"http":)" +
            GetParam().http + "}}");
  IstioRouter router(api, Hybrid());
  auto r = router.Reconcile();
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("VirtualService prod/demoapp"));
  EXPECT_THAT(r.error().message, HasSubstr(GetParam().message));
  auto w = router.SetWeights({50, 50, "{}", "", "1", false});
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.error().message, HasSubstr(GetParam().message));
  EXPECT_TRUE(api.Writes().empty());
}

constexpr char kStable[] = R"({"destination":{"host":"flaskapp.prod.svc.cluster.local"})";
constexpr char kCandidate[] = R"({"destination":{"host":"flaskapp.stage.svc.cluster.local"})";

INSTANTIATE_TEST_SUITE_P(
    Objects, InvalidObjectTest,
    ::testing::Values(
        InvalidCase{"NoRoute",
                    R"([{"route":[{"destination":{"host":"other.prod.svc.cluster.local"}}]}])",
                    "looked for a route with destinations flaskapp.prod.svc.cluster.local"},
        InvalidCase{"NoHttp", "[]", "has no spec.http routes"},
        InvalidCase{"ThreeDestinations",
                    std::string("[{\"route\":[") + kStable + ",\"weight\":50}," + kCandidate +
                        ",\"weight\":25},{\"destination\":{\"host\":\"x.prod\"},\"weight\":25}]}]",
                    "http[0] has 3 destinations"},
        InvalidCase{"SumNot100",
                    std::string("[{\"route\":[") + kStable + ",\"weight\":50}," + kCandidate +
                        ",\"weight\":40}]}]",
                    "weights 50 + 40 = 90, not 100"},
        InvalidCase{"FractionalWeight",
                    std::string("[{\"route\":[") + kStable + ",\"weight\":69.5}," + kCandidate +
                        ",\"weight\":30.5}]}]",
                    "not an integer"},
        InvalidCase{"Ambiguous",
                    std::string("[{\"name\":\"a\",\"route\":[") + kStable + ",\"weight\":100}," +
                        kCandidate + ",\"weight\":0}]},{\"name\":\"b\",\"route\":[" + kStable +
                        ",\"weight\":100}," + kCandidate + ",\"weight\":0}]}]",
                    "ambiguous: http[0] \"a\", http[1] \"b\""},
        InvalidCase{"TwoCatchAllRoutesToStable",
                    std::string("[{\"name\":\"a\",\"route\":[") + kStable + "}]}," +
                        "{\"name\":\"b\",\"route\":[" + kStable + "}]}]",
                    "ambiguous: http[0] \"a\", http[1] \"b\""},
        InvalidCase{"StablePairedWithAnother",
                    std::string("[{\"route\":[") + kStable +
                        ",\"weight\":50},{\"destination\":{\"host\":\"legacy.prod\"},"
                        "\"weight\":50}]}]",
                    "pairs the stable destination with another one (legacy.prod)"}),
    [](const ::testing::TestParamInfo<InvalidCase>& info) { return info.param.name; });

TEST_F(RouterTest, OfSeveralRoutesToStableTheCatchAllIsTheManagedOne) {
  api_.Store(std::string(R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService",
    "metadata":{"name":"demoapp","namespace":"prod","resourceVersion":"1"},"spec":{"http":[
      {"name":"admin","match":[{"uri":{"prefix":"/admin"}}],"route":[)") +
             kStable + R"(}]},
      {"name":"main","route":[)" +
             kStable + R"(}]}]}})");
  IstioRouter router(api_, Hybrid());
  ASSERT_TRUE(router.Reconcile().ok());
  auto w = router.Weights();
  ASSERT_TRUE(w.ok()) << w.error().message;
  auto set = router.SetWeights({70, 30, "{}", "", w.value().resource_version, false});
  ASSERT_TRUE(set.ok()) << set.error().message;
  const std::string text = json::Stringify(*api_.object);
  // The admin route still has its single destination; main got the candidate at 30.
  EXPECT_THAT(
      text,
      HasSubstr(
          R"({"match":[{"uri":{"prefix":"/admin"}}],"name":"admin","route":[{"destination":{"host":"flaskapp.prod.svc.cluster.local"}}]})"));
  EXPECT_THAT(text, HasSubstr(R"("host":"flaskapp.stage.svc.cluster.local"},"weight":30)"));
}

TEST_F(RouterTest, WeightsOutsideTheRulesAreAConfigErrorWithNoRequest) {
  api_.Store(kRichVs);
  IstioRouter router(api_, Hybrid());
  auto w = router.SetWeights({60, 30, "{}", "", "1", false});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::kConfig);
  EXPECT_THAT(w.error().message, HasSubstr("60 / candidate 30"));
  EXPECT_TRUE(api_.Writes().empty());
}

TEST_F(RouterTest, PortAndSubsetSelectTheDestinationsWhenConfigured) {
  api_.Store(R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService",
    "metadata":{"name":"demoapp","namespace":"prod"},
    "spec":{"http":[
      {"name":"grpc","route":[
        {"destination":{"host":"app.prod.svc.cluster.local","subset":"blue",
                        "port":{"number":9090}},"weight":100},
        {"destination":{"host":"app.prod.svc.cluster.local","subset":"green",
                        "port":{"number":9090}},"weight":0}]},
      {"name":"web","route":[
        {"destination":{"host":"app.prod.svc.cluster.local","subset":"blue",
                        "port":{"number":80}},"weight":100},
        {"destination":{"host":"app.prod.svc.cluster.local","subset":"green",
                        "port":{"number":80}},"weight":0}]}]}})");
  RouterConfig c = Hybrid();
  c.stable = {"app", "prod", 80, "blue"};
  c.candidate = {"app", "prod", 80, "green"};
  IstioRouter router(api_, c);
  ASSERT_TRUE(router.SetWeights({0, 100, "{}", "", "1", false}).ok());
  auto http = json::AsArray(json::GetObject(*api_.object, "spec")->get("http"));
  EXPECT_EQ(json::GetInt(http->getObject(0)->getArray("route")->getObject(1), "weight"), 0);
  EXPECT_EQ(json::GetInt(http->getObject(1)->getArray("route")->getObject(0), "weight"), 0);
  EXPECT_EQ(json::GetInt(http->getObject(1)->getArray("route")->getObject(1), "weight"), 100);
}

TEST_F(RouterTest, BlueGreenServicesInOneNamespace) {
  api_.Store(R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService",
    "metadata":{"name":"demoapp","namespace":"prod"},
    "spec":{"http":[{"route":[
      {"destination":{"host":"demoapp-green"},"weight":0},
      {"destination":{"host":"demoapp-blue"},"weight":100}]}]}})");
  RouterConfig c = Hybrid();
  c.stable = {"demoapp-blue", "prod", std::nullopt, ""};
  c.candidate = {"demoapp-green", "prod", std::nullopt, ""};
  IstioRouter router(api_, c);
  ASSERT_TRUE(router.SetWeights({0, 100, "{}", "", "1", false}).ok());
  auto s = router.Weights();
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s.value().stable, 0);
  EXPECT_EQ(s.value().candidate, 100);
  auto route = json::AsArray(json::GetObject(*api_.object, "spec")->get("http"))
                   ->getObject(0)
                   ->getArray("route");
  EXPECT_EQ(json::GetString(route->getObject(0), "destination.host"), "demoapp-green");
  EXPECT_EQ(json::GetInt(route->getObject(0), "weight"), 100);
}

TEST(ValidateConfigTest, RejectsTheSameDestinationTwice) {
  RouterConfig c = Hybrid();
  c.candidate = c.stable;
  auto e = ValidateConfig(c);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, ErrorKind::kConfig);
  EXPECT_THAT(e->message, HasSubstr("flaskapp.prod.svc.cluster.local"));
  EXPECT_FALSE(ValidateConfig(Hybrid()));
}

TEST_F(RouterTest, ConcurrentWriteBetweenReadAndPatchIsAConflict) {
  api_.Store(kRichVs);
  IstioRouter router(api_, Hybrid());
  api_.before_patch = [this] { api_.MoveWeights(50, 50); };  // someone else writes first
  auto w = router.SetWeights({70, 30, "{\"mine\":1}", "", "1", false});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w.value().outcome, WriteOutcome::kConflict);
  api_.before_patch = nullptr;
  auto s = router.Weights();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().stable, 50) << "the other writer's weights stay";
  EXPECT_EQ(s.value().annotations.count(kStateAnnotation), 0u);
}

TEST_F(RouterTest, StaleResourceVersionIsAConflictWithoutARequest) {
  api_.Store(kRichVs);
  api_.resource_version = 7;
  api_.Store(kRichVs);
  IstioRouter router(api_, Hybrid());
  auto w = router.SetWeights({70, 30, "{}", "", "6", false});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w.value().outcome, WriteOutcome::kConflict);
  EXPECT_EQ(w.value().resource_version, "7");
  EXPECT_TRUE(api_.Writes().empty());
}

TEST_F(RouterTest, AReadThenWritesCostOneGetAndAPatchPerWrite) {
  api_.Store(kRichVs);
  IstioRouter router(api_, Hybrid());
  auto read = router.Weights();
  ASSERT_TRUE(read.ok()) << read.error().message;
  auto first = router.SetWeights({70, 30, "{\"s\":1}", "{}", read.value().resource_version, false});
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first.value().outcome, WriteOutcome::kWritten);
  auto second =
      router.SetWeights({40, 60, "{\"s\":2}", "{}", first.value().resource_version, false});
  ASSERT_TRUE(second.ok()) << second.error().message;
  ASSERT_EQ(second.value().outcome, WriteOutcome::kWritten);
  std::vector<std::string> methods;
  for (const auto& r : api_.requests) methods.push_back(r.method);
  EXPECT_THAT(methods, ::testing::ElementsAre("GET", "PATCH", "PATCH"));
  auto after = router.Weights();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.value().stable, 40);
  EXPECT_EQ(after.value().candidate, 60);
  EXPECT_EQ(after.value().annotations.at(kStateAnnotation), "{\"s\":2}");
}

TEST_F(RouterTest, AWriteOnTheObjectReadBeforeSomeoneElsesWriteIsAConflict) {
  api_.Store(kRichVs);
  IstioRouter router(api_, Hybrid());
  auto read = router.Weights();
  ASSERT_TRUE(read.ok()) << read.error().message;
  api_.MoveWeights(50, 50);  // after our read: the router's copy is now stale

  auto w = router.SetWeights({70, 30, "{\"mine\":1}", "", read.value().resource_version, false});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w.value().outcome, WriteOutcome::kConflict);
  auto s = router.Weights();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().stable, 50) << "the other writer's weights stay";
  EXPECT_EQ(s.value().annotations.count(kStateAnnotation), 0u);
}

TEST_F(RouterTest, UnprocessablePatchOnAChangedObjectIsAConflict) {
  api_.Store(kRichVs);
  IstioRouter router(api_, Hybrid());
  api_.before_patch = [this] {
    // The managed route moved: the patch's paths no longer resolve (422), and the object's
    // resourceVersion says why.
    api_.resource_version = 9;
    api_.Store(R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService",
      "metadata":{"name":"demoapp","namespace":"prod"},"spec":{"http":[{"route":[
        {"destination":{"host":"flaskapp.prod.svc.cluster.local"}}]}]}})");
  };
  auto w = router.SetWeights({70, 30, "{}", "", "1", false});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w.value().outcome, WriteOutcome::kConflict);
}

TEST_F(RouterTest, OtherApiErrorsCarryTheStatusMessage) {
  api_.Store(kRichVs);
  IstioRouter router(api_, Hybrid());
  api_.before_patch = [this] { api_.object.reset(); };
  auto w = router.SetWeights({70, 30, "{}", "", "1", false});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::kCluster);
  EXPECT_THAT(w.error().message, HasSubstr("HTTP 404"));
  EXPECT_THAT(w.error().message, HasSubstr("VirtualService prod/demoapp"));
}

json::ArrayPtr Http(const FakeApiServer& api) {
  return json::AsArray(json::GetObject(*api.object, "spec")->get("http"));
}

TEST_F(RouterTest, TestRouteIsAddedBeforeTheManagedRouteAndRemovedIdempotently) {
  api_.Store(kRichVs);
  json::ObjectPtr original = json::DeepCopy(*api_.object);
  IstioRouter router(api_, Hybrid());

  auto add = router.SetTestRoute(true);
  ASSERT_TRUE(add.ok()) << add.error().message;
  EXPECT_EQ(add.value().outcome, WriteOutcome::kWritten);
  auto http = Http(api_);
  ASSERT_EQ(http->size(), 4u);
  EXPECT_TRUE(json::Equal(http->getObject(1), Obj(R"({"name":"canaryctl-test-route",
      "match":[{"headers":{"x-canary":{"exact":"always"}}}],
      "route":[{"destination":{"host":"flaskapp.stage.svc.cluster.local",
                               "port":{"number":80}},"weight":100}]})")))
      << json::Stringify(http->getObject(1));
  EXPECT_EQ(json::GetString(http->getObject(2), "name"), "primary");
  auto s = router.Weights();
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(s.value().test_route);

  api_.requests.clear();
  auto again = router.SetTestRoute(true);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value().outcome, WriteOutcome::kUnchanged);
  EXPECT_TRUE(api_.Writes().empty());

  // Weights still go to the managed route, now at http[2].
  ASSERT_TRUE(router.SetWeights({80, 20, "{}", "", api_.RvString(), false}).ok());
  EXPECT_EQ(json::GetInt(Http(api_)->getObject(2)->getArray("route")->getObject(1), "weight"), 20);
  ASSERT_TRUE(router.SetWeights({100, 0, "", "", api_.RvString(), false}).ok());

  auto remove = router.SetTestRoute(false);
  ASSERT_TRUE(remove.ok()) << remove.error().message;
  EXPECT_EQ(remove.value().outcome, WriteOutcome::kWritten);
  EXPECT_TRUE(json::Equal(Content(*api_.object), Content(original)))
      << json::Stringify(*api_.object);
  api_.requests.clear();
  auto remove_again = router.SetTestRoute(false);
  ASSERT_TRUE(remove_again.ok());
  EXPECT_EQ(remove_again.value().outcome, WriteOutcome::kUnchanged);
  EXPECT_TRUE(api_.Writes().empty());
}

TEST_F(RouterTest, TestRouteWithAChangedHeaderIsReplaced) {
  api_.Store(kRichVs);
  IstioRouter router(api_, Hybrid());
  ASSERT_TRUE(router.SetTestRoute(true).ok());
  RouterConfig c = Hybrid();
  c.test_route = TestRouteSpec{"x-canary", "yes"};
  IstioRouter changed(api_, c);
  auto w = changed.SetTestRoute(true);
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w.value().outcome, WriteOutcome::kWritten);
  auto http = Http(api_);
  ASSERT_EQ(http->size(), 4u);
  EXPECT_EQ(json::GetString(http->getObject(1), "name"), "canaryctl-test-route");
  auto headers =
      json::AsArray(http->getObject(1)->get("match"))->getObject(0)->getObject("headers");
  EXPECT_EQ(headers->getObject("x-canary")->getValue<std::string>("exact"), "yes");
}

TEST_F(RouterTest, TestRouteNeedsItsConfiguration) {
  api_.Store(kRichVs);
  RouterConfig c = Hybrid();
  c.test_route.reset();
  IstioRouter router(api_, c);
  auto w = router.SetTestRoute(true);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::kConfig);
  EXPECT_THAT(w.error().message, HasSubstr("testRoute"));
}

TEST_F(RouterTest, RollbackRemovesTheTestRouteInTheWeightRequest) {
  api_.Store(kRichVs);
  IstioRouter router(api_, Hybrid());
  ASSERT_TRUE(router.SetTestRoute(true).ok());
  ASSERT_TRUE(router.SetWeights({70, 30, "{}", "", api_.RvString(), false}).ok());
  api_.requests.clear();
  auto w = router.SetWeights({100, 0, "{\"phase\":\"rolled-back\"}", "", api_.RvString(), true});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(api_.Writes().size(), 1u);
  auto http = Http(api_);
  ASSERT_EQ(http->size(), 3u);
  EXPECT_EQ(json::GetString(http->getObject(1), "name"), "primary");
  EXPECT_EQ(json::GetInt(http->getObject(1)->getArray("route")->getObject(0), "weight"), 100);
  EXPECT_EQ(json::GetInt(http->getObject(1)->getArray("route")->getObject(1), "weight"), 0);
}

TEST_F(RouterTest, PlanShowsTheDiffAndThePatchWithoutWriting) {
  api_.Store(kRichVs);
  IstioRouter router(api_, Hybrid());
  WeightUpdate u{70, 30, "{\"phase\":\"shift\"}", "", "1", false};
  auto plan = router.PlanWeights(u);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_TRUE(api_.Writes().empty());
  EXPECT_FALSE(plan.value().creates);
  EXPECT_THAT(plan.value().diff, HasSubstr("VirtualService prod/demoapp http[1] \"primary\""));
  EXPECT_THAT(plan.value().diff, HasSubstr("- flaskapp.prod.svc.cluster.local weight 100\n"
                                           "+ flaskapp.prod.svc.cluster.local weight 70\n"));
  EXPECT_THAT(plan.value().diff, HasSubstr("- flaskapp.stage.svc.cluster.local weight 0\n"
                                           "+ flaskapp.stage.svc.cluster.local weight 30\n"));
  EXPECT_THAT(plan.value().diff, HasSubstr("+ annotation canaryctl.io/state"));
  EXPECT_THAT(plan.value().diff, Not(HasSubstr("canaryctl.io/lock")));
  ASSERT_TRUE(router.SetWeights(u).ok());
  ASSERT_EQ(api_.Writes().size(), 1u);
  EXPECT_EQ(api_.Writes()[0].body, plan.value().patch) << "plan shows what is sent";

  u.expected_resource_version = api_.RvString();
  auto nothing = router.PlanWeights(u);
  ASSERT_TRUE(nothing.ok());
  EXPECT_EQ(nothing.value().patch, "");
  EXPECT_THAT(nothing.value().diff, HasSubstr("no change"));
}

TEST_F(RouterTest, PlanOnAnAbsentObjectShowsTheCreation) {
  RouterConfig c = Hybrid();
  c.virtual_service.create = true;
  IstioRouter router(api_, c);
  auto plan = router.PlanWeights({100, 0, "{}", "", "", false});
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_TRUE(plan.value().creates);
  EXPECT_THAT(plan.value().diff, HasSubstr("+ VirtualService prod/demoapp (created"));
  EXPECT_TRUE(api_.Writes().empty());
}

}  // namespace
}  // namespace canaryctl::traffic

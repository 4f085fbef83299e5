// IstioRouter against the sandbox (the Istio CRD and VirtualService from examples/istio), with
// the real kubectl reading back what it wrote.
#include <memory>
#include <utility>

#include "poco_client.h"
#include "sandbox/json_util.h"
#include "sandbox_fixture.h"
#include "traffic/istio_router.h"

namespace canaryctl::integration {
namespace {

using Poco::Dynamic::Var;
using traffic::IstioRouter;
using traffic::RouterConfig;
using traffic::WeightUpdate;
using traffic::WriteOutcome;
namespace json = sandbox::json;

constexpr char kState[] = R"({"app":"demoapp","phase":"shift","step":1,"weights":[70,30]})";
constexpr char kFiftyFifty[] = R"([
  {"op":"replace","path":"/spec/http/1/route/0/weight","value":50},
  {"op":"replace","path":"/spec/http/1/route/1/weight","value":50}])";
constexpr char kLock[] = R"({"pipeline":"1234","job":"https://gitlab.example.com/j/1"})";

// Everything canaryctl must leave alone, added to the example before the router runs: a match
// route before the managed one, retries and a timeout on it, a fault route after, a label and
// an annotation.
constexpr char kExtras[] = R"([
  {"op":"add","path":"/spec/http/0/retries","value":{"attempts":3,"perTryTimeout":"2s"}},
  {"op":"add","path":"/spec/http/0/timeout","value":"10s"},
  {"op":"add","path":"/spec/http/0","value":{"name":"admin","match":[{"uri":{"prefix":"/admin"}}],
    "route":[{"destination":{"host":"admin.prod.svc.cluster.local"}}]}},
  {"op":"add","path":"/spec/http/-","value":{"name":"faulty",
    "match":[{"headers":{"x-fault":{"exact":"1"}}}],
    "fault":{"abort":{"percentage":{"value":0.5},"httpStatus":503}},
    "route":[{"destination":{"host":"flaskapp.prod.svc.cluster.local"}}]}}])";

RouterConfig Hybrid() {
  RouterConfig c;
  c.virtual_service = {"prod", "demoapp", "networking.istio.io/v1", false, {"app-gateway"}, {"*"}};
  c.stable = {"flaskapp", "prod", std::nullopt, ""};
  c.candidate = {"flaskapp", "stage", std::nullopt, ""};
  c.test_route = traffic::TestRouteSpec{"x-canary", "always"};
  return c;
}

// The object without what the server changes on every write.
Var Comparable(const Var& vs) {
  Var copy = json::DeepCopy(vs);
  json::ObjectPtr meta = json::GetObject(json::AsObject(copy), "metadata");
  if (meta) {
    for (const char* k : {"resourceVersion", "generation", "managedFields"}) meta->remove(k);
  }
  return copy;
}

class RouterSandboxTest : public SandboxTest {
 protected:
  void SetUp() override {
    SandboxTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(
        Succeeded(Kubectl({"apply", "-f", SourcePath("examples/istio/crds/virtualservice.yaml")})));
    ASSERT_TRUE(Succeeded(Kubectl({"wait", "--for=condition=Established", "--timeout=20s",
                                   "crd/virtualservices.networking.istio.io"})));
    ASSERT_TRUE(Succeeded(Kubectl({"create", "namespace", "prod"})));
    client_ = std::make_unique<traffic::testing::PocoClient>(sandbox_.host(), sandbox_.port());
  }

  void CreateExample() {
    ASSERT_TRUE(
        Succeeded(Kubectl({"create", "-f", SourcePath("examples/istio/virtualservice.yaml")})));
    ASSERT_TRUE(Succeeded(Kubectl(
        {"patch", "virtualservice", "demoapp", "-n", "prod", "--type", "json", "-p", kExtras})));
    ASSERT_TRUE(Succeeded(
        Kubectl({"annotate", "virtualservice", "demoapp", "-n", "prod", "owner=platform"})));
    ASSERT_TRUE(
        Succeeded(Kubectl({"label", "virtualservice", "demoapp", "-n", "prod", "team=web"})));
  }

  Var Vs() { return Get({"get", "virtualservice", "demoapp", "-n", "prod"}); }

  std::unique_ptr<traffic::testing::PocoClient> client_;
};

TEST_P(RouterSandboxTest, WeightsAndStateChangeTogetherAndNothingElse) {
  ASSERT_NO_FATAL_FAILURE(CreateExample());
  Var before = Vs();
  IstioRouter router(*client_, Hybrid());
  auto read = router.Weights();
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read.value().stable, 100);
  EXPECT_EQ(read.value().candidate, 0);
  EXPECT_EQ(read.value().resource_version, Str(before, "/metadata/resourceVersion"));

  auto written =
      router.SetWeights(WeightUpdate{70, 30, kState, kLock, read.value().resource_version, false});
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_EQ(written.value().outcome, WriteOutcome::kWritten);

  Var after = Vs();
  EXPECT_EQ(written.value().resource_version, Str(after, "/metadata/resourceVersion"));
  EXPECT_EQ(Int(after, "/spec/http/1/route/0/weight"), 70);
  EXPECT_EQ(Int(after, "/spec/http/1/route/1/weight"), 30);
  EXPECT_EQ(Str(after, "/metadata/annotations/canaryctl.io~1state"), kState);
  EXPECT_EQ(Str(after, "/metadata/annotations/canaryctl.io~1lock"), kLock);

  Var expected = json::DeepCopy(before);
  json::ObjectPtr root = json::AsObject(expected);
  auto route = json::GetArray(root, "spec.http")->getObject(1)->getArray("route");
  route->getObject(0)->set("weight", 70);
  route->getObject(1)->set("weight", 30);
  auto annotations = json::GetObject(root, "metadata.annotations");
  annotations->set("canaryctl.io/state", std::string(kState));
  annotations->set("canaryctl.io/lock", std::string(kLock));
  EXPECT_TRUE(json::Equal(Comparable(after), Comparable(expected)))
      << "before: " << ToJson(before) << "\nafter: " << ToJson(after);

  auto reread = router.Weights();
  ASSERT_TRUE(reread.ok());
  EXPECT_EQ(reread.value().stable, 70);
  EXPECT_EQ(reread.value().candidate, 30);
}

TEST_P(RouterSandboxTest, StaleResourceVersionIsAConflictAndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(CreateExample());
  IstioRouter router(*client_, Hybrid());
  auto read = router.Weights();
  ASSERT_TRUE(read.ok()) << read.error().message;
  ASSERT_TRUE(
      Succeeded(Kubectl({"annotate", "virtualservice", "demoapp", "-n", "prod", "someone=else"})));
  Var before = Vs();

  auto w = router.SetWeights(WeightUpdate{70, 30, kState, kLock, read.value().resource_version});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w.value().outcome, WriteOutcome::kConflict);
  Var after = Vs();
  EXPECT_EQ(Str(after, "/metadata/resourceVersion"), Str(before, "/metadata/resourceVersion"));
  EXPECT_TRUE(json::Equal(after, before)) << ToJson(after);
}

TEST_P(RouterSandboxTest, WriteBetweenReadAndPatchGetsTheServersConflict) {
  ASSERT_NO_FATAL_FAILURE(CreateExample());
  IstioRouter router(*client_, Hybrid());
  auto read = router.Weights();
  ASSERT_TRUE(read.ok()) << read.error().message;
  // The other writer acts after the router's own read: only the server's precondition can
  // catch it.
  bool done = false;
  client_->before_patch = [this, &done] {
    if (std::exchange(done, true)) return;
    ASSERT_TRUE(Succeeded(Kubectl({"patch", "virtualservice", "demoapp", "-n", "prod", "--type",
                                   "json", "-p", kFiftyFifty})));
  };
  auto w = router.SetWeights(WeightUpdate{70, 30, kState, kLock, read.value().resource_version});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w.value().outcome, WriteOutcome::kConflict);
  Var after = Vs();
  EXPECT_EQ(Int(after, "/spec/http/1/route/0/weight"), 50);
  EXPECT_EQ(Int(after, "/spec/http/1/route/1/weight"), 50);
  EXPECT_FALSE(Str(after, "/metadata/annotations/canaryctl.io~1state"));
}

TEST_P(RouterSandboxTest, CreatesTheVirtualServiceAndTogglesTheTestRoute) {
  RouterConfig c = Hybrid();
  c.virtual_service.create = true;
  IstioRouter router(*client_, c);
  auto r = router.Reconcile();
  ASSERT_TRUE(r.ok()) << r.error().message;
  Var created = Vs();
  EXPECT_EQ(Str(created, "/spec/gateways/0"), "app-gateway");
  EXPECT_EQ(Str(created, "/spec/hosts/0"), "*");
  EXPECT_EQ(Str(created, "/spec/http/0/route/0/destination/host"),
            "flaskapp.prod.svc.cluster.local");
  EXPECT_EQ(Int(created, "/spec/http/0/route/0/weight"), 100);
  EXPECT_EQ(Int(created, "/spec/http/0/route/1/weight"), 0);

  auto add = router.SetTestRoute(true);
  ASSERT_TRUE(add.ok()) << add.error().message;
  EXPECT_EQ(add.value().outcome, WriteOutcome::kWritten);
  Var with = Vs();
  EXPECT_EQ(Str(with, "/spec/http/0/name"), "canaryctl-test-route");
  EXPECT_EQ(Str(with, "/spec/http/0/match/0/headers/x-canary/exact"), "always");
  EXPECT_EQ(Str(with, "/spec/http/0/route/0/destination/host"), "flaskapp.stage.svc.cluster.local");
  EXPECT_EQ(Int(with, "/spec/http/1/route/0/weight"), 100);

  auto remove = router.SetTestRoute(false);
  ASSERT_TRUE(remove.ok()) << remove.error().message;
  EXPECT_EQ(remove.value().outcome, WriteOutcome::kWritten);
  EXPECT_TRUE(json::Equal(Comparable(Vs()), Comparable(created))) << ToJson(Vs());
}

INSTANTIATE_TEST_SUITE_P(Tools, RouterSandboxTest, testing::ValuesIn(ToolSets()), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration

// The article's flow with the real helm (3.18 and 4.1) and kubectl: examples/demoapp released
// twice (v1 in prod, v2 in stage), the VirtualService 100/0 then 70/30, an upgrade of stage, a
// rollback, helm test, and uninstall; the objects are checked after every step.
#include <algorithm>
#include <map>
#include <regex>

#include "sandbox_fixture.h"

namespace canaryctl::integration {
namespace {

using Poco::Dynamic::Var;
using Strings = std::vector<std::string>;

constexpr const char* kImage = "registry.example.com/canaryctl/flaskapp";

class HelmFlowTest : public SandboxTest {
 protected:
  CommandResult Upgrade(const std::string& ns, const std::string& tag,
                        const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = DemoAppUpgradeArgs(ns, tag);
    args.insert(args.end(), extra.begin(), extra.end());
    return Helm(args);
  }

  // The release Secrets of demoapp in ns: name -> status label.
  std::map<std::string, std::string> ReleaseSecrets(const std::string& ns) {
    Var list = Get({"get", "secrets", "-n", ns, "-l", "owner=helm,name=demoapp"});
    std::map<std::string, std::string> out;
    for (size_t i = 0; i < Len(list, "/items").value_or(0); ++i) {
      Var s = At(list, "/items/" + std::to_string(i));
      EXPECT_EQ(Str(s, "/type"), "helm.sh/release.v1") << ToJson(s);
      EXPECT_FALSE(Str(s, "/data/release").value_or("").empty());
      out[Str(s, "/metadata/name").value_or("")] = Str(s, "/metadata/labels/status").value_or("");
    }
    return out;
  }

  // Checks the Deployment and Service of one release, and that the Deployment is ready.
  void ExpectApp(const std::string& ns, const std::string& tag, int64_t replicas) {
    SCOPED_TRACE(ns + " " + tag);
    Var d = Get({"get", "deployment", "flaskapp", "-n", ns});
    EXPECT_EQ(Str(d, "/spec/template/spec/containers/0/image"), std::string(kImage) + ":" + tag);
    EXPECT_EQ(Str(d, "/metadata/labels/version"), tag);
    EXPECT_EQ(Str(d, "/metadata/labels/app"), "flaskapp");
    EXPECT_EQ(Str(d, "/metadata/labels/app.kubernetes.io~1managed-by"), "Helm");
    EXPECT_EQ(Str(d, "/metadata/annotations/meta.helm.sh~1release-name"), "demoapp");
    EXPECT_EQ(Str(d, "/metadata/annotations/meta.helm.sh~1release-namespace"), ns);
    EXPECT_EQ(Str(d, "/spec/template/metadata/labels/version"), tag);
    EXPECT_EQ(Str(d, "/spec/template/metadata/labels/app"), "flaskapp");
    EXPECT_EQ(Int(d, "/spec/template/spec/containers/0/ports/0/containerPort"), 5000);
    EXPECT_EQ(Int(d, "/spec/replicas"), replicas);
    // helm --wait returned, so the rollout is complete.
    EXPECT_EQ(Int(d, "/status/observedGeneration"), Int(d, "/metadata/generation")) << ToJson(d);
    EXPECT_EQ(Int(d, "/status/updatedReplicas"), replicas);
    EXPECT_EQ(Int(d, "/status/readyReplicas"), replicas);
    EXPECT_EQ(Int(d, "/status/availableReplicas"), replicas);

    // Pods of this version only, once the old ReplicaSet has scaled down.
    EXPECT_TRUE(WaitFor(
        [&] {
          Var pods = Get({"get", "pods", "-n", ns, "-l", "app=flaskapp"});
          size_t n = Len(pods, "/items").value_or(0), matching = 0;
          for (size_t i = 0; i < n; ++i) {
            Var p = At(pods, "/items/" + std::to_string(i));
            if (Str(p, "/metadata/labels/version") == tag && Str(p, "/status/phase") == "Running") {
              ++matching;
            }
          }
          return matching == static_cast<size_t>(replicas) && n == matching;
        },
        15s))
        << ToJson(Get({"get", "pods", "-n", ns, "-l", "app=flaskapp"}));

    Var s = Get({"get", "service", "flaskapp", "-n", ns});
    EXPECT_TRUE(std::regex_match(Str(s, "/spec/clusterIP").value_or(""),
                                 std::regex(R"(\d+\.\d+\.\d+\.\d+)")))
        << ToJson(s);
    EXPECT_EQ(Int(s, "/spec/ports/0/port"), 80);
    EXPECT_EQ(Str(s, "/spec/ports/0/targetPort"), "http");
    EXPECT_EQ(Str(s, "/spec/selector/app"), "flaskapp");
  }

  Var Status(const std::string& ns) { return HelmJson(*clients_, {"status", "demoapp", "-n", ns}); }

  Var Vs() { return Get({"get", "virtualservice", "demoapp", "-n", "prod"}); }
};

TEST_P(HelmFlowTest, ArticleFlow) {
  // 1. v1 into prod.
  ASSERT_TRUE(Succeeded(Upgrade("prod", "v1")));
  ExpectApp("prod", "v1", 2);
  EXPECT_EQ(Str(Get({"get", "namespace", "prod"}), "/status/phase"), "Active");
  EXPECT_EQ(ReleaseSecrets("prod"),
            (std::map<std::string, std::string>{{"sh.helm.release.v1.demoapp.v1", "deployed"}}));
  const std::string prod_ip =
      Str(Get({"get", "service", "flaskapp", "-n", "prod"}), "/spec/clusterIP").value_or("");

  // 2. v2 into stage, with a values file as well.
  const std::string values = Write("stage-values.yaml", R"(deployment:
  replicas: 3
podAnnotations:
  canaryctl.io/track: candidate
)");
  ASSERT_TRUE(Succeeded(Upgrade("stage", "v2", {"-f", values})));
  ExpectApp("stage", "v2", 3);
  EXPECT_EQ(Str(Get({"get", "deployment", "flaskapp", "-n", "stage"}),
                "/spec/template/metadata/annotations/canaryctl.io~1track"),
            "candidate");
  const std::string stage_ip =
      Str(Get({"get", "service", "flaskapp", "-n", "stage"}), "/spec/clusterIP").value_or("");
  EXPECT_NE(stage_ip, prod_ip);

  // 3. status, list, history, get values.
  Var status = Status("stage");
  EXPECT_EQ(Str(status, "/name"), "demoapp");
  EXPECT_EQ(Str(status, "/namespace"), "stage");
  EXPECT_EQ(Int(status, "/version"), 1);
  EXPECT_EQ(Str(status, "/info/status"), "deployed") << ToJson(status);

  Var list = HelmJson(*clients_, {"list", "-A"});
  ASSERT_EQ(Len(list, ""), 2u) << ToJson(list);
  std::map<std::string, Var> by_ns;
  for (size_t i = 0; i < 2; ++i) {
    Var r = At(list, "/" + std::to_string(i));
    by_ns[Str(r, "/namespace").value_or("")] = r;
  }
  for (const std::string ns : {"prod", "stage"}) {
    ASSERT_TRUE(by_ns.count(ns)) << ToJson(list);
    EXPECT_EQ(Str(by_ns[ns], "/name"), "demoapp");
    EXPECT_EQ(Str(by_ns[ns], "/status"), "deployed");
    EXPECT_EQ(Str(by_ns[ns], "/chart"), "demoapp-0.1.0");
    EXPECT_EQ(Str(by_ns[ns], "/revision"), "1");
  }

  Var history = HelmJson(*clients_, {"history", "demoapp", "-n", "prod"});
  ASSERT_EQ(Len(history, ""), 1u) << ToJson(history);
  EXPECT_EQ(Int(history, "/0/revision"), 1);
  EXPECT_EQ(Str(history, "/0/status"), "deployed");

  Var prod_values = HelmJson(*clients_, {"get", "values", "demoapp", "-n", "prod"});
  EXPECT_EQ(ToJson(prod_values), R"({"deployment":{"tag":"v1"}})");
  Var stage_values = HelmJson(*clients_, {"get", "values", "demoapp", "-n", "stage"});
  EXPECT_EQ(Str(stage_values, "/deployment/tag"), "v2");
  EXPECT_EQ(Int(stage_values, "/deployment/replicas"), 3);
  EXPECT_EQ(Str(stage_values, "/podAnnotations/canaryctl.io~1track"), "candidate");

  // 4. helm test runs its hook pod to success.
  CommandResult tested = Helm({"test", "demoapp", "-n", "prod", "--timeout", "60s"});
  EXPECT_TRUE(Succeeded(tested));
  Var test_pod = Get({"get", "pod", "flaskapp-test-connection", "-n", "prod"});
  EXPECT_EQ(Str(test_pod, "/status/phase"), "Succeeded") << ToJson(test_pod);

  // 5. The VirtualService 100/0, then 70/30.
  ASSERT_TRUE(Succeeded(Kubectl({"apply", "-f", SourcePath("examples/istio/crds/")})));
  ASSERT_TRUE(Succeeded(
      Kubectl({"wait", "--for=condition=Established", "--timeout=20s",
               "crd/virtualservices.networking.istio.io", "crd/gateways.networking.istio.io"})));
  ASSERT_TRUE(Succeeded(Kubectl({"apply", "-f", SourcePath("examples/istio/gateway.yaml")})));
  ASSERT_TRUE(
      Succeeded(Kubectl({"create", "-f", SourcePath("examples/istio/virtualservice.yaml")})));
  Var gw = Get({"get", "gateway", "app-gateway", "-n", "prod"});
  EXPECT_EQ(Str(gw, "/spec/selector/istio"), "ingressgateway");
  EXPECT_EQ(Int(gw, "/spec/servers/0/port/number"), 80);
  Var vs = Vs();
  EXPECT_EQ(Int(vs, "/spec/http/0/route/0/weight"), 100);
  EXPECT_EQ(Int(vs, "/spec/http/0/route/1/weight"), 0);

  ASSERT_TRUE(Succeeded(
      Kubectl({"patch", "virtualservice", "demoapp", "-n", "prod", "--type", "merge", "-p",
               R"({"spec":{"http":[{"route":[
           {"destination":{"host":"flaskapp.prod.svc.cluster.local"},"weight":70},
           {"destination":{"host":"flaskapp.stage.svc.cluster.local"},"weight":30}]}]}})"})));
  vs = Vs();
  EXPECT_EQ(Str(vs, "/spec/http/0/route/0/destination/host"), "flaskapp.prod.svc.cluster.local");
  EXPECT_EQ(Int(vs, "/spec/http/0/route/0/weight"), 70);
  EXPECT_EQ(Str(vs, "/spec/http/0/route/1/destination/host"), "flaskapp.stage.svc.cluster.local");
  EXPECT_EQ(Int(vs, "/spec/http/0/route/1/weight"), 30);

  // 6. Upgrade stage to v3.
  const int64_t gen_v2 =
      Int(Get({"get", "deployment", "flaskapp", "-n", "stage"}), "/metadata/generation")
          .value_or(0);
  ASSERT_TRUE(Succeeded(Upgrade("stage", "v3", {"-f", values})));
  ExpectApp("stage", "v3", 3);
  EXPECT_GT(Int(Get({"get", "deployment", "flaskapp", "-n", "stage"}), "/metadata/generation")
                .value_or(0),
            gen_v2);
  EXPECT_EQ(Str(Get({"get", "service", "flaskapp", "-n", "stage"}), "/spec/clusterIP"), stage_ip);
  EXPECT_EQ(ReleaseSecrets("stage"),
            (std::map<std::string, std::string>{{"sh.helm.release.v1.demoapp.v1", "superseded"},
                                                {"sh.helm.release.v1.demoapp.v2", "deployed"}}));
  EXPECT_EQ(Int(Status("stage"), "/version"), 2);
  ExpectApp("prod", "v1", 2);  // the other release is untouched

  // 7. Roll stage back to revision 1.
  ASSERT_TRUE(
      Succeeded(Helm({"rollback", "demoapp", "1", "-n", "stage", "--wait", "--timeout", "60s"})));
  ExpectApp("stage", "v2", 3);
  EXPECT_EQ(Str(Get({"get", "service", "flaskapp", "-n", "stage"}), "/spec/clusterIP"), stage_ip);
  Var rolled = Status("stage");
  EXPECT_EQ(Int(rolled, "/version"), 3);
  EXPECT_EQ(Str(rolled, "/info/status"), "deployed");
  Var stage_history = HelmJson(*clients_, {"history", "demoapp", "-n", "stage"});
  ASSERT_EQ(Len(stage_history, ""), 3u) << ToJson(stage_history);
  EXPECT_EQ(Str(stage_history, "/0/status"), "superseded");
  EXPECT_EQ(Str(stage_history, "/1/status"), "superseded");
  EXPECT_EQ(Str(stage_history, "/2/status"), "deployed");
  EXPECT_EQ(Int(stage_history, "/2/revision"), 3);
  EXPECT_EQ(Str(stage_history, "/2/description"), "Rollback to 1");
  EXPECT_EQ(ReleaseSecrets("stage").size(), 3u);
  EXPECT_EQ(
      Str(HelmJson(*clients_, {"get", "values", "demoapp", "-n", "stage"}), "/deployment/tag"),
      "v2");

  // helm never touched the VirtualService.
  EXPECT_EQ(Int(Vs(), "/spec/http/0/route/1/weight"), 30);

  // 8. Uninstall stage: its objects and release Secrets go, prod stays.
  ASSERT_TRUE(
      Succeeded(Helm({"uninstall", "demoapp", "-n", "stage", "--wait", "--timeout", "60s"})));
  EXPECT_TRUE(FailedWith(Kubectl({"get", "deployment", "flaskapp", "-n", "stage"}), "NotFound"));
  EXPECT_TRUE(FailedWith(Kubectl({"get", "service", "flaskapp", "-n", "stage"}), "NotFound"));
  EXPECT_TRUE(ReleaseSecrets("stage").empty());
  EXPECT_TRUE(WaitFor(
      [&] {
        return Len(Get({"get", "pods", "-n", "stage", "-l", "app=flaskapp"}), "/items") == 0u;
      },
      15s));
  Var after = HelmJson(*clients_, {"list", "-A"});
  ASSERT_EQ(Len(after, ""), 1u) << ToJson(after);
  EXPECT_EQ(Str(after, "/0/namespace"), "prod");
  ExpectApp("prod", "v1", 2);
  EXPECT_TRUE(FailedWith(Helm({"status", "demoapp", "-n", "stage"}), "not found"));

  ASSERT_TRUE(
      Succeeded(Helm({"uninstall", "demoapp", "-n", "prod", "--wait", "--timeout", "60s"})));
  EXPECT_EQ(Len(HelmJson(*clients_, {"list", "-A"}), ""), 0u);
  EXPECT_TRUE(FailedWith(Kubectl({"get", "deployment", "flaskapp", "-n", "prod"}), "NotFound"));
  EXPECT_EQ(Int(Vs(), "/spec/http/0/route/0/weight"), 70);  // not the chart's to remove
}

TEST_P(HelmFlowTest, InstallUpgradeWithoutChangesAndReinstall) {
  // Plain `helm install`, then the same values again through upgrade: a new revision, the same
  // objects (uids kept), nothing restarted.
  ASSERT_TRUE(Succeeded(
      Helm({"install", "demoapp", SourcePath("examples/demoapp"), "-n", "prod",
            "--create-namespace", "--set", "deployment.tag=v1", "--wait", "--timeout", "60s"})));
  Var d1 = Get({"get", "deployment", "flaskapp", "-n", "prod"});
  CommandResult again = Helm({"install", "demoapp", SourcePath("examples/demoapp"), "-n", "prod",
                              "--set", "deployment.tag=v1"});
  EXPECT_FALSE(again.ok()) << again.Describe();  // the name is in use
  ASSERT_TRUE(Succeeded(Upgrade("prod", "v1")));
  Var d2 = Get({"get", "deployment", "flaskapp", "-n", "prod"});
  EXPECT_EQ(Str(d2, "/metadata/uid"), Str(d1, "/metadata/uid"));
  EXPECT_EQ(Int(d2, "/metadata/generation"), Int(d1, "/metadata/generation"));
  EXPECT_EQ(Int(Status("prod"), "/version"), 2);
  ExpectApp("prod", "v1", 2);

  // Uninstall, then install under the same name again: revision 1, new objects.
  ASSERT_TRUE(
      Succeeded(Helm({"uninstall", "demoapp", "-n", "prod", "--wait", "--timeout", "60s"})));
  ASSERT_TRUE(Succeeded(Upgrade("prod", "v2")));
  Var d3 = Get({"get", "deployment", "flaskapp", "-n", "prod"});
  EXPECT_NE(Str(d3, "/metadata/uid"), Str(d1, "/metadata/uid"));
  EXPECT_EQ(Int(Status("prod"), "/version"), 1);
  ExpectApp("prod", "v2", 2);
}

INSTANTIATE_TEST_SUITE_P(Tools, HelmFlowTest, testing::ValuesIn(ToolSets()), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration

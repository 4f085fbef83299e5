// Durability: the sandbox is killed with SIGKILL in the middle of a burst of kubectl writes and
// restarted on the same data folder; every acknowledged write must be there, resourceVersions
// keep growing, and helm still sees (and can upgrade) its release.
#include <atomic>
#include <map>
#include <thread>

#include "sandbox_fixture.h"

namespace canaryctl::integration {
namespace {

using Poco::Dynamic::Var;

int64_t Rv(const Var& obj) { return ToInt(Str(obj, "/metadata/resourceVersion").value_or("")); }

class DurabilityTest : public SandboxTest {
 protected:
  void InstallReleaseAndRoute() {
    ASSERT_TRUE(Succeeded(
        Helm({"upgrade", "--install", "demoapp", SourcePath("examples/demoapp"), "-n", "prod",
              "--create-namespace", "--wait", "--timeout", "60s", "--set", "deployment.tag=v1"})));
    ASSERT_TRUE(Succeeded(Kubectl({"apply", "-f", SourcePath("examples/istio/crds/")})));
    ASSERT_TRUE(Succeeded(Kubectl({"wait", "--for=condition=Established", "--timeout=20s",
                                   "crd/virtualservices.networking.istio.io"})));
    ASSERT_TRUE(
        Succeeded(Kubectl({"apply", "-f", SourcePath("examples/istio/virtualservice.yaml")})));
    ASSERT_TRUE(
        Succeeded(Kubectl({"patch", "vs", "demoapp", "-n", "prod", "--type", "json", "-p",
                           R"([{"op":"replace","path":"/spec/http/0/route/0/weight","value":70},
             {"op":"replace","path":"/spec/http/0/route/1/weight","value":30}])"})));
  }

  // What helm and kubectl must still see after a restart.
  void ExpectReleaseAndRoute(const Var& deploy_before, const Var& svc_before) {
    Var list = HelmJson(*clients_, {"list", "-A"});
    ASSERT_EQ(Len(list, ""), 1u) << ToJson(list);
    EXPECT_EQ(Str(list, "/0/name"), "demoapp");
    EXPECT_EQ(Str(list, "/0/status"), "deployed");
    Var status = HelmJson(*clients_, {"status", "demoapp", "-n", "prod"});
    EXPECT_EQ(Str(status, "/info/status"), "deployed");
    EXPECT_EQ(Int(status, "/version"), 1);

    Var deploy = Get({"get", "deployment", "flaskapp", "-n", "prod"});
    EXPECT_EQ(Str(deploy, "/metadata/uid"), Str(deploy_before, "/metadata/uid"));
    EXPECT_EQ(Str(deploy, "/spec/template/spec/containers/0/image"),
              Str(deploy_before, "/spec/template/spec/containers/0/image"));
    Var svc = Get({"get", "service", "flaskapp", "-n", "prod"});
    EXPECT_EQ(Str(svc, "/spec/clusterIP"), Str(svc_before, "/spec/clusterIP"));

    // The CRD is served again, with its objects.
    Var vs = Get({"get", "vs", "demoapp", "-n", "prod"});
    EXPECT_EQ(Int(vs, "/spec/http/0/route/0/weight"), 70);
    EXPECT_EQ(Int(vs, "/spec/http/0/route/1/weight"), 30);
  }
};

TEST_P(DurabilityTest, KillNineMidBurstKeepsEveryAcknowledgedWrite) {
  InstallReleaseAndRoute();
  ASSERT_TRUE(Succeeded(Kubectl({"create", "namespace", "burst"})));
  ASSERT_TRUE(
      Succeeded(Kubectl({"create", "configmap", "counter", "-n", "burst", "--from-literal=n=0"})));
  Var deploy_before = Get({"get", "deployment", "flaskapp", "-n", "prod"});
  Var svc_before = Get({"get", "service", "flaskapp", "-n", "prod"});

  // Two writers: one creating ConfigMaps, one updating a counter. Each records what the server
  // acknowledged; the kill lands while both are mid-request.
  std::mutex mu;
  std::map<std::string, Var> created;  // name -> the object the server answered with
  int64_t counter_acked = 0;
  int64_t counter_tried = 0;
  std::atomic<bool> stop{false};
  std::thread creator([&] {
    for (int i = 0; !stop && i < 500; ++i) {
      const std::string name = "burst-" + std::to_string(i);
      CommandResult r = clients_->Kubectl({"create", "configmap", name, "-n", "burst",
                                           "--from-literal=i=" + std::to_string(i), "-o", "json"});
      if (r.ok()) {
        std::lock_guard lock(mu);
        created[name] = ParseJson(r.out);
      }
    }
  });
  std::thread updater([&] {
    for (int64_t n = 1; !stop && n < 500; ++n) {
      {
        std::lock_guard lock(mu);
        counter_tried = n;
      }
      CommandResult r =
          clients_->Kubectl({"patch", "configmap", "counter", "-n", "burst", "--type", "merge",
                             "-p", R"({"data":{"n":")" + std::to_string(n) + R"("}})"});
      if (r.ok()) {
        std::lock_guard lock(mu);
        counter_acked = n;
      }
    }
  });
  const bool enough = WaitFor(
      [&] {
        std::lock_guard lock(mu);
        return created.size() >= 12 && counter_acked >= 12;
      },
      60s);
  sandbox_.Kill9();
  stop = true;
  creator.join();
  updater.join();
  ASSERT_TRUE(enough) << "the burst did not get going";

  int64_t max_rv = 0;
  for (const auto& [name, obj] : created) max_rv = std::max(max_rv, Rv(obj));

  ASSERT_TRUE(sandbox_.Start());

  // Every acknowledged ConfigMap, exactly as acknowledged.
  Var list = Get({"get", "configmaps", "-n", "burst"});
  for (const auto& [name, acked] : created) {
    SCOPED_TRACE(name);
    Var now = Item(list, name);
    ASSERT_FALSE(now.isEmpty()) << "acknowledged but lost";
    EXPECT_EQ(Str(now, "/metadata/uid"), Str(acked, "/metadata/uid"));
    EXPECT_EQ(Str(now, "/metadata/resourceVersion"), Str(acked, "/metadata/resourceVersion"));
    EXPECT_EQ(Str(now, "/data/i"), Str(acked, "/data/i"));
  }
  // The counter holds the last acknowledged value, or the one in flight at the kill.
  Var counter = Item(list, "counter");
  const int64_t n = ToInt(Str(counter, "/data/n").value_or("-1"));
  EXPECT_GE(n, counter_acked) << ToJson(counter);
  EXPECT_LE(n, counter_tried) << ToJson(counter);
  max_rv = std::max(max_rv, Rv(counter));

  // resourceVersion keeps growing across the crash.
  CommandResult after = Kubectl(
      {"create", "configmap", "after-restart", "-n", "burst", "--from-literal=a=b", "-o", "json"});
  ASSERT_TRUE(Succeeded(after));
  EXPECT_GT(Rv(ParseJson(after.out)), max_rv);

  ExpectReleaseAndRoute(deploy_before, svc_before);

  // helm carries on from the stored release: the upgrade is revision 2.
  ASSERT_TRUE(
      Succeeded(Helm({"upgrade", "--install", "demoapp", SourcePath("examples/demoapp"), "-n",
                      "prod", "--wait", "--timeout", "60s", "--set", "deployment.tag=v2"})));
  Var status = HelmJson(*clients_, {"status", "demoapp", "-n", "prod"});
  EXPECT_EQ(Int(status, "/version"), 2);
  EXPECT_EQ(Str(Get({"get", "deployment", "flaskapp", "-n", "prod"}),
                "/spec/template/spec/containers/0/image"),
            "registry.example.com/canaryctl/flaskapp:v2");
}

TEST_P(DurabilityTest, GracefulRestartAndSecondCrashKeepEverything) {
  InstallReleaseAndRoute();
  Var deploy_before = Get({"get", "deployment", "flaskapp", "-n", "prod"});
  Var svc_before = Get({"get", "service", "flaskapp", "-n", "prod"});
  CommandResult cm =
      Kubectl({"create", "configmap", "kept", "-n", "prod", "--from-literal=a=1", "-o", "json"});
  ASSERT_TRUE(Succeeded(cm));
  const int64_t rv = Rv(ParseJson(cm.out));

  ASSERT_TRUE(sandbox_.Stop());
  ASSERT_TRUE(sandbox_.Start());
  ExpectReleaseAndRoute(deploy_before, svc_before);
  EXPECT_EQ(Str(Get({"get", "configmap", "kept", "-n", "prod"}), "/data/a"), "1");

  // A write after the restart, then a crash straight away: still there on the next start.
  CommandResult patched = Kubectl({"patch", "configmap", "kept", "-n", "prod", "--type", "merge",
                                   "-p", R"({"data":{"a":"2"}})", "-o", "json"});
  ASSERT_TRUE(Succeeded(patched));
  EXPECT_GT(Rv(ParseJson(patched.out)), rv);
  sandbox_.Kill9();
  ASSERT_TRUE(sandbox_.Start());
  Var kept = Get({"get", "configmap", "kept", "-n", "prod"});
  EXPECT_EQ(Str(kept, "/data/a"), "2");
  EXPECT_EQ(Rv(kept), Rv(ParseJson(patched.out)));
  ExpectReleaseAndRoute(deploy_before, svc_before);
}

INSTANTIATE_TEST_SUITE_P(Tools, DurabilityTest, testing::ValuesIn(ToolSets()), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration

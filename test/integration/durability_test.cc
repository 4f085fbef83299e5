// Durability: the sandbox is killed with SIGKILL in the middle of bursts of writes (kubectl and
// raw HTTP) and restarted on the same data folder, several times; every acknowledged write must
// be there (the counts written, acknowledged and found are printed), resourceVersions keep
// growing, and helm still sees (and can upgrade) its release.
#include <atomic>
#include <iostream>
#include <map>
#include <set>
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

// What one kill round wrote and found again.
struct Tally {
  int written = 0;        // requests sent
  int acknowledged = 0;   // answered with success
  int found = 0;          // acknowledged, and there after the restart exactly as acknowledged
  int unacked_found = 0;  // sent but not answered (in flight at the kill), there anyway: allowed
  Tally& operator+=(const Tally& o) {
    written += o.written;
    acknowledged += o.acknowledged;
    found += o.found;
    unacked_found += o.unacked_found;
    return *this;
  }
};

TEST_P(DurabilityTest, KillNineMidBurstKeepsEveryAcknowledgedWrite) {
  InstallReleaseAndRoute();
  ASSERT_TRUE(Succeeded(Kubectl({"create", "namespace", "burst"})));
  ASSERT_TRUE(
      Succeeded(Kubectl({"create", "configmap", "counter", "-n", "burst", "--from-literal=n=0"})));
  Var deploy_before = Get({"get", "deployment", "flaskapp", "-n", "prod"});
  Var svc_before = Get({"get", "service", "flaskapp", "-n", "prod"});

  // Several crashes, each in the middle of a burst of three writers: kubectl creating
  // ConfigMaps, kubectl updating one counter, and a fast raw-HTTP writer creating ConfigMaps
  // (hundreds of writes per burst, so that the kill lands in the middle of the write path).
  // Each records what the server acknowledged; after each restart every acknowledged write must
  // be there, exactly as acknowledged.
  constexpr int kRounds = 3;
  Tally total;
  int64_t counter_acked = 0;
  int64_t counter_tried = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("kill round " + std::to_string(round));
    const std::string prefix = "r" + std::to_string(round) + "-";
    std::mutex mu;
    std::map<std::string, Var> created;  // name -> the object the server answered with
    std::set<std::string> sent;          // every name a create was sent for
    Tally tally;
    const int64_t counter_acked_at_start = counter_acked;
    std::atomic<bool> stop{false};
    std::thread creator([&] {
      for (int i = 0; !stop && i < 500; ++i) {
        const std::string name = prefix + "kubectl-" + std::to_string(i);
        {
          std::lock_guard lock(mu);
          sent.insert(name);
          ++tally.written;
        }
        CommandResult r =
            clients_->Kubectl({"create", "configmap", name, "-n", "burst",
                               "--from-literal=i=" + std::to_string(i), "-o", "json"});
        if (r.ok()) {
          std::lock_guard lock(mu);
          created[name] = ParseJson(r.out);
        }
      }
    });
    std::thread fast([&] {
      for (int i = 0; !stop && i < 3000; ++i) {
        const std::string name = prefix + "http-" + std::to_string(i);
        {
          std::lock_guard lock(mu);
          sent.insert(name);
          ++tally.written;
        }
        HttpResult r =
            sandbox_.Http("POST", "/api/v1/namespaces/burst/configmaps",
                          R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
                              R"("},"data":{"i":")" + std::to_string(i) + R"("}})");
        if (r.status == 201) {
          std::lock_guard lock(mu);
          created[name] = ParseJson(r.body);
        }
        // A burst, but one that leaves the kubectl writers their turn on a busy machine.
        std::this_thread::sleep_for(2ms);
      }
    });
    std::thread updater([&] {
      while (!stop) {
        int64_t n;
        {
          std::lock_guard lock(mu);
          n = ++counter_tried;
          ++tally.written;
        }
        CommandResult r =
            clients_->Kubectl({"patch", "configmap", "counter", "-n", "burst", "--type", "merge",
                               "-p", R"({"data":{"n":")" + std::to_string(n) + R"("}})"});
        if (r.ok()) {
          std::lock_guard lock(mu);
          counter_acked = n;
          ++tally.acknowledged;
        }
      }
    });
    const auto burst_start = std::chrono::steady_clock::now();
    const bool enough = WaitFor(
        [&] {
          std::lock_guard lock(mu);
          size_t by_kubectl = 0;
          for (const auto& [name, obj] : created) by_kubectl += name.find("-kubectl-") != name.npos;
          return by_kubectl >= 5 && created.size() >= 100 &&
                 counter_acked >= counter_acked_at_start + 5;
        },
        60s);
    const auto burst_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - burst_start)
                              .count();
    sandbox_.Kill9();
    stop = true;
    creator.join();
    fast.join();
    updater.join();
    ASSERT_TRUE(enough) << "the burst did not get going";

    int64_t max_rv = 0;
    for (const auto& [name, obj] : created) max_rv = std::max(max_rv, Rv(obj));

    ASSERT_TRUE(sandbox_.Start());

    // Every acknowledged ConfigMap, exactly as acknowledged.
    Var list = Get({"get", "configmaps", "-n", "burst"});
    tally.acknowledged += static_cast<int>(created.size());
    for (const auto& [name, acked] : created) {
      SCOPED_TRACE(name);
      Var now = Item(list, name);
      EXPECT_FALSE(now.isEmpty()) << "acknowledged but lost";
      if (now.isEmpty()) continue;
      const bool same =
          Str(now, "/metadata/uid") == Str(acked, "/metadata/uid") &&
          Str(now, "/metadata/resourceVersion") == Str(acked, "/metadata/resourceVersion") &&
          Str(now, "/data/i") == Str(acked, "/data/i");
      EXPECT_TRUE(same) << "now " << ToJson(now) << "\nacknowledged " << ToJson(acked);
      tally.found += same;
    }
    for (const std::string& name : ItemNames(list)) {
      if (!name.starts_with(prefix)) continue;
      // Nothing appears that was never written.
      EXPECT_TRUE(sent.contains(name)) << name;
      tally.unacked_found += !created.contains(name);
    }
    // The counter holds the last acknowledged value, or the one in flight at the kill.
    Var counter = Item(list, "counter");
    const int64_t n = ToInt(Str(counter, "/data/n").value_or("-1"));
    EXPECT_GE(n, counter_acked) << ToJson(counter);
    EXPECT_LE(n, counter_tried) << ToJson(counter);
    if (n >= counter_acked) tally.found += tally.acknowledged - static_cast<int>(created.size());
    // Later writers start from what is stored.
    counter_acked = counter_tried = n;
    max_rv = std::max(max_rv, Rv(counter));

    // resourceVersion keeps growing across the crash.
    CommandResult after = Kubectl({"create", "configmap", prefix + "after-restart", "-n", "burst",
                                   "--from-literal=a=b", "-o", "json"});
    ASSERT_TRUE(Succeeded(after));
    EXPECT_GT(Rv(ParseJson(after.out)), max_rv);

    std::cout << "kill -9 round " << round + 1 << ": " << tally.written << " written, "
              << tally.acknowledged << " acknowledged, " << tally.found
              << " acknowledged found after the restart (" << tally.unacked_found
              << " in flight at the kill also found); burst " << burst_ms << " ms\n";
    total += tally;
  }
  EXPECT_EQ(total.found, total.acknowledged);
  std::cout << "durability: " << kRounds << " kill -9 rounds, " << total.written << " written, "
            << total.acknowledged << " acknowledged, " << total.found << " found, "
            << total.acknowledged - total.found << " lost\n";
  RecordProperty("kill_rounds", kRounds);
  RecordProperty("written", total.written);
  RecordProperty("acknowledged", total.acknowledged);
  RecordProperty("found", total.found);
  RecordProperty("in_flight_found", total.unacked_found);

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

// Any ordinary chart, not only ours: test/integration/data/allkinds carries the built-in kinds
// charts commonly carry, a pre-install hook and a post-install Job hook, installed and
// uninstalled with --wait by helm 3 and helm 4.
#include <algorithm>
#include <fstream>

#include <Poco/Base64Decoder.h>

#include "sandbox_fixture.h"

namespace canaryctl::integration {
namespace {

using Poco::Dynamic::Var;

std::string Base64Decode(const std::string& text) {
  std::istringstream in(text);
  Poco::Base64Decoder decoder(in);
  std::string out;
  char c;
  while (decoder.get(c)) out += c;
  return out;
}

// Every kind the chart creates as a release object, as kubectl names them.
const std::vector<std::string> kKinds = {"configmaps",
                                         "secrets",
                                         "serviceaccounts",
                                         "services",
                                         "deployments.apps",
                                         "statefulsets.apps",
                                         "daemonsets.apps",
                                         "ingresses.networking.k8s.io",
                                         "horizontalpodautoscalers.autoscaling",
                                         "poddisruptionbudgets.policy",
                                         "roles.rbac.authorization.k8s.io",
                                         "rolebindings.rbac.authorization.k8s.io"};

class ChartTest : public SandboxTest {
 protected:
  ChartTest() : SandboxTest(SandboxOptions{.request_log = true}) {}

  CommandResult Install(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {
        "upgrade", "--install", "allkinds",           DataPath("allkinds"),
        "-n",      "kinds",     "--create-namespace", "--wait"};
    args.insert(args.end(), extra.begin(), extra.end());
    if (std::find(extra.begin(), extra.end(), "--timeout") == extra.end()) {
      args.insert(args.end(), {"--timeout", "90s"});
    }
    return Helm(args);
  }

  Var K(const std::string& kind, const std::string& name) {
    return Get({"get", kind, name, "-n", "kinds"});
  }

  // Names of the release's objects of one kind (selected by the chart's instance label).
  std::vector<std::string> Owned(const std::string& kind) {
    std::vector<std::string> names =
        ItemNames(Get({"get", kind, "-n", "kinds", "-l", "app.kubernetes.io/instance=allkinds"}));
    std::sort(names.begin(), names.end());
    return names;
  }

  // The release's hooks as `helm status -o json` records them: name -> last run phase.
  std::map<std::string, std::string> HookRuns() {
    Var status = HelmJson(*clients_, {"status", "allkinds", "-n", "kinds"});
    std::map<std::string, std::string> runs;
    for (size_t i = 0; i < Len(status, "/hooks").value_or(0); ++i) {
      const std::string p = "/hooks/" + std::to_string(i);
      runs[Str(status, p + "/name").value_or("")] =
          Str(status, p + "/last_run/phase").value_or("<none>");
    }
    return runs;
  }

  // Request-log lines (JSON) with this method and path that succeeded.
  int Logged(const std::string& method, const std::string& path) {
    std::ifstream log(sandbox_.request_log_path());
    int n = 0;
    for (std::string line; std::getline(log, line);) {
      Var entry = ParseJson(line);
      const int64_t status = Int(entry, "/status").value_or(0);
      if (Str(entry, "/method") == method && Str(entry, "/path") == path && status >= 200 &&
          status < 300) {
        ++n;
      }
    }
    return n;
  }
};

TEST_P(ChartTest, InstallEveryKindWithHooksThenUninstall) {
  ASSERT_TRUE(Succeeded(Install()));

  Var cm = K("configmap", "allkinds-config");
  EXPECT_NE(Str(cm, "/data/app.properties").value_or("").find("release=allkinds"),
            std::string::npos);

  // stringData is folded into data, as the apiserver does.
  Var secret = K("secret", "allkinds-secret");
  EXPECT_EQ(Str(secret, "/type"), "Opaque");
  EXPECT_EQ(Base64Decode(Str(secret, "/data/username").value_or("")), "admin") << ToJson(secret);
  EXPECT_EQ(Base64Decode(Str(secret, "/data/password").value_or("")), "s3cret") << ToJson(secret);
  EXPECT_TRUE(At(secret, "/stringData").isEmpty()) << ToJson(secret);

  EXPECT_EQ(Str(K("serviceaccount", "allkinds-sa"), "/metadata/name"), "allkinds-sa");

  Var web_svc = K("service", "allkinds-web");
  EXPECT_FALSE(Str(web_svc, "/spec/clusterIP").value_or("None") == "None") << ToJson(web_svc);
  EXPECT_EQ(Str(K("service", "allkinds-db"), "/spec/clusterIP"), "None");

  Var deploy = K("deployment", "allkinds-web");
  EXPECT_EQ(Int(deploy, "/status/readyReplicas"), 2) << ToJson(deploy);
  EXPECT_EQ(Str(deploy, "/spec/template/spec/serviceAccountName"), "allkinds-sa");

  Var sts = K("statefulset", "allkinds-db");
  EXPECT_EQ(Int(sts, "/status/readyReplicas"), 2) << ToJson(sts);
  EXPECT_EQ(Str(K("pod", "allkinds-db-0"), "/status/phase"), "Running");
  EXPECT_EQ(Str(K("pod", "allkinds-db-1"), "/status/phase"), "Running");

  Var ds = K("daemonset", "allkinds-agent");
  EXPECT_EQ(Int(ds, "/status/desiredNumberScheduled"), 1) << ToJson(ds);
  EXPECT_EQ(Int(ds, "/status/numberReady"), 1);

  Var ing = K("ingress", "allkinds-web");
  EXPECT_EQ(Str(ing, "/spec/rules/0/host"), "allkinds.example.com");
  EXPECT_EQ(Str(ing, "/spec/rules/0/http/paths/0/backend/service/name"), "allkinds-web");

  Var hpa = K("horizontalpodautoscalers.autoscaling", "allkinds-web");
  EXPECT_EQ(Str(hpa, "/apiVersion"), "autoscaling/v2");
  EXPECT_EQ(Int(hpa, "/spec/maxReplicas"), 5);
  EXPECT_EQ(Int(hpa, "/spec/metrics/0/resource/target/averageUtilization"), 80);

  Var pdb = K("poddisruptionbudget", "allkinds-web");
  EXPECT_EQ(Int(pdb, "/spec/minAvailable"), 1);

  Var role = K("role", "allkinds-reader");
  EXPECT_EQ(Str(role, "/rules/0/resources/1"), "secrets");
  Var binding = K("rolebinding", "allkinds-reader");
  EXPECT_EQ(Str(binding, "/roleRef/name"), "allkinds-reader");
  EXPECT_EQ(Str(binding, "/subjects/0/namespace"), "kinds");

  // Hooks: both ran to success; the Job was deleted (hook-succeeded) along with its pod, the
  // pre-install ConfigMap stays (before-hook-creation only).
  std::map<std::string, std::string> runs = HookRuns();
  EXPECT_EQ(runs["allkinds-migrate"], "Succeeded");
  EXPECT_EQ(runs["allkinds-preinstall"], "Succeeded");
  EXPECT_TRUE(FailedWith(Kubectl({"get", "job", "allkinds-migrate", "-n", "kinds"}), "NotFound"));
  EXPECT_EQ(Logged("DELETE", "/apis/batch/v1/namespaces/kinds/jobs/allkinds-migrate"), 1);
  EXPECT_TRUE(WaitFor(
      [&] {
        return Len(Get({"get", "pods", "-n", "kinds", "-l", "component=migrate"}), "/items") == 0u;
      },
      15s));
  EXPECT_EQ(Str(K("configmap", "allkinds-preinstall"), "/data/ran"), "yes");

  // An upgrade runs the post-upgrade Job again (a fresh one: before-hook-creation).
  ASSERT_TRUE(Succeeded(Install({"--set", "replicas=3"})));
  EXPECT_EQ(Int(K("deployment", "allkinds-web"), "/status/readyReplicas"), 3);
  EXPECT_EQ(HookRuns()["allkinds-migrate"], "Succeeded");
  EXPECT_EQ(Logged("DELETE", "/apis/batch/v1/namespaces/kinds/jobs/allkinds-migrate"), 2);

  // Uninstall removes every release object (hooks are not release objects).
  ASSERT_TRUE(
      Succeeded(Helm({"uninstall", "allkinds", "-n", "kinds", "--wait", "--timeout", "60s"})));
  for (const std::string& kind : kKinds) {
    std::vector<std::string> left = Owned(kind);
    std::erase(left, "allkinds-preinstall");
    EXPECT_EQ(left, std::vector<std::string>{}) << kind;
  }
  EXPECT_TRUE(WaitFor(
      [&] {
        return Len(Get({"get", "pods", "-n", "kinds", "-l", "app.kubernetes.io/name=allkinds"}),
                   "/items") == 0u;
      },
      20s))
      << ToJson(Get({"get", "pods", "-n", "kinds"}));
  Var secrets = Get({"get", "secrets", "-n", "kinds", "-l", "owner=helm"});
  EXPECT_EQ(Len(secrets, "/items"), 0u) << ToJson(secrets);
}

TEST_P(ChartTest, FailingHookJobFailsTheInstall) {
  CommandResult failed = Install({"--set", "migrate.fail=true", "--timeout", "30s"});
  EXPECT_FALSE(failed.ok()) << failed.Describe();
  Var status = HelmJson(*clients_, {"status", "allkinds", "-n", "kinds"});
  EXPECT_EQ(Str(status, "/info/status"), "failed") << ToJson(status);
  // hook-succeeded keeps a failed Job, with its failure recorded.
  Var job = K("job", "allkinds-migrate");
  EXPECT_GE(Int(job, "/status/failed").value_or(0), 1) << ToJson(job);
  EXPECT_EQ(HookRuns()["allkinds-migrate"], "Failed");
}

INSTANTIATE_TEST_SUITE_P(Tools, ChartTest, testing::ValuesIn(ToolSets()), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration

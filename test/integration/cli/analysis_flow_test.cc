// Live traffic and verdicts end to end: the canaryctl binary against the sandbox with its
// gateway and workloads, a real Prometheus scraping the sandbox's Istio metrics, and canaryctl's
// own generated load. A healthy candidate goes 0 -> 30 -> 60 -> 100 with the observed split
// within tolerance at every step; a candidate answering 20% errors, and one answering in 800 ms,
// are each rolled back at the first traffic step with the weights at 100/0 afterwards; a
// candidate that gets no traffic fails its step as inconclusive, saying so.
#include <cmath>
#include <filesystem>

#include "prometheus_fixture.h"
#include "sandbox_fixture.h"

namespace canaryctl::integration {
namespace {

namespace fs = std::filesystem;

constexpr char kStable[] = "flaskapp.prod.svc.cluster.local";
constexpr char kCandidate[] = "flaskapp.stage.svc.cluster.local";

class AnalysisFlowTest : public SandboxTest {
 protected:
  AnalysisFlowTest() : SandboxTest(Options()) {}
  static SandboxOptions Options() {
    SandboxOptions o;
    o.gateway = true;
    return o;
  }

  void SetUp() override {
    SandboxTest::SetUp();
    if (HasFatalFailure()) return;
    work_ = std::make_unique<TempDir>("canaryctl-analysis");
    ASSERT_TRUE(Succeeded(Kubectl({"apply", "-f", SourcePath("examples/istio/crds/")})));
    ASSERT_TRUE(Succeeded(Helm(DemoAppUpgradeArgs("prod", "v1"))));
    prometheus_ = std::make_unique<Prometheus>(
        std::vector<std::string>{sandbox_.host() + ":" + std::to_string(sandbox_.port())},
        "/metrics", 500ms);
    ASSERT_TRUE(prometheus_->Start());
  }

  // The demo's configuration, with the load and analysis given.
  void Configure(const std::string& load, const std::string& analysis) {
    const std::string yaml =
        "app: demoapp\n"
        "helm:\n  chart: " +
        SourcePath("examples/demoapp") +
        "\n  set: {deployment.tag: v2, env.FAULT_ERROR_RATE: \"${ERRORS:-0}\","
        " env.FAULT_LATENCY_MS: \"${LATENCY:-0}\"}\n  timeout: 60s\n"
        "stable: {namespace: prod, release: demoapp, service: flaskapp}\n"
        "candidate: {namespace: stage, release: demoapp, service: flaskapp}\n"
        "traffic:\n  virtualService: {namespace: prod, name: demoapp, create: true,"
        " gateways: [app-gateway], hosts: [\"*\"]}\n  steps: [0, 30, 60, 100]\n"
        "checks:\n  - name: candidate-health\n    http:\n"
        "      url: http://flaskapp.stage.svc.cluster.local/health\n"
        "      expect: {status: 200}\n      retries: 10\n      retryDelay: 100ms\n" +
        load + analysis + "reports: {dir: " + work_->path() + "/reports}\n";
    config_ = work_->Write("rollout.yaml", yaml);
  }

  static std::string Load(double rate = 100, const std::string& duration = "4s") {
    return "load:\n  url: http://demoapp.example.com/\n  rate: " + std::to_string(rate) +
           "\n  concurrency: 4\n  duration: " + duration +
           "\n  split: {header: X-Version, candidate: v2}\n";
  }
  std::string Analysis(const std::string& window = "20s", const std::string& extra = "") {
    return "analysis:\n  prometheus: {url: \"" + prometheus_->url() +
           "\"}\n  interval: 2s\n  window: " + window +
           "\n  passes: 2\n  metrics:\n    - {name: request-success-rate, min: 99}\n"
           "    - {name: request-duration, max: 500}\n" +
           extra;
  }

  CommandResult Canaryctl(std::vector<std::string> args,
                          const std::map<std::string, std::string>& extra_env = {}) {
    std::vector<std::string> full = {"--config", config_, "--kubeconfig", sandbox_.kubeconfig()};
    full.insert(full.end(), args.begin(), args.end());
    RunOptions o;
    o.env = PrivateClientEnv(clients_->home(), sandbox_.kubeconfig());
    o.env["HELM_BIN"] = clients_->tools().helm;
    o.env["USER"] = "tester";
    // The checks and the load reach the sandbox's workloads through its gateway, as a proxy;
    // the API server and Prometheus directly.
    o.env["HTTP_PROXY"] = sandbox_.gateway_url();
    o.env["NO_PROXY"] = "127.0.0.1";
    for (const auto& [k, v] : extra_env) o.env[k] = v;
    o.cwd = work_->path();
    o.timeout = std::chrono::seconds(240);
    return RunProcess(CANARYCTL_BIN, full, o);
  }

  std::map<std::string, int> Weights() {
    auto vs = Get({"get", "virtualservice", "demoapp", "-n", "prod"});
    std::map<std::string, int> w;
    for (size_t i = 0; i < Len(vs, "/spec/http").value_or(0); ++i) {
      const std::string base = "/spec/http/" + std::to_string(i);
      for (size_t j = 0; j < Len(vs, base + "/route").value_or(0); ++j) {
        const std::string d = base + "/route/" + std::to_string(j);
        w[Str(vs, d + "/destination/host").value_or("?")] =
            static_cast<int>(Int(vs, d + "/weight").value_or(0));
      }
    }
    return w;
  }

  Poco::Dynamic::Var RolloutJson() {
    std::string error;
    auto doc = ParseJson(ReadFile(work_->path() + "/reports/rollout.json"), &error);
    EXPECT_FALSE(doc.isEmpty()) << error;
    return doc;
  }

  // The last step of rollout.json: the one the last command ran.
  std::string LastStep() {
    auto doc = RolloutJson();
    const size_t n = Len(doc, "/steps").value_or(0);
    return n == 0 ? std::string("/steps/-") : "/steps/" + std::to_string(n - 1);
  }

  // The verdict of a check or metric of the last step, by name; "" when absent.
  std::string VerdictOf(const std::string& name) {
    auto doc = RolloutJson();
    const std::string step = LastStep();
    for (size_t i = 0; i < Len(doc, step + "/checks").value_or(0); ++i) {
      const std::string c = step + "/checks/" + std::to_string(i);
      if (Str(doc, c + "/name") == name) return Str(doc, c + "/verdict").value_or("?");
    }
    return "";
  }

  std::unique_ptr<TempDir> work_;
  std::unique_ptr<Prometheus> prometheus_;
  std::string config_;
};

testing::AssertionResult ExitCode(const CommandResult& r, int want) {
  if (r.exit_code == want && !r.timed_out) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "want exit " << want << "\n" << r.Describe();
}

TEST_P(AnalysisFlowTest, HealthyCandidateGoesThroughEveryStepWithTheSplitItWasGiven) {
  Configure(Load(), Analysis("20s", "  comparison: {missedRegressionRate: 0.2, tolerance: 4}\n"));
  ASSERT_TRUE(ExitCode(Canaryctl({"deploy"}), 0));
  for (int weight : {0, 30, 60, 100}) {
    const auto r = weight == 0 ? Canaryctl({"test"}) : Canaryctl({"shift", std::to_string(weight)});
    ASSERT_TRUE(ExitCode(r, 0)) << "at " << weight << "%";
    auto w = Weights();
    EXPECT_EQ(w[kStable], 100 - weight);
    EXPECT_EQ(w[kCandidate], weight);
    // canaryctl's own counts of who answered: the candidate's share within 5 sigma of the
    // weight (and exactly 0 or all at the ends).
    auto doc = RolloutJson();
    const std::string step = LastStep();
    const double v2 = static_cast<double>(Int(doc, step + "/load/by_version/v2").value_or(0));
    const double v1 = static_cast<double>(Int(doc, step + "/load/by_version/v1").value_or(0));
    const double n = v1 + v2;
    ASSERT_GE(n, 200) << "at " << weight << "%: " << ToJson(At(doc, step));
    const double p = weight / 100.0;
    const double sigma = std::sqrt(p * (1 - p) / n);
    EXPECT_LE(std::abs(v2 / n - p), 5 * sigma + 1e-9)
        << "at " << weight << "%: v2 " << v2 << " of " << n;
    EXPECT_EQ(VerdictOf("traffic-split"), "pass") << "at " << weight << "%";
    if (weight > 0) {
      EXPECT_EQ(VerdictOf("request-success-rate"), "pass") << "at " << weight << "%";
      EXPECT_EQ(VerdictOf("request-duration"), "pass") << "at " << weight << "%";
      EXPECT_EQ(VerdictOf("error-rate-comparison"), "pass") << "at " << weight << "%";
    }
  }
  ASSERT_TRUE(ExitCode(Canaryctl({"promote"}), 0));
  EXPECT_EQ(Weights()[kStable], 100);
}

TEST_P(AnalysisFlowTest, CandidateWithTwentyPercentErrorsIsRolledBackAtThirty) {
  Configure(Load(), Analysis());
  const std::map<std::string, std::string> env = {{"ERRORS", "0.2"}};
  ASSERT_TRUE(ExitCode(Canaryctl({"deploy"}, env), 0));
  ASSERT_TRUE(ExitCode(Canaryctl({"test"}, env), 0));
  const auto r = Canaryctl({"shift", "30"}, env);
  ASSERT_TRUE(ExitCode(r, 1));
  EXPECT_NE(r.err.find("rolled back"), std::string::npos) << r.err;
  auto w = Weights();
  EXPECT_EQ(w[kStable], 100);
  EXPECT_EQ(w[kCandidate], 0);
  EXPECT_EQ(VerdictOf("request-success-rate"), "fail");
  auto doc = RolloutJson();
  EXPECT_TRUE(Int(doc, "/rollback_ms").has_value())
      << ReadFile(work_->path() + "/reports/rollout.json");
  EXPECT_NE(
      ReadFile(work_->path() + "/reports/metrics.txt").find("canaryctl_rollback_duration_seconds"),
      std::string::npos);
}

TEST_P(AnalysisFlowTest, CandidateAnsweringIn800msIsRolledBackAtThirty) {
  Configure(Load(50), Analysis());
  const std::map<std::string, std::string> env = {{"LATENCY", "800"}};
  ASSERT_TRUE(ExitCode(Canaryctl({"deploy"}, env), 0));
  ASSERT_TRUE(ExitCode(Canaryctl({"test"}, env), 0));
  const auto r = Canaryctl({"shift", "30"}, env);
  ASSERT_TRUE(ExitCode(r, 1));
  auto w = Weights();
  EXPECT_EQ(w[kStable], 100);
  EXPECT_EQ(w[kCandidate], 0);
  EXPECT_EQ(VerdictOf("request-duration"), "fail");
}

TEST_P(AnalysisFlowTest, CandidateWithoutTrafficFailsItsStepAsInconclusive) {
  Configure("", Analysis("6s"));
  ASSERT_TRUE(ExitCode(Canaryctl({"deploy"}), 0));
  ASSERT_TRUE(ExitCode(Canaryctl({"test"}), 0));
  const auto r = Canaryctl({"shift", "30"});
  ASSERT_TRUE(ExitCode(r, 1));
  EXPECT_NE(r.err.find("no traffic"), std::string::npos) << r.err;
  EXPECT_EQ(Weights()[kCandidate], 0);
}

// Analysis waits for real time: one tool set is enough here (the flows run on both elsewhere).
INSTANTIATE_TEST_SUITE_P(Tools, AnalysisFlowTest, testing::Values(ToolSets().back()), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration

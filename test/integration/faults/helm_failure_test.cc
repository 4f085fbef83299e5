// Proof under faults (issue 6), helm failing: a chart helm cannot render, a chart that never
// becomes ready, and a helm binary killed in the middle of an upgrade. Each exits 3 with the
// invariants of RolloutFixture::ExpectInvariants holding (traffic untouched, state and route
// agreeing), and a rerun with a working chart and helm converges, recovering a release that the
// killed helm left pending-upgrade.
#include <filesystem>

#include "faults_fixture.h"

namespace canaryctl::integration {
namespace {

namespace fs = std::filesystem;

// A Pod whose container fails (the sandbox fails it at once), so it is never Ready: helm 3's
// --wait waits for it until --timeout.
constexpr char kNeverReady[] = R"(apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-never-ready
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: registry.example.com/crashes:1
    env: [{name: SANDBOX_JOB_FAIL, value: "true"}]
)";

// Runs the real helm, except that an upgrade is SIGKILLed after KILL_HELM_AFTER seconds (a job
// cancelled or a node lost while helm waits). The arguments pass through untouched.
constexpr char kKillingHelm[] = R"(#!/bin/sh
if [ "$1" = "upgrade" ]; then
  "$REAL_HELM" "$@" &
  child=$!
  sleep "${KILL_HELM_AFTER:-2}"
  kill -KILL "$child"
  wait "$child"
  exit $?
fi
exec "$REAL_HELM" "$@"
)";

class HelmFailureTest : public FaultsFixture {
 protected:
  // A copy of the demo chart with `extra` added as a template; config_ points at it with the
  // given helm timeout.
  std::string UseChart(const std::string& extra, const std::string& timeout = "60s") {
    const std::string chart = SourcePath("examples/demoapp");
    const std::string copy = work_->path() + "/chart";
    fs::remove_all(copy);
    fs::copy(chart, copy, fs::copy_options::recursive);
    if (!extra.empty()) work_->Write("chart/templates/extra.yaml", extra);
    std::string yaml = ReadFile(Config(kHybrid));
    yaml.replace(yaml.find("chart: " + chart), chart.size() + 7, "chart: " + copy);
    yaml.replace(yaml.find("timeout: 60s"), 12, "timeout: " + timeout);
    config_ = work_->Write("rollout.yaml", yaml);
    return copy;
  }

  std::string LatestStatus(const std::string& release, const std::string& ns) {
    auto h = HelmJson(*clients_, {"history", release, "-n", ns});
    const size_t n = Len(h, "").value_or(0);
    return n == 0 ? "" : Str(h, "/" + std::to_string(n - 1) + "/status").value_or("");
  }

  // helm's last words in canaryctl's error, and the failure in the state and the reports.
  void ExpectFailedWithExitThree(const CommandResult& r, const std::string& phase,
                                 std::pair<int, int> before, std::pair<int, int> target,
                                 const std::string& when) {
    EXPECT_EQ(r.exit_code, 3) << when << "\n" << r.Describe();
    EXPECT_NE(r.err.find("helm"), std::string::npos) << when << "\n" << r.err;
    EXPECT_EQ(Str(State(), "/phase"), "failed") << when;
    ExpectInvariants(kHybrid, before, target, when, true, /*helm_settled=*/false);
    ExpectReportsSayWhatHappened(kHybrid, r.exit_code, when);
    EXPECT_NE(Report("rollout.env").find("CANARYCTL_PHASE=" + phase + "\n"), std::string::npos)
        << Report("rollout.env");
  }
};

// (From cli_flow_test.cc.) A template helm cannot render: exit 3 with helm's own last lines, the
// state records the failure with the weights untouched, and a rerun with a working chart
// converges.
TEST_P(HelmFailureTest, ChartThatDoesNotRenderExitsThreeWithHelmsLastLines) {
  const std::string chart = UseChart("kind: {{ .Values.nope.missing }}\n");
  auto r = Canaryctl({"deploy"});
  EXPECT_NE(r.err.find("nil pointer evaluating interface {}.missing"), std::string::npos) << r.err;
  ExpectFailedWithExitThree(r, "deploy", {100, 0}, {100, 0}, "unrenderable chart");
  ExpectReports("deploy", 0, "failed");
  fs::remove(chart + "/templates/extra.yaml");
  ASSERT_TRUE(Succeeded(Canaryctl({"deploy"})));
  EXPECT_EQ(Str(State(), "/phase"), "deployed");
  ExpectInvariants(kHybrid, {100, 0}, {100, 0}, "after the rerun");
  EXPECT_EQ(DeployedTag("demoapp", "stage"), "v2");
}

// helm --wait gives up on a release that never becomes ready: exit 3, the release is failed (not
// pending), traffic untouched; the rerun with a chart that becomes ready converges.
TEST_P(HelmFailureTest, ChartThatNeverBecomesReadyExitsThreeAndTheRerunConverges) {
  // helm 4's watcher (kstatus) counts a Pod that ran and failed as done, not as unready.
  if (clients_->tools().helm_major != 3) GTEST_SKIP() << "helm 4 does not wait for a failed Pod";
  const std::string chart = UseChart(kNeverReady, "4s");
  auto r = Canaryctl({"deploy"});
  ExpectFailedWithExitThree(r, "deploy", {100, 0}, {100, 0}, "never ready");
  if (clients_->tools().helm_major == 3) {
    EXPECT_NE(r.err.find("context deadline exceeded"), std::string::npos) << r.err;
  }
  EXPECT_EQ(LatestStatus("demoapp", "stage"), "failed");
  ExpectHelmSettled(kHybrid, "never ready", /*allow_failed=*/true);
  // The same command again fails the same way, changing nothing it should not.
  auto again = Canaryctl({"deploy"});
  ExpectFailedWithExitThree(again, "deploy", {100, 0}, {100, 0}, "never ready, again");

  fs::remove(chart + "/templates/extra.yaml");
  auto rerun = Canaryctl({"deploy"});
  ASSERT_TRUE(Succeeded(rerun));
  EXPECT_EQ(Str(State(), "/phase"), "deployed");
  ExpectInvariants(kHybrid, {100, 0}, {100, 0}, "after the rerun");
  ExpectReportsSayWhatHappened(kHybrid, 0, "after the rerun");
  EXPECT_EQ(LatestStatus("demoapp", "stage"), "deployed");
  // The flow goes on from there.
  ASSERT_TRUE(Succeeded(Canaryctl({"test"})));
  ASSERT_TRUE(Succeeded(Canaryctl({"shift", "30"})));
  ExpectInvariants(kHybrid, {70, 30}, {70, 30}, "after shift 30");
}

// helm SIGKILLed mid-upgrade (of the candidate in deploy, of stable in promote) leaves the
// release pending-upgrade, which blocks every later helm operation. canaryctl exits 3; the rerun
// (holding the lock, so no other helm runs on it) rolls the pending revision back and upgrades.
// To kill helm surely after it marked the release pending, the sandbox answers helm's (and only
// helm's) requests for Deployments 3 s late, and the wrapper kills helm's upgrade after 2 s.
// (kill_resume_test.cc kills canaryctl and its helm together at random moments.)
TEST_P(HelmFailureTest, HelmKilledMidUpgradeExitsThreeAndTheRerunRecoversThePendingRelease) {
  const std::string wrapper = work_->Write("killing-helm.sh", kKillingHelm);
  fs::permissions(wrapper, fs::perms::owner_all);
  const std::map<std::string, std::string> killing = {
      {"HELM_BIN", wrapper}, {"REAL_HELM", clients_->tools().helm}, {"KILL_HELM_AFTER", "2"}};
  auto slow_helm = [&] {
    auto r = sandbox_.Http("POST", "/sandbox/faults",
                           R"({"userAgent":"^[Hh]elm/","path":"/apis/apps/v1/namespaces/)"
                           R"([^/]+/deployments.*","count":0,"delayMs":3000})");
    ASSERT_EQ(r.status, 201) << r.error << r.body;
  };
  auto clear = [&] { ASSERT_EQ(sandbox_.Http("DELETE", "/sandbox/faults").status / 100, 2); };

  // deploy: the candidate exists (an earlier rollout), so this is an upgrade.
  ASSERT_TRUE(Succeeded(Helm(DemoAppUpgradeArgs("stage", "v1"))));
  slow_helm();
  auto r = Canaryctl({"deploy"}, killing);
  clear();
  ExpectFailedWithExitThree(r, "deploy", {100, 0}, {100, 0}, "helm killed in deploy");
  ASSERT_EQ(LatestStatus("demoapp", "stage"), "pending-upgrade") << "the scenario did not happen";
  // Without recovery helm itself refuses: what a user would hit.
  auto blocked = Helm(DemoAppUpgradeArgs("stage", "v1"));
  EXPECT_FALSE(blocked.ok());
  EXPECT_NE(blocked.err.find("another operation"), std::string::npos) << blocked.Describe();

  auto rerun = Canaryctl({"deploy"});
  ASSERT_TRUE(Succeeded(rerun));
  EXPECT_NE(rerun.err.find("pending-upgrade"), std::string::npos) << rerun.err;
  EXPECT_EQ(LatestStatus("demoapp", "stage"), "deployed");
  EXPECT_EQ(DeployedTag("demoapp", "stage"), "v2");
  ExpectInvariants(kHybrid, {100, 0}, {100, 0}, "deploy rerun");
  ExpectReportsSayWhatHappened(kHybrid, 0, "deploy rerun");

  // promote: stable's upgrade killed.
  ASSERT_TRUE(Succeeded(Canaryctl({"test"})));
  ASSERT_TRUE(Succeeded(Canaryctl({"--skip-steps", "shift", "100"})));
  slow_helm();
  auto p = Canaryctl({"promote"}, killing);
  clear();
  ExpectFailedWithExitThree(p, "promote", {0, 100}, {100, 0}, "helm killed in promote");
  ASSERT_EQ(LatestStatus("demoapp", "prod"), "pending-upgrade") << "the scenario did not happen";
  EXPECT_TRUE(Locked());  // still the pipeline's: its retried job proceeds

  auto promoted = Canaryctl({"promote"});
  ASSERT_TRUE(Succeeded(promoted));
  EXPECT_NE(promoted.err.find("pending-upgrade"), std::string::npos) << promoted.err;
  EXPECT_EQ(Str(State(), "/phase"), "promoted");
  EXPECT_EQ(LatestStatus("demoapp", "prod"), "deployed");
  EXPECT_EQ(DeployedTag("demoapp", "prod"), "v2");
  EXPECT_FALSE(Locked());
  ExpectInvariants(kHybrid, {100, 0}, {100, 0}, "promote rerun");
  ExpectReportsSayWhatHappened(kHybrid, 0, "promote rerun");
}

INSTANTIATE_TEST_SUITE_P(Tools, HelmFailureTest, testing::ValuesIn(ToolSets()), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration

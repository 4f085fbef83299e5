// HelmDriver against a fake helm (a script written by the test, standing in for the binary): the
// decisions around running helm (version detection, not-found handling, error tails, redaction,
// our own deadline, RecoverPending's choice). The real helm 3 and 4 are in
// test/integration/helm/.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "helm/helm_driver.h"

namespace canaryctl::helm {
namespace {

namespace fs = std::filesystem;

// Records each call's arguments (one line per call) in $FAKE_DIR/calls; answers status and
// history from files in $FAKE_DIR ("release: not found" when absent); upgrade fails with 25
// lines on stderr and then its arguments when $FAKE_DIR/fail exists, and sleeps when
// $FAKE_DIR/sleep exists.
constexpr const char* kFakeHelm = R"(#!/bin/sh
echo "$*" >> "$FAKE_DIR/calls"
case "$1" in
  version) cat "$FAKE_DIR/version"; exit 0 ;;
  status|history)
    if [ -f "$FAKE_DIR/$1.json" ]; then cat "$FAKE_DIR/$1.json"; exit 0; fi
    echo "Error: release: not found" >&2; exit 1 ;;
  uninstall)
    if [ -f "$FAKE_DIR/absent" ]; then
      echo "Error: uninstall: Release not loaded: $2: release: not found" >&2; exit 1
    fi
    echo "release \"$2\" uninstalled"; exit 0 ;;
  upgrade)
    if [ -f "$FAKE_DIR/sleep" ]; then sleep 30; fi
    if [ -f "$FAKE_DIR/locked" ]; then
      echo "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress" >&2
      exit 1
    fi
    if [ -f "$FAKE_DIR/fail" ]; then
      i=1; while [ $i -le 25 ]; do echo "filler $i" >&2; i=$((i+1)); done
      echo "args: $*" >&2; exit 1
    fi
    echo "Release \"$3\" has been upgraded. Happy Helming!"; exit 0 ;;
  *) exit 0 ;;
esac
)";

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string ReadData(const std::string& name) { return ReadFile(fs::path(HELM_TEST_DATA) / name); }

class DriverTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "helm-driver-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Write("helm", kFakeHelm);
    ::chmod((dir_ / "helm").c_str(), 0755);
    Write("version", "v4.1.4");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name) << content;
  }

  std::unique_ptr<HelmDriver> Driver(DriverOptions options = {}) {
    options.helm_path = (dir_ / "helm").string();
    options.env["FAKE_DIR"] = dir_.string();
    options.on_output = [this](const HelmOutput& o) { outputs_.push_back(o); };
    auto driver = HelmDriver::Create(std::move(options));
    EXPECT_TRUE(driver.ok()) << driver.error().message;
    return driver.ok() ? std::move(driver).value() : nullptr;
  }

  std::vector<std::string> Calls() const {
    std::vector<std::string> lines;
    std::istringstream in(ReadFile(dir_ / "calls"));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  static UpgradeRequest Request() {
    UpgradeRequest r;
    r.release = {"demoapp", "stage"};
    r.chart = "examples/demoapp";
    r.set = {{"db.password", "hunter2-secret"}, {"deployment.tag", "v2"}};
    r.secrets = {"db.password"};
    r.timeout = std::chrono::seconds(60);
    return r;
  }

  fs::path dir_;
  std::vector<HelmOutput> outputs_;
};

TEST_F(DriverTest, DetectsTheVersionOnce) {
  auto driver = Driver();
  ASSERT_TRUE(driver);
  ASSERT_TRUE(driver->DetectedVersion());
  EXPECT_EQ(driver->DetectedVersion()->major, 4);
  EXPECT_EQ(driver->binary(), (dir_ / "helm").string());
  auto plan = driver->PlanUpgradeInstall(Request());
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan.value().front(), (dir_ / "helm").string());
  EXPECT_NE(std::find(plan.value().begin(), plan.value().end(), "--wait=watcher"),
            plan.value().end());
  EXPECT_EQ(Calls(), std::vector<std::string>{"version --template {{.Version}}"});
}

// Without detect_version_now, Create runs nothing; helm's version is asked for when arguments
// depend on it, once, and reads (status, history) never need it.
TEST_F(DriverTest, LazyDriverDetectsTheVersionAtFirstNeed) {
  DriverOptions options;
  options.detect_version_now = false;
  auto driver = Driver(options);
  ASSERT_TRUE(driver);
  EXPECT_TRUE(Calls().empty());
  EXPECT_FALSE(driver->DetectedVersion());
  ASSERT_TRUE(driver->Status({"demoapp", "stage"}).ok());
  for (const std::string& call : Calls()) EXPECT_FALSE(call.starts_with("version")) << call;
  ASSERT_TRUE(driver->PlanUpgradeInstall(Request()).ok());
  ASSERT_TRUE(driver->PlanUpgradeInstall(Request()).ok());
  const auto calls = Calls();
  EXPECT_EQ(std::count(calls.begin(), calls.end(), "version --template {{.Version}}"), 1);
  ASSERT_TRUE(driver->DetectedVersion());
  EXPECT_EQ(driver->DetectedVersion()->major, 4);
}

TEST_F(DriverTest, LazyDriverReportsABrokenHelmWhenFirstNeeded) {
  Write("version", "v2.17.0");
  DriverOptions options;
  options.helm_path = (dir_ / "helm").string();
  options.env["FAKE_DIR"] = dir_.string();
  options.detect_version_now = false;
  auto driver = HelmDriver::Create(options);
  ASSERT_TRUE(driver.ok());
  auto upgrade = driver.value()->UpgradeInstall(Request());
  ASSERT_FALSE(upgrade.ok());
  EXPECT_EQ(upgrade.error().kind, ErrorKind::kCluster);
  EXPECT_NE(upgrade.error().message.find("v2.17.0 is not supported"), std::string::npos);
}

TEST_F(DriverTest, UnsupportedVersionFailsCreate) {
  Write("version", "v2.17.0");
  DriverOptions options;
  options.helm_path = (dir_ / "helm").string();
  options.env["FAKE_DIR"] = dir_.string();
  auto driver = HelmDriver::Create(options);
  ASSERT_FALSE(driver.ok());
  EXPECT_EQ(driver.error().kind, ErrorKind::kCluster);
  EXPECT_NE(driver.error().message.find("v2.17.0 is not supported"), std::string::npos);
}

TEST_F(DriverTest, FailureShowsCommandAndTailWithoutSecrets) {
  auto driver = Driver();
  ASSERT_TRUE(driver);
  Write("fail", "");
  auto result = driver->UpgradeInstall(Request());
  ASSERT_FALSE(result.ok());
  const std::string& m = result.error().message;
  EXPECT_EQ(result.error().kind, ErrorKind::kCluster);
  EXPECT_NE(m.find("helm upgrade failed (exit 1)"), std::string::npos) << m;
  EXPECT_NE(m.find("--set-literal 'db.password=<redacted>'"), std::string::npos) << m;
  EXPECT_NE(m.find("--set-literal deployment.tag=v2"), std::string::npos) << m;
  EXPECT_EQ(m.find("hunter2-secret"), std::string::npos) << m;
  // The last 20 lines: filler 6..25 are cut to 7..25 plus the echoed arguments.
  EXPECT_NE(m.find("filler 7\n"), std::string::npos) << m;
  EXPECT_EQ(m.find("filler 6\n"), std::string::npos) << m;
  EXPECT_NE(m.find("args: upgrade --install demoapp"), std::string::npos) << m;

  ASSERT_EQ(outputs_.size(), 1u);
  EXPECT_EQ(outputs_[0].verb, "upgrade");
  EXPECT_EQ(outputs_[0].exit_code, 1);
  EXPECT_NE(outputs_[0].err.find("filler 1\n"), std::string::npos);  // the full output
  EXPECT_EQ(outputs_[0].err.find("hunter2-secret"), std::string::npos);
  EXPECT_NE(outputs_[0].err.find("db.password=<redacted>"), std::string::npos);
}

TEST_F(DriverTest, SuccessReturnsTheNewStatusWithChart) {
  auto driver = Driver();
  ASSERT_TRUE(driver);
  Write("status.json", ReadData("status-helm4.json"));
  Write("history.json", ReadData("history-helm4.json"));
  auto result = driver->UpgradeInstall(Request());
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result.value().current.number, 3);
  EXPECT_EQ(result.value().current.chart, "demoapp-0.1.0");
  EXPECT_EQ(result.value().current.app_version, "v1");
  ASSERT_EQ(outputs_.size(), 1u);
  EXPECT_NE(outputs_[0].out.find("Happy Helming"), std::string::npos);
}

TEST_F(DriverTest, BlockedUpgradePointsAtRecoverPending) {
  auto driver = Driver();
  ASSERT_TRUE(driver);
  Write("locked", "");
  auto result = driver->UpgradeInstall(Request());
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("RecoverPending"), std::string::npos);
}

TEST_F(DriverTest, OurDeadlineKillsHelm) {
  DriverOptions options;
  options.max_run_time = std::chrono::milliseconds(300);
  auto driver = Driver(options);
  ASSERT_TRUE(driver);
  Write("sleep", "");
  auto result = driver->UpgradeInstall(Request());
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("was killed after 300 ms"), std::string::npos)
      << result.error().message;
  ASSERT_EQ(outputs_.size(), 1u);
  EXPECT_TRUE(outputs_[0].timed_out);
}

TEST_F(DriverTest, AbsentReleaseIsNotAnError) {
  auto driver = Driver();
  ASSERT_TRUE(driver);
  ReleaseRef rel{"demoapp", "stage"};
  auto status = driver->Status(rel);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_FALSE(status.value().has_value());
  auto history = driver->History(rel);
  ASSERT_TRUE(history.ok());
  EXPECT_TRUE(history.value().empty());
  Write("absent", "");
  EXPECT_TRUE(driver->Uninstall(rel, {}).ok());
  auto recovery = driver->RecoverPending(rel, {});
  ASSERT_TRUE(recovery.ok());
  EXPECT_EQ(recovery.value().action, Recovery::Action::kNothing);
}

TEST_F(DriverTest, RecoverPendingUpgradeRollsBackToTheDeployedRevision) {
  auto driver = Driver();
  ASSERT_TRUE(driver);
  Write("history.json", ReadData("history-pending-upgrade-helm3.json"));
  auto recovery = driver->RecoverPending({"demoapp", "stage"}, {false, std::chrono::seconds(30)});
  ASSERT_TRUE(recovery.ok()) << recovery.error().message;
  EXPECT_EQ(recovery.value().action, Recovery::Action::kRolledBack);
  EXPECT_EQ(recovery.value().pending_revision, 2);
  EXPECT_EQ(recovery.value().pending_status, "pending-upgrade");
  EXPECT_EQ(recovery.value().restored_revision, 1);
  EXPECT_EQ(Calls().back(), "rollback demoapp 1 --namespace stage --timeout 30s");
}

TEST_F(DriverTest, RecoverPendingRollbackPrefersDeployedOverSuperseded) {
  auto driver = Driver();
  ASSERT_TRUE(driver);
  Write("history.json",
        R"([{"revision":1,"status":"superseded"},{"revision":2,"status":"deployed"},)"
        R"({"revision":3,"status":"superseded"},{"revision":4,"status":"pending-rollback"}])");
  auto recovery = driver->RecoverPending({"demoapp", "stage"}, {true, std::chrono::seconds(30)});
  ASSERT_TRUE(recovery.ok()) << recovery.error().message;
  EXPECT_EQ(recovery.value().restored_revision, 2);
  EXPECT_EQ(Calls().back(), "rollback demoapp 2 --namespace stage --wait=watcher --timeout 30s");
}

TEST_F(DriverTest, RecoverPendingInstallUninstalls) {
  auto driver = Driver();
  ASSERT_TRUE(driver);
  Write("history.json", ReadData("history-pending-install-helm4.json"));
  auto recovery = driver->RecoverPending({"demoapp", "stage"}, {false, std::chrono::seconds(30)});
  ASSERT_TRUE(recovery.ok()) << recovery.error().message;
  EXPECT_EQ(recovery.value().action, Recovery::Action::kUninstalled);
  EXPECT_EQ(Calls().back(), "uninstall demoapp --namespace stage --timeout 30s");
}

TEST_F(DriverTest, RecoverPendingLeavesAHealthyReleaseAlone) {
  auto driver = Driver();
  ASSERT_TRUE(driver);
  Write("history.json", ReadData("history-helm3.json"));
  auto recovery = driver->RecoverPending({"demoapp", "stage"}, {});
  ASSERT_TRUE(recovery.ok());
  EXPECT_EQ(recovery.value().action, Recovery::Action::kNothing);
  EXPECT_EQ(Calls().back().rfind("history demoapp", 0), 0u);
  EXPECT_TRUE(outputs_.empty());
}

}  // namespace
}  // namespace canaryctl::helm

// HelmDriver with the real helm 3 and helm 4 against the sandbox: the article's releases (v1 in
// prod, v2 in stage), upgrade, rollback, uninstall; a hostile --set value stored literally; a
// release left pending by a killed helm, recovered by RecoverPending.
#include <signal.h>

#include <filesystem>

#include <Poco/Pipe.h>
#include <Poco/Process.h>

#include "helm/helm_driver.h"
#include "sandbox_fixture.h"

namespace canaryctl::integration {
namespace {

using helm::HelmDriver;
using helm::Recovery;
using helm::ReleaseRef;
using helm::UpgradeRequest;

// helm's environment: the fixture's private one, except that KUBECONFIG leads nowhere, so
// only the driver's --kubeconfig and --kube-context flags can reach the sandbox.
std::map<std::string, std::string> HelmEnv(const std::string& h) {
  return PrivateClientEnv(h, "/nonexistent/kubeconfig");
}

// A driver for the tool set under test, bound to the sandbox through flags (--kubeconfig,
// --kube-context), with a private HOME like the fixture's clients.
std::unique_ptr<HelmDriver> MakeDriver(const Clients& clients, const Sandbox& sandbox,
                                       std::vector<helm::HelmOutput>* outputs,
                                       helm::DriverOptions options = {}) {
  const std::string& h = clients.home();
  options.helm_path = clients.tools().helm;
  options.connection = {sandbox.kubeconfig(), "canaryctl-sandbox"};
  options.env = HelmEnv(h);
  if (outputs != nullptr) {
    options.on_output = [outputs](const helm::HelmOutput& o) { outputs->push_back(o); };
  }
  auto driver = HelmDriver::Create(std::move(options));
  EXPECT_TRUE(driver.ok()) << driver.error().message;
  return driver.ok() ? std::move(driver).value() : nullptr;
}

UpgradeRequest Demoapp(const std::string& ns, const std::string& tag, bool wait = true) {
  UpgradeRequest r;
  r.release = {"demoapp", ns};
  r.chart = SourcePath("examples/demoapp");
  r.set = {{"deployment.tag", tag}};
  r.timeout = std::chrono::seconds(90);
  r.wait = wait;
  r.create_namespace = true;
  r.description = "canaryctl: pipeline 42 https://gitlab.example.com/g/p/-/jobs/7";
  return r;
}

class HelmDriverTest : public SandboxTest {
 protected:
  explicit HelmDriverTest(SandboxOptions options = {}) : SandboxTest(options) {}
  void SetUp() override {
    SandboxTest::SetUp();
    if (HasFatalFailure()) return;
    driver_ = MakeDriver(*clients_, sandbox_, &outputs_);
    ASSERT_TRUE(driver_);
    ASSERT_TRUE(driver_->DetectedVersion());
    ASSERT_EQ(driver_->DetectedVersion()->major, GetParam().helm_major);
  }

  std::string Image(const std::string& ns) {
    return Str(Get({"get", "deployment", "flaskapp", "-n", ns}),
               "/spec/template/spec/containers/0/image")
        .value_or("");
  }

  std::unique_ptr<HelmDriver> driver_;
  std::vector<helm::HelmOutput> outputs_;
};

TEST_P(HelmDriverTest, InstallUpgradeRollbackUninstall) {
  const std::string kImage = "registry.example.com/canaryctl/flaskapp:";
  auto prod = driver_->UpgradeInstall(Demoapp("prod", "v1"));
  ASSERT_TRUE(prod.ok()) << prod.error().message;
  EXPECT_EQ(prod.value().current.number, 1);
  EXPECT_EQ(prod.value().current.status, "deployed");
  EXPECT_EQ(prod.value().current.chart, "demoapp-0.1.0");
  EXPECT_EQ(prod.value().ns, "prod");
  EXPECT_EQ(prod.value().current.description,
            "canaryctl: pipeline 42 https://gitlab.example.com/g/p/-/jobs/7");
  auto stage = driver_->UpgradeInstall(Demoapp("stage", "v2"));
  ASSERT_TRUE(stage.ok()) << stage.error().message;
  EXPECT_EQ(stage.value().current.number, 1);
  // --wait returned, so the candidate is ready.
  Poco::Dynamic::Var d = Get({"get", "deployment", "flaskapp", "-n", "stage"});
  EXPECT_EQ(Str(d, "/spec/template/spec/containers/0/image"), kImage + "v2");
  EXPECT_EQ(Int(d, "/status/readyReplicas"), 2) << ToJson(d);
  EXPECT_EQ(Image("prod"), kImage + "v1");
  ASSERT_EQ(outputs_.size(), 2u);
  EXPECT_EQ(outputs_[1].verb, "upgrade");
  EXPECT_NE(outputs_[1].command.find("--kube-context canaryctl-sandbox"), std::string::npos);
  EXPECT_FALSE(outputs_[1].out.empty());

  auto upgraded = driver_->UpgradeInstall(Demoapp("stage", "v3"));
  ASSERT_TRUE(upgraded.ok()) << upgraded.error().message;
  EXPECT_EQ(upgraded.value().current.number, 2);
  EXPECT_EQ(Image("stage"), kImage + "v3");

  auto rolled = driver_->Rollback({"demoapp", "stage"}, {1, true, std::chrono::seconds(90)});
  ASSERT_TRUE(rolled.ok()) << rolled.error().message;
  EXPECT_EQ(Image("stage"), kImage + "v2");
  auto history = driver_->History({"demoapp", "stage"});
  ASSERT_TRUE(history.ok()) << history.error().message;
  ASSERT_EQ(history.value().size(), 3u);
  EXPECT_EQ(history.value()[0].status, "superseded");
  EXPECT_EQ(history.value()[1].status, "superseded");
  EXPECT_EQ(history.value()[2].status, "deployed");
  EXPECT_EQ(history.value()[2].description, "Rollback to 1");
  auto status = driver_->Status({"demoapp", "stage"});
  ASSERT_TRUE(status.ok()) << status.error().message;
  ASSERT_TRUE(status.value().has_value());
  EXPECT_EQ(status.value()->current.number, 3);
  EXPECT_EQ(status.value()->current.app_version, "v1");  // the chart's appVersion
  auto values = driver_->GetValues({"demoapp", "stage"});
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(values.value()->getObject("deployment")->getValue<std::string>("tag"), "v2");

  auto removed = driver_->Uninstall({"demoapp", "stage"}, {true, std::chrono::seconds(90)});
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  auto gone = driver_->Status({"demoapp", "stage"});
  ASSERT_TRUE(gone.ok()) << gone.error().message;
  EXPECT_FALSE(gone.value().has_value());
  EXPECT_TRUE(FailedWith(Kubectl({"get", "deployment", "flaskapp", "-n", "stage"}), "NotFound"));
  EXPECT_TRUE(driver_->History({"demoapp", "stage"}).value().empty());
  // Uninstalling again converges; prod was not touched.
  EXPECT_TRUE(driver_->Uninstall({"demoapp", "stage"}, {}).ok());
  EXPECT_EQ(Image("prod"), kImage + "v1");
}

TEST_P(HelmDriverTest, HostileValueArrivesLiterally) {
  const std::string marker = clients_->scratch().path() + "/x";
  const std::string hostile = "a,b=c;$(touch " + marker + ")\nnewline \\back\\slash 'q\" {x}";
  UpgradeRequest r = Demoapp("prod", "v1", false);
  r.set["hostile"] = hostile;
  r.set["db.password"] = "p@ss,word=1";
  r.secrets = {"db.password"};
  auto installed = driver_->UpgradeInstall(r);
  ASSERT_TRUE(installed.ok()) << installed.error().message;
  auto values = driver_->GetValues({"demoapp", "prod"});
  ASSERT_TRUE(values.ok()) << values.error().message;
  EXPECT_EQ(values.value()->getValue<std::string>("hostile"), hostile);
  EXPECT_EQ(values.value()->getObject("db")->getValue<std::string>("password"), "p@ss,word=1");
  EXPECT_EQ(values.value()->getObject("deployment")->getValue<std::string>("tag"), "v1");
  EXPECT_FALSE(std::filesystem::exists(marker));
  ASSERT_EQ(outputs_.size(), 1u);
  EXPECT_EQ(outputs_[0].command.find("p@ss"), std::string::npos) << outputs_[0].command;
}

TEST_P(HelmDriverTest, FailureIsAClusterErrorWithHelmsWords) {
  UpgradeRequest r = Demoapp("prod", "v1", false);
  r.chart = clients_->scratch().path() + "/no-such-chart";
  auto result = driver_->UpgradeInstall(r);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().kind, ErrorKind::kCluster);
  EXPECT_NE(result.error().message.find("helm upgrade failed (exit 1)"), std::string::npos)
      << result.error().message;
  EXPECT_NE(result.error().message.find("no-such-chart"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Tools, HelmDriverTest, testing::ValuesIn(ToolSets()), ToolSetName);

// Pods never become ready here, so a helm --wait hangs until killed.
class HelmPendingTest : public HelmDriverTest {
 protected:
  HelmPendingTest() : HelmDriverTest(NeverReady()) {}
  static SandboxOptions NeverReady() {
    SandboxOptions o;
    o.ready_delay_ms = 3600 * 1000;
    return o;
  }

  std::string LatestStatus(const std::string& ns) {
    auto history = driver_->History({"demoapp", ns});
    if (!history.ok() || history.value().empty()) return "";
    return history.value().back().status;
  }
};

TEST_P(HelmPendingTest, KilledUpgradeIsRecovered) {
  auto first = driver_->UpgradeInstall(Demoapp("stage", "v1", false));
  ASSERT_TRUE(first.ok()) << first.error().message;

  // The exact command UpgradeInstall would run, started by hand and killed mid-wait.
  UpgradeRequest hanging = Demoapp("stage", "v2", true);
  hanging.timeout = std::chrono::seconds(600);
  auto argv = driver_->PlanUpgradeInstall(hanging);
  ASSERT_TRUE(argv.ok()) << argv.error().message;
  std::vector<std::string> args(argv.value().begin() + 1, argv.value().end());
  Poco::Pipe out, err;
  Poco::ProcessHandle helm = Poco::Process::launch(argv.value().front(), args, "", nullptr, &out,
                                                   &err, HelmEnv(clients_->home()));
  ASSERT_TRUE(WaitFor([&] { return LatestStatus("stage") == "pending-upgrade"; }, 60s));
  ::kill(helm.id(), SIGKILL);
  helm.wait();

  auto blocked = driver_->UpgradeInstall(Demoapp("stage", "v3", false));
  ASSERT_FALSE(blocked.ok());
  EXPECT_NE(blocked.error().message.find("another operation"), std::string::npos)
      << blocked.error().message;
  EXPECT_NE(blocked.error().message.find("RecoverPending"), std::string::npos);
  auto status = driver_->Status({"demoapp", "stage"});
  ASSERT_TRUE(status.ok());
  ASSERT_TRUE(status.value().has_value());
  EXPECT_TRUE(status.value()->current.Pending());

  auto recovery = driver_->RecoverPending({"demoapp", "stage"}, {false, std::chrono::seconds(60)});
  ASSERT_TRUE(recovery.ok()) << recovery.error().message;
  EXPECT_EQ(recovery.value().action, Recovery::Action::kRolledBack);
  EXPECT_EQ(recovery.value().pending_revision, 2);
  EXPECT_EQ(recovery.value().pending_status, "pending-upgrade");
  EXPECT_EQ(recovery.value().restored_revision, 1);
  // Converged: a second call finds nothing to do, and the next upgrade goes through.
  auto again = driver_->RecoverPending({"demoapp", "stage"}, {false, std::chrono::seconds(60)});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value().action, Recovery::Action::kNothing);
  auto next = driver_->UpgradeInstall(Demoapp("stage", "v3", false));
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next.value().current.number, 4);
  EXPECT_EQ(next.value().current.status, "deployed");
  EXPECT_EQ(Image("stage"), "registry.example.com/canaryctl/flaskapp:v3");
}

TEST_P(HelmPendingTest, InstallKilledAtOurDeadlineIsRecovered) {
  helm::DriverOptions options;
  options.max_run_time = std::chrono::seconds(5);
  auto bounded = MakeDriver(*clients_, sandbox_, nullptr, options);
  ASSERT_TRUE(bounded);
  UpgradeRequest hanging = Demoapp("stage", "v1", true);
  hanging.timeout = std::chrono::seconds(600);
  auto killed = bounded->UpgradeInstall(hanging);
  ASSERT_FALSE(killed.ok());
  EXPECT_NE(killed.error().message.find("was killed after 5000 ms"), std::string::npos)
      << killed.error().message;
  EXPECT_EQ(LatestStatus("stage"), "pending-install");

  auto recovery = driver_->RecoverPending({"demoapp", "stage"}, {false, std::chrono::seconds(60)});
  ASSERT_TRUE(recovery.ok()) << recovery.error().message;
  EXPECT_EQ(recovery.value().action, Recovery::Action::kUninstalled);
  auto next = driver_->UpgradeInstall(Demoapp("stage", "v2", false));
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next.value().current.number, 1);
  EXPECT_EQ(next.value().current.status, "deployed");
}

INSTANTIATE_TEST_SUITE_P(Tools, HelmPendingTest, testing::ValuesIn(ToolSets()), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration

// The canaryctl binary against the sandbox with the real helm 3 and helm 4: the article's flow
// command by command, canary and blue-green, a failing check, reruns, two pipelines, TLS with
// client certificates and with a token, and invalid input that must not reach the cluster.
// After each command: the VirtualService's weights and its untouched fields, the helm releases,
// the state annotation, and the reports.
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <signal.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "rollout_fixture.h"

namespace canaryctl::integration {
namespace {

namespace fs = std::filesystem;

class CliFlowTest : public RolloutFixture {};

TEST_P(CliFlowTest, HybridArticleFlow) { WholeFlow(kHybrid); }
TEST_P(CliFlowTest, CanaryFlow) { WholeFlow(kCanary); }
TEST_P(CliFlowTest, BlueGreenFlow) { WholeFlow(kBlueGreen); }

TEST_P(CliFlowTest, FailingCheckAtThirtyRestoresAllTrafficToStable) {
  InstallStable(kHybrid);
  config_ = Config(kHybrid);
  ASSERT_TRUE(Succeeded(Canaryctl({"deploy"})));
  ASSERT_TRUE(Succeeded(Canaryctl({"test"})));
  auto shift = Canaryctl({"shift", "30"}, {{"FAIL_AT", "30"}});
  EXPECT_EQ(shift.exit_code, 1) << shift.Describe();
  EXPECT_NE(shift.err.find("the candidate fails at 30%"), std::string::npos) << shift.err;
  ExpectWeights(kHybrid, 100, 0, "after the failed shift");
  EXPECT_EQ(Str(State(), "/phase"), "rolled-back");
  EXPECT_FALSE(Locked());
  EXPECT_NE(Report("junit.xml").find("<failure"), std::string::npos) << Report("junit.xml");
  ExpectReports("shift", 0, "rolled_back");
  // Stable still serves v1; the candidate was kept (rollback.candidate: keep).
  EXPECT_EQ(DeployedTag("demoapp", "prod"), "v1");
  // The rollback job that GitLab runs on failure converges.
  auto rollback = Canaryctl({"rollback"});
  EXPECT_TRUE(Succeeded(rollback));
  ExpectWeights(kHybrid, 100, 0, "after rollback");
}

TEST_P(CliFlowTest, RollbackFromEveryPhase) {
  InstallStable(kHybrid);
  config_ = Config(kHybrid, "rollback: {candidate: uninstall}\n");
  ASSERT_TRUE(Succeeded(Canaryctl({"deploy"})));
  ASSERT_TRUE(Succeeded(Canaryctl({"test"})));
  ASSERT_TRUE(Succeeded(Canaryctl({"shift", "30"})));
  ASSERT_TRUE(Succeeded(Canaryctl({"shift", "60"})));
  auto rb = Canaryctl({"rollback"});
  ASSERT_TRUE(Succeeded(rb));
  ExpectWeights(kHybrid, 100, 0, "after rollback");
  EXPECT_EQ(Str(State(), "/phase"), "rolled-back");
  auto releases = HelmJson(*clients_, {"list", "-n", "stage"});
  EXPECT_EQ(Len(releases, ""), 0u) << ToJson(releases);  // uninstalled
  EXPECT_TRUE(Succeeded(Canaryctl({"rollback"})));
  // A new rollout can start.
  tag_ = "v3";
  ASSERT_TRUE(Succeeded(Canaryctl({"deploy"})));
  EXPECT_EQ(DeployedTag("demoapp", "stage"), "v3");
}

TEST_P(CliFlowTest, SecondPipelineIsRefusedWithExitFourNamingTheHolder) {
  InstallStable(kHybrid);
  config_ = Config(kHybrid);
  ASSERT_TRUE(Succeeded(Canaryctl({"deploy"})));
  const std::string rv = Rv();
  pipeline_ = "200";
  auto other = Canaryctl({"deploy"});
  EXPECT_EQ(other.exit_code, 4) << other.Describe();
  EXPECT_NE(other.err.find("https://gitlab.example.com/team/demoapp/-/jobs/1007"),
            std::string::npos)
      << other.err;
  EXPECT_EQ(Rv(), rv);
  // --force takes over and says so.
  auto forced = Canaryctl({"--force", "test"});
  EXPECT_TRUE(Succeeded(forced));
  EXPECT_NE(forced.err.find("1007"), std::string::npos) << forced.err;
}

TEST_P(CliFlowTest, StatusAndPlanAndDryRunChangeNothing) {
  InstallStable(kHybrid);
  config_ = Config(kHybrid);
  ASSERT_TRUE(Succeeded(Canaryctl({"deploy"})));
  ASSERT_TRUE(Succeeded(Canaryctl({"test"})));
  const std::string rv = Rv();
  auto plan = Canaryctl({"plan"});
  ASSERT_TRUE(Succeeded(plan));
  EXPECT_NE(plan.out.find("shift 30"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("weight 30"), std::string::npos) << plan.out;
  auto dry = Canaryctl({"--dry-run", "deploy"});
  EXPECT_TRUE(Succeeded(dry));
  auto dry_shift = Canaryctl({"--dry-run", "shift", "30"});
  ASSERT_TRUE(Succeeded(dry_shift));
  EXPECT_NE(dry_shift.out.find("weight 30"), std::string::npos) << dry_shift.out;
  auto status = Canaryctl({"status", "-o", "json"});
  ASSERT_TRUE(Succeeded(status));
  std::string err;
  auto json = ParseJson(status.out, &err);
  ASSERT_TRUE(err.empty()) << err << status.out;
  EXPECT_EQ(Str(json, "/phase"), "testing");
  auto text = Canaryctl({"status"});
  ASSERT_TRUE(Succeeded(text));
  EXPECT_NE(text.out.find("testing"), std::string::npos) << text.out;
  EXPECT_EQ(Rv(), rv);
  EXPECT_EQ(HelmRevisions("demoapp", "stage"), 1u);
}

TEST_P(CliFlowTest, InvalidConfigurationsMakeNoRequestToTheCluster) {
  InstallStable(kHybrid);
  // The configuration corpus of the unit tests: NAME.yaml fails with the lines of
  // NAME.expected, given the variables of NAME.env.
  const std::string corpus = SourcePath("test/unit/config/data/invalid");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(corpus)) {
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 25u);
  const size_t before = CanaryctlRequests();
  for (const fs::path& file : files) {
    const fs::path base = fs::path(file).replace_extension();
    config_ = work_->Write("rollout.yaml", ReadFile(file.string()));
    std::map<std::string, std::string> env = {{"CI_COMMIT_SHORT_SHA", "abc1234"}};
    std::ifstream env_file(base.string() + ".env");
    for (std::string line; std::getline(env_file, line);) {
      env[line.substr(0, line.find('='))] = line.substr(line.find('=') + 1);
    }
    const size_t requests = CanaryctlRequests();
    auto r = Canaryctl({"deploy"}, env);
    EXPECT_EQ(CanaryctlRequests(), requests) << file << " reached the cluster";
    EXPECT_EQ(r.exit_code, 2) << file << "\n" << r.Describe();
    std::istringstream expected(ReadFile(base.string() + ".expected"));
    for (std::string line; std::getline(expected, line);) {
      for (size_t at = line.find("rollout.yaml:"); at != std::string::npos;
           at = line.find("rollout.yaml:", at + config_.size())) {
        if (at == 0 || line[at - 1] == ' ')
          line.replace(at, 12, config_);
        else
          break;
      }
      EXPECT_NE(r.err.find(line), std::string::npos) << file << ": missing\n"
                                                     << line << "\nin\n"
                                                     << r.err;
    }
  }
  // A valid config with an unreadable kubeconfig is also a configuration error.
  config_ = Config(kHybrid);
  auto bad_kubeconfig =
      Canaryctl({"deploy"}, {}, work_->Write("kc", "apiVersion: v1\nclusters: 7\n"));
  EXPECT_EQ(bad_kubeconfig.exit_code, 2) << bad_kubeconfig.Describe();
  auto usage = Canaryctl({"shift", "101"});
  EXPECT_EQ(usage.exit_code, 2) << usage.Describe();
  EXPECT_EQ(CanaryctlRequests(), before);
  // The control: a valid command is seen in the log.
  ASSERT_TRUE(Succeeded(Canaryctl({"status"})));
  EXPECT_GT(CanaryctlRequests(), before);
}

// `run` performs the whole flow; the candidate's commit and the changelog since the stable
// release's commit come from the repository; a secret never reaches a log or a report.
TEST_P(CliFlowTest, RunRecordsCommitsAndChangelogAndHidesSecrets) {
  InstallStable(kHybrid);
  const std::string secret = "s3cr3t-9c1f7e2a44b0";
  config_ = Config(kHybrid,
                   "secrets: [DEPLOY_TOKEN]\n"
                   "lock: {ttl: 30m}\n");
  // The secret goes to helm as a value too (redacted from the command shown).
  std::string yaml = ReadFile(config_);
  yaml.replace(yaml.find("set: {deployment.tag: \"${TAG}\"}"),
               std::string("set: {deployment.tag: \"${TAG}\"}").size(),
               "set: {deployment.tag: \"${TAG}\", db.password: \"${DEPLOY_TOKEN}\"}");
  config_ = work_->Write("rollout.yaml", yaml);
  work_->Write("gate.sh", "echo \"using token $DEPLOY_TOKEN\"\n" + std::string(kGateScript));

  RunOptions git_env;
  git_env.cwd = work_->path();
  git_env.env = {{"GIT_AUTHOR_NAME", "Ana"},    {"GIT_AUTHOR_EMAIL", "ana@example.com"},
                 {"GIT_COMMITTER_NAME", "Ana"}, {"GIT_COMMITTER_EMAIL", "ana@example.com"},
                 {"HOME", work_->path()},       {"GIT_CONFIG_NOSYSTEM", "1"}};
  auto git = [&](std::vector<std::string> args) {
    auto r = RunProcess("/usr/bin/git", args, git_env);
    EXPECT_TRUE(Succeeded(r));
    while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.out;
  };
  git({"init", "-q", "-b", "main"});
  git({"commit", "-q", "--allow-empty", "-m", "Initial version"});
  const std::string v1 = git({"rev-parse", "HEAD"});

  std::vector<CommandResult> results;
  auto canaryctl = [&](std::vector<std::string> args, std::map<std::string, std::string> env) {
    env["DEPLOY_TOKEN"] = secret;
    results.push_back(Canaryctl(args, env));
    return results.back();
  };
  auto first = canaryctl({"-v", "run", "--pause", "0s"}, {{"CI_COMMIT_SHA", v1}});
  ASSERT_TRUE(Succeeded(first));
  EXPECT_EQ(Str(State(), "/phase"), "promoted");
  EXPECT_EQ(Str(State(), "/stable/commit"), v1);
  ExpectWeights(kHybrid, 100, 0, "after run");
  EXPECT_NE(Report("junit.xml").find("shift/60"), std::string::npos);

  git({"commit", "-q", "--allow-empty", "-m", "Add the search page"});
  git({"commit", "-q", "--allow-empty", "-m", "Fix the login redirect"});
  const std::string v3 = git({"rev-parse", "HEAD"});
  tag_ = "v3";
  pipeline_ = "300";
  ASSERT_TRUE(Succeeded(canaryctl({"deploy"}, {{"CI_COMMIT_SHA", v3}})));
  EXPECT_EQ(Str(State(), "/candidate/commit"), v3);
  const std::string summary = Report("summary.md");
  EXPECT_NE(summary.find("Add the search page"), std::string::npos) << summary;
  EXPECT_NE(summary.find("Fix the login redirect"), std::string::npos) << summary;
  EXPECT_EQ(summary.find("Initial version"), std::string::npos) << summary;
  EXPECT_NE(Report("rollout.env").find("CANARYCTL_CANDIDATE_COMMIT=" + v3), std::string::npos);

  // A failing check prints its output (which holds the secret) into the log: masked.
  ASSERT_TRUE(Succeeded(canaryctl({"-v", "test"}, {{"CI_COMMIT_SHA", v3}})));
  auto failed = canaryctl({"-v", "--log-format", "json", "shift", "30"},
                          {{"CI_COMMIT_SHA", v3}, {"FAIL_AT", "30"}});
  EXPECT_EQ(failed.exit_code, 1) << failed.Describe();
  EXPECT_NE(failed.err.find("using token [MASKED]"), std::string::npos) << failed.err;
  // --log-format json: every line of the log is one JSON object.
  std::istringstream lines(failed.err);
  for (std::string line; std::getline(lines, line);) {
    std::string err;
    ParseJson(line, &err);
    EXPECT_TRUE(err.empty()) << line;
  }
  for (const auto& r : results) {
    EXPECT_EQ(r.out.find(secret), std::string::npos) << r.command;
    EXPECT_EQ(r.err.find(secret), std::string::npos) << r.command;
  }
  for (const auto& e : fs::directory_iterator(work_->path() + "/reports")) {
    EXPECT_EQ(ReadFile(e.path().string()).find(secret), std::string::npos) << e.path();
  }
  // helm did receive it.
  auto values = HelmJson(*clients_, {"get", "values", "demoapp", "-n", "prod"});
  EXPECT_EQ(Str(values, "/db/password"), secret);
}

// SIGTERM during a step and helm failing: test/integration/faults/ (kill_resume_test.cc,
// helm_failure_test.cc).

INSTANTIATE_TEST_SUITE_P(Tools, CliFlowTest, testing::ValuesIn(ToolSets()), ToolSetName);

// ---------------------------------------------------------------------------------------------
// TLS: client certificates, and a bearer token with the cluster's CA.

class CliTlsTest : public SandboxTest {
 protected:
  CliTlsTest() : SandboxTest(Options()) {}
  static SandboxOptions Options() {
    SandboxOptions o;
    o.tls = true;
    o.token = "tok-3f9a2c71e5d84b06";
    return o;
  }
};

TEST_P(CliTlsTest, FlowOverTlsWithClientCertificateAndWithToken) {
  ASSERT_TRUE(Succeeded(Kubectl({"apply", "-f", SourcePath("examples/istio/crds/")})));
  ASSERT_TRUE(Succeeded(Helm({"upgrade", "--install", "demoapp", SourcePath("examples/demoapp"),
                              "--namespace", "prod", "--create-namespace", "--set",
                              "deployment.tag=v1", "--wait", "--timeout", "60s"})));
  TempDir work("canaryctl-tls");
  // A kubeconfig with only the CA and the token (no client certificate).
  YAML::Node kc = YAML::LoadFile(sandbox_.kubeconfig());
  for (auto user : kc["users"]) {
    YAML::Node u;
    u["token"] = Options().token;
    user["user"] = u;
  }
  YAML::Emitter emitter;
  emitter << kc;
  const std::string token_kc = work.Write("token-kubeconfig", emitter.c_str());
  const std::string config =
      work.Write("rollout.yaml", MinimalRolloutYaml(work.path() + "/reports"));
  auto run = [&](const std::string& kubeconfig, std::vector<std::string> args) {
    std::vector<std::string> full = {"--config", config, "--kubeconfig", kubeconfig, "-v"};
    full.insert(full.end(), args.begin(), args.end());
    RunOptions o;
    o.env = PrivateClientEnv(clients_->home(), kubeconfig);
    o.env["HELM_BIN"] = clients_->tools().helm;
    o.cwd = work.path();
    return RunProcess(CANARYCTL_BIN, full, o);
  };
  auto deploy = run(sandbox_.kubeconfig(), {"deploy"});
  ASSERT_TRUE(Succeeded(deploy));
  auto test = run(token_kc, {"test"});
  ASSERT_TRUE(Succeeded(test));
  auto shift = run(token_kc, {"shift", "100"});
  ASSERT_TRUE(Succeeded(shift));
  auto promote = run(sandbox_.kubeconfig(), {"promote"});
  ASSERT_TRUE(Succeeded(promote));
  // The token is never printed, even with -v, nor written to a report.
  for (const auto* r : {&test, &shift}) {
    EXPECT_EQ(r->err.find(Options().token), std::string::npos);
    EXPECT_EQ(r->out.find(Options().token), std::string::npos);
  }
  for (const auto& e : fs::directory_iterator(work.path() + "/reports")) {
    EXPECT_EQ(ReadFile(e.path().string()).find(Options().token), std::string::npos) << e.path();
  }
  // Nor is the client key (deploy and promote ran with it, -v).
  const std::string key_pem =
      YAML::LoadFile(sandbox_.kubeconfig())["users"][0]["user"]["client-key-data"]
          .as<std::string>();
  for (const auto* r : {&deploy, &promote}) {
    EXPECT_EQ(r->err.find(key_pem.substr(0, 40)), std::string::npos);
    EXPECT_EQ(r->err.find("PRIVATE KEY"), std::string::npos);
  }
  // A wrong CA is refused.
  YAML::Node wrong = YAML::LoadFile(token_kc);
  for (auto cluster : wrong["clusters"]) {
    cluster["cluster"]["certificate-authority-data"] =
        YAML::LoadFile(sandbox_.kubeconfig())["users"][0]["user"]["client-certificate-data"];
  }
  YAML::Emitter e2;
  e2 << wrong;
  auto refused = run(work.Write("wrong-ca", e2.c_str()), {"status"});
  EXPECT_EQ(refused.exit_code, 3) << refused.Describe();
}

INSTANTIATE_TEST_SUITE_P(Tools, CliTlsTest, testing::ValuesIn(ToolSets()), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration

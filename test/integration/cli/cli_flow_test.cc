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

#include "sandbox_fixture.h"

namespace canaryctl::integration {
namespace {

namespace fs = std::filesystem;

// A VirtualService that holds more than canaryctl manages: another route with a match, retries
// and a timeout on the managed route, an annotation and a label. None of it may change.
constexpr char kVirtualService[] = R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: demoapp
  namespace: prod
  annotations: {team: payments}
  labels: {app: demoapp}
spec:
  hosts: ["*"]
  gateways: [app-gateway]
  http:
  - name: admin
    match: [{uri: {prefix: /admin}}]
    route: [{destination: {host: flaskapp.prod.svc.cluster.local}}]
  - name: main
    retries: {attempts: 3, perTryTimeout: 2s}
    timeout: 10s
    route:
    - destination: {host: flaskapp.prod.svc.cluster.local}
      weight: 100
)";

// Fails (exit 1) when the step's weight is the one in FAIL_AT; records every call.
constexpr char kGateScript[] = R"(#!/bin/sh
echo "phase=$CANARYCTL_PHASE weight=$CANARYCTL_WEIGHT target=$CANARYCTL_TARGET_URL" >> "$GATE_LOG"
if [ "$CANARYCTL_WEIGHT" = "${FAIL_AT:-none}" ]; then
  echo "the candidate fails at $CANARYCTL_WEIGHT%"
  exit 1
fi
)";

struct Strategy {
  std::string name;  // hybrid | canary | blue-green
  std::string stable_ns, stable_release, stable_service;
  std::string candidate_ns, candidate_release, candidate_service;
  std::vector<int> steps;
};

const Strategy kHybrid{"hybrid", "prod",    "demoapp",  "flaskapp",
                       "stage",  "demoapp", "flaskapp", {30, 60, 100}};
const Strategy kCanary{"canary", "prod",           "demoapp",         "flaskapp",
                       "prod",   "demoapp-canary", "flaskapp-canary", {50, 100}};
const Strategy kBlueGreen{"blue-green", "prod",          "demoapp-blue",   "flaskapp-blue",
                          "prod",       "demoapp-green", "flaskapp-green", {100}};

std::string Fqdn(const std::string& service, const std::string& ns) {
  return service + "." + ns + ".svc.cluster.local";
}

class CliFlowTest : public SandboxTest {
 protected:
  CliFlowTest() : SandboxTest(Options()) {}
  static SandboxOptions Options() {
    SandboxOptions o;
    o.request_log = true;
    return o;
  }

  void SetUp() override {
    SandboxTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(Succeeded(Kubectl({"apply", "-f", SourcePath("examples/istio/crds/")})));
    work_ = std::make_unique<TempDir>("canaryctl-cli");
    gate_log_ = work_->path() + "/gate.log";
    gate_ = work_->Write("gate.sh", kGateScript);
    fs::permissions(gate_, fs::perms::owner_all);
  }

  // Installs v1 of the chart as the stable release of `s`, as the article starts.
  void InstallStable(const Strategy& s) {
    ASSERT_TRUE(
        Succeeded(Helm({"upgrade", "--install", s.stable_release, SourcePath("examples/demoapp"),
                        "--namespace", s.stable_ns, "--create-namespace", "--set",
                        "deployment.tag=v1", "--wait", "--timeout", "60s"})));
  }

  std::string Config(const Strategy& s, const std::string& extra = "") {
    std::string steps;
    for (int w : s.steps) steps += ", " + std::to_string(w);
    std::string yaml =
        "app: demoapp\nstrategy: " + s.name + "\n" +
        "helm:\n  chart: " + SourcePath("examples/demoapp") + "\n  values: [" +
        SourcePath("examples/demoapp/values.yaml") + "]" +
        "\n  set: {deployment.tag: \"${TAG}\"}\n  timeout: 60s\n" +
        "stable: {namespace: " + s.stable_ns + ", release: " + s.stable_release +
        ", service: " + s.stable_service + "}\n" + "candidate: {namespace: " + s.candidate_ns +
        ", release: " + s.candidate_release + ", service: " + s.candidate_service + "}\n" +
        "traffic:\n  virtualService: {namespace: prod, name: demoapp, create: "
        "true, gateways: [app-gateway], hosts: [\"*\"]}\n" +
        "  steps: [0" + steps + "]\n" + "  testRoute: {header: x-canary, value: always}\n" +
        "checks:\n  - {name: gate, command: [\"/bin/sh\", \"" + gate_ + "\"]}\n";
    if (!sandbox_.server().starts_with("https")) {
      yaml += "  - {name: api, http: {url: \"" + sandbox_.server() +
              "/version\", expect: {status: 200, body: {contains: gitVersion}}}}\n";
    }
    yaml += "reports: {dir: " + work_->path() + "/reports}\n" + extra;
    return work_->Write("rollout.yaml", yaml);
  }

  // What a GitLab job of pipeline_ gives canaryctl.
  std::map<std::string, std::string> Env() {
    auto env = PrivateClientEnv(clients_->home(), sandbox_.kubeconfig());
    env["HELM_BIN"] = clients_->tools().helm;
    env["GITLAB_CI"] = "true";
    env["CI"] = "true";
    env["CI_PIPELINE_ID"] = pipeline_;
    env["CI_JOB_URL"] = "https://gitlab.example.com/team/demoapp/-/jobs/" + pipeline_ + "7";
    env["CI_PROJECT_DIR"] = work_->path();
    env["GITLAB_USER_LOGIN"] = "alice";
    env["TAG"] = tag_;
    env["GATE_LOG"] = gate_log_;
    return env;
  }

  CommandResult Canaryctl(std::vector<std::string> args,
                          const std::map<std::string, std::string>& extra_env = {},
                          const std::string& kubeconfig = "") {
    std::vector<std::string> full = {"--config", config_, "--kubeconfig",
                                     kubeconfig.empty() ? sandbox_.kubeconfig() : kubeconfig};
    full.insert(full.end(), args.begin(), args.end());
    RunOptions o;
    o.env = Env();
    for (const auto& [k, v] : extra_env) o.env[k] = v;
    o.cwd = work_->path();
    o.timeout = std::chrono::seconds(240);
    return RunProcess(CANARYCTL_BIN, full, o);
  }

  Poco::Dynamic::Var Vs() { return Get({"get", "virtualservice", "demoapp", "-n", "prod"}); }

  // The weights of the managed route, by destination host.
  std::map<std::string, int> Weights(const Poco::Dynamic::Var& vs) {
    std::map<std::string, int> w;
    const size_t routes = Len(vs, "/spec/http").value_or(0);
    for (size_t i = 0; i < routes; ++i) {
      const std::string base = "/spec/http/" + std::to_string(i);
      if (Str(vs, base + "/name").value_or("") == "canaryctl-test-route") continue;
      if (Str(vs, base + "/name").value_or("") == "admin") continue;
      const size_t dests = Len(vs, base + "/route").value_or(0);
      for (size_t j = 0; j < dests; ++j) {
        const std::string d = base + "/route/" + std::to_string(j);
        w[Str(vs, d + "/destination/host").value_or("?")] =
            static_cast<int>(Int(vs, d + "/weight").value_or(dests == 1 ? 100 : 0));
      }
    }
    return w;
  }

  void ExpectWeights(const Strategy& s, int stable, int candidate, const std::string& when) {
    auto w = Weights(Vs());
    EXPECT_EQ(w[Fqdn(s.stable_service, s.stable_ns)], stable) << when;
    EXPECT_EQ(w[Fqdn(s.candidate_service, s.candidate_ns)], candidate) << when;
    EXPECT_EQ(w.size(), 2u) << when << ": " << ToJson(Vs());
  }

  // Fields canaryctl does not manage are as the user wrote them.
  void ExpectUntouched(const std::string& when) {
    auto vs = Vs();
    EXPECT_EQ(Str(vs, "/metadata/annotations/team"), "payments") << when;
    EXPECT_EQ(Str(vs, "/metadata/labels/app"), "demoapp") << when;
    bool admin = false, main = false;
    for (size_t i = 0; i < Len(vs, "/spec/http").value_or(0); ++i) {
      const std::string base = "/spec/http/" + std::to_string(i);
      const auto name = Str(vs, base + "/name").value_or("");
      if (name == "admin") {
        admin = true;
        EXPECT_EQ(Str(vs, base + "/match/0/uri/prefix"), "/admin") << when;
        EXPECT_EQ(Len(vs, base + "/route"), 1u) << when;
      }
      if (name == "main") {
        main = true;
        EXPECT_EQ(Int(vs, base + "/retries/attempts"), 3) << when;
        EXPECT_EQ(Str(vs, base + "/retries/perTryTimeout"), "2s") << when;
        EXPECT_EQ(Str(vs, base + "/timeout"), "10s") << when;
      }
    }
    EXPECT_TRUE(admin && main) << when << ": " << ToJson(vs);
  }

  Poco::Dynamic::Var State() {
    auto text = Str(Vs(), "/metadata/annotations/canaryctl.io~1state");
    if (!text) return {};
    return ParseJson(*text);
  }
  bool Locked() { return Str(Vs(), "/metadata/annotations/canaryctl.io~1lock").has_value(); }
  std::string Rv() { return Str(Vs(), "/metadata/resourceVersion").value_or(""); }

  size_t HelmRevisions(const std::string& release, const std::string& ns) {
    auto h = HelmJson(*clients_, {"history", release, "-n", ns});
    return Len(h, "").value_or(0);
  }
  std::string DeployedTag(const std::string& release, const std::string& ns) {
    auto v = HelmJson(*clients_, {"get", "values", release, "-n", ns});
    return Str(v, "/deployment/tag").value_or("");
  }

  // Requests canaryctl made so far (helm's watches are logged when they end, so count by agent).
  size_t CanaryctlRequests() {
    std::istringstream log(ReadFile(sandbox_.request_log_path()));
    size_t n = 0;
    for (std::string line; std::getline(log, line);) {
      if (line.find("\"userAgent\":\"canaryctl/") != std::string::npos) ++n;
    }
    return n;
  }

  std::string Report(const std::string& name) {
    return ReadFile(work_->path() + "/reports/" + name);
  }

  void ExpectReports(const std::string& phase, int candidate_weight, const std::string& outcome) {
    const std::string env = Report("rollout.env");
    EXPECT_NE(env.find("CANARYCTL_PHASE=" + phase + "\n"), std::string::npos) << env;
    EXPECT_NE(env.find("CANARYCTL_CANDIDATE_WEIGHT=" + std::to_string(candidate_weight) + "\n"),
              std::string::npos)
        << env;
    EXPECT_NE(env.find("CANARYCTL_OUTCOME=" + outcome + "\n"), std::string::npos) << env;
    const std::string metrics = Report("metrics.txt");
    EXPECT_TRUE(metrics.ends_with("# EOF\n")) << metrics;
    EXPECT_NE(Report("junit.xml").find("<testsuites"), std::string::npos);
    std::string err;
    auto rollout = ParseJson(Report("rollout.json"), &err);
    EXPECT_TRUE(err.empty()) << err;
    EXPECT_EQ(Str(rollout, "/app"), "demoapp");
    ParseJson(Report("annotations.json"), &err);
    EXPECT_TRUE(err.empty()) << err;
    EXPECT_NE(Report("summary.md").find("demoapp"), std::string::npos);
  }

  // Runs the command; it must succeed, then succeed twice more without writing anything or
  // running helm again.
  void RunConverging(const Strategy& s, std::vector<std::string> args) {
    const std::string what = args[0] + (args.size() > 1 ? " " + args[1] : "");
    auto first = Canaryctl(args);
    ASSERT_TRUE(Succeeded(first)) << what;
    const std::string rv = Rv();
    const size_t stable_revs = HelmRevisions(s.stable_release, s.stable_ns);
    const size_t candidate_revs = HelmRevisions(s.candidate_release, s.candidate_ns);
    for (int again = 0; again < 2; ++again) {
      auto rerun = Canaryctl(args);
      ASSERT_TRUE(Succeeded(rerun)) << what << " rerun " << again;
      EXPECT_EQ(Rv(), rv) << what << " rerun wrote to the VirtualService";
      EXPECT_EQ(HelmRevisions(s.stable_release, s.stable_ns), stable_revs) << what;
      EXPECT_EQ(HelmRevisions(s.candidate_release, s.candidate_ns), candidate_revs) << what;
    }
  }

  void WholeFlow(const Strategy& s) {
    InstallStable(s);
    ASSERT_FALSE(HasFatalFailure());
    config_ = Config(s);
    if (s.name == "hybrid") {
      ASSERT_TRUE(Succeeded(Kubectl({"apply", "-f", Write("vs.yaml", kVirtualService)})));
    }

    RunConverging(s, {"deploy"});
    ASSERT_FALSE(HasFatalFailure());
    ExpectWeights(s, 100, 0, "after deploy");
    EXPECT_EQ(Str(State(), "/phase"), "deployed");
    EXPECT_EQ(Str(State(), "/candidate/version"), "v1");  // the chart's appVersion
    EXPECT_EQ(Int(State(), "/candidate/revision"), 1);
    EXPECT_EQ(DeployedTag(s.candidate_release, s.candidate_ns), "v2");
    EXPECT_TRUE(Locked());
    auto ns = Get({"get", "namespace", s.candidate_ns});
    EXPECT_EQ(Str(ns, "/metadata/labels/istio-injection"), "enabled");
    ExpectReports("deploy", 0, "succeeded");

    RunConverging(s, {"test"});
    ASSERT_FALSE(HasFatalFailure());
    EXPECT_EQ(Str(State(), "/phase"), "testing");
    ExpectReports("test", 0, "succeeded");

    for (int w : s.steps) {
      RunConverging(s, {"shift", std::to_string(w)});
      ASSERT_FALSE(HasFatalFailure());
      ExpectWeights(s, 100 - w, w, "after shift " + std::to_string(w));
      EXPECT_EQ(Str(State(), "/phase"), "shifted");
      EXPECT_EQ(Int(State(), "/currentWeights/candidate"), w);
      ExpectReports("shift", w, "succeeded");
      EXPECT_NE(Report("junit.xml").find("shift/" + std::to_string(w)), std::string::npos);
      if (s.name == "hybrid") ExpectUntouched("after shift " + std::to_string(w));
    }

    RunConverging(s, {"promote"});
    ASSERT_FALSE(HasFatalFailure());
    EXPECT_EQ(Str(State(), "/phase"), "promoted");
    EXPECT_FALSE(Locked());
    if (s.name == "blue-green") {
      // The green slot is live now: it is the stable destination, at 100.
      auto w = Weights(Vs());
      EXPECT_EQ(w[Fqdn(s.candidate_service, s.candidate_ns)], 100);
      EXPECT_EQ(w[Fqdn(s.stable_service, s.stable_ns)], 0);
      EXPECT_EQ(Str(State(), "/liveSlot"), "green");
      EXPECT_EQ(HelmRevisions(s.stable_release, s.stable_ns), 1u);  // nothing reinstalled
    } else {
      ExpectWeights(s, 100, 0, "after promote");
      EXPECT_EQ(DeployedTag(s.stable_release, s.stable_ns), "v2");
      EXPECT_EQ(HelmRevisions(s.stable_release, s.stable_ns), 2u);
      // The old code is kept around for rollback.
      EXPECT_EQ(DeployedTag(s.candidate_release, s.candidate_ns), "v2");
    }
    auto vs = Vs();
    for (size_t i = 0; i < Len(vs, "/spec/http").value_or(0); ++i) {
      EXPECT_NE(Str(vs, "/spec/http/" + std::to_string(i) + "/name"), "canaryctl-test-route");
    }
    if (s.name == "hybrid") ExpectUntouched("after promote");
    ExpectReports("promote", 0, "succeeded");

    // Every check ran at every step, against the candidate.
    const std::string gate = ReadFile(gate_log_);
    for (int w : s.steps) {
      EXPECT_NE(gate.find("phase=shift weight=" + std::to_string(w) + " target=http://" +
                          Fqdn(s.candidate_service, s.candidate_ns)),
                std::string::npos)
          << gate;
    }
  }

  std::unique_ptr<TempDir> work_;
  std::string gate_, gate_log_, config_;
  std::string pipeline_ = "100";
  std::string tag_ = "v2";
};

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

// SIGTERM (GitLab cancelling the job) during the checks of a step: the running command check is
// killed with its process group, the state is left consistent with the route, the exit is 130,
// and a rerun finishes.
TEST_P(CliFlowTest, SigtermDuringAStepLeavesAConsistentStateAndExits130) {
  InstallStable(kHybrid);
  config_ = Config(kHybrid);
  ASSERT_TRUE(Succeeded(Canaryctl({"deploy"})));
  ASSERT_TRUE(Succeeded(Canaryctl({"test"})));
  const std::string started = work_->path() + "/started";
  const std::string finished = work_->path() + "/finished";
  // Without the cancel, the check would sleep for 5 minutes and then write `finished`.
  work_->Write("gate.sh", "touch " + started + "\nsleep 300\ntouch " + finished + "\n");
  Poco::Process::Env env;
  for (const auto& [k, v] : Env()) env[k] = v;
  Poco::Pipe out, err;
  Poco::ProcessHandle handle = Poco::Process::launch(
      CANARYCTL_BIN, {"--config", config_, "--kubeconfig", sandbox_.kubeconfig(), "shift", "30"},
      work_->path(), nullptr, &out, &err, env);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(started); }, 30s));
  ASSERT_EQ(kill(handle.id(), SIGTERM), 0);
  Poco::PipeInputStream out_stream(out), err_stream(err);
  std::string output((std::istreambuf_iterator<char>(err_stream)),
                     std::istreambuf_iterator<char>());
  std::string ignored((std::istreambuf_iterator<char>(out_stream)),
                      std::istreambuf_iterator<char>());
  EXPECT_EQ(handle.wait(), 130) << output;
  EXPECT_NE(output.find("interrupted"), std::string::npos) << output;
  EXPECT_NE(output.find("cancelled (canaryctl was interrupted)"), std::string::npos) << output;
  EXPECT_FALSE(fs::exists(finished));
  // The state says what the route holds.
  auto state = State();
  EXPECT_EQ(Str(state, "/phase"), "failed");
  auto w = Weights(Vs());
  EXPECT_EQ(Int(state, "/currentWeights/candidate"), w[Fqdn("flaskapp", "stage")]);
  EXPECT_EQ(Int(state, "/currentWeights/stable"), w[Fqdn("flaskapp", "prod")]);
  EXPECT_TRUE(Locked());  // still this pipeline's, for its retried job
  work_->Write("gate.sh", kGateScript);
  ASSERT_TRUE(Succeeded(Canaryctl({"shift", "30"})));
  ExpectWeights(kHybrid, 70, 30, "after the rerun");
  EXPECT_EQ(Str(State(), "/phase"), "shifted");
}

// helm failing: exit 3 with helm's own last lines, the state records the failure with the
// weights untouched, and a rerun with a working chart converges.
TEST_P(CliFlowTest, HelmFailureExitsThreeWithItsLastLines) {
  InstallStable(kHybrid);
  config_ = Config(kHybrid);
  std::string yaml = ReadFile(config_);
  const std::string chart = SourcePath("examples/demoapp");
  const std::string broken = work_->path() + "/broken-chart";
  fs::copy(chart, broken, fs::copy_options::recursive);
  // A template helm cannot render.
  work_->Write("broken-chart/templates/broken.yaml", "kind: {{ .Values.nope.missing }}\n");
  yaml.replace(yaml.find("chart: " + chart), chart.size() + 7, "chart: " + broken);
  config_ = work_->Write("rollout.yaml", yaml);
  auto r = Canaryctl({"deploy"});
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_NE(r.err.find("nil pointer evaluating interface {}.missing"), std::string::npos) << r.err;
  EXPECT_EQ(Str(State(), "/phase"), "failed");
  ExpectWeights(kHybrid, 100, 0, "after the failed deploy");
  ExpectReports("deploy", 0, "failed");
  fs::remove(broken + "/templates/broken.yaml");
  ASSERT_TRUE(Succeeded(Canaryctl({"deploy"})));
  EXPECT_EQ(Str(State(), "/phase"), "deployed");
}

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
  const std::string config = work.Write(
      "rollout.yaml", "app: demoapp\nhelm: {chart: " + SourcePath("examples/demoapp") +
                          ", set: {deployment.tag: v2}, timeout: 60s}\n"
                          "stable: {namespace: prod, service: flaskapp}\n"
                          "candidate: {namespace: stage, service: flaskapp}\n"
                          "traffic: {virtualService: {create: true, gateways: [gw], hosts: "
                          "[\"*\"]}, steps: [0, 100]}\n"
                          "reports: {dir: " +
                          work.path() + "/reports}\n");
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

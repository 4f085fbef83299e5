// The pipeline templates run end to end by a real third-party GitLab CI engine, gitlab-ci-local
// (with Node 22), in a throwaway git repository holding the demo app's chart, its rollout.yaml
// and a smoke test. Its jobs run the real canaryctl, helm 4 and kubectl against the sandbox.
//
// gitlab-ci-local differs from GitLab in places (shared/notes/gitlab-ci.md); these tests avoid
// depending on them: every gate is opened with --manual (gitlab-ci-local drops a blocking manual
// job that is not named instead of blocking), but no gate after a failing one (gitlab-ci-local
// leaves it pending instead of skipped, and stops); and the on_failure rollback job's stage is
// named in `stages:` (gitlab-ci-local does not run on_failure jobs in `.post`, the template's
// default).
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <gtest/gtest.h>

#include "sandbox_fixture.h"

namespace canaryctl::integration {
namespace {

namespace fs = std::filesystem;

// Checks the candidate from inside the mesh (through the sandbox's gateway, which canaryctl and
// curl reach via HTTP_PROXY), and fails at the weight named by SMOKE_FAIL_AT: a candidate that
// breaks once real users reach it.
constexpr char kSmokeTest[] = R"(#!/bin/sh
set -eu
echo "smoke: ${CANARYCTL_PHASE} at ${CANARYCTL_WEIGHT}% against ${CANARYCTL_TARGET_URL:-?}"
if [ "${CANARYCTL_WEIGHT}" = "${SMOKE_FAIL_AT:-none}" ]; then
  echo "smoke: the candidate answers 500 on /checkout at ${CANARYCTL_WEIGHT}%"
  exit 1
fi
)";

// One strategy's template and releases (DESIGN §1).
struct Strategy {
  std::string name;  // hybrid | canary | blue-green: also the template's file name
  std::string stable_ns, stable_release, stable_service;
  std::string candidate_ns, candidate_release, candidate_service;
  std::string steps;               // rollout.yaml's traffic.steps
  std::vector<std::string> gates;  // the manual jobs of the whole flow, in order
};

const Strategy kHybrid{
    "hybrid",
    "prod",
    "demoapp",
    "flaskapp",
    "stage",
    "demoapp",
    "flaskapp",
    "0, 30, 60, 100",
    {"rollout-shift-30", "rollout-shift-60", "rollout-shift-100", "rollout-promote"}};
const Strategy kCanary{
    "canary",
    "prod",
    "demoapp",
    "flaskapp",
    "prod",
    "demoapp-canary",
    "flaskapp-canary",
    "0, 10, 50, 100",
    {"rollout-shift-10", "rollout-shift-50", "rollout-shift-100", "rollout-promote"}};
const Strategy kBlueGreen{"blue-green",     "prod",   "demoapp-blue",
                          "flaskapp-blue",  "prod",   "demoapp-green",
                          "flaskapp-green", "0, 100", {"rollout-shift-100", "rollout-promote"}};

void PrintTo(const Strategy& s, std::ostream* os) { *os << s.name; }

std::string Fqdn(const std::string& service, const std::string& ns) {
  return service + "." + ns + ".svc.cluster.local";
}

std::string RolloutYaml(const Strategy& s, const std::string& steps) {
  return "app: demoapp\nstrategy: " + s.name + R"(
helm:
  chart: chart
  values: [chart/values.yaml]
  set: {deployment.tag: "${APP_VERSION}"}
  timeout: 60s
stable:    {namespace: )" +
         s.stable_ns + ", release: " + s.stable_release + ", service: " + s.stable_service +
         "}\ncandidate: {namespace: " + s.candidate_ns + ", release: " + s.candidate_release +
         ", service: " + s.candidate_service + R"(}
traffic:
  virtualService: {namespace: prod, name: demoapp, create: true, gateways: [app-gateway], hosts: ["*"]}
  steps: [)" +
         steps +
         R"(]
  testRoute: {header: x-canary, value: always}
checks:
  - name: candidate-health
    http:
      url: http://)" +
         Fqdn(s.candidate_service, s.candidate_ns) + R"(/health
      expect: {status: 200, json: {path: version, equals: "${APP_VERSION}"}}
      retries: 5
      retryDelay: 1s
  - name: smoke
    command: [sh, ci/smoke.sh]
rollback: {auto: true, candidate: keep}
lock: {ttl: 30m}
)";
}

// Serves pipeline-templates/ over HTTP on a loopback port, as a GitLab instance serves a
// released file: for `include: remote`.
class TemplateServer {
 public:
  TemplateServer()
      : server_(new Factory, Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", 0)),
                new Poco::Net::HTTPServerParams) {
    server_.start();
  }
  ~TemplateServer() { server_.stopAll(true); }
  std::string Url(const std::string& file) const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + "/" + file;
  }

 private:
  class Handler : public Poco::Net::HTTPRequestHandler {
    void handleRequest(Poco::Net::HTTPServerRequest& req,
                       Poco::Net::HTTPServerResponse& resp) override {
      const std::string name = req.getURI().substr(1);
      const std::string path = SourcePath("pipeline-templates/" + name);
      if (name.find('/') != std::string::npos || !fs::exists(path)) {
        resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
        resp.send();
        return;
      }
      resp.setContentType("text/plain");
      resp.sendBuffer(ReadFile(path).data(), fs::file_size(path));
    }
  };
  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler;
    }
  };
  Poco::Net::HTTPServer server_;
};

// Makes dir a git repository (origin on a GitLab host, as gitlab-ci-local derives the
// project's path from it) with everything in it committed.
testing::AssertionResult CommitAll(const std::string& dir) {
  for (const std::vector<std::string>& git :
       {std::vector<std::string>{"init", "-q", "-b", "main"},
        {"remote", "add", "origin", "https://gitlab.example.com/team/demoapp.git"},
        {"add", "-A"},
        {"-c", "user.name=Alice", "-c", "user.email=alice@example.com", "commit", "-q", "-m",
         "demoapp v2"}}) {
    RunOptions o;
    o.cwd = dir;
    if (auto r = Succeeded(RunProcess("/usr/bin/git", git, o)); !r) return r;
  }
  return testing::AssertionSuccess();
}

std::string NpmTools() { return SourcePath("tools/npm/node_modules"); }

class TemplateFlowTest : public testing::Test {
 protected:
  static SandboxOptions Options() {
    SandboxOptions o;
    o.gateway = true;
    return o;
  }
  TemplateFlowTest() : sandbox_(Options()), tools_(ToolSets().back()) {}

  void SetUp() override {
    ASSERT_TRUE(ToolSetPresent(tools_));
    ASSERT_TRUE(fs::exists(NpmTools() + "/gitlab-ci-local/package.json"))
        << "gitlab-ci-local is missing: run scripts/setup";
    ASSERT_TRUE(sandbox_.Start());
    clients_ = std::make_unique<Clients>(tools_, sandbox_.kubeconfig());
    ASSERT_TRUE(Succeeded(clients_->Kubectl({"apply", "-f", SourcePath("examples/istio/crds/")})));
  }

  // The article's starting point: v1 serves all traffic from the stable release (hybrid: the
  // VirtualService of examples/istio; the others: canaryctl creates it).
  void StartFrom(const Strategy& s) {
    strategy_ = s;
    auto install = DemoAppUpgradeArgs(s.stable_ns, "v1");
    install[2] = s.stable_release;
    ASSERT_TRUE(Succeeded(clients_->Helm(install)));
    ASSERT_TRUE(
        Succeeded(clients_->Kubectl({"apply", "-f", SourcePath("examples/istio/gateway.yaml")})));
    if (s.name == "hybrid") {
      ASSERT_TRUE(Succeeded(
          clients_->Kubectl({"apply", "-f", SourcePath("examples/istio/virtualservice.yaml")})));
    }
  }

  // The project: the chart, rollout.yaml, the smoke test, the templates (as a project would
  // vendor them for `include: local`) and .gitlab-ci.yml, committed.
  void MakeRepo(const std::string& gitlab_ci, const std::string& steps) {
    const std::string& r = repo_.path();
    fs::copy(SourcePath("examples/demoapp"), r + "/chart", fs::copy_options::recursive);
    fs::copy(SourcePath("pipeline-templates"), r + "/templates", fs::copy_options::recursive);
    repo_.Write("rollout.yaml", RolloutYaml(strategy_, steps));
    repo_.Write("ci/smoke.sh", kSmokeTest);
    repo_.Write(".gitlab-ci.yml", gitlab_ci);
    ASSERT_TRUE(CommitAll(r));
  }

  // gitlab-ci-local on the repository, every job in the shell executor, with `manual` opened.
  CommandResult RunPipeline(const std::vector<std::string>& manual,
                            const std::vector<std::string>& variables = {},
                            const std::vector<std::string>& jobs = {}) {
    std::vector<std::string> args = {NpmTools() + "/gitlab-ci-local/dist/index.js",
                                     "--force-shell-executor", "--no-color", "--home",
                                     home_.path() + "/gcl"};
    for (const auto& job : manual) args.insert(args.end(), {"--manual", job});
    // The jobs' canaryctl reaches *.svc.cluster.local through the gateway, as a project's CI/CD
    // variables would set it (gitlab-ci-local itself must not use the proxy).
    std::vector<std::string> all = {"HTTP_PROXY=" + sandbox_.gateway_url(),
                                    "NO_PROXY=127.0.0.1,localhost"};
    all.insert(all.end(), variables.begin(), variables.end());
    for (const auto& v : all) args.insert(args.end(), {"--variable", v});
    args.insert(args.end(), jobs.begin(), jobs.end());
    RunOptions o;
    o.env = PrivateClientEnv(home_.path(), sandbox_.kubeconfig());
    o.env["PATH"] = fs::path(CANARYCTL_BIN).parent_path().string() + ":" +
                    fs::path(tools_.kubectl).parent_path().string() + ":" + NpmTools() +
                    "/.bin:/usr/local/bin:/usr/bin:/bin";
    o.env["HELM_BIN"] = tools_.helm;
    o.cwd = repo_.path();
    o.timeout = std::chrono::minutes(8);
    auto r = RunProcess(NpmTools() + "/.bin/node", args, o);
    last_output_ = r.out + r.err;
    return r;
  }

  // A job's log as gitlab-ci-local kept it ("" when the job did not run).
  std::string JobLog(const std::string& job) {
    const std::string path = repo_.path() + "/.gitlab-ci-local/output/" + job + ".log";
    return fs::exists(path) ? ReadFile(path) : "";
  }
  bool Ran(const std::string& job) { return !JobLog(job).empty(); }

  // gitlab-ci-local's summary line for a job: " PASS  job" or " FAIL  job", padded.
  bool Summary(const std::string& verdict, const std::string& job) {
    const std::string line = " " + verdict + "  " + job;
    for (size_t at = last_output_.find(line); at != std::string::npos;
         at = last_output_.find(line, at + 1)) {
      const char next =
          at + line.size() < last_output_.size() ? last_output_[at + line.size()] : '\n';
      if (next == ' ' || next == '\n') return true;
    }
    return false;
  }
  bool Passed(const std::string& job) { return Summary("PASS", job); }
  bool Failed(const std::string& job) { return Summary("FAIL", job); }

  // The managed route's weights, as "stable/candidate" of the strategy's two services.
  std::string Weights() {
    auto vs = KubectlJson(*clients_, {"get", "virtualservice", "demoapp", "-n", "prod"});
    int stable = -1, candidate = -1;
    const size_t routes = Len(vs, "/spec/http").value_or(0);
    for (size_t i = 0; i < routes; ++i) {
      const std::string route = "/spec/http/" + std::to_string(i) + "/route";
      if (Len(vs, route).value_or(0) != 2) continue;
      for (int j = 0; j < 2; ++j) {
        const std::string d = route + "/" + std::to_string(j);
        const std::string host = Str(vs, d + "/destination/host").value_or("");
        const int w = static_cast<int>(Int(vs, d + "/weight").value_or(0));
        if (host == Fqdn(strategy_.stable_service, strategy_.stable_ns)) stable = w;
        if (host == Fqdn(strategy_.candidate_service, strategy_.candidate_ns)) candidate = w;
      }
    }
    return std::to_string(stable) + "/" + std::to_string(candidate);
  }

  std::string Phase() {
    auto vs = KubectlJson(*clients_, {"get", "virtualservice", "demoapp", "-n", "prod"});
    auto state = ParseJson(Str(vs, "/metadata/annotations/canaryctl.io~1state").value_or(""));
    return Str(state, "/phase").value_or("(none)");
  }

  // The image tag a Deployment runs.
  std::string Tag(const std::string& deployment, const std::string& ns) {
    auto d = KubectlJson(*clients_, {"get", "deployment", deployment, "-n", ns});
    const std::string image = Str(d, "/spec/template/spec/containers/0/image").value_or("");
    return image.substr(image.rfind(':') + 1);
  }

  // Which version users get through the gateway now (the X-Version of 20 answers; "mixed"
  // when they differ).
  std::string ServedVersion() {
    std::string seen;
    for (int i = 0; i < 20; ++i) {
      auto r =
          RunProcess("/usr/bin/curl", {"-sS", "-o", "/dev/null", "-D", "-", "-H",
                                       "Host: demoapp.example.com", sandbox_.gateway_url() + "/"});
      std::string lower = r.out;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const std::string key = "x-version: ";
      const size_t at = lower.find(key);
      if (at == std::string::npos) return "(no answer: " + r.Describe() + ")";
      const std::string v = r.out.substr(at + key.size(), r.out.find('\r', at) - at - key.size());
      if (!seen.empty() && v != seen) return "mixed";
      seen = v;
    }
    return seen;
  }

  Sandbox sandbox_;
  ToolSet tools_;
  std::unique_ptr<Clients> clients_;
  Strategy strategy_;
  TempDir repo_{"canaryctl-e2e-repo"};
  TempDir home_{"canaryctl-e2e-home"};
  std::string last_output_;
};

// The project's .gitlab-ci.yml: the strategy's template, with its rollback job in a named last
// stage (see the file comment), included from the repository (`include: local`) or, given a
// URL, from a server (`include: remote`).
std::string StaticPipeline(const Strategy& s, const std::string& remote_url = "",
                           const std::string& more_inputs = "") {
  const std::string include = remote_url.empty()
                                  ? "  - local: templates/" + s.name + ".gitlab-ci.yml\n"
                                  : "  - remote: " + remote_url + "\n";
  return R"(stages: [deploy, cleanup]
variables:
  APP_VERSION: v2
include:
)" + include +
         R"(    inputs:
      config: rollout.yaml
      rollback-stage: cleanup
      environment: production
)" + more_inputs;
}

class StrategyTemplateTest : public TemplateFlowTest,
                             public testing::WithParamInterface<Strategy> {};

TEST_P(StrategyTemplateTest, HappyPathEndsWithTheNewVersionServingAllTraffic) {
  const Strategy& s = GetParam();
  StartFrom(s);
  ASSERT_FALSE(HasFatalFailure());
  // The canary template comes over HTTP, as `include: remote` of a released file, and selects
  // the kubeconfig's context as it would the GitLab agent's.
  TemplateServer server;
  const bool canary = s.name == "canary";
  MakeRepo(StaticPipeline(s, canary ? server.Url("canary.gitlab-ci.yml") : "",
                          canary ? "      kube-context: canaryctl-sandbox\n" : ""),
           s.steps);
  ASSERT_FALSE(HasFatalFailure());
  // (The other strategies' VirtualService is created by the deploy job.)
  if (s.name == "hybrid") {
    ASSERT_EQ(ServedVersion(), "v1");
  }

  auto run = RunPipeline(s.gates);
  ASSERT_TRUE(run.ok()) << run.Describe();
  std::vector<std::string> jobs = {"rollout-deploy", "rollout-test"};
  jobs.insert(jobs.end(), s.gates.begin(), s.gates.end());
  for (const auto& job : jobs) EXPECT_TRUE(Passed(job)) << job << "\n" << last_output_;
  // Nothing failed, so the on_failure rollback did not run; abort was never opened.
  EXPECT_FALSE(Ran("rollout-rollback")) << JobLog("rollout-rollback");
  EXPECT_FALSE(Ran("rollout-abort"));
  if (canary) {
    EXPECT_NE(JobLog("rollout-deploy").find("Switched to context \"canaryctl-sandbox\""),
              std::string::npos)
        << JobLog("rollout-deploy");
  }
  // Each step job shifted, then checked at its weight.
  const std::string last_step = JobLog("rollout-shift-100");
  EXPECT_NE(last_step.find("$ canaryctl shift 100"), std::string::npos) << last_step;
  EXPECT_NE(last_step.find("check smoke at 100%: pass"), std::string::npos) << last_step;
  EXPECT_EQ(Phase(), "promoted");
  EXPECT_EQ(ServedVersion(), "v2");
  if (s.name == "blue-green") {
    EXPECT_EQ(Weights(), "0/100");  // the green slot is live; nothing was reinstalled
  } else {
    EXPECT_EQ(Weights(), "100/0");
    EXPECT_EQ(Tag(s.stable_service, s.stable_ns), "v2");
  }
}

INSTANTIATE_TEST_SUITE_P(Templates, StrategyTemplateTest,
                         testing::Values(kHybrid, kCanary, kBlueGreen),
                         [](const testing::TestParamInfo<Strategy>& info) {
                           return info.param.name == "blue-green" ? std::string("blue_green")
                                                                  : info.param.name;
                         });

TEST_F(TemplateFlowTest, CandidateFailingAtThirtyIsRolledBackAndTheRollbackJobRuns) {
  StartFrom(kHybrid);
  ASSERT_FALSE(HasFatalFailure());
  MakeRepo(StaticPipeline(kHybrid), kHybrid.steps);
  ASSERT_FALSE(HasFatalFailure());
  // Only the 30% gate is opened: in GitLab the gates after a failed one are skipped, while
  // gitlab-ci-local leaves a named manual job whose need failed pending and then stops before
  // the rollback stage.
  auto run = RunPipeline({"rollout-shift-30"}, {"SMOKE_FAIL_AT=30"});
  EXPECT_FALSE(run.ok()) << run.Describe();
  EXPECT_TRUE(Passed("rollout-deploy")) << last_output_;
  EXPECT_TRUE(Passed("rollout-test")) << last_output_;
  EXPECT_TRUE(Failed("rollout-shift-30")) << last_output_;
  // The step job itself sent all traffic back before failing (exit 1).
  const std::string step = JobLog("rollout-shift-30");
  EXPECT_NE(step.find("the candidate answers 500 on /checkout at 30%"), std::string::npos) << step;
  EXPECT_NE(step.find("rollback: all traffic on stable (100/0)"), std::string::npos) << step;
  // Later gates never ran; the on_failure rollback job did, and converged.
  EXPECT_FALSE(Ran("rollout-shift-60"));
  EXPECT_FALSE(Ran("rollout-promote"));
  EXPECT_TRUE(Passed("rollout-rollback")) << last_output_ << JobLog("rollout-rollback");
  EXPECT_NE(JobLog("rollout-rollback").find("$ canaryctl rollback"), std::string::npos);
  EXPECT_EQ(Weights(), "100/0");
  EXPECT_EQ(Phase(), "rolled-back");
  EXPECT_EQ(Tag("flaskapp", "prod"), "v1");
  EXPECT_EQ(ServedVersion(), "v1");
}

TEST_F(TemplateFlowTest, DotenvOfOneJobIsVisibleInTheNext) {
  StartFrom(kHybrid);
  ASSERT_FALSE(HasFatalFailure());
  MakeRepo(StaticPipeline(kHybrid), kHybrid.steps);
  ASSERT_FALSE(HasFatalFailure());
  // Only deploy and test (`--needs` runs what the named job needs).
  auto run = RunPipeline({}, {}, {"rollout-test", "--needs"});
  ASSERT_TRUE(run.ok()) << run.Describe();
  const std::string env = ReadFile(repo_.path() + "/canaryctl-reports/rollout.env");
  EXPECT_NE(env.find("CANARYCTL_CANDIDATE_VERSION="), std::string::npos) << env;
  // deploy's dotenv (deploy succeeded, 100/0) reached test's shell through `needs`.
  const std::string test = JobLog("rollout-test");
  EXPECT_NE(test.find("previous job: deploy succeeded, weights 100/0 (stable/candidate)"),
            std::string::npos)
      << test;
  const std::string deploy = JobLog("rollout-deploy");
  EXPECT_NE(deploy.find("previous job: none , weights ?/? (stable/candidate)"), std::string::npos)
      << deploy;
}

// The dynamic template: its plan job runs `canaryctl pipeline`, and the trigger job runs the
// child pipeline it printed, with one gate per step of rollout.yaml's 5-step plan.
TEST_F(TemplateFlowTest, DynamicTemplateRunsAChildPipelineWithAGatePerStepOfAFiveStepPlan) {
  StartFrom(kHybrid);
  ASSERT_FALSE(HasFatalFailure());
  // The proxy is a global variable here: the trigger job forwards those to the child pipeline
  // (GitLab also forwards project variables; gitlab-ci-local does not forward --variable).
  MakeRepo(R"(stages: [deploy]
variables:
  APP_VERSION: v2
  HTTP_PROXY: )" +
               sandbox_.gateway_url() +
               R"(
  NO_PROXY: 127.0.0.1,localhost
include:
  - local: templates/dynamic.gitlab-ci.yml
    inputs:
      config: rollout.yaml
      environment: production
)",
           "0, 10, 25, 50, 75, 100");
  ASSERT_FALSE(HasFatalFailure());
  const std::vector<int> steps = {10, 25, 50, 75, 100};
  std::vector<std::string> gates;
  for (int w : steps) gates.push_back("rollout-shift-" + std::to_string(w));
  gates.push_back("rollout-promote");

  // (gitlab-ci-local passes the trigger job even when its child fails: the child's jobs are
  // checked one by one below.)
  auto run = RunPipeline(gates);
  ASSERT_TRUE(run.ok()) << run.Describe();
  EXPECT_TRUE(Passed("rollout-plan")) << last_output_;
  EXPECT_TRUE(Passed("rollout-pipeline")) << last_output_;
  // The child pipeline the plan job printed: one gate per step, in order.
  const std::string child = ReadFile(repo_.path() + "/canaryctl-pipeline.yml");
  size_t last = 0;
  for (int w : steps) {
    const size_t at = child.find("rollout-shift-" + std::to_string(w) + ":");
    ASSERT_NE(at, std::string::npos) << child;
    EXPECT_GT(at, last) << "the gate for " << w << "% is out of order\n" << child;
    last = at;
  }
  EXPECT_EQ(child.find("rollout-shift-30:"), std::string::npos) << child;
  std::vector<std::string> jobs = {"rollout-deploy", "rollout-test"};
  jobs.insert(jobs.end(), gates.begin(), gates.end());
  for (const auto& job : jobs) {
    EXPECT_TRUE(Passed("[rollout-pipeline] -> " + job)) << job << "\n" << last_output_;
  }
  for (int w : steps) {
    const std::string log = JobLog("rollout-shift-" + std::to_string(w));
    EXPECT_NE(log.find("check smoke at " + std::to_string(w) + "%: pass"), std::string::npos)
        << log;
  }
  EXPECT_FALSE(Ran("rollout-rollback"));
  EXPECT_EQ(Weights(), "100/0");
  EXPECT_EQ(Phase(), "promoted");
  EXPECT_EQ(Tag("flaskapp", "prod"), "v2");
  EXPECT_EQ(ServedVersion(), "v2");
}

// ---------------------------------------------------------------------------------------------
// The pipelines as gitlab-ci-local reads them (`--list-json`), without running a job.

// A throwaway repository holding `files` (name → source path) and .gitlab-ci.yml; returns what
// `gitlab-ci-local --list-json <extra>` printed, parsed.
Poco::Dynamic::Var ListJobs(const TempDir& repo, const std::string& gitlab_ci,
                            const std::vector<std::string>& extra = {}) {
  fs::copy(SourcePath("pipeline-templates"), repo.path() + "/templates",
           fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  repo.Write(".gitlab-ci.yml", gitlab_ci);
  EXPECT_TRUE(CommitAll(repo.path()));
  RunOptions o;
  o.cwd = repo.path();
  std::vector<std::string> args = {NpmTools() + "/gitlab-ci-local/dist/index.js", "--list-json",
                                   "--home", repo.path() + "/.gcl-home"};
  args.insert(args.end(), extra.begin(), extra.end());
  o.env["HOME"] = repo.path();
  auto r = RunProcess(NpmTools() + "/.bin/node", args, o);
  EXPECT_TRUE(Succeeded(r));
  std::string error;
  auto jobs = ParseJson(r.out, &error);
  EXPECT_TRUE(error.empty()) << error << "\n" << r.out;
  return jobs;
}

struct ListedJob {
  std::string stage, when;
  bool allow_failure = false;
  std::optional<std::vector<std::string>> needs;  // nullopt: no `needs` (stage order)
};

std::map<std::string, ListedJob> ByName(const Poco::Dynamic::Var& jobs) {
  std::map<std::string, ListedJob> out;
  for (size_t i = 0; i < Len(jobs, "").value_or(0); ++i) {
    const std::string at = "/" + std::to_string(i);
    ListedJob job{Str(jobs, at + "/stage").value_or(""), Str(jobs, at + "/when").value_or(""),
                  Bool(jobs, at + "/allow_failure").value_or(false), std::nullopt};
    if (auto n = Len(jobs, at + "/needs")) {
      job.needs.emplace();
      for (size_t k = 0; k < *n; ++k) {
        job.needs->push_back(Str(jobs, at + "/needs/" + std::to_string(k) + "/job").value_or(""));
      }
    }
    out[Str(jobs, at + "/name").value_or("")] = job;
  }
  return out;
}

// With no inputs at all, each static template is a valid pipeline: the gates block, in order;
// rollback is in .post; abort is reachable from the start.
TEST(TemplateDefaults, EachStaticTemplateListsItsGatesInOrder) {
  const std::map<std::string, std::vector<std::string>> gates = {
      {"hybrid", {"rollout-shift-30", "rollout-shift-60", "rollout-shift-100"}},
      {"canary", {"rollout-shift-10", "rollout-shift-50", "rollout-shift-100"}},
      {"blue-green", {"rollout-shift-100"}}};
  for (const auto& [name, steps] : gates) {
    SCOPED_TRACE(name);
    TempDir repo("canaryctl-e2e-list");
    auto jobs =
        ByName(ListJobs(repo, "include:\n  - local: templates/" + name + ".gitlab-ci.yml\n"));
    ASSERT_EQ(jobs.size(), steps.size() + 5);
    EXPECT_EQ(jobs["rollout-deploy"].when, "on_success");
    EXPECT_EQ(jobs["rollout-test"].needs, std::vector<std::string>{"rollout-deploy"});
    std::string previous = "rollout-test";
    for (const auto& gate : steps) {
      EXPECT_EQ(jobs[gate].stage, "deploy") << gate;
      EXPECT_EQ(jobs[gate].when, "manual") << gate;
      EXPECT_FALSE(jobs[gate].allow_failure) << gate << " must block the pipeline";
      EXPECT_EQ(jobs[gate].needs, std::vector<std::string>{previous}) << gate;
      previous = gate;
    }
    EXPECT_EQ(jobs["rollout-promote"].when, "manual");
    EXPECT_FALSE(jobs["rollout-promote"].allow_failure);
    EXPECT_EQ(jobs["rollout-promote"].needs, std::vector<std::string>{previous});
    EXPECT_EQ(jobs["rollout-rollback"].stage, ".post");
    EXPECT_EQ(jobs["rollout-rollback"].when, "on_failure");
    EXPECT_EQ(jobs["rollout-abort"].when, "manual");
    EXPECT_TRUE(jobs["rollout-abort"].allow_failure);
    EXPECT_EQ(jobs["rollout-abort"].needs, std::vector<std::string>{});
  }
}

TEST(TemplateDefaults, AutomaticPromotionIsAnInput) {
  TempDir repo("canaryctl-e2e-list");
  auto jobs = ByName(ListJobs(repo, R"(include:
  - local: templates/hybrid.gitlab-ci.yml
    inputs: {manual-promotion: false, job-prefix: "checkout-", step-1: 20, step-2: 50}
)"));
  EXPECT_EQ(jobs["checkout-promote"].when, "on_success");
  EXPECT_EQ(jobs["checkout-shift-20"].when, "manual");
  EXPECT_EQ(jobs["checkout-shift-50"].needs, std::vector<std::string>{"checkout-shift-20"});
}

// This project's own pipeline, as a tag pipeline (every rule true): every job is there, with
// the needs that order the release.
TEST(ProjectPipeline, TagPipelineHasEveryJobAndItsNeeds) {
  TempDir repo("canaryctl-e2e-project");
  const std::string pipeline = ReadFile(SourcePath(".gitlab-ci.yml"));
  auto jobs = ByName(ListJobs(
      repo, pipeline,
      {"--ignore-predefined-vars", "CI_REGISTRY_IMAGE", "--variable", "CI_COMMIT_TAG=v1.2.0",
       "--variable", "CI_REGISTRY_IMAGE=registry.example.com/canaryctl"}));
  for (const char* job :
       {"build", "unit", "integration", "sanitizers", "templates", "container-image",
        "container-image-smoke", "release-image", "release-templates", "release"}) {
    EXPECT_TRUE(jobs.contains(job)) << job;
  }
  EXPECT_EQ(jobs["release"].needs,
            (std::vector<std::string>{"release-image", "release-templates"}));
}

}  // namespace
}  // namespace canaryctl::integration

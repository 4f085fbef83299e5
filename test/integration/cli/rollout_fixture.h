// The fixture of the tests that run the canaryctl binary against the sandbox with the real helm
// and kubectl: a chart installed as the stable release, a rollout.yaml per strategy, a gate
// script that fails at a chosen weight, and readers for what the cluster and the reports hold
// afterwards (weights, untouched fields, state, lock, helm revisions, requests made).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "sandbox_fixture.h"

namespace canaryctl::integration {

// A VirtualService that holds more than canaryctl manages: another route with a match, retries
// and a timeout on the managed route, an annotation and a label. None of it may change.
inline constexpr char kVirtualService[] = R"(apiVersion: networking.istio.io/v1
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
inline constexpr char kGateScript[] = R"(#!/bin/sh
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

inline const Strategy kHybrid{"hybrid", "prod",    "demoapp",  "flaskapp",
                              "stage",  "demoapp", "flaskapp", {30, 60, 100}};
inline const Strategy kCanary{"canary", "prod",           "demoapp",         "flaskapp",
                              "prod",   "demoapp-canary", "flaskapp-canary", {50, 100}};
inline const Strategy kBlueGreen{"blue-green", "prod",          "demoapp-blue",   "flaskapp-blue",
                                 "prod",       "demoapp-green", "flaskapp-green", {100}};

inline std::string Fqdn(const std::string& service, const std::string& ns) {
  return service + "." + ns + ".svc.cluster.local";
}

class RolloutFixture : public SandboxTest {
 protected:
  RolloutFixture() : SandboxTest(Options()) {}
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
    std::filesystem::permissions(gate_, std::filesystem::perms::owner_all);
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

}  // namespace canaryctl::integration

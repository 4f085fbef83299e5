// The fixture of the tests that run the canaryctl binary against the sandbox with the real helm
// and kubectl: a chart installed as the stable release, a rollout.yaml per strategy, a gate
// script that fails at a chosen weight, and readers for what the cluster and the reports hold
// afterwards (weights, untouched fields, state, lock, helm revisions, requests made).
#pragma once

#include <time.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
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

inline constexpr char kVirtualServicePath[] =
    "/apis/networking.istio.io/v1/namespaces/prod/virtualservices/demoapp";

// The smallest rollout.yaml that reaches the cluster (hybrid, one step to 100, the route created),
// for tests about the connection rather than the rollout; reports go to reports_dir.
inline std::string MinimalRolloutYaml(const std::string& reports_dir) {
  return "app: demoapp\nhelm: {chart: " + SourcePath("examples/demoapp") +
         ", set: {deployment.tag: v2}, timeout: 60s}\n"
         "stable: {namespace: prod, service: flaskapp}\n"
         "candidate: {namespace: stage, service: flaskapp}\n"
         "traffic: {virtualService: {create: true, gateways: [gw], hosts: [\"*\"]}, steps: [0, "
         "100]}\n"
         "reports: {dir: " +
         reports_dir + "}\n";
}

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
  void ExpectUntouched(const std::string& when) { ExpectUntouched(Vs(), when); }
  void ExpectUntouched(const Poco::Dynamic::Var& vs, const std::string& when) {
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

  // The invariants of issue 6 that must hold after any command, however it ended (an API fault,
  // a helm failure, SIGKILL, SIGTERM); `before` and `target` are (stable, candidate) weights:
  // - the VirtualService exists; its managed route has the two destinations (or, before deploy
  //   added the candidate, only the user's stable one), integer weights summing to 100, equal
  //   to `before` or `target` (never anything in between);
  // - with `user_fields`, every field canaryctl does not manage is as kVirtualService wrote it;
  // - the state annotation, when present, parses and its currentWeights are the route's; when
  //   absent (nothing was ever written), the route is all stable;
  // - the lock is absent, expired, or held by this same pipeline (pipeline_): canaryctl keeps
  //   its pipeline's lock from deploy to promote by design (DESIGN.md §3), and a rerun of the
  //   same pipeline's job renews it, so that state never blocks the rerun;
  // - no helm release of the strategy is left pending-* (with `helm_settled`; a SIGKILLed helm
  //   may leave one, which the rerun must then recover: see ExpectHelmSettled).
  // Returns the number of failures it recorded, so a scenario loop can count passes.
  int ExpectInvariants(const Strategy& s, std::pair<int, int> before, std::pair<int, int> target,
                       const std::string& when, bool user_fields = true, bool helm_settled = true) {
    const int failures_before = FailureCount();
    std::string err;
    // Read over plain HTTP, not kubectl: this runs after every scenario of the fault matrix and
    // of kill-and-resume, hundreds of times.
    auto got = sandbox_.Http("GET", kVirtualServicePath);
    EXPECT_EQ(got.status, 200) << when << ": the VirtualService is gone: " << got.error << got.body;
    if (got.status != 200) return FailureCount() - failures_before;
    auto vs = ParseJson(got.body, &err);
    EXPECT_TRUE(err.empty()) << when << ": " << err;
    const std::string stable_host = Fqdn(s.stable_service, s.stable_ns);
    const std::string candidate_host = Fqdn(s.candidate_service, s.candidate_ns);
    // Weights are read raw here: an absent or fractional weight is a failure, not a default
    // (except for the single destination below).
    std::map<std::string, Poco::Dynamic::Var> raw;
    for (size_t i = 0; i < Len(vs, "/spec/http").value_or(0); ++i) {
      const std::string base = "/spec/http/" + std::to_string(i);
      const auto name = Str(vs, base + "/name").value_or("");
      if (name == "admin" || name == "canaryctl-test-route") continue;
      for (size_t j = 0; j < Len(vs, base + "/route").value_or(0); ++j) {
        const std::string d = base + "/route/" + std::to_string(j);
        raw[Str(vs, d + "/destination/host").value_or("?")] = At(vs, d + "/weight");
      }
    }
    // Two destinations, or (before deploy added the candidate) the user's single stable one,
    // which Istio gives 100 with or without a weight.
    std::pair<int, int> route{-1, -1};
    if (raw.size() == 1 && raw.count(stable_host)) {
      const auto& weight = raw[stable_host];
      EXPECT_TRUE(weight.isEmpty() || (weight.isInteger() && weight.convert<int>() == 100))
          << when << ": " << ToJson(vs);
      route = {100, 0};
    } else {
      EXPECT_EQ(raw.size(), 2u) << when << ": " << ToJson(vs);
    }
    for (const auto& [host, weight] : raw) {
      if (raw.size() == 1) break;
      EXPECT_TRUE(host == stable_host || host == candidate_host) << when << ": " << host;
      EXPECT_TRUE(weight.isInteger()) << when << ": weight of " << host << " is not an integer";
      const int w = weight.isInteger() ? weight.convert<int>() : -1;
      (host == stable_host ? route.first : route.second) = w;
    }
    EXPECT_EQ(route.first + route.second, 100) << when << ": " << ToJson(vs);
    EXPECT_TRUE(route == before || route == target)
        << when << ": route " << route.first << "/" << route.second << ", before " << before.first
        << "/" << before.second << ", target " << target.first << "/" << target.second;
    if (user_fields) ExpectUntouched(vs, when);

    const auto state_text = Str(vs, "/metadata/annotations/canaryctl.io~1state");
    if (state_text) {
      auto state = ParseJson(*state_text, &err);
      EXPECT_TRUE(err.empty()) << when << ": the state does not parse: " << err;
      EXPECT_EQ(Int(state, "/currentWeights/stable"), route.first) << when << ": " << *state_text;
      EXPECT_EQ(Int(state, "/currentWeights/candidate"), route.second)
          << when << ": " << *state_text;
      EXPECT_EQ(Str(state, "/app"), "demoapp") << when;
      EXPECT_TRUE(Str(state, "/phase").has_value()) << when;
    } else {
      EXPECT_EQ(route, std::make_pair(100, 0)) << when << ": weights moved without a state";
    }

    if (const auto lock_text = Str(vs, "/metadata/annotations/canaryctl.io~1lock")) {
      auto lock = ParseJson(*lock_text, &err);
      EXPECT_TRUE(err.empty()) << when << ": the lock does not parse: " << err;
      const bool ours = Str(lock, "/pipelineId") == pipeline_;
      const auto expires = ParseUtc(Str(lock, "/expires").value_or(""));
      EXPECT_TRUE(expires.has_value()) << when << ": " << *lock_text;
      const bool expired = expires && *expires <= std::chrono::system_clock::now();
      EXPECT_TRUE(ours || expired) << when << ": the lock is held by someone else: " << *lock_text;
    }
    if (helm_settled) ExpectHelmSettled(s, when);
    return FailureCount() - failures_before;
  }

  // No release of the strategy is pending-* (a helm operation that never finished blocks the
  // next one); every one that exists is deployed (or, with allow_failed, failed: helm gave up
  // on it but the next upgrade proceeds).
  void ExpectHelmSettled(const Strategy& s, const std::string& when, bool allow_failed = false) {
    for (const auto& [release, ns] : {std::pair{s.stable_release, s.stable_ns},
                                      std::pair{s.candidate_release, s.candidate_ns}}) {
      // helm's storage: one Secret per revision, labelled with its status (helm list without
      // a helm process).
      auto got =
          sandbox_.Http("GET", "/api/v1/namespaces/" + ns +
                                   "/secrets?labelSelector=owner%3Dhelm%2Cname%3D" + release);
      EXPECT_EQ(got.status, 200) << when << got.error << got.body;
      auto list = ParseJson(got.body);
      int64_t latest = 0;
      std::string status;
      for (size_t i = 0; i < Len(list, "/items").value_or(0); ++i) {
        const std::string labels = "/items/" + std::to_string(i) + "/metadata/labels";
        const int64_t version = ToInt(Str(list, labels + "/version").value_or(""));
        if (version > latest) {
          latest = version;
          status = Str(list, labels + "/status").value_or("");
        }
      }
      if (latest > 0) {
        EXPECT_TRUE(status == "deployed" || (allow_failed && status == "failed"))
            << when << ": release " << ns << "/" << release << " revision " << latest << " is "
            << status;
      }
    }
  }

  // The reports were written by this run and say how it ended: rollout.env's outcome follows
  // the exit code, and its weights are the route's.
  void ExpectReportsSayWhatHappened(const Strategy& s, int exit_code, const std::string& when) {
    const std::string env = Report("rollout.env");
    EXPECT_FALSE(env.empty()) << when << ": no rollout.env";
    auto value = [&](const std::string& key) -> std::string {
      const size_t at = env.find(key + "=");
      if (at == std::string::npos) return "<absent>";
      const size_t from = at + key.size() + 1;
      return env.substr(from, env.find('\n', from) - from);
    };
    const std::string outcome = value("CANARYCTL_OUTCOME");
    if (exit_code == 0) {
      EXPECT_EQ(outcome, "succeeded") << when << "\n" << env;
    } else if (exit_code == 130) {
      EXPECT_EQ(outcome, "interrupted") << when << "\n" << env;
    } else {
      EXPECT_TRUE(outcome == "failed" || outcome == "rolled_back" || outcome == "rollback_failed")
          << when << ": exit " << exit_code << "\n"
          << env;
    }
    auto w = Weights(ParseJson(sandbox_.Http("GET", kVirtualServicePath).body));
    EXPECT_EQ(value("CANARYCTL_CANDIDATE_WEIGHT"),
              std::to_string(w[Fqdn(s.candidate_service, s.candidate_ns)]))
        << when << "\n"
        << env;
    EXPECT_EQ(value("CANARYCTL_STABLE_WEIGHT"),
              std::to_string(w[Fqdn(s.stable_service, s.stable_ns)]))
        << when << "\n"
        << env;
    EXPECT_TRUE(Report("metrics.txt").ends_with("# EOF\n")) << when;
    std::string err;
    ParseJson(Report("rollout.json"), &err);
    EXPECT_TRUE(err.empty()) << when << ": rollout.json: " << err;
  }

  // gtest's failures so far in this test (EXPECT successes are not recorded, failures are).
  static int FailureCount() {
    const auto* result = testing::UnitTest::GetInstance()->current_test_info()->result();
    int n = 0;
    for (int i = 0; i < result->total_part_count(); ++i) n += result->GetTestPartResult(i).failed();
    return n;
  }

  // "2026-01-02T03:04:05Z" (also with fractional seconds or an offset of Z only).
  static std::optional<std::chrono::system_clock::time_point> ParseUtc(const std::string& text) {
    std::tm tm{};
    std::istringstream in(text);
    in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
    if (in.fail()) return std::nullopt;
    return std::chrono::system_clock::from_time_t(timegm(&tm));
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

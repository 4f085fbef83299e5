// The engine's I/O layer over in-memory fakes of the route (per-destination weights,
// annotations, resourceVersion, injected conflicts and failures), helm (revisions per release)
// and the checks (a verdict per step). The sandbox-backed flows are in test/integration/cli.
#include "engine/rollout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "config/loader.h"
#include "config/overrides.h"
#include "report/dotenv_writer.h"

namespace canaryctl::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The VirtualService: weights by destination FQDN, so that blue-green's swapped routers read
// the same object from either side.
struct FakeCluster {
  bool exists = false;
  std::map<std::string, int> weights;
  std::map<std::string, std::string> annotations;
  bool test_route = false;
  int rv = 1;
  int writes = 0;
  int conflicts_to_inject = 0;           // the next N SetWeights answer kConflict (rv moves)
  std::optional<Error> fail_next_write;  // the next SetWeights fails with this
  int fail_writes_from = -1;             // writes with index >= this fail (for rollback tests)
};

class FakeRouter : public traffic::Router {
 public:
  FakeRouter(FakeCluster& c, traffic::RouterConfig config) : c_(c), config_(std::move(config)) {}

  Status Reconcile() override {
    if (!c_.exists) {
      c_.exists = true;
      c_.weights = {{config_.stable.Fqdn(), 100}, {config_.candidate.Fqdn(), 0}};
      ++c_.rv;
    }
    return Done{};
  }
  Result<traffic::TrafficState> Weights() override {
    traffic::TrafficState s;
    s.exists = c_.exists;
    if (!c_.exists) return s;
    s.stable = c_.weights[config_.stable.Fqdn()];
    s.candidate = c_.weights[config_.candidate.Fqdn()];
    s.resource_version = std::to_string(c_.rv);
    s.annotations = c_.annotations;
    s.test_route = c_.test_route;
    return s;
  }
  Result<traffic::WriteResult> SetWeights(const traffic::WeightUpdate& u) override {
    if (c_.fail_next_write) {
      Error e = *c_.fail_next_write;
      c_.fail_next_write.reset();
      return e;
    }
    if (c_.fail_writes_from >= 0 && c_.writes >= c_.fail_writes_from) {
      return ClusterError("injected: the API server is gone");
    }
    if (c_.conflicts_to_inject > 0) {
      --c_.conflicts_to_inject;
      ++c_.rv;  // someone else wrote
      return traffic::WriteResult{traffic::WriteOutcome::kConflict, std::to_string(c_.rv)};
    }
    if (u.expected_resource_version != std::to_string(c_.rv)) {
      return traffic::WriteResult{traffic::WriteOutcome::kConflict, std::to_string(c_.rv)};
    }
    EXPECT_EQ(u.stable + u.candidate, 100);
    c_.weights[config_.stable.Fqdn()] = u.stable;
    c_.weights[config_.candidate.Fqdn()] = u.candidate;
    auto put = [&](const char* key, const std::string& value) {
      if (value.empty()) {
        c_.annotations.erase(key);
      } else {
        c_.annotations[key] = value;
      }
    };
    put(kStateAnnotation, u.state_json);
    put(kLockAnnotation, u.lock_json);
    if (u.remove_test_route) c_.test_route = false;
    ++c_.rv;
    ++c_.writes;
    return traffic::WriteResult{traffic::WriteOutcome::kWritten, std::to_string(c_.rv)};
  }
  Result<traffic::WeightPlan> PlanWeights(const traffic::WeightUpdate& u) override {
    traffic::WeightPlan p;
    p.diff = "- " + config_.candidate.Fqdn() + " weight " +
             std::to_string(c_.weights[config_.candidate.Fqdn()]) + "\n+ " +
             config_.candidate.Fqdn() + " weight " + std::to_string(u.candidate);
    p.diff += u.lock_json.empty() ? "\n- annotation lock" : "\n~ annotation lock";
    p.creates = !c_.exists;
    return p;
  }
  Result<traffic::WriteResult> SetTestRoute(bool present) override {
    if (c_.test_route == present) {
      return traffic::WriteResult{traffic::WriteOutcome::kUnchanged, std::to_string(c_.rv)};
    }
    c_.test_route = present;
    ++c_.rv;
    return traffic::WriteResult{traffic::WriteOutcome::kWritten, std::to_string(c_.rv)};
  }

 private:
  FakeCluster& c_;
  traffic::RouterConfig config_;
};

class FakeHelm : public helm::Deployer {
 public:
  std::map<std::string, std::vector<helm::Revision>> releases;  // "ns/name"
  std::vector<std::string> calls;
  std::optional<Error> fail_upgrade;

  static std::string Key(const helm::ReleaseRef& r) { return r.ns + "/" + r.name; }

  void Install(const std::string& key, const std::string& app_version) {
    auto& h = releases[key];
    for (auto& r : h) r.status = "superseded";
    h.push_back({static_cast<int>(h.size()) + 1, "deployed", "demoapp-0.1.0", app_version, "", ""});
  }

  Result<helm::ReleaseStatus> UpgradeInstall(const helm::UpgradeRequest& req) override {
    calls.push_back("upgrade " + Key(req.release));
    if (fail_upgrade) return *fail_upgrade;
    auto tag = req.set.find("deployment.tag");
    Install(Key(req.release), tag == req.set.end() ? "?" : tag->second);
    return helm::ReleaseStatus{req.release.name, req.release.ns, releases[Key(req.release)].back(),
                               ""};
  }
  Result<std::optional<helm::ReleaseStatus>> Status(const helm::ReleaseRef& r) override {
    auto it = releases.find(Key(r));
    if (it == releases.end() || it->second.empty()) return std::optional<helm::ReleaseStatus>();
    return std::optional(helm::ReleaseStatus{r.name, r.ns, it->second.back(), ""});
  }
  Result<std::vector<helm::Revision>> History(const helm::ReleaseRef& r) override {
    return releases[Key(r)];
  }
  Result<Done> Rollback(const helm::ReleaseRef& r, const helm::RollbackOptions& o) override {
    calls.push_back("rollback " + Key(r) + " " + std::to_string(o.revision));
    auto& h = releases[Key(r)];
    const int to = o.revision ? o.revision : static_cast<int>(h.size()) - 1;
    helm::Revision copy = h.at(to - 1);
    for (auto& rev : h) rev.status = "superseded";
    copy.number = static_cast<int>(h.size()) + 1;
    copy.status = "deployed";
    h.push_back(copy);
    return Done{};
  }
  Result<Done> Uninstall(const helm::ReleaseRef& r, const helm::UninstallOptions&) override {
    calls.push_back("uninstall " + Key(r));
    releases.erase(Key(r));
    return Done{};
  }
  Result<Poco::JSON::Object::Ptr> GetValues(const helm::ReleaseRef&) override {
    return Poco::JSON::Object::Ptr(new Poco::JSON::Object);
  }
  Result<helm::Recovery> RecoverPending(const helm::ReleaseRef&,
                                        const helm::RecoverOptions&) override {
    return helm::Recovery{};
  }
  Result<std::vector<std::string>> PlanUpgradeInstall(const helm::UpgradeRequest& req) override {
    return std::vector<std::string>{"helm",    "upgrade",     "--install",   req.release.name,
                                    req.chart, "--namespace", req.release.ns};
  }
};

class FakeCheck : public checks::Check {
 public:
  FakeCheck(std::string name, std::function<checks::Verdict(const checks::StepContext&)> judge,
            std::vector<checks::StepContext>* seen)
      : name_(std::move(name)), judge_(std::move(judge)), seen_(seen) {}
  const std::string& name() const override { return name_; }
  checks::CheckResult Run(const checks::StepContext& step) override {
    seen_->push_back(step);
    checks::CheckResult r;
    r.name = name_;
    r.verdict = judge_(step);
    r.message = r.verdict == checks::Verdict::kPass ? "ok" : "injected failure";
    return r;
  }

 private:
  std::string name_;
  std::function<checks::Verdict(const checks::StepContext&)> judge_;
  std::vector<checks::StepContext>* seen_;
};

constexpr char kHybrid[] = R"(
app: demoapp
helm: {chart: charts/demoapp, set: {deployment.tag: "${TAG}"}}
stable: {namespace: prod, release: demoapp, service: flaskapp}
candidate: {namespace: stage, release: demoapp, service: flaskapp}
traffic:
  virtualService: {create: true, gateways: [app-gateway], hosts: ["*"]}
  steps: [0, 30, 60, 100]
  testRoute: {header: x-canary, value: always}
checks:
  - {name: health, http: {url: "http://flaskapp.stage.svc.cluster.local/"}}
)";

constexpr char kBlueGreen[] = R"(
app: demoapp
strategy: blue-green
helm: {chart: charts/demoapp, set: {deployment.tag: "${TAG}"}}
stable: {namespace: prod, service: demoapp-blue}
candidate: {namespace: prod, service: demoapp-green}
traffic:
  virtualService: {create: true, gateways: [app-gateway], hosts: ["*"]}
checks:
  - {name: health, http: {url: "http://demoapp.prod.svc.cluster.local/"}}
)";

// kHybrid with Prometheus analysis: one built-in metric, measured every 10s for up to 30s.
constexpr char kHybridAnalysis[] = R"(
app: demoapp
helm: {chart: charts/demoapp, set: {deployment.tag: "${TAG}"}}
stable: {namespace: prod, release: demoapp, service: flaskapp}
candidate: {namespace: stage, release: demoapp, service: flaskapp}
traffic:
  virtualService: {create: true, gateways: [app-gateway], hosts: ["*"]}
  steps: [0, 30, 60, 100]
checks:
  - {name: health, http: {url: "http://flaskapp.stage.svc.cluster.local/"}}
analysis:
  prometheus: {url: "http://prometheus.example:9090"}
  interval: 10s
  window: 30s
  metrics:
    - {name: request-success-rate, min: 99}
)";

// Answers every query with the value `answer` gives for it (nullopt: no data); keeps them.
class FakePrometheus : public analysis::PrometheusClient {
 public:
  FakePrometheus(std::function<std::optional<double>(const std::string&)> answer,
                 std::vector<std::string>* queries)
      : answer_(std::move(answer)), queries_(queries) {}
  Result<std::optional<double>> Query(const std::string& promql) override {
    queries_->push_back(promql);
    return answer_(promql);
  }

 private:
  std::function<std::optional<double>(const std::string&)> answer_;
  std::vector<std::string>* queries_;
};

ci::JobContext Pipeline(const std::string& id) {
  ci::JobContext job;
  job.in_gitlab = true;
  job.pipeline_id = id;
  job.job_url = "https://gitlab.example.com/team/demoapp/-/jobs/" + id + "1";
  job.user_login = "alice";
  job.project_dir = "/nonexistent";  // no git repository: no commit recorded
  return job;
}

class RolloutTest : public ::testing::Test {
 protected:
  void Load(const char* yaml, const std::string& tag = "v2") {
    auto spec = config::ParseRolloutSpec(yaml, "rollout.yaml", {{"TAG", tag}});
    ASSERT_TRUE(spec.ok()) << spec.error().message;
    spec_ = spec.value();
  }

  RolloutDeps Deps() {
    RolloutDeps d;
    d.make_router = [this](const traffic::RouterConfig& c) {
      return std::make_unique<FakeRouter>(cluster_, c);
    };
    d.deployer = &helm_;
    d.ensure_namespace = [this](const std::string& ns, const std::map<std::string, std::string>&) {
      namespaces_.push_back(ns);
      return Status(Done{});
    };
    d.make_checks = [this] {
      std::vector<std::unique_ptr<checks::Check>> v;
      if (no_checks_) return v;
      v.push_back(std::make_unique<FakeCheck>("health", judge_, &seen_));
      return v;
    };
    // Each command a second later; within one, time advances only by the analysis's sleeps.
    d.now = [this] {
      return std::chrono::system_clock::time_point(std::chrono::seconds(1790000000 + clock_)) +
             slept_;
    };
    d.interrupted = &interrupted_;
    d.make_prometheus = [this] {
      return std::make_unique<FakePrometheus>(prometheus_answer_, &queries_);
    };
    // The analysis waits between measurements: no real time in unit tests.
    d.sleep = [this](std::chrono::milliseconds ms) { slept_ += ms; };
    return d;
  }

  Outcome Do(const std::string& cmd, const std::string& pipeline = "100",
             RolloutOptions options = {}) {
    return Do(cmd, Pipeline(pipeline), options);
  }
  Outcome Do(const std::string& cmd, const ci::JobContext& job, RolloutOptions options = {}) {
    options.pause = std::chrono::milliseconds(0);
    Rollout r(spec_, job, Deps(), options);
    ++clock_;
    if (cmd == "deploy") return r.Deploy();
    if (cmd == "test") return r.Test();
    if (cmd == "promote") return r.Promote();
    if (cmd == "rollback") return r.Rollback();
    if (cmd == "plan") return r.Plan();
    if (cmd == "run") return r.Run();
    if (cmd.rfind("shift ", 0) == 0) return r.Shift(std::stoi(cmd.substr(6)));
    ADD_FAILURE() << "unknown command " << cmd;
    return {};
  }

  RolloutState State() {
    auto it = cluster_.annotations.find(kStateAnnotation);
    EXPECT_NE(it, cluster_.annotations.end());
    if (it == cluster_.annotations.end()) return {};
    auto s = ParseState(it->second);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? s.value() : RolloutState{};
  }
  int W(const std::string& fqdn) { return cluster_.weights[fqdn]; }
  int Prod() { return W("flaskapp.prod.svc.cluster.local"); }
  int Stage() { return W("flaskapp.stage.svc.cluster.local"); }
  bool Locked() { return cluster_.annotations.count(kLockAnnotation) > 0; }

  config::RolloutSpec spec_;
  FakeCluster cluster_;
  FakeHelm helm_;
  std::vector<std::string> namespaces_;
  std::vector<checks::StepContext> seen_;
  std::function<checks::Verdict(const checks::StepContext&)> judge_ =
      [](const checks::StepContext&) { return checks::Verdict::kPass; };
  bool no_checks_ = false;  // make_checks returns none
  std::atomic<bool> interrupted_{false};
  int clock_ = 0;
  std::function<std::optional<double>(const std::string&)> prometheus_answer_ =
      [](const std::string&) { return std::optional<double>(99.9); };
  std::vector<std::string> queries_;
  std::chrono::milliseconds slept_{0};
};

#define EXPECT_OK(outcome) EXPECT_FALSE((outcome).error) << (outcome).error->message

TEST_F(RolloutTest, ArticleFlowCommandByCommand) {
  Load(kHybrid);
  helm_.Install("prod/demoapp", "v1");

  auto d = Do("deploy");
  EXPECT_OK(d);
  EXPECT_TRUE(cluster_.exists);
  EXPECT_THAT(namespaces_, ElementsAre("prod", "stage"));
  EXPECT_THAT(helm_.calls, ElementsAre("upgrade stage/demoapp"));
  EXPECT_EQ(Prod(), 100);
  EXPECT_EQ(Stage(), 0);
  EXPECT_TRUE(cluster_.test_route);
  EXPECT_EQ(State().phase, Phase::kDeployed);
  EXPECT_EQ(State().candidate.version, "v2");
  EXPECT_EQ(State().candidate.revision, 1);
  EXPECT_EQ(State().stable.version, "v1");  // what stable ran before this rollout
  EXPECT_TRUE(Locked());                    // held for the pipeline's next jobs
  EXPECT_EQ(d.record.outcome, report::Outcome::kSucceeded);

  EXPECT_OK(Do("test"));
  EXPECT_EQ(State().phase, Phase::kTesting);
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].weight, 0);
  EXPECT_EQ(seen_[0].target_url, "http://flaskapp.stage.svc.cluster.local");

  for (int w : {30, 60, 100}) {
    auto s = Do("shift " + std::to_string(w));
    EXPECT_OK(s);
    EXPECT_EQ(Stage(), w);
    EXPECT_EQ(Prod(), 100 - w);
    EXPECT_EQ(State().phase, Phase::kShifted);
    EXPECT_EQ(State().current, CandidateAt(w));
    EXPECT_EQ(seen_.back().weight, w);
    ASSERT_EQ(s.record.steps.size(), 1u);
    EXPECT_EQ(s.record.steps[0].weight, w);
  }

  auto p = Do("promote");
  EXPECT_OK(p);
  EXPECT_EQ(helm_.calls.back(), "upgrade prod/demoapp");
  EXPECT_EQ(Prod(), 100);
  EXPECT_EQ(Stage(), 0);
  EXPECT_FALSE(cluster_.test_route);
  EXPECT_FALSE(Locked());
  EXPECT_EQ(State().phase, Phase::kPromoted);
  EXPECT_EQ(State().stable.version, "v2");
  EXPECT_EQ(State().stable.revision, 2);
  // The record's weights tell the story of this rollout, oldest first.
  std::vector<int> candidate;
  for (const auto& w : p.record.weights) candidate.push_back(w.candidate);
  EXPECT_THAT(candidate, ElementsAre(0, 30, 60, 100, 0));
}

TEST_F(RolloutTest, EveryCommandRerunConverges) {
  Load(kHybrid);
  helm_.Install("prod/demoapp", "v1");
  for (const std::string cmd : {"deploy", "test", "shift 30", "shift 60", "shift 100", "promote"}) {
    EXPECT_OK(Do(cmd));
    const int writes = cluster_.writes;
    const auto calls = helm_.calls.size();
    const auto state = cluster_.annotations[kStateAnnotation];
    for (int again = 0; again < 2; ++again) {
      auto o = Do(cmd);
      EXPECT_OK(o);
      EXPECT_EQ(cluster_.writes, writes) << cmd << " rerun wrote";
      EXPECT_EQ(helm_.calls.size(), calls) << cmd << " rerun ran helm";
      EXPECT_EQ(cluster_.annotations[kStateAnnotation], state) << cmd;
    }
  }
}

TEST_F(RolloutTest, FailingCheckAtThirtyRollsBackToStable) {
  Load(kHybrid);
  helm_.Install("prod/demoapp", "v1");
  for (const std::string cmd : {"deploy", "test"}) EXPECT_OK(Do(cmd));
  judge_ = [](const checks::StepContext& s) {
    return s.weight == 30 ? checks::Verdict::kFail : checks::Verdict::kPass;
  };
  auto o = Do("shift 30");
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, ErrorKind::kCheckFailed);
  EXPECT_THAT(o.error->message, HasSubstr("rolled back"));
  EXPECT_EQ(Prod(), 100);
  EXPECT_EQ(Stage(), 0);
  EXPECT_FALSE(cluster_.test_route);
  EXPECT_FALSE(Locked());
  EXPECT_EQ(State().phase, Phase::kRolledBack);
  EXPECT_EQ(o.record.outcome, report::Outcome::kRolledBack);
  ASSERT_EQ(o.record.steps.size(), 1u);
  EXPECT_EQ(o.record.steps[0].checks[0].verdict, checks::Verdict::kFail);
  // Rollback keeps the candidate by default, and never touches stable after a shift.
  EXPECT_THAT(helm_.calls, ElementsAre("upgrade stage/demoapp"));
}

TEST_F(RolloutTest, FailingCheckWithoutAutoRollbackLeavesTrafficAndRecordsFailure) {
  Load(kHybrid);
  spec_.rollback.automatic = false;
  for (const std::string cmd : {"deploy", "test"}) EXPECT_OK(Do(cmd));
  judge_ = [](const checks::StepContext&) { return checks::Verdict::kFail; };
  auto o = Do("shift 30");
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, ErrorKind::kCheckFailed);
  EXPECT_EQ(Stage(), 30);
  EXPECT_EQ(State().phase, Phase::kFailed);
  EXPECT_TRUE(Locked());
  // A rollback from there works.
  EXPECT_OK(Do("rollback"));
  EXPECT_EQ(Stage(), 0);
  EXPECT_EQ(State().phase, Phase::kRolledBack);
  EXPECT_FALSE(Locked());
}

TEST_F(RolloutTest, RollbackAfterPromoteStartedRestoresTheStableRelease) {
  Load(kHybrid);
  helm_.Install("prod/demoapp", "v1");
  for (const std::string cmd : {"deploy", "test", "shift 30", "shift 60", "shift 100"}) {
    EXPECT_OK(Do(cmd));
  }
  judge_ = [](const checks::StepContext& s) {
    return s.phase == "promote" ? checks::Verdict::kFail : checks::Verdict::kPass;
  };
  auto o = Do("promote");
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, ErrorKind::kCheckFailed);
  EXPECT_EQ(Prod(), 100);
  EXPECT_THAT(helm_.calls, ElementsAre("upgrade stage/demoapp", "upgrade prod/demoapp",
                                       "rollback prod/demoapp 1"));
  EXPECT_EQ(helm_.releases["prod/demoapp"].back().app_version, "v1");
  EXPECT_EQ(State().phase, Phase::kRolledBack);
}

TEST_F(RolloutTest, SecondPipelineGetsExitFourNamingTheHolder) {
  Load(kHybrid);
  EXPECT_OK(Do("deploy", "100"));
  const int writes = cluster_.writes;
  auto o = Do("test", "200");
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, ErrorKind::kLocked);
  EXPECT_THAT(o.error->message, HasSubstr("https://gitlab.example.com/team/demoapp/-/jobs/1001"));
  EXPECT_EQ(cluster_.writes, writes);
  // The holder's own pipeline goes on.
  EXPECT_OK(Do("test", "100"));
}

TEST_F(RolloutTest, ExpiredLockIsTakenOverAndForceTakesOverAFreshOne) {
  Load(kHybrid);
  EXPECT_OK(Do("deploy", "100"));
  RolloutOptions force;
  force.force = true;
  EXPECT_OK(Do("test", "200", force));
  clock_ += 2 * 3600;  // past the 1h ttl
  EXPECT_OK(Do("shift 30", "300"));
  auto lock = ParseLock(cluster_.annotations[kLockAnnotation]);
  ASSERT_TRUE(lock.ok());
  EXPECT_EQ(lock.value().pipeline_id, "300");
}

TEST_F(RolloutTest, RefusedCommandChangesNothing) {
  Load(kHybrid);
  for (const std::string cmd : {"deploy", "test"}) EXPECT_OK(Do(cmd));
  const int writes = cluster_.writes;
  auto o = Do("shift 60");
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, ErrorKind::kConfig);
  EXPECT_THAT(o.error->message, HasSubstr("shift 30"));
  EXPECT_EQ(cluster_.writes, writes);
}

TEST_F(RolloutTest, ConflictsAreReadAgainAndDecidedAgain) {
  Load(kHybrid);
  for (const std::string cmd : {"deploy", "test"}) EXPECT_OK(Do(cmd));
  cluster_.conflicts_to_inject = 3;
  EXPECT_OK(Do("shift 30"));
  EXPECT_EQ(Stage(), 30);
  cluster_.conflicts_to_inject = 100;
  auto o = Do("shift 60");
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, ErrorKind::kCluster);
  EXPECT_EQ(Stage(), 30);
}

TEST_F(RolloutTest, RollbackThatCannotWriteIsExitFive) {
  Load(kHybrid);
  for (const std::string cmd : {"deploy", "test", "shift 30"}) EXPECT_OK(Do(cmd));
  judge_ = [](const checks::StepContext&) { return checks::Verdict::kFail; };
  cluster_.fail_writes_from = cluster_.writes + 1;  // the begin write of shift 60 only
  auto o = Do("shift 60");
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, ErrorKind::kRollbackFailed);
  EXPECT_EQ(o.record.outcome, report::Outcome::kRollbackFailed);
  EXPECT_EQ(Stage(), 60);
}

TEST_F(RolloutTest, DryRunWritesNothingAndShowsTheChange) {
  Load(kHybrid);
  RolloutOptions dry;
  dry.dry_run = true;
  auto o = Do("deploy", "100", dry);
  EXPECT_OK(o);
  EXPECT_FALSE(cluster_.exists);
  EXPECT_TRUE(helm_.calls.empty());
  EXPECT_TRUE(namespaces_.empty());
  std::string text;
  for (const auto& l : o.preview) text += l + "\n";
  EXPECT_THAT(text, HasSubstr("helm: helm upgrade --install demoapp charts/demoapp"));
  EXPECT_THAT(text, HasSubstr("namespaces: ensure prod, stage"));

  for (const std::string cmd : {"deploy", "test"}) EXPECT_OK(Do(cmd));
  const int writes = cluster_.writes;
  auto plan = Do("plan");
  EXPECT_OK(plan);
  text.clear();
  for (const auto& l : plan.preview) text += l + "\n";
  EXPECT_THAT(text, HasSubstr("command: shift 30"));
  EXPECT_THAT(text, HasSubstr("+ flaskapp.stage.svc.cluster.local weight 30"));
  EXPECT_EQ(cluster_.writes, writes);
}

// The preview shows the annotations as the command leaves them: a shift keeps the lock for the
// pipeline's next job; promote releases it and removes the test route.
TEST_F(RolloutTest, DryRunShowsTheLockKeptOrReleasedAndTheTestRouteRemoved) {
  Load(kHybrid);
  for (const std::string cmd : {"deploy", "test", "shift 30", "shift 60"}) EXPECT_OK(Do(cmd));
  RolloutOptions dry;
  dry.dry_run = true;
  auto text = [](const Outcome& o) {
    std::string t;
    for (const auto& l : o.preview) t += l + "\n";
    return t;
  };
  const std::string shift = text(Do("shift 100", "100", dry));
  EXPECT_THAT(shift, HasSubstr("~ annotation lock"));
  EXPECT_THAT(shift, ::testing::Not(HasSubstr("canaryctl-test-route")));
  EXPECT_OK(Do("shift 100"));
  const int writes = cluster_.writes;
  const std::string promote = text(Do("promote", "100", dry));
  EXPECT_THAT(promote, HasSubstr("- annotation lock"));
  EXPECT_THAT(promote, HasSubstr("- http route canaryctl-test-route"));
  EXPECT_EQ(cluster_.writes, writes);
  EXPECT_TRUE(cluster_.test_route);
}

TEST_F(RolloutTest, InterruptLeavesAConsistentStateAndExits130) {
  Load(kHybrid);
  for (const std::string cmd : {"deploy", "test"}) EXPECT_OK(Do(cmd));
  judge_ = [this](const checks::StepContext&) {
    interrupted_ = true;  // SIGTERM arrives while the check runs
    return checks::Verdict::kPass;
  };
  auto o = Do("shift 30");
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, ErrorKind::kInterrupted);
  const auto s = State();
  EXPECT_EQ(s.phase, Phase::kFailed);
  EXPECT_EQ(s.current, CandidateAt(Stage()));
  interrupted_ = false;
  judge_ = [](const checks::StepContext&) { return checks::Verdict::kPass; };
  EXPECT_OK(Do("shift 30"));  // the rerun finishes the step
  EXPECT_EQ(State().phase, Phase::kShifted);
}

TEST_F(RolloutTest, AJudgedStepWritesItsBeginAndEndAndAnUnjudgedStepOneWrite) {
  Load(kHybrid);
  for (const std::string cmd : {"deploy", "test"}) EXPECT_OK(Do(cmd));
  // With a check: traffic moves and the state says shifting while the check runs.
  std::optional<Phase> during;
  judge_ = [&](const checks::StepContext&) {
    during = State().phase;
    return checks::Verdict::kPass;
  };
  int writes = cluster_.writes;
  EXPECT_OK(Do("shift 30"));
  EXPECT_EQ(cluster_.writes, writes + 2);
  EXPECT_EQ(during, Phase::kShifting);

  // Nothing to judge: one write, holding both transitions.
  no_checks_ = true;
  writes = cluster_.writes;
  auto o = Do("shift 60");
  EXPECT_OK(o);
  EXPECT_EQ(cluster_.writes, writes + 1);
  EXPECT_EQ(Stage(), 60);
  EXPECT_TRUE(Locked());
  const auto s = State();
  EXPECT_EQ(s.phase, Phase::kShifted);
  EXPECT_EQ(s.current, CandidateAt(60));
  ASSERT_GE(s.history.size(), 2u);
  EXPECT_EQ(s.history[s.history.size() - 2].to, Phase::kShifting);
  EXPECT_EQ(s.history.back().from, Phase::kShifting);
  EXPECT_EQ(s.history.back().to, Phase::kShifted);
  ASSERT_EQ(o.record.steps.size(), 1u) << "the step is recorded, with no checks";
  EXPECT_TRUE(o.record.steps[0].checks.empty());
  EXPECT_EQ(o.record.steps[0].weight, 60);

  // A rerun converges without writing; the next step continues from there.
  writes = cluster_.writes;
  EXPECT_OK(Do("shift 60"));
  EXPECT_EQ(cluster_.writes, writes);
  EXPECT_OK(Do("shift 100"));
  EXPECT_OK(Do("promote"));
  EXPECT_EQ(Prod(), 100);
  EXPECT_FALSE(Locked());
}

TEST_F(RolloutTest, AnAnalysisAloneMakesAStepJudged) {
  Load(kHybridAnalysis);
  no_checks_ = true;
  for (const std::string cmd : {"deploy", "test"}) EXPECT_OK(Do(cmd));
  std::optional<Phase> during;
  prometheus_answer_ = [&](const std::string&) {
    during = State().phase;
    return std::optional<double>(99.9);
  };
  const int writes = cluster_.writes;
  const auto slept_before = slept_;
  auto o = Do("shift 30");
  EXPECT_OK(o);
  EXPECT_EQ(cluster_.writes, writes + 2);
  EXPECT_EQ(during, Phase::kShifting);
  EXPECT_FALSE(queries_.empty());
  ASSERT_EQ(o.record.steps.size(), 1u);
  EXPECT_GT(slept_, slept_before);
  EXPECT_EQ(o.record.steps[0].duration, slept_ - slept_before)
      << "the step's duration is its judging, the analysis's waits included";
}

TEST_F(RolloutTest, BlueGreenSwapsSlotsAndTheNextCandidateGoesToTheIdleOne) {
  Load(kBlueGreen);
  helm_.Install("prod/demoapp-blue", "v1");
  EXPECT_OK(Do("deploy"));
  EXPECT_THAT(helm_.calls, ElementsAre("upgrade prod/demoapp-green"));
  EXPECT_OK(Do("test"));
  EXPECT_OK(Do("shift 100"));
  EXPECT_EQ(W("demoapp-green.prod.svc.cluster.local"), 100);
  EXPECT_OK(Do("promote"));
  EXPECT_EQ(W("demoapp-green.prod.svc.cluster.local"), 100);
  EXPECT_EQ(W("demoapp-blue.prod.svc.cluster.local"), 0);
  EXPECT_EQ(State().live_slot, Slot::kGreen);
  EXPECT_EQ(State().stable.version, "v2");
  EXPECT_EQ(helm_.calls.size(), 1u);  // promote reinstalls nothing

  Load(kBlueGreen, "v3");
  EXPECT_OK(Do("deploy", "101"));
  EXPECT_EQ(helm_.calls.back(), "upgrade prod/demoapp-blue");
  EXPECT_EQ(W("demoapp-green.prod.svc.cluster.local"), 100);
  EXPECT_OK(Do("rollback", "101"));
  EXPECT_EQ(W("demoapp-green.prod.svc.cluster.local"), 100);
  EXPECT_EQ(State().live_slot, Slot::kGreen);
}

TEST_F(RolloutTest, HelmFailureRecordsFailedAndExitsThree) {
  Load(kHybrid);
  helm_.fail_upgrade = ClusterError("helm upgrade failed: timed out waiting for the condition");
  auto o = Do("deploy");
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, ErrorKind::kCluster);
  EXPECT_THAT(o.error->message, HasSubstr("timed out"));
  EXPECT_EQ(State().phase, Phase::kFailed);
  EXPECT_EQ(Stage(), 0);
  helm_.fail_upgrade.reset();
  EXPECT_OK(Do("deploy"));  // the rerun converges
  EXPECT_EQ(State().phase, Phase::kDeployed);
}

TEST_F(RolloutTest, ChangedValuesDeployAgainSameValuesConverge) {
  Load(kHybrid, "v2");
  EXPECT_OK(Do("deploy"));
  EXPECT_OK(Do("deploy"));
  EXPECT_EQ(helm_.calls.size(), 1u);
  Load(kHybrid, "v3");
  EXPECT_OK(Do("deploy"));
  EXPECT_EQ(helm_.calls.size(), 2u);
  EXPECT_EQ(State().candidate.version, "v3");
}

TEST_F(RolloutTest, RunContinuesWhereTheRolloutStandsAndARerunDoesNothing) {
  Load(kHybrid);
  helm_.Install("prod/demoapp", "v1");
  for (const std::string cmd : {"deploy", "test", "shift 30"}) EXPECT_OK(Do(cmd));
  auto run = Do("run");
  EXPECT_OK(run);
  EXPECT_EQ(State().phase, Phase::kPromoted);
  EXPECT_THAT(helm_.calls, ElementsAre("upgrade stage/demoapp", "upgrade prod/demoapp"));
  std::vector<int> weights;
  for (const auto& step : run.record.steps) weights.push_back(step.weight);
  EXPECT_THAT(weights, ElementsAre(60, 100, 0));  // shift 60, shift 100, promote
  const int writes = cluster_.writes;
  EXPECT_OK(Do("run"));
  EXPECT_EQ(cluster_.writes, writes);
  EXPECT_EQ(helm_.calls.size(), 2u);
  // A new candidate is a new rollout.
  Load(kHybrid, "v3");
  EXPECT_OK(Do("run", "101"));
  EXPECT_EQ(helm_.releases["prod/demoapp"].back().app_version, "v3");
}

TEST_F(RolloutTest, RunAfterAFailedStepFinishesTheRollbackAndFails) {
  Load(kHybrid);
  spec_.rollback.automatic = false;
  for (const std::string cmd : {"deploy", "test"}) EXPECT_OK(Do(cmd));
  judge_ = [](const checks::StepContext&) { return checks::Verdict::kFail; };
  EXPECT_TRUE(Do("shift 30").error);
  auto run = Do("run");
  ASSERT_TRUE(run.error);
  EXPECT_EQ(run.error->kind, ErrorKind::kCheckFailed);
  EXPECT_EQ(State().phase, Phase::kRolledBack);
  EXPECT_EQ(Stage(), 0);
}

TEST_F(RolloutTest, LocalRunsOfDifferentUsersDoNotShareTheLock) {
  Load(kHybrid);
  ci::JobContext alice;  // outside GitLab: pipeline "local", the user tells runs apart
  alice.pipeline_id = "local";
  alice.user_login = "alice";
  alice.project_dir = "/nonexistent";
  ci::JobContext bob = alice;
  bob.user_login = "bob";
  EXPECT_OK(Do("deploy", alice));
  auto o = Do("test", bob);
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, ErrorKind::kLocked);
  EXPECT_THAT(o.error->message, HasSubstr("alice"));
  EXPECT_OK(Do("test", alice));
}

TEST_F(RolloutTest, PromoteOfOtherValuesThanTestedIsRefusedBeforeAnyWrite) {
  Load(kHybrid, "v2");
  for (const std::string cmd : {"deploy", "test", "shift 30", "shift 60", "shift 100"}) {
    EXPECT_OK(Do(cmd));
  }
  Load(kHybrid, "v9");
  const int writes = cluster_.writes;
  auto o = Do("promote");
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, ErrorKind::kConfig);
  EXPECT_THAT(o.error->message, HasSubstr("differ from what was deployed and tested"));
  EXPECT_EQ(cluster_.writes, writes);
  EXPECT_EQ(State().phase, Phase::kShifted);
  Load(kHybrid, "v2");
  EXPECT_OK(Do("promote"));
}

// rollout.env feeds later jobs of the pipeline; none of its keys may override their config.
TEST(RolloutReportTest, NoDotenvKeyIsAnOverrideKey) {
  report::RolloutRecord record;
  record.app = "demoapp";
  record.strategy = "hybrid";
  record.phase = "shift";
  record.stable = {"prod", "demoapp", "demoapp-0.1.0", "v1", 3, "abc"};
  record.candidate = {"stage", "demoapp", "demoapp-0.1.0", "v2", 1, "def"};
  record.pipeline = {"1", "u", "2", "j", "https://x/-/jobs/2", "alice", "main"};
  record.environment_url = "https://demo.example.com";
  const auto dotenv = report::RenderDotenv(record, ci::Redactor());
  std::istringstream lines(dotenv.text);
  int keys = 0;
  for (std::string line; std::getline(lines, line);) {
    const std::string key = line.substr(0, line.find('='));
    ++keys;
    for (const auto& o : config::OverrideTable()) EXPECT_NE(key, o.variable) << line;
  }
  EXPECT_GE(keys, 10);
}

}  // namespace
}  // namespace canaryctl::engine

namespace canaryctl::engine {
namespace {

TEST_F(RolloutTest, AnalysisJudgesTrafficStepsButNotZeroPercent) {
  Load(kHybridAnalysis);
  helm_.Install("prod/demoapp", "v1");
  for (const std::string cmd : {"deploy", "test"}) EXPECT_OK(Do(cmd));
  EXPECT_TRUE(queries_.empty()) << "at 0% the candidate gets no traffic to measure";
  auto o = Do("shift 30");
  EXPECT_OK(o);
  ASSERT_FALSE(queries_.empty());
  // Flagger's success-rate query, on the candidate's workload only.
  EXPECT_THAT(queries_[0], HasSubstr("destination_workload_namespace=\"stage\""));
  EXPECT_THAT(queries_[0], HasSubstr("flaskapp"));
  ASSERT_EQ(o.record.steps.size(), 1u);
  ASSERT_EQ(o.record.steps[0].metrics.size(), 1u);
  EXPECT_EQ(o.record.steps[0].metrics[0].name, "request-success-rate");
  EXPECT_EQ(o.record.steps[0].metrics[0].value, 99.9);
  EXPECT_EQ(o.record.steps[0].metrics[0].verdict, checks::Verdict::kPass);
  EXPECT_EQ(Prod(), 70);
  EXPECT_EQ(Stage(), 30);
  EXPECT_FALSE(o.record.rollback_ms);
}

TEST_F(RolloutTest, FailingAnalysisRollsBackAndRecordsTheTimeToRestore) {
  Load(kHybridAnalysis);
  helm_.Install("prod/demoapp", "v1");
  for (const std::string cmd : {"deploy", "test"}) EXPECT_OK(Do(cmd));
  prometheus_answer_ = [](const std::string&) { return std::optional<double>(80.0); };
  auto o = Do("shift 30");
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, ErrorKind::kCheckFailed);
  EXPECT_EQ(Prod(), 100);
  EXPECT_EQ(Stage(), 0);
  EXPECT_EQ(State().phase, Phase::kRolledBack);
  ASSERT_TRUE(o.record.rollback_ms);
  EXPECT_GE(*o.record.rollback_ms, 0);
  ASSERT_EQ(o.record.steps.size(), 1u);
  const auto& step = o.record.steps[0];
  ASSERT_EQ(step.metrics.size(), 1u);
  EXPECT_EQ(step.metrics[0].value, 80.0);
  EXPECT_EQ(step.metrics[0].verdict, checks::Verdict::kFail);
  // The metric's verdict is in the step's checks too (junit.xml), after the configured check.
  ASSERT_EQ(step.checks.size(), 2u);
  EXPECT_EQ(step.checks[1].name, "request-success-rate");
  EXPECT_EQ(step.checks[1].verdict, checks::Verdict::kFail);
}

TEST_F(RolloutTest, AnalysisWithoutDataFailsTheStepSayingThereWasNoTraffic) {
  Load(kHybridAnalysis);
  helm_.Install("prod/demoapp", "v1");
  for (const std::string cmd : {"deploy", "test"}) EXPECT_OK(Do(cmd));
  prometheus_answer_ = [](const std::string&) { return std::optional<double>(); };
  auto o = Do("shift 30");
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, ErrorKind::kCheckFailed);
  EXPECT_EQ(Stage(), 0);
  ASSERT_EQ(o.record.steps.size(), 1u);
  ASSERT_EQ(o.record.steps[0].metrics.size(), 1u);
  EXPECT_FALSE(o.record.steps[0].metrics[0].value);
  EXPECT_THAT(o.error->message, HasSubstr("received no traffic"));
  // It waited out the window (30s) in the analysis's sleeps, not in real time.
  EXPECT_GE(slept_, std::chrono::seconds(20));
}

TEST_F(RolloutTest, FailedCheckSkipsTheAnalysis) {
  Load(kHybridAnalysis);
  helm_.Install("prod/demoapp", "v1");
  for (const std::string cmd : {"deploy", "test"}) EXPECT_OK(Do(cmd));
  judge_ = [](const checks::StepContext&) { return checks::Verdict::kFail; };
  auto o = Do("shift 30");
  ASSERT_TRUE(o.error);
  EXPECT_TRUE(queries_.empty());
  EXPECT_EQ(Stage(), 0);
}

}  // namespace
}  // namespace canaryctl::engine

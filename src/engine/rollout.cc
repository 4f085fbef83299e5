#include "engine/rollout.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <thread>
#include <utility>

#include "analysis/analysis.h"
#include "engine/progress.h"
#include "engine/release_digest.h"
#include "engine/transition.h"
#include "git/repository.h"
#include "helm/helm_args.h"

namespace canaryctl::engine {
namespace {

using namespace std::chrono_literals;

constexpr char kInjectionLabel[] = "istio-injection";

Strategy ToEngine(config::Strategy s) {
  switch (s) {
    case config::Strategy::kHybrid:
      return Strategy::kHybrid;
    case config::Strategy::kCanary:
      return Strategy::kCanary;
    case config::Strategy::kBlueGreen:
      return Strategy::kBlueGreen;
  }
  return Strategy::kHybrid;
}

Command Cmd(CommandKind kind, int weight = 0) {
  Command c;
  c.kind = kind;
  c.weight = weight;
  return c;
}

int64_t Unix(Timestamp t) { return t.time_since_epoch().count(); }

std::string ReleaseName(const config::ReleaseSpec& r) { return r.namespace_name + "/" + r.release; }

helm::ReleaseRef Ref(const config::ReleaseSpec& r) { return {r.release, r.namespace_name}; }

std::string Pct(int w) { return std::to_string(w) + "%"; }

// The state as read, with the weights actually on the route: if someone changed them outside
// canaryctl, the route is what users get, and the decision must start from it.
std::optional<RolloutState> WithRouteWeights(std::optional<RolloutState> state, Weights route) {
  if (state && state->current != route) {
    spdlog::warn(
        "the route's weights {} differ from the recorded {} (changed outside canaryctl); "
        "deciding from the route's",
        FormatWeights(route), FormatWeights(state->current));
    state->current = route;
  }
  return state;
}

}  // namespace

traffic::RouterConfig RouterConfigFor(const config::RolloutSpec& spec, Slot live) {
  traffic::RouterConfig c;
  const auto& vs = spec.traffic.virtual_service;
  c.virtual_service.ns = vs.namespace_name;
  c.virtual_service.name = vs.name;
  c.virtual_service.create = vs.create;
  c.virtual_service.gateways = vs.gateways;
  c.virtual_service.hosts = vs.hosts;
  const std::string stable_subset = spec.traffic.subset ? spec.traffic.subset->stable : "";
  const std::string candidate_subset = spec.traffic.subset ? spec.traffic.subset->candidate : "";
  auto dest = [&](const config::ReleaseSpec& r, const std::string& subset) {
    return traffic::ServiceDestination{r.service, r.namespace_name, spec.traffic.port, subset};
  };
  // Blue-green: `stable` in rollout.yaml is the blue slot, `candidate` the green one; the live
  // slot is the stable destination.
  if (live == Slot::kGreen) {
    c.stable = dest(spec.candidate, candidate_subset);
    c.candidate = dest(spec.stable, stable_subset);
  } else {
    c.stable = dest(spec.stable, stable_subset);
    c.candidate = dest(spec.candidate, candidate_subset);
  }
  if (spec.traffic.test_route) {
    c.test_route =
        traffic::TestRouteSpec{spec.traffic.test_route->header, spec.traffic.test_route->value};
  }
  return c;
}

std::string ServiceUrl(const config::ReleaseSpec& release, const std::optional<int>& port) {
  std::string url =
      "http://" + release.service + "." + release.namespace_name + ".svc.cluster.local";
  if (port && *port != 80) url += ":" + std::to_string(*port);
  return url;
}

// ---------------------------------------------------------------------------------------------
// One command's run: reads, decides, writes, works, and records what happened.

class Rollout::Job {
 public:
  Job(Rollout& r, Command cmd) : r_(r), spec_(r.spec_), cmd_(std::move(cmd)) {
    out_.record.app = spec_.app;
    out_.record.strategy = config::StrategyName(spec_.strategy);
    out_.record.phase = std::string(CommandName(cmd_.kind));
    out_.record.pipeline = {r.job_.pipeline_id,    r.job_.pipeline_url, r.job_.job_id,
                            r.job_.job_name,       r.job_.job_url,      r.job_.user_login,
                            r.job_.commit_ref_name};
    out_.record.environment_name = r.job_.environment_name;
    out_.record.environment_url = r.job_.environment_url;
    // Outside GitLab every run has the pipeline id "local": the holder (user) tells runs apart.
    claim_ = {r.job_.in_gitlab ? r.job_.pipeline_id : "", r.job_.job_url, r.job_.user_login};
  }

  Outcome Execute();
  Outcome Preview();  // `plan`
  // The releases' helm status too when with_releases (two helm runs: ~160 ms).
  Result<StatusView> View(bool with_releases = true);

  // What a deploy would install now: chart, digest and commit (cached).
  Release CandidateIdentity();

 private:
  struct Snapshot {
    std::unique_ptr<traffic::Router> router;
    traffic::TrafficState traffic;
    std::optional<RolloutState> state;  // with the route's weights as current
    std::optional<Lock> lock;
    Slot live = Slot::kNone;
  };

  // --- reading and writing --------------------------------------------------------------------
  canaryctl::Status Read();
  Weights RouteWeights() const { return {snap_.traffic.stable, snap_.traffic.candidate}; }
  enum class Wrote { kOk, kConflict };
  // Sleeps before the attempt-th retry after a 409 (jittered, growing).
  void ConflictPause(int attempt);
  // One guarded write of the route's weights, the state and the lock (nullopt: release it).
  Result<Wrote> WriteOnce(const RolloutState& state, Weights w, const std::optional<Lock>& lock,
                          bool remove_test_route, traffic::Router* router = nullptr);
  // A write after the lock is ours: on a conflict, re-reads and retries as long as the lock
  // is still ours (someone else's write to another field of the object is not a reason to
  // give up; a lock taken over is).
  canaryctl::Status WriteHolding(const RolloutState& state, Weights w, bool release_lock,
                                 bool remove_test_route, bool swap_router = false);

  // --- deciding ---
  // Fills in what the command carries beyond its kind: the candidate a deploy would install,
  // --skip-steps.
  void CompleteCommand();
  // From the snapshot just read: state_ (the initial state when none is recorded, with the
  // route's weights), decision_, and what the lock allows this job.
  LockDecision DecideNow();

  // --- the phases -----------------------------------------------------------------------------
  canaryctl::Status Prepare();  // deploy: namespaces and the route exist
  canaryctl::Status DeployWork();
  canaryctl::Status PromoteWork();
  canaryctl::Status RollbackWork();
  // Judges one step: the checks, then at test/shift the load and its split and the analysis.
  checks::Verdict RunChecks(const std::string& phase, int weight, const std::string& target_url);
  // Test and shift judge a traffic step: "test" or "shift" ("" for the other commands).
  std::string StepPhase() const {
    return cmd_.kind == CommandKind::kTest    ? "test"
           : cmd_.kind == CommandKind::kShift ? "shift"
                                              : "";
  }
  // Whether RunChecks at this command's traffic step, at weight, would judge anything: a
  // check, load or analysis.
  bool Judged(int weight) const;
  // Keeps the load running until it has run for load.duration (progress lines meanwhile).
  void AwaitLoad(const load::LoadGenerator& gen, std::chrono::system_clock::time_point started,
                 int weight);
  Outcome CheckFailed(const std::string& why);
  Outcome Failed(Error error);  // records phase failed with the route's weights (best effort)
  // Writes phase `failed` with the weights on the route, keeping the lock; logs if it cannot.
  void RecordFailed(const std::string& message);
  Outcome Finish(std::optional<Error> error, report::Outcome outcome);
  bool Interrupted() const { return r_.deps_.interrupted && r_.deps_.interrupted->load(); }
  Outcome Interrupt(const std::string& where);

  // --- helpers --------------------------------------------------------------------------------
  std::string Label() const {
    return cmd_.kind == CommandKind::kShift ? "shift " + std::to_string(cmd_.weight)
                                            : std::string(CommandName(cmd_.kind));
  }
  std::chrono::system_clock::time_point Clock() const {
    return r_.deps_.now ? r_.deps_.now() : std::chrono::system_clock::now();
  }
  Timestamp Now() const { return std::chrono::time_point_cast<std::chrono::seconds>(Clock()); }
  TransitionContext Ctx(std::string message = "") const {
    return {Now(), r_.job_.pipeline_id, r_.job_.job_url, r_.job_.user_login, std::move(message)};
  }
  Slot Live() const { return snap_.live; }
  const config::ReleaseSpec& StableSpec() const {
    return Live() == Slot::kGreen ? spec_.candidate : spec_.stable;
  }
  const config::ReleaseSpec& CandidateSpec() const {
    return Live() == Slot::kGreen ? spec_.stable : spec_.candidate;
  }
  bool BlueGreen() const { return spec_.strategy == config::Strategy::kBlueGreen; }
  helm::UpgradeRequest UpgradeFor(const config::ReleaseSpec& release) const;
  void FillRecord();
  std::vector<std::string> PreviewLines(const Decision& d, const LockDecision& ld);

  Rollout& r_;
  const config::RolloutSpec& spec_;
  Command cmd_;
  Outcome out_;
  Snapshot snap_;
  Decision decision_;
  RolloutState state_;  // as last written (or read)
  LockClaim claim_;
  Lock lock_;  // ours, once acquired
  Timestamp started_{};
  std::optional<std::string> digest_;
  Release promoted_;                 // promote: the stable release after its upgrade
  std::optional<Release> restored_;  // rollback: the stable release after its helm rollback
  std::string failed_because_;       // RunChecks: the first failing verdict, "name: message"
  // rollback: when the write that put all traffic on stable succeeded.
  std::optional<std::chrono::steady_clock::time_point> weights_restored_at_;
};

Status Rollout::Job::Read() {
  Slot live = BlueGreen() ? Slot::kBlue : Slot::kNone;
  for (int pass = 0; pass < 2; ++pass) {
    Snapshot s;
    s.live = live;
    s.router = r_.deps_.make_router(RouterConfigFor(spec_, live));
    auto t = s.router->Weights();
    if (!t.ok()) return t.error();
    s.traffic = t.value();
    if (auto it = s.traffic.annotations.find(kStateAnnotation); it != s.traffic.annotations.end()) {
      auto parsed = ParseState(it->second);
      if (!parsed.ok()) return parsed.error();
      s.state = parsed.value();
    }
    if (auto it = s.traffic.annotations.find(kLockAnnotation); it != s.traffic.annotations.end()) {
      auto parsed = ParseLock(it->second);
      if (!parsed.ok()) return parsed.error();
      s.lock = parsed.value();
    }
    // Blue-green: the destinations' roles follow the live slot on record.
    if (s.state && BlueGreen() && s.state->live_slot != Slot::kNone && s.state->live_slot != live) {
      live = s.state->live_slot;
      continue;
    }
    if (s.state && s.traffic.exists) {
      s.state = WithRouteWeights(std::move(s.state), {s.traffic.stable, s.traffic.candidate});
    }
    snap_ = std::move(s);
    return Done{};
  }
  return ClusterError("the live slot of " + spec_.app + " changed while reading it; rerun");
}

Result<Rollout::Job::Wrote> Rollout::Job::WriteOnce(const RolloutState& state, Weights w,
                                                    const std::optional<Lock>& lock,
                                                    bool remove_test_route,
                                                    traffic::Router* router) {
  traffic::WeightUpdate u;
  u.stable = w.stable;
  u.candidate = w.candidate;
  u.state_json = SerializeState(state);
  u.lock_json = lock ? SerializeLock(*lock) : "";
  u.expected_resource_version = snap_.traffic.resource_version;
  u.remove_test_route = remove_test_route;
  auto written = (router ? router : snap_.router.get())->SetWeights(u);
  if (!written.ok()) return written.error();
  if (written.value().outcome == traffic::WriteOutcome::kConflict) return Wrote::kConflict;
  snap_.traffic.resource_version = written.value().resource_version;
  snap_.traffic.stable = w.stable;
  snap_.traffic.candidate = w.candidate;
  state_ = state;
  if (snap_.state && state == *snap_.state && lock) {
    spdlog::info("{}: took the rollout lock (weights {} unchanged)", Label(), FormatWeights(w));
  } else {
    spdlog::info("{}: wrote weights {} (stable/candidate), phase {}{}", Label(), FormatWeights(w),
                 PhaseName(state.phase), lock ? "" : ", lock released");
  }
  return Wrote::kOk;
}

Status Rollout::Job::WriteHolding(const RolloutState& state, Weights w, bool release_lock,
                                  bool remove_test_route, bool swap_router) {
  for (int attempt = 0; attempt <= r_.options_.max_conflicts; ++attempt) {
    std::unique_ptr<traffic::Router> swapped;
    if (swap_router) swapped = r_.deps_.make_router(RouterConfigFor(spec_, state.live_slot));
    std::optional<Lock> lock;
    if (!release_lock) lock = lock_;
    auto wrote = WriteOnce(state, w, lock, remove_test_route, swapped.get());
    if (!wrote.ok()) return wrote.error();
    if (wrote.value() == Wrote::kOk) return Done{};
    spdlog::info("{}: the VirtualService changed meanwhile (409); re-reading", Label());
    ConflictPause(attempt);
    const Slot live = snap_.live;
    if (auto read = Read(); !read.ok()) return read.error();
    if (!snap_.lock || !SamePipeline(*snap_.lock, claim_)) {
      return Error{ErrorKind::kLocked, "the rollout lock of " + spec_.app + " was taken over by " +
                                           (snap_.lock ? "pipeline " + snap_.lock->pipeline_id +
                                                             " (" + snap_.lock->job_url + ")"
                                                       : std::string("nobody (removed)")) +
                                           " while this job held it; not writing"};
    }
    if (snap_.live != live && !swap_router) {
      return ClusterError("the live slot of " + spec_.app +
                          " changed while this job held the lock");
    }
  }
  return ClusterError("VirtualService " + spec_.traffic.virtual_service.namespace_name + "/" +
                      spec_.traffic.virtual_service.name + " kept changing (" +
                      std::to_string(r_.options_.max_conflicts + 1) + " conflicts); giving up");
}

helm::UpgradeRequest Rollout::Job::UpgradeFor(const config::ReleaseSpec& release) const {
  helm::UpgradeRequest req;
  req.release = Ref(release);
  req.chart = spec_.helm.chart;
  req.chart_version = spec_.helm.version.value_or("");
  req.repo = spec_.helm.repo.value_or("");
  req.values_files = spec_.helm.values;
  req.set = spec_.helm.set;
  for (const auto& [key, value] : spec_.helm.set) {
    for (const auto& secret : spec_.secret_values) {
      if (value.find(secret) != std::string::npos) req.secrets.push_back(key);
    }
  }
  req.timeout = std::chrono::duration_cast<std::chrono::seconds>(spec_.helm.timeout);
  if (req.timeout.count() <= 0) req.timeout = 1s;
  req.wait = true;
  req.create_namespace = false;  // Prepare() made it, with the injection label
  std::string by = r_.job_.job_url.empty() ? "pipeline " + r_.job_.pipeline_id : r_.job_.job_url;
  if (!r_.job_.pipeline_url.empty()) by = r_.job_.pipeline_url + " job " + r_.job_.job_url;
  req.description = "canaryctl " + Label() + " of " + spec_.app + " by " + by;
  return req;
}

Release Rollout::Job::CandidateIdentity() {
  Release rel;
  rel.chart = spec_.helm.chart;
  rel.version = spec_.helm.version.value_or("");
  if (!digest_) {
    auto d = ReleaseDigest(spec_.helm);
    digest_ = d.ok() ? d.value() : "";
    if (!d.ok()) spdlog::warn("{}", d.error().message);
  }
  rel.digest = *digest_;
  const std::string dir = r_.job_.project_dir.empty() ? "." : r_.job_.project_dir;
  const std::string rev = r_.job_.commit_sha.empty() ? "HEAD" : r_.job_.commit_sha;
  auto commit = git::ReadCommit(dir, rev);
  if (commit.ok()) {
    rel.commit = commit.value().sha;
  } else {
    spdlog::debug("no candidate commit recorded: {}", commit.error().message);
  }
  return rel;
}

Status Rollout::Job::Prepare() {
  std::vector<std::string> namespaces = {spec_.stable.namespace_name,
                                         spec_.candidate.namespace_name,
                                         spec_.traffic.virtual_service.namespace_name};
  std::sort(namespaces.begin(), namespaces.end());
  namespaces.erase(std::unique(namespaces.begin(), namespaces.end()), namespaces.end());
  for (const auto& ns : namespaces) {
    if (!r_.deps_.ensure_namespace) break;
    auto ok = r_.deps_.ensure_namespace(ns, {{kInjectionLabel, "enabled"}});
    if (!ok.ok()) return ok.error();
  }
  spdlog::info(
      "deploy: namespaces {} ready (label {}=enabled)",
      [&] {
        std::string s;
        for (const auto& ns : namespaces) s += (s.empty() ? "" : ", ") + ns;
        return s;
      }(),
      kInjectionLabel);
  return snap_.router->Reconcile();
}

Status Rollout::Job::DeployWork() {
  helm::Deployer& helm = *r_.deps_.deployer;
  const auto& cand = CandidateSpec();
  // A helm killed mid-operation (a cancelled job) leaves the release pending and blocks helm;
  // we hold the lock, so no other canaryctl is running helm on it.
  auto recovered = helm.RecoverPending(Ref(cand), {true, UpgradeFor(cand).timeout});
  if (!recovered.ok()) return recovered.error();
  if (recovered.value().action != helm::Recovery::Action::kNothing) {
    spdlog::warn("deploy: release {} was left {} (revision {}); recovered it first",
                 ReleaseName(cand), recovered.value().pending_status,
                 recovered.value().pending_revision);
  }
  // What stable runs now, so that a later rollback of a promote knows where to go back to.
  if (auto st = helm.Status(Ref(StableSpec())); st.ok() && st.value()) {
    state_.stable.chart = st.value()->current.chart;
    state_.stable.version = st.value()->current.app_version;
    state_.stable.revision = st.value()->current.number;
  }
  if (Interrupted()) return Error{ErrorKind::kInterrupted, "interrupted before helm ran"};
  spdlog::info("deploy: helm upgrade --install {} ({})", ReleaseName(cand), spec_.helm.chart);
  auto installed = [&] {
    ProgressTicker ticker("deploy: waiting for helm upgrade --install " + ReleaseName(cand),
                          UpgradeFor(cand).timeout);
    return helm.UpgradeInstall(UpgradeFor(cand));
  }();
  if (!installed.ok()) return installed.error();
  Release rel = CandidateIdentity();
  rel.chart = installed.value().current.chart;
  rel.version = installed.value().current.app_version;
  rel.revision = installed.value().current.number;
  state_.candidate = rel;
  spdlog::info("deploy: {} is at revision {} ({} {})", ReleaseName(cand), rel.revision, rel.chart,
               rel.version);
  if (spec_.traffic.test_route) {
    auto added = snap_.router->SetTestRoute(true);
    if (!added.ok()) return added.error();
    if (added.value().outcome == traffic::WriteOutcome::kWritten) {
      snap_.traffic.resource_version = added.value().resource_version;
      spdlog::info("deploy: test route added: requests with {}: {} reach the candidate",
                   spec_.traffic.test_route->header, spec_.traffic.test_route->value);
    }
  }
  return Done{};
}

Status Rollout::Job::PromoteWork() {
  if (BlueGreen()) return Done{};  // the idle slot becomes live: nothing is reinstalled
  helm::Deployer& helm = *r_.deps_.deployer;
  const auto& stable = StableSpec();
  auto recovered = helm.RecoverPending(Ref(stable), {true, UpgradeFor(stable).timeout});
  if (!recovered.ok()) return recovered.error();
  if (recovered.value().action != helm::Recovery::Action::kNothing) {
    // A helm killed mid-upgrade of stable (an earlier promote job): say what was undone.
    spdlog::warn("promote: release {} was left {} (revision {}); recovered it first",
                 ReleaseName(stable), recovered.value().pending_status,
                 recovered.value().pending_revision);
  }
  if (Interrupted()) return Error{ErrorKind::kInterrupted, "interrupted before helm ran"};
  spdlog::info("promote: helm upgrade {} to the candidate's chart and values", ReleaseName(stable));
  auto upgraded = [&] {
    ProgressTicker ticker("promote: waiting for helm upgrade " + ReleaseName(stable),
                          UpgradeFor(stable).timeout);
    return helm.UpgradeInstall(UpgradeFor(stable));
  }();
  if (!upgraded.ok()) return upgraded.error();
  promoted_ = state_.candidate;
  promoted_.chart = upgraded.value().current.chart;
  promoted_.version = upgraded.value().current.app_version;
  promoted_.revision = upgraded.value().current.number;
  return Done{};
}

Status Rollout::Job::RollbackWork() {
  helm::Deployer& helm = *r_.deps_.deployer;
  const auto& cand = CandidateSpec();
  const auto timeout = UpgradeFor(cand).timeout;
  if (decision_.restore_stable_release && !BlueGreen()) {
    const auto& stable = StableSpec();
    auto recovered = helm.RecoverPending(Ref(stable), {true, timeout});
    if (!recovered.ok()) return recovered.error();
    if (recovered.value().action != helm::Recovery::Action::kNothing) {
      spdlog::warn("rollback: release {} was left {} (revision {}); recovered it first",
                   ReleaseName(stable), recovered.value().pending_status,
                   recovered.value().pending_revision);
    }
    const int to = state_.stable.revision;
    auto st = helm.Status(Ref(stable));
    if (!st.ok()) return st.error();
    if (to > 0 && st.value() && st.value()->current.number != to) {
      spdlog::info("rollback: helm rollback {} to revision {} (the stable release before promote)",
                   ReleaseName(stable), to);
      auto rb = [&] {
        ProgressTicker ticker("rollback: waiting for helm rollback " + ReleaseName(stable),
                              timeout);
        return helm.Rollback(Ref(stable), {to, true, timeout});
      }();
      if (!rb.ok()) return rb.error();
      auto after = helm.Status(Ref(stable));
      if (after.ok() && after.value())
        restored_ =
            Release{state_.stable.chart, state_.stable.version, after.value()->current.number,
                    state_.stable.commit, state_.stable.digest};
    }
  }
  switch (spec_.rollback.candidate) {
    case config::CandidateAfterRollback::kKeep:
      spdlog::info("rollback: candidate {} kept (rollback.candidate: keep)", ReleaseName(cand));
      break;
    case config::CandidateAfterRollback::kRollback: {
      auto history = helm.History(Ref(cand));
      if (!history.ok()) return history.error();
      if (history.value().size() > 1) {
        spdlog::info("rollback: helm rollback {} to its previous revision", ReleaseName(cand));
        auto rb = helm.Rollback(Ref(cand), {0, true, timeout});
        if (!rb.ok()) return rb.error();
      } else {
        spdlog::info("rollback: candidate {} has no earlier revision; kept", ReleaseName(cand));
      }
      break;
    }
    case config::CandidateAfterRollback::kUninstall: {
      spdlog::info("rollback: helm uninstall {}", ReleaseName(cand));
      auto un = helm.Uninstall(Ref(cand), {true, timeout});
      if (!un.ok()) return un.error();
      state_.candidate.revision = 0;
      break;
    }
  }
  return Done{};
}

namespace {

std::string LoadSummary(const report::LoadRecord& load) {
  std::string text =
      std::to_string(load.requests) + " requests, " + std::to_string(load.errors) + " errors";
  if (load.requests > 0) {
    char p99[32];
    std::snprintf(p99, sizeof p99, "%.0f", load.p99_ms);
    text += ", p99 " + std::string(p99) + " ms";
  }
  if (!load.by_version.empty()) {
    text += ", answers by version:";
    for (const auto& [version, n] : load.by_version) {
      text +=
          " " + (version.empty() ? std::string("(unknown)") : version) + "=" + std::to_string(n);
    }
  }
  return text;
}

}  // namespace

checks::Verdict Rollout::Job::RunChecks(const std::string& phase, int weight,
                                        const std::string& target_url) {
  report::StepRecord step;
  step.phase = phase;
  step.weight = weight;
  step.started_at = Unix(Now());
  const auto step_started = Clock();
  checks::StepContext ctx;
  ctx.app = spec_.app;
  ctx.phase = phase;
  ctx.step_index = std::max(0, r_.plan_.StepIndex(weight));
  ctx.weight = weight;
  ctx.stable_weight = 100 - weight;
  ctx.target_url = target_url;
  ctx.facts["strategy"] = config::StrategyName(spec_.strategy);
  ctx.facts["pipeline_id"] = r_.job_.pipeline_id;
  ctx.facts["job_url"] = r_.job_.job_url;
  ctx.facts["stable_version"] = state_.stable.version;
  ctx.facts["candidate_version"] = state_.candidate.version;
  ctx.facts["candidate_url"] = ServiceUrl(CandidateSpec(), spec_.traffic.port);
  ctx.facts["stable_url"] = ServiceUrl(StableSpec(), spec_.traffic.port);
  auto list =
      r_.deps_.make_checks ? r_.deps_.make_checks() : std::vector<std::unique_ptr<checks::Check>>{};
  // Load and analysis judge traffic steps; promote is judged by its checks only.
  const bool traffic_step = phase == "test" || phase == "shift";
  std::unique_ptr<load::LoadGenerator> load;
  if (traffic_step && spec_.load && r_.deps_.make_load) {
    load = r_.deps_.make_load();
    spdlog::info("load at {}: {} {} at {:g} req/s with {} workers, for at least {}", Pct(weight),
                 spec_.load->method, spec_.load->url, spec_.load->rate, spec_.load->concurrency,
                 FormatElapsed(spec_.load->duration));
    load->Start();
  }
  const auto load_started = Clock();
  std::optional<ci::LogSection> section;
  if (r_.deps_.sections) {
    section.emplace(*r_.deps_.sections, "checks_" + phase + "_" + std::to_string(weight),
                    "checks at " + Pct(weight) + " (" + std::to_string(list.size()) + ")");
  }
  checks::Verdict verdict = checks::Verdict::kPass;
  // Logs a verdict and keeps it; an inconclusive one is not a pass: traffic only moves on
  // evidence.
  auto record = [&](checks::CheckResult result) {
    spdlog::info("check {} at {}: {}{}{} ({})", result.name, Pct(weight),
                 checks::VerdictName(result.verdict), result.message.empty() ? "" : ": ",
                 result.message, checks::FormatDuration(result.duration));
    const bool failed = result.verdict != checks::Verdict::kPass;
    if (failed && !result.output.empty()) {
      // Why it failed, in the job log: the check's own words (redacted by the log sink).
      std::string output = result.output;
      while (!output.empty() && output.back() == '\n') output.pop_back();
      spdlog::info("output of check {}:\n{}", result.name, output);
    }
    if (failed && verdict == checks::Verdict::kPass) {
      failed_because_ = result.name + ": " + result.message;
    }
    step.checks.push_back(std::move(result));
    if (failed) verdict = checks::Verdict::kFail;
  };
  for (size_t i = 0; i < list.size(); ++i) {
    if (Interrupted()) break;
    record(list[i]->Run(ctx));
    if (verdict != checks::Verdict::kPass) {
      for (size_t j = i + 1; j < list.size(); ++j) {
        spdlog::info("check {} at {}: skipped (an earlier check failed)", list[j]->name(),
                     Pct(weight));
      }
      break;
    }
  }
  // The analysis needs the candidate to get traffic: at 0% it would only ever see no data.
  if (verdict == checks::Verdict::kPass && !Interrupted() && traffic_step && spec_.analysis &&
      weight > 0 && r_.deps_.make_prometheus) {
    const config::AnalysisSpec& as = *spec_.analysis;
    auto prometheus = r_.deps_.make_prometheus();
    analysis::AnalysisDeps ad;
    ad.prometheus = prometheus.get();
    ad.interrupted = r_.deps_.interrupted;
    if (r_.deps_.sleep) ad.sleep = r_.deps_.sleep;
    if (r_.deps_.now) ad.now = r_.deps_.now;
    const std::string at = Pct(weight);
    ad.progress = [at, &load](const std::string& line) {
      if (load) {
        spdlog::info("analysis at {}: {}; load: {}", at, line, LoadSummary(load->Snapshot()));
      } else {
        spdlog::info("analysis at {}: {}", at, line);
      }
    };
    auto side = [](const config::ReleaseSpec& r) {
      return analysis::Workload{r.namespace_name, r.workload.empty() ? r.service : r.workload,
                                r.service};
    };
    analysis::StepTarget target{side(CandidateSpec()), side(StableSpec()), weight, step_started};
    spdlog::info("analysis at {}: every {}, for at most {}, against {}", at,
                 FormatElapsed(as.interval), FormatElapsed(as.window), as.prometheus_url);
    analysis::AnalysisResult result = [&] {
      // Measurements come every interval; between long ones, a line every few seconds still
      // shows the job is alive (with the load's numbers, when there is load).
      std::optional<ProgressTicker> ticker;
      if (as.interval > std::chrono::seconds(5)) {
        ticker.emplace("analysis at " + at + ": waiting for the next measurement", as.window,
                       [&load] { return load ? "load: " + LoadSummary(load->Snapshot()) : ""; });
      }
      return analysis::Analysis(as, ad).Run(target);
    }();
    step.metrics = result.metrics;
    if (!Interrupted()) {
      for (auto& c : result.checks) record(std::move(c));
      if (result.verdict != checks::Verdict::kPass) {
        // The analysis's own summary says more than its first failing metric (no traffic).
        if (!result.message.empty()) failed_because_ = "analysis: " + result.message;
        verdict = checks::Verdict::kFail;
      }
      spdlog::info("analysis at {}: {}{}{}", at, checks::VerdictName(result.verdict),
                   result.message.empty() ? "" : ": ", result.message);
    }
  }
  if (load) {
    if (verdict == checks::Verdict::kPass && !Interrupted()) AwaitLoad(*load, load_started, weight);
    step.load = load->Stop();
    spdlog::info("load at {}: {}", Pct(weight), LoadSummary(*step.load));
    if (verdict == checks::Verdict::kPass && !Interrupted() && spec_.load->split) {
      record(load::TrafficSplitCheck(*step.load, *spec_.load->split, weight));
    }
  }
  step.finished_at = Unix(Now());
  step.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock() - step_started);
  out_.record.steps.push_back(std::move(step));
  return verdict;
}

bool Rollout::Job::Judged(int weight) const {
  if (spec_.load && r_.deps_.make_load) return true;
  if (spec_.analysis && weight > 0 && r_.deps_.make_prometheus) return true;
  return r_.deps_.make_checks && !r_.deps_.make_checks().empty();
}

void Rollout::Job::AwaitLoad(const load::LoadGenerator& gen,
                             std::chrono::system_clock::time_point started, int weight) {
  const auto duration = spec_.load->duration;
  auto left = [&] {
    return duration - std::chrono::duration_cast<std::chrono::milliseconds>(Clock() - started);
  };
  if (left().count() <= 0) return;
  ProgressTicker ticker("load at " + Pct(weight), left(),
                        [&gen] { return LoadSummary(gen.Snapshot()); });
  while (!Interrupted()) {
    const auto remaining = left();
    if (remaining.count() <= 0) break;
    const auto slice = std::min(remaining, std::chrono::milliseconds(200));
    if (r_.deps_.sleep) {
      r_.deps_.sleep(slice);
    } else {
      std::this_thread::sleep_for(slice);
    }
  }
}

void Rollout::Job::ConflictPause(int attempt) {
  // Retrying at once against a writer that keeps writing loses every round; a growing pause
  // with jitter lets one of us through. A rollback waits least: its latency is the point.
  const int cap_ms = cmd_.kind == CommandKind::kRollback ? 50 : 1000;
  const int base_ms = std::min(cap_ms, 10 << std::min(attempt, 6));
  static thread_local std::minstd_rand jitter{std::random_device{}()};
  const auto pause = std::chrono::milliseconds(
      std::uniform_int_distribution<int>(base_ms / 2, base_ms + base_ms / 2)(jitter));
  if (r_.deps_.sleep) {
    r_.deps_.sleep(pause);
  } else {
    std::this_thread::sleep_for(pause);
  }
}

void Rollout::Job::RecordFailed(const std::string& message) {
  const Weights on_route = RouteWeights();
  if (auto w = WriteHolding(Fail(state_, Ctx(message), on_route), on_route, false, false);
      !w.ok()) {
    spdlog::error("could not record the failure in the state: {}", w.error().message);
  }
}

Outcome Rollout::Job::Interrupt(const std::string& where) {
  // The route holds what the last write put there, and the state says so: consistent. The
  // lock stays with this pipeline, so its rerun (or rollback) continues.
  const std::string msg = Label() + " interrupted " + where + "; traffic left at " +
                          FormatWeights(RouteWeights()) + "; rerun the job or run `canaryctl " +
                          "rollback`";
  if (state_.phase != Phase::kRollingBack) {
    RecordFailed("interrupted");
  }
  return Finish(Error{ErrorKind::kInterrupted, msg}, report::Outcome::kInterrupted);
}

Outcome Rollout::Job::Failed(Error error) {
  if (error.kind == ErrorKind::kInterrupted) return Interrupt("(" + error.message + ")");
  RecordFailed(Label() + " failed: " + error.message.substr(0, 200));
  error.message += " (traffic left at " + FormatWeights(RouteWeights()) + " (stable/candidate))";
  return Finish(std::move(error), report::Outcome::kFailed);
}

Outcome Rollout::Job::CheckFailed(const std::string& why) {
  if (!spec_.rollback.automatic) {
    const Weights on_route = RouteWeights();
    RecordFailed(why);
    return Finish(
        Error{ErrorKind::kCheckFailed, why + "; rollback.auto is false: traffic left at " +
                                           FormatWeights(on_route) + ", run `canaryctl rollback`"},
        report::Outcome::kFailed);
  }
  spdlog::warn("{}; rolling back (rollback.auto)", why);
  const auto verdict_at = std::chrono::steady_clock::now();
  Job rollback(r_, Cmd(CommandKind::kRollback));
  rollback.out_.record = out_.record;
  rollback.started_ = started_;
  Outcome rb = rollback.Execute();
  if (rollback.weights_restored_at_) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        *rollback.weights_restored_at_ - verdict_at)
                        .count();
    rb.record.rollback_ms = ms;
    spdlog::info("rollback: all traffic on stable {} ms after the failing verdict", ms);
  }
  // What the rollback wrote is where this command ends.
  state_ = rollback.state_;
  snap_.traffic = rollback.snap_.traffic;
  out_.record = rb.record;
  out_.record.phase = std::string(CommandName(cmd_.kind));
  if (!rb.error) {
    return Finish(Error{ErrorKind::kCheckFailed, why + "; rolled back: all traffic on stable"},
                  report::Outcome::kRolledBack);
  }
  if (rb.error->kind == ErrorKind::kRollbackFailed || rb.error->kind == ErrorKind::kLocked) {
    return Finish(Error{ErrorKind::kRollbackFailed,
                        why + "; the automatic rollback failed: " + rb.error->message},
                  report::Outcome::kRollbackFailed);
  }
  // Traffic is on stable (the first write succeeded); only the clean-up after it failed.
  return Finish(
      Error{ErrorKind::kCheckFailed,
            why + "; rolled back to " + FormatWeights(kAllStable) + ", but: " + rb.error->message},
      report::Outcome::kRolledBack);
}

void Rollout::Job::FillRecord() {
  auto& rec = out_.record;
  const RolloutState& s = state_;
  rec.stable = {StableSpec().namespace_name, StableSpec().release, s.stable.chart, s.stable.version,
                s.stable.revision,           s.stable.commit};
  rec.candidate = {CandidateSpec().namespace_name,
                   CandidateSpec().release,
                   s.candidate.chart,
                   s.candidate.version,
                   s.candidate.revision,
                   s.candidate.commit};
  rec.weights.clear();
  for (const auto& h : s.history) {
    if (h.time < s.started_at) continue;  // this rollout's transitions only
    if (!rec.weights.empty() && rec.weights.back().stable == h.weights.stable &&
        rec.weights.back().candidate == h.weights.candidate) {
      continue;
    }
    rec.weights.push_back({Unix(h.time), h.weights.stable, h.weights.candidate, h.message});
  }
  if (rec.weights.empty() || rec.weights.back().stable != snap_.traffic.stable ||
      rec.weights.back().candidate != snap_.traffic.candidate) {
    rec.weights.push_back({Unix(Now()), snap_.traffic.stable, snap_.traffic.candidate, Label()});
  }
  rec.changelog.clear();
  if (!s.stable.commit.empty() && !s.candidate.commit.empty() &&
      s.stable.commit != s.candidate.commit) {
    const std::string dir = r_.job_.project_dir.empty() ? "." : r_.job_.project_dir;
    auto log = git::ReadChangelog(dir, s.stable.commit, s.candidate.commit);
    if (log.ok()) {
      rec.changelog = log.value().Lines();
    } else {
      spdlog::debug("no changelog: {}", log.error().message);
    }
  }
}

Outcome Rollout::Job::Finish(std::optional<Error> error, report::Outcome outcome) {
  FillRecord();
  out_.record.outcome = outcome;
  out_.record.started_at = Unix(started_);
  out_.record.finished_at = Unix(Now());
  if (error) out_.record.message = error->message;
  out_.error = std::move(error);
  return std::move(out_);
}

std::vector<std::string> Rollout::Job::PreviewLines(const Decision& d, const LockDecision& ld) {
  std::vector<std::string> lines;
  const engine::Plan& plan = r_.plan_;
  std::string flow;
  for (const auto& step : plan.flow) flow += (flow.empty() ? "" : " -> ") + step.label;
  lines.push_back("plan (" + std::string(StrategyName(plan.strategy)) + "): " + flow);
  if (state_.phase == Phase::kIdle && !snap_.state) {
    lines.push_back("now: no rollout on record; traffic " + FormatWeights(RouteWeights()) +
                    (snap_.traffic.exists ? "" : " (the VirtualService does not exist yet)"));
  } else {
    lines.push_back("now: phase " + std::string(PhaseName(state_.phase)) + " at " +
                    FormatWeights(state_.current) + " (stable/candidate), step " +
                    std::to_string(state_.step_index));
  }
  lines.push_back("command: " + Label() + " (" + std::string(VerdictName(d.verdict)) + ")");
  lines.push_back("decision: " + d.message);
  if (d.verdict == Verdict::kRefuse) return lines;
  lines.push_back("lock: " + std::string(ld.granted() ? "" : "HELD: ") + ld.message);
  if (!ld.granted()) return lines;
  if (cmd_.kind == CommandKind::kDeploy) {
    lines.push_back("namespaces: ensure " + spec_.stable.namespace_name + ", " +
                    spec_.candidate.namespace_name + " (label istio-injection=enabled)");
  }
  const bool writes = d.verdict == Verdict::kProceed;
  if (writes) {
    traffic::WeightUpdate u;
    const Weights end = d.end;
    u.stable = end.stable;
    u.candidate = end.candidate;
    const bool ends = cmd_.kind == CommandKind::kPromote || cmd_.kind == CommandKind::kRollback;
    // The annotations as the command would leave them: the end state, and the lock kept for
    // the pipeline's next job or released when the rollout ends.
    u.state_json = SerializeState(Complete(state_, d, Ctx(), std::nullopt));
    if (!ends) u.lock_json = SerializeLock(ld.lock);
    u.expected_resource_version = snap_.traffic.resource_version;
    u.remove_test_route = ends;
    auto planned = snap_.router->PlanWeights(u);
    if (planned.ok()) {
      lines.push_back("traffic: " + spec_.traffic.virtual_service.namespace_name + "/" +
                      spec_.traffic.virtual_service.name + " to " + FormatWeights(end) +
                      " (stable/candidate)");
      std::string diff = planned.value().diff;
      size_t pos = 0;
      while (pos < diff.size()) {
        size_t nl = diff.find('\n', pos);
        if (nl == std::string::npos) nl = diff.size();
        if (nl > pos) lines.push_back("  " + diff.substr(pos, nl - pos));
        pos = nl + 1;
      }
      if (u.remove_test_route && snap_.traffic.test_route) {
        lines.push_back("  - http route " + std::string(traffic::kTestRouteName));
      }
    } else {
      lines.push_back("traffic: cannot plan the change: " + planned.error().message);
    }
  }
  helm::Deployer* helm = r_.deps_.deployer;
  auto show = [&](const config::ReleaseSpec& rel) {
    auto args = helm->PlanUpgradeInstall(UpgradeFor(rel));
    if (!args.ok()) {
      lines.push_back("helm: " + args.error().message);
      return;
    }
    std::vector<std::string> rest(args.value().begin() + 1, args.value().end());
    lines.push_back("helm: " +
                    helm::DisplayCommand(args.value().front(), rest, UpgradeFor(rel).secrets));
  };
  if (helm && writes) {
    if (cmd_.kind == CommandKind::kDeploy) show(CandidateSpec());
    if (cmd_.kind == CommandKind::kPromote && !BlueGreen()) show(StableSpec());
    if (cmd_.kind == CommandKind::kRollback) {
      if (d.restore_stable_release && !BlueGreen()) {
        lines.push_back("helm: rollback " + ReleaseName(StableSpec()) + " to revision " +
                        std::to_string(state_.stable.revision));
      }
      lines.push_back(
          "candidate: " + std::string(config::CandidateActionName(spec_.rollback.candidate)) + " " +
          ReleaseName(CandidateSpec()));
    }
  }
  if (cmd_.kind == CommandKind::kTest || cmd_.kind == CommandKind::kShift ||
      cmd_.kind == CommandKind::kPromote) {
    std::string names;
    for (const auto& c : spec_.checks) names += (names.empty() ? "" : ", ") + c.name;
    lines.push_back(
        "checks: " + (names.empty() ? std::string("none configured") : names) + " at " +
        Pct(d.end.candidate == 0 && cmd_.kind == CommandKind::kPromote ? 0 : d.end.candidate));
  }
  return lines;
}

void Rollout::Job::CompleteCommand() {
  if (cmd_.kind == CommandKind::kDeploy) cmd_.candidate = CandidateIdentity();
  cmd_.skip_steps = r_.options_.skip_steps;
}

LockDecision Rollout::Job::DecideNow() {
  state_ = StateOrInitial(snap_.state, spec_.app, r_.plan_.strategy, Now());
  if (!snap_.state) state_.current = RouteWeights();
  decision_ = Decide(r_.plan_, snap_.state ? std::optional(state_) : std::nullopt, cmd_);
  const auto ttl = std::chrono::duration_cast<std::chrono::seconds>(spec_.lock_ttl);
  return DecideAcquire(spec_.app, snap_.lock, claim_, Now(), ttl, r_.options_.force);
}

Outcome Rollout::Job::Execute() {
  if (started_ == Timestamp{}) started_ = Now();
  std::optional<ci::LogSection> section;
  if (r_.deps_.sections) {
    section.emplace(*r_.deps_.sections, "canaryctl_" + std::string(CommandName(cmd_.kind)),
                    "canaryctl " + Label() + " (" + spec_.app + ")");
  }
  if (r_.plan_error_) return Finish(*r_.plan_error_, report::Outcome::kFailed);
  CompleteCommand();
  const bool is_rollback = cmd_.kind == CommandKind::kRollback;
  bool prepared = false;
  LockDecision ld;
  // Nothing is changed until the first write succeeds, so a read or that write failing in a way
  // the client does not retry (a 409 on a GET from a proxy, retries exhausted) is worth one more
  // round: for a rollback it is the difference between restoring traffic and exit 5.
  int transient_failures = 0;
  auto try_again = [&](const Error& e, const char* what) {
    if (e.kind != ErrorKind::kCluster || transient_failures >= 1) return false;
    ++transient_failures;
    spdlog::warn("{}: {} failed ({}); reading the route again", Label(), what, e.message);
    return true;
  };
  // A test or shift with nothing to judge it completes in its first write.
  bool completed_in_first_write = false;
  for (int attempt = 0;; ++attempt) {
    if (attempt > r_.options_.max_conflicts + 1) {
      return Finish(
          ClusterError("the VirtualService kept changing while " + Label() +
                       " tried to start; giving up after " + std::to_string(attempt) + " attempts"),
          report::Outcome::kFailed);
    }
    if (auto read = Read(); !read.ok()) {
      if (try_again(read.error(), "reading the route")) continue;
      if (is_rollback) {
        return Finish(Error{ErrorKind::kRollbackFailed,
                            "rollback could not read the route: " + read.error().message +
                                "; traffic may still reach the candidate"},
                      report::Outcome::kRollbackFailed);
      }
      return Finish(read.error(), report::Outcome::kFailed);
    }
    ld = DecideNow();
    if (decision_.verdict == Verdict::kRefuse) {
      if (r_.options_.dry_run) out_.preview = PreviewLines(decision_, ld);
      return Finish(decision_.ToError(), report::Outcome::kFailed);
    }
    if (r_.options_.dry_run) {
      out_.preview = PreviewLines(decision_, ld);
      if (!ld.granted()) return Finish(ld.ToError(), report::Outcome::kFailed);
      return Finish(std::nullopt, report::Outcome::kSucceeded);
    }
    if (!ld.granted()) return Finish(ld.ToError(), report::Outcome::kFailed);
    if (ld.outcome == LockOutcome::kTakenOverExpired ||
        ld.outcome == LockOutcome::kTakenOverForced) {
      spdlog::warn("{}", ld.message);
    }
    if (attempt == 0) spdlog::info("{}", decision_.message);
    if (cmd_.kind == CommandKind::kDeploy && !prepared && decision_.verdict == Verdict::kProceed) {
      if (auto p = Prepare(); !p.ok()) return Finish(p.error(), report::Outcome::kFailed);
      prepared = true;
      continue;  // the route may have been created or extended: read it again
    }
    if (decision_.verdict == Verdict::kConvergeOnly) break;
    if (cmd_.kind == CommandKind::kPromote && !BlueGreen() && !state_.candidate.digest.empty()) {
      // Promote installs the configured chart and values into stable: they must be what was
      // tested. Checked before anything is written, so a mismatch changes nothing.
      Release now = CandidateIdentity();
      if (!now.digest.empty() && now.digest != state_.candidate.digest) {
        return Finish(ConfigError("promote refused: the chart or values configured now differ "
                                  "from what was deployed and tested as the candidate (digest " +
                                  now.digest + ", deployed " + state_.candidate.digest +
                                  "); promote with the configuration and variables the "
                                  "candidate was deployed with, or deploy again"),
                      report::Outcome::kFailed);
      }
    }
    lock_ = ld.lock;
    RolloutState begin = state_;
    if (cmd_.kind == CommandKind::kPromote && !BlueGreen() && r_.deps_.deployer) {
      // The stable release as it is before promote replaces it: where a rollback goes back to.
      if (auto st = r_.deps_.deployer->Status(Ref(StableSpec())); st.ok() && st.value()) {
        const auto& cur = st.value()->current;
        if (state_.phase != Phase::kPromoting && !cur.Pending()) {
          begin.stable.revision = cur.number;
          begin.stable.chart = cur.chart;
          begin.stable.version = cur.app_version;
        }
      }
    }
    Weights w = RouteWeights();
    completed_in_first_write = false;
    if (decision_.begin_phase) {
      begin = Begin(begin, decision_, Ctx());
      w = decision_.begin;
      if (!StepPhase().empty() && !Judged(decision_.end.candidate)) {
        // Nothing runs between the phase's begin and its end: one write records both, as
        // `kubectl patch` would, and leaves no in-between state for a kill to strand.
        begin = Complete(begin, decision_, Ctx(), std::nullopt);
        w = decision_.end;
        completed_in_first_write = true;
      }
    }
    auto wrote = WriteOnce(begin, w, lock_, is_rollback);
    if (!wrote.ok()) {
      if (try_again(wrote.error(), "the first write")) continue;
      if (is_rollback) {
        return Finish(Error{ErrorKind::kRollbackFailed,
                            "rollback could not set " + FormatWeights(kAllStable) + ": " +
                                wrote.error().message + "; traffic may still reach the candidate"},
                      report::Outcome::kRollbackFailed);
      }
      return Finish(wrote.error(), report::Outcome::kFailed);
    }
    if (wrote.value() == Wrote::kOk) {
      if (is_rollback) weights_restored_at_ = std::chrono::steady_clock::now();
      break;
    }
    spdlog::info("{}: the VirtualService changed meanwhile (409); re-reading and deciding again",
                 Label());
    ConflictPause(attempt);
  }

  // The work. Converge-only commands re-verify: checks run again, nothing is written unless
  // they fail.
  const bool converge = decision_.verdict == Verdict::kConvergeOnly;
  if (completed_in_first_write && !converge) {
    // Complete already; a signal now changes nothing. RunChecks records the (empty) step.
    RunChecks(StepPhase(), decision_.end.candidate,
              ServiceUrl(CandidateSpec(), spec_.traffic.port));
    return Finish(std::nullopt, report::Outcome::kSucceeded);
  }
  if (Interrupted()) return Interrupt("before its work");
  switch (cmd_.kind) {
    case CommandKind::kDeploy: {
      if (converge) {
        auto st = r_.deps_.deployer->Status(Ref(CandidateSpec()));
        if (!st.ok()) return Finish(st.error(), report::Outcome::kFailed);
        if (st.value() && st.value()->current.status == "deployed") {
          return Finish(std::nullopt, report::Outcome::kSucceeded);
        }
        return Finish(
            ClusterError("the state records candidate " + ReleaseName(CandidateSpec()) +
                         " as deployed, but helm says it is " +
                         (st.value() ? st.value()->current.status : std::string("not installed")) +
                         "; run `canaryctl rollback`, then deploy again"),
            report::Outcome::kFailed);
      }
      if (auto ok = DeployWork(); !ok.ok()) return Failed(ok.error());
      RolloutState end = Complete(state_, decision_, Ctx(), state_.candidate);
      if (auto ok = WriteHolding(end, decision_.end, false, false); !ok.ok()) {
        return Finish(ok.error(), report::Outcome::kFailed);
      }
      return Finish(std::nullopt, report::Outcome::kSucceeded);
    }
    case CommandKind::kTest:
    case CommandKind::kShift: {
      const int weight = converge ? state_.current.candidate : decision_.end.candidate;
      const std::string phase = StepPhase();
      const auto verdict =
          RunChecks(phase, weight, ServiceUrl(CandidateSpec(), spec_.traffic.port));
      if (Interrupted()) return Interrupt("during the checks");
      if (verdict != checks::Verdict::kPass) {
        return CheckFailed("checks failed at " + Pct(weight) + " (" + Label() +
                           "): " + failed_because_);
      }
      if (converge) return Finish(std::nullopt, report::Outcome::kSucceeded);
      RolloutState end = Complete(state_, decision_, Ctx(), std::nullopt);
      if (auto ok = WriteHolding(end, decision_.end, false, false); !ok.ok()) {
        return Finish(ok.error(), report::Outcome::kFailed);
      }
      return Finish(std::nullopt, report::Outcome::kSucceeded);
    }
    case CommandKind::kPromote: {
      if (converge) return Finish(std::nullopt, report::Outcome::kSucceeded);
      if (auto ok = PromoteWork(); !ok.ok()) return Failed(ok.error());
      if (Interrupted()) return Interrupt("after upgrading stable");
      const config::ReleaseSpec& serving = BlueGreen() ? CandidateSpec() : StableSpec();
      const auto verdict =
          RunChecks("promote", BlueGreen() ? 100 : 0, ServiceUrl(serving, spec_.traffic.port));
      if (Interrupted()) return Interrupt("during the checks");
      if (verdict != checks::Verdict::kPass) {
        return CheckFailed("checks failed against " + ReleaseName(serving) +
                           " at promote: " + failed_because_);
      }
      RolloutState end =
          Complete(state_, decision_, Ctx(), BlueGreen() ? std::nullopt : std::optional(promoted_));
      if (auto ok = WriteHolding(end, decision_.end, true, true, BlueGreen()); !ok.ok()) {
        return Finish(ok.error(), report::Outcome::kFailed);
      }
      return Finish(std::nullopt, report::Outcome::kSucceeded);
    }
    case CommandKind::kRollback: {
      if (converge) return Finish(std::nullopt, report::Outcome::kSucceeded);
      spdlog::info("rollback: all traffic on stable ({})", FormatWeights(kAllStable));
      if (Interrupted()) {
        return Finish(Error{ErrorKind::kInterrupted,
                            "rollback interrupted after restoring " + FormatWeights(kAllStable) +
                                "; rerun `canaryctl rollback` to finish the clean-up"},
                      report::Outcome::kInterrupted);
      }
      if (auto ok = RollbackWork(); !ok.ok()) {
        return Finish(
            Error{ErrorKind::kCluster, "traffic is on stable (" + FormatWeights(kAllStable) +
                                           "), but the clean-up failed: " + ok.error().message +
                                           "; rerun `canaryctl rollback` to finish it"},
            report::Outcome::kFailed);
      }
      RolloutState end =
          Complete(state_, decision_, Ctx(), restored_ ? std::optional(*restored_) : std::nullopt);
      if (auto ok = WriteHolding(end, decision_.end, true, true); !ok.ok()) {
        return Finish(Error{ErrorKind::kCluster,
                            "traffic is on stable (" + FormatWeights(kAllStable) +
                                "), but recording the end failed: " + ok.error().message},
                      report::Outcome::kFailed);
      }
      return Finish(std::nullopt, report::Outcome::kSucceeded);
    }
  }
  return Finish(ClusterError("unknown command"), report::Outcome::kFailed);
}

Outcome Rollout::Job::Preview() {
  started_ = Now();
  if (r_.plan_error_) return Finish(*r_.plan_error_, report::Outcome::kFailed);
  if (auto read = Read(); !read.ok()) return Finish(read.error(), report::Outcome::kFailed);
  CompleteCommand();
  const LockDecision ld = DecideNow();
  out_.preview = PreviewLines(decision_, ld);
  return Finish(std::nullopt, report::Outcome::kSucceeded);
}

Result<StatusView> Rollout::Job::View(bool with_releases) {
  if (auto read = Read(); !read.ok()) return read.error();
  StatusView v;
  v.app = spec_.app;
  v.strategy = config::StrategyName(spec_.strategy);
  v.virtual_service =
      spec_.traffic.virtual_service.namespace_name + "/" + spec_.traffic.virtual_service.name;
  v.route_exists = snap_.traffic.exists;
  v.route = RouteWeights();
  v.test_route = snap_.traffic.test_route;
  v.state = snap_.state;
  v.lock = snap_.lock;
  v.lock_expired = snap_.lock && Now() >= snap_.lock->expires;
  v.stable_release = ReleaseName(StableSpec());
  v.candidate_release = ReleaseName(CandidateSpec());
  if (r_.deps_.deployer && with_releases) {
    auto st = r_.deps_.deployer->Status(Ref(StableSpec()));
    if (!st.ok()) return st.error();
    v.stable = st.value();
    auto ca = r_.deps_.deployer->Status(Ref(CandidateSpec()));
    if (!ca.ok()) return ca.error();
    v.candidate = ca.value();
  }
  return v;
}

// ---------------------------------------------------------------------------------------------

Rollout::Rollout(const config::RolloutSpec& spec, const ci::JobContext& job, RolloutDeps deps,
                 RolloutOptions options)
    : spec_(spec), job_(job), deps_(std::move(deps)), options_(options) {
  auto plan = MakePlan(ToEngine(spec.strategy), spec.traffic.steps);
  if (plan.ok()) {
    plan_ = plan.value();
  } else {
    plan_error_ = plan.error();
  }
}

Outcome Rollout::Execute(Command command) {
  Job job(*this, std::move(command));
  return job.Execute();
}

Outcome Rollout::Deploy() { return Execute(Cmd(CommandKind::kDeploy)); }
Outcome Rollout::Test() { return Execute(Cmd(CommandKind::kTest)); }
Outcome Rollout::Shift(int weight) { return Execute(Cmd(CommandKind::kShift, weight)); }
Outcome Rollout::Promote() { return Execute(Cmd(CommandKind::kPromote)); }
Outcome Rollout::Rollback() { return Execute(Cmd(CommandKind::kRollback)); }

Outcome Rollout::Run() {
  std::vector<Command> flow;
  for (const auto& step : plan_.flow) {
    if (step.kind == CommandKind::kShift && step.weight == 0) continue;
    flow.push_back(Cmd(step.kind, step.weight));
  }
  auto sleep = [&](std::chrono::milliseconds d) {
    if (deps_.sleep) return deps_.sleep(d);
    // Sliced, so that SIGTERM ends the pause promptly.
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
      if (deps_.interrupted && deps_.interrupted->load()) return;
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
          100ms, std::chrono::duration_cast<std::chrono::milliseconds>(
                     until - std::chrono::steady_clock::now())));
    }
  };
  // A rerun continues where the rollout stands (after a failed step: rolls back and stops).
  size_t first = 0;
  if (!options_.dry_run) {
    bool finished = false;
    auto next = NextCommand(&finished);
    if (!next.ok()) {
      Outcome o;
      o.error = next.error();
      o.record.app = spec_.app;
      o.record.phase = "run";
      o.record.outcome = report::Outcome::kFailed;
      o.record.message = o.error->message;
      return o;
    }
    if (finished) {
      spdlog::info("run: the configured candidate is already promoted; nothing to do");
      return Execute(Cmd(CommandKind::kPromote));  // converges: verifies and reports
    }
    if (next.value().kind == CommandKind::kRollback) {
      spdlog::warn("run: the rollout is failed or rolling back; finishing the rollback");
      Outcome o = Execute(next.value());
      o.record.phase = "run";
      if (!o.error)
        o.error = Error{ErrorKind::kCheckFailed,
                        "run: the rollout had failed; rolled back, nothing promoted"};
      return o;
    }
    for (size_t i = 0; i < flow.size(); ++i) {
      if (flow[i].kind == next.value().kind && flow[i].weight == next.value().weight) first = i;
    }
    if (first > 0) {
      spdlog::info("run: continuing the rollout at {}",
                   next.value().kind == CommandKind::kShift
                       ? "shift " + std::to_string(next.value().weight)
                       : std::string(CommandName(next.value().kind)));
    }
  }
  Outcome last;
  std::vector<report::StepRecord> steps;
  int64_t started = 0;
  for (size_t i = first; i < flow.size(); ++i) {
    if (i > first && options_.pause.count() > 0) {
      spdlog::info("run: pausing {} before {}", config::FormatDuration(options_.pause),
                   flow[i].kind == CommandKind::kShift ? "shift " + std::to_string(flow[i].weight)
                                                       : std::string(CommandName(flow[i].kind)));
      sleep(options_.pause);
    }
    if (deps_.interrupted && deps_.interrupted->load()) {
      last.error = Error{ErrorKind::kInterrupted,
                         "run interrupted between steps; the state is "
                         "consistent; rerun to continue"};
      last.record.outcome = report::Outcome::kInterrupted;
      last.record.message = last.error->message;
      break;
    }
    last = Execute(flow[i]);
    if (i == first) started = last.record.started_at;
    for (auto& s : last.record.steps) steps.push_back(std::move(s));
    if (last.error) break;
  }
  last.record.steps = std::move(steps);
  last.record.phase = "run";
  if (started) last.record.started_at = started;
  return last;
}

Result<Command> Rollout::NextCommand(bool* finished) {
  *finished = false;
  Job probe(*this, Cmd(CommandKind::kDeploy));
  // The next command follows from the state annotation alone.
  auto view = probe.View(/*with_releases=*/false);
  if (!view.ok()) return view.error();
  const auto& s = view.value().state;
  const Phase phase = s ? s->phase : Phase::kIdle;
  const int cw = s ? s->current.candidate : 0;
  auto next_step = [&](int w) {
    for (int step : plan_.steps) {
      if (step > w) return step;
    }
    return -1;
  };
  switch (phase) {
    case Phase::kIdle:
    case Phase::kRolledBack:
      return Cmd(CommandKind::kDeploy);
    case Phase::kPromoted: {
      const Release now = probe.CandidateIdentity();
      *finished =
          !now.digest.empty() && now.digest == s->stable.digest && now.commit == s->stable.commit;
      return Cmd(CommandKind::kDeploy);
    }
    case Phase::kDeployed:
      return Cmd(CommandKind::kTest);
    case Phase::kTesting:
    case Phase::kShifted:
      return next_step(cw) < 0 ? Cmd(CommandKind::kPromote)
                               : Cmd(CommandKind::kShift, next_step(cw));
    case Phase::kShifting:
      return Cmd(CommandKind::kShift, s->target.candidate);
    case Phase::kPromoting:
      return Cmd(CommandKind::kPromote);
    case Phase::kRollingBack:
    case Phase::kFailed:
      return Cmd(CommandKind::kRollback);
  }
  return Cmd(CommandKind::kDeploy);
}

Outcome Rollout::Plan(std::optional<CommandKind> command, int weight) {
  Command c = Cmd(command.value_or(CommandKind::kDeploy), weight);
  if (!command) {
    bool finished = false;
    auto next = NextCommand(&finished);
    if (!next.ok()) {
      Outcome o;
      o.error = next.error();
      return o;
    }
    c = next.value();
  }
  Job job(*this, c);
  return job.Preview();
}

Result<StatusView> Rollout::Status() {
  Job job(*this, Cmd(CommandKind::kRollback));
  return job.View();
}

}  // namespace canaryctl::engine

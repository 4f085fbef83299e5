// The engine's I/O layer: runs one command of a rollout (shared/DESIGN.md §1, §3) over the
// Router (traffic), the Deployer (helm) and the checks, with the pure policy of plan.h and
// transition.h deciding what to write.
//
// Contract of every mutating command (deploy, test, shift, promote, rollback):
//   1. read the route, the state and the lock (one GET);
//   2. decide (plan.h); a refusal changes nothing (kConfig, exit 2); a lock held by another
//      pipeline changes nothing (kLocked, exit 4);
//   3. write the lock and, when the decision has one, the "-ing" phase with its weights, in one
//      request guarded by resourceVersion; a 409 means re-read and re-decide (bounded);
//   4. do the slow work (namespaces, helm, checks);
//   5. write the end phase and weights; promote and rollback also release the lock, the other
//      commands keep it for the pipeline's next job.
// A step of test/shift is judged by the checks, then (config `load:`) the traffic canaryctl
// generates and its split, and (config `analysis:`, weights above 0) the metric analysis; the
// first failing verdict ends the step. A failed step with rollback.auto rolls back (stable=100
// in the first write; the time from the verdict to that write is recorded) and returns
// kCheckFailed; if that write cannot be made, kRollbackFailed. Any other failure
// records phase `failed` with the weights actually on the route. An interrupt (the flag set by
// SIGTERM/SIGINT) is honoured between steps: the state is left consistent, kInterrupted.
//
// Whatever happens, Outcome::record describes it for the reports (report/report_writer.h).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analysis/prometheus_client.h"
#include "checks/check.h"
#include "ci/job_context.h"
#include "ci/log_section.h"
#include "common/result.h"
#include "config/rollout_spec.h"
#include "engine/lock.h"
#include "engine/plan.h"
#include "engine/state.h"
#include "helm/deployer.h"
#include "load/load_generator.h"
#include "report/rollout_record.h"
#include "traffic/router.h"
#include "traffic/virtual_service.h"

namespace canaryctl::engine {

// What the engine uses of the world; everything is borrowed and must outlive the Rollout.
struct RolloutDeps {
  // A router for one set of destinations (blue-green swaps them as the live slot changes).
  std::function<std::unique_ptr<traffic::Router>(const traffic::RouterConfig&)> make_router;
  helm::Deployer* deployer = nullptr;
  // Creates the namespace when missing and makes sure it has the given labels.
  std::function<Status(const std::string& ns, const std::map<std::string, std::string>& labels)>
      ensure_namespace;
  // The configured checks, fresh for each step.
  std::function<std::vector<std::unique_ptr<checks::Check>>()> make_checks;
  // The Prometheus of `analysis:` and the generator of `load:`; unset: those are not run.
  std::function<std::unique_ptr<analysis::PrometheusClient>()> make_prometheus;
  std::function<std::unique_ptr<load::LoadGenerator>()> make_load;
  // The time of state and reports (whole seconds) and of the analysis's and load's waits; tests
  // pair it with `sleep`. Default: the system clock.
  std::function<std::chrono::system_clock::time_point()> now;
  std::function<void(std::chrono::milliseconds)> sleep;  // default: interruptible sleep
  const std::atomic<bool>* interrupted = nullptr;        // set by SIGTERM/SIGINT
  ci::SectionLog* sections = nullptr;                    // a GitLab section per phase
};

struct RolloutOptions {
  bool dry_run = false;                    // decide and print what would change; write nothing
  bool force = false;                      // take over a lock another pipeline holds (and say so)
  bool skip_steps = false;                 // plan.h Command::skip_steps
  std::chrono::milliseconds pause{10000};  // `run`: the wait between steps
  int max_conflicts = 5;                   // 409s tolerated per write before giving up (kCluster)
};

// What a command did. error unset: exit 0.
struct Outcome {
  std::optional<Error> error;
  report::RolloutRecord record;
  // --dry-run and `plan`: what would happen (the decision, the VirtualService diff, the helm
  // command), one line each.
  std::vector<std::string> preview;
};

// What `status` shows.
struct StatusView {
  std::string app;
  std::string strategy;         // configured
  std::string virtual_service;  // "prod/demoapp"
  bool route_exists = false;    // false: the VirtualService or its route is not there yet
  Weights route;                // on the route now
  bool test_route = false;
  std::optional<RolloutState> state;  // none: never rolled out
  std::optional<Lock> lock;
  bool lock_expired = false;
  // helm's view of both releases (none: not installed).
  std::string stable_release;     // "prod/demoapp"
  std::string candidate_release;  // "stage/demoapp"
  std::optional<helm::ReleaseStatus> stable;
  std::optional<helm::ReleaseStatus> candidate;
};

class Rollout {
 public:
  Rollout(const config::RolloutSpec& spec, const ci::JobContext& job, RolloutDeps deps,
          RolloutOptions options);

  Outcome Deploy();
  Outcome Test();
  Outcome Shift(int weight);
  Outcome Promote();
  Outcome Rollback();
  // The whole flow: deploy, test, every step, promote, with options.pause between steps.
  Outcome Run();
  // The plan's steps, where the rollout stands, and what the next command (or `command`)
  // would change. Writes nothing.
  Outcome Plan(std::optional<CommandKind> command = std::nullopt, int weight = 0);
  Result<StatusView> Status();

  const engine::Plan& plan() const { return plan_; }

 private:
  class Job;  // one command's run (rollout.cc)
  friend class Job;
  Outcome Execute(Command command);
  // The command the flow continues with, from the state on record. `finished`: the rollout of
  // the configured candidate is already promoted (nothing left to do).
  Result<Command> NextCommand(bool* finished);

  const config::RolloutSpec& spec_;
  ci::JobContext job_;
  RolloutDeps deps_;
  RolloutOptions options_;
  engine::Plan plan_;
  std::optional<Error> plan_error_;  // the plan could not be made (invalid steps)
};

// The router configuration for the given live slot (blue-green; kNone for the others).
traffic::RouterConfig RouterConfigFor(const config::RolloutSpec& spec, Slot live);

// "http://<service>.<namespace>.svc.cluster.local[:port]".
std::string ServiceUrl(const config::ReleaseSpec& release, const std::optional<int>& port);

}  // namespace canaryctl::engine

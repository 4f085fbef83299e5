// The plan of a rollout and the decision of what a command should do, given the state.
//
// A Plan is the flow of shared/DESIGN.md §1 for one strategy: deploy, test at 0%, one shift per
// step, promote. Decide() is the whole policy of "what may run now": every command either
// converges (the state already records it done: verify only), proceeds (with the phases and
// weights to write), or is refused with the command to run instead. Rerunning any command
// converges or resumes; rollback is allowed from every phase. Pure: no I/O, no clock.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "engine/state.h"

namespace canaryctl::engine {

enum class CommandKind { kDeploy, kTest, kShift, kPromote, kRollback };
std::string_view CommandName(CommandKind kind);  // "deploy", "test", "shift", ...

struct Command {
  CommandKind kind = CommandKind::kDeploy;
  int weight = 0;     // kShift: the candidate's percentage
  Release candidate;  // kDeploy: what is being deployed (chart, version, commit)
  // Explicit operator override (--skip-steps): allows a shift to a weight that is not a step,
  // skipping steps, shifting before the test at 0%, and promoting before 100% where promote
  // replaces the stable release (hybrid, canary). Never lifts the other refusals.
  bool skip_steps = false;
};

struct PlanStep {
  CommandKind kind;
  int weight;         // candidate's weight once the step is done (promote: 0, all on stable)
  std::string label;  // "deploy", "test@0", "shift 30", "promote"
};

struct Plan {
  Strategy strategy = Strategy::kHybrid;
  std::vector<int> steps;      // candidate weights, strictly increasing, 0 first, 100 last
  std::vector<PlanStep> flow;  // deploy, test@0, shift steps[1..], promote

  // Index of `weight` in steps, or -1.
  int StepIndex(int weight) const;
};

// Builds the plan. `steps` as configured (traffic.steps): within 0..100, strictly increasing,
// ending at 100; a leading 0 is implied. Blue-green needs exactly [0, 100] (or [100]); empty
// steps mean the strategy's default ([0, 30, 60, 100]; blue-green [0, 100]). kConfig errors.
Result<Plan> MakePlan(Strategy strategy, const std::vector<int>& steps);

enum class Verdict {
  kConvergeOnly,  // already done: write nothing; verify the world matches and re-run checks
  kProceed,       // do the work: write `begin_phase` (if any) with `begin`, work, then `end`
  kRefuse,        // change nothing; exit 2 with `message`
};
std::string_view VerdictName(Verdict v);

struct Decision {
  Verdict verdict = Verdict::kRefuse;
  CommandKind command = CommandKind::kDeploy;
  Strategy strategy = Strategy::kHybrid;  // the plan's; a deploy starts a rollout under it
  // Written before the slow work, with `begin` weights, so that a crash leaves the intent on
  // record. nullopt: nothing is written before the work (deploy, test: a crash leaves the
  // previous state, and a rerun redoes the work).
  std::optional<Phase> begin_phase;
  Weights begin;  // weights written with begin_phase (rollback: 100/0, in that first write)
  Phase end_phase = Phase::kIdle;  // written when the work succeeded
  Weights end;                     // weights written with end_phase
  int step_index = 0;              // Plan::steps index reached; -1 off the plan
  // Blue-green: the slot the candidate is (or goes) in, i.e. the idle one. kNone otherwise.
  Slot candidate_slot = Slot::kNone;
  // Rollback from promoting: the stable release may be half upgraded; roll it back to
  // state.stable.revision as well.
  bool restore_stable_release = false;
  std::string message;  // what and why; for kRefuse, what to run instead

  // For kRefuse: the kConfig Error (exit 2, nothing changed) carrying `message`.
  Error ToError() const { return ConfigError(message); }
};

// Decides what `command` does for the app whose state is `state` (nullopt: no state annotation
// yet, i.e. idle with all traffic on stable).
Decision Decide(const Plan& plan, const std::optional<RolloutState>& state, const Command& command);

}  // namespace canaryctl::engine

// Transitions: applying a Decision (plan.h) to a RolloutState, giving the state to write.
// Deterministic given the context (time included); each write appends one history entry and
// keeps the last kMaxHistory. The I/O layer's loop is:
//   decision = Decide(plan, state, command)            // kRefuse -> exit 2; kConvergeOnly ->
//   verify if decision.begin_phase: write Begin(...) with decision.begin weights   (one guarded
//   PATCH) do the slow work (helm, checks) write Complete(...) with decision.end weights      or,
//   on failure, Fail(...) / rollback
#pragma once

#include <optional>
#include <string>

#include "engine/plan.h"
#include "engine/state.h"

namespace canaryctl::engine {

struct TransitionContext {
  Timestamp now{};
  std::string pipeline_id;
  std::string job_url;
  std::string triggered_by;
  std::string message;  // history message; empty: the decision's message
};

// `state` or, when there is none yet, the initial state of `app` under `strategy`.
RolloutState StateOrInitial(const std::optional<RolloutState>& state, const std::string& app,
                            Strategy strategy, Timestamp now);

// The state written before the work. Requires a kProceed decision with a begin_phase.
RolloutState Begin(const RolloutState& state, const Decision& decision,
                   const TransitionContext& ctx);

// The state written when the work succeeded. `release`:
//   deploy   - the installed candidate (chart, version, helm revision, commit); required
//   promote  - hybrid/canary: the stable release after its upgrade (default: the candidate's);
//              blue-green: ignored, the slots swap (stable <-> candidate, live slot flips)
//   rollback - with restore_stable_release: the stable release after the helm rollback
RolloutState Complete(const RolloutState& state, const Decision& decision,
                      const TransitionContext& ctx, const std::optional<Release>& release);

// The state written when a command failed and traffic was left as `weights_on_route`.
RolloutState Fail(const RolloutState& state, const TransitionContext& ctx,
                  Weights weights_on_route);

}  // namespace canaryctl::engine

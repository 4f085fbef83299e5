#include "engine/transition.h"

#include <utility>

namespace canaryctl::engine {
namespace {

void Record(RolloutState& s, Phase from, const TransitionContext& ctx, const std::string& message) {
  s.pipeline_id = ctx.pipeline_id;
  s.job_url = ctx.job_url;
  s.triggered_by = ctx.triggered_by;
  s.updated_at = ctx.now;
  s.history.push_back({ctx.now, from, s.phase, s.current, ctx.job_url,
                       ctx.message.empty() ? message : ctx.message});
  if (s.history.size() > kMaxHistory) {
    s.history.erase(s.history.begin(),
                    s.history.begin() + static_cast<long>(s.history.size() - kMaxHistory));
  }
}

}  // namespace

RolloutState StateOrInitial(const std::optional<RolloutState>& state, const std::string& app,
                            Strategy strategy, Timestamp now) {
  return state ? *state : InitialState(app, strategy, now);
}

RolloutState Begin(const RolloutState& state, const Decision& d, const TransitionContext& ctx) {
  RolloutState s = state;
  const Phase from = s.phase;
  s.phase = d.begin_phase.value_or(s.phase);
  s.current = d.begin;
  s.target = d.end;
  s.step_index = d.step_index;
  Record(s, from, ctx, d.message);
  return s;
}

RolloutState Complete(const RolloutState& state, const Decision& d, const TransitionContext& ctx,
                      const std::optional<Release>& release) {
  RolloutState s = state;
  const Phase from = s.phase;
  switch (d.command) {
    case CommandKind::kDeploy:
      // A new rollout starts here; the strategy is the configured one from now on.
      s.started_at = ctx.now;
      if (release) s.candidate = *release;
      s.strategy = d.strategy;
      s.live_slot = OtherSlot(d.candidate_slot);
      break;
    case CommandKind::kPromote:
      if (d.candidate_slot != Slot::kNone) {
        std::swap(s.stable, s.candidate);
        s.live_slot = d.candidate_slot;
      } else {
        s.stable = release.value_or(s.candidate);
      }
      break;
    case CommandKind::kRollback:
      if (d.restore_stable_release && release) s.stable = *release;
      break;
    case CommandKind::kTest:
    case CommandKind::kShift:
      break;
  }
  s.phase = d.end_phase;
  s.current = d.end;
  s.target = d.end;
  s.step_index = d.step_index;
  Record(s, from, ctx, d.message);
  return s;
}

RolloutState Fail(const RolloutState& state, const TransitionContext& ctx,
                  Weights weights_on_route) {
  RolloutState s = state;
  const Phase from = s.phase;
  s.phase = Phase::kFailed;
  s.current = weights_on_route;
  Record(s, from, ctx, "failed");
  return s;
}

}  // namespace canaryctl::engine

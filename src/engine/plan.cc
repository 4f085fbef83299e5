#include "engine/plan.h"

#include <algorithm>

namespace canaryctl::engine {
namespace {

std::string Pct(int w) { return std::to_string(w) + "%"; }

std::string StepsText(const std::vector<int>& steps) {
  std::string out;
  for (int s : steps) out += (out.empty() ? "" : ", ") + std::to_string(s);
  return "[" + out + "]";
}

// The smallest step above `weight`, or -1 at or past the last one.
int NextStep(const Plan& plan, int weight) {
  for (int s : plan.steps) {
    if (s > weight) return s;
  }
  return -1;
}

bool SameRelease(const Release& a, const Release& b) {
  // The chart name and version are only known once installed; the digest of what is installed
  // (engine/release_digest.h) stands for them when recorded.
  if (!a.digest.empty() || !b.digest.empty()) return a.digest == b.digest && a.commit == b.commit;
  return a.chart == b.chart && a.version == b.version && a.commit == b.commit;
}

std::string ReleaseText(const Release& r) {
  std::string out = r.chart.empty() ? "(unnamed chart)" : r.chart;
  if (!r.version.empty()) out += " " + r.version;
  if (!r.commit.empty()) out += " @" + r.commit.substr(0, 12);
  return out;
}

// The phase a failed command was in, from the last transition (which is the one into failed).
std::optional<Phase> FailedFrom(const RolloutState& s) {
  if (s.phase != Phase::kFailed || s.history.empty()) return std::nullopt;
  return s.history.back().from;
}

class Decider {
 public:
  Decider(const Plan& plan, const RolloutState& s, const Command& c)
      : plan_(plan), s_(s), c_(c), cw_(s.current.candidate) {
    d_.command = c.kind;
    d_.strategy = plan.strategy;
    if (plan.strategy == Strategy::kBlueGreen) {
      // A rollout that was not blue-green before has no live slot yet: blue counts as live.
      d_.candidate_slot = s.live_slot == Slot::kGreen ? Slot::kBlue : Slot::kGreen;
    }
  }

  Decision Run() {
    const bool in_progress =
        s_.phase != Phase::kIdle && s_.phase != Phase::kPromoted && s_.phase != Phase::kRolledBack;
    if (s_.strategy != plan_.strategy && in_progress && c_.kind != CommandKind::kRollback) {
      return Refuse(Where() + " with strategy " + std::string(StrategyName(s_.strategy)) +
                    ", but the configuration says " + std::string(StrategyName(plan_.strategy)) +
                    "; finish or roll back the rollout before changing strategy");
    }
    switch (c_.kind) {
      case CommandKind::kDeploy:
        return Deploy();
      case CommandKind::kTest:
        return Test();
      case CommandKind::kShift:
        return Shift();
      case CommandKind::kPromote:
        return Promote();
      case CommandKind::kRollback:
        return Rollback();
    }
    return Refuse("unknown command");
  }

 private:
  std::string Name() const {
    return c_.kind == CommandKind::kShift ? "shift " + std::to_string(c_.weight)
                                          : std::string(CommandName(c_.kind));
  }
  std::string Where() const {
    return "the rollout of " + s_.app + " is " + std::string(PhaseName(s_.phase)) + " at " +
           FormatWeights(s_.current) + " (stable/candidate)";
  }

  Decision Refuse(const std::string& why) {
    d_.verdict = Verdict::kRefuse;
    d_.begin_phase.reset();
    d_.end_phase = s_.phase;
    d_.begin = d_.end = s_.current;
    d_.step_index = s_.step_index;
    d_.message = Name() + " refused: " + why;
    return d_;
  }
  Decision Converge(const std::string& why) {
    d_.verdict = Verdict::kConvergeOnly;
    d_.begin_phase.reset();
    d_.end_phase = s_.phase;
    d_.begin = d_.end = s_.current;
    d_.step_index = s_.step_index;
    d_.message = Name() + ": " + why + "; verifying only";
    return d_;
  }
  Decision Proceed(std::optional<Phase> begin_phase, Weights begin, Phase end_phase, Weights end,
                   int step_index, const std::string& what) {
    d_.verdict = Verdict::kProceed;
    d_.begin_phase = begin_phase;
    d_.begin = begin;
    d_.end_phase = end_phase;
    d_.end = end;
    d_.step_index = step_index;
    d_.message = Name() + ": " + what;
    return d_;
  }

  Decision InProgressElsewhere() {
    if (s_.phase == Phase::kPromoting) {
      return Refuse(Where() +
                    "; rerun `canaryctl promote` to finish it, or run `canaryctl "
                    "rollback`");
    }
    return Refuse(Where() + "; rerun `canaryctl rollback` to finish it first");
  }

  Decision Deploy() {
    const bool same = SameRelease(s_.candidate, c_.candidate);
    switch (s_.phase) {
      case Phase::kIdle:
      case Phase::kPromoted:
      case Phase::kRolledBack:
        return Proceed(std::nullopt, s_.current, Phase::kDeployed, kAllStable, 0,
                       "install " + ReleaseText(c_.candidate) + " as the candidate at 0%");
      case Phase::kDeployed:
      case Phase::kTesting:
        if (same)
          return Converge("candidate " + ReleaseText(c_.candidate) + " is already deployed");
        return Proceed(std::nullopt, s_.current, Phase::kDeployed, kAllStable, 0,
                       "replace candidate " + ReleaseText(s_.candidate) + " with " +
                           ReleaseText(c_.candidate) + " at 0%");
      case Phase::kShifting:
      case Phase::kShifted:
        if (same) {
          return Converge("candidate " + ReleaseText(c_.candidate) +
                          " is already deployed and at " + Pct(cw_));
        }
        return Refuse(Where() + ", so candidate " + ReleaseText(s_.candidate) + " takes " +
                      Pct(cw_) + " of the traffic; finish it with `canaryctl promote` or run " +
                      "`canaryctl rollback` before deploying " + ReleaseText(c_.candidate));
      case Phase::kPromoting:
      case Phase::kRollingBack:
        return InProgressElsewhere();
      case Phase::kFailed:
        if (cw_ == 0) {
          return Proceed(std::nullopt, s_.current, Phase::kDeployed, kAllStable, 0,
                         "install " + ReleaseText(c_.candidate) + " as the candidate at 0% " +
                             "(the last command failed with no traffic on the candidate)");
        }
        return Refuse(Where() + "; run `canaryctl rollback` first");
    }
    return Refuse(Where());
  }

  Decision Test() {
    const auto failed_from = FailedFrom(s_);
    switch (s_.phase) {
      case Phase::kDeployed:
        return Proceed(std::nullopt, s_.current, Phase::kTesting, s_.current, 0,
                       "run the checks against the candidate at 0%");
      case Phase::kTesting:
        return Converge("the candidate is already at the test step (0%)");
      case Phase::kFailed:
        if (cw_ == 0 && (failed_from == Phase::kDeployed || failed_from == Phase::kTesting)) {
          return Proceed(std::nullopt, s_.current, Phase::kTesting, s_.current, 0,
                         "run the checks against the candidate at 0% again");
        }
        return Refuse(Where() + "; run `canaryctl rollback`");
      case Phase::kIdle:
      case Phase::kPromoted:
      case Phase::kRolledBack:
        return Refuse(Where() + ", with no candidate deployed; run `canaryctl deploy` first");
      case Phase::kShifting:
      case Phase::kShifted:
        return Refuse(Where() + ": the test at 0% is behind it; rerun `canaryctl shift " +
                      std::to_string(cw_) + "` to verify the candidate, or run `canaryctl " +
                      "rollback`");
      case Phase::kPromoting:
      case Phase::kRollingBack:
        return InProgressElsewhere();
    }
    return Refuse(Where());
  }

  Decision Shift() {
    const int w = c_.weight;
    if (w < 0 || w > 100) return Refuse("the weight must be within 0..100");
    const int index = plan_.StepIndex(w);
    if (index < 0 && !c_.skip_steps) {
      return Refuse("the plan has no " + Pct(w) + " step (steps " + StepsText(plan_.steps) +
                    "); shift to one of them, or pass --skip-steps to shift off the plan");
    }
    const auto failed_from = FailedFrom(s_);
    switch (s_.phase) {
      case Phase::kIdle:
      case Phase::kRolledBack:
        return Refuse(Where() +
                      ", with no candidate deployed; run `canaryctl deploy`, then "
                      "`canaryctl test` first");
      case Phase::kPromoted:
        return Refuse(Where() + ": the rollout is over; run `canaryctl deploy` to start a new one");
      case Phase::kPromoting:
      case Phase::kRollingBack:
        return InProgressElsewhere();
      case Phase::kDeployed:
        if (!c_.skip_steps) {
          return Refuse(Where() +
                        ": the candidate has not been tested at 0%; run `canaryctl "
                        "test` first");
        }
        break;
      case Phase::kFailed:
        if (failed_from != Phase::kTesting && failed_from != Phase::kShifting) {
          return Refuse(Where() + "; run `canaryctl rollback`");
        }
        break;
      case Phase::kTesting:
      case Phase::kShifting:
      case Phase::kShifted:
        break;
    }
    const Weights to = CandidateAt(w);
    if (s_.phase == Phase::kShifted && s_.current == to && s_.target == to) {
      return Converge("already shifted to " + FormatWeights(to));
    }
    const bool resume = s_.phase == Phase::kShifting && s_.target == to;
    if (!resume && !c_.skip_steps && w > cw_) {
      const int next = NextStep(plan_, cw_);
      if (w != next) {
        return Refuse("the candidate is at " + Pct(cw_) + " and the next step is " + Pct(next) +
                      "; run `canaryctl shift " + std::to_string(next) +
                      "`, or pass --skip-steps to skip steps");
      }
    }
    std::string what = (resume ? "resume shifting to " : "shift to ") + FormatWeights(to) +
                       ", then run the checks";
    if (w < cw_) what += " (down from " + Pct(cw_) + ")";
    return Proceed(Phase::kShifting, to, Phase::kShifted, to, index, what);
  }

  Decision Promote() {
    const int last = static_cast<int>(plan_.steps.size()) - 1;
    const auto failed_from = FailedFrom(s_);
    const bool blue_green = plan_.strategy == Strategy::kBlueGreen;
    const std::string what = blue_green
                                 ? "make slot " + std::string(SlotName(d_.candidate_slot)) + " live"
                                 : "replace stable with " + ReleaseText(s_.candidate) +
                                       ", then move all "
                                       "traffic to stable";
    switch (s_.phase) {
      case Phase::kPromoted:
        return Converge("already promoted");
      case Phase::kPromoting:
        return Proceed(Phase::kPromoting, s_.current, Phase::kPromoted, kAllStable, last,
                       "resume: " + what);
      case Phase::kFailed:
        if (failed_from == Phase::kPromoting) {
          return Proceed(Phase::kPromoting, s_.current, Phase::kPromoted, kAllStable, last,
                         "retry: " + what);
        }
        return Refuse(Where() + "; run `canaryctl rollback`");
      case Phase::kIdle:
      case Phase::kRolledBack:
        return Refuse(Where() + ", with nothing to promote; run `canaryctl deploy` first");
      case Phase::kRollingBack:
        return InProgressElsewhere();
      case Phase::kDeployed:
        return Refuse(Where() + ": the candidate has not been tested; run `canaryctl test` first");
      case Phase::kShifting:
        return Refuse(Where() + ": the checks at " + Pct(cw_) + " have not passed; rerun " +
                      "`canaryctl shift " + std::to_string(s_.target.candidate) +
                      "` or run `canaryctl rollback`");
      case Phase::kTesting:
      case Phase::kShifted:
        break;
    }
    if (cw_ == 100) {
      return Proceed(Phase::kPromoting, s_.current, Phase::kPromoted, kAllStable, last, what);
    }
    const int next = NextStep(plan_, cw_);
    if (blue_green) {
      return Refuse(Where() +
                    ": blue-green promotes only once the candidate slot takes 100%; "
                    "run `canaryctl shift 100` first");
    }
    if (!c_.skip_steps) {
      return Refuse(Where() + ": promote comes after the 100% step; run `canaryctl shift " +
                    std::to_string(next) + "` next, or pass --skip-steps to promote now");
    }
    return Proceed(Phase::kPromoting, s_.current, Phase::kPromoted, kAllStable, last,
                   what + " (--skip-steps: promoting from " + Pct(cw_) + ")");
  }

  Decision Rollback() {
    const auto failed_from = FailedFrom(s_);
    const bool all_stable = s_.current == kAllStable;
    switch (s_.phase) {
      case Phase::kIdle:
      case Phase::kRolledBack:
        if (all_stable) return Converge("all traffic is already on stable (100/0)");
        break;
      case Phase::kPromoted:
        if (all_stable) {
          return Converge("the rollout is promoted and stable (" + ReleaseText(s_.stable) +
                          ") takes all traffic; to go back, deploy the previous version");
        }
        break;
      default:
        break;
    }
    d_.restore_stable_release = s_.phase == Phase::kPromoting || failed_from == Phase::kPromoting;
    std::string what =
        "set " + FormatWeights(kAllStable) + " first (from " + FormatWeights(s_.current) + ")";
    if (d_.restore_stable_release) what += ", then restore the stable release";
    return Proceed(Phase::kRollingBack, kAllStable, Phase::kRolledBack, kAllStable, 0, what);
  }

  const Plan& plan_;
  const RolloutState& s_;
  const Command& c_;
  const int cw_;  // the candidate's weight on record
  Decision d_;
};

}  // namespace

std::string_view CommandName(CommandKind kind) {
  switch (kind) {
    case CommandKind::kDeploy:
      return "deploy";
    case CommandKind::kTest:
      return "test";
    case CommandKind::kShift:
      return "shift";
    case CommandKind::kPromote:
      return "promote";
    case CommandKind::kRollback:
      return "rollback";
  }
  return "?";
}

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kConvergeOnly:
      return "converge-only";
    case Verdict::kProceed:
      return "proceed";
    case Verdict::kRefuse:
      return "refuse";
  }
  return "?";
}

int Plan::StepIndex(int weight) const {
  auto it = std::find(steps.begin(), steps.end(), weight);
  return it == steps.end() ? -1 : static_cast<int>(it - steps.begin());
}

Result<Plan> MakePlan(Strategy strategy, const std::vector<int>& configured) {
  const bool blue_green = strategy == Strategy::kBlueGreen;
  std::vector<int> steps = configured;
  if (steps.empty())
    steps = blue_green ? std::vector<int>{0, 100} : std::vector<int>{0, 30, 60, 100};
  if (steps.front() != 0) steps.insert(steps.begin(), 0);
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i] < 0 || steps[i] > 100) {
      return ConfigError("traffic.steps: " + std::to_string(steps[i]) +
                         " is outside 0..100 (steps " + StepsText(configured) + ")");
    }
    if (i > 0 && steps[i] <= steps[i - 1]) {
      return ConfigError("traffic.steps: must be strictly increasing, but " +
                         std::to_string(steps[i]) + " follows " + std::to_string(steps[i - 1]) +
                         " (steps " + StepsText(configured) + ")");
    }
  }
  if (steps.back() != 100) {
    return ConfigError("traffic.steps: must end at 100 (steps " + StepsText(configured) + ")");
  }
  if (blue_green && steps != std::vector<int>{0, 100}) {
    return ConfigError(
        "traffic.steps: strategy blue-green switches slots at once and needs "
        "steps [0, 100], not " +
        StepsText(configured));
  }
  Plan plan;
  plan.strategy = strategy;
  plan.steps = steps;
  plan.flow.push_back({CommandKind::kDeploy, 0, "deploy"});
  plan.flow.push_back({CommandKind::kTest, 0, "test@0"});
  for (size_t i = 1; i < steps.size(); ++i) {
    plan.flow.push_back({CommandKind::kShift, steps[i], "shift " + std::to_string(steps[i])});
  }
  plan.flow.push_back({CommandKind::kPromote, 0, "promote"});
  return plan;
}

Decision Decide(const Plan& plan, const std::optional<RolloutState>& state,
                const Command& command) {
  const RolloutState s = state ? *state : InitialState("this app", plan.strategy, Timestamp{});
  return Decider(plan, s, command).Run();
}

}  // namespace canaryctl::engine

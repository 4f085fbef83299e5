#include "engine/transition.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixtures.h"

namespace canaryctl::engine {
namespace {

using ::testing::HasSubstr;
using testing::T;
using testing::V;

Command Deploy(const Release& r) { return {CommandKind::kDeploy, 0, r, false}; }
Command TestCmd() { return {CommandKind::kTest, 0, {}, false}; }
Command Shift(int w) { return {CommandKind::kShift, w, {}, false}; }
Command Promote() { return {CommandKind::kPromote, 0, {}, false}; }
Command Rollback() { return {CommandKind::kRollback, 0, {}, false}; }

// Plays the I/O layer's loop (transition.h) with every write round-tripped through the
// annotation's JSON, as the cluster would store it. Returns the decision taken.
class Rollout {
 public:
  explicit Rollout(Strategy strategy, std::vector<int> steps = {})
      : plan_(MakePlan(strategy, steps).value()) {}

  Decision Run(const Command& c, const std::optional<Release>& release = std::nullopt) {
    const Decision d = Decide(plan_, state_, c);
    if (d.verdict != Verdict::kProceed) return d;
    RolloutState s = StateOrInitial(state_, "demoapp", plan_.strategy, Now());
    if (d.begin_phase) {
      s = Begin(s, d, Ctx());
      Store(s);
      EXPECT_EQ(s.phase, *d.begin_phase);
      EXPECT_EQ(s.current, d.begin);
    }
    s = Complete(s, d, Ctx(), release);
    Store(s);
    return d;
  }

  const RolloutState& state() const { return *state_; }
  bool has_state() const { return state_.has_value(); }
  const Plan& plan() const { return plan_; }
  TransitionContext Ctx() {
    return {Now(), "123", "https://gitlab/jobs/" + std::to_string(clock_), "alice", ""};
  }

 private:
  Timestamp Now() { return T(clock_++); }
  void Store(const RolloutState& s) {
    ASSERT_TRUE(Validate(s).ok()) << Validate(s).error().message;
    auto parsed = ParseState(SerializeState(s));
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    ASSERT_EQ(parsed.value(), s);
    state_ = parsed.value();
  }

  Plan plan_;
  std::optional<RolloutState> state_;
  int clock_ = 0;
};

TEST(TransitionTest, BeginAndCompleteAreDeterministicAndRecordHistory) {
  const Plan plan = MakePlan(Strategy::kHybrid, {}).value();
  const RolloutState s = testing::StateIn(Strategy::kHybrid, Phase::kShifted, 30);
  const Decision d = Decide(plan, s, Shift(60));
  const TransitionContext ctx{T(100), "124", "https://gitlab/jobs/9", "bob", ""};
  const RolloutState begun = Begin(s, d, ctx);
  EXPECT_EQ(begun, Begin(s, d, ctx));
  EXPECT_EQ(begun.phase, Phase::kShifting);
  EXPECT_EQ(begun.current, (Weights{40, 60}));
  EXPECT_EQ(begun.target, (Weights{40, 60}));
  EXPECT_EQ(begun.step_index, 2);
  EXPECT_EQ(begun.pipeline_id, "124");
  EXPECT_EQ(begun.job_url, "https://gitlab/jobs/9");
  EXPECT_EQ(begun.triggered_by, "bob");
  EXPECT_EQ(begun.updated_at, T(100));
  EXPECT_EQ(begun.started_at, s.started_at);
  ASSERT_EQ(begun.history.size(), 1u);
  EXPECT_EQ(begun.history[0], (HistoryEntry{T(100),
                                            Phase::kShifted,
                                            Phase::kShifting,
                                            {40, 60},
                                            "https://gitlab/jobs/9",
                                            d.message}));
  TransitionContext later = ctx;
  later.now = T(160);
  later.message = "checks passed at 60%";
  const RolloutState done = Complete(begun, d, later, std::nullopt);
  EXPECT_EQ(done.phase, Phase::kShifted);
  ASSERT_EQ(done.history.size(), 2u);
  EXPECT_EQ(done.history[1].from, Phase::kShifting);
  EXPECT_EQ(done.history[1].to, Phase::kShifted);
  EXPECT_EQ(done.history[1].message, "checks passed at 60%");
  EXPECT_EQ(done.updated_at, T(160));
}

TEST(TransitionTest, HistoryKeepsTheLast50) {
  RolloutState s = testing::StateIn(Strategy::kHybrid, Phase::kShifted, 30);
  const Plan plan = MakePlan(Strategy::kHybrid, {}).value();
  for (int i = 0; i < 60; ++i) {
    const Decision d = Decide(plan, s, Shift(i % 2 == 0 ? 60 : 30));
    ASSERT_EQ(d.verdict, Verdict::kProceed);
    s = Complete(Begin(s, d, {T(100 + 2 * i), "1", "", "", ""}), d,
                 {T(101 + 2 * i), "1", "", "", ""}, std::nullopt);
  }
  ASSERT_EQ(s.history.size(), kMaxHistory);
  EXPECT_EQ(s.history.front().time, T(100 + 120 - 50));  // the 70th of 120 entries
  EXPECT_EQ(s.history.back().time, T(101 + 2 * 59));
  EXPECT_TRUE(ParseState(SerializeState(s)).ok());
}

TEST(TransitionTest, HybridFlowWhereEveryRerunConverges) {
  Rollout r(Strategy::kHybrid, {0, 30, 60, 100});
  const Release candidate{"helm-chart/demoapp", "2.0.0", 0, "abc123", ""};
  struct Step {
    Command command;
    std::optional<Release> release;
    Phase phase;
    Weights weights;
  };
  const std::vector<Step> flow = {
      {Deploy(candidate),
       Release{"helm-chart/demoapp", "2.0.0", 1, "abc123", ""},
       Phase::kDeployed,
       {100, 0}},
      {TestCmd(), std::nullopt, Phase::kTesting, {100, 0}},
      {Shift(30), std::nullopt, Phase::kShifted, {70, 30}},
      {Shift(60), std::nullopt, Phase::kShifted, {40, 60}},
      {Shift(100), std::nullopt, Phase::kShifted, {0, 100}},
      {Promote(), Release{"helm-chart/demoapp", "2.0.0", 8, "abc123", ""}, Phase::kPromoted, {100, 0}},
  };
  for (const auto& step : flow) {
    const std::string name(CommandName(step.command.kind));
    ASSERT_EQ(r.Run(step.command, step.release).verdict, Verdict::kProceed) << name;
    EXPECT_EQ(r.state().phase, step.phase) << name;
    EXPECT_EQ(r.state().current, step.weights) << name;
    const RolloutState before = r.state();
    const Decision again = r.Run(step.command, step.release);
    EXPECT_EQ(again.verdict, Verdict::kConvergeOnly) << name << ": " << again.message;
    EXPECT_EQ(r.state(), before) << "a converging rerun writes nothing";
  }
  EXPECT_EQ(r.state().stable, (Release{"helm-chart/demoapp", "2.0.0", 8, "abc123", ""}));
  EXPECT_EQ(r.state().step_index, 3);
  // deploy, test, and begin+complete for each of 3 shifts and the promote.
  EXPECT_EQ(r.state().history.size(), 2u + 2 * 4);
  EXPECT_EQ(r.Run(Rollback()).verdict, Verdict::kConvergeOnly);
}

// Each strategy's own flow, as MakePlan lists it, with every command run twice.
TEST(TransitionTest, EveryStrategysFlowConvergesWhenRerun) {
  for (Strategy strategy : {Strategy::kHybrid, Strategy::kCanary, Strategy::kBlueGreen}) {
    Rollout r(strategy);
    for (const PlanStep& step : r.plan().flow) {
      Command c{step.kind, step.weight, V("2.0.0", 0), false};
      const std::optional<Release> release =
          step.kind == CommandKind::kDeploy ? std::optional<Release>(V("2.0.0", 1)) : std::nullopt;
      EXPECT_EQ(r.Run(c, release).verdict, Verdict::kProceed)
          << StrategyName(strategy) << ": " << step.label;
      const Decision again = r.Run(c, release);
      EXPECT_EQ(again.verdict, Verdict::kConvergeOnly)
          << StrategyName(strategy) << ": " << step.label << ": " << again.message;
    }
    EXPECT_EQ(r.state().phase, Phase::kPromoted) << StrategyName(strategy);
    EXPECT_EQ(r.state().current, kAllStable);
    EXPECT_EQ(r.state().stable.version, "2.0.0");
  }
}

TEST(TransitionTest, FailedShiftThenRollbackThenANewRollout) {
  Rollout r(Strategy::kCanary);
  ASSERT_EQ(r.Run(Deploy(V("2.0.0")), V("2.0.0", 1)).verdict, Verdict::kProceed);
  ASSERT_EQ(r.Run(TestCmd()).verdict, Verdict::kProceed);
  // shift 30: the weights are written, then the checks fail and there is no auto rollback.
  const Decision d = Decide(r.plan(), r.state(), Shift(30));
  RolloutState s = Begin(r.state(), d, r.Ctx());
  s = Fail(s, r.Ctx(), s.current);
  EXPECT_EQ(s.phase, Phase::kFailed);
  EXPECT_EQ(s.current, (Weights{70, 30}));
  EXPECT_EQ(s.history.back().from, Phase::kShifting);
  EXPECT_EQ(s.history.back().to, Phase::kFailed);
  // The failed shift may be retried; deploying over it may not.
  EXPECT_EQ(Decide(r.plan(), s, Shift(30)).verdict, Verdict::kProceed);
  EXPECT_EQ(Decide(r.plan(), s, Deploy(V("3.0.0"))).verdict, Verdict::kRefuse);
  const Decision rb = Decide(r.plan(), s, Rollback());
  s = Begin(s, rb, r.Ctx());
  EXPECT_EQ(s.current, kAllStable);
  EXPECT_EQ(s.phase, Phase::kRollingBack);
  s = Complete(s, rb, r.Ctx(), std::nullopt);
  EXPECT_EQ(s.phase, Phase::kRolledBack);
  EXPECT_EQ(Decide(r.plan(), s, Rollback()).verdict, Verdict::kConvergeOnly);
  const Decision fresh = Decide(r.plan(), s, Deploy(V("3.0.0")));
  EXPECT_EQ(fresh.verdict, Verdict::kProceed);
  const RolloutState next = Complete(s, fresh, {T(999), "124", "", "", ""}, V("3.0.0", 2));
  EXPECT_EQ(next.started_at, T(999));
  EXPECT_EQ(next.candidate, V("3.0.0", 2));
  EXPECT_EQ(next.stable, s.stable);
}

TEST(TransitionTest, RollbackMidPromoteRestoresTheStableRelease) {
  Rollout r(Strategy::kHybrid, {0, 100});
  r.Run(Deploy(V("2.0.0")), V("2.0.0", 1));
  r.Run(TestCmd());
  r.Run(Shift(100));
  const Decision p = Decide(r.plan(), r.state(), Promote());
  const RolloutState crashed = Begin(r.state(), p, r.Ctx());  // helm upgrade of stable dies
  EXPECT_EQ(crashed.current, (Weights{0, 100})) << "traffic stays on the candidate meanwhile";
  EXPECT_EQ(crashed.stable, Release{}) << "stable is replaced in the state only once promoted";
  const Decision rb = Decide(r.plan(), crashed, Rollback());
  ASSERT_TRUE(rb.restore_stable_release);
  const Release restored{"helm-chart/demoapp", "1.0.0", 5, "c0ffee1.0.0", ""};
  const RolloutState after = Complete(Begin(crashed, rb, r.Ctx()), rb, r.Ctx(), restored);
  EXPECT_EQ(after.stable, restored);
  EXPECT_EQ(after.current, kAllStable);
}

TEST(TransitionTest, BlueGreenFlipsTheLiveSlotAcrossTwoRollouts) {
  Rollout r(Strategy::kBlueGreen);
  // First rollout: nothing recorded, blue counts as live, the candidate goes to green.
  EXPECT_EQ(r.Run(Deploy(V("2.0.0")), V("2.0.0", 1)).candidate_slot, Slot::kGreen);
  EXPECT_EQ(r.state().live_slot, Slot::kBlue);
  r.Run(TestCmd());
  EXPECT_EQ(r.Run(Shift(100)).verdict, Verdict::kProceed);
  EXPECT_EQ(r.state().current, (Weights{0, 100}));
  const Release old_stable = r.state().stable;
  ASSERT_EQ(r.Run(Promote()).verdict, Verdict::kProceed);
  EXPECT_EQ(r.state().live_slot, Slot::kGreen);
  EXPECT_EQ(r.state().stable, V("2.0.0", 1));
  EXPECT_EQ(r.state().candidate, old_stable) << "the idle slot still runs the old version";
  EXPECT_EQ(r.state().current, kAllStable) << "relative to the new live slot";
  EXPECT_EQ(r.Run(Promote()).verdict, Verdict::kConvergeOnly);
  EXPECT_EQ(r.state().live_slot, Slot::kGreen);

  // Second rollout: the candidate goes to blue, now idle; promote makes blue live again.
  EXPECT_EQ(r.Run(Deploy(V("3.0.0")), V("3.0.0", 2)).candidate_slot, Slot::kBlue);
  EXPECT_EQ(r.state().live_slot, Slot::kGreen);
  r.Run(TestCmd());
  r.Run(Shift(100));
  ASSERT_EQ(r.Run(Promote()).verdict, Verdict::kProceed);
  EXPECT_EQ(r.state().live_slot, Slot::kBlue);
  EXPECT_EQ(r.state().stable, V("3.0.0", 2));
  EXPECT_EQ(r.state().candidate, V("2.0.0", 1));
}

TEST(TransitionTest, BlueGreenRollbackKeepsTheLiveSlot) {
  Rollout r(Strategy::kBlueGreen);
  r.Run(Deploy(V("2.0.0")), V("2.0.0", 1));
  r.Run(TestCmd());
  r.Run(Shift(100));
  ASSERT_EQ(r.Run(Rollback()).verdict, Verdict::kProceed);
  EXPECT_EQ(r.state().live_slot, Slot::kBlue);
  EXPECT_EQ(r.state().current, kAllStable);
  EXPECT_EQ(r.Run(Deploy(V("2.0.1")), V("2.0.1", 2)).candidate_slot, Slot::kGreen);
}

TEST(TransitionTest, DeployStartsTheRolloutUnderTheConfiguredStrategy) {
  // A finished hybrid rollout, then the configuration switches to blue-green.
  const RolloutState hybrid = testing::StateIn(Strategy::kHybrid, Phase::kPromoted, 0);
  const Plan bg = MakePlan(Strategy::kBlueGreen, {}).value();
  const Decision d = Decide(bg, hybrid, Deploy(V("3.0.0")));
  ASSERT_EQ(d.verdict, Verdict::kProceed);
  EXPECT_EQ(d.candidate_slot, Slot::kGreen);
  const RolloutState s = Complete(hybrid, d, {T(50), "1", "", "", ""}, V("3.0.0", 1));
  EXPECT_EQ(s.strategy, Strategy::kBlueGreen);
  EXPECT_EQ(s.live_slot, Slot::kBlue);
  EXPECT_TRUE(Validate(s).ok());
  // And back: a hybrid deploy clears the slot.
  const Plan hy = MakePlan(Strategy::kHybrid, {}).value();
  RolloutState done = s;
  done.phase = Phase::kPromoted;
  const RolloutState back =
      Complete(done, Decide(hy, done, Deploy(V("4.0.0"))), {T(60), "1", "", "", ""}, V("4.0.0", 1));
  EXPECT_EQ(back.strategy, Strategy::kHybrid);
  EXPECT_EQ(back.live_slot, Slot::kNone);
  EXPECT_TRUE(Validate(back).ok());
}

TEST(TransitionTest, RerunningAfterACrashResumesThenConverges) {
  Rollout r(Strategy::kHybrid);
  r.Run(Deploy(V("2.0.0")), V("2.0.0", 1));
  r.Run(TestCmd());
  const Decision d = Decide(r.plan(), r.state(), Shift(30));
  const RolloutState crashed = Begin(r.state(), d, r.Ctx());  // the job dies during the checks
  const Decision resume = Decide(r.plan(), crashed, Shift(30));
  ASSERT_EQ(resume.verdict, Verdict::kProceed);
  EXPECT_THAT(resume.message, HasSubstr("resume"));
  const RolloutState done =
      Complete(Begin(crashed, resume, r.Ctx()), resume, r.Ctx(), std::nullopt);
  EXPECT_EQ(done.phase, Phase::kShifted);
  EXPECT_EQ(Decide(r.plan(), done, Shift(30)).verdict, Verdict::kConvergeOnly);
}

}  // namespace
}  // namespace canaryctl::engine

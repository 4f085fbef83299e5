#include "engine/plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "fixtures.h"

namespace canaryctl::engine {
namespace {

using ::testing::HasSubstr;
using testing::StateIn;
using testing::V;

Plan MustPlan(Strategy strategy, std::vector<int> steps = {}) {
  auto p = MakePlan(strategy, steps);
  EXPECT_TRUE(p.ok()) << p.error().message;
  return p.value();
}

Command Deploy(const Release& r) { return {CommandKind::kDeploy, 0, r, false}; }
Command TestCmd() { return {CommandKind::kTest, 0, {}, false}; }
Command Shift(int w, bool skip = false) { return {CommandKind::kShift, w, {}, skip}; }
Command Promote(bool skip = false) { return {CommandKind::kPromote, 0, {}, skip}; }
Command Rollback() { return {CommandKind::kRollback, 0, {}, false}; }

TEST(PlanTest, BuildsTheFlowFromTheSteps) {
  const Plan p = MustPlan(Strategy::kHybrid, {0, 30, 60, 100});
  EXPECT_EQ(p.steps, (std::vector<int>{0, 30, 60, 100}));
  std::vector<std::string> labels;
  for (const auto& s : p.flow) labels.push_back(s.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"deploy", "test@0", "shift 30", "shift 60",
                                              "shift 100", "promote"}));
  EXPECT_EQ(p.StepIndex(60), 2);
  EXPECT_EQ(p.StepIndex(45), -1);
  // A leading 0 is implied; defaults per strategy.
  EXPECT_EQ(MustPlan(Strategy::kCanary, {10, 100}).steps, (std::vector<int>{0, 10, 100}));
  EXPECT_EQ(MustPlan(Strategy::kCanary).steps, (std::vector<int>{0, 30, 60, 100}));
  EXPECT_EQ(MustPlan(Strategy::kBlueGreen).steps, (std::vector<int>{0, 100}));
  EXPECT_EQ(MustPlan(Strategy::kBlueGreen, {100}).steps, (std::vector<int>{0, 100}));
}

TEST(PlanTest, RejectsBadSteps) {
  struct Bad {
    Strategy strategy;
    std::vector<int> steps;
    const char* expected;
  };
  const std::vector<Bad> cases = {
      {Strategy::kHybrid, {0, 60, 30, 100}, "must be strictly increasing, but 30 follows 60"},
      {Strategy::kHybrid, {0, 30, 30, 100}, "but 30 follows 30"},
      {Strategy::kHybrid, {0, 30, 60}, "must end at 100"},
      {Strategy::kHybrid, {0, 50, 120}, "120 is outside 0..100"},
      {Strategy::kCanary, {-10, 100}, "-10 is outside 0..100"},
      {Strategy::kBlueGreen, {0, 50, 100}, "blue-green switches slots at once and needs steps"},
  };
  for (const auto& c : cases) {
    auto p = MakePlan(c.strategy, c.steps);
    ASSERT_FALSE(p.ok()) << c.expected;
    EXPECT_EQ(p.error().kind, ErrorKind::kConfig);
    EXPECT_THAT(p.error().message, HasSubstr("traffic.steps: "));
    EXPECT_THAT(p.error().message, HasSubstr(c.expected));
  }
}

// The fixture of each phase, as a rollout that got there through the normal flow would hold it:
// shifting/shifted/failed at `at` (the candidate's weight), promoting mid-way (weights still on
// the candidate, promote aiming at 100/0), failed coming from shifting.
RolloutState Fixture(Strategy strategy, Phase phase, int at) {
  int w = 0;
  if (phase == Phase::kShifting || phase == Phase::kShifted || phase == Phase::kFailed) w = at;
  if (phase == Phase::kPromoting) w = 100;
  RolloutState s = StateIn(strategy, phase, w);
  if (phase == Phase::kPromoting) s.target = kAllStable;
  if (phase == Phase::kFailed) {
    s.history.push_back({testing::T(5), Phase::kShifting, Phase::kFailed, s.current, "", "failed"});
  }
  return s;
}

const std::vector<Phase> kAllPhases = {
    Phase::kIdle,      Phase::kDeployed, Phase::kTesting,     Phase::kShifting,   Phase::kShifted,
    Phase::kPromoting, Phase::kPromoted, Phase::kRollingBack, Phase::kRolledBack, Phase::kFailed};

constexpr Verdict P = Verdict::kProceed;
constexpr Verdict C = Verdict::kConvergeOnly;
constexpr Verdict R = Verdict::kRefuse;

struct Row {
  Phase phase;
  std::vector<Verdict> verdicts;  // one per command of the table
};

void CheckTable(const Plan& plan, int at, const std::vector<std::pair<std::string, Command>>& cmds,
                const std::vector<Row>& rows) {
  ASSERT_EQ(rows.size(), kAllPhases.size());
  for (const auto& row : rows) {
    ASSERT_EQ(row.verdicts.size(), cmds.size());
    const RolloutState s = Fixture(plan.strategy, row.phase, at);
    for (size_t i = 0; i < cmds.size(); ++i) {
      const Decision d = Decide(plan, s, cmds[i].second);
      EXPECT_EQ(VerdictName(d.verdict), VerdictName(row.verdicts[i]))
          << StrategyName(plan.strategy) << ": " << cmds[i].first << " in phase "
          << PhaseName(row.phase) << ": " << d.message;
      EXPECT_FALSE(d.message.empty());
      if (d.verdict != Verdict::kProceed) {
        // Converging or refusing writes nothing: the decision echoes the state.
        EXPECT_FALSE(d.begin_phase.has_value());
        EXPECT_EQ(d.end_phase, s.phase);
        EXPECT_EQ(d.end, s.current);
      }
      if (d.verdict == Verdict::kRefuse) {
        EXPECT_THAT(d.message, HasSubstr("refused"));
        EXPECT_EQ(ExitCode(d.ToError().kind), 2);
      }
    }
  }
}

// hybrid and canary decide alike (they differ in where the releases live, not in policy).
TEST(PlanTest, DecisionTableForHybridAndCanary) {
  const std::vector<std::pair<std::string, Command>> cmds = {
      {"deploy (same candidate)", Deploy(V("2.0.0"))},
      {"deploy (new candidate)", Deploy(V("3.0.0"))},
      {"test", TestCmd()},
      {"shift 30", Shift(30)},
      {"shift 60", Shift(60)},
      {"shift 100", Shift(100)},
      {"shift 45 (off plan)", Shift(45)},
      {"promote", Promote()},
      {"rollback", Rollback()},
  };
  //                 deploy= deploy+ test s30 s60 s100 s45 promote rollback
  const std::vector<Row> rows = {
      {Phase::kIdle, {P, P, R, R, R, R, R, R, C}},
      {Phase::kDeployed, {C, P, P, R, R, R, R, R, P}},
      {Phase::kTesting, {C, P, C, P, R, R, R, R, P}},
      {Phase::kShifting, {C, R, R, P, P, R, R, R, P}},  // at 30
      {Phase::kShifted, {C, R, R, C, P, R, R, R, P}},   // at 30
      {Phase::kPromoting, {R, R, R, R, R, R, R, P, P}},
      {Phase::kPromoted, {P, P, R, R, R, R, R, C, C}},
      {Phase::kRollingBack, {R, R, R, R, R, R, R, R, P}},
      {Phase::kRolledBack, {P, P, R, R, R, R, R, R, C}},
      {Phase::kFailed, {R, R, R, P, P, R, R, R, P}},  // failed while shifting to 30
  };
  CheckTable(MustPlan(Strategy::kHybrid, {0, 30, 60, 100}), 30, cmds, rows);
  CheckTable(MustPlan(Strategy::kCanary, {0, 30, 60, 100}), 30, cmds, rows);
}

TEST(PlanTest, DecisionTableAtTheLastStep) {
  const std::vector<std::pair<std::string, Command>> cmds = {
      {"shift 60", Shift(60)}, {"shift 100", Shift(100)}, {"promote", Promote()}};
  const std::vector<Row> rows = {
      {Phase::kIdle, {R, R, R}},       {Phase::kDeployed, {R, R, R}},
      {Phase::kTesting, {R, R, R}},    {Phase::kShifting, {P, P, R}},  // checks at 100 pending
      {Phase::kShifted, {P, C, P}},    {Phase::kPromoting, {R, R, P}},
      {Phase::kPromoted, {R, R, C}},   {Phase::kRollingBack, {R, R, R}},
      {Phase::kRolledBack, {R, R, R}}, {Phase::kFailed, {P, P, R}},
  };
  CheckTable(MustPlan(Strategy::kHybrid), 100, cmds, rows);
}

TEST(PlanTest, DecisionTableForBlueGreen) {
  const std::vector<std::pair<std::string, Command>> cmds = {
      {"deploy (same candidate)", Deploy(V("2.0.0"))},
      {"deploy (new candidate)", Deploy(V("3.0.0"))},
      {"test", TestCmd()},
      {"shift 100", Shift(100)},
      {"shift 30 (off plan)", Shift(30)},
      {"promote", Promote()},
      {"promote --skip-steps", Promote(true)},
      {"rollback", Rollback()},
  };
  //                 deploy= deploy+ test s100 s30 promote promote! rollback
  const std::vector<Row> rows = {
      {Phase::kIdle, {P, P, R, R, R, R, R, C}},
      {Phase::kDeployed, {C, P, P, R, R, R, R, P}},
      {Phase::kTesting, {C, P, C, P, R, R, R, P}},  // blue-green never promotes below 100
      {Phase::kShifting, {C, R, R, P, R, R, R, P}},
      {Phase::kShifted, {C, R, R, C, R, P, P, P}},
      {Phase::kPromoting, {R, R, R, R, R, P, P, P}},
      {Phase::kPromoted, {P, P, R, R, R, C, C, C}},
      {Phase::kRollingBack, {R, R, R, R, R, R, R, P}},
      {Phase::kRolledBack, {P, P, R, R, R, R, R, C}},
      {Phase::kFailed, {R, R, R, P, R, R, R, P}},
  };
  CheckTable(MustPlan(Strategy::kBlueGreen), 100, cmds, rows);
}

TEST(PlanTest, RefusalsSayWhatToRunInstead) {
  const Plan plan = MustPlan(Strategy::kHybrid);
  struct Case {
    RolloutState state;
    Command command;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {Fixture(Strategy::kHybrid, Phase::kIdle, 0), Shift(60), "run `canaryctl deploy`"},
      {Fixture(Strategy::kHybrid, Phase::kDeployed, 0), Shift(30), "run `canaryctl test` first"},
      {Fixture(Strategy::kHybrid, Phase::kTesting, 0), Shift(60),
       "the next step is 30%; run `canaryctl shift 30`, or pass --skip-steps"},
      {Fixture(Strategy::kHybrid, Phase::kTesting, 0), Shift(45),
       "the plan has no 45% step (steps [0, 30, 60, 100])"},
      {Fixture(Strategy::kHybrid, Phase::kShifted, 30), Promote(),
       "promote comes after the 100% step; run `canaryctl shift 60` next"},
      {Fixture(Strategy::kHybrid, Phase::kShifting, 100), Promote(),
       "the checks at 100% have not passed; rerun `canaryctl shift 100`"},
      {Fixture(Strategy::kHybrid, Phase::kPromoted, 0), Shift(60),
       "the rollout is over; run `canaryctl deploy` to start a new one"},
      {Fixture(Strategy::kHybrid, Phase::kShifted, 30), Deploy(V("3.0.0")),
       "takes 30% of the traffic; finish it with `canaryctl promote` or run `canaryctl "
       "rollback` before deploying helm-chart/demoapp 3.0.0"},
      {Fixture(Strategy::kHybrid, Phase::kPromoting, 100), Shift(60),
       "rerun `canaryctl promote` to finish it"},
      {Fixture(Strategy::kHybrid, Phase::kRollingBack, 0), Deploy(V("3.0.0")),
       "rerun `canaryctl rollback` to finish it first"},
      {Fixture(Strategy::kHybrid, Phase::kShifted, 30), TestCmd(), "rerun `canaryctl shift 30`"},
      {Fixture(Strategy::kHybrid, Phase::kShifted, 30), Shift(101), "within 0..100"},
  };
  for (const auto& c : cases) {
    const Decision d = Decide(plan, c.state, c.command);
    EXPECT_EQ(d.verdict, Verdict::kRefuse) << c.expected;
    EXPECT_THAT(d.message, HasSubstr(c.expected));
    EXPECT_EQ(d.ToError().kind, ErrorKind::kConfig);
  }
}

TEST(PlanTest, ProceedCarriesThePhasesAndWeightsToWrite) {
  const Plan plan = MustPlan(Strategy::kHybrid);
  const Decision shift = Decide(plan, Fixture(Strategy::kHybrid, Phase::kShifted, 30), Shift(60));
  EXPECT_EQ(shift.begin_phase, Phase::kShifting);
  EXPECT_EQ(shift.begin, (Weights{40, 60}));
  EXPECT_EQ(shift.end_phase, Phase::kShifted);
  EXPECT_EQ(shift.end, (Weights{40, 60}));
  EXPECT_EQ(shift.step_index, 2);

  // Deploy and test write nothing before their work.
  const Decision deploy = Decide(plan, std::nullopt, Deploy(V("2.0.0")));
  EXPECT_EQ(deploy.verdict, Verdict::kProceed);
  EXPECT_FALSE(deploy.begin_phase.has_value());
  EXPECT_EQ(deploy.end_phase, Phase::kDeployed);
  EXPECT_EQ(deploy.end, kAllStable);
  const Decision test = Decide(plan, Fixture(Strategy::kHybrid, Phase::kDeployed, 0), TestCmd());
  EXPECT_FALSE(test.begin_phase.has_value());
  EXPECT_EQ(test.end_phase, Phase::kTesting);

  // Hybrid promote keeps the traffic on the candidate while stable is replaced, then 100/0.
  const Decision promote =
      Decide(plan, Fixture(Strategy::kHybrid, Phase::kShifted, 100), Promote());
  EXPECT_EQ(promote.begin_phase, Phase::kPromoting);
  EXPECT_EQ(promote.begin, (Weights{0, 100}));
  EXPECT_EQ(promote.end_phase, Phase::kPromoted);
  EXPECT_EQ(promote.end, kAllStable);
  EXPECT_EQ(promote.step_index, 3);
  EXPECT_EQ(promote.candidate_slot, Slot::kNone);
}

TEST(PlanTest, ShiftingDownIsAllowedBeforePromote) {
  const Plan plan = MustPlan(Strategy::kHybrid);
  for (int to : {30, 0}) {
    const Decision d = Decide(plan, Fixture(Strategy::kHybrid, Phase::kShifted, 60), Shift(to));
    EXPECT_EQ(d.verdict, Verdict::kProceed) << to;
    EXPECT_EQ(d.begin, CandidateAt(to));
    EXPECT_THAT(d.message, HasSubstr("down from 60%"));
  }
}

TEST(PlanTest, SkipStepsIsAnExplicitOverride) {
  const Plan plan = MustPlan(Strategy::kHybrid);
  const auto testing = Fixture(Strategy::kHybrid, Phase::kTesting, 0);
  EXPECT_EQ(Decide(plan, testing, Shift(60)).verdict, Verdict::kRefuse);
  EXPECT_EQ(Decide(plan, testing, Shift(60, true)).verdict, Verdict::kProceed);
  const Decision off = Decide(plan, testing, Shift(45, true));
  EXPECT_EQ(off.verdict, Verdict::kProceed);
  EXPECT_EQ(off.step_index, -1);
  EXPECT_EQ(off.end, (Weights{55, 45}));
  EXPECT_EQ(Decide(plan, Fixture(Strategy::kHybrid, Phase::kDeployed, 0), Shift(30, true)).verdict,
            Verdict::kProceed);
  const Decision early =
      Decide(plan, Fixture(Strategy::kHybrid, Phase::kShifted, 30), Promote(true));
  EXPECT_EQ(early.verdict, Verdict::kProceed);
  EXPECT_THAT(early.message, HasSubstr("promoting from 30%"));
  // It never lifts the phase rules.
  EXPECT_EQ(Decide(plan, Fixture(Strategy::kHybrid, Phase::kPromoted, 0), Shift(30, true)).verdict,
            Verdict::kRefuse);
  EXPECT_EQ(Decide(plan, Fixture(Strategy::kHybrid, Phase::kIdle, 0), Shift(30, true)).verdict,
            Verdict::kRefuse);
}

TEST(PlanTest, RollbackFromEveryPhaseWritesStableFirst) {
  for (Strategy strategy : {Strategy::kHybrid, Strategy::kCanary, Strategy::kBlueGreen}) {
    const Plan plan = MustPlan(strategy);
    for (Phase phase : kAllPhases) {
      for (int at : {0, 30, 100}) {
        RolloutState s = Fixture(strategy, phase, at);
        const Decision d = Decide(plan, s, Rollback());
        ASSERT_NE(d.verdict, Verdict::kRefuse) << PhaseName(phase) << ": " << d.message;
        if (d.verdict == Verdict::kConvergeOnly) {
          EXPECT_EQ(s.current, kAllStable) << PhaseName(phase);
          continue;
        }
        EXPECT_EQ(d.begin_phase, Phase::kRollingBack);
        EXPECT_EQ(d.begin, kAllStable) << "the first write restores stable=100";
        EXPECT_EQ(d.end_phase, Phase::kRolledBack);
        EXPECT_EQ(d.end, kAllStable);
        EXPECT_EQ(d.restore_stable_release, phase == Phase::kPromoting);
      }
    }
  }
}

TEST(PlanTest, RollbackAfterACrashMidShift) {
  // A job died after recording the intent to go to 60% while 30% was still on the route.
  RolloutState s = Fixture(Strategy::kHybrid, Phase::kShifting, 30);
  s.target = CandidateAt(60);
  const Plan plan = MustPlan(Strategy::kHybrid);
  const Decision rollback = Decide(plan, s, Rollback());
  EXPECT_EQ(rollback.verdict, Verdict::kProceed);
  EXPECT_EQ(rollback.begin, kAllStable);
  EXPECT_THAT(rollback.message, HasSubstr("from 70/30"));
  // Rerunning the interrupted command resumes it.
  const Decision resume = Decide(plan, s, Shift(60));
  EXPECT_EQ(resume.verdict, Verdict::kProceed);
  EXPECT_THAT(resume.message, HasSubstr("resume"));
  // Even a corrupt-looking idle state with traffic on the candidate gets rolled back.
  RolloutState odd = Fixture(Strategy::kHybrid, Phase::kRolledBack, 0);
  odd.current = CandidateAt(30);
  EXPECT_EQ(Decide(plan, odd, Rollback()).verdict, Verdict::kProceed);
}

TEST(PlanTest, FailedResumesOnlyWhatFailed) {
  const Plan plan = MustPlan(Strategy::kHybrid);
  RolloutState s = Fixture(Strategy::kHybrid, Phase::kFailed, 0);
  s.history.back().from = Phase::kPromoting;
  s.current = CandidateAt(100);
  EXPECT_EQ(Decide(plan, s, Promote()).verdict, Verdict::kProceed);
  EXPECT_EQ(Decide(plan, s, Shift(100)).verdict, Verdict::kRefuse);
  EXPECT_TRUE(Decide(plan, s, Rollback()).restore_stable_release);

  s.history.back().from = Phase::kTesting;
  s.current = kAllStable;
  EXPECT_EQ(Decide(plan, s, TestCmd()).verdict, Verdict::kProceed);
  EXPECT_EQ(Decide(plan, s, Deploy(V("3.0.0"))).verdict, Verdict::kProceed);
  EXPECT_EQ(Decide(plan, s, Promote()).verdict, Verdict::kRefuse);

  s.history.clear();  // without a record of what failed, only rollback and a fresh deploy at 0%
  EXPECT_EQ(Decide(plan, s, TestCmd()).verdict, Verdict::kRefuse);
  EXPECT_EQ(Decide(plan, s, Rollback()).verdict, Verdict::kProceed);
}

TEST(PlanTest, ChangingStrategyMidRolloutIsRefusedButRollbackWorks) {
  const RolloutState s = Fixture(Strategy::kHybrid, Phase::kShifted, 30);
  const Plan canary = MustPlan(Strategy::kCanary);
  const Decision d = Decide(canary, s, Shift(60));
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
  EXPECT_THAT(d.message, HasSubstr("strategy hybrid, but the configuration says canary"));
  EXPECT_EQ(Decide(canary, s, Rollback()).verdict, Verdict::kProceed);
  EXPECT_EQ(
      Decide(canary, Fixture(Strategy::kHybrid, Phase::kPromoted, 0), Deploy(V("3.0.0"))).verdict,
      Verdict::kProceed);
}

TEST(PlanTest, BlueGreenCandidateGoesToTheIdleSlot) {
  const Plan plan = MustPlan(Strategy::kBlueGreen);
  EXPECT_EQ(Decide(plan, std::nullopt, Deploy(V("2.0.0"))).candidate_slot, Slot::kGreen);
  RolloutState s = Fixture(Strategy::kBlueGreen, Phase::kPromoted, 0);
  s.live_slot = Slot::kGreen;
  const Decision d = Decide(plan, s, Deploy(V("3.0.0")));
  EXPECT_EQ(d.candidate_slot, Slot::kBlue);
  s.phase = Phase::kShifted;
  s.current = CandidateAt(100);
  EXPECT_THAT(Decide(plan, s, Promote()).message, HasSubstr("make slot blue live"));
}

}  // namespace
}  // namespace canaryctl::engine

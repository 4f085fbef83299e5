// The rollout lock under concurrency (issue 6, shared/DESIGN.md §3): two pipelines started at
// the same instant, many rounds, both orders: exactly one wins, the other exits 4 naming the
// winner; a holder killed with SIGKILL mid-step leaves a lock that refuses another pipeline
// until it expires and is taken over (and said so) after. Each ends with the invariants and a
// converging rerun.
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include "recovery_fixture.h"

namespace canaryctl::integration {
namespace {

class LockRaceTest : public RecoveryTest {};

TEST_P(LockRaceTest, TwoPipelinesAtOnceExactlyOneWinsAndTheLoserExitsFourNamingIt) {
  Deployed();
  ASSERT_FALSE(HasFatalFailure());
  // The rollout as it stands after test@0 with the lock released: every round starts there.
  Poco::Dynamic::Var armed = Vs();
  auto meta = armed.extract<Poco::JSON::Object::Ptr>()->getObject("metadata");
  meta->remove("resourceVersion");
  meta->getObject("annotations")->remove("canaryctl.io/lock");
  const std::string armed_json = ToJson(armed);

  constexpr int kRounds = 20;
  int first_won = 0, second_won = 0, lost_at_write = 0;
  std::string winner, loser;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const HttpResult reset = sandbox_.Http("PUT", kVirtualServicePath, armed_json);
    ASSERT_EQ(reset.status, 200) << reset.error << reset.body;
    const std::string a = std::to_string(300 + 2 * round), b = std::to_string(301 + 2 * round);
    // Both orders: each pipeline is started first in every other round.
    const std::string first = round % 2 ? b : a, second = round % 2 ? a : b;
    CommandResult r1, r2;
    std::thread t1([&] { r1 = RunAs(first, {"shift", "30"}); });
    std::thread t2([&] { r2 = RunAs(second, {"shift", "30"}); });
    t1.join();
    t2.join();
    ASSERT_NE(r1.ok(), r2.ok()) << "exactly one must win:\n" << r1.Describe() << r2.Describe();
    const CommandResult& lost = r1.ok() ? r2 : r1;
    winner = r1.ok() ? first : second;
    loser = r1.ok() ? second : first;
    (r1.ok() ? first_won : second_won)++;
    EXPECT_EQ(lost.exit_code, 4) << lost.Describe();
    EXPECT_NE(lost.err.find("locked by pipeline " + winner + " (" + JobUrl(winner) + ")"),
              std::string::npos)
        << lost.err;
    // Both read no lock; the loser's guarded write met a conflict, it re-read and saw the lock.
    if (lost.err.find("(409)") != std::string::npos) ++lost_at_write;

    // The state, the lock and the weights are the winner's, whole.
    EXPECT_EQ(ExpectRecoveryInvariants({100, 0}, {70, 30}, "after the race", winner),
              (Split{70, 30}));
    const Poco::Dynamic::Var vs = VsNow();
    EXPECT_EQ(LockPipeline(vs), winner);
    EXPECT_EQ(Str(StateOf(vs), "/pipelineId"), winner);
    EXPECT_EQ(Str(StateOf(vs), "/jobUrl"), JobUrl(winner));
    EXPECT_EQ(Str(StateOf(vs), "/phase"), "shifted");
  }

  // The same commands rerun: the winner's converges without writing, the loser's is refused.
  const std::string rv = Rv();
  EXPECT_TRUE(Succeeded(RunAs(winner, {"shift", "30"})));
  const CommandResult again = RunAs(loser, {"shift", "30"});
  EXPECT_EQ(again.exit_code, 4) << again.Describe();
  EXPECT_EQ(Rv(), rv);

  std::cout << "lock race: " << kRounds << " rounds, " << kRounds << " with exactly one winner ("
            << first_won << " won by the pipeline started first, " << second_won
            << " by the one started second), " << lost_at_write
            << " losers refused after a conflict on their guarded write (" << CanaryctlConflicts()
            << " answered 409 by the server), the others at their read\n";
  RecordProperty("rounds", kRounds);
  RecordProperty("won_by_first", first_won);
  RecordProperty("won_by_second", second_won);
  RecordProperty("lost_at_write", lost_at_write);
  RecordProperty("server_409s", static_cast<int>(CanaryctlConflicts()));
}

TEST_P(LockRaceTest, HolderKilledMidStepLeavesALockThatIsRefusedThenTakenOverAfterItExpires) {
  // The holder is pipeline 100, which deployed and tested, and so already holds the lock.
  const std::string marker = work_->path() + "/holding";
  // A check that, in the holder's run only, signals it is running and then hangs: the holder
  // has written `shifting` with its lock, as a job killed mid-step would have.
  const std::string hold = work_->Write(
      "hold.sh", "if [ -n \"$HOLD_MARKER\" ]; then : > \"$HOLD_MARKER\"; exec sleep 6; fi\n");
  Deployed("lock: {ttl: 5s}\n", "{name: hold, command: [\"/bin/sh\", \"" + hold + "\"]}");
  ASSERT_FALSE(HasFatalFailure());

  auto env = Env();
  env["CI_PIPELINE_ID"] = "100";
  env["CI_JOB_URL"] = JobUrl("100");
  env["HOLD_MARKER"] = marker;
  Poco::Pipe out, err;
  Poco::ProcessHandle holder = Poco::Process::launch(
      CANARYCTL_BIN, {"--config", config_, "--kubeconfig", sandbox_.kubeconfig(), "shift", "30"},
      work_->path(), nullptr, &out, &err, env);
  std::string holder_out, holder_err;
  std::thread out_reader([&] {
    Poco::PipeInputStream in(out);
    Poco::StreamCopier::copyToString(in, holder_out);
  });
  std::thread err_reader([&] {
    Poco::PipeInputStream in(err);
    Poco::StreamCopier::copyToString(in, holder_err);
  });
  const bool holding = WaitFor([&] { return std::filesystem::exists(marker); }, 60s);
  Poco::Process::kill(holder);  // SIGKILL
  const int killed = holder.wait();
  // The readers end when the hanging check, orphaned, exits: join them at the end, after the
  // lock's short TTL has been used.
  struct Join {
    std::thread& a;
    std::thread& b;
    ~Join() {
      a.join();
      b.join();
    }
  } join{out_reader, err_reader};
  ASSERT_TRUE(holding) << "the holder never reached its check";
  EXPECT_NE(killed, 0);

  // What the killed job left: its intent and its lock.
  EXPECT_EQ(ExpectRecoveryInvariants({100, 0}, {70, 30}, "after the kill"), (Split{70, 30}));
  EXPECT_EQ(Str(State(), "/phase"), "shifting");
  ASSERT_EQ(LockPipeline(VsNow()), "100");
  const auto lock = ParseJson(*Str(VsNow(), "/metadata/annotations/canaryctl.io~1lock"));
  const auto expires = ParseUtc(Str(lock, "/expires").value_or(""));
  ASSERT_TRUE(expires.has_value()) << ToJson(lock);

  // Before expiry another pipeline is refused, and told who holds the lock.
  const std::string rv = Rv();
  const CommandResult early = RunAs("500", {"shift", "30"});
  ASSERT_LT(std::chrono::system_clock::now(), *expires) << "the lock expired too soon to test";
  EXPECT_EQ(early.exit_code, 4) << early.Describe();
  EXPECT_NE(early.err.find("locked by pipeline 100 (" + JobUrl("100") + ")"), std::string::npos)
      << early.err;
  EXPECT_EQ(Rv(), rv);

  // After expiry it takes the lock over, says from whom, and finishes the step.
  std::this_thread::sleep_until(*expires + 200ms);
  const CommandResult late = RunAs("500", {"shift", "30"});
  ASSERT_TRUE(Succeeded(late));
  EXPECT_NE(late.err.find("took over the rollout lock of demoapp held by pipeline 100 (" +
                          JobUrl("100") + ") by alice, which expired at"),
            std::string::npos)
      << late.err;
  EXPECT_EQ(ExpectRecoveryInvariants({70, 30}, {70, 30}, "after the takeover", "500"),
            (Split{70, 30}));
  EXPECT_EQ(LockPipeline(VsNow()), "500");
  EXPECT_EQ(Str(State(), "/phase"), "shifted");
  EXPECT_EQ(Str(State(), "/pipelineId"), "500");

  // Rerun: converges without a write; the old pipeline's retried job is now the one refused.
  const std::string after = Rv();
  EXPECT_TRUE(Succeeded(RunAs("500", {"shift", "30"})));
  const CommandResult old = RunAs("100", {"shift", "30"});
  EXPECT_EQ(old.exit_code, 4) << old.Describe();
  EXPECT_NE(old.err.find("locked by pipeline 500 (" + JobUrl("500") + ")"), std::string::npos)
      << old.err;
  EXPECT_EQ(Rv(), after);
}

INSTANTIATE_TEST_SUITE_P(Tools, LockRaceTest, testing::ValuesIn(NewestTools()), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration

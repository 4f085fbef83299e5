#include "checks/command_check.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace canaryctl::checks {
namespace {

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/canaryctl-cmd-XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

CheckResult RunCommand(std::vector<std::string> argv,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20),
                       const StepContext& step = StepContext{}, std::string dir = "") {
  CommandCheckSpec spec;
  spec.name = "cmd";
  spec.argv = std::move(argv);
  spec.timeout = timeout;
  spec.working_dir = std::move(dir);
  spec.env = {{"CHECK_VAR", "from-check"}};
  return CommandCheck(spec).Run(step);
}

TEST(CommandCheckTest, ExitZeroPassesAndNonZeroFailsWithTheCode) {
  const CheckResult ok = RunCommand({"/bin/sh", "-c", "exit 0"});
  EXPECT_EQ(ok.verdict, Verdict::kPass);
  EXPECT_EQ(ok.name, "cmd");
  const CheckResult bad = RunCommand({"/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(bad.verdict, Verdict::kFail);
  EXPECT_EQ(bad.message, "/bin/sh exited with code 3");
}

TEST(CommandCheckTest, SeesProcessEnvCheckEnvAndStepFacts) {
  setenv("CANARYCTL_TEST_INHERITED", "inherited", 1);
  StepContext step;
  step.app = "demoapp";
  step.phase = "shift";
  step.step_index = 2;
  step.weight = 30;
  step.stable_weight = 70;
  step.target_url = "http://flaskapp.stage.svc.cluster.local/";
  step.facts = {{"pipeline-id", "4711"}};
  const CheckResult r = RunCommand(
      {"/bin/sh", "-c",
       "echo \"$CANARYCTL_APP $CANARYCTL_PHASE $CANARYCTL_STEP $CANARYCTL_WEIGHT "
       "$CANARYCTL_STABLE_WEIGHT $CANARYCTL_TARGET_URL $CANARYCTL_PIPELINE_ID $CHECK_VAR "
       "$CANARYCTL_TEST_INHERITED\""},
      std::chrono::seconds(20), step);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_EQ(r.output,
            "demoapp shift 2 30 70 http://flaskapp.stage.svc.cluster.local/ 4711 from-check "
            "inherited\n");
}

TEST(CommandCheckTest, StepFactsOverrideTheCheckEnvironment) {
  StepContext step;
  step.weight = 60;
  CommandCheckSpec spec;
  spec.name = "cmd";
  spec.argv = {"/bin/sh", "-c", "echo $CANARYCTL_WEIGHT"};
  spec.env = {{"CANARYCTL_WEIGHT", "999"}};
  EXPECT_EQ(CommandCheck(spec).Run(step).output, "60\n");
}

TEST(CommandCheckTest, CapturesStdoutAndStderrInOrder) {
  const CheckResult r = RunCommand({"/bin/sh", "-c", "echo one; echo two >&2; echo three"});
  EXPECT_EQ(r.output, "one\ntwo\nthree\n");
}

TEST(CommandCheckTest, HostileArgumentsArePassedLiterallyNeverToAShell) {
  TempDir dir;
  const std::string hostile = "$(touch x); rm -rf `touch y` *";
  const CheckResult r =
      RunCommand({"/bin/echo", hostile}, std::chrono::seconds(20), StepContext{}, dir.path());
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_EQ(r.output, hostile + "\n");
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/x"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/y"));
}

TEST(CommandCheckTest, RunsInTheWorkingDirectory) {
  TempDir dir;
  const CheckResult r =
      RunCommand({"/bin/pwd"}, std::chrono::seconds(20), StepContext{}, dir.path());
  EXPECT_EQ(r.output, std::filesystem::canonical(dir.path()).string() + "\n");
  const CheckResult missing =
      RunCommand({"/bin/pwd"}, std::chrono::seconds(20), StepContext{}, dir.path() + "/nope");
  EXPECT_EQ(missing.verdict, Verdict::kFail);
  EXPECT_EQ(missing.message, "working directory \"" + dir.path() + "/nope\" does not exist");
}

bool ProcessGone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string pid_field, comm, state;
  stat >> pid_field >> comm >> state;
  return state == "Z";  // a zombie nobody reaped yet is dead too
}

// SIGKILL is delivered asynchronously: give the kernel a moment to finish the exit.
bool ProcessDies(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    if (ProcessGone(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(CommandCheckTest, TimeoutKillsTheWholeProcessGroup) {
  TempDir dir;
  const std::string pidfile = dir.path() + "/sleeper.pid";
  // The shell waits on a background child that would hold the output pipe open for 300s.
  const CheckResult r =
      RunCommand({"/bin/sh", "-c", "sleep 300 & echo $! > " + pidfile + "; echo started; wait"},
                 std::chrono::seconds(1));
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_EQ(r.message, "timed out after 1s; killed its process group");
  EXPECT_EQ(r.output, "started\n");
  std::ifstream in(pidfile);
  pid_t sleeper = 0;
  ASSERT_TRUE(in >> sleeper);
  EXPECT_TRUE(ProcessDies(sleeper)) << "the background sleep survived";
}

// A cancelled job: the flag set while the program runs kills its whole group at once; without
// the cancel the sleeper would run for its 300s timeout.
TEST(CommandCheckTest, CancelKillsTheWholeProcessGroupAndFails) {
  TempDir dir;
  const std::string pidfile = dir.path() + "/sleeper.pid";
  std::atomic<bool> cancel{false};
  CommandCheckSpec spec;
  spec.name = "cmd";
  spec.argv = {"/bin/sh", "-c", "sleep 300 & echo $! > " + pidfile + "; echo started; wait"};
  spec.timeout = std::chrono::seconds(300);
  spec.cancel = &cancel;
  std::thread canceller([&] {
    while (!std::filesystem::exists(pidfile)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    cancel = true;
  });
  const CheckResult r = CommandCheck(spec).Run(StepContext{});
  canceller.join();
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_EQ(r.message, "cancelled (canaryctl was interrupted); killed its process group");
  std::ifstream in(pidfile);
  pid_t sleeper = 0;
  ASSERT_TRUE(in >> sleeper);
  EXPECT_TRUE(ProcessDies(sleeper)) << "the background sleep survived";
}

TEST(CommandCheckTest, BackgroundLeftoversDoNotKeepAFinishedCheckWaiting) {
  const CheckResult r =
      RunCommand({"/bin/sh", "-c", "sleep 300 & echo done"}, std::chrono::seconds(60));
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_EQ(r.output, "done\n");
}

TEST(CommandCheckTest, MissingExecutableIsAClearFail) {
  const CheckResult absolute = RunCommand({"/nonexistent/bin/e2e.sh", "--fast"});
  EXPECT_EQ(absolute.verdict, Verdict::kFail);
  EXPECT_EQ(absolute.message, "cannot run \"/nonexistent/bin/e2e.sh\": No such file or directory");
  const CheckResult in_path = RunCommand({"canaryctl-no-such-tool"});
  EXPECT_EQ(in_path.message, "cannot run \"canaryctl-no-such-tool\": not found in PATH");
  EXPECT_EQ(RunCommand({"/tmp"}).message, "cannot run \"/tmp\": it is a directory");
  EXPECT_EQ(RunCommand({}).message, "no command given");
}

TEST(CommandCheckTest, DeathBySignalIsAFail) {
  const CheckResult r = RunCommand({"/bin/sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_EQ(r.message, "/bin/sh was killed by signal 15 (Terminated)");
}

TEST(CommandCheckTest, OutputIsCappedAndTheDropIsNoted) {
  const CheckResult r =
      RunCommand({"/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\000' a; exit 1"});
  EXPECT_EQ(r.verdict, Verdict::kFail);
  const std::string marker =
      "\n[output truncated: " + std::to_string(100000 - kMaxOutputBytes) + " bytes dropped]";
  ASSERT_EQ(r.output.size(), kMaxOutputBytes + marker.size());
  EXPECT_EQ(r.output.substr(kMaxOutputBytes), marker);
  EXPECT_EQ(r.output.find_first_not_of('a'), kMaxOutputBytes);
}

}  // namespace
}  // namespace canaryctl::checks

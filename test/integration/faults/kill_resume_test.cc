// Proof under faults (issue 6), kill and resume: the job running canaryctl is killed at a random
// moment of deploy, test, shift, promote or rollback (SIGKILL to its process group, as a runner
// that dies or a job that is killed takes canaryctl and the helm it runs with it); then the
// invariants of RolloutFixture::ExpectInvariants hold (a helm may be left pending-*), and the
// same command rerun converges to its target, with every helm release deployed again.
// SIGTERM (GitLab cancelling the job) during a step: exit 130 and a consistent state.
//
// The moments are drawn uniformly within the command's measured duration by std::mt19937; the
// seed is printed, and CANARYCTL_KILL_SEED=N replays it.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>

#include "faults_fixture.h"

extern char** environ;

namespace canaryctl::integration {
namespace {

namespace fs = std::filesystem;

// Printed when the tests end: "kill and resume: 206 runs (deploy 12, ...), 206 converged".
CommandTally* const kTally = static_cast<CommandTally*>(
    testing::AddGlobalTestEnvironment(new CommandTally("kill and resume", "runs", "converged")));

uint32_t Seed(uint32_t fallback) {
  const char* s = std::getenv("CANARYCTL_KILL_SEED");
  return s != nullptr && *s != '\0' ? static_cast<uint32_t>(std::strtoul(s, nullptr, 10))
                                    : fallback;
}

class KillResumeTest : public FaultsFixture {
 protected:
  // canaryctl as a job runs it, in a process group of its own (its helm child inherits it; its
  // command checks make their own), stdout and stderr to files.
  pid_t Spawn(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {CANARYCTL_BIN, "--config", config_, "--kubeconfig",
                                     sandbox_.kubeconfig()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::map<std::string, std::string> env_map;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string kv = *e;
      env_map[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
    }
    for (const auto& [k, v] : Env()) env_map[k] = v;
    std::vector<std::string> env;
    for (const auto& [k, v] : env_map) env.push_back(k + "=" + v);
    std::vector<char*> cargv, cenv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    for (auto& e : env) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    const std::string out = work_->path() + "/job.out", err = work_->path() + "/job.err";
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addchdir_np(&actions, work_->path().c_str());
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, CANARYCTL_BIN, &actions, &attr, cargv.data(), cenv.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    EXPECT_EQ(rc, 0) << "posix_spawn: " << rc;
    return rc == 0 ? pid : -1;
  }

  // Waits for pid; its exit code, or 256 + the signal that ended it.
  static int Reap(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 256 + WTERMSIG(status);
  }

  void KillAndResume(const std::string& name, const std::vector<std::string>& args,
                     std::pair<int, int> before, std::pair<int, int> target,
                     const std::string& after_phase, bool keeps_lock, int runs, uint32_t seed) {
    const std::string saved = SaveVs();
    ASSERT_FALSE(saved.empty());
    // The command's duration, from a run like the ones that will be killed.
    std::chrono::milliseconds duration{0};
    for (int i = 0; i < 2; ++i) {
      RestoreVs(saved);
      auto r = Canaryctl(args);
      ASSERT_TRUE(Succeeded(r)) << "baseline " << name;
      duration = r.elapsed;
    }
    seed = Seed(seed);
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int64_t> moment(0, duration.count());
    std::cout << name << ": " << runs << " kills within " << duration.count() << " ms, seed "
              << seed << " (CANARYCTL_KILL_SEED=" << seed << " replays it)" << std::endl;
    int converged = 0, finished_first = 0, left_pending = 0;
    for (int run = 0; run < runs; ++run) {
      const int64_t at = moment(rng);
      const std::string when = name + ": SIGKILL at " + std::to_string(at) + " ms (run " +
                               std::to_string(run + 1) + ", seed " + std::to_string(seed) + ")";
      SCOPED_TRACE(when);
      const int failures = FailureCount();
      RestoreVs(saved);
      fs::remove_all(work_->path() + "/reports");
      const pid_t pid = Spawn(args);
      ASSERT_GT(pid, 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(at));
      kill(-pid, SIGKILL);  // the whole job: canaryctl and its helm
      const int code = Reap(pid);
      if (code == 0) ++finished_first;
      // A killed helm may leave its release pending; the rerun must recover it.
      ExpectInvariants(kHybrid, before, target, when, true, /*helm_settled=*/false);
      {
        auto got =
            sandbox_.Http("GET", "/api/v1/namespaces/stage/secrets?labelSelector=owner%3Dhelm");
        if (got.body.find("pending-") != std::string::npos) ++left_pending;
        got = sandbox_.Http("GET", "/api/v1/namespaces/prod/secrets?labelSelector=owner%3Dhelm");
        if (got.body.find("pending-") != std::string::npos) ++left_pending;
      }
      auto rerun = Canaryctl(args);
      EXPECT_TRUE(Succeeded(rerun)) << when;
      ExpectInvariants(kHybrid, target, target, when + ", rerun");
      EXPECT_EQ(Str(ParseJson(Str(ParseJson(sandbox_.Http("GET", kVirtualServicePath).body),
                                  "/metadata/annotations/canaryctl.io~1state")
                                  .value_or("")),
                    "/phase"),
                after_phase)
          << when;
      EXPECT_EQ(Str(ParseJson(sandbox_.Http("GET", kVirtualServicePath).body),
                    "/metadata/annotations/canaryctl.io~1lock")
                    .has_value(),
                keeps_lock)
          << when;
      ExpectReportsSayWhatHappened(kHybrid, rerun.exit_code, when + ", rerun");
      if (FailureCount() == failures) ++converged;
    }
    std::cout << "kill and resume " << name << ": " << runs << " runs, " << converged
              << " converged (" << finished_first << " had finished before the kill, "
              << left_pending << " left a helm release pending)" << std::endl;
    RecordProperty("runs_" + name, runs);
    RecordProperty("converged_" + name, converged);
    kTally->Add(name, runs, converged);
    EXPECT_EQ(converged, runs);
  }
};

TEST_P(KillResumeTest, Deploy) {
  KillAndResume("deploy", {"deploy"}, {100, 0}, {100, 0}, "deployed", true, 12, 61001);
}

TEST_P(KillResumeTest, Test) {
  Reach({{"deploy"}});
  KillAndResume("test", {"test"}, {100, 0}, {100, 0}, "testing", true, 50, 61002);
}

TEST_P(KillResumeTest, Shift) {
  Reach({{"deploy"}, {"test"}});
  KillAndResume("shift", {"shift", "30"}, {100, 0}, {70, 30}, "shifted", true, 66, 61003);
}

TEST_P(KillResumeTest, Promote) {
  Reach({{"deploy"}, {"test"}, {"--skip-steps", "shift", "100"}});
  KillAndResume("promote", {"promote"}, {0, 100}, {100, 0}, "promoted", false, 12, 61004);
}

TEST_P(KillResumeTest, Rollback) {
  Reach({{"deploy"}, {"test"}, {"shift", "30"}});
  KillAndResume("rollback", {"rollback"}, {70, 30}, {100, 0}, "rolled-back", false, 66, 61005);
}

// (From cli_flow_test.cc, with the invariants.) SIGTERM (GitLab cancelling the job) during the
// checks of a step: the running command check is killed with its process group, the state is
// left consistent with the route, the exit is 130, the reports say "interrupted", and a rerun
// finishes.
TEST_P(KillResumeTest, SigtermDuringAStepLeavesAConsistentStateAndExits130) {
  Reach({{"deploy"}, {"test"}});
  const std::string started = work_->path() + "/started";
  const std::string finished = work_->path() + "/finished";
  // Without the cancel, the check would sleep for 5 minutes and then write `finished`.
  work_->Write("gate.sh", "touch " + started + "\nsleep 300\ntouch " + finished + "\n");
  fs::remove_all(work_->path() + "/reports");
  const pid_t pid = Spawn({"shift", "30"});
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(started); }, 30s));
  ASSERT_EQ(kill(pid, SIGTERM), 0);  // to canaryctl alone, as GitLab's runner does
  const int code = Reap(pid);
  const std::string output = ReadFile(work_->path() + "/job.err");
  EXPECT_EQ(code, 130) << output;
  EXPECT_NE(output.find("interrupted"), std::string::npos) << output;
  EXPECT_NE(output.find("cancelled (canaryctl was interrupted)"), std::string::npos) << output;
  EXPECT_FALSE(fs::exists(finished));
  // The state says what the route holds: the step's weights were written before the checks.
  EXPECT_EQ(Str(State(), "/phase"), "failed");
  ExpectInvariants(kHybrid, {100, 0}, {70, 30}, "after SIGTERM");
  ExpectReportsSayWhatHappened(kHybrid, code, "after SIGTERM");
  EXPECT_TRUE(Locked());  // still this pipeline's, for its retried job
  work_->Write("gate.sh", kGateScript);
  ASSERT_TRUE(Succeeded(Canaryctl({"shift", "30"})));
  ExpectWeights(kHybrid, 70, 30, "after the rerun");
  EXPECT_EQ(Str(State(), "/phase"), "shifted");
  ExpectInvariants(kHybrid, {70, 30}, {70, 30}, "after the rerun");
}

INSTANTIATE_TEST_SUITE_P(Tools, KillResumeTest, testing::Values(ToolSets().front()), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration

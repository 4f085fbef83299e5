// RunProcess: what the child gets (argument vector, environment, stdin, descriptors, signal
// mask) and what comes back (both streams, the exit code, a kill at the deadline).
#include "helm/process_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace canaryctl::helm {
namespace {

using ::testing::HasSubstr;

ProcessOutput Sh(const std::vector<std::string>& args, ProcessOptions options = {}) {
  auto r = RunProcess("/bin/sh", args, options);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? r.value() : ProcessOutput{};
}

TEST(ProcessRunnerTest, ArgumentsArePassedLiterallyAndBothStreamsComeBackApart) {
  auto out = Sh({"-c", "printf '%s|' \"$@\"; echo oops >&2; exit 3", "sh", "a b", "$(id)", ";"});
  EXPECT_EQ(out.out, "a b|$(id)|;|");
  EXPECT_EQ(out.err, "oops\n");
  EXPECT_EQ(out.exit_code, 3);
  EXPECT_FALSE(out.timed_out);
}

TEST(ProcessRunnerTest, EnvironmentIsInheritedWithOverrides) {
  ::setenv("CANARYCTL_RUNNER_INHERITED", "from-parent", 1);
  ::setenv("CANARYCTL_RUNNER_OVERRIDDEN", "old", 1);
  ProcessOptions options;
  options.env = {{"CANARYCTL_RUNNER_OVERRIDDEN", "new"}, {"CANARYCTL_RUNNER_ADDED", "x=y"}};
  auto out = Sh({"-c",
                 "echo \"$CANARYCTL_RUNNER_INHERITED $CANARYCTL_RUNNER_OVERRIDDEN "
                 "$CANARYCTL_RUNNER_ADDED\""},
                options);
  EXPECT_EQ(out.out, "from-parent new x=y\n");
}

TEST(ProcessRunnerTest, StdinIsEmpty) {
  auto out = Sh({"-c", "cat; echo done"});
  EXPECT_EQ(out.out, "done\n");
}

TEST(ProcessRunnerTest, OnlyTheThreeStandardDescriptorsReachTheChild) {
  // A descriptor of ours without close-on-exec, like a socket to the API server.
  const int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 3);
  auto out = Sh({"-c", "ls /proc/self/fd | wc -l"});
  ::close(leaky);
  // 0, 1, 2 and the one ls opens to read the directory.
  EXPECT_EQ(std::atoi(out.out.c_str()), 4) << out.out;
}

TEST(ProcessRunnerTest, TheChildStartsWithNoBlockedSignals) {
  // canaryctl blocks SIGTERM in threads that wait for it; helm must still die of it.
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &term, &old), 0);
  auto out = Sh({"-c", "kill -TERM $$; echo survived"});
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  EXPECT_EQ(out.exit_code, 256 + SIGTERM) << out.out;
  EXPECT_EQ(out.out, "");
}

TEST(ProcessRunnerTest, TheDeadlineKillsIt) {
  ProcessOptions options;
  options.deadline = std::chrono::milliseconds(200);
  auto out = Sh({"-c", "echo started; exec sleep 30"}, options);
  EXPECT_TRUE(out.timed_out);
  EXPECT_EQ(out.exit_code, 256 + SIGKILL);
  EXPECT_EQ(out.out, "started\n");
}

TEST(ProcessRunnerTest, AMissingBinaryIsAnErrorNamingIt) {
  auto r = RunProcess("/nonexistent/helm", {"version"}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kCluster);
  EXPECT_THAT(r.error().message, HasSubstr("/nonexistent/helm"));
  EXPECT_THAT(r.error().message, HasSubstr("No such file"));
}

TEST(ProcessRunnerTest, ABareNameIsLookedUpInPath) {
  auto r = RunProcess("sh", {"-c", "echo found"}, {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().out, "found\n");
}

}  // namespace
}  // namespace canaryctl::helm

#include "checks/command_check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common/environment.h"
#include "common/result.h"

namespace canaryctl::checks {
namespace {

using Clock = std::chrono::steady_clock;

// How long to keep reading output after the program exited and its group was killed: only a
// process that left the group (setsid) can hold the pipe open that long.
constexpr std::chrono::milliseconds kDrainGrace{1000};

std::string FactVariable(const std::string& key) {
  std::string name = "CANARYCTL_";
  for (char c : key) {
    name += std::isalnum(static_cast<unsigned char>(c))
                ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                : '_';
  }
  return name;
}

// Owns the spawn attributes: a new process group, no blocked signals, default dispositions for
// the signals canaryctl itself may ignore or handle.
class SpawnSetup {
 public:
  SpawnSetup(int out_fd, const std::string& working_dir) {
    posix_spawn_file_actions_init(&actions_);
    posix_spawn_file_actions_addopen(&actions_, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions_, out_fd, 1);
    posix_spawn_file_actions_adddup2(&actions_, out_fd, 2);
    if (!working_dir.empty()) {
      posix_spawn_file_actions_addchdir_np(&actions_, working_dir.c_str());
    }
    InitChildSignals(&attr_, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr_, 0);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  const posix_spawn_file_actions_t* actions() const { return &actions_; }
  const posix_spawnattr_t* attr() const { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

// Where argv[0] is, resolved as execvp would: the path itself when it has a '/', otherwise
// the first executable file of that name in PATH. Resolving before spawning gives the same
// clear message whatever the libc (posix_spawn may otherwise report exec failure as exit 127).
Result<std::string> FindExecutable(const std::string& program) {
  auto usable = [](const std::string& path) {
    struct stat info {};
    return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
           access(path.c_str(), X_OK) == 0;
  };
  if (program.find('/') != std::string::npos) {
    if (usable(program)) return program;
    struct stat info {};
    const int rc = stat(program.c_str(), &info);
    const std::string why = rc != 0                 ? std::strerror(errno)
                            : S_ISDIR(info.st_mode) ? "it is a directory"
                                                    : "not executable";
    return ClusterError("cannot run \"" + program + "\": " + why);
  }
  const char* path_env = std::getenv("PATH");
  const std::string path = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  std::size_t begin = 0;
  for (;;) {
    const std::size_t end = path.find(':', begin);
    std::string dir =
        path.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + program;
    if (usable(candidate)) return candidate;
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  return ClusterError("cannot run \"" + program + "\": not found in PATH");
}

std::string DescribeStatus(const std::string& program, int status) {
  if (WIFEXITED(status))
    return program + " exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return program + " was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return program + " ended with wait status " + std::to_string(status);
}

}  // namespace

CommandCheck::CommandCheck(CommandCheckSpec spec) : spec_(std::move(spec)) {}

std::vector<std::string> CommandCheck::Environment(const StepContext& step) const {
  canaryctl::Environment vars = ProcessEnvironment();
  for (const auto& [key, value] : spec_.env) vars[key] = value;
  for (const auto& [key, value] : step.facts) vars[FactVariable(key)] = value;
  vars["CANARYCTL_APP"] = step.app;
  vars["CANARYCTL_PHASE"] = step.phase;
  vars["CANARYCTL_STEP"] = std::to_string(step.step_index);
  vars["CANARYCTL_WEIGHT"] = std::to_string(step.weight);
  vars["CANARYCTL_STABLE_WEIGHT"] = std::to_string(step.stable_weight);
  vars["CANARYCTL_TARGET_URL"] = step.target_url;
  return EnvironmentStrings(vars);
}

CheckResult CommandCheck::Run(const StepContext& step) {
  const auto start = Clock::now();
  CheckResult result;
  result.name = spec_.name;
  result.verdict = Verdict::kFail;
  auto finish = [&]() -> CheckResult {
    result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    return result;
  };
  if (spec_.argv.empty() || spec_.argv[0].empty()) {
    result.message = "no command given";
    return finish();
  }
  const std::string& program = spec_.argv[0];
  struct stat dir_info {};
  if (!spec_.working_dir.empty() &&
      (stat(spec_.working_dir.c_str(), &dir_info) != 0 || !S_ISDIR(dir_info.st_mode))) {
    result.message = "working directory \"" + spec_.working_dir + "\" does not exist";
    return finish();
  }

  const auto executable = FindExecutable(program);
  if (!executable.ok()) {
    result.message = executable.error().message;
    return finish();
  }

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    result.message = std::string("cannot create a pipe: ") + std::strerror(errno);
    return finish();
  }
  std::vector<std::string> args = spec_.argv;
  std::vector<std::string> env = Environment(step);
  std::vector<char*> c_args = CStrings(args);
  std::vector<char*> c_env = CStrings(env);
  pid_t pid = 0;
  int spawn_error = 0;
  {
    SpawnSetup setup(fds[1], spec_.working_dir);
    spawn_error = posix_spawn(&pid, executable.value().c_str(), setup.actions(), setup.attr(),
                              c_args.data(), c_env.data());
  }
  close(fds[1]);
  if (spawn_error != 0) {
    close(fds[0]);
    result.message = "cannot run \"" + program + "\": " + std::strerror(spawn_error);
    return finish();
  }

  const auto deadline = start + spec_.timeout;
  std::string output;
  std::size_t dropped = 0;
  bool eof = false;
  bool exited = false;
  bool timed_out = false;
  bool cancelled = false;
  int status = 0;
  Clock::time_point drain_deadline{};
  for (;;) {
    if (!exited) {
      // Kill the group before reaping the leader: while the leader is an unreaped zombie its
      // process group id cannot be reused, so the kill cannot hit anyone else.
      siginfo_t info{};
      const bool ended =
          waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid;
      if (!ended && Clock::now() >= deadline) timed_out = true;
      if (!ended && !timed_out && spec_.cancel && spec_.cancel->load()) cancelled = true;
      if (ended || timed_out || cancelled) {
        // On timeout: the program and everything it started. After an exit: what it left
        // running in its group (background children holding the output pipe).
        kill(-pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        exited = true;
        drain_deadline = Clock::now() + kDrainGrace;
      }
    }
    if (eof) {
      if (exited) break;
      // Output closed but the program runs on: wait for it to exit (or time out).
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (exited && Clock::now() >= drain_deadline) break;
    pollfd pfd{fds[0], POLLIN, 0};
    const int wait_ms = exited ? static_cast<int>(kDrainGrace.count()) : 50;
    const int ready = poll(&pfd, 1, wait_ms);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char buffer[8192];
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n > 0) {
      const std::size_t room = kMaxOutputBytes - std::min(kMaxOutputBytes, output.size());
      const auto got = static_cast<std::size_t>(n);
      output.append(buffer, std::min(got, room));
      dropped += got - std::min(got, room);
    } else if (n == 0 || errno != EINTR) {
      eof = true;
    }
  }
  close(fds[0]);

  result.output = CapOutput(std::move(output), dropped);
  if (timed_out) {
    result.message =
        "timed out after " + FormatDuration(spec_.timeout) + "; killed its process group";
  } else if (cancelled) {
    result.message = "cancelled (canaryctl was interrupted); killed its process group";
  } else {
    result.message = DescribeStatus(program, status);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) result.verdict = Verdict::kPass;
  }
  return finish();
}

}  // namespace canaryctl::checks

#include "helm/process_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <Poco/Pipe.h>

#include "common/environment.h"

namespace canaryctl::helm {

namespace {

using Clock = std::chrono::steady_clock;

// After the kill, how long we keep reading: a descendant of helm (a plugin, a post-renderer)
// may hold the pipes open; we stop waiting for it rather than hang.
constexpr std::chrono::milliseconds kDrainAfterKill{2000};

int MillisUntil(Clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
  return ms < 0 ? 0 : static_cast<int>(ms) + 1;
}

// Starts binary (looked up in PATH when it has no '/') with stdin on /dev/null and stdout and
// stderr on the pipes' write ends. posix_spawn rather than Poco::Process::launch: Poco forks and
// then closes every descriptor number up to the limit one by one (~7 ms at 20000, per helm
// call); here the child gets a clean signal mask and dispositions, and one close_range drops
// whatever else this process has open (sockets to the API server, report files).
Result<pid_t> Spawn(const std::string& binary, const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env, int out_fd, int err_fd) {
  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  Environment vars = ProcessEnvironment();
  for (const auto& [name, value] : env) vars[name] = value;
  std::vector<std::string> env_strings = EnvironmentStrings(vars);
  std::vector<char*> argv = CStrings(argv_strings), envp = CStrings(env_strings);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  InitChildSignals(&attr);

  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, binary.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return ClusterError("could not run " + binary + ": " + std::strerror(rc));
  return pid;
}

}  // namespace

Result<ProcessOutput> RunProcess(const std::string& binary, const std::vector<std::string>& args,
                                 const ProcessOptions& options) {
  ProcessOutput result;
  Poco::Pipe out, err;
  auto spawned = Spawn(binary, args, options.env, out.writeHandle(), err.writeHandle());
  // Only the child writes to the pipes: without our write ends, its exit is end of file.
  out.close(Poco::Pipe::CLOSE_WRITE);
  err.close(Poco::Pipe::CLOSE_WRITE);
  if (!spawned.ok()) return spawned.error();
  // The child is reaped only after this loop, so its pid cannot be reused while we may kill it.
  const pid_t pid = spawned.value();
  const Clock::time_point deadline = Clock::now() + options.deadline;
  Clock::time_point give_up{};
  bool killed = false;
  int fds[2] = {out.readHandle(), err.readHandle()};
  std::string* sinks[2] = {&result.out, &result.err};
  bool open[2] = {true, true};
  char buf[65536];
  while (open[0] || open[1]) {
    if (!killed && Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      killed = true;
      give_up = Clock::now() + kDrainAfterKill;
    }
    if (killed && Clock::now() >= give_up) break;
    pollfd pfds[2];
    int index[2];
    nfds_t n = 0;
    for (int i = 0; i < 2; ++i) {
      if (!open[i]) continue;
      pfds[n] = {fds[i], POLLIN, 0};
      index[n++] = i;
    }
    int r = ::poll(pfds, n, MillisUntil(killed ? give_up : deadline));
    if (r < 0 && errno != EINTR) break;
    for (nfds_t k = 0; r > 0 && k < n; ++k) {
      if ((pfds[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t got = ::read(pfds[k].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[index[k]]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        open[index[k]] = false;
      }
    }
  }
  out.close();
  err.close();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 256 + WTERMSIG(status);
  result.timed_out = killed;
  return result;
}

}  // namespace canaryctl::helm

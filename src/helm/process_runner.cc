#include "helm/process_runner.h"

#include <signal.h>

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include <Poco/Exception.h>
#include <Poco/Pipe.h>
#include <Poco/Process.h>

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

}  // namespace

Result<ProcessOutput> RunProcess(const std::string& binary, const std::vector<std::string>& args,
                                 const ProcessOptions& options) {
  ProcessOutput result;
  Poco::Pipe in, out, err;
  std::optional<Poco::ProcessHandle> handle;
  try {
    handle.emplace(Poco::Process::launch(binary, args, "", &in, &out, &err, options.env));
  } catch (const Poco::Exception& e) {
    return ClusterError("could not run " + binary + ": " + e.displayText());
  }
  in.close();  // the child sees end of input at once
  // The child is reaped only after this loop, so its pid cannot be reused while we may kill it.
  const auto pid = handle->id();
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
  result.exit_code = handle->wait();
  result.timed_out = killed;
  return result;
}

}  // namespace canaryctl::helm

// Runs a program from an argument vector (never through a shell) and judges it by its exit
// status: 0 passes, anything else fails with the code (or signal) in the message. The program
// sees the process environment, plus the check's own variables, plus the step's CANARYCTL_*
// facts (StepContext). It runs in its own process group; on timeout the whole group is killed
// (so `sh -c "sleep 100; ..."` leaves nothing behind) and the verdict is "timed out after 30s".
// stdout and stderr are captured together, in order, capped at kMaxOutputBytes.
//
// Poco::Process (1.11) can neither start the child in a new process group nor tell a missing
// executable from a failing one, so this resolves the executable itself and spawns it with
// posix_spawn.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "checks/check.h"

namespace canaryctl::checks {

struct CommandCheckSpec {
  std::string name;
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no '/'
  std::map<std::string, std::string> env;
  std::string working_dir;  // empty: the current directory
  std::chrono::milliseconds timeout{30000};
  // When set and it becomes true (SIGTERM: the job is being cancelled), the program's process
  // group is killed at once and the check fails with "cancelled"; it must outlive the check.
  const std::atomic<bool>* cancel = nullptr;
};

class CommandCheck : public Check {
 public:
  explicit CommandCheck(CommandCheckSpec spec);
  const std::string& name() const override { return spec_.name; }
  CheckResult Run(const StepContext& step) override;

  // The environment the program gets, as NAME=VALUE strings: the process environment, then
  // spec.env, then the CANARYCTL_* facts of `step` (later ones win). Exposed for tests.
  std::vector<std::string> Environment(const StepContext& step) const;

 private:
  CommandCheckSpec spec_;
};

}  // namespace canaryctl::checks

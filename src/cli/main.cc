// canaryctl's entry point: the process's environment and streams, and the signal handlers that
// let the engine stop between steps in a consistent state (exit 130) instead of dying mid-write.

#include <signal.h>

#include <cstring>
#include <exception>
#include <iostream>

#include "cli/app.h"
#include "common/result.h"
#include "config/loader.h"

namespace {

// Only an atomic store: the one thing a signal handler may safely do here.
void OnInterrupt(int) { canaryctl::cli::interrupted.store(true); }

void InstallHandlers() {
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  // Restart interrupted system calls: a request or helm run in progress finishes normally and
  // the engine notices the flag at its next step.
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  InstallHandlers();
  try {
    return canaryctl::cli::RunCli(argc, argv, canaryctl::config::ProcessEnvironment(), std::cout,
                                  std::cerr);
  } catch (const std::exception& e) {
    // RunCli catches what the engine throws; this is for the steps before it.
    std::cerr << "canaryctl: internal error: " << e.what() << '\n';
    return canaryctl::ExitCode(canaryctl::ErrorKind::kCluster);
  }
}

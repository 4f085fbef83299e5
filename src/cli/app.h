// The canaryctl program as a function: argv and an environment in, text on two streams and an
// exit code (shared/DESIGN.md §4) out. main.cc adds only the process's environment, its
// streams and the signal handlers; tests call RunCli directly.
//
// Order of work, a contract (an invalid config or kubeconfig makes zero requests to the
// cluster):
//   1. parse the command line (cli/options.h); `version` and `pipeline --template` print and
//      return;
//   2. load rollout.yaml (exit 2 with the loader's message); `config validate|print` and
//      `pipeline` (the child pipeline of its plan) return;
//   3. a Redactor of the config's secrets, then logging through it on `err` (cli/logging.h);
//   4. the proxy of each HTTP check (cli/proxy.h; an unusable one is exit 2); the kubeconfig
//      (--kubeconfig, $KUBECONFIG, ~/.kube/config; else in-cluster when KUBERNETES_SERVICE_HOST
//      is set), its token and key added to the Redactor; the REST client;
//   5. the helm driver (its output in collapsed GitLab sections on `err`);
//   6. the engine command; previews (plan, --dry-run) on `out`; `status` on `out`;
//   7. mutating commands without --dry-run write the reports, even when they failed; a report
//      that cannot be written turns a success into exit 3.
#pragma once

#include <atomic>
#include <ostream>
#include <string>

#include "config/rollout_spec.h"

namespace canaryctl::cli {

// Set by main.cc's SIGINT/SIGTERM handlers; the engine stops between steps when it is set.
// Lock-free, so setting it is async-signal-safe.
extern std::atomic<bool> interrupted;
static_assert(std::atomic<bool>::is_always_lock_free);

// "canaryctl 0.1.0".
std::string VersionLine();

int RunCli(int argc, char** argv, const config::Environment& env, std::ostream& out,
           std::ostream& err);

}  // namespace canaryctl::cli

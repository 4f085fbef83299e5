// HelmDriver: the Deployer backed by the helm binary (helm 3 or 4), run with an argument vector
// through process_runner.h, never a shell.
//
// Output: every mutating command (upgrade, rollback, uninstall) hands its full stdout and
// stderr to DriverOptions::on_output, for the caller's collapsed GitLab log section; a failure
// returns kCluster with the command and the last 20 lines of helm's stderr. Values named in
// UpgradeRequest::secrets are redacted from the command shown, the output and the error.
//
// Deadlines: helm enforces its own --timeout; we also kill helm (SIGKILL) when it runs
// --timeout plus DriverOptions::grace, or max_run_time, so a hung helm cannot outlive the CI
// job. A helm killed mid-operation (by us, by GitLab, by a crash) leaves the release
// pending-install/-upgrade/-rollback, and helm then refuses every operation on it ("another
// operation (install/upgrade/rollback) is in progress"). RecoverPending() converges it: rollback
// to the last deployed revision, or uninstall when none was ever deployed. The error of a
// blocked upgrade says so.
//
// Version: `helm version` costs a helm start (~80 ms), so it runs when first needed (the commands
// whose arguments differ between helm 3 and 4) unless DriverOptions::detect_version_now asks
// for it in Create: a command that will run helm checks it there, before it changes anything.
//
// Thread safety: calls may run concurrently if on_output tolerates it (the version is detected
// once, under a mutex).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "helm/deployer.h"
#include "helm/helm_args.h"
#include "helm/helm_version.h"
#include "helm/process_runner.h"

namespace canaryctl::helm {

// One finished helm command, for the log.
struct HelmOutput {
  std::string verb;     // "upgrade", "rollback", "uninstall"
  std::string command;  // DisplayCommand: quoted, secrets redacted
  int exit_code = 0;
  bool timed_out = false;
  std::string out;  // secrets redacted
  std::string err;  // secrets redacted
};

struct DriverOptions {
  // The binary: this path (the CLI's --helm) when set, else $HELM_BIN, else `helm` on $PATH.
  std::string helm_path;
  Connection connection;                   // --kubeconfig / --kube-context on every command
  std::map<std::string, std::string> env;  // extra environment for helm (HOME, HELM_*_HOME, ...)
  // helm runs at most its --timeout plus this before we kill it.
  std::chrono::seconds grace{60};
  // Deadline of the read-only commands (version, status, history, get values).
  std::chrono::seconds query_deadline{60};
  // When set, no helm process runs longer than this, whatever its --timeout (for example the
  // CI job's remaining time, so that we, not GitLab, stop helm and can report it).
  std::optional<std::chrono::milliseconds> max_run_time;
  std::function<void(const HelmOutput&)> on_output;
  // Run `helm version` in Create (a broken helm fails there) rather than at first need.
  bool detect_version_now = true;
};

class HelmDriver : public Deployer {
 public:
  // Resolves the binary and, with detect_version_now, detects its major version. kConfig when
  // no binary is found, kCluster when it does not run or is not helm 3 or 4.
  static Result<std::unique_ptr<HelmDriver>> Create(DriverOptions options);

  const std::string& binary() const { return binary_; }
  // The version, detected now if it was not yet (the errors of Create).
  Result<HelmVersion> Version();
  // The version if it was detected, without running helm.
  std::optional<HelmVersion> DetectedVersion() const;

  Result<ReleaseStatus> UpgradeInstall(const UpgradeRequest& request) override;
  Result<std::optional<ReleaseStatus>> Status(const ReleaseRef& release) override;
  Result<std::vector<Revision>> History(const ReleaseRef& release) override;
  Result<Done> Rollback(const ReleaseRef& release, const RollbackOptions& options) override;
  Result<Done> Uninstall(const ReleaseRef& release, const UninstallOptions& options) override;
  Result<Poco::JSON::Object::Ptr> GetValues(const ReleaseRef& release) override;
  Result<Recovery> RecoverPending(const ReleaseRef& release,
                                  const RecoverOptions& options) override;
  Result<std::vector<std::string>> PlanUpgradeInstall(const UpgradeRequest& request) override;

 private:
  HelmDriver(DriverOptions options, std::string binary);

  // Secrets to scrub from what helm prints.
  struct Redaction {
    std::vector<std::string> keys;
    std::vector<std::string> values;
  };

  std::chrono::milliseconds Deadline(std::chrono::seconds helm_timeout) const;
  // Runs helm; reports mutating commands to on_output; kCluster when helm could not start,
  // failed or was killed ("release: not found" is left to the caller when not_found is set).
  Result<ProcessOutput> Run(const std::string& verb, const std::vector<std::string>& args,
                            std::chrono::milliseconds deadline, const Redaction& redaction,
                            bool mutating, bool* not_found = nullptr);

  DriverOptions options_;
  std::string binary_;
  mutable std::mutex version_mutex_;
  std::optional<HelmVersion> version_;  // guarded by version_mutex_
};

}  // namespace canaryctl::helm

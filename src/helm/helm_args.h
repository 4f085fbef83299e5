// The argument vectors the driver gives helm, built without running anything, so that `plan`
// shows exactly what would run and the tests can check every flag for helm 3 and helm 4.
//
// Where helm 3 and 4 differ: helm 4's --wait takes a strategy (we pass --wait=watcher, helm 3
// gets a bare --wait); helm 4 renamed --atomic and --force (we use neither). String values go
// through --set-literal (helm >= 3.12, both majors) so helm does not split them at commas or
// eat backslashes; older helm 3 gets --set-string with those characters escaped.
//
// Release names, namespaces, the chart and --set keys are validated so that no user value can
// be taken by helm for a flag (a leading '-') or split into several values.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"
#include "helm/deployer.h"
#include "helm/helm_version.h"

namespace canaryctl::helm {

// Which cluster: appended to every command when set (else helm's own defaults: KUBECONFIG and
// the current context).
struct Connection {
  std::string kubeconfig;    // --kubeconfig
  std::string kube_context;  // --kube-context
};

// A release name (DNS-1123 label, at most 53 characters) and namespace (at most 63); the
// error names the offending value.
Result<Done> ValidateRelease(const ReleaseRef& release);

// "300s": a Go duration helm's --timeout accepts.
std::string GoDuration(std::chrono::seconds duration);

// A value for --set-string on helm < 3.12: backslashes and commas escaped, so helm's parser
// gives back the original text.
std::string EscapeForSetString(const std::string& value);

// Arguments after the binary. kConfig errors for invalid input.
Result<std::vector<std::string>> UpgradeArgs(const HelmVersion& version, const Connection& conn,
                                             const UpgradeRequest& request);
Result<std::vector<std::string>> RollbackArgs(const HelmVersion& version, const Connection& conn,
                                              const ReleaseRef& release,
                                              const RollbackOptions& options);
Result<std::vector<std::string>> UninstallArgs(const HelmVersion& version, const Connection& conn,
                                               const ReleaseRef& release,
                                               const UninstallOptions& options);
Result<std::vector<std::string>> StatusArgs(const Connection& conn, const ReleaseRef& release);
// max 0: every revision.
Result<std::vector<std::string>> HistoryArgs(const Connection& conn, const ReleaseRef& release,
                                             int max);
Result<std::vector<std::string>> GetValuesArgs(const Connection& conn, const ReleaseRef& release);

// The command for humans: binary and arguments joined by spaces, shell-quoted where needed
// (for reading only: it is never executed), with the value of every --set/--set-string/
// --set-literal/--set-json whose key is in secret_keys replaced by <redacted>.
std::string DisplayCommand(const std::string& binary, const std::vector<std::string>& args,
                           const std::vector<std::string>& secret_keys);

// text with every occurrence of each non-empty secret value replaced by <redacted>.
std::string RedactValues(std::string text, const std::vector<std::string>& secret_values);

// The last n lines of text (without a trailing empty line).
std::string TailLines(const std::string& text, size_t n);

}  // namespace canaryctl::helm

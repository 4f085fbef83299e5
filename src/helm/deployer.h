// The Deployer: how the engine installs, inspects, rolls back and removes one release of a chart
// (shared/DESIGN.md §2). HelmDriver (helm_driver.h) implements it with the helm binary; tests
// may substitute a fake. Every call is synchronous and returns an Error (kCluster) when the
// operation failed, kConfig when the request itself is invalid (nothing was run).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <Poco/JSON/Object.h>

#include "common/result.h"

namespace canaryctl::helm {

// One release: its name and namespace (both DNS-1123 labels; validated before anything runs).
struct ReleaseRef {
  std::string name;
  std::string ns;
};

// One revision of a release, as `helm history -o json` lists it.
struct Revision {
  int number = 0;
  std::string status;       // deployed, superseded, failed, uninstalling, pending-install, ...
  std::string chart;        // "demoapp-0.1.0"
  std::string app_version;  // "v1"
  std::string updated;      // RFC 3339, as helm prints it
  std::string description;  // "Install complete", or our --description

  // pending-install, pending-upgrade or pending-rollback: a helm operation never finished
  // (or is running right now) and helm refuses the next one.
  bool Pending() const;
};

// The release's latest revision (`helm status` + the chart from `helm history --max 1`).
struct ReleaseStatus {
  std::string name;
  std::string ns;
  Revision current;
  std::string first_deployed;
};

// `helm upgrade --install`.
struct UpgradeRequest {
  ReleaseRef release;
  std::string chart;                      // path, repo/chart or oci:// reference
  std::string chart_version;              // --version; empty: the latest
  std::string repo;                       // --repo: the chart repository URL; empty: none
  std::vector<std::string> values_files;  // -f, in order (later files win)
  // String values, passed so that helm stores them literally: commas, '=', backslashes, quotes,
  // newlines and shell characters included (--set-literal; --set-string with escaping on helm
  // older than 3.12). This is the default for everything from rollout.yaml's `set`.
  std::map<std::string, std::string> set;
  // Typed values (--set): helm parses them ("3" is a number, "true" a bool). Only for scalars
  // the chart needs typed; a value containing ',' is rejected since helm would split it.
  std::map<std::string, std::string> set_typed;
  // Keys of set / set_typed whose values never appear in a command line shown, a log or an
  // error message (also scrubbed from helm's own output).
  std::vector<std::string> secrets;
  std::chrono::seconds timeout{300};  // --timeout
  bool wait = true;                   // --wait (helm 3) / --wait=watcher (helm 4)
  bool create_namespace = false;
  std::string description;  // names the pipeline and the job URL
};

struct RollbackOptions {
  int revision = 0;  // 0: the previous revision (helm's default)
  bool wait = true;
  std::chrono::seconds timeout{300};
};

struct UninstallOptions {
  bool wait = true;
  std::chrono::seconds timeout{300};
  // The history is removed too (no --keep-history), so a later install starts at revision 1.
};

struct RecoverOptions {
  bool wait = true;  // for the rollback (an uninstall of a pending install also waits)
  std::chrono::seconds timeout{300};
};

// What RecoverPending did.
struct Recovery {
  enum class Action { kNothing, kRolledBack, kUninstalled };
  Action action = Action::kNothing;
  int pending_revision = 0;   // the revision found pending (0 when none)
  int restored_revision = 0;  // kRolledBack: the revision rolled back to
  std::string pending_status;
};

class Deployer {
 public:
  virtual ~Deployer() = default;

  // Installs the release or upgrades it; on success returns the new latest revision.
  virtual Result<ReleaseStatus> UpgradeInstall(const UpgradeRequest& request) = 0;
  // The latest revision; nullopt when the release does not exist.
  virtual Result<std::optional<ReleaseStatus>> Status(const ReleaseRef& release) = 0;
  // Every stored revision, oldest first; empty when the release does not exist.
  virtual Result<std::vector<Revision>> History(const ReleaseRef& release) = 0;
  virtual Result<Done> Rollback(const ReleaseRef& release, const RollbackOptions& options) = 0;
  // Succeeds when the release does not exist (idempotent).
  virtual Result<Done> Uninstall(const ReleaseRef& release, const UninstallOptions& options) = 0;
  // The user-supplied values of the latest revision (`helm get values -o json`).
  virtual Result<Poco::JSON::Object::Ptr> GetValues(const ReleaseRef& release) = 0;

  // Unblocks a release whose latest revision is pending-* (a killed or crashed helm): rolls
  // back to the last revision that was deployed, or uninstalls when none ever was (a pending
  // install). Does nothing when the latest revision is not pending or the release is absent.
  // Caller's duty: hold the rollout lock, because "pending" also describes a helm that is
  // running right now, and this would break its operation.
  virtual Result<Recovery> RecoverPending(const ReleaseRef& release,
                                          const RecoverOptions& options) = 0;

  // The exact argument vector (binary first) UpgradeInstall would run, for `plan`/--dry-run.
  // Secret values are in it: show it through DisplayCommand (helm_args.h), which redacts them.
  virtual Result<std::vector<std::string>> PlanUpgradeInstall(const UpgradeRequest& request) = 0;
};

}  // namespace canaryctl::helm

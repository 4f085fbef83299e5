#include "helm/helm_driver.h"

#include <cstdlib>

#include "helm/helm_json.h"

namespace canaryctl::helm {

namespace {

constexpr size_t kErrorTailLines = 20;
constexpr const char* kNotFound = "release: not found";
constexpr const char* kInProgress = "another operation (install/upgrade/rollback) is in progress";

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

}  // namespace

Result<std::unique_ptr<HelmDriver>> HelmDriver::Create(DriverOptions options) {
  auto binary = ResolveHelmBinary(options.helm_path, Env("HELM_BIN"), Env("PATH"));
  if (!binary.ok()) return binary.error();
  const bool now = options.detect_version_now;
  std::unique_ptr<HelmDriver> driver(new HelmDriver(std::move(options), binary.value()));
  if (now) {
    auto version = driver->Version();
    if (!version.ok()) return version.error();
  }
  return driver;
}

HelmDriver::HelmDriver(DriverOptions options, std::string binary)
    : options_(std::move(options)), binary_(std::move(binary)) {}

Result<HelmVersion> HelmDriver::Version() {
  std::lock_guard<std::mutex> lock(version_mutex_);
  if (version_) return *version_;
  ProcessOptions popts;
  popts.env = options_.env;
  popts.deadline = options_.query_deadline;
  std::vector<std::string> args = {"version", "--template", "{{.Version}}"};
  auto run = RunProcess(binary_, args, popts);
  if (!run.ok()) return run.error();
  if (run.value().exit_code != 0 || run.value().timed_out) {
    return ClusterError("'" + DisplayCommand(binary_, args, {}) + "' failed (exit " +
                        std::to_string(run.value().exit_code) +
                        (run.value().timed_out ? ", killed at its deadline" : "") +
                        "): " + TailLines(run.value().err, kErrorTailLines));
  }
  auto version = ParseHelmVersion(run.value().out);
  if (!version.ok()) return Error{version.error().kind, binary_ + ": " + version.error().message};
  version_ = version.value();
  return *version_;
}

std::optional<HelmVersion> HelmDriver::DetectedVersion() const {
  std::lock_guard<std::mutex> lock(version_mutex_);
  return version_;
}

std::chrono::milliseconds HelmDriver::Deadline(std::chrono::seconds helm_timeout) const {
  std::chrono::milliseconds d = helm_timeout + options_.grace;
  if (options_.max_run_time && *options_.max_run_time < d) d = *options_.max_run_time;
  return d;
}

Result<ProcessOutput> HelmDriver::Run(const std::string& verb, const std::vector<std::string>& args,
                                      std::chrono::milliseconds deadline,
                                      const Redaction& redaction, bool mutating, bool* not_found) {
  ProcessOptions popts;
  popts.env = options_.env;
  popts.deadline = deadline;
  // By key for the --set flags; by value too, in case a secret was also put elsewhere.
  const std::string command =
      RedactValues(DisplayCommand(binary_, args, redaction.keys), redaction.values);
  auto run = RunProcess(binary_, args, popts);
  if (!run.ok()) return run.error();
  ProcessOutput& p = run.value();
  p.out = RedactValues(std::move(p.out), redaction.values);
  p.err = RedactValues(std::move(p.err), redaction.values);
  if (mutating && options_.on_output) {
    options_.on_output(HelmOutput{verb, command, p.exit_code, p.timed_out, p.out, p.err});
  }
  if (p.timed_out) {
    return ClusterError("helm " + verb + " was killed after " + std::to_string(deadline.count()) +
                        " ms, our deadline beyond its own --timeout; the release may be left "
                        "pending (see RecoverPending): " +
                        command + "\n" + TailLines(p.err, kErrorTailLines));
  }
  if (p.exit_code == 0) return run;
  if (not_found != nullptr && p.err.find(kNotFound) != std::string::npos) {
    *not_found = true;
    return run;
  }
  std::string message = "helm " + verb + " failed (exit " + std::to_string(p.exit_code) +
                        "): " + command + "\n" + TailLines(p.err, kErrorTailLines);
  if (p.err.find(kInProgress) != std::string::npos) {
    message +=
        "\nthe release's latest revision is pending: an earlier helm was interrupted (or is "
        "still running); once no other helm runs on it, RecoverPending rolls it back to the last "
        "deployed revision";
  }
  return ClusterError(std::move(message));
}

Result<std::vector<std::string>> HelmDriver::PlanUpgradeInstall(const UpgradeRequest& request) {
  auto version = Version();
  if (!version.ok()) return version.error();
  auto args = UpgradeArgs(version.value(), options_.connection, request);
  if (!args.ok()) return args.error();
  std::vector<std::string> argv = {binary_};
  argv.insert(argv.end(), args.value().begin(), args.value().end());
  return argv;
}

Result<ReleaseStatus> HelmDriver::UpgradeInstall(const UpgradeRequest& request) {
  auto version = Version();
  if (!version.ok()) return version.error();
  auto args = UpgradeArgs(version.value(), options_.connection, request);
  if (!args.ok()) return args.error();
  Redaction redaction;
  redaction.keys = request.secrets;
  for (const auto& key : request.secrets) {
    if (auto it = request.set.find(key); it != request.set.end()) {
      redaction.values.push_back(it->second);
    }
    if (auto it = request.set_typed.find(key); it != request.set_typed.end()) {
      redaction.values.push_back(it->second);
    }
  }
  auto run = Run("upgrade", args.value(), Deadline(request.timeout), redaction, true);
  if (!run.ok()) return run.error();
  auto status = Status(request.release);
  if (!status.ok()) return status.error();
  if (!status.value()) {
    return ClusterError("helm upgrade of " + request.release.ns + "/" + request.release.name +
                        " succeeded, but helm status does not find the release");
  }
  return *status.value();
}

Result<std::optional<ReleaseStatus>> HelmDriver::Status(const ReleaseRef& release) {
  auto args = StatusArgs(options_.connection, release);
  if (!args.ok()) return args.error();
  bool not_found = false;
  auto run = Run("status", args.value(), options_.query_deadline, {}, false, &not_found);
  if (!run.ok()) return run.error();
  if (not_found) return std::optional<ReleaseStatus>();
  auto status = ParseStatusJson(run.value().out);
  if (!status.ok()) return status.error();
  // `helm status` has no chart; the latest history entry, the same revision, has it.
  auto history_args = HistoryArgs(options_.connection, release, 1);
  if (!history_args.ok()) return history_args.error();
  auto history_run =
      Run("history", history_args.value(), options_.query_deadline, {}, false, &not_found);
  if (!history_run.ok()) return history_run.error();
  if (!not_found) {
    auto history = ParseHistoryJson(history_run.value().out);
    if (!history.ok()) return history.error();
    if (!history.value().empty() &&
        history.value().back().number == status.value().current.number) {
      status.value().current.chart = history.value().back().chart;
      status.value().current.app_version = history.value().back().app_version;
    }
  }
  return std::optional<ReleaseStatus>(std::move(status).value());
}

Result<std::vector<Revision>> HelmDriver::History(const ReleaseRef& release) {
  auto args = HistoryArgs(options_.connection, release, 0);
  if (!args.ok()) return args.error();
  bool not_found = false;
  auto run = Run("history", args.value(), options_.query_deadline, {}, false, &not_found);
  if (!run.ok()) return run.error();
  if (not_found) return std::vector<Revision>();
  return ParseHistoryJson(run.value().out);
}

Result<Done> HelmDriver::Rollback(const ReleaseRef& release, const RollbackOptions& options) {
  auto version = Version();
  if (!version.ok()) return version.error();
  auto args = RollbackArgs(version.value(), options_.connection, release, options);
  if (!args.ok()) return args.error();
  auto run = Run("rollback", args.value(), Deadline(options.timeout), {}, true);
  if (!run.ok()) return run.error();
  return Done{};
}

Result<Done> HelmDriver::Uninstall(const ReleaseRef& release, const UninstallOptions& options) {
  auto version = Version();
  if (!version.ok()) return version.error();
  auto args = UninstallArgs(version.value(), options_.connection, release, options);
  if (!args.ok()) return args.error();
  bool not_found = false;
  auto run = Run("uninstall", args.value(), Deadline(options.timeout), {}, true, &not_found);
  if (!run.ok()) return run.error();
  return Done{};
}

Result<Poco::JSON::Object::Ptr> HelmDriver::GetValues(const ReleaseRef& release) {
  auto args = GetValuesArgs(options_.connection, release);
  if (!args.ok()) return args.error();
  auto run = Run("get values", args.value(), options_.query_deadline, {}, false);
  if (!run.ok()) return run.error();
  return ParseValuesJson(run.value().out);
}

Result<Recovery> HelmDriver::RecoverPending(const ReleaseRef& release,
                                            const RecoverOptions& options) {
  auto history = History(release);
  if (!history.ok()) return history.error();
  Recovery recovery;
  const auto& revisions = history.value();
  if (revisions.empty() || !revisions.back().Pending()) return recovery;
  const Revision& pending = revisions.back();
  recovery.pending_revision = pending.number;
  recovery.pending_status = pending.status;
  // The revision that was live before: "deployed" (helm marks the old one superseded only
  // after the new one succeeds), else the latest superseded one.
  const Revision* target = nullptr;
  for (auto it = revisions.rbegin() + 1; it != revisions.rend() && target == nullptr; ++it) {
    if (it->status == "deployed") target = &*it;
  }
  for (auto it = revisions.rbegin() + 1; it != revisions.rend() && target == nullptr; ++it) {
    if (it->status == "superseded") target = &*it;
  }
  if (target == nullptr) {
    auto done = Uninstall(release, UninstallOptions{options.wait, options.timeout});
    if (!done.ok()) return done.error();
    recovery.action = Recovery::Action::kUninstalled;
    return recovery;
  }
  auto done = Rollback(release, RollbackOptions{target->number, options.wait, options.timeout});
  if (!done.ok()) return done.error();
  recovery.action = Recovery::Action::kRolledBack;
  recovery.restored_revision = target->number;
  return recovery;
}

}  // namespace canaryctl::helm

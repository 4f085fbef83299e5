#include "checks/from_config.h"

#include <set>
#include <string>
#include <utility>

namespace canaryctl::checks {
namespace {

std::string Describe(const config::CheckSpec& check) { return "check \"" + check.name + "\""; }

// Stands in for a check that could not be built: fails every run with the reason.
class UnbuildableCheck : public Check {
 public:
  UnbuildableCheck(std::string name, std::string reason)
      : name_(std::move(name)), reason_(std::move(reason)) {}
  const std::string& name() const override { return name_; }
  CheckResult Run(const StepContext&) override {
    CheckResult result;
    result.name = name_;
    result.verdict = Verdict::kFail;
    result.message = "cannot run: " + reason_;
    return result;
  }

 private:
  std::string name_;
  std::string reason_;
};

Result<std::unique_ptr<Check>> Build(const config::CheckSpec& check,
                                     const std::atomic<bool>* cancel) {
  if (check.http && !check.command) {
    auto spec = HttpCheckSpecFromConfig(check);
    if (!spec.ok()) return spec.error();
    return std::unique_ptr<Check>(std::make_unique<HttpCheck>(std::move(spec).value()));
  }
  if (check.command && !check.http) {
    auto spec = CommandCheckSpecFromConfig(check);
    if (!spec.ok()) return spec.error();
    spec.value().cancel = cancel;
    return std::unique_ptr<Check>(std::make_unique<CommandCheck>(std::move(spec).value()));
  }
  return ConfigError(Describe(check) + ": expected exactly one of http and command");
}

}  // namespace

Result<HttpCheckSpec> HttpCheckSpecFromConfig(const config::CheckSpec& check) {
  if (!check.http) return ConfigError(Describe(check) + ": not an http check");
  const config::HttpCheckSpec& in = *check.http;
  HttpCheckSpec out;
  out.name = check.name;
  out.method = in.method;
  out.url = in.url;
  out.headers.assign(in.headers.begin(), in.headers.end());
  out.body = in.body;
  out.timeout = in.timeout;
  out.retries = in.retries;
  out.retry_delay = in.retry_delay;
  out.requests = in.requests;
  // rollout.yaml's `status: 200` means exactly 200, where HttpCheck alone would accept any 2xx.
  auto status = StatusMatcher::Parse({std::to_string(in.expect.status)});
  if (!status.ok()) return ConfigError(Describe(check) + ": " + status.error().message);
  out.expect_status = std::move(status).value();
  out.body_contains = in.expect.body_contains;
  out.body_matches = in.expect.body_matches;
  if (in.expect.json) out.json_field_equals = {in.expect.json->path, in.expect.json->equals};
  out.max_latency = in.expect.max_latency;
  out.ca_file = in.ca_file;
  out.insecure = in.insecure;
  return out;
}

Result<CommandCheckSpec> CommandCheckSpecFromConfig(const config::CheckSpec& check) {
  if (!check.command) return ConfigError(Describe(check) + ": not a command check");
  CommandCheckSpec out;
  out.name = check.name;
  out.argv = check.command->argv;
  out.env = check.command->env;
  out.timeout = check.command->timeout;
  return out;
}

std::vector<std::unique_ptr<Check>> MakeChecks(const config::RolloutSpec& spec,
                                               const std::atomic<bool>* cancel) {
  std::vector<std::unique_ptr<Check>> checks;
  checks.reserve(spec.checks.size());
  for (const config::CheckSpec& c : spec.checks) {
    auto check = Build(c, cancel);
    if (check.ok()) {
      checks.push_back(std::move(check).value());
    } else {
      checks.push_back(std::make_unique<UnbuildableCheck>(c.name, check.error().message));
    }
  }
  return checks;
}

Status ValidateChecks(const config::RolloutSpec& spec) {
  std::set<std::string> names;
  for (const config::CheckSpec& c : spec.checks) {
    if (c.name.empty()) return ConfigError("a check has an empty name");
    if (!names.insert(c.name).second) return ConfigError("duplicate check name \"" + c.name + "\"");
    if (c.http.has_value() == c.command.has_value()) {
      return ConfigError(Describe(c) + ": expected exactly one of http and command");
    }
    if (c.http) {
      auto http = HttpCheckSpecFromConfig(c);
      if (!http.ok()) return http.error();
      if (auto valid = ValidateHttpCheckSpec(http.value()); !valid.ok()) return valid.error();
      continue;
    }
    if (c.command->argv.empty() || c.command->argv[0].empty()) {
      return ConfigError(Describe(c) + ": the command is empty");
    }
    if (c.command->timeout.count() <= 0) {
      return ConfigError(Describe(c) + ": the timeout must be positive");
    }
  }
  return Done{};
}

}  // namespace canaryctl::checks

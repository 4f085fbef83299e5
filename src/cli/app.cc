#include "cli/app.h"

#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "analysis/prometheus_client.h"
#include "checks/from_config.h"
#include "ci/job_context.h"
#include "ci/log_section.h"
#include "ci/pipeline_writer.h"
#include "ci/redactor.h"
#include "cli/logging.h"
#include "cli/options.h"
#include "cli/proxy.h"
#include "cli/status_format.h"
#include "config/loader.h"
#include "config/to_yaml.h"
#include "engine/json_fields.h"
#include "engine/plan.h"
#include "engine/rollout.h"
#include "helm/helm_driver.h"
#include "kube/kubeconfig.h"
#include "kube/namespace.h"
#include "kube/rest_client.h"
#include "load/load_generator.h"
#include "report/atomic_file.h"
#include "report/report_writer.h"
#include "traffic/istio_router.h"

#ifndef CANARYCTL_VERSION
#define CANARYCTL_VERSION "0.1.0"
#endif

namespace canaryctl::cli {

constinit std::atomic<bool> interrupted{false};

namespace {

std::string Get(const config::Environment& env, const char* name) {
  auto it = env.find(name);
  return it == env.end() ? "" : it->second;
}

std::string Summary(const std::string& file, const config::RolloutSpec& spec) {
  std::string steps;
  for (int step : spec.traffic.steps) {
    if (!steps.empty()) steps += ", ";
    steps += std::to_string(step);
  }
  size_t n = spec.checks.size();
  return file + ": valid (app " + spec.app + ", strategy " + config::StrategyName(spec.strategy) +
         ", steps " + steps + ", " + std::to_string(n) + (n == 1 ? " check)" : " checks)");
}

// The kubeconfig files of kubectl's search order; the in-cluster service account only when
// there are none, so that a kubeconfig given on purpose is never silently ignored.
Result<kube::KubeConfig> LoadClusterConfig(const CliOptions& o, const config::Environment& env) {
  auto files = kube::KubeconfigFiles(o.kubeconfig, Get(env, "KUBECONFIG"), Get(env, "HOME"));
  if (!files.ok()) {
    if (o.kubeconfig.empty() && !Get(env, "KUBERNETES_SERVICE_HOST").empty()) {
      return kube::LoadInClusterConfig(env);
    }
    return files.error();
  }
  return kube::LoadKubeconfig(files.value(), o.context);
}

// helm's own output, folded away in GitLab (DESIGN §8); headers and text are redacted.
void PrintHelmOutput(ci::SectionLog& sections, const ci::Redactor& redactor,
                     const helm::HelmOutput& o) {
  spdlog::default_logger()->flush();
  ci::LogSection section(sections, "helm_" + o.verb, "helm " + o.verb + ": " + o.command,
                         /*collapsed=*/true);
  std::ostream& os = sections.out();
  for (const std::string* text : {&o.out, &o.err}) {
    if (text->empty()) continue;
    os << redactor.Redact(*text);
    if (text->back() != '\n') os << '\n';
  }
  os << "helm " << o.verb << " exited with code " << o.exit_code
     << (o.timed_out ? " (killed at its deadline)" : "") << '\n';
  os.flush();
  section.End();
}

engine::Outcome Execute(engine::Rollout& rollout, const CliOptions& o) {
  switch (o.command) {
    case CommandId::kDeploy:
      return rollout.Deploy();
    case CommandId::kTest:
      return rollout.Test();
    case CommandId::kShift:
      return rollout.Shift(o.weight);
    case CommandId::kPromote:
      return rollout.Promote();
    case CommandId::kRollback:
      return rollout.Rollback();
    case CommandId::kRun:
      return rollout.Run();
    default:
      return rollout.Plan();
  }
}

std::string CommandLabel(const CliOptions& o) {
  std::string label(CommandName(o.command));
  if (o.command == CommandId::kShift) label += " " + std::to_string(o.weight);
  return label;
}

// The configured checks, each HTTP one with the proxy the environment gives its URL.
class CheckFactory {
 public:
  CheckFactory(const config::RolloutSpec& spec,
               std::vector<std::optional<checks::HttpProxy>> proxies)
      : spec_(spec), proxies_(std::move(proxies)) {}

  // Decides every check's proxy once; a proxy canaryctl cannot use is a kConfig error, found
  // before anything runs.
  static Result<CheckFactory> Create(const config::RolloutSpec& spec,
                                     const config::Environment& env) {
    // What the loader missed must stop the command here, not fail as a check after changes.
    if (auto valid = checks::ValidateChecks(spec); !valid.ok()) return valid.error();
    std::vector<std::optional<checks::HttpProxy>> proxies;
    for (const config::CheckSpec& check : spec.checks) {
      proxies.emplace_back();
      if (!check.http) continue;
      auto proxy = ProxyFor(check.http->url, env);
      if (!proxy.ok()) return ConfigError("check " + check.name + ": " + proxy.error().message);
      proxies.back() = proxy.value();
      if (proxies.back()) {
        spdlog::debug("check {}: through the proxy {}:{}", check.name, proxies.back()->host,
                      proxies.back()->port);
      }
    }
    return CheckFactory(spec, std::move(proxies));
  }

  std::vector<std::unique_ptr<checks::Check>> Make() const {
    // A cancelled job (SIGTERM) stops a running command check at once.
    std::vector<std::unique_ptr<checks::Check>> made = checks::MakeChecks(spec_, &interrupted);
    for (size_t i = 0; i < made.size() && i < proxies_.size(); ++i) {
      if (!proxies_[i]) continue;
      auto http = checks::HttpCheckSpecFromConfig(spec_.checks[i]);
      // Otherwise MakeChecks has made it a check that fails with the reason: keep that one.
      if (!http.ok()) continue;
      http.value().proxy = proxies_[i];
      made[i] = std::make_unique<checks::HttpCheck>(std::move(http.value()));
    }
    return made;
  }

 private:
  const config::RolloutSpec& spec_;
  std::vector<std::optional<checks::HttpProxy>> proxies_;
};

// `pipeline`'s YAML to --output (atomically: the job that uploads it never sees half a file;
// report/atomic_file, which ci/ cannot use, being below report/) or to `out`.
int EmitPipeline(const CliOptions& o, const Result<std::string>& yaml, std::ostream& out,
                 std::ostream& err) {
  if (!yaml.ok()) {
    err << yaml.error().message << '\n';
    return ExitCode(yaml.error().kind);
  }
  if (o.pipeline_output.empty()) {
    out << yaml.value();
    out.flush();
    return 0;
  }
  const std::filesystem::path path(o.pipeline_output);
  if (path.filename().empty()) {
    err << "--output: " << o.pipeline_output << " names a directory, not a file\n";
    return ExitCode(ErrorKind::kConfig);
  }
  const std::string dir = path.has_parent_path() ? path.parent_path().string() : ".";
  Status written = report::WriteFileAtomically(dir, path.filename().string(), yaml.value());
  if (!written.ok()) {
    err << "--output: " << written.error().message << '\n';
    return ExitCode(written.error().kind);
  }
  err << "canaryctl pipeline: wrote " << o.pipeline_output << '\n';
  return 0;
}

// The child pipeline of the loaded configuration: its plan's steps (engine/plan.h: blue-green
// is [0, 100]), and the config path the jobs will load.
int RunPipeline(const CliOptions& o, const config::RolloutSpec& spec, std::ostream& out,
                std::ostream& err) {
  const auto strategy = engine::ParseStrategy(config::StrategyName(spec.strategy));
  if (!strategy) {
    err << "pipeline: unknown strategy " << config::StrategyName(spec.strategy) << '\n';
    return ExitCode(ErrorKind::kConfig);
  }
  auto plan = engine::MakePlan(*strategy, spec.traffic.steps);
  if (!plan.ok()) {
    err << o.config_path << ": " << plan.error().message << '\n';
    return ExitCode(plan.error().kind);
  }
  ci::ChildPipelineSpec child{o.config_path, config::StrategyName(spec.strategy),
                              plan.value().steps};
  return EmitPipeline(o, ci::WriteChildPipeline(child, o.pipeline, CANARYCTL_VERSION), out, err);
}

// Writes the reports of a mutating command (not under --dry-run); false when that failed.
bool WriteCommandReports(const CliOptions& o, const config::RolloutSpec& spec,
                         const report::RolloutRecord& record, const ci::Redactor& redactor) {
  if (!IsMutating(o.command) || o.dry_run) return true;
  std::vector<std::string> warnings;
  Status written = report::WriteReports(spec.reports_dir, record, redactor, &warnings);
  for (const std::string& w : warnings) spdlog::warn("reports: {}", w);
  if (!written.ok()) {
    spdlog::error("reports: {}", written.error().message);
    return false;
  }
  spdlog::debug("reports written to {}", spec.reports_dir);
  return true;
}

// Whether the command changes releases with helm: then a broken helm must stop it before it
// changes anything, so the driver checks helm at once. test and shift run helm only in an
// automatic rollback that touches the candidate's release; status and plan only read.
bool WillRunHelm(CommandId command, const config::RolloutSpec& spec) {
  switch (command) {
    case CommandId::kTest:
    case CommandId::kShift:
      return spec.rollback.candidate != config::CandidateAfterRollback::kKeep;
    case CommandId::kStatus:
    case CommandId::kPlan:
      return false;
    default:
      return true;
  }
}

// Steps 4 to 7 of app.h, with logging set up.
int RunEngineCommand(const CliOptions& o, const config::RolloutSpec& spec,
                     const config::Environment& env, ci::Redactor& redactor, std::ostream& out,
                     std::ostream& err) {
  const std::string label = CommandLabel(o);
  const ci::JobContext job = ci::JobContextFromEnv(env);
  // Before the engine runs nothing was read from the cluster, so no report is written: it could
  // only guess where the traffic is.
  auto fail = [](const Error& error) {
    spdlog::error("{}", error.message);
    return ExitCode(error.kind);
  };
  for (const std::string& name : ci::JobContextVariables()) {
    auto it = env.find(name);
    if (it != env.end() && !engine::json::IsValidUtf8(it->second)) {
      return fail(ConfigError("environment variable " + name +
                              " is not valid UTF-8; it would go into the rollout's state and "
                              "reports: fix or unset it"));
    }
  }

  auto check_factory = CheckFactory::Create(spec, env);
  if (!check_factory.ok()) return fail(check_factory.error());
  // Prometheus and the generated load go through the proxy the environment gives their URLs,
  // decided (and refused) before anything runs, like the checks'.
  std::optional<analysis::PrometheusOptions> prometheus_options;
  if (spec.analysis) {
    auto proxy = ProxyFor(spec.analysis->prometheus_url, env);
    if (!proxy.ok()) return fail(ConfigError("analysis.prometheus: " + proxy.error().message));
    prometheus_options = analysis::PrometheusOptions{
        spec.analysis->prometheus_url, std::chrono::milliseconds(10000), proxy.value(), false, ""};
  }
  std::optional<checks::HttpProxy> load_proxy;
  if (spec.load) {
    auto proxy = ProxyFor(spec.load->url, env);
    if (!proxy.ok()) return fail(ConfigError("load.url: " + proxy.error().message));
    load_proxy = proxy.value();
  }

  auto kubeconfig = LoadClusterConfig(o, env);
  if (!kubeconfig.ok()) return fail(kubeconfig.error());
  redactor.Add(kubeconfig.value().user.token);
  redactor.Add(kubeconfig.value().user.client_key_pem);
  auto client = kube::RestClient::Create(kubeconfig.value());
  if (!client.ok()) return fail(client.error());
  kube::Client& kube_client = *client.value();

  // JSON logs are for machines: section headers and helm's output become log lines as well.
  std::optional<LogLineStream> json_lines;
  if (o.log_format == OutputFormat::kJson) json_lines.emplace();
  ci::SectionLog sections(json_lines ? static_cast<std::ostream&>(*json_lines) : err,
                          ci::InGitLab(env) && !json_lines, {}, &redactor);
  helm::DriverOptions helm_options;
  helm_options.helm_path = o.helm_path;
  helm_options.connection = {o.kubeconfig, o.context};
  helm_options.on_output = [&sections, &redactor](const helm::HelmOutput& output) {
    PrintHelmOutput(sections, redactor, output);
  };
  helm_options.detect_version_now = WillRunHelm(o.command, spec);
  auto driver = helm::HelmDriver::Create(std::move(helm_options));
  if (!driver.ok()) return fail(driver.error());

  const auto helm_version = driver.value()->DetectedVersion();
  spdlog::info(
      "canaryctl {} {}: app {} ({}), cluster {}{}, {}{}{}", CANARYCTL_VERSION, label, spec.app,
      config::StrategyName(spec.strategy), kubeconfig.value().cluster.server,
      kubeconfig.value().context.empty() ? "" : " (context " + kubeconfig.value().context + ")",
      driver.value()->binary(), helm_version ? " " + helm_version->text : "",
      o.dry_run ? ", dry run" : "");

  engine::RolloutDeps deps;
  deps.make_router = [&kube_client](const traffic::RouterConfig& config) {
    return std::unique_ptr<traffic::Router>(new traffic::IstioRouter(kube_client, config));
  };
  deps.deployer = driver.value().get();
  deps.ensure_namespace = [&kube_client](const std::string& ns,
                                         const std::map<std::string, std::string>& labels) {
    return kube::EnsureNamespace(kube_client, ns, labels);
  };
  deps.make_checks = [&factory = check_factory.value()] { return factory.Make(); };
  if (prometheus_options) {
    deps.make_prometheus = [&prometheus_options] {
      return analysis::MakePrometheusClient(*prometheus_options);
    };
  }
  if (spec.load) {
    deps.make_load = [&spec, &load_proxy] {
      return std::make_unique<load::LoadGenerator>(*spec.load, load_proxy);
    };
  }
  deps.interrupted = &interrupted;
  deps.sections = &sections;

  engine::RolloutOptions options;
  options.dry_run = o.dry_run;
  options.force = o.force;
  options.skip_steps = o.skip_steps;
  options.pause = o.pause;
  engine::Rollout rollout(spec, job, std::move(deps), options);

  if (o.command == CommandId::kStatus) {
    auto view = rollout.Status();
    if (!view.ok()) {
      spdlog::error("status: {}", view.error().message);
      return ExitCode(view.error().kind);
    }
    out << redactor.Redact(o.status_format == OutputFormat::kJson ? FormatStatusJson(view.value())
                                                                  : FormatStatusText(view.value()));
    out.flush();
    return 0;
  }

  engine::Outcome outcome = Execute(rollout, o);
  for (const std::string& line : outcome.preview) out << redactor.Redact(line) << '\n';
  out.flush();

  const bool reports_written = WriteCommandReports(o, spec, outcome.record, redactor);
  if (outcome.error) {
    spdlog::error("{} failed: {}", label, outcome.error->message);
    return ExitCode(outcome.error->kind);
  }
  // GitLab uploads what is there; a success without its reports is a failed job (DESIGN §7).
  if (!reports_written) return ExitCode(ErrorKind::kCluster);
  return 0;
}

}  // namespace

std::string VersionLine() { return std::string("canaryctl ") + CANARYCTL_VERSION; }

int RunCli(int argc, char** argv, const config::Environment& env, std::ostream& out,
           std::ostream& err) {
  ParsedCommandLine parsed = ParseCommandLine(argc, argv, env, out, err);
  if (!parsed.options) return parsed.exit_code;
  const CliOptions& o = *parsed.options;
  if (o.command == CommandId::kVersion) {
    out << VersionLine() << '\n';
    return 0;
  }
  // A template is static: no configuration to read.
  if (o.command == CommandId::kPipeline && o.pipeline_template) {
    return EmitPipeline(o,
                        ci::WritePipelineTemplate(*o.pipeline_template,
                                                  ci::DefaultPipelineImage(CANARYCTL_VERSION)),
                        out, err);
  }

  config::Overrides overrides;
  if (o.reports_dir) overrides.Add("reports.dir", *o.reports_dir, "--reports");
  auto spec = config::LoadRolloutSpec(o.config_path, env, overrides);
  if (!spec.ok()) {
    err << spec.error().message << '\n';
    return ExitCode(spec.error().kind);
  }
  if (o.command == CommandId::kConfigValidate) {
    out << Summary(o.config_path, spec.value()) << '\n';
    return 0;
  }
  if (o.command == CommandId::kConfigPrint) {
    out << config::ToYaml(spec.value());
    return 0;
  }
  if (o.command == CommandId::kPipeline) return RunPipeline(o, spec.value(), out, err);

  ci::Redactor redactor;
  for (const std::string& secret : spec.value().secret_values) redactor.Add(secret);
  LoggingScope logging(err, o.log_format, o.verbose, redactor);
  try {
    return RunEngineCommand(o, spec.value(), env, redactor, out, err);
  } catch (const std::exception& e) {
    // Modules return errors as values; an exception is a bug, but still a cluster-side failure
    // as far as the job is concerned, never a crash without a word.
    spdlog::error("{}: internal error: {}", CommandName(o.command), e.what());
    return ExitCode(ErrorKind::kCluster);
  }
}

}  // namespace canaryctl::cli

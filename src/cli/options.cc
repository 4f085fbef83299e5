#include "cli/options.h"

#include <CLI/CLI.hpp>
#include <utility>
#include <vector>

#include "config/duration.h"

#ifndef CANARYCTL_VERSION
#define CANARYCTL_VERSION "0.1.0"
#endif

namespace canaryctl::cli {

namespace {

// shared/DESIGN.md §4: the contract GitLab job rules and retries are written against.
constexpr const char* kExitCodes = R"(Exit codes:
  0    done
  1    checks failed (with rollback.auto, traffic was restored to stable)
  2    usage or configuration error; nothing was changed
  3    cluster, API or helm error
  4    another rollout holds the lock
  5    rollback failed: traffic may still reach the candidate
  130  interrupted (SIGINT/SIGTERM) after leaving a consistent state

Global flags may also follow the command, as in `canaryctl shift 30 --dry-run`.)";

constexpr const char* kGlobalFlagsNote =
    "Global flags (canaryctl --help) may precede or follow the command.";

std::string EnvOr(const config::Environment& env, const char* name, std::string fallback) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return fallback;
  return it->second;
}

std::optional<OutputFormat> ParseFormat(const std::string& text) {
  if (text == "text") return OutputFormat::kText;
  if (text == "json") return OutputFormat::kJson;
  return std::nullopt;
}

// rollout.yaml's duration syntax, so that `--pause` reads like `analysis.interval`.
CLI::Validator DurationValidator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (config::ParseDuration(text)) return "";
        return "not a duration (e.g. 10s, 500ms, 1m): " + text;
      },
      "");
}

// A Status check as a CLI11 validator. CLI11 puts the flag's name in front of the message,
// which already starts with it: that copy goes.
CLI::Validator StatusValidator(Status (*check)(std::string_view)) {
  return CLI::Validator(
      [check](std::string& text) -> std::string {
        Status s = check(text);
        if (s.ok()) return "";
        std::string message = s.error().message;
        const size_t colon = message.find(": ");
        if (message.starts_with("--") && colon != std::string::npos) message.erase(0, colon + 2);
        return message;
      },
      "");
}

constexpr const char* kUsageHint = "Run with --help for more information.\n";

}  // namespace

std::string_view CommandName(CommandId id) {
  switch (id) {
    case CommandId::kDeploy:
      return "deploy";
    case CommandId::kTest:
      return "test";
    case CommandId::kShift:
      return "shift";
    case CommandId::kPromote:
      return "promote";
    case CommandId::kRollback:
      return "rollback";
    case CommandId::kStatus:
      return "status";
    case CommandId::kPlan:
      return "plan";
    case CommandId::kRun:
      return "run";
    case CommandId::kConfigValidate:
      return "config validate";
    case CommandId::kConfigPrint:
      return "config print";
    case CommandId::kVersion:
      return "version";
    case CommandId::kPipeline:
      return "pipeline";
  }
  return "?";
}

bool IsMutating(CommandId id) {
  switch (id) {
    case CommandId::kDeploy:
    case CommandId::kTest:
    case CommandId::kShift:
    case CommandId::kPromote:
    case CommandId::kRollback:
    case CommandId::kRun:
      return true;
    default:
      return false;
  }
}

ParsedCommandLine ParseCommandLine(int argc, const char* const* argv,
                                   const config::Environment& env, std::ostream& out,
                                   std::ostream& err) {
  CliOptions o;
  o.config_path = EnvOr(env, "CANARYCTL_CONFIG", "rollout.yaml");
  std::string log_format = EnvOr(env, "CANARYCTL_LOG_FORMAT", "text");
  std::string status_format = "text";
  std::string pause = "10s";
  std::string reports_dir;

  CLI::App app{
      "canaryctl: roll an application out to Kubernetes with Helm and Istio, one GitLab "
      "CI job per phase.",
      "canaryctl"};
  // Set before the commands are added, which inherit both: global flags may follow a command,
  // and each command's help says so.
  app.fallthrough();
  app.footer(kGlobalFlagsNote);
  app.require_subcommand(1);

  app.add_option("--config", o.config_path,
                 "the rollout configuration (default: $CANARYCTL_CONFIG, else rollout.yaml)")
      ->type_name("FILE")
      ->capture_default_str();
  app.add_option("--kubeconfig", o.kubeconfig,
                 "kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)")
      ->type_name("FILE");
  app.add_option("--context", o.context, "kubeconfig context (default: its current-context)")
      ->type_name("NAME");
  auto* reports =
      app.add_option("--reports", reports_dir, "report directory (overrides reports.dir)")
          ->type_name("DIR");
  app.add_option("--log-format", log_format,
                 "log lines as text or JSON objects (default: $CANARYCTL_LOG_FORMAT, else text)")
      ->type_name("text|json")
      ->check(CLI::IsMember({"text", "json"}).description(""));
  app.add_flag("--dry-run", o.dry_run, "decide and print what would change; change nothing");
  app.add_flag("-v,--verbose", o.verbose, "debug logging");
  app.add_option("--helm", o.helm_path, "helm binary (default: $HELM_BIN, else helm on $PATH)")
      ->type_name("PATH");
  app.add_flag("--force", o.force, "take over the lock another pipeline holds (and say so)");
  app.add_flag("--skip-steps", o.skip_steps,
               "allow a shift to a weight off the plan, skipping steps or the test at 0%");

  std::vector<std::pair<CLI::App*, CommandId>> commands;
  auto add = [&](CLI::App& parent, const char* name, const char* description, CommandId id) {
    CLI::App* sub = parent.add_subcommand(name, description);
    commands.emplace_back(sub, id);
    return sub;
  };
  add(app, "deploy",
      "install or upgrade the candidate (helm --wait) and add it to the route at weight 0",
      CommandId::kDeploy);
  add(app, "test", "run the checks against the candidate at 0%", CommandId::kTest);
  CLI::App* shift =
      add(app, "shift", "set the candidate's weight to WEIGHT, then run the checks and analysis",
          CommandId::kShift);
  shift->add_option("WEIGHT", o.weight, "the candidate's share of the traffic, 0..100 percent")
      ->required()
      ->check(CLI::Range(0, 100));
  add(app, "promote", "make the candidate's version the stable release; all traffic on stable",
      CommandId::kPromote);
  add(app, "rollback", "all traffic to stable first, then roll back or remove the candidate",
      CommandId::kRollback);
  CLI::App* status = add(app, "status", "show the route, the releases, the lock and the history",
                         CommandId::kStatus);
  status->add_option("-o,--output", status_format, "text or json")
      ->type_name("text|json")
      ->check(CLI::IsMember({"text", "json"}).description(""))
      ->capture_default_str();
  add(app, "plan", "show the steps, where the rollout stands and what the next command changes",
      CommandId::kPlan);
  CLI::App* run = add(app, "run", "the whole flow without gates: deploy, test, every step, promote",
                      CommandId::kRun);
  run->add_option("--pause", pause, "wait between steps")
      ->type_name("DURATION")
      ->check(DurationValidator())
      ->capture_default_str();
  CLI::App* config =
      app.add_subcommand("config", "check or show the effective configuration (no cluster)");
  config->require_subcommand(1);
  add(*config, "validate", "check the configuration; print a one-line summary",
      CommandId::kConfigValidate);
  add(*config, "print", "print the effective configuration as YAML, defaults included",
      CommandId::kConfigPrint);
  CLI::App* pipeline =
      add(app, "pipeline",
          "print a child pipeline with one gated job per step (or, with --template, a "
          "template)",
          CommandId::kPipeline);
  std::string pipeline_template;
  std::string manual_promotion = "true";
  o.pipeline.image = ci::DefaultPipelineImage(CANARYCTL_VERSION);
  pipeline
      ->add_option("--template", pipeline_template,
                   "print the static template to include instead (no config read)")
      ->type_name("hybrid|canary|blue-green|dynamic")
      ->check(CLI::IsMember({"hybrid", "canary", "blue-green", "dynamic"}).description(""));
  pipeline->add_option("-o,--output", o.pipeline_output, "write it to FILE (atomically)")
      ->type_name("FILE");
  // The job flags, which a template takes as inputs instead.
  std::vector<CLI::Option*> job_flags;
  job_flags.push_back(pipeline->add_option("--image", o.pipeline.image, "the jobs' image")
                          ->type_name("IMAGE")
                          ->capture_default_str());
  job_flags.push_back(pipeline
                          ->add_option("--job-prefix", o.pipeline.job_prefix,
                                       "prefix of every job name (letters, digits, - _ . :)")
                          ->type_name("PREFIX")
                          ->check(StatusValidator(&ci::ValidateJobPrefix))
                          ->capture_default_str());
  job_flags.push_back(pipeline->add_option("--stage", o.pipeline.stage, "stage of the jobs")
                          ->type_name("NAME")
                          ->capture_default_str());
  job_flags.push_back(pipeline
                          ->add_option("--rollback-stage", o.pipeline.rollback_stage,
                                       "stage of the on_failure rollback job, after --stage")
                          ->type_name("NAME")
                          ->capture_default_str());
  job_flags.push_back(
      pipeline->add_option("--environment", o.pipeline.environment, "the GitLab environment")
          ->type_name("NAME")
          ->capture_default_str());
  job_flags.push_back(
      pipeline->add_option("--tier", o.pipeline.tier, "the environment's deployment tier")
          ->type_name("production|staging|testing|development|other")
          ->check(StatusValidator(&ci::ValidateTier))
          ->capture_default_str());
  job_flags.push_back(pipeline
                          ->add_option("--resource-group", o.pipeline.resource_group,
                                       "one job at a time in this group, across pipelines")
                          ->type_name("NAME")
                          ->capture_default_str());
  job_flags.push_back(pipeline
                          ->add_option("--kube-context", o.pipeline.kube_context,
                                       "kubeconfig context the jobs select (default: "
                                       "$KUBE_CONTEXT in the job, else the current one)")
                          ->type_name("NAME"));
  job_flags.push_back(pipeline
                          ->add_option("--manual-promotion", manual_promotion,
                                       "whether promote waits behind its own manual gate")
                          ->type_name("true|false")
                          ->check(CLI::IsMember({"true", "false"}).description(""))
                          ->capture_default_str());
  add(app, "version", "print canaryctl's version", CommandId::kVersion);
  // After the commands, so that only the top-level help shows the table.
  app.footer(kExitCodes);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help prints on `out` with code 0; anything else is a usage error, exit 2 (DESIGN §4).
    return {std::nullopt, app.exit(e, out, err) == 0 ? 0 : 2};
  }

  auto format = ParseFormat(log_format);
  if (!format) {
    err << "CANARYCTL_LOG_FORMAT: " << log_format << " not in {text,json}\n" << kUsageHint;
    return {std::nullopt, 2};
  }
  o.log_format = *format;
  o.status_format = ParseFormat(status_format).value_or(OutputFormat::kText);
  o.pause = config::ParseDuration(pause).value_or(o.pause);
  if (reports->count() > 0) o.reports_dir = reports_dir;
  for (const auto& [sub, id] : commands) {
    if (sub->parsed()) o.command = id;
  }
  if (o.command == CommandId::kPipeline) {
    o.pipeline.manual_promotion = manual_promotion == "true";
    if (!pipeline_template.empty()) {
      o.pipeline_template = ci::ParsePipelineTemplate(pipeline_template);
      for (const CLI::Option* flag : job_flags) {
        if (flag->count() == 0) continue;
        // A template's values are its inputs, given where it is included.
        err << flag->get_name() << " cannot be used with --template: the template takes it as "
            << "an input (spec:inputs) where it is included; only --output is allowed\n"
            << kUsageHint;
        return {std::nullopt, 2};
      }
    } else if (Status valid = ci::ValidatePipelineOptions(o.pipeline); !valid.ok()) {
      err << valid.error().message << '\n' << kUsageHint;
      return {std::nullopt, 2};
    }
  }
  return {std::move(o), 0};
}

}  // namespace canaryctl::cli

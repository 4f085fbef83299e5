// The command line of canaryctl (shared/DESIGN.md §6), parsed with CLI11 into CliOptions.
//
// Contract: global flags are accepted before or after the command (CLI11 fallthrough);
// --config defaults to $CANARYCTL_CONFIG, else rollout.yaml; --log-format to
// $CANARYCTL_LOG_FORMAT, else text. A usage error (unknown flag or command, missing command,
// shift outside 0..100, a bad duration or format, a bad `pipeline` flag value, a job flag with
// `pipeline --template`) prints a message naming the flag and "Run with --help for more
// information." on `err` and yields exit code 2; --help prints on `out` and yields 0.
// Parsing reads nothing but its arguments and `env`: no file, no cluster.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "ci/pipeline_writer.h"
#include "config/rollout_spec.h"

namespace canaryctl::cli {

enum class CommandId {
  kDeploy,
  kTest,
  kShift,
  kPromote,
  kRollback,
  kStatus,
  kPlan,
  kRun,
  kConfigValidate,
  kConfigPrint,
  kVersion,
  kPipeline,
};

// "deploy", ..., "config validate", "config print", "version", "pipeline".
std::string_view CommandName(CommandId id);

// deploy, test, shift, promote, rollback and run change the rollout and write reports.
bool IsMutating(CommandId id);

enum class OutputFormat { kText, kJson };

struct CliOptions {
  CommandId command = CommandId::kVersion;
  std::string config_path = "rollout.yaml";
  std::string kubeconfig;                  // --kubeconfig; empty: $KUBECONFIG, ~/.kube/config
  std::string context;                     // --context; empty: the kubeconfig's current one
  std::optional<std::string> reports_dir;  // --reports: overrides reports.dir
  OutputFormat log_format = OutputFormat::kText;
  bool dry_run = false;
  bool verbose = false;
  std::string helm_path;  // --helm; empty: $HELM_BIN, then helm on $PATH
  bool force = false;
  bool skip_steps = false;
  int weight = 0;                                    // shift WEIGHT
  OutputFormat status_format = OutputFormat::kText;  // status -o
  std::chrono::milliseconds pause{10000};            // run --pause
  // pipeline: --template (a static template; nullopt: the child pipeline of the config),
  // -o/--output (empty: stdout) and the job flags, validated (ci::ValidatePipelineOptions).
  // With --template only --output is allowed.
  std::optional<ci::PipelineTemplate> pipeline_template;
  std::string pipeline_output;
  ci::PipelineOptions pipeline;
};

// Either options to run with, or the exit code to stop with (help was printed: 0; usage
// error: 2).
struct ParsedCommandLine {
  std::optional<CliOptions> options;
  int exit_code = 0;
};

ParsedCommandLine ParseCommandLine(int argc, const char* const* argv,
                                   const config::Environment& env, std::ostream& out,
                                   std::ostream& err);

}  // namespace canaryctl::cli

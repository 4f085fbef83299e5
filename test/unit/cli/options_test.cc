#include "cli/options.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace canaryctl::cli {
namespace {

struct Parsed {
  ParsedCommandLine result;
  std::string out;
  std::string err;
  const CliOptions& options() const { return *result.options; }
};

Parsed Parse(std::vector<std::string> args, const config::Environment& env = {}) {
  args.insert(args.begin(), "canaryctl");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  Parsed p{ParseCommandLine(static_cast<int>(argv.size()), argv.data(), env, out, err), "", ""};
  p.out = out.str();
  p.err = err.str();
  return p;
}

// A usage error: exit 2, CLI11's message and the hint on stderr, nothing on stdout.
void ExpectUsageError(const std::vector<std::string>& args, const config::Environment& env = {}) {
  SCOPED_TRACE(testing::PrintToString(args));
  Parsed p = Parse(args, env);
  EXPECT_FALSE(p.result.options.has_value());
  EXPECT_EQ(p.result.exit_code, 2);
  EXPECT_NE(p.err.find("Run with --help for more information."), std::string::npos) << p.err;
  EXPECT_EQ(p.out, "");
}

TEST(Options, EveryCommand) {
  const std::vector<std::pair<std::vector<std::string>, CommandId>> cases = {
      {{"deploy"}, CommandId::kDeploy},
      {{"test"}, CommandId::kTest},
      {{"shift", "30"}, CommandId::kShift},
      {{"promote"}, CommandId::kPromote},
      {{"rollback"}, CommandId::kRollback},
      {{"status"}, CommandId::kStatus},
      {{"plan"}, CommandId::kPlan},
      {{"run"}, CommandId::kRun},
      {{"config", "validate"}, CommandId::kConfigValidate},
      {{"config", "print"}, CommandId::kConfigPrint},
      {{"version"}, CommandId::kVersion},
      {{"pipeline"}, CommandId::kPipeline},
  };
  for (const auto& [args, id] : cases) {
    Parsed p = Parse(args);
    ASSERT_TRUE(p.result.options.has_value()) << args[0] << ": " << p.err;
    EXPECT_EQ(p.options().command, id) << args[0];
    EXPECT_EQ(p.err, "");
  }
}

TEST(Options, CommandNamesAndMutation) {
  EXPECT_EQ(CommandName(CommandId::kConfigValidate), "config validate");
  EXPECT_EQ(CommandName(CommandId::kShift), "shift");
  for (CommandId id : {CommandId::kDeploy, CommandId::kTest, CommandId::kShift, CommandId::kPromote,
                       CommandId::kRollback, CommandId::kRun}) {
    EXPECT_TRUE(IsMutating(id)) << CommandName(id);
  }
  for (CommandId id : {CommandId::kStatus, CommandId::kPlan, CommandId::kConfigValidate,
                       CommandId::kConfigPrint, CommandId::kVersion, CommandId::kPipeline}) {
    EXPECT_FALSE(IsMutating(id)) << CommandName(id);
  }
}

TEST(Options, Defaults) {
  Parsed p = Parse({"deploy"});
  ASSERT_TRUE(p.result.options.has_value());
  const CliOptions& o = p.options();
  EXPECT_EQ(o.config_path, "rollout.yaml");
  EXPECT_EQ(o.kubeconfig, "");
  EXPECT_EQ(o.context, "");
  EXPECT_FALSE(o.reports_dir.has_value());
  EXPECT_EQ(o.log_format, OutputFormat::kText);
  EXPECT_FALSE(o.dry_run);
  EXPECT_FALSE(o.verbose);
  EXPECT_EQ(o.helm_path, "");
  EXPECT_FALSE(o.force);
  EXPECT_FALSE(o.skip_steps);
  EXPECT_EQ(o.pause, std::chrono::seconds(10));
}

TEST(Options, EveryGlobalFlagBeforeTheCommand) {
  Parsed p = Parse({"--config", "c.yaml", "--kubeconfig", "kc", "--context", "ctx", "--reports",
                    "out", "--log-format", "json", "--dry-run", "-v", "--helm", "/opt/helm",
                    "--force", "--skip-steps", "promote"});
  ASSERT_TRUE(p.result.options.has_value()) << p.err;
  const CliOptions& o = p.options();
  EXPECT_EQ(o.command, CommandId::kPromote);
  EXPECT_EQ(o.config_path, "c.yaml");
  EXPECT_EQ(o.kubeconfig, "kc");
  EXPECT_EQ(o.context, "ctx");
  EXPECT_EQ(o.reports_dir, "out");
  EXPECT_EQ(o.log_format, OutputFormat::kJson);
  EXPECT_TRUE(o.dry_run);
  EXPECT_TRUE(o.verbose);
  EXPECT_EQ(o.helm_path, "/opt/helm");
  EXPECT_TRUE(o.force);
  EXPECT_TRUE(o.skip_steps);
}

TEST(Options, EveryGlobalFlagAfterTheCommand) {
  Parsed p = Parse({"shift", "60", "--config", "c.yaml", "--kubeconfig", "kc", "--context", "ctx",
                    "--reports", "out", "--log-format", "json", "--dry-run", "--verbose", "--helm",
                    "/opt/helm", "--force", "--skip-steps"});
  ASSERT_TRUE(p.result.options.has_value()) << p.err;
  const CliOptions& o = p.options();
  EXPECT_EQ(o.command, CommandId::kShift);
  EXPECT_EQ(o.weight, 60);
  EXPECT_EQ(o.config_path, "c.yaml");
  EXPECT_EQ(o.kubeconfig, "kc");
  EXPECT_EQ(o.context, "ctx");
  EXPECT_EQ(o.reports_dir, "out");
  EXPECT_EQ(o.log_format, OutputFormat::kJson);
  EXPECT_TRUE(o.dry_run);
  EXPECT_TRUE(o.verbose);
  EXPECT_EQ(o.helm_path, "/opt/helm");
  EXPECT_TRUE(o.force);
  EXPECT_TRUE(o.skip_steps);
}

TEST(Options, FlagsAroundNestedCommands) {
  Parsed p = Parse({"--dry-run", "config", "validate", "--config", "x.yaml"});
  ASSERT_TRUE(p.result.options.has_value()) << p.err;
  EXPECT_EQ(p.options().command, CommandId::kConfigValidate);
  EXPECT_EQ(p.options().config_path, "x.yaml");
  EXPECT_TRUE(p.options().dry_run);

  p = Parse({"status", "-o", "json", "--context", "prod"});
  ASSERT_TRUE(p.result.options.has_value()) << p.err;
  EXPECT_EQ(p.options().status_format, OutputFormat::kJson);
  EXPECT_EQ(p.options().context, "prod");
}

TEST(Options, ConfigFromEnvironmentUnlessFlag) {
  Parsed p = Parse({"plan"}, {{"CANARYCTL_CONFIG", "deploy/rollout.yaml"}});
  ASSERT_TRUE(p.result.options.has_value());
  EXPECT_EQ(p.options().config_path, "deploy/rollout.yaml");

  p = Parse({"plan", "--config", "mine.yaml"}, {{"CANARYCTL_CONFIG", "deploy/rollout.yaml"}});
  ASSERT_TRUE(p.result.options.has_value());
  EXPECT_EQ(p.options().config_path, "mine.yaml");

  p = Parse({"plan"}, {{"CANARYCTL_CONFIG", ""}});
  ASSERT_TRUE(p.result.options.has_value());
  EXPECT_EQ(p.options().config_path, "rollout.yaml");
}

TEST(Options, LogFormatFromEnvironmentUnlessFlag) {
  Parsed p = Parse({"plan"}, {{"CANARYCTL_LOG_FORMAT", "json"}});
  ASSERT_TRUE(p.result.options.has_value());
  EXPECT_EQ(p.options().log_format, OutputFormat::kJson);

  p = Parse({"plan", "--log-format", "text"}, {{"CANARYCTL_LOG_FORMAT", "json"}});
  ASSERT_TRUE(p.result.options.has_value());
  EXPECT_EQ(p.options().log_format, OutputFormat::kText);

  ExpectUsageError({"plan"}, {{"CANARYCTL_LOG_FORMAT", "xml"}});
  ExpectUsageError({"plan", "--log-format", "xml"});
}

TEST(Options, ShiftWeightBounds) {
  for (int w : {0, 1, 30, 99, 100}) {
    Parsed p = Parse({"shift", std::to_string(w)});
    ASSERT_TRUE(p.result.options.has_value()) << w << ": " << p.err;
    EXPECT_EQ(p.options().weight, w);
  }
  ExpectUsageError({"shift", "101"});
  ExpectUsageError({"shift", "-1"});
  ExpectUsageError({"shift", "abc"});
  ExpectUsageError({"shift", "30.5"});
  ExpectUsageError({"shift"});
  ExpectUsageError({"shift", "30", "40"});
}

TEST(Options, StatusOutput) {
  Parsed p = Parse({"status"});
  ASSERT_TRUE(p.result.options.has_value());
  EXPECT_EQ(p.options().status_format, OutputFormat::kText);
  p = Parse({"status", "-o", "json"});
  ASSERT_TRUE(p.result.options.has_value());
  EXPECT_EQ(p.options().status_format, OutputFormat::kJson);
  p = Parse({"status", "--output", "text"});
  ASSERT_TRUE(p.result.options.has_value());
  EXPECT_EQ(p.options().status_format, OutputFormat::kText);
  ExpectUsageError({"status", "-o", "yaml"});
  // -o belongs to status only.
  ExpectUsageError({"deploy", "-o", "json"});
}

TEST(Options, RunPause) {
  Parsed p = Parse({"run"});
  ASSERT_TRUE(p.result.options.has_value());
  EXPECT_EQ(p.options().pause, std::chrono::seconds(10));
  p = Parse({"run", "--pause", "500ms"});
  ASSERT_TRUE(p.result.options.has_value());
  EXPECT_EQ(p.options().pause, std::chrono::milliseconds(500));
  p = Parse({"run", "--pause", "1m"});
  ASSERT_TRUE(p.result.options.has_value());
  EXPECT_EQ(p.options().pause, std::chrono::minutes(1));
  p = Parse({"run", "--pause", "0"});
  ASSERT_TRUE(p.result.options.has_value());
  EXPECT_EQ(p.options().pause, std::chrono::milliseconds(0));
  ExpectUsageError({"run", "--pause", "soon"});
  ExpectUsageError({"run", "--pause", "-5s"});
  ExpectUsageError({"deploy", "--pause", "1s"});
}

TEST(Options, UsageErrors) {
  ExpectUsageError({});
  ExpectUsageError({"--bogus", "deploy"});
  ExpectUsageError({"deploy", "--bogus"});
  ExpectUsageError({"launch"});
  ExpectUsageError({"config"});
  ExpectUsageError({"config", "show"});
  ExpectUsageError({"--config"});
  ExpectUsageError({"deploy", "extra"});
}

TEST(Options, PipelineDefaultsAndFlags) {
  Parsed p = Parse({"pipeline"});
  ASSERT_TRUE(p.result.options.has_value()) << p.err;
  const ci::PipelineOptions& d = p.options().pipeline;
  EXPECT_FALSE(p.options().pipeline_template);
  EXPECT_EQ(p.options().pipeline_output, "");
  EXPECT_TRUE(d.image.starts_with("registry.gitlab.com/canaryctl/canaryctl:")) << d.image;
  EXPECT_EQ(d.job_prefix, "rollout-");
  EXPECT_EQ(d.stage, "rollout");
  EXPECT_EQ(d.rollback_stage, "rollback");
  EXPECT_EQ(d.environment, "production");
  EXPECT_EQ(d.tier, "production");
  EXPECT_EQ(d.resource_group, "canaryctl/$CI_PROJECT_PATH_SLUG/$CI_ENVIRONMENT_SLUG");
  EXPECT_TRUE(d.manual_promotion);

  p = Parse(
      {"pipeline", "-o", "x.yml", "--manual-promotion", "false", "--tier", "other", "--dry-run"});
  ASSERT_TRUE(p.result.options.has_value()) << p.err;
  EXPECT_EQ(p.options().pipeline_output, "x.yml");
  EXPECT_FALSE(p.options().pipeline.manual_promotion);
  EXPECT_EQ(p.options().pipeline.tier, "other");
  EXPECT_TRUE(p.options().dry_run);

  p = Parse({"pipeline", "--template", "blue-green", "--output", "t.yml"});
  ASSERT_TRUE(p.result.options.has_value()) << p.err;
  EXPECT_EQ(p.options().pipeline_template, ci::PipelineTemplate::kBlueGreen);

  ExpectUsageError({"pipeline", "--tier", "prod"});
  ExpectUsageError({"pipeline", "--job-prefix", "a b"});
  ExpectUsageError({"pipeline", "--manual-promotion", "1"});
  ExpectUsageError({"pipeline", "--template", "nope"});
  ExpectUsageError({"pipeline", "--template", "hybrid", "--environment", "staging"});
  ExpectUsageError({"pipeline", "--environment", ""});
  // The tier's message names the flag and the value once.
  Parsed tier = Parse({"pipeline", "--tier", "prod"});
  EXPECT_NE(tier.err.find("--tier: 'prod' is not one of"), std::string::npos) << tier.err;
}

TEST(Options, UnknownFlagMessageNamesIt) {
  Parsed p = Parse({"deploy", "--bogus"});
  EXPECT_NE(p.err.find("--bogus"), std::string::npos) << p.err;
}

TEST(Options, TopLevelHelpListsCommandsAndExitCodes) {
  Parsed p = Parse({"--help"});
  EXPECT_FALSE(p.result.options.has_value());
  EXPECT_EQ(p.result.exit_code, 0);
  EXPECT_EQ(p.err, "");
  for (const char* word :
       {"deploy",    "test",         "shift",        "promote",   "rollback",  "status",
        "plan",      "run",          "config",       "version",   "--config",  "--kubeconfig",
        "--context", "--reports",    "--log-format", "--dry-run", "--verbose", "--helm",
        "--force",   "--skip-steps", "Exit codes",   "130"}) {
    EXPECT_NE(p.out.find(word), std::string::npos) << word;
  }
}

TEST(Options, EveryCommandHasHelp) {
  for (std::vector<std::string> args : {std::vector<std::string>{"deploy"},
                                        {"test"},
                                        {"shift"},
                                        {"promote"},
                                        {"rollback"},
                                        {"status"},
                                        {"plan"},
                                        {"run"},
                                        {"config"},
                                        {"config", "validate"},
                                        {"config", "print"},
                                        {"version"},
                                        {"pipeline"}}) {
    args.push_back("--help");
    Parsed p = Parse(args);
    EXPECT_FALSE(p.result.options.has_value());
    EXPECT_EQ(p.result.exit_code, 0) << args[0];
    EXPECT_NE(p.out.find("Usage: canaryctl " + args[0]), std::string::npos) << p.out;
  }
  Parsed shift = Parse({"shift", "--help"});
  EXPECT_NE(shift.out.find("WEIGHT"), std::string::npos);
  Parsed status = Parse({"status", "--help"});
  EXPECT_NE(status.out.find("--output"), std::string::npos);
  Parsed run = Parse({"run", "--help"});
  EXPECT_NE(run.out.find("--pause"), std::string::npos);
  Parsed config = Parse({"config", "--help"});
  EXPECT_NE(config.out.find("validate"), std::string::npos);
  EXPECT_NE(config.out.find("print"), std::string::npos);
}

}  // namespace
}  // namespace canaryctl::cli

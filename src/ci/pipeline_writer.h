// GitLab CI YAML for a rollout: one job per phase and one blocking manual gate per traffic step
// (shared/DESIGN.md §1, §6; shared/notes/gitlab-ci.md). Pure: no I/O, no clock, no cluster.
//
// Two outputs:
//   - WritePipelineTemplate(): a static template to `include:`, with a `spec: inputs:` header,
//     `---`, then jobs that use `$[[ inputs.x ]]`. pipeline-templates/<name>.gitlab-ci.yml are
//     exactly these bytes (a unit test compares them).
//   - WriteChildPipeline(): a complete pipeline with concrete values for one configured plan:
//     `stages: [stage, rollback_stage]`, a hidden job every job extends, deploy, test, one gate
//     per step after 0% (any number of steps), promote, rollback (on_failure, in the rollback
//     stage), abort.
// Every job extends the hidden `.<prefix>canaryctl`, which carries the image, the stage,
// `interruptible: false`, the resource group, the CANARYCTL_* variables and the report
// artifacts. Each job names its whole environment (GitLab's schema wants a name in every
// `environment:`), with its action: deploy `prepare`, test `verify`, the steps, promote,
// rollback and abort `start` (they change what production serves).
//
// The YAML comes from YAML::Emitter only; a value is written plain only when GitLab's YAML 1.1
// parser reads it back as the same string (so "0,100", "true" or "1e3" are quoted), otherwise
// quoted. Values with quotes, colons, `#` or spaces come back unchanged. Errors are kConfig
// values whose message names the flag (--job-prefix, --tier, ...) and the value.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace canaryctl::ci {

enum class PipelineTemplate { kHybrid, kCanary, kBlueGreen, kDynamic };

// "hybrid", "canary", "blue-green", "dynamic".
std::string_view PipelineTemplateName(PipelineTemplate t);
std::optional<PipelineTemplate> ParsePipelineTemplate(std::string_view name);
inline constexpr PipelineTemplate kAllPipelineTemplates[] = {
    PipelineTemplate::kHybrid, PipelineTemplate::kCanary, PipelineTemplate::kBlueGreen,
    PipelineTemplate::kDynamic};

// "registry.gitlab.com/canaryctl/canaryctl:<version>": the image of the canaryctl that wrote
// the pipeline, so the jobs run the same flags and behaviour.
std::string DefaultPipelineImage(std::string_view version);

// GitLab's deployment tiers.
inline constexpr const char* kDeploymentTiers[] = {"production", "staging", "testing",
                                                   "development", "other"};

struct PipelineOptions {
  std::string image;  // required; the CLI defaults it to DefaultPipelineImage(its version)
  std::string job_prefix = "rollout-";
  std::string stage = "rollout";
  std::string rollback_stage = "rollback";
  std::string environment = "production";
  std::string tier = "production";
  std::string resource_group = "canaryctl/$CI_PROJECT_PATH_SLUG/$CI_ENVIRONMENT_SLUG";
  // The kubeconfig context the jobs select (e.g. the GitLab agent's "group/agents:prod");
  // empty: $KUBE_CONTEXT when the job has it, else the kubeconfig's current context.
  std::string kube_context;
  bool manual_promotion = true;
};

// A job name prefix: letters, digits, '-', '_', '.', ':' only (possibly empty), so that every
// job name stays a plain, predictable identifier. The error names --job-prefix and the value.
Status ValidateJobPrefix(std::string_view prefix);
// One of kDeploymentTiers. The error names --tier and the value.
Status ValidateTier(std::string_view tier);
// Every option above, including: non-empty image, environment, resource group and stages; the
// rollout stage is not .post and the rollback stage is not .pre (rollback must come after
// every rollout job), and the two differ.
Status ValidatePipelineOptions(const PipelineOptions& options);

// What the child pipeline needs from the rollout configuration.
struct ChildPipelineSpec {
  std::string config_path;  // CANARYCTL_CONFIG of every job, as the plan job read it
  std::string strategy;     // "hybrid", "canary" or "blue-green"
  std::vector<int> steps;   // the plan's candidate weights: 0 first, strictly increasing, 100 last
};

// The child pipeline for `spec`, with `version` (canaryctl's) named in its first comment.
// kConfig error for invalid options or steps that are not a plan's (see ChildPipelineSpec).
Result<std::string> WriteChildPipeline(const ChildPipelineSpec& spec,
                                       const PipelineOptions& options, std::string_view version);

// The template `t`; its `image` input defaults to `default_image`.
Result<std::string> WritePipelineTemplate(PipelineTemplate t, std::string_view default_image);

}  // namespace canaryctl::ci

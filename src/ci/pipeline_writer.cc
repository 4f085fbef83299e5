#include "ci/pipeline_writer.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <sstream>

namespace canaryctl::ci {
namespace {

constexpr const char* kReportsDir = "canaryctl-reports";
constexpr const char* kChildPipelineFile = "canaryctl-pipeline.yml";

std::string Input(std::string_view name) { return "$[[ inputs." + std::string(name) + " ]]"; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// GitLab parses YAML 1.1 (Psych), which reads these plain scalars as something other than the
// string: booleans, null, merge keys, infinities, and numbers in forms such as "1e3", "0x1F",
// "1:30" or "0,100" (an octal integer there). Anything starting like a number is quoted.
bool PlainIsNotAString(std::string_view s) {
  if (s.empty()) return true;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (digit(s.front())) return true;
  if ((s.front() == '+' || s.front() == '-' || s.front() == '.') && s.size() > 1 &&
      (digit(s[1]) || s[1] == '.')) {
    return true;
  }
  static constexpr std::array<std::string_view, 16> kWords = {
      "y",    "n", "yes", "no", "on",   "off",   "true",  "false",
      "null", "~", "<<",  "=",  ".inf", "-.inf", "+.inf", ".nan"};
  return std::find(kWords.begin(), kWords.end(), Lower(s)) != kWords.end();
}

// Writes YAML through YAML::Emitter only. Strings are plain when that reads back as the same
// string, else single-quoted (the emitter itself falls back to double quotes for a value single
// quotes cannot hold, such as one with a newline).
class Yaml {
 public:
  Yaml() { out_.SetIndent(2); }

  Yaml& Str(std::string_view value) {
    std::string text(value);
    if (text.empty()) {
      out_ << YAML::DoubleQuoted << text;
      return *this;
    }
    if (!PlainIsNotAString(text)) {
      YAML::Emitter probe;
      probe << text;
      if (probe.good() && text == probe.c_str()) {
        out_ << text;
        return *this;
      }
    }
    out_ << YAML::SingleQuoted << text;
    return *this;
  }
  Yaml& Int(int value) {
    out_ << value;
    return *this;
  }
  Yaml& Bool(bool value) {
    out_ << value;
    return *this;
  }
  Yaml& Key(std::string_view key) {
    out_ << YAML::Key;
    Str(key);
    out_ << YAML::Value;
    return *this;
  }
  // A job name. Double-quoted when it holds an input reference, so a reader sees at once that
  // "$[[ inputs.job-prefix ]]deploy" is one name.
  Yaml& Name(std::string_view name) {
    if (name.find("$[[") == std::string_view::npos) return Str(name);
    out_ << YAML::DoubleQuoted << std::string(name);
    return *this;
  }
  Yaml& NameKey(std::string_view name) {
    out_ << YAML::Key;
    Name(name);
    out_ << YAML::Value;
    return *this;
  }
  Yaml& Names(const std::vector<std::string>& names) {
    BeginFlowSeq();
    for (const std::string& name : names) Name(name);
    return EndSeq();
  }
  Yaml& BeginMap() {
    out_ << YAML::BeginMap;
    return *this;
  }
  Yaml& BeginFlowMap() {
    out_ << YAML::Flow << YAML::BeginMap;
    return *this;
  }
  Yaml& EndMap() {
    out_ << YAML::EndMap;
    return *this;
  }
  Yaml& BeginSeq() {
    out_ << YAML::BeginSeq;
    return *this;
  }
  Yaml& BeginFlowSeq() {
    out_ << YAML::Flow << YAML::BeginSeq;
    return *this;
  }
  Yaml& EndSeq() {
    out_ << YAML::EndSeq;
    return *this;
  }
  Yaml& FlowSeq(const std::vector<std::string>& items) {
    BeginFlowSeq();
    for (const std::string& item : items) Str(item);
    return EndSeq();
  }
  Yaml& Seq(const std::vector<std::string>& items) {
    BeginSeq();
    for (const std::string& item : items) Str(item);
    return EndSeq();
  }
  // Lines of text; the emitter prefixes each with "# " at the current indentation. The newline
  // first keeps the emitter from appending the comment to the previous line.
  Yaml& Comment(std::string_view text) {
    if (out_.size() > 0) out_ << YAML::Newline;
    out_ << YAML::Comment(std::string(text));
    return *this;
  }

  // The document, ending with a newline, or the emitter's error.
  Result<std::string> Text() const {
    if (!out_.good()) return ConfigError("pipeline: YAML emitter: " + out_.GetLastError());
    return Tidy(out_.c_str());
  }

 private:
  // Layout only, over the emitter's output, whose every line is structure or a comment (no
  // scalar spans lines: the emitter escapes newlines in double quotes): drops the trailing
  // space the emitter leaves on a blank comment line, and puts exactly one blank line before
  // each top-level entry (before its comment, if any), which the emitter cannot do in a map.
  static std::string Tidy(const std::string& text) {
    std::istringstream in(text);
    std::string out;
    std::string line;
    bool previous_top_comment = true;  // no blank line before the first entry
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const size_t first = line.find_first_not_of(' ');
      const bool comment = first != std::string::npos && line[first] == '#';
      if (comment) {
        while (!line.empty() && line.back() == ' ') line.pop_back();
      }
      const bool top = !line.empty() && line.front() != ' ';
      if (top && !previous_top_comment) out += '\n';
      if (top) previous_top_comment = comment;
      out += line;
      out += '\n';
    }
    return out;
  }

  YAML::Emitter out_;
};

// The rollout jobs, with values that are either concrete (child pipeline) or `$[[ inputs.x ]]`
// references (template).
struct Jobs {
  enum class Promotion { kManual, kAutomatic, kFromInput };

  std::string prefix;
  std::string image;
  std::string stage;
  std::string rollback_stage;
  std::string config;
  std::string strategy;
  std::string steps_variable;      // CANARYCTL_TRAFFIC_STEPS: "0,30,60,100"
  std::vector<std::string> steps;  // the gated weights, after 0%
  std::string environment;
  std::string tier;
  std::string resource_group;
  std::string kube_context;  // empty: none (then KUBE_CONTEXT, then the current context)
  Promotion promotion = Promotion::kManual;
  bool blue_green = false;
};

void Extends(Yaml& y, const Jobs& j) { y.Key("extends").Name("." + j.prefix + "canaryctl"); }

// The whole environment, not only the action that `extends` would merge in: GitLab's CI
// schema (editors, gitlab-ci-local) requires a name in every job's environment.
void Environment(Yaml& y, const Jobs& j, const char* action) {
  y.Key("environment").BeginMap().Key("name").Str(j.environment);
  y.Key("deployment_tier").Str(j.tier);
  y.Key("action").Str(action);
  y.EndMap();
}

void Script(Yaml& y, const std::string& command) { y.Key("script").Seq({command}); }

void EmitHiddenJob(Yaml& y, const Jobs& j) {
  y.Comment(
      "What every job shares. Only jobs that change what production serves (the steps, promote,\n"
      "rollback, abort) record a deployment (action: start); deploy prepares, test verifies.");
  y.NameKey("." + j.prefix + "canaryctl").BeginMap();
  y.Key("image").BeginMap().Key("name").Str(j.image).Key("entrypoint").FlowSeq({""}).EndMap();
  y.Key("stage").Str(j.stage);
  y.Key("interruptible").Bool(false);
  y.Key("resource_group").Str(j.resource_group);
  y.Key("variables").BeginMap();
  y.Key("CANARYCTL_CONFIG").Str(j.config);
  y.Key("CANARYCTL_STRATEGY").Str(j.strategy);
  y.Key("CANARYCTL_TRAFFIC_STEPS").Str(j.steps_variable);
  y.Key("CANARYCTL_REPORTS_DIR").Str(kReportsDir);
  // Quoted in templates: an empty input must stay a string, not become null.
  if (!j.kube_context.empty()) y.Key("CANARYCTL_KUBE_CONTEXT").Name(j.kube_context);
  y.EndMap();
  // The kubeconfig context: the kube-context input, else KUBE_CONTEXT (Auto DevOps' variable,
  // wherever the user sets it), else the kubeconfig's current one. A job variable of its own,
  // because an empty job-level KUBE_CONTEXT would hide the user's global one.
  y.Key("before_script")
      .Seq({"canaryctl version",
            "context=\"${CANARYCTL_KUBE_CONTEXT:-${KUBE_CONTEXT:-}}\"; if [ -n \"$context\" ]; "
            "then kubectl config use-context \"$context\"; fi",
            "echo \"canaryctl: previous job: ${CANARYCTL_PHASE:-none} ${CANARYCTL_OUTCOME:-}, "
            "weights ${CANARYCTL_STABLE_WEIGHT:-?}/${CANARYCTL_CANDIDATE_WEIGHT:-?} "
            "(stable/candidate)\""});
  const std::string dir = std::string(kReportsDir) + "/";
  y.Key("artifacts").BeginMap();
  y.Key("when").Str("always");
  y.Key("expire_in").Str("30 days");
  y.Key("expose_as").Str("canaryctl report");
  y.Key("paths").Seq({dir + "report.html", dir + "summary.md", dir + "rollout.json"});
  y.Key("reports").BeginMap();
  y.Key("junit").Str(dir + "junit.xml");
  y.Key("dotenv").Str(dir + "rollout.env");
  y.Key("metrics").Str(dir + "metrics.txt");
  y.Key("annotations").Str(dir + "annotations.json");
  y.EndMap().EndMap().EndMap();
}

void EmitJobs(Yaml& y, const Jobs& j) {
  const std::string& p = j.prefix;
  EmitHiddenJob(y, j);

  y.NameKey(p + "deploy").BeginMap();
  Extends(y, j);
  Environment(y, j, "prepare");
  Script(y, "canaryctl deploy");
  y.EndMap();

  y.NameKey(p + "test").BeginMap();
  Extends(y, j);
  y.Key("needs").Names({p + "deploy"});
  Environment(y, j, "verify");
  Script(y, "canaryctl test");
  y.EndMap();

  // One blocking gate per step, each after the previous one: the steps run in order or not at
  // all.
  std::string previous = p + "test";
  for (const std::string& weight : j.steps) {
    const std::string name = p + "shift-" + weight;
    if (j.blue_green) {
      y.Comment(
          "The switch: all traffic to the idle slot, where the candidate runs, after the checks\n"
          "at 0%.");
    }
    y.NameKey(name).BeginMap();
    Extends(y, j);
    y.Key("needs").Names({previous});
    y.Key("when").Str("manual");
    y.Key("allow_failure").Bool(false);
    Environment(y, j, "start");
    Script(y, "canaryctl shift " + weight);
    y.EndMap();
    previous = name;
  }

  if (j.blue_green) {
    y.Comment(
        "Records which slot is live; nothing is reinstalled. The other slot keeps the previous\n"
        "version for the next rollout.");
  }
  y.NameKey(p + "promote").BeginMap();
  Extends(y, j);
  y.Key("needs").Names({previous});
  switch (j.promotion) {
    case Jobs::Promotion::kFromInput:
      y.Key("rules").BeginSeq();
      y.BeginMap().Key("if").Str("\"" + Input("manual-promotion") + "\" == \"true\"");
      y.Key("when").Str("manual").Key("allow_failure").Bool(false).EndMap();
      y.BeginMap().Key("when").Str("on_success").EndMap();
      y.EndSeq();
      break;
    case Jobs::Promotion::kManual:
      y.Key("when").Str("manual").Key("allow_failure").Bool(false);
      break;
    case Jobs::Promotion::kAutomatic:
      y.Key("when").Str("on_success");
      break;
  }
  Environment(y, j, "start");
  Script(y, "canaryctl promote");
  y.EndMap();

  y.Comment(
      "Runs when a job of an earlier stage failed. A failed step has already sent all traffic to\n"
      "stable; this converges (and applies rollback.candidate). It refuses, with exit 4, to touch\n"
      "a rollout another pipeline holds.");
  y.NameKey(p + "rollback").BeginMap();
  Extends(y, j);
  y.Key("stage").Str(j.rollback_stage);
  y.Key("when").Str("on_failure");
  Environment(y, j, "start");
  Script(y, "canaryctl rollback");
  y.EndMap();

  y.Comment(
      "Available from the pipeline's start. It queues behind a running job of the same resource\n"
      "group: cancel that job first to stop it at once (canaryctl leaves a consistent state).");
  y.NameKey(p + "abort").BeginMap();
  Extends(y, j);
  y.Key("needs").Names({});
  y.Key("when").Str("manual");
  y.Key("allow_failure").Bool(true);
  Environment(y, j, "start");
  Script(y, "canaryctl rollback");
  y.EndMap();
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

// ---- templates ----

struct TemplateText {
  const char* strategy;  // CANARYCTL_STRATEGY
  const char* about;     // the header comment after the "Generated by" line
  const char* include_inputs;
  int step1;  // defaults of the step inputs; 0: no step inputs
  int step2;
};

TemplateText TextOf(PipelineTemplate t) {
  switch (t) {
    case PipelineTemplate::kHybrid:
      return {"hybrid",
              "canaryctl: the hybrid rollout (DESIGN §1), one GitLab job per phase. The stable "
              "release runs\nin one namespace, the candidate in another, and an Istio "
              "VirtualService splits the traffic.",
              "{config: deploy/rollout.yaml, step-1: 25, step-2: 50}", 30, 60};
    case PipelineTemplate::kCanary:
      return {"canary",
              "canaryctl: the canary rollout, one GitLab job per phase. Both releases run in one "
              "namespace\n(`app` and `app-canary`), an Istio VirtualService splits the traffic, "
              "and promote upgrades\n`app` to the candidate's version.",
              "{config: deploy/rollout.yaml, step-1: 5, step-2: 25}", 10, 50};
    case PipelineTemplate::kBlueGreen:
      return {"blue-green",
              "canaryctl: the blue-green rollout, one GitLab job per phase. Two slots, blue and "
              "green: the\ncandidate goes to the idle one, is tested there at 0%, then takes all "
              "the traffic at once.",
              "{config: deploy/rollout.yaml}", 0, 0};
    case PipelineTemplate::kDynamic:
      return {"",
              "canaryctl: a rollout with one gated job per step of the configured plan, whatever "
              "the steps.\nThe plan job runs `canaryctl pipeline`, which reads rollout.yaml "
              "(and nothing in the cluster)\nand writes a child pipeline; the pipeline job runs "
              "it, and passes or fails with it.",
              "{config: deploy/rollout.yaml, environment: staging, tier: staging}", 0, 0};
  }
  return {"", "", "", 0, 0};
}

std::string FlowComment(PipelineTemplate t) {
  switch (t) {
    case PipelineTemplate::kHybrid:
    case PipelineTemplate::kCanary:
      return "  deploy -> test at 0% -> [gate] shift step-1 -> [gate] shift step-2 -> [gate] "
             "shift 100\n         -> [gate] promote; rollback when a job fails; abort (manual) "
             "at any time";
    case PipelineTemplate::kBlueGreen:
      return "  deploy (to the idle slot) -> test at 0% -> [gate] shift 100 (switch the slots)\n"
             "         -> [gate] promote (record the live slot); rollback when a job fails; "
             "abort (manual)\n         at any time";
    case PipelineTemplate::kDynamic:
      return "  plan (writes canaryctl-pipeline.yml) -> pipeline (runs it as a child pipeline):\n"
             "  deploy -> test at 0% -> [gate] shift <step> ... -> [gate] shift 100 -> [gate] "
             "promote;\n  rollback when a job fails; abort (manual) at any time";
  }
  return "";
}

std::string HeaderComment(PipelineTemplate t) {
  const TemplateText text = TextOf(t);
  const std::string name(PipelineTemplateName(t));
  std::string out = "Generated by `canaryctl pipeline --template " + name +
                    "`; edit src/ci/pipeline_writer.cc,\nnot this file (a unit test fails when "
                    "the two differ).\n\n" +
                    text.about + "\n\n" + FlowComment(t) + "\n\n";
  if (t == PipelineTemplate::kDynamic) {
    out +=
        "The child pipeline holds the same jobs as the hybrid template, with the configuration's\n"
        "strategy and steps. rollout.yaml is read (and its ${VAR}s expanded) in the plan job, "
        "which\nhas no environment: variables scoped to the environment are not set there.\n\n";
  } else {
    out +=
        "Every gate is a blocking manual job: the pipeline waits, \"blocked\", until someone runs "
        "it.\nEach step job shifts the traffic, then runs the checks, load and analysis at that "
        "weight, and\nrolls back by itself when a verdict fails. The jobs' dotenv "
        "(canaryctl-reports/rollout.env)\nfeeds the next job.\n\n";
  }
  out +=
      "  include:\n    - project: <group>/canaryctl\n      ref: <tag>\n      file: "
      "pipeline-templates/" +
      name + ".gitlab-ci.yml\n      inputs: " + text.include_inputs;
  return out;
}

void StringInput(Yaml& y, std::string_view name, std::string_view default_value,
                 std::string_view description, const std::vector<std::string>& options = {}) {
  y.Key(name).BeginMap().Key("type").Str("string").Key("default").Str(default_value);
  if (!options.empty()) y.Key("options").FlowSeq(options);
  y.Key("description").Str(description).EndMap();
}

void NumberInput(Yaml& y, std::string_view name, int default_value, std::string_view description) {
  y.Key(name).BeginMap().Key("type").Str("number").Key("default").Int(default_value);
  y.Key("description").Str(description).EndMap();
}

Result<std::string> TemplateHeader(PipelineTemplate t, std::string_view default_image) {
  const TemplateText text = TextOf(t);
  const PipelineOptions defaults;
  Yaml y;
  y.Comment(HeaderComment(t));
  y.BeginMap().Key("spec").BeginMap().Key("inputs").BeginMap();
  StringInput(y, "config", "rollout.yaml", "Path of rollout.yaml in the repository.");
  StringInput(y, "image", default_image,
              "The canaryctl image (canaryctl, helm and kubectl on PATH).");
  StringInput(y, "job-prefix", defaults.job_prefix,
              "Prefix of every job name; give each app its own when one pipeline rolls out "
              "several.");
  if (t == PipelineTemplate::kDynamic) {
    StringInput(y, "stage", "deploy", "Stage of the plan job and of the job that runs the child.");
  } else {
    StringInput(y, "stage", "deploy",
                t == PipelineTemplate::kBlueGreen
                    ? "Stage of the rollout jobs (deploy, test, the switch, promote, abort)."
                    : "Stage of the rollout jobs (deploy, test, the steps, promote, abort).");
    StringInput(y, "rollback-stage", ".post",
                "Stage of the on_failure rollback job; it must come after every other stage.");
  }
  if (text.step1 > 0) {
    NumberInput(y, "step-1", text.step1, "Candidate weight (%) of the first traffic step.");
    NumberInput(y, "step-2", text.step2,
                "Candidate weight (%) of the second traffic step; the third is 100.");
  }
  StringInput(y, "environment", defaults.environment,
              "The GitLab environment the rollout deploys to.");
  StringInput(y, "tier", defaults.tier, "The environment's deployment tier.",
              std::vector<std::string>(std::begin(kDeploymentTiers), std::end(kDeploymentTiers)));
  StringInput(y, "resource-group", defaults.resource_group,
              "One job at a time per app and environment, across pipelines.");
  StringInput(y, "kube-context", "",
              "The kubeconfig context (GitLab agent: <agent project path>:<agent name>); empty: "
              "$KUBE_CONTEXT, else the current context.");
  y.Key("manual-promotion").BeginMap().Key("type").Str("boolean").Key("default").Bool(true);
  y.Key("description").Str("Whether promotion waits behind its own manual gate.").EndMap();
  y.EndMap().EndMap().EndMap();
  return y.Text();
}

// The dynamic template's jobs: plan writes the child pipeline, pipeline triggers it.
void EmitDynamicJobs(Yaml& y) {
  const std::string p = Input("job-prefix");
  const std::string plan = p + "plan";
  // Each flag reads a variable GitLab does not expand, so that a value such as
  // $CI_ENVIRONMENT_SLUG reaches the child's jobs (which have an environment) unexpanded, and
  // no quote in a value can break the script.
  struct Carried {
    const char* flag;
    const char* variable;
    const char* input;
  };
  static constexpr Carried kCarried[] = {
      {"--image", "CANARYCTL_CHILD_IMAGE", "image"},
      {"--job-prefix", "CANARYCTL_CHILD_JOB_PREFIX", "job-prefix"},
      {"--environment", "CANARYCTL_CHILD_ENVIRONMENT", "environment"},
      {"--tier", "CANARYCTL_CHILD_TIER", "tier"},
      {"--resource-group", "CANARYCTL_CHILD_RESOURCE_GROUP", "resource-group"},
      {"--kube-context", "CANARYCTL_CHILD_KUBE_CONTEXT", "kube-context"},
  };
  std::string command = std::string("canaryctl pipeline --output ") + kChildPipelineFile;
  for (const Carried& c : kCarried) {
    command += std::string(" ") + c.flag + " \"$" + c.variable + "\"";
  }
  // A boolean input, interpolated inside the string as true or false.
  command += " --manual-promotion " + Input("manual-promotion");

  y.Comment(
      "Plans the rollout: reads the configuration and writes the child pipeline. It runs no\n"
      "cluster command and changes nothing, hence no environment and no resource group. " +
      std::string("Each flag\nreads a variable GitLab does not expand (expand: false), so that "
                  "$CI_ENVIRONMENT_SLUG in a\nvalue is expanded in the child's jobs, which have "
                  "an environment, and a quote in a value\ncannot break the script."));
  y.NameKey(plan).BeginMap();
  y.Key("image").BeginMap().Key("name").Str(Input("image"));
  y.Key("entrypoint").FlowSeq({""}).EndMap();
  y.Key("stage").Str(Input("stage"));
  y.Key("variables").BeginMap();
  y.Key("CANARYCTL_CONFIG").Str(Input("config"));
  for (const Carried& c : kCarried) {
    y.Key(c.variable).BeginFlowMap().Key("value").Str(Input(c.input));
    y.Key("expand").Bool(false).EndMap();
  }
  y.EndMap();
  y.Key("script").Seq({"canaryctl version", command});
  y.Key("artifacts").BeginMap().Key("paths").FlowSeq({kChildPipelineFile}).EndMap();
  y.EndMap();

  y.Comment(
      "Runs the child pipeline the plan job wrote. strategy: depend makes this job pass or fail\n"
      "with the child pipeline (older GitLab and gitlab-ci-local know it; newer GitLab also has\n"
      "mirror).");
  y.NameKey(p + "pipeline").BeginMap();
  y.Key("stage").Str(Input("stage"));
  y.Key("needs").Names({plan});
  y.Key("trigger").BeginMap().Key("include").BeginSeq();
  y.BeginMap().Key("artifact").Str(kChildPipelineFile).Key("job").Name(plan).EndMap();
  y.EndSeq().Key("strategy").Str("depend").EndMap();
  y.EndMap();
}

Status Invalid(std::string_view flag, std::string_view value, std::string_view why) {
  return ConfigError(std::string(flag) + ": '" + std::string(value) + "' " + std::string(why));
}

}  // namespace

std::string_view PipelineTemplateName(PipelineTemplate t) {
  switch (t) {
    case PipelineTemplate::kHybrid:
      return "hybrid";
    case PipelineTemplate::kCanary:
      return "canary";
    case PipelineTemplate::kBlueGreen:
      return "blue-green";
    case PipelineTemplate::kDynamic:
      return "dynamic";
  }
  return "?";
}

std::optional<PipelineTemplate> ParsePipelineTemplate(std::string_view name) {
  for (PipelineTemplate t : kAllPipelineTemplates) {
    if (PipelineTemplateName(t) == name) return t;
  }
  return std::nullopt;
}

std::string DefaultPipelineImage(std::string_view version) {
  return "registry.gitlab.com/canaryctl/canaryctl:" + std::string(version);
}

Status ValidateJobPrefix(std::string_view prefix) {
  for (char c : prefix) {
    const bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) {
      return Invalid("--job-prefix", prefix,
                     "may hold only letters, digits, '-', '_', '.' and ':'");
    }
  }
  return Done{};
}

Status ValidateTier(std::string_view tier) {
  for (const char* known : kDeploymentTiers) {
    if (tier == known) return Done{};
  }
  return Invalid("--tier", tier, "is not one of production, staging, testing, development, other");
}

Status ValidatePipelineOptions(const PipelineOptions& o) {
  if (Status s = ValidateJobPrefix(o.job_prefix); !s.ok()) return s;
  if (Status s = ValidateTier(o.tier); !s.ok()) return s;
  const std::pair<const char*, const std::string*> required[] = {
      {"--image", &o.image},
      {"--stage", &o.stage},
      {"--rollback-stage", &o.rollback_stage},
      {"--environment", &o.environment},
      {"--resource-group", &o.resource_group}};
  for (const auto& [flag, value] : required) {
    if (value->empty()) return Invalid(flag, *value, "is empty");
  }
  // The rollback job runs on failure of an earlier stage: it needs a stage after the rollout's.
  if (o.stage == ".post") return Invalid("--stage", o.stage, "leaves no stage for the rollback");
  if (o.rollback_stage == ".pre") {
    return Invalid("--rollback-stage", o.rollback_stage, "comes before every other stage");
  }
  if (o.stage == o.rollback_stage) {
    return Invalid("--rollback-stage", o.rollback_stage,
                   "must differ from --stage: rollback runs when an earlier stage failed");
  }
  return Done{};
}

Result<std::string> WriteChildPipeline(const ChildPipelineSpec& spec,
                                       const PipelineOptions& options, std::string_view version) {
  if (Status s = ValidatePipelineOptions(options); !s.ok()) return s.error();
  if (spec.strategy.empty()) return ConfigError("pipeline: the strategy is empty");
  const std::vector<int>& steps = spec.steps;
  bool plan_ok = steps.size() >= 2 && steps.front() == 0 && steps.back() == 100;
  for (size_t i = 1; plan_ok && i < steps.size(); ++i) plan_ok = steps[i] > steps[i - 1];
  if (!plan_ok) {
    return ConfigError("pipeline: steps must start at 0, increase strictly and end at 100");
  }

  Jobs j;
  j.prefix = options.job_prefix;
  j.image = options.image;
  j.stage = options.stage;
  j.rollback_stage = options.rollback_stage;
  j.config = spec.config_path;
  j.strategy = spec.strategy;
  std::vector<std::string> all;
  for (int w : steps) all.push_back(std::to_string(w));
  j.steps_variable = Join(all, ",");
  j.steps.assign(all.begin() + 1, all.end());
  j.environment = options.environment;
  j.tier = options.tier;
  j.resource_group = options.resource_group;
  j.kube_context = options.kube_context;
  j.promotion = options.manual_promotion ? Jobs::Promotion::kManual : Jobs::Promotion::kAutomatic;
  j.blue_green = spec.strategy == "blue-green";

  Yaml y;
  y.Comment("Generated by `canaryctl pipeline` (canaryctl " + std::string(version) +
            ") from the rollout configuration,\nfor each pipeline: do not edit.\n\nStrategy " +
            spec.strategy + ", steps " + Join(all, ", ") +
            ".\nOne blocking manual gate per step after 0%, then promote; rollback runs when a "
            "job fails;\nabort (manual) at any time.");
  y.BeginMap();
  std::vector<std::string> stages;
  // .pre and .post always exist and may not be listed.
  for (const std::string* stage : {&options.stage, &options.rollback_stage}) {
    if (*stage != ".pre" && *stage != ".post") stages.push_back(*stage);
  }
  y.Key("stages").FlowSeq(stages);
  EmitJobs(y, j);
  y.EndMap();
  return y.Text();
}

Result<std::string> WritePipelineTemplate(PipelineTemplate t, std::string_view default_image) {
  auto header = TemplateHeader(t, default_image);
  if (!header.ok()) return header.error();

  Yaml y;
  y.BeginMap();
  if (t == PipelineTemplate::kDynamic) {
    EmitDynamicJobs(y);
  } else {
    const TemplateText text = TextOf(t);
    Jobs j;
    j.prefix = Input("job-prefix");
    j.image = Input("image");
    j.stage = Input("stage");
    j.rollback_stage = Input("rollback-stage");
    j.config = Input("config");
    j.strategy = text.strategy;
    if (text.step1 > 0) {
      j.steps = {Input("step-1"), Input("step-2"), "100"};
    } else {
      j.steps = {"100"};
    }
    j.steps_variable = "0," + Join(j.steps, ",");
    j.environment = Input("environment");
    j.tier = Input("tier");
    j.resource_group = Input("resource-group");
    j.kube_context = Input("kube-context");
    j.promotion = Jobs::Promotion::kFromInput;
    j.blue_green = t == PipelineTemplate::kBlueGreen;
    EmitJobs(y, j);
  }
  y.EndMap();
  auto jobs = y.Text();
  if (!jobs.ok()) return jobs.error();
  // Two YAML documents, as GitLab wants a header: the emitter writes each, "---" joins them.
  return header.value() + "---\n" + jobs.value();
}

}  // namespace canaryctl::ci

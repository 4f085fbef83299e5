// The GitLab CI YAML of `canaryctl pipeline`, read back with yaml-cpp: the structure GitLab
// acts on (needs, when, allow_failure, environments, stages), not the text.

#include "ci/pipeline_writer.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace canaryctl::ci {
namespace {

PipelineOptions Options() {
  PipelineOptions o;
  o.image = DefaultPipelineImage("9.9.9");
  return o;
}

std::string ChildText(const std::vector<int>& steps, const PipelineOptions& o = Options(),
                      const std::string& strategy = "hybrid",
                      const std::string& config = "rollout.yaml") {
  auto text = WriteChildPipeline({config, strategy, steps}, o, "9.9.9");
  EXPECT_TRUE(text.ok()) << text.error().message;
  return text.ok() ? text.value() : "";
}

YAML::Node Child(const std::vector<int>& steps, const PipelineOptions& o = Options(),
                 const std::string& strategy = "hybrid") {
  return YAML::Load(ChildText(steps, o, strategy));
}

std::string Joined(const std::vector<int>& steps) {
  std::string out;
  for (int s : steps) out += (out.empty() ? "" : ",") + std::to_string(s);
  return out;
}

// A plain (unquoted) scalar: what GitLab reads as a boolean when it says true or false.
bool IsPlainBool(const YAML::Node& node, bool expected) {
  return node.IsScalar() && node.Tag() == "?" && node.Scalar() == (expected ? "true" : "false");
}

std::vector<std::string> Needs(const YAML::Node& job) {
  std::vector<std::string> out;
  for (const auto& n : job["needs"]) out.push_back(n.as<std::string>());
  return out;
}

// Jobs that block the pipeline until someone runs them.
std::vector<std::string> Gates(const YAML::Node& doc) {
  std::vector<std::string> out;
  for (const auto& kv : doc) {
    const YAML::Node job = kv.second;
    if (!job.IsMap() || !job["when"] || job["when"].as<std::string>() != "manual") continue;
    if (IsPlainBool(job["allow_failure"], false)) out.push_back(kv.first.as<std::string>());
  }
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// "" when equal, else the first line that differs (a diff of 200 lines helps nobody).
std::string FirstDifference(const std::string& file, const std::string& generated) {
  if (file == generated) return "";
  std::istringstream a(file), b(generated);
  std::string la, lb;
  for (int line = 1;; ++line) {
    const bool more_a = static_cast<bool>(std::getline(a, la));
    const bool more_b = static_cast<bool>(std::getline(b, lb));
    if (!more_a || !more_b || la != lb) {
      return "line " + std::to_string(line) + ": file has '" + (more_a ? la : "<end>") +
             "', generator '" + (more_b ? lb : "<end>") + "'";
    }
  }
}

TEST(ChildPipeline, NeedsChainFollowsTheStepsForAnyPlan) {
  const std::vector<std::vector<int>> plans = {
      {0, 100},
      {0, 17, 42, 100},
      {0, 7, 33, 50, 80, 100},
      {0, 1, 3, 7, 13, 21, 34, 55, 89, 99, 100},
  };
  for (const auto& steps : plans) {
    SCOPED_TRACE(Joined(steps));
    YAML::Node doc = Child(steps);
    EXPECT_EQ(doc[".rollout-canaryctl"]["variables"]["CANARYCTL_TRAFFIC_STEPS"].as<std::string>(),
              Joined(steps));
    std::vector<std::string> expected_gates;
    std::string previous = "rollout-test";
    for (size_t i = 1; i < steps.size(); ++i) {
      const std::string name = "rollout-shift-" + std::to_string(steps[i]);
      YAML::Node job = doc[name];
      ASSERT_TRUE(job.IsMap()) << name;
      EXPECT_EQ(Needs(job), std::vector<std::string>{previous}) << name;
      EXPECT_EQ(job["script"][0].as<std::string>(), "canaryctl shift " + std::to_string(steps[i]));
      expected_gates.push_back(name);
      previous = name;
    }
    expected_gates.push_back("rollout-promote");
    EXPECT_EQ(Needs(doc["rollout-test"]), std::vector<std::string>{"rollout-deploy"});
    EXPECT_EQ(Needs(doc["rollout-promote"]), std::vector<std::string>{previous});
    // Exactly one gate per step after 0%, plus promote; in document order, the steps' order.
    EXPECT_EQ(Gates(doc), expected_gates);
    EXPECT_FALSE(doc["rollout-shift-0"]);
  }
}

TEST(ChildPipeline, EveryGateIsBlockingManual) {
  YAML::Node doc = Child({0, 7, 33, 50, 80, 100});
  for (int w : {7, 33, 50, 80, 100}) {
    YAML::Node job = doc["rollout-shift-" + std::to_string(w)];
    EXPECT_EQ(job["when"].as<std::string>(), "manual") << w;
    EXPECT_TRUE(IsPlainBool(job["allow_failure"], false)) << w;
  }
}

TEST(ChildPipeline, EnvironmentActions) {
  YAML::Node doc = Child({0, 25, 100});
  const std::vector<std::pair<std::string, std::string>> actions = {
      {"rollout-deploy", "prepare"},  {"rollout-test", "verify"},   {"rollout-shift-25", "start"},
      {"rollout-shift-100", "start"}, {"rollout-promote", "start"}, {"rollout-rollback", "start"},
      {"rollout-abort", "start"}};
  for (const auto& [job, action] : actions) {
    YAML::Node env = doc[job]["environment"];
    EXPECT_EQ(env["action"].as<std::string>(), action) << job;
    EXPECT_EQ(env["name"].as<std::string>(), "production") << job;
    EXPECT_EQ(env["deployment_tier"].as<std::string>(), "production") << job;
  }
  // The hidden job has no environment of its own: every job names its whole environment.
  EXPECT_FALSE(doc[".rollout-canaryctl"]["environment"]);
}

TEST(ChildPipeline, EveryJobGetsTheResourceGroupAndIsNotInterruptible) {
  PipelineOptions o = Options();
  o.job_prefix = "web:";
  o.resource_group = "deploys/web";
  YAML::Node doc = Child({0, 50, 100}, o);
  YAML::Node hidden = doc[".web:canaryctl"];
  ASSERT_TRUE(hidden.IsMap());
  EXPECT_EQ(hidden["resource_group"].as<std::string>(), "deploys/web");
  EXPECT_TRUE(IsPlainBool(hidden["interruptible"], false));
  EXPECT_EQ(hidden["stage"].as<std::string>(), "rollout");
  EXPECT_EQ(hidden["image"]["name"].as<std::string>(), DefaultPipelineImage("9.9.9"));
  EXPECT_EQ(hidden["image"]["entrypoint"][0].as<std::string>(), "");
  EXPECT_EQ(hidden["variables"]["CANARYCTL_REPORTS_DIR"].as<std::string>(), "canaryctl-reports");
  EXPECT_EQ(hidden["artifacts"]["reports"]["dotenv"].as<std::string>(),
            "canaryctl-reports/rollout.env");
  int jobs = 0;
  for (const auto& kv : doc) {
    const std::string name = kv.first.as<std::string>();
    if (name == "stages" || name.starts_with(".")) continue;
    ++jobs;
    EXPECT_TRUE(name.starts_with("web:")) << name;
    EXPECT_EQ(kv.second["extends"].as<std::string>(), ".web:canaryctl") << name;
    // Nothing overrides what the hidden job guarantees.
    EXPECT_FALSE(kv.second["interruptible"]) << name;
    EXPECT_FALSE(kv.second["resource_group"]) << name;
    EXPECT_FALSE(kv.second["image"]) << name;
  }
  EXPECT_EQ(jobs, 7);  // deploy, test, 2 steps, promote, rollback, abort
}

TEST(ChildPipeline, ManualPromotion) {
  YAML::Node manual = Child({0, 100});
  EXPECT_EQ(manual["rollout-promote"]["when"].as<std::string>(), "manual");
  EXPECT_TRUE(IsPlainBool(manual["rollout-promote"]["allow_failure"], false));

  PipelineOptions o = Options();
  o.manual_promotion = false;
  YAML::Node automatic = Child({0, 100}, o);
  EXPECT_EQ(automatic["rollout-promote"]["when"].as<std::string>(), "on_success");
  EXPECT_FALSE(automatic["rollout-promote"]["allow_failure"]);
  EXPECT_EQ(Gates(automatic), std::vector<std::string>{"rollout-shift-100"});
}

TEST(ChildPipeline, RollbackRunsOnFailureInTheLastStage) {
  PipelineOptions o = Options();
  o.stage = "ship";
  o.rollback_stage = "undo";
  YAML::Node doc = Child({0, 30, 100}, o);
  ASSERT_TRUE(doc["stages"].IsSequence());
  ASSERT_EQ(doc["stages"].size(), 2u);
  EXPECT_EQ(doc["stages"][0].as<std::string>(), "ship");
  EXPECT_EQ(doc["stages"][1].as<std::string>(), "undo");
  YAML::Node rollback = doc["rollout-rollback"];
  EXPECT_EQ(rollback["when"].as<std::string>(), "on_failure");
  EXPECT_EQ(rollback["stage"].as<std::string>(), "undo");
  EXPECT_EQ(rollback["script"][0].as<std::string>(), "canaryctl rollback");
  EXPECT_FALSE(rollback["needs"]);  // stage order decides when it runs

  YAML::Node abort = doc["rollout-abort"];
  EXPECT_EQ(abort["when"].as<std::string>(), "manual");
  EXPECT_TRUE(IsPlainBool(abort["allow_failure"], true));
  EXPECT_TRUE(abort["needs"].IsSequence());
  EXPECT_EQ(abort["needs"].size(), 0u);
  EXPECT_EQ(abort["script"][0].as<std::string>(), "canaryctl rollback");

  // .post always exists after every stage; GitLab refuses it in `stages:`.
  o.rollback_stage = ".post";
  YAML::Node post = Child({0, 100}, o);
  EXPECT_EQ(post["stages"].size(), 1u);
  EXPECT_EQ(post["rollout-rollback"]["stage"].as<std::string>(), ".post");
}

TEST(ChildPipeline, ConfigValuesAndStrategy) {
  YAML::Node doc = YAML::Load(ChildText({0, 100}, Options(), "blue-green", "deploy/bg.yaml"));
  YAML::Node vars = doc[".rollout-canaryctl"]["variables"];
  EXPECT_EQ(vars["CANARYCTL_CONFIG"].as<std::string>(), "deploy/bg.yaml");
  EXPECT_EQ(vars["CANARYCTL_STRATEGY"].as<std::string>(), "blue-green");
  EXPECT_EQ(vars["CANARYCTL_TRAFFIC_STEPS"].as<std::string>(), "0,100");
  // YAML 1.1 (GitLab) would read a plain 0,100 as a number.
  EXPECT_EQ(vars["CANARYCTL_TRAFFIC_STEPS"].Tag(), "!");
}

// The agent's context reaches every job; without one, the job's own KUBE_CONTEXT (or the
// kubeconfig's current context) applies, so no empty value may hide it.
TEST(ChildPipeline, KubeContextIsSelectedBeforeCanaryctlRuns) {
  PipelineOptions o = Options();
  o.kube_context = "platform/agents:production";
  YAML::Node hidden = Child({0, 50, 100}, o)[".rollout-canaryctl"];
  EXPECT_EQ(hidden["variables"]["CANARYCTL_KUBE_CONTEXT"].as<std::string>(),
            "platform/agents:production");
  const std::string select = hidden["before_script"][1].as<std::string>();
  EXPECT_NE(select.find("${CANARYCTL_KUBE_CONTEXT:-${KUBE_CONTEXT:-}}"), std::string::npos)
      << select;
  EXPECT_NE(select.find("kubectl config use-context \"$context\""), std::string::npos) << select;
  EXPECT_FALSE(Child({0, 50, 100})[".rollout-canaryctl"]["variables"]["CANARYCTL_KUBE_CONTEXT"]);
}

TEST(ChildPipeline, BlueGreenHasExactlyOneGate) {
  YAML::Node doc = Child({0, 100}, Options(), "blue-green");
  PipelineOptions o = Options();
  o.manual_promotion = false;
  EXPECT_EQ(Gates(Child({0, 100}, o, "blue-green")), std::vector<std::string>{"rollout-shift-100"});
  EXPECT_EQ(Needs(doc["rollout-shift-100"]), std::vector<std::string>{"rollout-test"});
  EXPECT_EQ(Needs(doc["rollout-promote"]), std::vector<std::string>{"rollout-shift-100"});
  int shifts = 0;
  for (const auto& kv : doc) shifts += kv.first.as<std::string>().starts_with("rollout-shift-");
  EXPECT_EQ(shifts, 1);
}

TEST(ChildPipeline, HostileValuesComeBackUnchanged) {
  PipelineOptions o = Options();
  o.image = "reg.example:5000/team/\"app\":'v1' #tag: {x} [y] & *z !w % @ `";
  o.environment = "review/$CI_COMMIT_REF_SLUG: it's #1";
  o.resource_group = "true";
  o.stage = "0,100";
  o.rollback_stage = "- rollback: 'now'";
  o.tier = "staging";
  const std::string config = "my dir/it's #1: rollout.yaml";
  auto text = WriteChildPipeline({config, "hybrid", {0, 50, 100}}, o, "9.9.9");
  ASSERT_TRUE(text.ok()) << text.error().message;
  YAML::Node doc = YAML::Load(text.value());
  YAML::Node hidden = doc[".rollout-canaryctl"];
  EXPECT_EQ(hidden["image"]["name"].as<std::string>(), o.image);
  EXPECT_EQ(doc["rollout-deploy"]["environment"]["name"].as<std::string>(), o.environment);
  EXPECT_EQ(hidden["variables"]["CANARYCTL_CONFIG"].as<std::string>(), config);
  EXPECT_EQ(hidden["resource_group"].as<std::string>(), "true");
  EXPECT_EQ(hidden["resource_group"].Tag(), "!") << "a plain true is a boolean to GitLab";
  EXPECT_EQ(hidden["stage"].as<std::string>(), "0,100");
  EXPECT_EQ(hidden["stage"].Tag(), "!");
  EXPECT_EQ(doc["stages"][0].as<std::string>(), "0,100");
  EXPECT_EQ(doc["stages"][1].as<std::string>(), o.rollback_stage);
  EXPECT_EQ(doc["rollout-rollback"]["stage"].as<std::string>(), o.rollback_stage);
  EXPECT_EQ(doc["rollout-promote"]["environment"]["name"].as<std::string>(), o.environment);
  // Still one document with the same jobs: nothing leaked into the structure.
  EXPECT_EQ(YAML::LoadAll(text.value()).size(), 1u);
  EXPECT_EQ(Gates(doc),
            (std::vector<std::string>{"rollout-shift-50", "rollout-shift-100", "rollout-promote"}));
}

TEST(ChildPipeline, ScalarsGitLabWouldNotReadAsStringsAreQuoted) {
  for (const std::string value :
       {"yes", "Off", "null", "~", "1e3", "0x1F", "1:30", ".inf", "-1", "+.5", "<<", "="}) {
    PipelineOptions o = Options();
    o.environment = value;
    YAML::Node env = Child({0, 100}, o)["rollout-deploy"]["environment"]["name"];
    EXPECT_EQ(env.as<std::string>(), value);
    EXPECT_EQ(env.Tag(), "!") << value;
  }
  // Ordinary names stay plain.
  YAML::Node doc = Child({0, 100});
  EXPECT_EQ(doc["rollout-deploy"]["environment"]["name"].Tag(), "?");
  EXPECT_EQ(doc[".rollout-canaryctl"]["stage"].Tag(), "?");
}

TEST(ChildPipeline, InvalidStepsAreRefused) {
  for (const std::vector<int>& steps : std::vector<std::vector<int>>{
           {}, {100}, {0}, {0, 50}, {30, 100}, {0, 60, 30, 100}, {0, 50, 50, 100}}) {
    auto text = WriteChildPipeline({"rollout.yaml", "hybrid", steps}, Options(), "9.9.9");
    ASSERT_FALSE(text.ok()) << Joined(steps);
    EXPECT_EQ(text.error().kind, ErrorKind::kConfig);
  }
}

TEST(PipelineOptions, JobPrefix) {
  for (const char* good : {"", "rollout-", "web.api:v2_", "A-1"}) {
    EXPECT_TRUE(ValidateJobPrefix(good).ok()) << good;
  }
  for (const char* bad : {"a b", "a/b", "a$", "x\"", "é", "a\n", "a#", "a'"}) {
    Status s = ValidateJobPrefix(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.error().kind, ErrorKind::kConfig);
    EXPECT_NE(s.error().message.find("--job-prefix"), std::string::npos) << s.error().message;
    EXPECT_NE(s.error().message.find(bad), std::string::npos) << s.error().message;
  }
  PipelineOptions o = Options();
  o.job_prefix = "my app-";
  auto text = WriteChildPipeline({"rollout.yaml", "hybrid", {0, 100}}, o, "9.9.9");
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.error().message.find("--job-prefix"), std::string::npos);
}

TEST(PipelineOptions, OtherValues) {
  EXPECT_TRUE(ValidatePipelineOptions(Options()).ok());
  auto expect_bad = [](PipelineOptions o, const std::string& flag) {
    Status s = ValidatePipelineOptions(o);
    ASSERT_FALSE(s.ok()) << flag;
    EXPECT_EQ(s.error().kind, ErrorKind::kConfig);
    EXPECT_TRUE(s.error().message.starts_with(flag + ":")) << s.error().message;
  };
  PipelineOptions o = Options();
  o.tier = "prod";
  expect_bad(o, "--tier");
  o = Options();
  o.image = "";
  expect_bad(o, "--image");
  o = Options();
  o.rollback_stage = o.stage;
  expect_bad(o, "--rollback-stage");
  o = Options();
  o.stage = ".post";
  expect_bad(o, "--stage");
  o = Options();
  o.rollback_stage = ".pre";
  expect_bad(o, "--rollback-stage");
  for (const char* tier : kDeploymentTiers) EXPECT_TRUE(ValidateTier(tier).ok()) << tier;
  Status s = ValidateTier("Production");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("'Production'"), std::string::npos);
}

TEST(PipelineTemplate, Names) {
  for (PipelineTemplate t : kAllPipelineTemplates) {
    EXPECT_EQ(ParsePipelineTemplate(PipelineTemplateName(t)), t);
  }
  EXPECT_FALSE(ParsePipelineTemplate("bluegreen"));
}

std::vector<YAML::Node> Template(PipelineTemplate t) {
  auto text = WritePipelineTemplate(t, "registry.example/canaryctl:1");
  EXPECT_TRUE(text.ok());
  if (!text.ok()) return {};
  std::vector<YAML::Node> docs = YAML::LoadAll(text.value());
  EXPECT_EQ(docs.size(), 2u) << PipelineTemplateName(t);
  return docs;
}

std::set<std::string> InputNames(const YAML::Node& header) {
  std::set<std::string> names;
  for (const auto& kv : header["spec"]["inputs"]) names.insert(kv.first.as<std::string>());
  return names;
}

TEST(PipelineTemplate, FirstCommentSaysGeneratedAndShowsAnInclude) {
  for (PipelineTemplate t : kAllPipelineTemplates) {
    const std::string name(PipelineTemplateName(t));
    const std::string text = WritePipelineTemplate(t, "img").value();
    EXPECT_TRUE(text.starts_with("# Generated by `canaryctl pipeline --template " + name + "`"))
        << text.substr(0, 200);
    const size_t header_end = text.find("\nspec:\n");
    ASSERT_NE(header_end, std::string::npos);
    EXPECT_NE(text.substr(0, header_end).find("#   include:"), std::string::npos) << name;
    EXPECT_NE(text.substr(0, header_end).find("pipeline-templates/" + name + ".gitlab-ci.yml"),
              std::string::npos);
    EXPECT_NE(text.find("\n---\n"), std::string::npos);
  }
}

TEST(PipelineTemplate, HybridMatchesTheDesign) {
  std::vector<YAML::Node> docs = Template(PipelineTemplate::kHybrid);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(InputNames(docs[0]),
            (std::set<std::string>{"config", "image", "job-prefix", "stage", "rollback-stage",
                                   "step-1", "step-2", "environment", "tier", "resource-group",
                                   "kube-context", "manual-promotion"}));
  YAML::Node inputs = docs[0]["spec"]["inputs"];
  EXPECT_EQ(inputs["step-1"]["type"].as<std::string>(), "number");
  EXPECT_EQ(inputs["step-1"]["default"].as<int>(), 30);
  EXPECT_EQ(inputs["step-2"]["default"].as<int>(), 60);
  EXPECT_EQ(inputs["image"]["default"].as<std::string>(), "registry.example/canaryctl:1");
  EXPECT_EQ(inputs["rollback-stage"]["default"].as<std::string>(), ".post");
  EXPECT_EQ(inputs["tier"]["options"].size(), 5u);
  EXPECT_TRUE(IsPlainBool(inputs["manual-promotion"]["default"], true));

  const YAML::Node& jobs = docs[1];
  const std::string p = "$[[ inputs.job-prefix ]]";
  YAML::Node hidden = jobs["." + p + "canaryctl"];
  ASSERT_TRUE(hidden.IsMap());
  EXPECT_EQ(hidden["resource_group"].as<std::string>(), "$[[ inputs.resource-group ]]");
  EXPECT_TRUE(IsPlainBool(hidden["interruptible"], false));
  EXPECT_EQ(hidden["variables"]["CANARYCTL_STRATEGY"].as<std::string>(), "hybrid");
  EXPECT_EQ(hidden["variables"]["CANARYCTL_TRAFFIC_STEPS"].as<std::string>(),
            "0,$[[ inputs.step-1 ]],$[[ inputs.step-2 ]],100");
  EXPECT_EQ(hidden["variables"]["CANARYCTL_CONFIG"].as<std::string>(), "$[[ inputs.config ]]");
  EXPECT_EQ(hidden["artifacts"]["expose_as"].as<std::string>(), "canaryctl report");

  const std::vector<std::string> chain = {p + "test", p + "shift-$[[ inputs.step-1 ]]",
                                          p + "shift-$[[ inputs.step-2 ]]", p + "shift-100",
                                          p + "promote"};
  for (size_t i = 1; i < chain.size(); ++i) {
    EXPECT_EQ(Needs(jobs[chain[i]]), std::vector<std::string>{chain[i - 1]}) << chain[i];
  }
  EXPECT_EQ(Gates(jobs), (std::vector<std::string>{chain[1], chain[2], chain[3]}));
  YAML::Node rules = jobs[p + "promote"]["rules"];
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0]["if"].as<std::string>(), "\"$[[ inputs.manual-promotion ]]\" == \"true\"");
  EXPECT_EQ(rules[0]["when"].as<std::string>(), "manual");
  EXPECT_TRUE(IsPlainBool(rules[0]["allow_failure"], false));
  EXPECT_EQ(rules[1]["when"].as<std::string>(), "on_success");
  EXPECT_EQ(jobs[p + "rollback"]["stage"].as<std::string>(), "$[[ inputs.rollback-stage ]]");
  EXPECT_EQ(jobs[p + "rollback"]["when"].as<std::string>(), "on_failure");
  EXPECT_EQ(jobs[p + "abort"]["needs"].size(), 0u);
}

TEST(PipelineTemplate, CanaryAndBlueGreen) {
  std::vector<YAML::Node> canary = Template(PipelineTemplate::kCanary);
  ASSERT_EQ(canary.size(), 2u);
  EXPECT_EQ(canary[0]["spec"]["inputs"]["step-1"]["default"].as<int>(), 10);
  EXPECT_EQ(canary[0]["spec"]["inputs"]["step-2"]["default"].as<int>(), 50);
  const std::string p = "$[[ inputs.job-prefix ]]";
  EXPECT_EQ(canary[1]["." + p + "canaryctl"]["variables"]["CANARYCTL_STRATEGY"].as<std::string>(),
            "canary");

  std::vector<YAML::Node> bg = Template(PipelineTemplate::kBlueGreen);
  ASSERT_EQ(bg.size(), 2u);
  EXPECT_FALSE(bg[0]["spec"]["inputs"]["step-1"]);
  EXPECT_FALSE(bg[0]["spec"]["inputs"]["step-2"]);
  YAML::Node vars = bg[1]["." + p + "canaryctl"]["variables"];
  EXPECT_EQ(vars["CANARYCTL_STRATEGY"].as<std::string>(), "blue-green");
  EXPECT_EQ(vars["CANARYCTL_TRAFFIC_STEPS"].as<std::string>(), "0,100");
  EXPECT_EQ(vars["CANARYCTL_TRAFFIC_STEPS"].Tag(), "!");
  // One gate: the switch; promote (behind its rule) records the live slot.
  EXPECT_EQ(Gates(bg[1]), std::vector<std::string>{p + "shift-100"});
  EXPECT_EQ(Needs(bg[1][p + "shift-100"]), std::vector<std::string>{p + "test"});
  EXPECT_EQ(Needs(bg[1][p + "promote"]), std::vector<std::string>{p + "shift-100"});
}

TEST(PipelineTemplate, DynamicPlansThenTriggersTheChild) {
  std::vector<YAML::Node> docs = Template(PipelineTemplate::kDynamic);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(InputNames(docs[0]),
            (std::set<std::string>{"config", "image", "job-prefix", "stage", "environment", "tier",
                                   "resource-group", "kube-context", "manual-promotion"}));
  const std::string p = "$[[ inputs.job-prefix ]]";
  YAML::Node plan = docs[1][p + "plan"];
  ASSERT_TRUE(plan.IsMap());
  // It changes nothing: no environment, no resource group.
  EXPECT_FALSE(plan["environment"]);
  EXPECT_FALSE(plan["resource_group"]);
  EXPECT_EQ(plan["artifacts"]["paths"][0].as<std::string>(), "canaryctl-pipeline.yml");
  const std::string script = plan["script"][plan["script"].size() - 1].as<std::string>();
  EXPECT_TRUE(script.starts_with("canaryctl pipeline --output canaryctl-pipeline.yml")) << script;
  for (const char* flag : {"--image", "--job-prefix", "--environment", "--tier", "--resource-group",
                           "--kube-context", "--manual-promotion $[[ inputs.manual-promotion ]]"}) {
    EXPECT_NE(script.find(flag), std::string::npos) << flag;
  }
  YAML::Node vars = plan["variables"];
  EXPECT_EQ(vars["CANARYCTL_CONFIG"].as<std::string>(), "$[[ inputs.config ]]");
  EXPECT_EQ(vars["CANARYCTL_CHILD_RESOURCE_GROUP"]["value"].as<std::string>(),
            "$[[ inputs.resource-group ]]");
  EXPECT_TRUE(IsPlainBool(vars["CANARYCTL_CHILD_RESOURCE_GROUP"]["expand"], false));

  YAML::Node rollout = docs[1][p + "pipeline"];
  EXPECT_EQ(Needs(rollout), std::vector<std::string>{p + "plan"});
  EXPECT_EQ(rollout["trigger"]["include"][0]["artifact"].as<std::string>(),
            "canaryctl-pipeline.yml");
  EXPECT_EQ(rollout["trigger"]["include"][0]["job"].as<std::string>(), p + "plan");
  EXPECT_EQ(rollout["trigger"]["strategy"].as<std::string>(), "depend");
}

// The checked-in templates are this generator's output, byte for byte: regenerate them with
// `canaryctl pipeline --template NAME -o pipeline-templates/NAME.gitlab-ci.yml`.
TEST(PipelineTemplate, CheckedInFilesAreTheGeneratorOutput) {
  for (PipelineTemplate t : kAllPipelineTemplates) {
    const std::string name(PipelineTemplateName(t));
    const std::string path =
        std::string(CANARYCTL_SOURCE_DIR) + "/pipeline-templates/" + name + ".gitlab-ci.yml";
    auto generated = WritePipelineTemplate(t, DefaultPipelineImage(CANARYCTL_VERSION));
    ASSERT_TRUE(generated.ok());
    EXPECT_EQ(FirstDifference(ReadFile(path), generated.value()), "")
        << path << " differs from `canaryctl pipeline --template " << name << "`";
  }
}

}  // namespace
}  // namespace canaryctl::ci

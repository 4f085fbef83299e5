#include "ci/job_context.h"

#include <unistd.h>

#include "common/environment.h"

namespace canaryctl::ci {
namespace {

std::string Get(const Environment& env, const std::string& key) {
  auto it = env.find(key);
  return it == env.end() ? std::string() : it->second;
}

std::string GetOr(const Environment& env, const std::string& key, std::string fallback) {
  std::string value = Get(env, key);
  return value.empty() ? fallback : value;
}

}  // namespace

bool InGitLab(const Environment& env) {
  return !Get(env, "GITLAB_CI").empty() && !Get(env, "CI").empty();
}

namespace {

// Each predefined variable and the field it fills.
struct Field {
  const char* variable;
  std::string JobContext::*member;
};
constexpr Field kFields[] = {
    {"CI_PIPELINE_ID", &JobContext::pipeline_id},
    {"CI_PIPELINE_URL", &JobContext::pipeline_url},
    {"CI_JOB_ID", &JobContext::job_id},
    {"CI_JOB_URL", &JobContext::job_url},
    {"CI_JOB_NAME", &JobContext::job_name},
    {"CI_PROJECT_DIR", &JobContext::project_dir},
    {"CI_PROJECT_PATH", &JobContext::project_path},
    {"CI_COMMIT_SHA", &JobContext::commit_sha},
    {"CI_COMMIT_SHORT_SHA", &JobContext::commit_short_sha},
    {"CI_COMMIT_REF_NAME", &JobContext::commit_ref_name},
    {"CI_COMMIT_TAG", &JobContext::commit_tag},
    {"GITLAB_USER_LOGIN", &JobContext::user_login},
    {"CI_ENVIRONMENT_NAME", &JobContext::environment_name},
    {"CI_ENVIRONMENT_URL", &JobContext::environment_url},
    {"CI_SERVER_URL", &JobContext::server_url},
};

}  // namespace

std::vector<std::string> JobContextVariables() {
  std::vector<std::string> names;
  for (const Field& f : kFields) names.push_back(f.variable);
  for (const char* fallback : {"USER", "LOGNAME", "PWD"}) names.push_back(fallback);
  return names;
}

JobContext JobContextFromEnv(const Environment& env) {
  JobContext ctx;
  ctx.in_gitlab = InGitLab(env);
  for (const Field& f : kFields) ctx.*f.member = Get(env, f.variable);
  if (ctx.commit_short_sha.empty()) ctx.commit_short_sha = ctx.commit_sha.substr(0, 8);

  // Outside GitLab (or with a variable missing) keep the fields meaningful for humans.
  if (ctx.pipeline_id.empty()) ctx.pipeline_id = "local";
  if (ctx.job_name.empty() && !ctx.in_gitlab) ctx.job_name = "local";
  if (ctx.user_login.empty()) ctx.user_login = GetOr(env, "USER", GetOr(env, "LOGNAME", "unknown"));
  if (ctx.project_dir.empty()) ctx.project_dir = Get(env, "PWD");
  return ctx;
}

Environment ProcessEnvironment() { return canaryctl::ProcessEnvironment(); }

}  // namespace canaryctl::ci

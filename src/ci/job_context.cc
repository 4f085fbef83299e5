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

JobContext JobContextFromEnv(const Environment& env) {
  JobContext ctx;
  ctx.in_gitlab = InGitLab(env);
  ctx.pipeline_id = Get(env, "CI_PIPELINE_ID");
  ctx.pipeline_url = Get(env, "CI_PIPELINE_URL");
  ctx.job_id = Get(env, "CI_JOB_ID");
  ctx.job_url = Get(env, "CI_JOB_URL");
  ctx.job_name = Get(env, "CI_JOB_NAME");
  ctx.project_dir = Get(env, "CI_PROJECT_DIR");
  ctx.project_path = Get(env, "CI_PROJECT_PATH");
  ctx.commit_sha = Get(env, "CI_COMMIT_SHA");
  ctx.commit_short_sha = Get(env, "CI_COMMIT_SHORT_SHA");
  if (ctx.commit_short_sha.empty()) ctx.commit_short_sha = ctx.commit_sha.substr(0, 8);
  ctx.commit_ref_name = Get(env, "CI_COMMIT_REF_NAME");
  ctx.commit_tag = Get(env, "CI_COMMIT_TAG");
  ctx.user_login = Get(env, "GITLAB_USER_LOGIN");
  ctx.environment_name = Get(env, "CI_ENVIRONMENT_NAME");
  ctx.environment_url = Get(env, "CI_ENVIRONMENT_URL");
  ctx.server_url = Get(env, "CI_SERVER_URL");

  // Outside GitLab (or with a variable missing) keep the fields meaningful for humans.
  if (ctx.pipeline_id.empty()) ctx.pipeline_id = "local";
  if (ctx.job_name.empty() && !ctx.in_gitlab) ctx.job_name = "local";
  if (ctx.user_login.empty()) ctx.user_login = GetOr(env, "USER", GetOr(env, "LOGNAME", "unknown"));
  if (ctx.project_dir.empty()) ctx.project_dir = Get(env, "PWD");
  return ctx;
}

Environment ProcessEnvironment() { return canaryctl::ProcessEnvironment(); }

}  // namespace canaryctl::ci

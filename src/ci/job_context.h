// The GitLab job a canaryctl command runs in, read from GitLab's predefined variables
// (shared/notes/gitlab-ci.md). The environment is passed in as a map so tests stay hermetic.
// Outside GitLab (GITLAB_CI unset) the fields get local defaults: pipeline id "local", the
// user from USER (else LOGNAME), the project dir from PWD; URLs stay empty.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace canaryctl::ci {

using Environment = std::map<std::string, std::string>;

struct JobContext {
  bool in_gitlab = false;  // GITLAB_CI and CI are both set
  std::string pipeline_id;
  std::string pipeline_url;
  std::string job_id;
  std::string job_url;
  std::string job_name;
  std::string project_dir;
  std::string project_path;
  std::string commit_sha;
  std::string commit_short_sha;
  std::string commit_ref_name;
  std::string commit_tag;  // empty unless a tag pipeline
  std::string user_login;  // who ran the job (GITLAB_USER_LOGIN, or USER outside GitLab)
  std::string environment_name;
  std::string environment_url;
  std::string server_url;
};

// Builds the context from `env`. Never fails: missing variables leave fields empty (or the
// local defaults above). CI_COMMIT_SHORT_SHA falls back to the first 8 chars of CI_COMMIT_SHA.
JobContext JobContextFromEnv(const Environment& env);

// The variables JobContextFromEnv reads, its local fallbacks included. Their values end up in
// the state annotation, the lock and the reports (JSON, XML): the caller refuses any that is
// not valid UTF-8 before anything runs.
std::vector<std::string> JobContextVariables();

// True when both GITLAB_CI and CI are set to a non-empty value.
bool InGitLab(const Environment& env);

// The process environment as a map, for the one caller (main) that reads it.
Environment ProcessEnvironment();

}  // namespace canaryctl::ci

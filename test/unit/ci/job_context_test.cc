#include "ci/job_context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace canaryctl::ci {
namespace {

TEST(JobContextTest, ReadsGitLabPredefinedVariables) {
  Environment env = {
      {"CI", "true"},
      {"GITLAB_CI", "true"},
      {"CI_PIPELINE_ID", "1234"},
      {"CI_PIPELINE_URL", "https://gitlab.example.com/g/app/-/pipelines/1234"},
      {"CI_JOB_ID", "99"},
      {"CI_JOB_URL", "https://gitlab.example.com/g/app/-/jobs/99"},
      {"CI_JOB_NAME", "shift-30"},
      {"CI_PROJECT_DIR", "/builds/g/app"},
      {"CI_PROJECT_PATH", "g/app"},
      {"CI_COMMIT_SHA", "0123456789abcdef0123456789abcdef01234567"},
      {"CI_COMMIT_SHORT_SHA", "01234567"},
      {"CI_COMMIT_REF_NAME", "main"},
      {"CI_COMMIT_TAG", "v1.2.0"},
      {"GITLAB_USER_LOGIN", "alice"},
      {"USER", "root"},
      {"CI_ENVIRONMENT_NAME", "production"},
      {"CI_ENVIRONMENT_URL", "https://app.example.com"},
      {"CI_SERVER_URL", "https://gitlab.example.com"},
  };
  JobContext ctx = JobContextFromEnv(env);
  EXPECT_TRUE(ctx.in_gitlab);
  EXPECT_EQ(ctx.pipeline_id, "1234");
  EXPECT_EQ(ctx.pipeline_url, "https://gitlab.example.com/g/app/-/pipelines/1234");
  EXPECT_EQ(ctx.job_id, "99");
  EXPECT_EQ(ctx.job_url, "https://gitlab.example.com/g/app/-/jobs/99");
  EXPECT_EQ(ctx.job_name, "shift-30");
  EXPECT_EQ(ctx.project_dir, "/builds/g/app");
  EXPECT_EQ(ctx.project_path, "g/app");
  EXPECT_EQ(ctx.commit_sha, "0123456789abcdef0123456789abcdef01234567");
  EXPECT_EQ(ctx.commit_short_sha, "01234567");
  EXPECT_EQ(ctx.commit_ref_name, "main");
  EXPECT_EQ(ctx.commit_tag, "v1.2.0");
  EXPECT_EQ(ctx.user_login, "alice");  // not USER: who ran the job
  EXPECT_EQ(ctx.environment_name, "production");
  EXPECT_EQ(ctx.environment_url, "https://app.example.com");
  EXPECT_EQ(ctx.server_url, "https://gitlab.example.com");
}

TEST(JobContextTest, LocalDefaultsOutsideGitLab) {
  JobContext ctx = JobContextFromEnv({{"USER", "bob"}, {"PWD", "/home/bob/app"}});
  EXPECT_FALSE(ctx.in_gitlab);
  EXPECT_EQ(ctx.pipeline_id, "local");
  EXPECT_EQ(ctx.user_login, "bob");
  EXPECT_EQ(ctx.project_dir, "/home/bob/app");
  EXPECT_EQ(ctx.job_url, "");
  EXPECT_EQ(ctx.commit_tag, "");
}

TEST(JobContextTest, InGitLabNeedsBothCiAndGitlabCi) {
  EXPECT_FALSE(InGitLab({{"CI", "true"}}));
  EXPECT_FALSE(InGitLab({{"GITLAB_CI", "true"}}));
  EXPECT_FALSE(InGitLab({{"GITLAB_CI", ""}, {"CI", "true"}}));
  EXPECT_TRUE(InGitLab({{"GITLAB_CI", "true"}, {"CI", "true"}}));
}

TEST(JobContextTest, ShortShaFallsBackToFirstEightCharsOfSha) {
  JobContext ctx = JobContextFromEnv({{"CI_COMMIT_SHA", "abcdef0123456789"}});
  EXPECT_EQ(ctx.commit_short_sha, "abcdef01");
  EXPECT_EQ(ctx.user_login, "unknown");
}

// Local runs are told apart by their user (the lock's holder): LOGNAME when USER is unset.
TEST(JobContextTest, LocalUserFromUserThenLogname) {
  EXPECT_EQ(JobContextFromEnv({{"USER", "ana"}, {"LOGNAME", "bo"}}).user_login, "ana");
  EXPECT_EQ(JobContextFromEnv({{"LOGNAME", "bo"}}).user_login, "bo");
  EXPECT_EQ(JobContextFromEnv({{"GITLAB_USER_LOGIN", "cy"}, {"USER", "ana"}}).user_login, "cy");
}

TEST(JobContextTest, EveryVariableListedIsOneItReads) {
  // JobContextVariables() is what the CLI refuses when not UTF-8: each must reach a field.
  auto fields = [](const JobContext& c) {
    return std::vector<std::string>{
        c.pipeline_id, c.pipeline_url, c.job_id,           c.job_url,          c.job_name,
        c.project_dir, c.project_path, c.commit_sha,       c.commit_short_sha, c.commit_ref_name,
        c.commit_tag,  c.user_login,   c.environment_name, c.environment_url,  c.server_url};
  };
  const auto names = JobContextVariables();
  EXPECT_THAT(names, ::testing::IsSupersetOf({"CI_JOB_URL", "CI_PIPELINE_ID", "GITLAB_USER_LOGIN",
                                              "CI_ENVIRONMENT_URL", "USER", "PWD"}));
  for (const std::string& name : names) {
    const std::string marker = "marker-of-" + name;
    EXPECT_THAT(fields(JobContextFromEnv({{name, marker}})), ::testing::Contains(marker)) << name;
  }
}

}  // namespace
}  // namespace canaryctl::ci

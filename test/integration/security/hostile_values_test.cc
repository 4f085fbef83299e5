// Hostile values through the canaryctl binary: shell syntax, quotes, newlines, 100 KiB and
// non-UTF-8 bytes in helm values, release names, http check headers and the GitLab variables
// that end up in rollout.env. Each arrives exactly as written (helm's stored values, the headers
// a server received, rollout.env read back as GitLab reads it) or is refused with exit 2, a
// message naming the key, and no API request. A marker file that any shell interpreting a value
// would create never appears.
#include <filesystem>
#include <set>

#include "security_support.h"

namespace canaryctl::integration::security {
namespace {

namespace fs = std::filesystem;

class HostileValuesTest : public RolloutFixture {
 protected:
  void SetUp() override {
    RolloutFixture::SetUp();
    if (HasFatalFailure()) return;
    marker_ = work_->path() + "/pwned";
    shell_ = "$(touch " + marker_ + ") `touch " + marker_ + "`; touch " + marker_ + " | cat && " +
             "echo \"double\" 'single' \\back ${HOME} $HOME {a,b} x=y,z [0] #c";
  }

  // The configuration with the http check `api` (headers from variables) first, and more values
  // for helm.
  std::string HostileConfig(const std::string& url, const std::string& headers,
                            const std::string& set) {
    std::string yaml = ReadFile(Config(kHybrid));
    const std::string set_line = "set: {deployment.tag: \"${TAG}\"}";
    yaml.replace(yaml.find(set_line), set_line.size(),
                 "set: {deployment.tag: \"${TAG}\"" + set + "}");
    yaml.replace(
        yaml.find("checks:\n"), 8,
        "checks:\n  - {name: hostile, http: {url: \"" + url + "\", headers: {" + headers + "}}}\n");
    return work_->Write("rollout.yaml", yaml);
  }

  // Refused with exit 2, the message in stderr, no request, no marker.
  CommandResult ExpectRefused(const std::vector<std::string>& args,
                              const std::map<std::string, std::string>& env,
                              const std::string& message) {
    const size_t requests = CanaryctlRequests();
    auto r = Canaryctl(args, env);
    EXPECT_EQ(r.exit_code, 2) << r.Describe();
    EXPECT_NE(r.err.find(message), std::string::npos) << message << "\nin\n" << r.err;
    EXPECT_EQ(CanaryctlRequests(), requests) << r.Describe();
    EXPECT_FALSE(fs::exists(marker_));
    return r;
  }

  std::string marker_;
  std::string shell_;
};

TEST_P(HostileValuesTest, HelmValuesHeadersAndDotenvValuesArriveLiterally) {
  InstallStable(kHybrid);
  ASSERT_FALSE(HasFatalFailure());
  RecordingServer server;
  std::string long_value;
  while (long_value.size() < 100 * 1024) long_value += "0123456789abcdef";
  const std::string multiline = "line one\nline two\r\n\ttabbed: yes\n- item";
  // Not UTF-8; HTTP allows such bytes in a value. (Not 0xFF: Poco's parser, in the recording
  // server, takes it for the end of input.)
  const std::string obs_text = "caf\xe9 \xfe\x80";
  config_ = HostileConfig(server.url("/ok"), "X-Hostile: \"${H_SHELL}\", X-Bytes: \"${H_BYTES}\"",
                          ", hostile.shell: \"${H_SHELL}\", hostile.multiline: \"${H_MULTILINE}\", "
                          "hostile.long: \"${H_LONG}\"");
  // What GitLab gives canaryctl, with lines that would be variables of their own in rollout.env.
  const std::string job_url = "https://gitlab.example.com/jobs/7\nCANARYCTL_OUTCOME=succeeded\n" +
                              std::string("CANARYCTL_INJECTED=1 ") + shell_ + " caf\u00e9";
  const std::string environment_url = "https://demo.example.com/?a=1&b=2 x\r\nCANARYCTL_PHASE=x";
  const std::map<std::string, std::string> env = {
      {"H_SHELL", shell_},   {"H_MULTILINE", multiline}, {"H_LONG", long_value},
      {"H_BYTES", obs_text}, {"CI_JOB_URL", job_url},    {"CI_ENVIRONMENT_URL", environment_url},
      {"FAIL_AT", "none"}};

  ASSERT_TRUE(Succeeded(Canaryctl({"deploy"}, env)));
  auto values = HelmJson(*clients_, {"get", "values", "demoapp", "-n", "stage"});
  EXPECT_EQ(Str(values, "/hostile/shell"), shell_);
  EXPECT_EQ(Str(values, "/hostile/multiline"), multiline);
  EXPECT_EQ(Str(values, "/hostile/long"), long_value);
  EXPECT_EQ(Str(values, "/deployment/tag"), "v2");
  EXPECT_EQ(Len(values, "/hostile/shell"), std::nullopt);  // a string, not split into a list

  auto test = Canaryctl({"test"}, env);
  ASSERT_TRUE(Succeeded(test));
  const auto requests = server.requests();
  ASSERT_FALSE(requests.empty());
  for (const auto& r : requests) {
    EXPECT_EQ(r.Values("X-Hostile"), std::vector<std::string>{shell_});
    EXPECT_EQ(r.Values("X-Bytes"), std::vector<std::string>{obs_text});
    for (const auto& [name, value] : r.headers) EXPECT_NE(name, "CANARYCTL_INJECTED");
  }

  // rollout.env as GitLab reads it: each variable once, only CANARYCTL_* keys, values without
  // spaces or quotes, and the job URL is all in its own value (percent-encoded).
  const auto dotenv = ReadDotenv(Report("rollout.env"));
  std::set<std::string> keys;
  for (const auto& [key, value] : dotenv) {
    EXPECT_TRUE(keys.insert(key).second) << "repeated " << key << "\n" << Report("rollout.env");
    EXPECT_TRUE(key.starts_with("CANARYCTL_")) << key;
    EXPECT_EQ(value.find_first_of(" \t\r\"'`$\\"), std::string::npos) << key << "=" << value;
  }
  EXPECT_EQ(keys.count("CANARYCTL_INJECTED"), 0u);
  EXPECT_LE(dotenv.size(), 20u);
  std::map<std::string, std::string> vars(dotenv.begin(), dotenv.end());
  EXPECT_EQ(PercentDecode(vars["CANARYCTL_JOB_URL"]), job_url);
  EXPECT_EQ(PercentDecode(vars["CANARYCTL_ENVIRONMENT_URL"]), environment_url);
  EXPECT_EQ(vars["CANARYCTL_OUTCOME"], "succeeded");
  EXPECT_EQ(vars["CANARYCTL_PHASE"], "test");
  EXPECT_EQ(keys.count("CANARYCTL_JOB_URL"), 1u);
  EXPECT_FALSE(fs::exists(marker_));
}

TEST_P(HostileValuesTest, ValuesThatCannotArriveIntactAreRefusedBeforeAnyRequest) {
  RecordingServer server;
  config_ = HostileConfig(server.url("/ok"), "X-Hostile: \"${H_HEADER}\"",
                          ", hostile.value: \"${H_VALUE}\"");
  const std::map<std::string, std::string> fine = {{"H_HEADER", "ok"}, {"H_VALUE", "ok"}};
  auto with = [&fine](const std::string& key, const std::string& value) {
    auto env = fine;
    env[key] = value;
    return env;
  };
  // helm keeps values as JSON text: bytes that are not UTF-8 would come back as U+FFFD.
  ExpectRefused({"deploy"}, with("H_VALUE", "caf\xe9"),
                ": helm.set.hostile.value: the value is not valid UTF-8");
  // A CR or LF would end the header and start one of the value's choosing.
  for (const std::string& header : {std::string("ok\r\nX-Injected: yes"), std::string("ok\nx"),
                                    std::string("ok\rHost: evil.example")}) {
    ExpectRefused({"test"}, with("H_HEADER", header),
                  ": checks[0].http.headers.X-Hostile: the value contains a line break");
  }
  // GitLab's variables go into the state annotation, the lock and the reports (JSON, XML);
  // bytes that are not UTF-8 would make the state unwritable after traffic had moved.
  for (const std::string variable : {"CI_JOB_URL", "GITLAB_USER_LOGIN", "CI_COMMIT_REF_NAME"}) {
    ExpectRefused({"deploy"}, with(variable, "https://gitlab.example.com/caf\xe9"),
                  "environment variable " + variable + " is not valid UTF-8");
  }
  EXPECT_TRUE(server.requests().empty());
  // Release names: DNS-1123 labels only, quoted in the message as Go quotes them; a long one is
  // cut short. Through the variable GitLab would set, and through rollout.yaml.
  const std::vector<std::pair<std::string, std::string>> names = {
      {"demo;touch " + marker_, "\"demo;touch " + marker_ + "\""},
      {"$(touch " + marker_ + ")", "\"$(touch " + marker_ + ")\""},
      {"`touch " + marker_ + "`", "\"`touch " + marker_ + "`\""},
      {"demo\nrollout.yaml:1:1: fine", "\"demo\\nrollout.yaml:1:1: fine\""},
      {"--post-renderer=/bin/sh", "\"--post-renderer=/bin/sh\""},
      {"caf\xe9", "\"caf\xe9\""},
      {std::string(100 * 1024, 'a'), "... (102400 bytes)"},
  };
  for (const auto& [name, shown] : names) {
    auto r = ExpectRefused({"deploy"}, with("CANARYCTL_CANDIDATE_RELEASE", name),
                           "CANARYCTL_CANDIDATE_RELEASE: candidate.release: ");
    EXPECT_NE(r.err.find(shown + " is not a DNS-1123 label"), std::string::npos) << r.err;
    EXPECT_LT(r.err.size(), 1000u);  // one line, not 100 KiB
  }
  std::string yaml = ReadFile(config_);
  const std::string stable = "stable: {namespace: prod, release: demoapp";
  yaml.replace(yaml.find(stable), stable.size(),
               "stable: {namespace: prod, release: \"x;touch " + marker_ + "\"");
  config_ = work_->Write("rollout.yaml", yaml);
  ExpectRefused({"deploy"}, fine,
                ": stable.release: \"x;touch " + marker_ + "\" is not a DNS-1123 label");
  EXPECT_FALSE(fs::exists(marker_));
}

INSTANTIATE_TEST_SUITE_P(Tools, HostileValuesTest, FirstToolSet(), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration::security

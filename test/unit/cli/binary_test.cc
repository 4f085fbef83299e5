// The canaryctl binary end to end, where no cluster is needed, and RunCli in process. The
// binary runs with an argument vector and a hermetic environment (posix_spawn), never a shell.

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Timespan.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "cli/app.h"

namespace canaryctl::cli {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;
using testing::Not;

constexpr const char* kMinimal = R"(app: web
helm: {chart: charts/web}
stable: {namespace: prod}
candidate: {namespace: stage}
checks:
  - {name: health, http: {url: "http://web.stage.svc.cluster.local/health"}}
)";

// traffic.steps out of order: an error on line 6.
constexpr const char* kInvalid = R"(app: web
helm: {chart: charts/web}
stable: {namespace: prod}
candidate: {namespace: stage}
traffic:
  steps: [0, 60, 30, 100]
)";

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// "<path>:<line>:<column>: " somewhere in text.
bool HasFileLineColumn(const std::string& text, const std::string& path) {
  for (size_t at = text.find(path + ":"); at != std::string::npos;
       at = text.find(path + ":", at + 1)) {
    size_t i = at + path.size() + 1;
    auto digits = [&] {
      size_t start = i;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
      return i > start;
    };
    if (digits() && i < text.size() && text[i++] == ':' && digits() && i < text.size() &&
        text[i] == ':') {
      return true;
    }
  }
  return false;
}

class BinaryTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "canaryctl-cli-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  // A kubeconfig for a server at 127.0.0.1:port.
  std::string WriteKubeconfig(int port) {
    return Write("kubeconfig",
                 "apiVersion: v1\nkind: Config\n"
                 "clusters: [{name: c, cluster: {server: \"http://127.0.0.1:" +
                     std::to_string(port) +
                     "\"}}]\n"
                     "users: [{name: u, user: {token: t0ken-for-tests}}]\n"
                     "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                     "current-context: x\n");
  }

  // Runs the binary with only `env` (and HOME, the test's directory) in its environment.
  RunResult Canaryctl(const std::vector<std::string>& args, std::vector<std::string> env = {}) {
    const std::string out_path = dir_ + "/.stdout";
    const std::string err_path = dir_ + "/.stderr";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // In the test's directory: reports and other relative paths land there.
    posix_spawn_file_actions_addchdir_np(&actions, dir_.c_str());
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    std::vector<std::string> argv_text = {CANARYCTL_BINARY};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    env.push_back("HOME=" + dir_);
    std::vector<char*> argv, envp;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);

    RunResult result;
    pid_t pid = 0;
    int rc = posix_spawn(&pid, CANARYCTL_BINARY, &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      ADD_FAILURE() << "posix_spawn " << CANARYCTL_BINARY << ": " << std::strerror(rc);
      return result;
    }
    // A safety net against a hang, not a timing assertion.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ADD_FAILURE() << "canaryctl did not finish within 60 s";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = ReadFile(out_path);
    result.err = ReadFile(err_path);
    return result;
  }

  std::string dir_;
};

TEST_F(BinaryTest, VersionReadsNothingElse) {
  // Neither the (missing) config nor a kubeconfig is looked at.
  RunResult r = Canaryctl({"--config", dir_ + "/missing.yaml", "version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::string("canaryctl ") + EXPECTED_VERSION + "\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(BinaryTest, HelpListsEveryCommand) {
  RunResult r = Canaryctl({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* command : {"deploy", "test", "shift", "promote", "rollback", "status", "plan",
                              "run", "config", "version", "Exit codes"}) {
    EXPECT_THAT(r.out, HasSubstr(command));
  }
  RunResult config = Canaryctl({"config", "--help"});
  EXPECT_EQ(config.exit_code, 0);
  EXPECT_THAT(config.out, HasSubstr("validate"));
  EXPECT_THAT(config.out, HasSubstr("print"));
}

TEST_F(BinaryTest, ConfigValidateValid) {
  std::string config = Write("rollout.yaml", kMinimal);
  RunResult r = Canaryctl({"config", "validate", "--config", config});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, config + ": valid (app web, strategy hybrid, steps 0, 30, 60, 100, 1 check)\n");
}

TEST_F(BinaryTest, ConfigFromEnvironment) {
  std::string config = Write("from-env.yaml", kMinimal);
  RunResult r = Canaryctl({"config", "validate"}, {"CANARYCTL_CONFIG=" + config});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("from-env.yaml: valid"));
}

TEST_F(BinaryTest, ConfigValidateInvalidNamesFileLineColumn) {
  std::string config = Write("rollout.yaml", kInvalid);
  RunResult r = Canaryctl({"--config", config, "config", "validate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(HasFileLineColumn(r.err, config)) << r.err;
  EXPECT_THAT(r.err, HasSubstr("traffic.steps"));
  EXPECT_EQ(r.out, "");
}

TEST_F(BinaryTest, MissingConfigIsAConfigError) {
  RunResult r = Canaryctl({"config", "validate", "--config", dir_ + "/nope.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("nope.yaml"));
}

TEST_F(BinaryTest, UndefinedVariableIsAConfigError) {
  std::string config = Write("rollout.yaml", R"(app: web
helm: {chart: charts/web, set: {image.tag: "${CI_COMMIT_SHORT_SHA}"}}
stable: {namespace: prod}
candidate: {namespace: stage}
)");
  RunResult r = Canaryctl({"config", "print", "--config", config});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("CI_COMMIT_SHORT_SHA"));
  EXPECT_TRUE(HasFileLineColumn(r.err, config)) << r.err;

  r = Canaryctl({"config", "print", "--config", config}, {"CI_COMMIT_SHORT_SHA=abc1234"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("abc1234"));
}

TEST_F(BinaryTest, ConfigPrintRoundTrips) {
  std::string config = Write("rollout.yaml", kMinimal);
  RunResult first = Canaryctl({"config", "print", "--config", config, "--reports", "out-dir"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("out-dir"));  // --reports overrides reports.dir
  EXPECT_THAT(first.out, HasSubstr("health"));
  std::string printed = Write("printed.yaml", first.out);
  RunResult validate = Canaryctl({"config", "validate", "--config", printed});
  EXPECT_EQ(validate.exit_code, 0) << validate.err << "\n" << first.out;
  RunResult second = Canaryctl({"config", "print", "--config", printed});
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, first.out);
}

TEST_F(BinaryTest, ShiftOutOfRangeIsAUsageError) {
  RunResult r = Canaryctl({"shift", "101"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("Run with --help for more information."));
  r = Canaryctl({"shift", "abc"});
  EXPECT_EQ(r.exit_code, 2);
  r = Canaryctl({});
  EXPECT_EQ(r.exit_code, 2);
}

// The contract of app.h: nothing reaches the cluster unless the config, the kubeconfig and
// helm are all usable. The "cluster" is a loopback listener that counts the connections made to
// it and closes each at once.
class NoClusterRequest : public BinaryTest {
 protected:
  void SetUp() override {
    BinaryTest::SetUp();
    server_ = Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", 0));
    kubeconfig_ = WriteKubeconfig(server_.address().port());
    acceptor_ = std::thread([this] {
      while (!stop_) {
        if (!server_.poll(Poco::Timespan(0, 20000), Poco::Net::Socket::SELECT_READ)) continue;
        Poco::Net::StreamSocket connection = server_.acceptConnection();
        ++connections_;
        connection.close();
      }
    });
  }
  void TearDown() override {
    stop_ = true;
    acceptor_.join();
    BinaryTest::TearDown();
  }
  // A fake helm 3.18 for which no release exists.
  std::string WriteFakeHelm() {
    std::string path = Write("helm",
                             "#!/bin/sh\n"
                             "case \"$1\" in\n"
                             "  version) echo v3.18.0 ;;\n"
                             "  *) echo 'Error: release: not found' >&2; exit 1 ;;\n"
                             "esac\n");
    fs::permissions(path, fs::perms::owner_all);
    return path;
  }
  void ExpectNoConnection() {
    EXPECT_EQ(connections_.load(), 0) << "canaryctl reached the cluster";
  }

  Poco::Net::ServerSocket server_;
  std::string kubeconfig_;
  std::thread acceptor_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
};

// The control: with everything usable, status does reach the cluster (which fails it: exit 3).
TEST_F(NoClusterRequest, ControlEverythingUsableReachesTheCluster) {
  std::string config = Write("rollout.yaml", kMinimal);
  RunResult r = Canaryctl(
      {"status", "--config", config, "--kubeconfig", kubeconfig_, "--helm", WriteFakeHelm()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_GT(connections_.load(), 0);
  EXPECT_THAT(r.err, Not(HasSubstr("t0ken-for-tests")));
}

TEST_F(NoClusterRequest, InvalidConfig) {
  std::string config = Write("rollout.yaml", kInvalid);
  RunResult r = Canaryctl({"deploy", "--config", config, "--kubeconfig", kubeconfig_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(HasFileLineColumn(r.err, config)) << r.err;
  ExpectNoConnection();
}

TEST_F(NoClusterRequest, InvalidConfigNothingListening) {
  std::string config = Write("rollout.yaml", kInvalid);
  std::string kubeconfig = WriteKubeconfig(1);
  RunResult r = Canaryctl({"deploy", "--config", config, "--kubeconfig", kubeconfig});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(HasFileLineColumn(r.err, config)) << r.err;
}

TEST_F(NoClusterRequest, MissingKubeconfig) {
  std::string config = Write("rollout.yaml", kMinimal);
  RunResult r = Canaryctl({"deploy", "--config", config, "--kubeconfig", dir_ + "/none"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("none"));
  // Without --kubeconfig, $KUBECONFIG or ~/.kube/config, and outside a cluster.
  r = Canaryctl({"status", "--config", config});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  ExpectNoConnection();
  EXPECT_FALSE(fs::exists(dir_ + "/canaryctl-reports"));
}

TEST_F(NoClusterRequest, InvalidKubeconfig) {
  std::string config = Write("rollout.yaml", kMinimal);
  std::string bad = Write("bad-kubeconfig", "apiVersion: v1\nkind: Config\nclusters: [\n");
  RunResult r = Canaryctl({"deploy", "--config", config, "--kubeconfig", bad});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("bad-kubeconfig"));
  ExpectNoConnection();
}

// A mutating command the engine ran writes its reports even when it failed; not under --dry-run.
TEST_F(NoClusterRequest, ReportsEvenOnFailureButNotOnDryRun) {
  std::string config = Write("rollout.yaml", kMinimal);
  const std::string helm = WriteFakeHelm();
  RunResult r = Canaryctl({"deploy", "--config", config, "--kubeconfig", kubeconfig_, "--helm",
                           helm, "--reports", "dry", "--dry-run"});
  EXPECT_EQ(r.exit_code, 3) << r.err;  // the "cluster" closes every connection
  EXPECT_FALSE(fs::exists(dir_ + "/dry"));
  r = Canaryctl({"deploy", "--config", config, "--kubeconfig", kubeconfig_, "--helm", helm,
                 "--reports", "out"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(fs::exists(dir_ + "/out/rollout.json"));
  EXPECT_TRUE(fs::exists(dir_ + "/out/junit.xml"));
  EXPECT_GT(connections_.load(), 0);
}

TEST_F(NoClusterRequest, MissingHelm) {
  std::string config = Write("rollout.yaml", kMinimal);
  RunResult r = Canaryctl({"deploy", "--config", config, "--kubeconfig", kubeconfig_, "--helm",
                           dir_ + "/no-helm", "--log-format", "json"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("no-helm"));
  EXPECT_THAT(r.err, HasSubstr("\"level\":\"error\""));
  EXPECT_THAT(r.err, Not(HasSubstr("t0ken-for-tests")));
  ExpectNoConnection();
  // Nothing was read from the cluster, so no report claims where the traffic is.
  EXPECT_FALSE(fs::exists(dir_ + "/canaryctl-reports"));
}

TEST_F(NoClusterRequest, UnusableProxy) {
  std::string config = Write("rollout.yaml", kMinimal);
  RunResult r = Canaryctl({"test", "--config", config, "--kubeconfig", kubeconfig_},
                          {"HTTP_PROXY=socks5://proxy:1080"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("HTTP_PROXY"));
  ExpectNoConnection();
}

// `pipeline` reads the config, never the cluster: a kubeconfig to a listening "cluster" is
// given and must see no connection.
TEST_F(NoClusterRequest, PipelinePrintsTheChildPipelineOfThePlan) {
  std::string config =
      Write("rollout.yaml", std::string(kMinimal) + "traffic: {steps: [0, 7, 33, 50, 80, 100]}\n");
  RunResult r = Canaryctl({"pipeline", "--config", config, "--kubeconfig", kubeconfig_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectNoConnection();
  YAML::Node doc = YAML::Load(r.out);
  YAML::Node vars = doc[".rollout-canaryctl"]["variables"];
  EXPECT_EQ(vars["CANARYCTL_CONFIG"].as<std::string>(), config);
  EXPECT_EQ(vars["CANARYCTL_STRATEGY"].as<std::string>(), "hybrid");
  EXPECT_EQ(vars["CANARYCTL_TRAFFIC_STEPS"].as<std::string>(), "0,7,33,50,80,100");
  EXPECT_EQ(doc[".rollout-canaryctl"]["image"]["name"].as<std::string>(),
            std::string("registry.gitlab.com/canaryctl/canaryctl:") + EXPECTED_VERSION);
  EXPECT_EQ(doc["stages"][0].as<std::string>(), "rollout");
  EXPECT_EQ(doc["stages"][1].as<std::string>(), "rollback");
  EXPECT_EQ(doc["rollout-shift-7"]["needs"][0].as<std::string>(), "rollout-test");
  EXPECT_EQ(doc["rollout-promote"]["needs"][0].as<std::string>(), "rollout-shift-100");
}

TEST_F(BinaryTest, PipelineFlagsAndBlueGreen) {
  std::string config = Write("bg.yaml", R"(app: web
strategy: blue-green
helm: {chart: charts/web}
stable: {namespace: prod}
)");
  RunResult r =
      Canaryctl({"pipeline", "--job-prefix", "web:", "--stage", "ship", "--rollback-stage", ".post",
                 "--environment", "review/$CI_COMMIT_REF_SLUG", "--tier", "staging",
                 "--resource-group", "g", "--manual-promotion", "false", "--image", "img:1"},
                {"CANARYCTL_CONFIG=" + config});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  YAML::Node doc = YAML::Load(r.out);
  YAML::Node hidden = doc[".web:canaryctl"];
  EXPECT_EQ(hidden["variables"]["CANARYCTL_STRATEGY"].as<std::string>(), "blue-green");
  EXPECT_EQ(hidden["variables"]["CANARYCTL_TRAFFIC_STEPS"].as<std::string>(), "0,100");
  EXPECT_EQ(hidden["image"]["name"].as<std::string>(), "img:1");
  EXPECT_EQ(doc["web:deploy"]["environment"]["name"].as<std::string>(),
            "review/$CI_COMMIT_REF_SLUG");
  EXPECT_EQ(doc["web:deploy"]["environment"]["deployment_tier"].as<std::string>(), "staging");
  EXPECT_EQ(hidden["resource_group"].as<std::string>(), "g");
  EXPECT_EQ(doc["stages"].size(), 1u);
  EXPECT_EQ(doc["web:promote"]["when"].as<std::string>(), "on_success");
  int gates = 0;
  for (const auto& kv : doc) {
    gates += kv.second.IsMap() && kv.second["when"] &&
             kv.second["when"].as<std::string>() == "manual" && kv.second["allow_failure"] &&
             !kv.second["allow_failure"].as<bool>();
  }
  EXPECT_EQ(gates, 1);  // the switch to the idle slot
}

TEST_F(BinaryTest, PipelineConfigErrorIsExit2WithFileLineColumn) {
  std::string config = Write("rollout.yaml", kInvalid);
  RunResult r = Canaryctl({"pipeline", "--config", config});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(HasFileLineColumn(r.err, config)) << r.err;
  EXPECT_EQ(r.out, "");
  r = Canaryctl({"pipeline", "--config", dir_ + "/missing.yaml", "-o", "child.yml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(fs::exists(dir_ + "/child.yml"));
}

TEST_F(BinaryTest, PipelineBadFlagValuesAreExit2NamingFlagAndValue) {
  std::string config = Write("rollout.yaml", kMinimal);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--tier", "prod"}, "--tier"},
      {{"--job-prefix", "my app"}, "--job-prefix"},
      {{"--manual-promotion", "yes"}, "--manual-promotion"},
      {{"--template", "rolling"}, "--template"},
      {{"--stage", "x", "--rollback-stage", "x"}, "--rollback-stage"},
      {{"--image", ""}, "--image"},
  };
  for (const auto& [flags, name] : cases) {
    std::vector<std::string> args = {"pipeline", "--config", config};
    args.insert(args.end(), flags.begin(), flags.end());
    RunResult r = Canaryctl(args);
    EXPECT_EQ(r.exit_code, 2) << name << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(name));
    if (!flags[1].empty()) {
      EXPECT_THAT(r.err, HasSubstr(flags[1])) << r.err;
    }
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(BinaryTest, PipelineOutputWritesTheFile) {
  std::string config = Write("rollout.yaml", kMinimal);
  RunResult printed = Canaryctl({"pipeline", "--config", config});
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  RunResult r = Canaryctl({"pipeline", "--config", config, "--output", "out/child.yml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("out/child.yml"));
  EXPECT_EQ(ReadFile(dir_ + "/out/child.yml"), printed.out);
  // Written atomically: no temporary file is left beside it.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir_ + "/out")) files += entry.exists();
  EXPECT_EQ(files, 1);
}

TEST_F(BinaryTest, PipelineTemplates) {
  for (const std::string name : {"hybrid", "canary", "blue-green", "dynamic"}) {
    // No config is read: the missing file does not matter.
    RunResult r = Canaryctl({"pipeline", "--template", name, "--config", dir_ + "/none.yaml"});
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_EQ(r.out, ReadFile(std::string(CANARYCTL_SOURCE_DIR) + "/pipeline-templates/" + name +
                              ".gitlab-ci.yml"))
        << name;
    r = Canaryctl({"pipeline", "--template", name, "-o", name + ".yml"});
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_TRUE(fs::exists(dir_ + "/" + name + ".yml"));
  }
  // Job flags are the template's inputs.
  for (const char* flag : {"--image", "--job-prefix", "--stage", "--rollback-stage",
                           "--environment", "--tier", "--resource-group", "--manual-promotion"}) {
    const std::string value = std::string(flag) == "--tier"               ? "staging"
                              : std::string(flag) == "--manual-promotion" ? "false"
                                                                          : "x";
    RunResult r = Canaryctl({"pipeline", "--template", "hybrid", flag, value});
    EXPECT_EQ(r.exit_code, 2) << flag;
    EXPECT_THAT(r.err, HasSubstr(flag));
    EXPECT_THAT(r.err, HasSubstr("--template"));
    EXPECT_EQ(r.out, "");
  }
}

// RunCli itself, with its streams and environment injected.
int RunInProcess(std::vector<std::string> args, const config::Environment& env, std::string* out,
                 std::string* err) {
  args.insert(args.begin(), "canaryctl");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::ostringstream o, e;
  int code = RunCli(static_cast<int>(args.size()), argv.data(), env, o, e);
  *out = o.str();
  *err = e.str();
  return code;
}

TEST_F(BinaryTest, RunCliInProcess) {
  std::string config = Write("rollout.yaml", kMinimal);
  std::string out, err;
  EXPECT_EQ(RunInProcess({"config", "validate"}, {{"CANARYCTL_CONFIG", config}}, &out, &err), 0)
      << err;
  EXPECT_THAT(out, HasSubstr(": valid (app web"));
  EXPECT_EQ(RunInProcess({"version"}, {}, &out, &err), 0);
  EXPECT_EQ(out, VersionLine() + "\n");
  EXPECT_EQ(RunInProcess({"shift", "101"}, {}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("Run with --help"));
  // The CANARYCTL_* variables come from the given environment, not the process's.
  EXPECT_EQ(RunInProcess({"config", "print"},
                         {{"CANARYCTL_CONFIG", config}, {"CANARYCTL_REPORTS_DIR", "from-env"}},
                         &out, &err),
            0)
      << err;
  EXPECT_THAT(out, HasSubstr("from-env"));
}

}  // namespace
}  // namespace canaryctl::cli

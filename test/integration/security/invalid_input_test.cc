// The corpora of bad input through the canaryctl binary: every invalid rollout.yaml
// (test/unit/config/data/invalid) and every broken kubeconfig (test/unit/kube/data/invalid)
// makes each command that talks to the cluster exit 2 with its expected message, before a single
// API request (the sandbox's request log is the witness; a valid command afterwards shows up in
// it, so the log does record canaryctl).
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "security_support.h"

namespace canaryctl::integration::security {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> Files(const std::string& dir, const std::string& extension) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == extension) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// Every command that reads or writes the cluster.
const std::vector<std::vector<std::string>> kClusterCommands = {
    {"deploy"},   {"test"},   {"shift", "30"}, {"promote"},
    {"rollback"}, {"status"}, {"plan"},        {"run", "--pause", "0s"}};

// One refused run: the command, its input, what stderr must hold and the exit code it must have.
struct Case {
  std::string config;  // "" for the fixture's
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string kubeconfig;  // "" for the sandbox's own
  std::vector<std::string> expected;
  std::string what;
  int exit_code = 2;
};

class InvalidInputTest : public RolloutFixture {
 protected:
  // Runs the cases on a few threads: each is a separate canaryctl process that stops before
  // the cluster, so they cannot interfere.
  std::vector<CommandResult> RunAll(const std::vector<Case>& cases) {
    std::vector<CommandResult> results(cases.size());
    std::atomic<size_t> next{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < 3; ++w) {
      workers.emplace_back([&] {
        for (size_t i = next++; i < cases.size(); i = next++) {
          results[i] = Run(cases[i]);
        }
      });
    }
    for (auto& worker : workers) worker.join();
    return results;
  }

  CommandResult Run(const Case& c) {
    std::vector<std::string> full = {"--config", c.config.empty() ? config_ : c.config,
                                     "--kubeconfig",
                                     c.kubeconfig.empty() ? sandbox_.kubeconfig() : c.kubeconfig};
    full.insert(full.end(), c.args.begin(), c.args.end());
    RunOptions o;
    o.env = Env();
    for (const auto& [k, v] : c.env) o.env[k] = v;
    o.cwd = work_->path();
    o.timeout = std::chrono::seconds(60);
    return RunProcess(CANARYCTL_BIN, full, o);
  }
};

TEST_P(InvalidInputTest, EveryInvalidConfigurationAndKubeconfigExitsTwoWithoutARequest) {
  const size_t before = CanaryctlRequests();

  // NAME.yaml fails with the lines of NAME.expected, given the variables of NAME.env. Each file
  // is its own rollout.yaml: canaryctl runs concurrently.
  const auto configs = Files(CONFIG_CORPUS, ".yaml");
  ASSERT_GE(configs.size(), 50u);
  std::vector<Case> config_cases;
  for (const fs::path& file : configs) {
    const std::string base = fs::path(file).replace_extension().string();
    const std::string config =
        work_->Write("configs/" + file.filename().string(), ReadFile(file.string()));
    std::map<std::string, std::string> env = {{"CI_COMMIT_SHORT_SHA", "abc1234"}};
    for (const std::string& line : Lines(ReadFile(base + ".env"))) {
      env[line.substr(0, line.find('='))] = line.substr(line.find('=') + 1);
    }
    std::vector<std::string> expected = Lines(ReadFile(base + ".expected"));
    ASSERT_FALSE(expected.empty()) << base;
    for (std::string& line : expected) {
      // "rollout.yaml:" starting the line or after a space is the file's own name.
      for (size_t at = line.find("rollout.yaml:"); at != std::string::npos;
           at = line.find("rollout.yaml:", at + 1)) {
        if (at != 0 && line[at - 1] != ' ') continue;
        line.replace(at, 12, config);
        at += config.size() - 12;
      }
    }
    for (const auto& args : {std::vector<std::string>{"deploy"}, {"shift", "30"}, {"rollback"}}) {
      config_cases.push_back({config, args, env, "", expected, file.filename().string()});
    }
  }

  // The kubeconfigs name 127.0.0.1:6443; here they name the sandbox, so a request would show.
  // Their side files (scripts, an empty token) go along, since paths in them are relative.
  const auto kubeconfigs = Files(KUBECONFIG_CORPUS, ".yaml");
  ASSERT_GE(kubeconfigs.size(), 20u);
  const fs::path dir = work_->path() + "/kubeconfigs";
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(KUBECONFIG_CORPUS)) {
    const auto ext = e.path().extension();
    if (ext != ".yaml" && ext != ".expected") fs::copy_file(e.path(), dir / e.path().filename());
  }
  config_ = Config(kHybrid);
  std::vector<Case> kubeconfig_cases;
  for (const fs::path& file : kubeconfigs) {
    std::string text = ReadFile(file.string());
    ReplaceAll(text, "https://127.0.0.1:6443", sandbox_.server());
    const std::string kubeconfig = (dir / file.filename()).string();
    std::ofstream(kubeconfig, std::ios::binary) << text;
    std::vector<std::string> expected =
        Lines(ReadFile(fs::path(file).replace_extension(".expected").string()));
    ASSERT_EQ(expected.size(), 1u) << file;
    ReplaceAll(expected[0], "{file}", kubeconfig);
    ReplaceAll(expected[0], "{dir}", dir.string());
    for (const auto& args : kClusterCommands) {
      kubeconfig_cases.push_back({"", args, {}, kubeconfig, expected, file.filename().string(), 2});
    }
  }

  std::vector<Case> cases = config_cases;
  cases.insert(cases.end(), kubeconfig_cases.begin(), kubeconfig_cases.end());
  const auto results = RunAll(cases);
  size_t as_expected = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const CommandResult& r = results[i];
    as_expected += r.exit_code == c.exit_code;
    EXPECT_EQ(r.exit_code, c.exit_code) << c.what << "\n" << r.Describe();
    for (const std::string& line : c.expected) {
      EXPECT_NE(r.err.find(line), std::string::npos) << c.what << ": missing\n"
                                                     << line << "\nin\n"
                                                     << r.err;
    }
  }

  const size_t requests = CanaryctlRequests() - before;
  EXPECT_EQ(requests, 0u);
  // The control: a valid command is seen in the log.
  ASSERT_TRUE(Succeeded(Canaryctl({"status"})));
  EXPECT_GT(CanaryctlRequests(), before);
  std::cout << "invalid input: " << configs.size() << " configurations, " << kubeconfigs.size()
            << " kubeconfigs, " << (as_expected == cases.size() ? "all" : "NOT all") << " exit 2 ("
            << config_cases.size() << " + " << kubeconfig_cases.size() << " runs), " << requests
            << " API requests" << std::endl;
}

INSTANTIATE_TEST_SUITE_P(Tools, InvalidInputTest, FirstToolSet(), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration::security

// Support for the integration tests and benchmarks: runs canaryctl-sandbox as a child process on
// a free port with its own data folder, and the real helm and kubectl against it (argument
// vectors, never a shell; a private HOME per client), and reads their JSON output.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>
#include <Poco/Process.h>
#include <gtest/gtest.h>

namespace canaryctl::integration {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// Paths the build passes in.

// One pair of real client binaries: tools/k8s-1.33 (helm 3) or tools/k8s-1.34 (helm 4).
struct ToolSet {
  std::string name;  // "k8s-1.33"
  std::string helm;
  std::string kubectl;
  int helm_major = 0;  // 3 or 4
};
const std::vector<ToolSet>& ToolSets();
// How gtest shows the parameter: its name.
void PrintTo(const ToolSet& tools, std::ostream* os);
// For INSTANTIATE_TEST_SUITE_P: "k8s_1_33".
std::string ToolSetName(const testing::TestParamInfo<ToolSet>& info);
// Fails (with what to run) when the binaries are missing.
testing::AssertionResult ToolSetPresent(const ToolSet& tools);

std::string SandboxBinary();
// An absolute path inside the source tree ("examples/demoapp").
std::string SourcePath(std::string_view relative);
// test/integration/data/<relative>.
std::string DataPath(std::string_view relative);

// ---------------------------------------------------------------------------------------------
// Child processes.

struct CommandResult {
  std::string command;  // for messages: the argument vector joined by spaces
  int exit_code = -1;   // 256 + signal number when killed by a signal
  bool timed_out = false;
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{0};
  bool ok() const { return exit_code == 0 && !timed_out; }
  // Command, exit code and both streams, for failure messages.
  std::string Describe() const;
};

struct RunOptions {
  std::map<std::string, std::string> env;  // added to (and overriding) this process's own
  std::string cwd;
  std::chrono::milliseconds timeout = 120s;  // then SIGKILL, timed_out = true
};

// Runs exe with args, stdin closed, capturing stdout and stderr.
CommandResult RunProcess(const std::string& exe, const std::vector<std::string>& args,
                         const RunOptions& options = {});

// A fresh folder under $TMPDIR, removed with its contents on destruction (kept when the
// environment has CANARYCTL_KEEP_TEST_DIRS=1, for debugging).
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "canaryctl-it");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes content to path()/name (creating subfolders) and returns the full path.
  std::string Write(std::string_view name, std::string_view content) const;

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path);

// Polls cond every 50 ms until it holds or timeout passes; returns whether it held.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout);

// ---------------------------------------------------------------------------------------------
// Servers the tests start.

// Starts exe with args in cwd, stdin closed, through `setpriv --pdeathsig KILL` when present (so
// it dies with the test). Threads appended to *readers append its stdout and stderr to *output
// under *mu until it closes them; join them after the process ended. Throws Poco::Exception
// when it cannot start.
Poco::ProcessHandle LaunchCaptured(const std::string& exe, std::vector<std::string> args,
                                   const std::string& cwd, std::shared_ptr<std::string> output,
                                   std::shared_ptr<std::mutex> mu,
                                   std::vector<std::thread>* readers);

// ---------------------------------------------------------------------------------------------
// The sandbox.

struct SandboxOptions {
  bool tls = false;
  int ready_delay_ms = 100;
  int job_duration_ms = 100;
  bool request_log = false;  // --request-log <dir>/requests.log
  std::string token = "";    // --token: bearer-token auth besides client certificates
  bool gateway = false;      // --gateway 127.0.0.1:0 (read back from the ready line)
  std::chrono::milliseconds start_timeout = 20s;
};

struct HttpResult {
  int status = 0;  // 0 when the request could not be made (error says why)
  std::string body;
  std::string error;
};

class Sandbox {
 public:
  explicit Sandbox(SandboxOptions options = {});
  ~Sandbox();  // stops it if running
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // Starts the server (port 0) and waits for its kubeconfig; on timeout or early exit, fails
  // with the server's output. Also used to restart on the same data folder.
  testing::AssertionResult Start();
  // SIGTERM, then SIGKILL after 5 s; fails when it had to be killed or exited non-zero.
  testing::AssertionResult Stop();
  // kill -9, as a crash would; the data folder stays for a Start().
  void Kill9();
  bool running() const;

  const std::string& kubeconfig() const { return kubeconfig_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string request_log_path() const;
  const std::string& server() const { return server_; }  // from the kubeconfig
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  // The gateway's port and "http://127.0.0.1:PORT" (with SandboxOptions::gateway; else 0, "").
  // A restart on port 0 gets a new port.
  int gateway_port() const { return gateway_port_; }
  std::string gateway_url() const {
    return gateway_port_ == 0 ? "" : "http://127.0.0.1:" + std::to_string(gateway_port_);
  }
  // Everything the server wrote to stdout and stderr, across restarts.
  std::string output() const;

  // One plain-HTTP request to the server (the fault admin endpoint; not for --tls).
  HttpResult Http(const std::string& method, const std::string& path, const std::string& body = "",
                  const std::string& content_type = "application/json") const;

 private:
  void ReapReaders();

  SandboxOptions options_;
  TempDir dir_;
  std::string data_dir_;
  std::string kubeconfig_;
  std::string server_;
  std::string host_;
  int port_ = 0;
  int gateway_port_ = 0;
  std::optional<Poco::ProcessHandle> process_;
  std::vector<std::thread> readers_;
  std::shared_ptr<std::string> output_;
  std::shared_ptr<std::mutex> output_mu_;
};

// ---------------------------------------------------------------------------------------------
// The real clients, bound to one kubeconfig, with a private HOME (and helm/XDG folders).

// The environment the fixture gives helm and kubectl: HOME, XDG and helm folders under home,
// KUBECONFIG, no proxy, and none of the caller's HELM_* settings.
std::map<std::string, std::string> PrivateClientEnv(const std::string& home,
                                                    const std::string& kubeconfig);

class Clients {
 public:
  Clients(ToolSet tools, std::string kubeconfig);
  CommandResult Kubectl(const std::vector<std::string>& args,
                        std::chrono::milliseconds timeout = 120s) const;
  CommandResult Helm(const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout = 180s) const;
  // A scratch folder for manifests and values files.
  const TempDir& scratch() const { return scratch_; }
  const ToolSet& tools() const { return tools_; }
  const std::string& home() const { return home_.path(); }

 private:
  ToolSet tools_;
  std::string kubeconfig_;
  TempDir home_;
  TempDir scratch_;
  std::map<std::string, std::string> env_;
};

// `helm upgrade --install demoapp examples/demoapp -n ns --create-namespace --wait --timeout 60s
// --set deployment.tag=tag`: the article's install of the demo chart, for Clients::Helm.
std::vector<std::string> DemoAppUpgradeArgs(const std::string& ns, const std::string& tag);

// ---------------------------------------------------------------------------------------------
// JSON.

// Parses text; an empty Var (and *error set) when it is not JSON.
Poco::Dynamic::Var ParseJson(const std::string& text, std::string* error = nullptr);
// RFC 6901 pointer lookup ("/metadata/labels/app.kubernetes.io~1name", "/items/0"); empty Var
// when absent.
Poco::Dynamic::Var At(const Poco::Dynamic::Var& root, std::string_view pointer);
std::optional<std::string> Str(const Poco::Dynamic::Var& root, std::string_view pointer);
std::optional<int64_t> Int(const Poco::Dynamic::Var& root, std::string_view pointer);
std::optional<bool> Bool(const Poco::Dynamic::Var& root, std::string_view pointer);
// Length of the array at pointer; nullopt when it is not an array.
std::optional<size_t> Len(const Poco::Dynamic::Var& root, std::string_view pointer);
// metadata.name of each element of the list's items, in order.
std::vector<std::string> ItemNames(const Poco::Dynamic::Var& list);
// The element of the list's items named name (empty Var when absent).
Poco::Dynamic::Var Item(const Poco::Dynamic::Var& list, std::string_view name);
std::string ToJson(const Poco::Dynamic::Var& value);
// A decimal string (a resourceVersion) as a number; -1 when it is not one.
int64_t ToInt(const std::string& text);

// Runs `kubectl <args> -o json` and parses the output. On failure, records a test failure
// (command, exit code, stderr) and returns an empty Var.
Poco::Dynamic::Var KubectlJson(const Clients& clients, std::vector<std::string> args);
// Same for helm (`-o json` appended).
Poco::Dynamic::Var HelmJson(const Clients& clients, std::vector<std::string> args);

// ---------------------------------------------------------------------------------------------
// Assertions and the base of the parameterized tests.

// Passes when the command exited 0; otherwise fails with its command line and output.
testing::AssertionResult Succeeded(const CommandResult& r);
// Passes when the command exited non-zero and its stderr contains needle.
testing::AssertionResult FailedWith(const CommandResult& r, std::string_view needle);

// A test with one sandbox, started in SetUp, and the clients of one tool set (the parameter).
class SandboxTest : public testing::TestWithParam<ToolSet> {
 protected:
  explicit SandboxTest(SandboxOptions options = {}) : sandbox_(options) {}
  void SetUp() override;

  CommandResult Kubectl(const std::vector<std::string>& args) const {
    return clients_->Kubectl(args);
  }
  CommandResult Helm(const std::vector<std::string>& args) const { return clients_->Helm(args); }
  // `kubectl <args> -o json`, parsed (an empty Var and a recorded failure when it fails).
  Poco::Dynamic::Var Get(std::vector<std::string> args) const {
    return KubectlJson(*clients_, std::move(args));
  }
  // Writes a file into the clients' scratch folder; returns its path.
  std::string Write(std::string_view name, std::string_view content) const {
    return clients_->scratch().Write(name, content);
  }

  Sandbox sandbox_;
  std::unique_ptr<Clients> clients_;
};

}  // namespace canaryctl::integration

#include "sandbox_fixture.h"

#include <signal.h>
#include <stdlib.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Pipe.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <yaml-cpp/yaml.h>

#ifndef CANARYCTL_SANDBOX_BIN
#error "CANARYCTL_SANDBOX_BIN must name the canaryctl-sandbox binary"
#endif
#ifndef CANARYCTL_SOURCE_DIR
#error "CANARYCTL_SOURCE_DIR must name the source tree"
#endif
#ifndef CANARYCTL_TOOLS_133
#error "CANARYCTL_TOOLS_133 must name tools/k8s-1.33"
#endif
#ifndef CANARYCTL_TOOLS_134
#error "CANARYCTL_TOOLS_134 must name tools/k8s-1.34"
#endif

namespace canaryctl::integration {
namespace fs = std::filesystem;
using Poco::Dynamic::Var;

// ---------------------------------------------------------------------------------------------
// Paths.

const std::vector<ToolSet>& ToolSets() {
  static const std::vector<ToolSet> sets = {
      {"k8s-1.33", std::string(CANARYCTL_TOOLS_133) + "/helm",
       std::string(CANARYCTL_TOOLS_133) + "/kubectl", 3},
      {"k8s-1.34", std::string(CANARYCTL_TOOLS_134) + "/helm",
       std::string(CANARYCTL_TOOLS_134) + "/kubectl", 4},
  };
  return sets;
}

void PrintTo(const ToolSet& tools, std::ostream* os) { *os << tools.name; }

std::string ToolSetName(const testing::TestParamInfo<ToolSet>& info) {
  std::string name = info.param.name;
  for (char& c : name) {
    if (c == '-' || c == '.') c = '_';
  }
  return name;
}

testing::AssertionResult ToolSetPresent(const ToolSet& tools) {
  for (const std::string& bin : {tools.helm, tools.kubectl}) {
    if (!fs::exists(bin)) {
      return testing::AssertionFailure()
             << bin << " is missing: run scripts/setup to fetch helm and kubectl";
    }
  }
  return testing::AssertionSuccess();
}

std::string SandboxBinary() { return CANARYCTL_SANDBOX_BIN; }

std::string SourcePath(std::string_view relative) {
  return std::string(CANARYCTL_SOURCE_DIR) + "/" + std::string(relative);
}

std::string DataPath(std::string_view relative) {
  return SourcePath("test/integration/data/" + std::string(relative));
}

// ---------------------------------------------------------------------------------------------
// Child processes.

std::string CommandResult::Describe() const {
  std::ostringstream s;
  s << "$ " << command << "\n  exit " << exit_code << (timed_out ? " (timed out)" : "") << " after "
    << elapsed.count()
    << " ms\n  stdout: " << (out.size() > 4000 ? out.substr(0, 4000) + "..." : out)
    << "\n  stderr: " << (err.size() > 4000 ? err.substr(0, 4000) + "..." : err);
  return s.str();
}

namespace {

std::string ReadAll(Poco::Pipe& pipe) {
  std::string text;
  char buf[8192];
  try {
    for (;;) {
      int n = pipe.readBytes(buf, sizeof buf);
      if (n <= 0) break;
      text.append(buf, static_cast<size_t>(n));
    }
  } catch (const Poco::Exception&) {
    // A read error ends the capture; what was read is kept.
  }
  return text;
}

std::string Join(const std::string& exe, const std::vector<std::string>& args) {
  std::string s = exe;
  for (const std::string& a : args) s += " " + a;
  return s;
}

}  // namespace

CommandResult RunProcess(const std::string& exe, const std::vector<std::string>& args,
                         const RunOptions& options) {
  CommandResult result;
  result.command = Join(exe, args);
  const auto start = std::chrono::steady_clock::now();
  try {
    Poco::Pipe in, out, err;
    Poco::ProcessHandle handle =
        Poco::Process::launch(exe, args, options.cwd, &in, &out, &err, options.env);
    in.close();  // the child sees end of input at once
    const auto pid = handle.id();

    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    bool killed = false;
    // Kills a hung child so that its pipes close and the reads below end.
    std::thread watchdog([&] {
      std::unique_lock lock(mu);
      if (!cv.wait_for(lock, options.timeout, [&] { return done; })) {
        killed = true;
        ::kill(pid, SIGKILL);
      }
    });
    std::string err_text;
    std::thread err_reader([&] { err_text = ReadAll(err); });
    result.out = ReadAll(out);
    err_reader.join();
    {
      // Both pipes are closed: the child is exiting, so the watchdog must not signal a pid
      // that may be reused once reaped.
      std::lock_guard lock(mu);
      done = true;
    }
    cv.notify_all();
    watchdog.join();
    result.exit_code = handle.wait();
    result.err = std::move(err_text);
    result.timed_out = killed;
  } catch (const Poco::Exception& e) {
    result.exit_code = -1;
    result.err = "could not run: " + e.displayText();
  }
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return result;
}

TempDir::TempDir(std::string_view prefix) {
  const char* tmp = getenv("TMPDIR");
  std::string pattern =
      std::string(tmp && *tmp ? tmp : "/tmp") + "/" + std::string(prefix) + "-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << pattern << " failed";
    path_ = pattern;
    return;
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  const char* keep = getenv("CANARYCTL_KEEP_TEST_DIRS");
  if (keep && std::string(keep) == "1") return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string TempDir::Write(std::string_view name, std::string_view content) const {
  fs::path p = fs::path(path_) / name;
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << content;
  f.close();
  if (!f) ADD_FAILURE() << "could not write " << p;
  return p.string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

// ---------------------------------------------------------------------------------------------
// Servers.

Poco::ProcessHandle LaunchCaptured(const std::string& exe, std::vector<std::string> args,
                                   const std::string& cwd, std::shared_ptr<std::string> output,
                                   std::shared_ptr<std::mutex> mu,
                                   std::vector<std::thread>* readers) {
  // Through setpriv (util-linux), the server gets SIGKILL if this process dies first (a crash,
  // ctest's timeout), so no orphaned server outlives its test.
  constexpr const char* kSetpriv = "/usr/bin/setpriv";
  std::string program = exe;
  if (fs::exists(kSetpriv)) {
    args.insert(args.begin(), {"--pdeathsig", "KILL", "--", exe});
    program = kSetpriv;
  }
  Poco::Pipe in, out, err;
  Poco::ProcessHandle handle = Poco::Process::launch(program, args, cwd, &in, &out, &err,
                                                     std::map<std::string, std::string>{});
  in.close();
  for (Poco::Pipe pipe : {out, err}) {
    readers->emplace_back([pipe, text = output, mu]() mutable {
      char buf[4096];
      try {
        for (;;) {
          int n = pipe.readBytes(buf, sizeof buf);
          if (n <= 0) break;
          std::lock_guard lock(*mu);
          text->append(buf, static_cast<size_t>(n));
        }
      } catch (const Poco::Exception&) {
      }
    });
  }
  return handle;
}

// ---------------------------------------------------------------------------------------------
// The sandbox.

namespace {

// The server URL of the kubeconfig's current context (or its only cluster).
std::optional<std::string> KubeconfigServer(const std::string& path) {
  try {
    YAML::Node config = YAML::LoadFile(path);
    std::string cluster_name;
    const std::string current = config["current-context"].as<std::string>("");
    for (const auto& ctx : config["contexts"]) {
      if (ctx["name"].as<std::string>("") == current) {
        cluster_name = ctx["context"]["cluster"].as<std::string>("");
      }
    }
    for (const auto& cluster : config["clusters"]) {
      if (cluster_name.empty() || cluster["name"].as<std::string>("") == cluster_name) {
        std::string server = cluster["cluster"]["server"].as<std::string>("");
        if (!server.empty()) return server;
      }
    }
  } catch (const YAML::Exception&) {
    // Not (yet) a complete kubeconfig.
  }
  return std::nullopt;
}

}  // namespace

Sandbox::Sandbox(SandboxOptions options)
    : options_(options),
      dir_("canaryctl-sandbox"),
      data_dir_(dir_.path() + "/data"),
      kubeconfig_(dir_.path() + "/kubeconfig"),
      output_(std::make_shared<std::string>()),
      output_mu_(std::make_shared<std::mutex>()) {}

Sandbox::~Sandbox() {
  if (running()) {
    testing::AssertionResult stopped = Stop();
    if (!stopped) ADD_FAILURE() << stopped.message();
  }
  ReapReaders();
}

std::string Sandbox::request_log_path() const { return dir_.path() + "/requests.log"; }

std::string Sandbox::output() const {
  std::lock_guard lock(*output_mu_);
  return *output_;
}

bool Sandbox::running() const { return process_.has_value(); }

void Sandbox::ReapReaders() {
  for (std::thread& t : readers_) t.join();
  readers_.clear();
}

testing::AssertionResult Sandbox::Start() {
  if (running()) return testing::AssertionFailure() << "the sandbox is already running";
  ReapReaders();
  std::error_code ec;
  fs::remove(kubeconfig_, ec);  // so that we wait for the one this run writes
  std::vector<std::string> args = {"serve",
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--data",
                                   data_dir_,
                                   "--kubeconfig",
                                   kubeconfig_,
                                   "--ready-delay-ms",
                                   std::to_string(options_.ready_delay_ms),
                                   "--job-duration-ms",
                                   std::to_string(options_.job_duration_ms)};
  if (options_.tls) args.push_back("--tls");
  if (!options_.token.empty()) args.insert(args.end(), {"--token", options_.token});
  if (options_.request_log) {
    args.push_back("--request-log");
    args.push_back(request_log_path());
  }
  if (options_.gateway) args.insert(args.end(), {"--gateway", "127.0.0.1:0"});
  gateway_port_ = 0;
  size_t output_start = 0;
  {
    std::lock_guard lock(*output_mu_);
    *output_ += "--- " + Join(SandboxBinary(), args) + "\n";
    output_start = output_->size();
  }
  try {
    process_.emplace(
        LaunchCaptured(SandboxBinary(), args, dir_.path(), output_, output_mu_, &readers_));
  } catch (const Poco::Exception& e) {
    return testing::AssertionFailure()
           << "could not start " << SandboxBinary() << ": " << e.displayText();
  }

  const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  for (;;) {
    if (fs::exists(kubeconfig_)) {
      if (auto server = KubeconfigServer(kubeconfig_)) {
        server_ = *server;
        try {
          Poco::URI uri(server_);
          host_ = uri.getHost();
          port_ = uri.getPort();
        } catch (const Poco::Exception& e) {
          return testing::AssertionFailure()
                 << "the kubeconfig's server URL " << server_ << " is bad: " << e.displayText();
        }
        if (port_ == 0) {
          return testing::AssertionFailure() << "the kubeconfig names port 0: " << server_;
        }
        if (!options_.gateway) return testing::AssertionSuccess();
        // The ready line follows the kubeconfig: "..., gateway http://127.0.0.1:PORT".
        std::smatch m;
        const std::string text = output().substr(output_start);
        static const std::regex kGateway(
            R"(serving on \S+ \(.*\), gateway http://[^:\s]+:(\d+)\n)");
        if (std::regex_search(text, m, kGateway)) {
          gateway_port_ = std::stoi(m[1].str());
          return testing::AssertionSuccess();
        }
      }
    }
    int code = process_->tryWait();
    if (code != -1) {
      process_.reset();
      ReapReaders();
      return testing::AssertionFailure() << "canaryctl-sandbox exited with " << code
                                         << " before writing " << kubeconfig_ << "; its output:\n"
                                         << output();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      Kill9();
      return testing::AssertionFailure()
             << "canaryctl-sandbox wrote no kubeconfig within "
             << std::chrono::duration_cast<std::chrono::seconds>(options_.start_timeout).count()
             << " s; its output:\n"
             << output();
    }
    std::this_thread::sleep_for(20ms);
  }
}

testing::AssertionResult Sandbox::Stop() {
  if (!running()) return testing::AssertionSuccess();
  ::kill(process_->id(), SIGTERM);
  int code = -1;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while ((code = process_->tryWait()) == -1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  bool killed = false;
  if (code == -1) {
    killed = true;
    ::kill(process_->id(), SIGKILL);
    code = process_->wait();
  }
  process_.reset();
  ReapReaders();
  if (killed) {
    return testing::AssertionFailure()
           << "canaryctl-sandbox ignored SIGTERM for 5 s and was killed; its output:\n"
           << output();
  }
  if (code != 0) {
    return testing::AssertionFailure()
           << "canaryctl-sandbox exited with " << code << " on SIGTERM; its output:\n"
           << output();
  }
  return testing::AssertionSuccess();
}

void Sandbox::Kill9() {
  if (!running()) return;
  ::kill(process_->id(), SIGKILL);
  process_->wait();
  process_.reset();
  ReapReaders();
}

HttpResult Sandbox::Http(const std::string& method, const std::string& path,
                         const std::string& body, const std::string& content_type) const {
  HttpResult result;
  try {
    Poco::Net::HTTPClientSession session(host_, static_cast<Poco::UInt16>(port_));
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!body.empty()) {
      request.setContentType(content_type);
      request.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    std::ostream& os = session.sendRequest(request);
    os << body;
    Poco::Net::HTTPResponse response;
    std::istream& is = session.receiveResponse(response);
    Poco::StreamCopier::copyToString(is, result.body);
    result.status = static_cast<int>(response.getStatus());
  } catch (const Poco::Exception& e) {
    result.error = e.displayText();
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Clients.

std::map<std::string, std::string> PrivateClientEnv(const std::string& h,
                                                    const std::string& kubeconfig) {
  return {
      {"HOME", h},
      {"KUBECONFIG", kubeconfig},
      {"XDG_CACHE_HOME", h + "/.cache"},
      {"XDG_CONFIG_HOME", h + "/.config"},
      {"XDG_DATA_HOME", h + "/.local/share"},
      {"HELM_CACHE_HOME", h + "/.cache/helm"},
      {"HELM_CONFIG_HOME", h + "/.config/helm"},
      {"HELM_DATA_HOME", h + "/.local/share/helm"},
      // Whatever the caller's environment says, talk to the sandbox directly.
      {"HTTP_PROXY", ""},
      {"HTTPS_PROXY", ""},
      {"http_proxy", ""},
      {"https_proxy", ""},
      {"HELM_NAMESPACE", ""},
      {"HELM_KUBECONTEXT", ""},
      {"HELM_DRIVER", "secret"},
  };
}

Clients::Clients(ToolSet tools, std::string kubeconfig)
    : tools_(std::move(tools)),
      kubeconfig_(std::move(kubeconfig)),
      home_("canaryctl-home"),
      scratch_("canaryctl-scratch") {
  env_ = PrivateClientEnv(home_.path(), kubeconfig_);
}

CommandResult Clients::Kubectl(const std::vector<std::string>& args,
                               std::chrono::milliseconds timeout) const {
  RunOptions options;
  options.env = env_;
  options.cwd = scratch_.path();
  options.timeout = timeout;
  return RunProcess(tools_.kubectl, args, options);
}

CommandResult Clients::Helm(const std::vector<std::string>& args,
                            std::chrono::milliseconds timeout) const {
  RunOptions options;
  options.env = env_;
  options.cwd = scratch_.path();
  options.timeout = timeout;
  return RunProcess(tools_.helm, args, options);
}

std::vector<std::string> DemoAppUpgradeArgs(const std::string& ns, const std::string& tag) {
  return {"upgrade",
          "--install",
          "demoapp",
          SourcePath("examples/demoapp"),
          "-n",
          ns,
          "--create-namespace",
          "--wait",
          "--timeout",
          "60s",
          "--set",
          "deployment.tag=" + tag};
}

// ---------------------------------------------------------------------------------------------
// JSON.

Var ParseJson(const std::string& text, std::string* error) {
  try {
    Poco::JSON::Parser parser;
    return parser.parse(text);
  } catch (const Poco::Exception& e) {
    if (error) *error = e.displayText();
  }
  return Var();
}

Var At(const Var& root, std::string_view pointer) {
  Var cur = root;
  if (pointer.empty()) return cur;
  if (pointer.front() != '/') return Var();
  size_t pos = 1;
  for (;;) {
    size_t next = pointer.find('/', pos);
    std::string token(
        pointer.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    // RFC 6901 escapes: ~1 is '/', ~0 is '~'.
    for (size_t i = 0; (i = token.find("~1", i)) != std::string::npos;) token.replace(i, 2, "/");
    for (size_t i = 0; (i = token.find("~0", i)) != std::string::npos;) token.replace(i, 2, "~");
    if (cur.type() == typeid(Poco::JSON::Object::Ptr)) {
      auto obj = cur.extract<Poco::JSON::Object::Ptr>();
      if (!obj || !obj->has(token)) return Var();
      cur = obj->get(token);
    } else if (cur.type() == typeid(Poco::JSON::Array::Ptr)) {
      auto arr = cur.extract<Poco::JSON::Array::Ptr>();
      size_t index = 0;
      try {
        index = std::stoul(token);
      } catch (const std::exception&) {
        return Var();
      }
      if (!arr || index >= arr->size()) return Var();
      cur = arr->get(static_cast<unsigned>(index));
    } else {
      return Var();
    }
    if (next == std::string_view::npos) return cur;
    pos = next + 1;
  }
}

std::optional<std::string> Str(const Var& root, std::string_view pointer) {
  Var v = At(root, pointer);
  if (v.isEmpty() || !v.isString()) return std::nullopt;
  return v.extract<std::string>();
}

std::optional<int64_t> Int(const Var& root, std::string_view pointer) {
  Var v = At(root, pointer);
  if (v.isEmpty() || !v.isInteger()) return std::nullopt;
  try {
    return v.convert<int64_t>();
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

std::optional<bool> Bool(const Var& root, std::string_view pointer) {
  Var v = At(root, pointer);
  if (v.isEmpty() || !v.isBoolean()) return std::nullopt;
  return v.extract<bool>();
}

std::optional<size_t> Len(const Var& root, std::string_view pointer) {
  Var v = At(root, pointer);
  if (v.type() != typeid(Poco::JSON::Array::Ptr)) return std::nullopt;
  auto arr = v.extract<Poco::JSON::Array::Ptr>();
  return arr ? std::optional<size_t>(arr->size()) : std::nullopt;
}

std::vector<std::string> ItemNames(const Var& list) {
  std::vector<std::string> names;
  const size_t n = Len(list, "/items").value_or(0);
  for (size_t i = 0; i < n; ++i) {
    names.push_back(
        Str(list, "/items/" + std::to_string(i) + "/metadata/name").value_or("<no name>"));
  }
  return names;
}

Var Item(const Var& list, std::string_view name) {
  const size_t n = Len(list, "/items").value_or(0);
  for (size_t i = 0; i < n; ++i) {
    Var item = At(list, "/items/" + std::to_string(i));
    if (Str(item, "/metadata/name") == name) return item;
  }
  return Var();
}

std::string ToJson(const Var& value) {
  std::ostringstream s;
  try {
    Poco::JSON::Stringifier::stringify(value, s);
  } catch (const Poco::Exception& e) {
    return "<" + e.displayText() + ">";
  }
  return s.str();
}

int64_t ToInt(const std::string& text) {
  if (text.empty() || text.find_first_not_of("-0123456789") != std::string::npos) return -1;
  try {
    return std::stoll(text);
  } catch (const std::exception&) {
    return -1;
  }
}

namespace {

Var RunJson(const CommandResult& r) {
  if (!r.ok()) {
    ADD_FAILURE() << r.Describe();
    return Var();
  }
  std::string error;
  Var v = ParseJson(r.out, &error);
  if (v.isEmpty()) ADD_FAILURE() << "not JSON (" << error << "): " << r.Describe();
  return v;
}

}  // namespace

Var KubectlJson(const Clients& clients, std::vector<std::string> args) {
  args.push_back("-o");
  args.push_back("json");
  return RunJson(clients.Kubectl(args));
}

Var HelmJson(const Clients& clients, std::vector<std::string> args) {
  args.push_back("-o");
  args.push_back("json");
  return RunJson(clients.Helm(args));
}

// ---------------------------------------------------------------------------------------------
// Assertions.

testing::AssertionResult Succeeded(const CommandResult& r) {
  if (r.ok()) return testing::AssertionSuccess();
  return testing::AssertionFailure() << r.Describe();
}

testing::AssertionResult FailedWith(const CommandResult& r, std::string_view needle) {
  if (r.ok()) return testing::AssertionFailure() << "expected a failure, got: " << r.Describe();
  if (r.timed_out) return testing::AssertionFailure() << "timed out: " << r.Describe();
  if (r.err.find(needle) == std::string::npos) {
    return testing::AssertionFailure() << "stderr lacks \"" << needle << "\": " << r.Describe();
  }
  return testing::AssertionSuccess();
}

void SandboxTest::SetUp() {
  ASSERT_TRUE(ToolSetPresent(GetParam()));
  ASSERT_TRUE(sandbox_.Start());
  clients_ = std::make_unique<Clients>(GetParam(), sandbox_.kubeconfig());
}

}  // namespace canaryctl::integration

// Helpers of the security tests: an HTTP server that records exactly what it received (the
// target of the http checks), the TLS sandbox with client certificates and a token, the tool
// set they run with, and readers for rollout.env.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <yaml-cpp/yaml.h>

#include "rollout_fixture.h"

namespace canaryctl::integration::security {

// The first tool set (helm 3): what these tests prove does not depend on the clients' version.
inline auto FirstToolSet() { return testing::Values(ToolSets().front()); }

inline void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// One request as the server parsed it: every header line, in order, as received.
struct RecordedRequest {
  std::string method;
  std::string uri;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> Values(const std::string& name) const {
    std::vector<std::string> out;
    for (const auto& [n, v] : headers) {
      if (n == name) out.push_back(v);
    }
    return out;
  }
};

// Answers 500 on /fail and 200 "ok" elsewhere, and keeps every request.
class RecordingServer {
 public:
  RecordingServer() {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    port_ = socket.address().port();
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(this), socket,
                                                      new Poco::Net::HTTPServerParams);
    server_->start();
  }
  ~RecordingServer() { server_->stopAll(true); }
  RecordingServer(const RecordingServer&) = delete;
  RecordingServer& operator=(const RecordingServer&) = delete;

  std::string url(const std::string& path = "/ok") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<RecordedRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(RecordingServer* owner) : owner_(owner) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
      RecordedRequest r{request.getMethod(), request.getURI(), {}};
      for (const auto& [name, value] : request) r.headers.emplace_back(name, value);
      {
        std::lock_guard<std::mutex> lock(owner_->mu_);
        owner_->requests_.push_back(std::move(r));
      }
      const bool fail = request.getURI().starts_with("/fail");
      response.setStatus(fail ? Poco::Net::HTTPResponse::HTTP_INTERNAL_SERVER_ERROR
                              : Poco::Net::HTTPResponse::HTTP_OK);
      response.setContentType("text/plain");
      response.send() << (fail ? "failing" : "ok");
    }

   private:
    RecordingServer* owner_;
  };
  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(RecordingServer* owner) : owner_(owner) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler(owner_);
    }

   private:
    RecordingServer* owner_;
  };

  int port_ = 0;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  mutable std::mutex mu_;
  std::vector<RecordedRequest> requests_;
};

// The sandbox over TLS, with client certificates and a bearer token (the sandbox's own kubeconfig
// authenticates with a client certificate), the request log on, the CRDs applied and a work
// folder for the inputs (in/) and what canaryctl writes (everything else).
class TlsSandboxTest : public SandboxTest {
 protected:
  static constexpr char kToken[] = "sectest-token-4f7a91c2e8d6";
  TlsSandboxTest() : SandboxTest(Options()) {}
  static SandboxOptions Options() {
    SandboxOptions o;
    o.tls = true;
    o.token = kToken;
    o.request_log = true;
    return o;
  }
  void SetUp() override {
    SandboxTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(Succeeded(Kubectl({"apply", "-f", SourcePath("examples/istio/crds/")})));
    work_ = std::make_unique<TempDir>("canaryctl-sec");
  }

  // The sandbox's kubeconfig, edited, written to in/name.
  std::string Kubeconfig(const std::string& name, const std::function<void(YAML::Node&)>& edit) {
    YAML::Node config = YAML::LoadFile(sandbox_.kubeconfig());
    edit(config);
    YAML::Emitter out;
    out << config;
    return work_->Write("in/" + name, out.c_str());
  }
  // The same with the user authenticating by token instead of the client certificate.
  std::string TokenKubeconfig(const std::string& name, const std::string& token,
                              const std::function<void(YAML::Node&)>& edit = nullptr) {
    return Kubeconfig(name, [&](YAML::Node& config) {
      for (auto user : config["users"]) {
        YAML::Node u;
        u["token"] = token;
        user["user"] = u;
      }
      if (edit) edit(config);
    });
  }

  CommandResult Run(const std::string& config, const std::string& kubeconfig,
                    std::vector<std::string> args,
                    const std::map<std::string, std::string>& extra_env = {}) {
    std::vector<std::string> full = {"--config", config, "--kubeconfig", kubeconfig};
    full.insert(full.end(), args.begin(), args.end());
    RunOptions o;
    o.env = PrivateClientEnv(clients_->home(), kubeconfig);
    o.env["HELM_BIN"] = clients_->tools().helm;
    o.env["CI_PIPELINE_ID"] = "100";
    o.env["CI_JOB_URL"] = "https://gitlab.example.com/team/demoapp/-/jobs/1007";
    for (const auto& [k, v] : extra_env) o.env[k] = v;
    o.cwd = work_->path();
    o.timeout = std::chrono::seconds(240);
    return RunProcess(CANARYCTL_BIN, full, o);
  }

  // Requests canaryctl made so far, by its user agent in the sandbox's request log.
  size_t CanaryctlRequests() {
    std::istringstream log(ReadFile(sandbox_.request_log_path()));
    size_t n = 0;
    for (std::string line; std::getline(log, line);) {
      n += line.find("\"userAgent\":\"canaryctl/") != std::string::npos;
    }
    return n;
  }

  std::unique_ptr<TempDir> work_;
};

// rollout.env read as GitLab's dotenv report reader does: one KEY=VALUE a line, the key up to
// the first '='. Keys in file order, so a repeated key shows.
inline std::vector<std::pair<std::string, std::string>> ReadDotenv(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    const size_t eq = line.find('=');
    out.emplace_back(line.substr(0, eq), eq == std::string::npos ? "" : line.substr(eq + 1));
    start = end + 1;
  }
  return out;
}

inline std::string PercentDecode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace canaryctl::integration::security

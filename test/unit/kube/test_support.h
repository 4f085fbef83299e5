// Test helpers for the kube unit tests: a temporary folder, and a local HTTP server that answers
// from a script (status codes, Retry-After, dropped connections) and counts what it got.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

namespace canaryctl::kube::testing {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("kube_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string path() const { return path_.string(); }
  // Writes content to path()/name (creating folders) and returns the full path.
  std::string Write(const std::string& name, const std::string& content) const {
    fs::path file = path_ / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file.string();
  }

 private:
  fs::path path_;
};

// One scripted answer. drop: close the connection without a response.
struct Answer {
  Answer(int status = 200, std::string body = "{}", std::string retry_after = "",  // NOLINT
         bool drop = false)
      : status(status), body(std::move(body)), retry_after(std::move(retry_after)), drop(drop) {}
  int status;
  std::string body;
  std::string retry_after;
  bool drop;
};

struct Received {
  std::string method, uri, body, authorization, user_agent, content_type;
};

// Answers requests with script[0], script[1], ... and then with `then` forever.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<Answer> script, Answer then = {})
      : script_(std::move(script)), then_(std::move(then)) {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    port_ = socket.address().port();
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(4);
    params->setKeepAlive(true);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket, params);
    server_->start();
  }
  ~ScriptedServer() { server_->stopAll(true); }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(received_.size());
  }
  std::vector<Received> received() const {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

 private:
  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(ScriptedServer& server) : server_(server) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
      Received got;
      got.method = request.getMethod();
      got.uri = request.getURI();
      got.authorization = request.get("Authorization", "");
      got.user_agent = request.get("User-Agent", "");
      got.content_type = request.get("Content-Type", "");
      Poco::StreamCopier::copyToString(request.stream(), got.body);
      Answer answer;
      {
        std::lock_guard<std::mutex> lock(server_.mu_);
        const size_t n = server_.received_.size();
        answer = n < server_.script_.size() ? server_.script_[n] : server_.then_;
        server_.received_.push_back(got);
      }
      if (answer.drop) {
        auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request);
        if (impl != nullptr) impl->socket().shutdown();
        throw Poco::Net::ConnectionAbortedException("scripted drop");
      }
      response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(answer.status));
      if (!answer.retry_after.empty()) response.set("Retry-After", answer.retry_after);
      response.setContentType("application/json");
      response.setContentLength(static_cast<std::streamsize>(answer.body.size()));
      response.send() << answer.body;
    }

   private:
    ScriptedServer& server_;
  };
  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(ScriptedServer& server) : server_(server) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler(server_);
    }

   private:
    ScriptedServer& server_;
  };

  std::vector<Answer> script_;
  Answer then_;
  mutable std::mutex mu_;
  std::vector<Received> received_;
  uint16_t port_ = 0;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace canaryctl::kube::testing

// A local HTTP server for the checks' tests, on a free loopback port:
//   /status/N     answers status N
//   /json         a JSON document (nested objects, arrays, a boolean)
//   /json-flat    a flat JSON document with a string version and an array of replicas
//   /flaky        503 while flaky_failures_left > 0, then 200
//   /third-fails  500 to its 3rd request only
//   /slow         answers after 1.5 s (cut short when the server stops)
//   /big          a 100 KiB body
//   paths in ServerState::json_routes answer their status and JSON body (query ignored)
//   /split        200, kept alive, from the candidate ("v2") with probability split_share, else
//                 from the stable ("v1"): in the header X-Version and the body
//                 {"build":{"version":"v2"}}; split_answers counts what was sent
//   anything else echoes "method=M uri=U x-canary=H body=B"
// The destructor wakes /slow and waits for every connection thread, so no handler outlives it.
#pragma once

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>

namespace canaryctl::checks::testing {

// What the server has seen, and how many /flaky requests still fail.
struct ServerState {
  std::atomic<int> requests{0};
  std::atomic<int> flaky_failures_left{0};
  std::atomic<int> third_fails_seen{0};
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  // Guarded by mu. Canned answers by path: status and JSON body.
  std::map<std::string, std::pair<int, std::string>> json_routes;
  std::string last_uri;  // as received, query string included
  std::string last_method;
  std::string last_x_canary;                 // the X-Canary header
  double split_share = 0.3;                  // /split: the candidate's share
  std::mt19937 split_random{4};              // seeded: the nth /split answer is always the same
  std::map<std::string, int> split_answers;  // what /split sent, by version
};

class TestHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit TestHandler(ServerState* state) : state_(state) {}
  void handleRequest(Poco::Net::HTTPServerRequest& req,
                     Poco::Net::HTTPServerResponse& resp) override {
    ++state_->requests;
    std::string body;
    Poco::StreamCopier::copyToString(req.stream(), body);
    const std::string uri = req.getURI();
    std::optional<std::pair<int, std::string>> canned;
    {
      std::lock_guard lock(state_->mu);
      state_->last_uri = uri;
      state_->last_method = req.getMethod();
      state_->last_x_canary = req.get("X-Canary", "");
      const auto route = state_->json_routes.find(uri.substr(0, uri.find('?')));
      if (route != state_->json_routes.end()) canned = route->second;
    }
    if (uri == "/split") {
      std::string version;
      {
        std::lock_guard lock(state_->mu);
        const bool candidate =
            std::bernoulli_distribution(state_->split_share)(state_->split_random);
        version = candidate ? "v2" : "v1";
        ++state_->split_answers[version];
      }
      const std::string json = R"({"build":{"version":")" + version + R"("}})";
      resp.set("X-Version", version);
      resp.setContentType("application/json");
      resp.sendBuffer(json.data(), json.size());  // with Content-Length: the connection stays
    } else if (canned) {
      resp.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(canned->first));
      resp.setContentType("application/json");
      resp.send() << canned->second;
    } else if (uri.rfind("/status/", 0) == 0) {
      resp.setStatusAndReason(
          static_cast<Poco::Net::HTTPResponse::HTTPStatus>(std::stoi(uri.substr(8))));
      resp.send() << "status " << uri.substr(8);
    } else if (uri == "/json") {
      resp.setContentType("application/json");
      resp.send() << R"({"status":"ok","version":{"major":2,"name":"v2.1"},)"
                  << R"("checks":[{"state":"up"}],"ready":true})";
    } else if (uri == "/json-flat") {
      resp.setContentType("application/json");
      resp.send() << R"({"status":"ok","version":"v2.1","replicas":[{"ready":true}]})";
    } else if (uri == "/flaky") {
      if (state_->flaky_failures_left.fetch_sub(1) > 0) {
        resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_SERVICE_UNAVAILABLE);
        resp.send() << "not yet";
      } else {
        resp.send() << "ready";
      }
    } else if (uri == "/third-fails") {
      if (++state_->third_fails_seen == 3) {
        resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_INTERNAL_SERVER_ERROR);
        resp.send() << "broken replica";
      } else {
        resp.send() << "ok";
      }
    } else if (uri == "/slow") {
      std::unique_lock lock(state_->mu);
      state_->cv.wait_for(lock, std::chrono::milliseconds(1500), [&] { return state_->stopping; });
      lock.unlock();
      resp.send() << "late";
    } else if (uri == "/big") {
      resp.send() << std::string(100 * 1024, 'b');
    } else {  // echo
      resp.send() << "method=" << req.getMethod() << " uri=" << uri
                  << " x-canary=" << req.get("X-Canary", "") << " body=" << body;
    }
  }

 private:
  ServerState* state_;
};

class TestHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit TestHandlerFactory(ServerState* state) : state_(state) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new TestHandler(state_);
  }

 private:
  ServerState* state_;
};

class TestHttpServer {
 public:
  TestHttpServer()
      : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)),
        server_(new TestHandlerFactory(&state_), socket_, new Poco::Net::HTTPServerParams) {
    server_.start();
  }
  ~TestHttpServer() {
    {
      std::lock_guard lock(state_.mu);
      state_.stopping = true;
    }
    state_.cv.notify_all();
    server_.stopAll(true);
    for (int i = 0; i < 500 && server_.currentThreads() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(socket_.address().port()) + path;
  }
  ServerState& state() { return state_; }
  // TCP connections accepted so far.
  int connections() const { return server_.totalConnections(); }

 private:
  ServerState state_;
  Poco::Net::ServerSocket socket_;
  Poco::Net::HTTPServer server_;
};

}  // namespace canaryctl::checks::testing

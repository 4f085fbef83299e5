#include "sandbox/server.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <Poco/Base64Decoder.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "sandbox/json_util.h"

namespace sandbox {
namespace {

namespace fs = std::filesystem;
using Poco::Net::HTTPRequest;
using Poco::Net::HTTPResponse;

struct Reply {
  int status = 0;
  std::string body;
  std::string retry_after;
};

Reply Send(Poco::Net::HTTPClientSession& session, const std::string& method, const std::string& uri,
           const std::string& body = "", const std::string& authorization = "") {
  HTTPRequest request(method, uri, HTTPRequest::HTTP_1_1);
  request.set("User-Agent", "server_test");
  if (!authorization.empty()) request.set("Authorization", authorization);
  if (!body.empty() || method == "POST") {
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
  }
  session.sendRequest(request) << body;
  HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  Reply reply;
  reply.status = response.getStatus();
  reply.retry_after = response.get("Retry-After", "");
  Poco::StreamCopier::copyToString(in, reply.body);
  return reply;
}

json::ObjectPtr ParseJson(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<json::ObjectPtr>();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Base64Decode(const std::string& text) {
  std::istringstream in(text);
  Poco::Base64Decoder decoder(in);
  std::string out;
  Poco::StreamCopier::copyToString(decoder, out);
  return out;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("server_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  ServerOptions Options() {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.data_dir = (dir_ / "data").string();
    options.kubeconfig_path = (dir_ / "kubeconfig").string();
    options.request_log_path = (dir_ / "requests.log").string();
    options.threads = 8;
    return options;
  }

  void StartServer(const ServerOptions& options) {
    auto server = Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(server).value();
  }

  Poco::Net::HTTPClientSession Session() {
    return Poco::Net::HTTPClientSession("127.0.0.1", server_->port());
  }

  fs::path dir_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, WritesKubeconfigNamingThePortAndServesVersion) {
  StartServer(Options());
  ASSERT_NE(server_->port(), 0);
  EXPECT_EQ(server_->url(), "http://127.0.0.1:" + std::to_string(server_->port()));
  YAML::Node config = YAML::LoadFile((dir_ / "kubeconfig").string());
  EXPECT_EQ(config["current-context"].as<std::string>(), "canaryctl-sandbox");
  EXPECT_EQ(config["clusters"][0]["name"].as<std::string>(), "canaryctl-sandbox");
  EXPECT_EQ(config["clusters"][0]["cluster"]["server"].as<std::string>(), server_->url());
  EXPECT_FALSE(config["clusters"][0]["cluster"]["certificate-authority-data"]);
  EXPECT_EQ(config["contexts"][0]["context"]["user"].as<std::string>(), "canaryctl-sandbox");
  EXPECT_FALSE(fs::exists(dir_ / "kubeconfig.tmp"));

  auto session = Session();
  Reply version = Send(session, "GET", "/version");
  EXPECT_EQ(version.status, 200) << version.body;
  EXPECT_TRUE(ParseJson(version.body)->has("gitVersion")) << version.body;

  Reply health = Send(session, "GET", "/sandbox/health");
  ASSERT_EQ(health.status, 200);
  json::ObjectPtr h = ParseJson(health.body);
  EXPECT_EQ(h->getValue<std::string>("status"), "ok");
  EXPECT_TRUE(h->has("resourceVersion"));
}

TEST_F(ServerTest, TwoServersGetDifferentPorts) {
  StartServer(Options());
  ServerOptions other = Options();
  other.data_dir = (dir_ / "data2").string();
  other.kubeconfig_path = (dir_ / "kubeconfig2").string();
  other.request_log_path = "";
  auto second = Server::Start(other);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_NE(second.value()->port(), server_->port());
}

TEST_F(ServerTest, RejectsBadOptions) {
  ServerOptions bad_listen = Options();
  bad_listen.listen = "not an address";
  EXPECT_FALSE(Server::Start(bad_listen).ok());
  ServerOptions no_data = Options();
  no_data.data_dir = "";
  EXPECT_FALSE(Server::Start(no_data).ok());
  EXPECT_FALSE(fs::exists(dir_ / "kubeconfig")) << "no kubeconfig for a server that never ran";
}

TEST_F(ServerTest, FaultFiresOnTheNthMatchingRequestOnly) {
  StartServer(Options());
  auto session = Session();
  Reply added =
      Send(session, "POST", "/sandbox/faults", R"({"path": "/version", "nth": 2, "status": 503})");
  ASSERT_EQ(added.status, 201) << added.body;
  const int64_t id = ParseJson(added.body)->getValue<int64_t>("id");

  EXPECT_EQ(Send(session, "GET", "/sandbox/health").status, 200) << "admin is never faulted";
  EXPECT_EQ(Send(session, "GET", "/version").status, 200);
  Reply failed = Send(session, "GET", "/version");
  EXPECT_EQ(failed.status, 503);
  json::ObjectPtr status = ParseJson(failed.body);
  EXPECT_EQ(status->getValue<std::string>("kind"), "Status");
  EXPECT_EQ(status->getValue<std::string>("reason"), "ServiceUnavailable");
  EXPECT_EQ(status->getValue<int>("code"), 503);
  EXPECT_EQ(Send(session, "GET", "/version").status, 200);

  Reply list = Send(session, "GET", "/sandbox/faults");
  ASSERT_EQ(list.status, 200);
  json::ObjectPtr rule = ParseJson(list.body)->getArray("items")->getObject(0);
  EXPECT_EQ(rule->getValue<int64_t>("id"), id);
  EXPECT_EQ(rule->getValue<int64_t>("matched"), 3);
  EXPECT_EQ(rule->getValue<int64_t>("fired"), 1);

  EXPECT_EQ(Send(session, "DELETE", "/sandbox/faults/" + std::to_string(id)).status, 200);
  EXPECT_EQ(Send(session, "DELETE", "/sandbox/faults/" + std::to_string(id)).status, 404);
  EXPECT_EQ(Send(session, "DELETE", "/sandbox/faults/abc").status, 404);
}

TEST_F(ServerTest, TooManyRequestsCarriesRetryAfter) {
  StartServer(Options());
  auto session = Session();
  ASSERT_EQ(
      Send(session, "POST", "/sandbox/faults", R"({"status": 429, "message": "slow down"})").status,
      201);
  Reply reply = Send(session, "GET", "/api");
  EXPECT_EQ(reply.status, 429);
  EXPECT_EQ(reply.retry_after, "1");
  EXPECT_EQ(ParseJson(reply.body)->getValue<std::string>("message"), "slow down");
  EXPECT_EQ(ParseJson(reply.body)->getValue<std::string>("reason"), "TooManyRequests");
}

TEST_F(ServerTest, DeleteAllClearsEveryRule) {
  StartServer(Options());
  auto session = Session();
  ASSERT_EQ(Send(session, "POST", "/sandbox/faults", R"({"path": "/version", "count": 0})").status,
            201);
  ASSERT_EQ(Send(session, "POST", "/sandbox/faults", R"({"path": "/api", "count": 0})").status,
            201);
  EXPECT_EQ(Send(session, "GET", "/version").status, 500);
  Reply cleared = Send(session, "DELETE", "/sandbox/faults");
  ASSERT_EQ(cleared.status, 200) << cleared.body;
  EXPECT_EQ(ParseJson(cleared.body)->getArray("items")->size(), 0u);
  EXPECT_EQ(ParseJson(Send(session, "GET", "/sandbox/faults").body)->getArray("items")->size(), 0u);
  EXPECT_EQ(Send(session, "GET", "/version").status, 200);
}

TEST_F(ServerTest, BadFaultRuleIs400AndAddsNothing) {
  StartServer(Options());
  auto session = Session();
  Reply bad = Send(session, "POST", "/sandbox/faults", R"({"path": "(", "status": 500})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(ParseJson(bad.body)->getValue<std::string>("reason"), "BadRequest");
  EXPECT_EQ(Send(session, "POST", "/sandbox/faults", R"({"status": 700})").status, 400);
  EXPECT_EQ(Send(session, "POST", "/sandbox/faults", "not json").status, 400);
  Reply list = Send(session, "GET", "/sandbox/faults");
  EXPECT_EQ(ParseJson(list.body)->getArray("items")->size(), 0u);
  EXPECT_EQ(Send(session, "PUT", "/sandbox/faults").status, 405);
  EXPECT_EQ(Send(session, "GET", "/sandbox/nothing").status, 404);
}

TEST_F(ServerTest, DropClosesTheConnectionWithoutAResponse) {
  StartServer(Options());
  auto admin = Session();
  ASSERT_EQ(Send(admin, "POST", "/sandbox/faults", R"({"method": "GET", "path": "/api",
            "drop": true})")
                .status,
            201);
  auto session = Session();
  EXPECT_THROW(Send(session, "GET", "/api"), Poco::Exception);
  auto again = Session();
  EXPECT_EQ(Send(again, "GET", "/version").status, 200) << "the server survives a drop";
  // Only the first matching request was dropped.
  EXPECT_NO_THROW(Send(again, "GET", "/api"));
}

TEST_F(ServerTest, DelayHoldsTheAnswer) {
  StartServer(Options());
  auto session = Session();
  ASSERT_EQ(Send(session, "POST", "/sandbox/faults", R"({"delayMs": 300})").status, 201);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Send(session, "GET", "/version").status, 200) << "a delay alone answers normally";
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
}

TEST_F(ServerTest, RequestLogHasOneParsableLinePerRequest) {
  StartServer(Options());
  {
    auto session = Session();
    Send(session, "GET", "/version?x=1&y=2");
    Send(session, "POST", "/sandbox/faults", R"({"drop": true})");
    auto dropped = Session();
    EXPECT_THROW(Send(dropped, "GET", "/api"), Poco::Exception);
    Send(session, "GET", "/sandbox/faults");
  }
  server_->Stop();
  std::ifstream in(dir_ / "requests.log");
  std::vector<json::ObjectPtr> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(ParseJson(line));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0]->getValue<std::string>("method"), "GET");
  EXPECT_EQ(lines[0]->getValue<std::string>("path"), "/version");
  EXPECT_EQ(lines[0]->getValue<std::string>("query"), "x=1&y=2");
  EXPECT_EQ(lines[0]->getValue<int>("status"), 200);
  EXPECT_EQ(lines[0]->getValue<std::string>("userAgent"), "server_test");
  EXPECT_GE(lines[0]->getValue<double>("ms"), 0.0);
  const std::string time = lines[0]->getValue<std::string>("time");
  EXPECT_EQ(time.size(), std::string("2026-01-02T03:04:05.678Z").size()) << time;
  EXPECT_EQ(time.back(), 'Z');
  EXPECT_EQ(lines[1]->getValue<int>("status"), 201);
  // Lines are written as requests end: the dropped request ran on its own connection, so its
  // line may come before or after the next request's on the first connection.
  json::ObjectPtr dropped = lines[2], last = lines[3];
  if (dropped->getValue<std::string>("path") != "/api") std::swap(dropped, last);
  EXPECT_EQ(dropped->getValue<std::string>("path"), "/api");
  EXPECT_EQ(dropped->getValue<int>("status"), 0) << "a dropped request logs status 0";
  EXPECT_EQ(last->getValue<std::string>("method"), "GET");
  EXPECT_EQ(last->getValue<std::string>("path"), "/sandbox/faults");
  EXPECT_EQ(last->getValue<int>("status"), 200);
}

TEST_F(ServerTest, StopReturnsWithAnIdleKeepAliveConnectionOpen) {
  StartServer(Options());
  auto session = Session();
  session.setKeepAlive(true);
  ASSERT_EQ(Send(session, "GET", "/version").status, 200);
  const auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  server_->Stop();  // idempotent
}

TEST_F(ServerTest, MetricsAreOpenWithoutCredentials) {
  ServerOptions options = Options();
  options.token = "t0ken-value";
  StartServer(options);
  auto session = Session();
  Poco::Net::HTTPRequest request("GET", "/metrics", HTTPRequest::HTTP_1_1);
  session.sendRequest(request);
  HTTPResponse response;
  std::string body;
  Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
  EXPECT_EQ(response.getStatus(), 200);
  EXPECT_EQ(response.getContentType(), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(body.find("# TYPE istio_requests_total counter"), std::string::npos) << body;
  EXPECT_EQ(Send(session, "POST", "/metrics").status, 405);
  EXPECT_EQ(Send(session, "GET", "/sandbox/workloads").status, 401) << "admin endpoints are not";
}

TEST_F(ServerTest, GatewayReachesTheWorkloadsOfReadyPods) {
  ServerOptions options = Options();
  options.gateway_listen = "127.0.0.1:0";
  options.ready_delay = std::chrono::milliseconds(20);
  StartServer(options);
  ASSERT_NE(server_->gateway_port(), 0);
  EXPECT_NE(server_->gateway_port(), server_->port());
  EXPECT_EQ(server_->gateway_url(), "http://127.0.0.1:" + std::to_string(server_->gateway_port()));
  auto session = Session();
  ASSERT_EQ(Send(session, "POST", "/api/v1/namespaces",
                 R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})")
                .status,
            201);
  ASSERT_EQ(Send(session, "POST", "/api/v1/namespaces/shop/services",
                 R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},
                     "spec":{"selector":{"app":"web"},"ports":[{"port":80}]}})")
                .status,
            201);
  ASSERT_EQ(Send(session, "POST", "/apis/apps/v1/namespaces/shop/deployments",
                 R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
                     "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
                       "template":{"metadata":{"labels":{"app":"web"}},
                         "spec":{"containers":[{"name":"web","image":"web:1.2.3"}]}}}})")
                .status,
            201);
  json::ArrayPtr items;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    Reply workloads = Send(session, "GET", "/sandbox/workloads");
    ASSERT_EQ(workloads.status, 200);
    items = ParseJson(workloads.body)->getArray("items");
    if (items->size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(items->size(), 2u);
  EXPECT_EQ(items->getObject(0)->getValue<std::string>("version"), "1.2.3");
  EXPECT_EQ(items->getObject(0)->getValue<std::string>("workload"), "web");

  Poco::Net::HTTPClientSession gateway("127.0.0.1", server_->gateway_port());
  Reply answer = Send(gateway, "GET", "http://web.shop.svc.cluster.local/x");
  EXPECT_EQ(answer.status, 200) << answer.body;
  EXPECT_NE(answer.body.find("\"namespace\":\"shop\""), std::string::npos) << answer.body;
  EXPECT_EQ(Send(gateway, "GET", "/").status, 404);

  Reply metrics = Send(session, "GET", "/metrics");
  EXPECT_NE(metrics.body.find(
                "istio_requests_total{reporter=\"source\",source_workload=\"istio-ingressgateway\","
                "source_workload_namespace=\"istio-system\",destination_workload=\"web\","
                "destination_workload_namespace=\"shop\","
                "destination_service=\"web.shop.svc.cluster.local\""),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("response_flags=\"NR\"} 1"), std::string::npos) << metrics.body;

  // Deleting the Deployment stops its workloads.
  ASSERT_EQ(Send(session, "DELETE", "/apis/apps/v1/namespaces/shop/deployments/web").status, 200);
  const auto gone = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < gone) {
    items = ParseJson(Send(session, "GET", "/sandbox/workloads").body)->getArray("items");
    if (items->size() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(items->size(), 0u);
  EXPECT_EQ(Send(gateway, "GET", "http://web.shop.svc.cluster.local/x").status, 503);
}

TEST_F(ServerTest, StopCutsASlowGatewayRequestShort) {
  ServerOptions options = Options();
  options.gateway_listen = "127.0.0.1:0";
  options.ready_delay = std::chrono::milliseconds(20);
  StartServer(options);
  auto session = Session();
  ASSERT_EQ(Send(session, "POST", "/api/v1/namespaces",
                 R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"slow"}})")
                .status,
            201);
  ASSERT_EQ(Send(session, "POST", "/api/v1/namespaces/slow/services",
                 R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},
                     "spec":{"selector":{"app":"web"},"ports":[{"port":80}]}})")
                .status,
            201);
  ASSERT_EQ(
      Send(session, "POST", "/api/v1/namespaces/slow/pods",
           R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"}},
                     "spec":{"containers":[{"name":"web","image":"web:1",
                       "env":[{"name":"FAULT_LATENCY_MS","value":"60000"}]}]}})")
          .status,
      201);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline &&
         ParseJson(Send(session, "GET", "/sandbox/workloads").body)->getArray("items")->size() ==
             0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const uint16_t gateway_port = server_->gateway_port();
  std::thread client([gateway_port] {
    Poco::Net::HTTPClientSession gateway("127.0.0.1", gateway_port);
    gateway.setTimeout(Poco::Timespan(70, 0));
    try {
      Send(gateway, "GET", "http://web.slow.svc.cluster.local/");
    } catch (const Poco::Exception&) {
      // Cut off by the shutdown: expected.
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  client.join();
}

TEST_F(ServerTest, BadGatewayAddressFailsToStart) {
  ServerOptions options = Options();
  options.gateway_listen = "not an address";
  auto server = Server::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.error().message.find("--gateway"), std::string::npos) << server.error().message;
}

class TlsServerTest : public ServerTest {
 protected:
  static void SetUpTestSuite() { Poco::Net::initializeSSL(); }

  Poco::Net::Context::Ptr ClientContext(const std::string& ca, bool with_client_cert) {
    Poco::Net::Context::Params params;
    params.caLocation = ca;
    params.loadDefaultCAs = false;
    params.verificationMode = Poco::Net::Context::VERIFY_STRICT;
    if (with_client_cert) {
      params.certificateFile = (dir_ / "data" / "pki" / "client.crt").string();
      params.privateKeyFile = (dir_ / "data" / "pki" / "client.key").string();
    }
    return new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
  }

  Reply TlsGet(const Poco::Net::Context::Ptr& context, const std::string& uri,
               const std::string& authorization = "") {
    Poco::Net::HTTPSClientSession session("localhost", server_->port(), context);
    return Send(session, "GET", uri, "", authorization);
  }

  std::string Pki(const std::string& name) { return (dir_ / "data" / "pki" / name).string(); }
};

TEST_F(TlsServerTest, ClientCertificateIsRequiredAndKubeconfigCarriesIt) {
  ServerOptions options = Options();
  options.tls = true;
  StartServer(options);
  EXPECT_EQ(server_->url(), "https://127.0.0.1:" + std::to_string(server_->port()));

  Reply ok = TlsGet(ClientContext(Pki("ca.crt"), true), "/version");
  EXPECT_EQ(ok.status, 200) << ok.body;

  Reply anonymous = TlsGet(ClientContext(Pki("ca.crt"), false), "/version");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(ParseJson(anonymous.body)->getValue<std::string>("reason"), "Unauthorized");
  EXPECT_EQ(TlsGet(ClientContext(Pki("ca.crt"), false), "/sandbox/health").status, 401)
      << "admin endpoints need the certificate too";

  // A client that trusts another CA refuses the server's certificate.
  EXPECT_THROW(TlsGet(ClientContext(Pki("client.crt"), true), "/version"), Poco::Exception);

  YAML::Node config = YAML::LoadFile((dir_ / "kubeconfig").string());
  EXPECT_EQ(config["clusters"][0]["cluster"]["server"].as<std::string>(), server_->url());
  EXPECT_EQ(Base64Decode(
                config["clusters"][0]["cluster"]["certificate-authority-data"].as<std::string>()),
            ReadFile(Pki("ca.crt")));
  EXPECT_EQ(Base64Decode(config["users"][0]["user"]["client-certificate-data"].as<std::string>()),
            ReadFile(Pki("client.crt")));
  EXPECT_EQ(Base64Decode(config["users"][0]["user"]["client-key-data"].as<std::string>()),
            ReadFile(Pki("client.key")));
  EXPECT_EQ(fs::status(Pki("client.key")).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(Pki("ca.key")).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(TlsServerTest, RestartReusesTheCertificates) {
  ServerOptions options = Options();
  options.tls = true;
  StartServer(options);
  const std::string ca = ReadFile(Pki("ca.crt"));
  const std::string client = ReadFile(Pki("client.crt"));
  ASSERT_FALSE(ca.empty());
  server_.reset();
  StartServer(options);
  EXPECT_EQ(ReadFile(Pki("ca.crt")), ca);
  EXPECT_EQ(ReadFile(Pki("client.crt")), client);
  EXPECT_EQ(TlsGet(ClientContext(Pki("ca.crt"), true), "/version").status, 200);
}

TEST_F(TlsServerTest, DamagedPkiIsRegenerated) {
  ServerOptions options = Options();
  options.tls = true;
  StartServer(options);
  const std::string ca = ReadFile(Pki("ca.crt"));
  server_.reset();
  std::ofstream(Pki("server.key"), std::ios::trunc) << "garbage";
  StartServer(options);
  EXPECT_NE(ReadFile(Pki("ca.crt")), ca);
  EXPECT_EQ(TlsGet(ClientContext(Pki("ca.crt"), true), "/version").status, 200);
}

TEST_F(ServerTest, TokenIsRequiredOnPlainHttp) {
  ServerOptions options = Options();
  options.token = "t0ken-value";
  StartServer(options);
  auto session = Session();
  EXPECT_EQ(Send(session, "GET", "/version", "", "Bearer t0ken-value").status, 200);
  Reply anonymous = Send(session, "GET", "/version");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(ParseJson(anonymous.body)->getValue<std::string>("reason"), "Unauthorized");
  EXPECT_EQ(anonymous.body.find("t0ken-value"), std::string::npos);
  EXPECT_EQ(Send(session, "GET", "/version", "", "Bearer t0ken-valuX").status, 401);
  EXPECT_EQ(Send(session, "GET", "/version", "", "Bearer t0ken-value2").status, 401);
  EXPECT_EQ(Send(session, "GET", "/version", "", "Basic t0ken-value").status, 401);
  EXPECT_EQ(Send(session, "GET", "/sandbox/health").status, 401) << "admin endpoints too";
  EXPECT_EQ(Send(session, "GET", "/sandbox/health", "", "Bearer t0ken-value").status, 200);
}

TEST_F(TlsServerTest, TokenOrClientCertificateIsAccepted) {
  ServerOptions options = Options();
  options.tls = true;
  options.token = "t0ken-value";
  StartServer(options);
  EXPECT_EQ(TlsGet(ClientContext(Pki("ca.crt"), true), "/version").status, 200);
  EXPECT_EQ(TlsGet(ClientContext(Pki("ca.crt"), false), "/version", "Bearer t0ken-value").status,
            200);
  EXPECT_EQ(TlsGet(ClientContext(Pki("ca.crt"), false), "/version", "Bearer wrong").status, 401);
  EXPECT_EQ(TlsGet(ClientContext(Pki("ca.crt"), false), "/version").status, 401);
  // The kubeconfig keeps the client certificate and never carries the token.
  YAML::Node config = YAML::LoadFile((dir_ / "kubeconfig").string());
  EXPECT_TRUE(config["users"][0]["user"]["client-certificate-data"].IsDefined());
  EXPECT_EQ(ReadFile((dir_ / "kubeconfig").string()).find("t0ken-value"), std::string::npos);
}

TEST_F(TlsServerTest, MetricsNeedNoClientCertificate) {
  ServerOptions options = Options();
  options.tls = true;
  StartServer(options);
  EXPECT_EQ(TlsGet(ClientContext(Pki("ca.crt"), false), "/metrics").status, 200);
  EXPECT_EQ(TlsGet(ClientContext(Pki("ca.crt"), false), "/version").status, 401);
}

}  // namespace
}  // namespace sandbox

#include "sandbox/gateway.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/SocketStream.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>

#include "http_reply.h"
#include "json_object.h"
#include "sandbox/mesh.h"
#include "sandbox/pod_workloads.h"
#include "sandbox/store.h"

namespace sandbox {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const ResourceRef kPods{"", "pods"};
const ResourceRef kServices{"", "services"};
const ResourceRef kVirtualServices{"networking.istio.io", "virtualservices"};

class GatewayTest : public testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open("");
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    workloads_ = std::make_unique<WorkloadHost>(metrics_);
    mesh_ = std::make_unique<Mesh>(*store_, *workloads_);
    workloads_->SetServiceLookup([this](const std::string& ns, const std::string& pod) {
      return mesh_->ServiceOf(ns, pod);
    });
    GatewayOptions options;
    options.threads = 16;
    auto gateway = Gateway::Start(options, *mesh_, metrics_);
    ASSERT_TRUE(gateway.ok()) << gateway.error().message;
    gateway_ = std::move(gateway).value();
    session_ = std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1", gateway_->port());
    session_->setTimeout(Poco::Timespan(10, 0));
  }
  void TearDown() override {
    session_.reset();
    if (gateway_) gateway_->Stop();
    if (workloads_) workloads_->StopAll();
  }

  // A ready Pod of Deployment flaskapp in ns, served by a workload.
  std::string AddPod(const std::string& ns, const std::string& name, const std::string& version,
                     const std::string& env = "[]") {
    auto created = store_->Create(
        kPods, ns,
        Obj(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
            R"(","namespace":")" + ns + R"(","labels":{"app":"flaskapp","version":")" + version +
            R"(","pod-template-hash":"h1"},
            "ownerReferences":[{"kind":"ReplicaSet","name":"flaskapp-h1","controller":true}]},
            "spec":{"containers":[{"name":"c","image":"x:)" +
            version + R"(","env":)" + env + R"(}]},
            "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}})"));
    EXPECT_TRUE(created.ok());
    EXPECT_TRUE(workloads_->Run(created.value()));
    const std::string uid = json::GetString(created.value(), "metadata.uid").value();
    uids_.insert(uid);
    return uid;
  }
  void RemovePod(const std::string& uid) {
    uids_.erase(uid);
    workloads_->Retain(uids_);
  }
  void AddService(const std::string& ns, const std::string& name) {
    ASSERT_TRUE(
        store_
            ->Create(kServices, ns,
                     Obj(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":")" + name +
                         R"(","namespace":")" + ns + R"("},"spec":{"selector":{"app":")" + name +
                         R"("},"ports":[{"name":"http","port":80}]}})"))
            .ok());
  }
  void AddDemo() {
    AddPod("prod", "flaskapp-h1-a", "v1");
    AddPod("prod", "flaskapp-h1-b", "v1");
    AddPod("stage", "flaskapp-h1-c", "v2");
    AddPod("stage", "flaskapp-h1-d", "v2");
    AddService("prod", "flaskapp");
    AddService("stage", "flaskapp");
  }
  // The demo's VirtualService at stage weight w, with the canaryctl test route.
  void ApplyWeights(int w, const std::string& extra_route = "") {
    const std::string spec =
        R"({"hosts":["*"],"gateways":["app-gateway"],"http":[)" + extra_route +
        R"({"name":"canary-test","match":[{"headers":{"x-canary":{"exact":"always"}}}],
            "route":[{"destination":{"host":"flaskapp.stage.svc.cluster.local"}}]},
           {"name":"weighted","route":[
             {"destination":{"host":"flaskapp.prod.svc.cluster.local","port":{"number":80}},"weight":)" +
        std::to_string(100 - w) +
        R"(},{"destination":{"host":"flaskapp.stage.svc.cluster.local"},"weight":)" +
        std::to_string(w) + "}]}]}";
    json::ObjectPtr vs = Obj(
        R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"demoapp","namespace":"prod"},"spec":)" +
        spec + "}");
    auto existing = store_->Get(kVirtualServices, "prod", "demoapp");
    if (existing.ok()) {
      ASSERT_TRUE(store_->Update(kVirtualServices, "prod", vs).ok());
    } else {
      ASSERT_TRUE(store_->Create(kVirtualServices, "prod", vs).ok());
    }
  }

  Reply Send(const std::string& path = "/", const std::map<std::string, std::string>& headers = {},
             const std::string& method = "GET", const std::string& body = "") {
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost("demo.example.com");
    for (const auto& [k, v] : headers) request.set(k, v);
    return Read(*session_, request, body);
  }

  // How many of n requests the stage (v2) Pods answered; fails on any other answer.
  int StageShare(int n) {
    int stage = 0;
    for (int i = 0; i < n; ++i) {
      Reply r = Send();
      EXPECT_EQ(r.status, 200) << r.error << r.body;
      if (r.status != 200) return -1;
      if (r.Header("X-Version") == "v2") ++stage;
    }
    return stage;
  }

  RequestLabels SourceLabels(int code, const std::string& ns, const std::string& version) {
    RequestLabels l;
    l.reporter = "source";
    l.source_workload = "istio-ingressgateway";
    l.source_workload_namespace = "istio-system";
    l.destination_workload = "flaskapp";
    l.destination_workload_namespace = ns;
    l.destination_service = "flaskapp." + ns + ".svc.cluster.local";
    l.destination_service_name = "flaskapp";
    l.destination_service_namespace = ns;
    l.destination_app = "flaskapp";
    l.destination_version = version;
    l.response_code = code;
    l.response_flags = "-";
    return l;
  }

  IstioMetrics metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<WorkloadHost> workloads_;
  std::unique_ptr<Mesh> mesh_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
  std::set<std::string> uids_;
};

TEST_F(GatewayTest, WeightsSplitTrafficWithinBinomialTolerance) {
  AddDemo();
  for (int w : {0, 30, 60, 100}) {
    ApplyWeights(w);
    const int n = 1000;
    const int stage = StageShare(n);
    const double p = w / 100.0;
    const double sd = std::sqrt(n * p * (1 - p));
    EXPECT_NEAR(stage, n * p, 5 * sd + 0.5) << "weight " << w;
  }
}

TEST_F(GatewayTest, HeaderRouteWinsAtAnyWeight) {
  AddDemo();
  ApplyWeights(0);
  for (int i = 0; i < 20; ++i) {
    Reply r = Send("/", {{"X-Canary", "always"}});
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.Header("X-Version"), "v2");
    EXPECT_EQ(r.Header("X-Namespace"), "stage");
  }
  EXPECT_EQ(Send("/", {{"x-canary", "never"}}).Header("X-Version"), "v1");
}

TEST_F(GatewayTest, AnswersAreRelayedAndPodsTakenInTurn) {
  AddDemo();
  ApplyWeights(0);
  std::set<std::string> pods;
  for (int i = 0; i < 4; ++i) {
    Reply r = Send("/some/path?x=1", {}, "POST", std::string(50000, 'b'));
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.Header("Content-Type"), "application/json");
    EXPECT_EQ(r.Header("server"), "istio-envoy");
    EXPECT_FALSE(r.Header("x-envoy-upstream-service-time").empty());
    EXPECT_NE(r.body.find("\"namespace\":\"prod\""), std::string::npos);
    pods.insert(r.Header("X-Pod"));
  }
  EXPECT_EQ(pods, (std::set<std::string>{"flaskapp-h1-a", "flaskapp-h1-b"}));
  // HEAD: headers only.
  Reply head = Send("/", {}, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
}

TEST_F(GatewayTest, NoRouteIs404) {
  AddDemo();
  Reply r = Send();
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.body.empty());
  RequestLabels l;
  l.reporter = "source";
  l.source_workload = "istio-ingressgateway";
  l.source_workload_namespace = "istio-system";
  l.response_code = 404;
  l.response_flags = "NR";
  EXPECT_EQ(metrics_.Count(l), 1u);
  // A VirtualService for another host only.
  ASSERT_TRUE(
      store_
          ->Create(kVirtualServices, "prod", Obj(R"({"metadata":{"name":"shop","namespace":"prod"},
      "spec":{"hosts":["shop.example.com"],"gateways":["gw"],
              "http":[{"route":[{"destination":{"host":"flaskapp"}}]}]}})"))
          .ok());
  EXPECT_EQ(Send().status, 404);
  Poco::Net::HTTPRequest request("GET", "/", Poco::Net::HTTPMessage::HTTP_1_1);
  request.setHost("shop.example.com", 8080);
  Reply shop = Read(*session_, request);
  EXPECT_EQ(shop.status, 200);
  EXPECT_EQ(shop.Header("X-Namespace"), "prod");
}

TEST_F(GatewayTest, ServiceWithoutReadyPodIs503NoHealthyUpstream) {
  AddService("prod", "flaskapp");
  AddService("stage", "flaskapp");
  const std::string uid = AddPod("prod", "flaskapp-h1-a", "v1");
  ApplyWeights(100);
  Reply r = Send();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "no healthy upstream");
  RequestLabels l;
  l.reporter = "source";
  l.source_workload = "istio-ingressgateway";
  l.source_workload_namespace = "istio-system";
  l.destination_service = "flaskapp.stage.svc.cluster.local";
  l.destination_service_name = "flaskapp";
  l.destination_service_namespace = "stage";
  l.response_code = 503;
  l.response_flags = "UH";
  EXPECT_EQ(metrics_.Count(l), 1u);

  ApplyWeights(0);
  EXPECT_EQ(Send().status, 200);
  RemovePod(uid);  // its workload stops: the Service has no ready endpoint left
  EXPECT_EQ(Send().status, 503);
}

TEST_F(GatewayTest, ClusterLocalHostsAreProxiedAsMeshTraffic) {
  AddDemo();  // no VirtualService at all
  // Absolute form, as curl and Poco send through an HTTP proxy.
  Poco::Net::HTTPClientSession proxied("flaskapp.stage.svc.cluster.local", 80);
  proxied.setProxy("127.0.0.1", gateway_->port());
  proxied.setTimeout(Poco::Timespan(10, 0));
  for (int i = 0; i < 3; ++i) {
    Poco::Net::HTTPRequest request("GET", "/x?y=1", Poco::Net::HTTPMessage::HTTP_1_1);
    Reply r = Read(proxied, request);
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.Header("X-Namespace"), "stage");
  }
  // Written out by hand: the request line names the absolute URL.
  Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", gateway_->port()));
  Poco::Net::SocketStream stream(socket);
  stream << "GET http://flaskapp.prod.svc.cluster.local/hello HTTP/1.1\r\n"
            "Host: flaskapp.prod.svc.cluster.local\r\nConnection: close\r\n\r\n"
         << std::flush;
  std::string raw;
  Poco::StreamCopier::copyToString(stream, raw);
  EXPECT_EQ(raw.rfind("HTTP/1.1 200", 0), 0u) << raw;
  EXPECT_NE(raw.find("X-Namespace: prod"), std::string::npos) << raw;
  // And by Host header alone.
  Reply r = Send("/", {{"Host", "flaskapp.stage.svc.cluster.local"}});
  EXPECT_EQ(r.Header("X-Namespace"), "stage");
  // An unknown Service: no healthy upstream.
  EXPECT_EQ(Send("/", {{"Host", "nothing.stage.svc.cluster.local"}}).status, 503);
}

TEST_F(GatewayTest, AbsoluteFormForOtherHostsIsRoutedByVirtualServiceHost) {
  AddDemo();
  ASSERT_TRUE(store_
                  ->Create(kVirtualServices, "stage",
                           Obj(R"({"metadata":{"name":"shop","namespace":"stage"},
      "spec":{"hosts":["shop.example.com"],"gateways":["gw"],
              "http":[{"route":[{"destination":{"host":"flaskapp"}}]}]}})"))
                  .ok());
  Poco::Net::HTTPClientSession proxied("shop.example.com", 80);
  proxied.setProxy("127.0.0.1", gateway_->port());
  Poco::Net::HTTPRequest request("GET", "/", Poco::Net::HTTPMessage::HTTP_1_1);
  Reply r = Read(proxied, request);
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.Header("X-Namespace"), "stage");
  Poco::Net::HTTPClientSession other("other.example.com", 80);
  other.setProxy("127.0.0.1", gateway_->port());
  Poco::Net::HTTPRequest request2("GET", "/", Poco::Net::HTTPMessage::HTTP_1_1);
  EXPECT_EQ(Read(other, request2).status, 404);
}

TEST_F(GatewayTest, FaultsAreRelayedAndCounted) {
  AddService("prod", "flaskapp");
  AddService("stage", "flaskapp");
  AddPod("prod", "flaskapp-h1-a", "v1");
  AddPod("stage", "flaskapp-h1-c", "v3", R"([{"name":"FAULT_ERROR_RATE","value":"1"}])");
  ApplyWeights(100);
  for (int i = 0; i < 5; ++i) {
    Reply r = Send();
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.Header("X-Version"), "v3");
  }
  EXPECT_EQ(metrics_.Count(SourceLabels(500, "stage", "v3")), 5u);
  RequestLabels dest = SourceLabels(500, "stage", "v3");
  dest.reporter = "destination";
  EXPECT_EQ(metrics_.Count(dest), 5u);
}

TEST_F(GatewayTest, RouteTimeoutAnswers504InsteadOfHanging) {
  AddService("prod", "flaskapp");
  AddPod("prod", "flaskapp-h1-a", "v1", R"([{"name":"FAULT_LATENCY_MS","value":"5000"}])");
  ASSERT_TRUE(
      store_
          ->Create(kVirtualServices, "prod", Obj(R"({"metadata":{"name":"slow","namespace":"prod"},
      "spec":{"hosts":["*"],"gateways":["gw"],
              "http":[{"timeout":"200ms","route":[{"destination":{"host":"flaskapp"}}]}]}})"))
          .ok());
  const auto start = Clock::now();
  Reply r = Send();
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(r.body, "upstream request timeout");
  EXPECT_LT(Clock::now() - start, 3s);
  RequestLabels l = SourceLabels(504, "prod", "v1");
  l.response_flags = "UT";
  EXPECT_EQ(metrics_.Count(l), 1u);
}

TEST_F(GatewayTest, MetricsCountEveryRequestOnBothSides) {
  AddDemo();
  ApplyWeights(0);
  for (int i = 0; i < 25; ++i) ASSERT_EQ(Send().status, 200);
  EXPECT_EQ(metrics_.Count(SourceLabels(200, "prod", "v1")), 25u);
  RequestLabels dest = SourceLabels(200, "prod", "v1");
  dest.reporter = "destination";
  EXPECT_EQ(metrics_.Count(dest), 25u);
}

TEST_F(GatewayTest, ServesConcurrentClients) {
  AddDemo();
  ApplyWeights(50);
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 12; ++c) {
    clients.emplace_back([&] {
      Poco::Net::HTTPClientSession session("127.0.0.1", gateway_->port());
      session.setTimeout(Poco::Timespan(10, 0));
      for (int i = 0; i < 100; ++i) {
        Poco::Net::HTTPRequest request("GET", "/", Poco::Net::HTTPMessage::HTTP_1_1);
        request.setHost("demo.example.com");
        if (Read(session, request).status == 200) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 1200);
}

}  // namespace
}  // namespace sandbox

#include "sandbox/pod_workloads.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <string>
#include <thread>

#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include "http_reply.h"
#include "json_object.h"
#include "sandbox/controllers.h"
#include "sandbox/store.h"

namespace sandbox {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const ResourceRef kPods{"", "pods"};
const ResourceRef kNamespaces{"", "namespaces"};

json::ObjectPtr Pod(const std::string& uid, const std::string& env = "[]",
                    const std::string& version = "v1", const std::string& rv = "1") {
  return Obj(R"({"metadata":{"name":"flaskapp-abc12-xyz","namespace":"stage","uid":")" + uid +
             R"(","resourceVersion":")" + rv + R"(","labels":{"app":"flaskapp","version":")" +
             version +
             R"(","pod-template-hash":"abc12"},
       "ownerReferences":[{"kind":"ReplicaSet","name":"flaskapp-abc12","controller":true}]},
       "spec":{"containers":[{"name":"c","image":"registry.example.com/flaskapp:)" +
             version + R"(","env":)" + env + "}]}}");
}

Reply Get(uint16_t port, const std::string& path = "/",
          const std::map<std::string, std::string>& headers = {}, const std::string& method = "GET",
          const std::string& body = "") {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setTimeout(Poco::Timespan(5, 0));
  Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [k, v] : headers) request.set(k, v);
  return Read(session, request, body);
}

RequestLabels DestinationLabels(int code, const std::string& source = "unknown",
                                const std::string& source_ns = "unknown",
                                const std::string& service = "") {
  RequestLabels l;
  l.reporter = "destination";
  l.source_workload = source;
  l.source_workload_namespace = source_ns;
  l.destination_workload = "flaskapp";
  l.destination_workload_namespace = "stage";
  l.destination_service = service;
  if (!service.empty()) {
    l.destination_service_name = "flaskapp";
    l.destination_service_namespace = "stage";
  }
  l.destination_app = "flaskapp";
  l.destination_version = "v1";
  l.response_code = code;
  l.response_flags = "-";
  return l;
}

TEST(WorkloadHostTest, AnswersWithItsIdentity) {
  IstioMetrics metrics;
  WorkloadHost host(metrics);
  const uint64_t gen = host.generation();
  ASSERT_TRUE(host.Run(Pod("u1")));
  EXPECT_NE(host.generation(), gen);
  const uint16_t port = host.PortOf("u1");
  ASSERT_NE(port, 0);
  EXPECT_EQ(host.PortOf("other"), 0);

  Reply r = Get(port, "/any/path?x=1");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body,
            "{\"app\":\"flaskapp\",\"version\":\"v1\",\"pod\":\"flaskapp-abc12-xyz\","
            "\"namespace\":\"stage\"}\n");
  EXPECT_EQ(r.headers["X-App"], "flaskapp");
  EXPECT_EQ(r.headers["X-Version"], "v1");
  EXPECT_EQ(r.headers["X-Pod"], "flaskapp-abc12-xyz");
  EXPECT_EQ(r.headers["X-Namespace"], "stage");
  EXPECT_EQ(r.headers["Content-Type"], "application/json");
  EXPECT_EQ(Get(port, "/", {}, "POST", std::string(100000, 'x')).status, 200);
  EXPECT_EQ(Get(port, "/", {}, "DELETE").status, 200);

  // Sent straight to it: the source is unknown, and the Service the lookup names.
  EXPECT_EQ(metrics.Count(DestinationLabels(200)), 3u);
  host.SetServiceLookup([](const std::string& ns, const std::string& pod) {
    return pod == "flaskapp-abc12-xyz" ? "flaskapp." + ns + ".svc.cluster.local" : "";
  });
  Get(port);
  EXPECT_EQ(metrics.Count(
                DestinationLabels(200, "unknown", "unknown", "flaskapp.stage.svc.cluster.local")),
            1u);
  // Through the gateway, which says so in its headers.
  Get(port, "/",
      {{kSourceWorkloadHeader, "istio-ingressgateway"},
       {kSourceNamespaceHeader, "istio-system"},
       {kDestinationServiceHeader, "flaskapp.stage.svc.cluster.local"}});
  EXPECT_EQ(metrics.Count(DestinationLabels(200, "istio-ingressgateway", "istio-system",
                                            "flaskapp.stage.svc.cluster.local")),
            1u);
  ASSERT_EQ(host.List().size(), 1u);
  EXPECT_EQ(host.List()[0].port, port);
  EXPECT_EQ(host.List()[0].identity.workload, "flaskapp");
}

TEST(WorkloadHostTest, FollowsLabelChangesAndStopsWhenNotRetained) {
  IstioMetrics metrics;
  WorkloadHost host(metrics);
  ASSERT_TRUE(host.Run(Pod("u1")));
  const uint16_t port = host.PortOf("u1");
  // Same resourceVersion: nothing to do.
  ASSERT_TRUE(host.Run(Pod("u1", "[]", "v7", "1")));
  EXPECT_EQ(Get(port).headers["X-Version"], "v1");
  ASSERT_TRUE(host.Run(Pod("u1", "[]", "v7", "2")));
  EXPECT_EQ(host.PortOf("u1"), port);
  EXPECT_EQ(Get(port).headers["X-Version"], "v7");

  ASSERT_TRUE(host.Run(Pod("u2")));
  const uint64_t gen = host.generation();
  host.Retain({"u2"});
  EXPECT_NE(host.generation(), gen);
  EXPECT_EQ(host.PortOf("u1"), 0);
  EXPECT_NE(host.PortOf("u2"), 0);
  // The server winds down in the background; soon nothing answers there.
  const auto deadline = Clock::now() + 5s;
  Reply r;
  while ((r = Get(port)).status != 0 && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(r.status, 0);
  host.StopAll();
  EXPECT_EQ(host.PortOf("u2"), 0);
  EXPECT_TRUE(host.List().empty());
}

TEST(WorkloadHostTest, ErrorRateAnswers500WithTheSameIdentity) {
  IstioMetrics metrics;
  WorkloadHost host(metrics);
  ASSERT_TRUE(host.Run(Pod("all", R"([{"name":"FAULT_ERROR_RATE","value":"1"}])")));
  Reply r = Get(host.PortOf("all"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.headers["X-Version"], "v1");
  EXPECT_NE(r.body.find("\"version\":\"v1\""), std::string::npos);
  EXPECT_NE(r.body.find("\"error\""), std::string::npos);
  EXPECT_EQ(metrics.Count(DestinationLabels(500)), 1u);
}

TEST(WorkloadHostTest, ErrorRateIsAFraction) {
  IstioMetrics metrics;
  WorkloadHost host(metrics);
  ASSERT_TRUE(host.Run(Pod("some", R"([{"name":"FAULT_ERROR_RATE","value":"0.2"}])")));
  const uint16_t port = host.PortOf("some");
  const int n = 1000;
  Poco::Net::HTTPClientSession session("127.0.0.1", port);  // one keep-alive connection
  int errors = 0;
  for (int i = 0; i < n; ++i) {
    Poco::Net::HTTPRequest request("GET", "/", Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::string body;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
    if (response.getStatus() == 500) ++errors;
  }
  // Binomial(1000, 0.2): mean 200, sd 12.6; 5 sd either way.
  const double sd = std::sqrt(n * 0.2 * 0.8);
  EXPECT_NEAR(errors, n * 0.2, 5 * sd);
  EXPECT_EQ(metrics.Count(DestinationLabels(500)) + metrics.Count(DestinationLabels(200)),
            static_cast<uint64_t>(n));
  EXPECT_EQ(metrics.Count(DestinationLabels(500)), static_cast<uint64_t>(errors));
}

TEST(WorkloadHostTest, LatencyDelaysEveryAnswer) {
  IstioMetrics metrics;
  WorkloadHost host(metrics);
  ASSERT_TRUE(host.Run(Pod("slow", R"([{"name":"FAULT_LATENCY_MS","value":"150"}])")));
  const auto start = Clock::now();
  EXPECT_EQ(Get(host.PortOf("slow")).status, 200);
  EXPECT_GE(Clock::now() - start, 150ms);
  const std::string text = metrics.Render();
  const std::string labels = IstioMetrics::LabelText(DestinationLabels(200));
  EXPECT_NE(text.find("istio_request_duration_milliseconds_bucket{" + labels + ",le=\"100\"} 0"),
            std::string::npos);
  EXPECT_NE(text.find("istio_request_duration_milliseconds_bucket{" + labels + ",le=\"250\"} 1"),
            std::string::npos);
}

TEST(WorkloadHostTest, StopAllCutsLatencyShort) {
  IstioMetrics metrics;
  auto host = std::make_unique<WorkloadHost>(metrics);
  ASSERT_TRUE(host->Run(Pod("slow", R"([{"name":"FAULT_LATENCY_MS","value":"60000"}])")));
  const uint16_t port = host->PortOf("slow");
  std::thread client([port] { Get(port); });
  std::this_thread::sleep_for(200ms);
  const auto start = Clock::now();
  host->StopAll();
  EXPECT_LT(Clock::now() - start, 3s);
  client.join();
}

// ---- with the controllers ----

class RecordingRuntime : public PodRuntime {
 public:
  bool Run(const json::ObjectPtr& pod) override {
    runs.push_back(json::GetString(pod, "metadata.name").value_or(""));
    return accept;
  }
  void Retain(const std::set<std::string>& running_uids) override { retained = running_uids; }
  bool accept = true;
  std::vector<std::string> runs;
  std::set<std::string> retained;
};

std::unique_ptr<Store> StoreWithDefaultNamespace() {
  auto store = Store::Open("");
  EXPECT_TRUE(store.ok());
  auto ns =
      json::ParseObject(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}})");
  EXPECT_TRUE(store.value()->Create(kNamespaces, "", ns.value()).ok());
  return std::move(store).value();
}

json::ObjectPtr BarePod(const std::string& name) {
  return Obj(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
             R"(","namespace":"default","labels":{"app":"x"}},
       "spec":{"containers":[{"name":"c","image":"x:v3"}]}})");
}

bool Ready(Store& store, const std::string& name) {
  auto pod = store.Get(kPods, "default", name);
  if (!pod.ok()) return false;
  json::ArrayPtr conds = json::GetArray(pod.value(), "status.conditions");
  for (size_t i = 0; conds && i < conds->size(); ++i) {
    json::ObjectPtr c = json::AsObject(conds->get(i));
    if (json::GetString(c, "type") == "Ready") return json::GetString(c, "status") == "True";
  }
  return false;
}

TEST(WorkloadRuntimeTest, PodIsReadyOnlyOnceItsRuntimeServesIt) {
  auto store = StoreWithDefaultNamespace();
  RecordingRuntime runtime;
  runtime.accept = false;
  ControllerOptions options;
  options.ready_delay = 100ms;
  options.runtime = &runtime;
  ControllerManager controllers(*store, options);
  ASSERT_TRUE(store->Create(kPods, "default", BarePod("a")).ok());
  const auto t0 = Clock::now();
  controllers.ReconcileOnce(t0);
  controllers.ReconcileOnce(t0 + 200ms);
  EXPECT_FALSE(Ready(*store, "a"));
  EXPECT_FALSE(runtime.runs.empty());
  EXPECT_TRUE(runtime.retained.empty());

  runtime.accept = true;
  controllers.ReconcileOnce(t0 + 400ms);
  EXPECT_TRUE(Ready(*store, "a"));
  const std::string uid =
      json::GetString(store->Get(kPods, "default", "a").value(), "metadata.uid").value();
  EXPECT_EQ(runtime.retained, (std::set<std::string>{uid}));

  ASSERT_TRUE(store->Delete(kPods, "default", "a").ok());
  controllers.ReconcileOnce(t0 + 500ms);
  EXPECT_TRUE(runtime.retained.empty());
}

TEST(WorkloadRuntimeTest, ReadyPodsAreServedAgainAfterARestart) {
  auto store = StoreWithDefaultNamespace();
  const auto t0 = Clock::now();
  {
    ControllerOptions options;
    options.ready_delay = 100ms;
    ControllerManager controllers(*store, options);  // no runtime
    ASSERT_TRUE(store->Create(kPods, "default", BarePod("b")).ok());
    controllers.ReconcileOnce(t0);
    controllers.ReconcileOnce(t0 + 200ms);
    ASSERT_TRUE(Ready(*store, "b"));
  }
  IstioMetrics metrics;
  WorkloadHost host(metrics);
  ControllerOptions options;
  options.runtime = &host;
  ControllerManager controllers(*store, options);
  controllers.ReconcileOnce(t0 + 300ms);
  const std::string uid =
      json::GetString(store->Get(kPods, "default", "b").value(), "metadata.uid").value();
  ASSERT_NE(host.PortOf(uid), 0);
  Reply r = Get(host.PortOf(uid));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["X-Version"], "v3");  // the image tag
  EXPECT_EQ(r.headers["X-App"], "x");
}

}  // namespace
}  // namespace sandbox

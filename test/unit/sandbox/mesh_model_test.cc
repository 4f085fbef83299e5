#include "sandbox/mesh_model.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "json_object.h"

namespace sandbox {
namespace {

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

std::string LabelsJson(const std::map<std::string, std::string>& labels) {
  std::string out = "{";
  for (const auto& [k, v] : labels) {
    if (out.size() > 1) out += ",";
    out += Quote(k) + ":" + Quote(v);
  }
  return out + "}";
}

// A Deployment's Pod: owned by ReplicaSet <deploy>-<hash>, Ready unless told otherwise.
json::ObjectPtr Pod(const std::string& ns, const std::string& name,
                    std::map<std::string, std::string> labels, bool ready = true,
                    const std::string& image = "registry.example.com/app:v9",
                    const std::string& env = "[]") {
  labels.emplace("pod-template-hash", "abc12");
  return Obj(R"({"metadata":{"name":")" + name + R"(","namespace":")" + ns + R"(","uid":"uid-)" +
             ns + "-" + name + R"(","labels":)" + LabelsJson(labels) +
             R"(,"ownerReferences":[{"kind":"ReplicaSet","name":"web-abc12","controller":true}]},
       "spec":{"containers":[{"name":"c","image":")" +
             image + R"(","env":)" + env + R"(}]},
       "status":{"phase":"Running","conditions":[{"type":"Ready","status":")" +
             (ready ? "True" : "False") + R"("}]}})");
}

json::ObjectPtr Service(const std::string& ns, const std::string& name,
                        const std::map<std::string, std::string>& selector, int port = 80) {
  return Obj(R"({"metadata":{"name":")" + name + R"(","namespace":")" + ns +
             R"("},"spec":{"selector":)" + LabelsJson(selector) + R"(,"ports":[{"port":)" +
             std::to_string(port) + "}]}}");
}

json::ObjectPtr VirtualServiceObj(const std::string& ns, const std::string& name,
                                  const std::string& spec,
                                  const std::string& created = "2026-01-01T00:00:00Z") {
  return Obj(
      R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":")" +
      name + R"(","namespace":")" + ns + R"(","creationTimestamp":")" + created + R"("},"spec":)" +
      spec + "}");
}

class MeshModelTest : public testing::Test {
 protected:
  void Build() {
    snapshot_ = BuildMeshSnapshot(pods_, services_, virtual_services_, destination_rules_,
                                  [this](const std::string& uid) -> uint16_t {
                                    auto it = ports_.find(uid);
                                    return it == ports_.end() ? 0 : it->second;
                                  });
  }
  void AddPod(json::ObjectPtr pod, uint16_t port) {
    ports_[json::GetString(pod, "metadata.uid").value()] = port;
    pods_.push_back(pod);
  }
  // The demo: flaskapp v1 in prod (ports 1001, 1002), v2 in stage (2001, 2002).
  void AddDemo() {
    AddPod(Pod("prod", "flaskapp-1", {{"app", "flaskapp"}, {"version", "v1"}}), 1001);
    AddPod(Pod("prod", "flaskapp-2", {{"app", "flaskapp"}, {"version", "v1"}}), 1002);
    AddPod(Pod("stage", "flaskapp-1", {{"app", "flaskapp"}, {"version", "v2"}}), 2001);
    AddPod(Pod("stage", "flaskapp-2", {{"app", "flaskapp"}, {"version", "v2"}}), 2002);
    services_.push_back(Service("prod", "flaskapp", {{"app", "flaskapp"}}));
    services_.push_back(Service("stage", "flaskapp", {{"app", "flaskapp"}}));
  }
  RouteChoice Route(const std::string& host, const std::string& path = "/",
                    std::vector<std::pair<std::string, std::string>> headers = {},
                    uint64_t draw = 0, const std::string& method = "GET") {
    MeshRequest r;
    r.host = host;
    r.path = path;
    r.method = method;
    r.headers = std::move(headers);
    return RouteRequest(*snapshot_, r, [draw](uint64_t n) {
      EXPECT_LT(draw, n);
      return draw;
    });
  }

  std::vector<json::ObjectPtr> pods_, services_, virtual_services_, destination_rules_;
  std::map<std::string, uint16_t> ports_;
  std::unique_ptr<MeshSnapshot> snapshot_;
};

// ---- identity ----

TEST(PodIdentityTest, LabelsFirst) {
  PodIdentity id =
      IdentityOf(Pod("prod", "flaskapp-abc12-x7k2p", {{"app", "flaskapp"}, {"version", "v1"}}));
  EXPECT_EQ(id.ns, "prod");
  EXPECT_EQ(id.pod, "flaskapp-abc12-x7k2p");
  EXPECT_EQ(id.app, "flaskapp");
  EXPECT_EQ(id.version, "v1");
  EXPECT_EQ(id.workload, "web");  // ReplicaSet web-abc12 minus its pod-template-hash
  EXPECT_EQ(id.error_rate, 0);
  EXPECT_EQ(id.latency_ms, 0);
}

TEST(PodIdentityTest, FallsBackToImageTagAndNameLabelAndWorkload) {
  PodIdentity id = IdentityOf(Pod("prod", "p", {{"app.kubernetes.io/name", "shop"}}, true,
                                  "registry.example.com:5000/team/shop:2.4.1@sha256:abcd"));
  EXPECT_EQ(id.app, "shop");
  EXPECT_EQ(id.version, "2.4.1");
  id = IdentityOf(Pod("prod", "p", {}, true, "registry.example.com:5000/team/shop"));
  EXPECT_EQ(id.app, "web");  // the owning Deployment
  EXPECT_EQ(id.version, "latest");
}

TEST(PodIdentityTest, WorkloadOfOtherOwnersAndBarePods) {
  PodIdentity id = IdentityOf(Obj(
      R"({"metadata":{"name":"db-0","namespace":"x","ownerReferences":[{"kind":"StatefulSet","name":"db","controller":true}]}})"));
  EXPECT_EQ(id.workload, "db");
  id = IdentityOf(Obj(R"({"metadata":{"name":"lonely","namespace":"x"}})"));
  EXPECT_EQ(id.workload, "lonely");
  EXPECT_EQ(id.app, "lonely");
}

TEST(PodIdentityTest, FaultsFromContainerEnv) {
  PodIdentity id = IdentityOf(Pod("p", "a", {}, true, "i:v1",
                                  R"([{"name":"FAULT_ERROR_RATE","value":"0.2"},
                                      {"name":"FAULT_LATENCY_MS","value":"800"}])"));
  EXPECT_DOUBLE_EQ(id.error_rate, 0.2);
  EXPECT_EQ(id.latency_ms, 800);
  id = IdentityOf(Pod("p", "a", {}, true, "i:v1",
                      R"([{"name":"FAULT_ERROR_RATE","value":"7"},
                          {"name":"FAULT_LATENCY_MS","value":"-5"}])"));
  EXPECT_DOUBLE_EQ(id.error_rate, 1.0);
  EXPECT_EQ(id.latency_ms, 0);
  // Only plain values count.
  id = IdentityOf(
      Pod("p", "a", {}, true, "i:v1",
          R"([{"name":"FAULT_ERROR_RATE","valueFrom":{"configMapKeyRef":{"name":"x","key":"y"}}},
                          {"name":"FAULT_LATENCY_MS","value":"soon"}])"));
  EXPECT_EQ(id.error_rate, 0);
  EXPECT_EQ(id.latency_ms, 0);
}

// ---- host names ----

TEST(HostNamesTest, ClusterLocalAndDestinations) {
  auto parsed = ParseClusterLocal("flaskapp.stage.svc.cluster.local");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->first, "flaskapp");
  EXPECT_EQ(parsed->second, "stage");
  EXPECT_TRUE(ParseClusterLocal("FlaskApp.Stage.svc.cluster.local"));
  EXPECT_FALSE(ParseClusterLocal("flaskapp.svc.cluster.local"));
  EXPECT_FALSE(ParseClusterLocal("a.b.c.svc.cluster.local"));
  EXPECT_FALSE(ParseClusterLocal("example.com"));

  EXPECT_EQ(ResolveDestinationHost("flaskapp", "prod"), "flaskapp.prod.svc.cluster.local");
  EXPECT_EQ(ResolveDestinationHost("flaskapp.stage", "prod"), "flaskapp.stage.svc.cluster.local");
  EXPECT_EQ(ResolveDestinationHost("flaskapp.stage.svc", "prod"),
            "flaskapp.stage.svc.cluster.local");
  EXPECT_EQ(ResolveDestinationHost("flaskapp.stage.svc.cluster.local", "prod"),
            "flaskapp.stage.svc.cluster.local");
  EXPECT_EQ(ResolveDestinationHost("api.example.com", "prod"), "api.example.com");
}

// ---- snapshot ----

TEST_F(MeshModelTest, SnapshotKeepsReadyPodsWithWorkloads) {
  AddDemo();
  AddPod(Pod("prod", "flaskapp-3", {{"app", "flaskapp"}}, /*ready=*/false), 1003);
  pods_.push_back(Pod("prod", "flaskapp-4", {{"app", "flaskapp"}}));  // no workload
  Build();
  ASSERT_EQ(snapshot_->pods.size(), 4u);
  const MeshService& prod = snapshot_->services.at("flaskapp.prod.svc.cluster.local");
  ASSERT_EQ(prod.pods.size(), 2u);
  EXPECT_EQ(snapshot_->pods[prod.pods[0]].identity.pod, "flaskapp-1");
  EXPECT_EQ(snapshot_->pods[prod.pods[0]].port, 1001);
  EXPECT_EQ(snapshot_->service_of_pod.at("stage/flaskapp-2"), "flaskapp.stage.svc.cluster.local");
}

// ---- routing ----

TEST_F(MeshModelTest, NoVirtualServiceIsNoRoute) {
  AddDemo();
  Build();
  EXPECT_FALSE(Route("example.com").found);
}

TEST_F(MeshModelTest, ClusterLocalHostsGoStraightToTheirService) {
  AddDemo();
  virtual_services_.push_back(VirtualServiceObj("prod", "all", R"({"hosts":["*"],"gateways":["gw"],
      "http":[{"route":[{"destination":{"host":"flaskapp.prod.svc.cluster.local"}}]}]})"));
  Build();
  RouteChoice c = Route("flaskapp.stage.svc.cluster.local");
  ASSERT_TRUE(c.found);
  EXPECT_EQ(c.target.service, "flaskapp.stage.svc.cluster.local");
  EXPECT_EQ(c.virtual_service, nullptr);
  // An unknown Service is routed, then has no endpoint: 503 UH.
  c = Route("nothing.stage.svc.cluster.local");
  ASSERT_TRUE(c.found);
  EndpointChoice e = PickEndpoint(*snapshot_, c.target);
  EXPECT_EQ(e.pod, nullptr);
  EXPECT_EQ(e.response_flags, "UH");
}

TEST_F(MeshModelTest, OnlyGatewayBoundVirtualServicesRoute) {
  AddDemo();
  virtual_services_.push_back(
      VirtualServiceObj("prod", "mesh-only", R"({"hosts":["*"],"gateways":["mesh"],
      "http":[{"route":[{"destination":{"host":"flaskapp"}}]}]})"));
  virtual_services_.push_back(VirtualServiceObj("prod", "no-gateways", R"({"hosts":["*"],
      "http":[{"route":[{"destination":{"host":"flaskapp"}}]}]})"));
  Build();
  EXPECT_FALSE(Route("example.com").found);
  virtual_services_.push_back(
      VirtualServiceObj("prod", "bound", R"({"hosts":["*"],"gateways":["mesh","istio-system/gw"],
      "http":[{"route":[{"destination":{"host":"flaskapp"}}]}]})"));
  Build();
  RouteChoice c = Route("example.com");
  ASSERT_TRUE(c.found);
  EXPECT_EQ(c.virtual_service->name, "bound");
  EXPECT_EQ(c.target.service, "flaskapp.prod.svc.cluster.local");  // short name: the VS's namespace
}

TEST_F(MeshModelTest, MostSpecificHostWins) {
  AddDemo();
  auto vs = [](const std::string& name, const std::string& host, const std::string& dest,
               const std::string& created) {
    return VirtualServiceObj("prod", name,
                             R"({"hosts":[")" + host + R"("],"gateways":["gw"],
        "http":[{"route":[{"destination":{"host":")" +
                                 dest + R"("}}]}]})",
                             created);
  };
  virtual_services_.push_back(vs("star", "*", "star.prod", "2026-01-01T00:00:00Z"));
  virtual_services_.push_back(vs("wild", "*.example.com", "wild.prod", "2026-01-02T00:00:00Z"));
  virtual_services_.push_back(
      vs("wilder", "*.api.example.com", "wilder.prod", "2026-01-02T00:00:00Z"));
  virtual_services_.push_back(
      vs("exact", "shop.example.com", "exact.prod", "2026-01-03T00:00:00Z"));
  virtual_services_.push_back(vs("short", "flaskapp", "short.prod", "2026-01-03T00:00:00Z"));
  virtual_services_.push_back(vs("star-newer", "*", "newer.prod", "2026-02-01T00:00:00Z"));
  Build();
  EXPECT_EQ(Route("shop.example.com").virtual_service->name, "exact");
  EXPECT_EQ(Route("www.example.com").virtual_service->name, "wild");
  EXPECT_EQ(Route("v1.api.example.com").virtual_service->name, "wilder");
  EXPECT_EQ(Route("example.com").virtual_service->name, "star");  // "*.x" needs a label before
  EXPECT_EQ(Route("localhost").virtual_service->name, "star");    // the oldest "*" wins
  // Short VS hosts mean <name>.<vs namespace>.svc.cluster.local (and such requests go straight
  // to the Service anyway).
  ASSERT_EQ(snapshot_->gateway_routes.size(), 6u);
  bool expanded = false;
  for (const auto& v : snapshot_->gateway_routes) {
    if (v.name == "short") expanded = v.hosts.at(0) == "flaskapp.prod.svc.cluster.local";
  }
  EXPECT_TRUE(expanded);
}

TEST_F(MeshModelTest, FirstMatchingRouteWins) {
  AddDemo();
  virtual_services_.push_back(
      VirtualServiceObj("prod", "demoapp", R"({"hosts":["*"],"gateways":["app-gateway"],
    "http":[
      {"name":"canary-header","match":[{"headers":{"x-canary":{"exact":"always"}}}],
       "route":[{"destination":{"host":"flaskapp.stage.svc.cluster.local"}}]},
      {"name":"beta-prefix","match":[{"headers":{"X-User":{"prefix":"beta-"}}}],
       "route":[{"destination":{"host":"beta.stage.svc.cluster.local"}}]},
      {"name":"regex","match":[{"headers":{"x-team":{"regex":"(red|blue)-[0-9]+"}}}],
       "route":[{"destination":{"host":"team.stage"}}]},
      {"name":"uri-exact","match":[{"uri":{"exact":"/login"}}],
       "route":[{"destination":{"host":"login.prod"}}]},
      {"name":"uri-prefix-or-post","match":[{"uri":{"prefix":"/api/"}},{"method":{"exact":"POST"}}],
       "route":[{"destination":{"host":"api.prod"}}]},
      {"name":"uri-regex","match":[{"uri":{"regex":"/items/[0-9]+"},"ignoreUriCase":true}],
       "route":[{"destination":{"host":"items.prod"}}]},
      {"name":"mesh-only","match":[{"uri":{"prefix":"/internal"},"gateways":["mesh"]}],
       "route":[{"destination":{"host":"internal.prod"}}]},
      {"name":"query","match":[{"queryParams":{"debug":{"exact":"1"}}}],
       "route":[{"destination":{"host":"debug.prod"}}]},
      {"name":"default","route":[{"destination":{"host":"flaskapp.prod.svc.cluster.local"}}]}
    ]})"));
  Build();
  EXPECT_TRUE(snapshot_->warnings.empty()) << snapshot_->warnings.front();
  auto service = [&](const std::string& path,
                     std::vector<std::pair<std::string, std::string>> headers = {},
                     const std::string& method = "GET") {
    RouteChoice c = Route("example.com", path, std::move(headers), 0, method);
    return c.found ? c.route_name + " " + c.target.service : std::string("404");
  };
  EXPECT_EQ(service("/", {{"x-canary", "always"}}),
            "canary-header flaskapp.stage.svc.cluster.local");
  EXPECT_EQ(service("/", {{"x-canary", "sometimes"}}), "default flaskapp.prod.svc.cluster.local");
  EXPECT_EQ(service("/", {{"x-user", "beta-anna"}}), "beta-prefix beta.stage.svc.cluster.local");
  EXPECT_EQ(service("/", {{"x-team", "red-42"}}), "regex team.stage.svc.cluster.local");
  EXPECT_EQ(service("/", {{"x-team", "red-42x"}}), "default flaskapp.prod.svc.cluster.local");
  EXPECT_EQ(service("/login"), "uri-exact login.prod.svc.cluster.local");
  EXPECT_EQ(service("/login?next=/"), "uri-exact login.prod.svc.cluster.local");
  EXPECT_EQ(service("/login/x"), "default flaskapp.prod.svc.cluster.local");
  EXPECT_EQ(service("/api/v1"), "uri-prefix-or-post api.prod.svc.cluster.local");
  EXPECT_EQ(service("/anything", {}, "POST"), "uri-prefix-or-post api.prod.svc.cluster.local");
  EXPECT_EQ(service("/ITEMS/12"), "uri-regex items.prod.svc.cluster.local");
  EXPECT_EQ(service("/internal/x"), "default flaskapp.prod.svc.cluster.local");
  EXPECT_EQ(service("/x?a=2&debug=1"), "query debug.prod.svc.cluster.local");
  EXPECT_EQ(service("/x?debug=10"), "default flaskapp.prod.svc.cluster.local");
}

TEST_F(MeshModelTest, NoMatchingRouteIsNoRoute) {
  AddDemo();
  virtual_services_.push_back(
      VirtualServiceObj("prod", "demoapp", R"({"hosts":["*"],"gateways":["gw"],
    "http":[{"match":[{"uri":{"prefix":"/api"}}],"route":[{"destination":{"host":"flaskapp"}}]}]})"));
  Build();
  EXPECT_TRUE(Route("example.com", "/api/x").found);
  EXPECT_FALSE(Route("example.com", "/other").found);
}

TEST_F(MeshModelTest, WithoutHeadersAndPresence) {
  AddDemo();
  virtual_services_.push_back(
      VirtualServiceObj("prod", "demoapp", R"({"hosts":["*"],"gateways":["gw"],
    "http":[{"name":"has","match":[{"headers":{"x-debug":{}}}],"route":[{"destination":{"host":"a"}}]},
            {"name":"not-bot","match":[{"withoutHeaders":{"user-agent":{"prefix":"bot"}}}],
             "route":[{"destination":{"host":"b"}}]}]})"));
  Build();
  EXPECT_EQ(Route("h", "/", {{"x-debug", ""}}).route_name, "has");
  EXPECT_EQ(Route("h", "/", {{"user-agent", "curl/8"}}).route_name, "not-bot");
  EXPECT_FALSE(Route("h", "/", {{"user-agent", "bot/1"}}).found);
}

TEST_F(MeshModelTest, WeightsPickByCumulativeDraw) {
  AddDemo();
  virtual_services_.push_back(
      VirtualServiceObj("prod", "demoapp", R"({"hosts":["*"],"gateways":["gw"],
    "http":[{"route":[{"destination":{"host":"flaskapp.prod.svc.cluster.local"},"weight":70},
                      {"destination":{"host":"flaskapp.stage.svc.cluster.local"},"weight":30}]}]})"));
  Build();
  for (uint64_t draw : {0, 1, 69}) {
    EXPECT_EQ(Route("h", "/", {}, draw).target.service, "flaskapp.prod.svc.cluster.local") << draw;
  }
  for (uint64_t draw : {70, 99}) {
    EXPECT_EQ(Route("h", "/", {}, draw).target.service, "flaskapp.stage.svc.cluster.local") << draw;
  }
}

TEST_F(MeshModelTest, WeightsNeedNotSumTo100AndZeroNeverWins) {
  AddDemo();
  virtual_services_.push_back(
      VirtualServiceObj("prod", "demoapp", R"({"hosts":["*"],"gateways":["gw"],
    "http":[{"route":[{"destination":{"host":"a"},"weight":0},
                      {"destination":{"host":"b"},"weight":1},
                      {"destination":{"host":"c"},"weight":2}]}]})"));
  Build();
  EXPECT_EQ(Route("h", "/", {}, 0).target.service, "b.prod.svc.cluster.local");
  EXPECT_EQ(Route("h", "/", {}, 1).target.service, "c.prod.svc.cluster.local");
  EXPECT_EQ(Route("h", "/", {}, 2).target.service, "c.prod.svc.cluster.local");
}

TEST_F(MeshModelTest, SingleDestinationWithoutWeightTakesAll) {
  AddDemo();
  virtual_services_.push_back(
      VirtualServiceObj("prod", "demoapp", R"({"hosts":["*"],"gateways":["gw"],
    "http":[{"route":[{"destination":{"host":"flaskapp.stage","port":{"number":80}}}],"timeout":"1.5s"}]})"));
  Build();
  RouteChoice c = Route("h", "/", {}, 0);
  ASSERT_TRUE(c.found);
  EXPECT_EQ(c.target.service, "flaskapp.stage.svc.cluster.local");
  EXPECT_EQ(c.target.port, 80);
  ASSERT_TRUE(c.timeout);
  EXPECT_EQ(c.timeout->count(), 1500);
}

TEST_F(MeshModelTest, AllZeroWeightsHaveNoUpstream) {
  AddDemo();
  virtual_services_.push_back(
      VirtualServiceObj("prod", "demoapp", R"({"hosts":["*"],"gateways":["gw"],
    "http":[{"route":[{"destination":{"host":"a"},"weight":0},{"destination":{"host":"b"},"weight":0}]}]})"));
  Build();
  RouteChoice c = Route("h");
  EXPECT_TRUE(c.found);
  EXPECT_TRUE(c.zero_weights);
}

TEST_F(MeshModelTest, EndpointsRoundRobin) {
  AddDemo();
  Build();
  RouteTarget t{"flaskapp.prod.svc.cluster.local", "", 0};
  std::vector<uint16_t> ports;
  for (int i = 0; i < 4; ++i) ports.push_back(PickEndpoint(*snapshot_, t).pod->port);
  EXPECT_EQ(ports, (std::vector<uint16_t>{1001, 1002, 1001, 1002}));
}

TEST_F(MeshModelTest, ServiceWithoutReadyPodsHasNoHealthyUpstream) {
  AddDemo();
  AddPod(Pod("prod", "lonely-1", {{"app", "lonely"}}, /*ready=*/false), 3001);
  services_.push_back(Service("prod", "lonely", {{"app", "lonely"}}));
  Build();
  EndpointChoice e = PickEndpoint(*snapshot_, {"lonely.prod.svc.cluster.local", "", 0});
  EXPECT_EQ(e.pod, nullptr);
  ASSERT_NE(e.service, nullptr);
  EXPECT_EQ(e.response_flags, "UH");
}

TEST_F(MeshModelTest, UnknownPortIsNoCluster) {
  AddDemo();
  Build();
  EXPECT_NE(PickEndpoint(*snapshot_, {"flaskapp.prod.svc.cluster.local", "", 80}).pod, nullptr);
  EndpointChoice e = PickEndpoint(*snapshot_, {"flaskapp.prod.svc.cluster.local", "", 9999});
  EXPECT_EQ(e.pod, nullptr);
  EXPECT_EQ(e.response_flags, "NC");
}

TEST_F(MeshModelTest, SubsetsFilterByDestinationRuleLabels) {
  // One Service over both versions in one namespace, split by subsets.
  AddPod(Pod("shop", "web-1", {{"app", "web"}, {"version", "v1"}}), 4001);
  AddPod(Pod("shop", "web-2", {{"app", "web"}, {"version", "v2"}}), 4002);
  AddPod(Pod("shop", "web-3", {{"app", "web"}, {"version", "v2"}}), 4003);
  services_.push_back(Service("shop", "web", {{"app", "web"}}));
  destination_rules_.push_back(Obj(R"({"metadata":{"name":"web","namespace":"shop"},
    "spec":{"host":"web","subsets":[{"name":"stable","labels":{"version":"v1"}},
                                    {"name":"canary","labels":{"version":"v2"}},
                                    {"name":"nobody","labels":{"version":"v9"}}]}})"));
  virtual_services_.push_back(
      VirtualServiceObj("shop", "web", R"({"hosts":["shop.example.com"],"gateways":["gw"],
    "http":[{"route":[{"destination":{"host":"web","subset":"stable"},"weight":50},
                      {"destination":{"host":"web","subset":"canary"},"weight":50}]}]})"));
  Build();
  RouteChoice stable = Route("shop.example.com", "/", {}, 10);
  ASSERT_TRUE(stable.found);
  EXPECT_EQ(stable.target.subset, "stable");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(PickEndpoint(*snapshot_, stable.target).pod->identity.version, "v1");
  }
  RouteChoice canary = Route("shop.example.com", "/", {}, 60);
  EXPECT_EQ(canary.target.subset, "canary");
  std::set<std::string> pods;
  for (int i = 0; i < 4; ++i)
    pods.insert(PickEndpoint(*snapshot_, canary.target).pod->identity.pod);
  EXPECT_EQ(pods, (std::set<std::string>{"web-2", "web-3"}));

  EndpointChoice none = PickEndpoint(*snapshot_, {"web.shop.svc.cluster.local", "nobody", 0});
  EXPECT_EQ(none.pod, nullptr);
  EXPECT_EQ(none.response_flags, "UH");
  EndpointChoice unknown = PickEndpoint(*snapshot_, {"web.shop.svc.cluster.local", "missing", 0});
  EXPECT_EQ(unknown.pod, nullptr);
  EXPECT_EQ(unknown.response_flags, "NC");
}

TEST_F(MeshModelTest, BadRegexIsReportedAndNeverMatches) {
  AddDemo();
  virtual_services_.push_back(
      VirtualServiceObj("prod", "demoapp", R"({"hosts":["*"],"gateways":["gw"],
    "http":[{"match":[{"uri":{"regex":"(unclosed"}}],"route":[{"destination":{"host":"a"}}]},
            {"route":[{"destination":{"host":"b"}}]}]})"));
  Build();
  ASSERT_EQ(snapshot_->warnings.size(), 1u);
  EXPECT_NE(snapshot_->warnings[0].find("bad regex"), std::string::npos);
  EXPECT_EQ(Route("h", "/(unclosed").target.service, "b.prod.svc.cluster.local");
}

}  // namespace
}  // namespace sandbox

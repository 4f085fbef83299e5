// The sandbox's mesh end to end: examples/demoapp installed with the real helm 4 and kubectl as
// v1 in prod and v2 in stage (as scripts/demo does), every ready Pod served by a workload, the
// gateway (--gateway) routing by the VirtualService's weights and header route, answering
// 404/503 as Envoy does, proxying *.svc.cluster.local requests in absolute form (curl and
// Poco through HTTP_PROXY), and /metrics read by a real Prometheus with Flagger's own queries.
#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include "prometheus_fixture.h"
#include "sandbox_fixture.h"

namespace canaryctl::integration {
namespace {

using Poco::Dynamic::Var;

struct Answer {
  int status = 0;          // 0: no answer (error says why)
  std::string version;     // X-Version
  std::string namespace_;  // X-Namespace
  std::string body;
  std::string error;
};

Answer Request(Poco::Net::HTTPClientSession& session, const std::string& path,
               const std::map<std::string, std::string>& headers = {}) {
  Answer a;
  try {
    Poco::Net::HTTPRequest request("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost("demo.example.com");
    for (const auto& [k, v] : headers) request.set(k, v);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    Poco::StreamCopier::copyToString(in, a.body);
    a.status = response.getStatus();
    a.version = response.get("X-Version", "");
    a.namespace_ = response.get("X-Namespace", "");
  } catch (const Poco::Exception& e) {
    a.error = e.displayText();
    session.reset();
  }
  return a;
}

// What n requests through the gateway got, sent by `clients` keep-alive connections at once.
struct Tally {
  int total = 0;
  std::map<std::string, int> by_namespace;                  // X-Namespace -> answers
  std::map<std::pair<std::string, int>, int> by_ns_status;  // (X-Namespace, status) -> answers
  std::map<int, int> by_status;
  std::vector<std::string> errors;
  int Count(const std::string& ns, int status) const {
    auto it = by_ns_status.find({ns, status});
    return it == by_ns_status.end() ? 0 : it->second;
  }
};

class MeshFlowTest : public testing::Test {
 protected:
  MeshFlowTest() : sandbox_(Options()) {}
  static SandboxOptions Options() {
    SandboxOptions o;
    o.gateway = true;
    return o;
  }

  void SetUp() override {
    tools_ = ToolSets().back();  // helm 4.1 + kubectl 1.34; the gateway does not depend on it
    ASSERT_TRUE(ToolSetPresent(tools_));
    ASSERT_TRUE(sandbox_.Start());
    ASSERT_NE(sandbox_.gateway_port(), 0) << sandbox_.output();
    clients_ = std::make_unique<Clients>(tools_, sandbox_.kubeconfig());
    ASSERT_TRUE(Succeeded(clients_->Kubectl({"apply", "-f", SourcePath("examples/istio/crds/")})));
  }

  // helm upgrade --install demoapp in ns with deployment.tag=tag (and env values).
  void Install(const std::string& ns, const std::string& tag,
               const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> args = DemoAppUpgradeArgs(ns, tag);
    for (const auto& [k, v] : env) args.insert(args.end(), {"--set-string", "env." + k + "=" + v});
    ASSERT_TRUE(Succeeded(clients_->Helm(args)));
  }
  void InstallDemo(const std::map<std::string, std::string>& stage_env = {}) {
    Install("prod", "v1");
    Install("stage", "v2", stage_env);
  }

  // The demo's VirtualService (examples/istio/virtualservice.yaml) at stage weight w, with the
  // test route canaryctl adds (x-canary: always -> stage).
  void ApplyWeights(int w) {
    const std::string yaml =
        "apiVersion: networking.istio.io/v1\n"
        "kind: VirtualService\n"
        "metadata: {name: demoapp, namespace: prod}\n"
        "spec:\n"
        "  hosts: ['*']\n"
        "  gateways: [app-gateway]\n"
        "  http:\n"
        "    - name: canary-test\n"
        "      match: [{headers: {x-canary: {exact: always}}}]\n"
        "      route: [{destination: {host: flaskapp.stage.svc.cluster.local}}]\n"
        "    - route:\n"
        "        - destination: {host: flaskapp.prod.svc.cluster.local, port: {number: 80}}\n"
        "          weight: " +
        std::to_string(100 - w) +
        "\n"
        "        - destination: {host: flaskapp.stage.svc.cluster.local}\n"
        "          weight: " +
        std::to_string(w) + "\n";
    const std::string file = clients_->scratch().Write("vs.yaml", yaml);
    ASSERT_TRUE(Succeeded(clients_->Kubectl({"apply", "-f", file})));
  }

  std::unique_ptr<Poco::Net::HTTPClientSession> GatewaySession() const {
    auto s = std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1", sandbox_.gateway_port());
    s->setTimeout(Poco::Timespan(15, 0));
    return s;
  }

  Tally Send(int n, int clients = 1, const std::map<std::string, std::string>& headers = {}) {
    Tally tally;
    std::mutex mu;
    std::atomic<int> next{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&] {
        auto session = GatewaySession();
        while (next++ < n) {
          Answer a = Request(*session, "/", headers);
          std::lock_guard lock(mu);
          ++tally.total;
          if (a.status == 0) {
            tally.errors.push_back(a.error);
            continue;
          }
          ++tally.by_status[a.status];
          ++tally.by_namespace[a.namespace_];
          ++tally.by_ns_status[{a.namespace_, a.status}];
        }
      });
    }
    for (auto& t : threads) t.join();
    return tally;
  }

  // GET /sandbox/workloads: how many workloads serve Pods of ns.
  int Workloads(const std::string& ns) const {
    HttpResult r = sandbox_.Http("GET", "/sandbox/workloads");
    if (r.status != 200) return -1;
    Var list = ParseJson(r.body);
    int n = 0;
    for (size_t i = 0; i < Len(list, "/items").value_or(0); ++i) {
      if (Str(list, "/items/" + std::to_string(i) + "/namespace") == ns) ++n;
    }
    return n;
  }

  Sandbox sandbox_;
  ToolSet tools_;
  std::unique_ptr<Clients> clients_;
};

// 5 standard deviations of Binomial(n, p) around n*p (and exact at p = 0 or 1).
testing::AssertionResult WithinBinomial(int observed, int n, double p) {
  const double sd = std::sqrt(n * p * (1 - p));
  const double lo = n * p - 5 * sd - 1e-9, hi = n * p + 5 * sd + 1e-9;
  if (observed >= lo && observed <= hi) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << observed << " of " << n << " is outside [" << lo << ", " << hi << "] (p = " << p << ")";
}

TEST_F(MeshFlowTest, ReadyLineNamesTheGateway) {
  const std::regex line(
      R"(canaryctl-sandbox: serving on http://127\.0\.0\.1:\d+ \(kubeconfig .+, data .+\), gateway http://127\.0\.0\.1:(\d+)\n)");
  std::smatch m;
  const std::string output = sandbox_.output();
  ASSERT_TRUE(std::regex_search(output, m, line)) << output;
  EXPECT_EQ(std::stoi(m[1].str()), sandbox_.gateway_port());
  EXPECT_EQ(sandbox_.gateway_url(), "http://127.0.0.1:" + std::to_string(sandbox_.gateway_port()));
}

TEST_F(MeshFlowTest, WeightsSplitTrafficAt0_30_60_100) {
  InstallDemo();
  ASSERT_TRUE(
      Succeeded(clients_->Kubectl({"apply", "-f", SourcePath("examples/istio/gateway.yaml"), "-f",
                                   SourcePath("examples/istio/virtualservice.yaml")})));
  Tally first = Send(50);
  EXPECT_EQ(first.Count("prod", 200), 50) << "virtualservice.yaml sends 100% to prod";
  for (int w : {0, 30, 60, 100}) {
    ApplyWeights(w);
    const int n = 1000;
    Tally t = Send(n, 4);
    ASSERT_TRUE(t.errors.empty()) << t.errors.front();
    EXPECT_EQ(t.by_status[200], n) << "weight " << w;
    EXPECT_EQ(t.by_namespace["prod"] + t.by_namespace["stage"], n);
    EXPECT_TRUE(WithinBinomial(t.by_namespace["stage"], n, w / 100.0)) << "weight " << w;
  }
}

TEST_F(MeshFlowTest, HeaderTestRouteReachesTheCandidateAtZeroWeight) {
  InstallDemo();
  ApplyWeights(0);
  Tally tagged = Send(100, 2, {{"x-canary", "always"}});
  EXPECT_EQ(tagged.Count("stage", 200), 100);
  Tally plain = Send(100, 2);
  EXPECT_EQ(plain.Count("prod", 200), 100);
  // The answers say who answered, in the body too.
  auto session = GatewaySession();
  Answer a = Request(*session, "/anything?x=1", {{"x-canary", "always"}});
  Var body = ParseJson(a.body);
  EXPECT_EQ(Str(body, "/app"), "flaskapp");
  EXPECT_EQ(Str(body, "/version"), "v2");
  EXPECT_EQ(Str(body, "/namespace"), "stage");
  EXPECT_EQ(Str(body, "/pod").value_or("").rfind("flaskapp-", 0), 0u);
}

TEST_F(MeshFlowTest, NoRouteIs404AndNoReadyPodIs503) {
  InstallDemo();
  auto session = GatewaySession();
  Answer a = Request(*session, "/");
  EXPECT_EQ(a.status, 404) << "no VirtualService yet";
  ApplyWeights(100);
  EXPECT_EQ(Request(*session, "/").status, 200);
  ASSERT_TRUE(Succeeded(
      clients_->Kubectl({"scale", "deployment", "flaskapp", "-n", "stage", "--replicas", "0"})));
  ASSERT_TRUE(WaitFor([&] { return Workloads("stage") == 0; }, 20s));
  a = Request(*session, "/");
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(a.body, "no healthy upstream");
  // The test route goes to the same empty Service; prod still answers at weight 0.
  EXPECT_EQ(Request(*session, "/", {{"x-canary", "always"}}).status, 503);
  ApplyWeights(0);
  EXPECT_EQ(Request(*session, "/").status, 200);
}

TEST_F(MeshFlowTest, ErrorRateMakesAFifthOfAnswers500) {
  InstallDemo({{"FAULT_ERROR_RATE", "0.2"}});
  ApplyWeights(100);
  const int n = 2000;
  Tally t = Send(n, 4);
  ASSERT_TRUE(t.errors.empty()) << t.errors.front();
  EXPECT_EQ(t.by_status[200] + t.by_status[500], n);
  EXPECT_TRUE(WithinBinomial(t.by_status[500], n, 0.2));
  // The healthy stable answers 200 only.
  ApplyWeights(0);
  EXPECT_EQ(Send(200, 2).by_status[200], 200);
}

TEST_F(MeshFlowTest, ClusterLocalHostsThroughTheGatewayAsAProxy) {
  InstallDemo();  // no VirtualService: in-mesh requests need none
  // Poco, as canaryctl sends through HTTP_PROXY: the request line carries the absolute URL.
  Poco::Net::HTTPClientSession proxied("flaskapp.stage.svc.cluster.local", 80);
  proxied.setProxy("127.0.0.1", static_cast<Poco::UInt16>(sandbox_.gateway_port()));
  proxied.setTimeout(Poco::Timespan(10, 0));
  Answer a = Request(proxied, "/x?y=1", {{"Host", "flaskapp.stage.svc.cluster.local"}});
  EXPECT_EQ(a.status, 200) << a.error;
  EXPECT_EQ(a.version, "v2");
  // curl with http_proxy from the environment.
  RunOptions options;
  options.env = {{"http_proxy", sandbox_.gateway_url()},
                 {"HTTP_PROXY", ""},
                 {"no_proxy", ""},
                 {"NO_PROXY", ""}};
  CommandResult curl = RunProcess(
      "/usr/bin/curl", {"-sS", "-D", "-", "http://flaskapp.prod.svc.cluster.local/hello"}, options);
  ASSERT_TRUE(Succeeded(curl));
  EXPECT_NE(curl.out.find("X-Version: v1"), std::string::npos) << curl.out;
  EXPECT_NE(curl.out.find("\"namespace\":\"prod\""), std::string::npos) << curl.out;
  // An unknown Service: no healthy upstream, as Envoy answers.
  CommandResult unknown = RunProcess(
      "/usr/bin/curl",
      {"-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://nothing.stage.svc.cluster.local/"},
      options);
  EXPECT_EQ(unknown.out, "503");
}

TEST_F(MeshFlowTest, ScalingChangesTheWorkloadsAndDeletingStopsThem) {
  InstallDemo();
  EXPECT_EQ(Workloads("prod"), 2);
  EXPECT_EQ(Workloads("stage"), 2);
  ASSERT_TRUE(Succeeded(
      clients_->Kubectl({"scale", "deployment", "flaskapp", "-n", "stage", "--replicas", "4"})));
  ASSERT_TRUE(Succeeded(clients_->Kubectl(
      {"rollout", "status", "deployment/flaskapp", "-n", "stage", "--timeout", "30s"})));
  EXPECT_EQ(Workloads("stage"), 4);
  // All four answer through the gateway.
  ApplyWeights(100);
  std::set<std::string> pods;
  auto session = GatewaySession();
  for (int i = 0; i < 12; ++i) {
    Var body = ParseJson(Request(*session, "/").body);
    pods.insert(Str(body, "/pod").value_or(""));
  }
  EXPECT_EQ(pods.size(), 4u);
  ASSERT_TRUE(Succeeded(
      clients_->Kubectl({"scale", "deployment", "flaskapp", "-n", "stage", "--replicas", "1"})));
  EXPECT_TRUE(WaitFor([&] { return Workloads("stage") == 1; }, 20s)) << Workloads("stage");
  ASSERT_TRUE(Succeeded(
      clients_->Helm({"uninstall", "demoapp", "-n", "stage", "--wait", "--timeout", "60s"})));
  EXPECT_TRUE(WaitFor([&] { return Workloads("stage") == 0; }, 20s)) << Workloads("stage");
  EXPECT_EQ(Workloads("prod"), 2);
}

TEST_F(MeshFlowTest, ReadyPodsAreServedAgainAfterARestart) {
  InstallDemo();
  ApplyWeights(30);
  ASSERT_TRUE(sandbox_.Stop());
  ASSERT_TRUE(sandbox_.Start());
  ASSERT_NE(sandbox_.gateway_port(), 0);
  EXPECT_EQ(Workloads("prod"), 2);
  EXPECT_EQ(Workloads("stage"), 2);
  Tally t = Send(200, 2);
  EXPECT_EQ(t.by_status[200], 200);
  EXPECT_GT(t.by_namespace["stage"], 0);
  EXPECT_GT(t.by_namespace["prod"], 0);
}

// Flagger's built-in Istio queries (shared/notes/anchors.md), through a real Prometheus that
// scrapes the sandbox's /metrics, against the numbers the test itself saw.
TEST_F(MeshFlowTest, FlaggerQueriesMatchWhatWasSent) {
  InstallDemo({{"FAULT_ERROR_RATE", "0.2"}, {"FAULT_LATENCY_MS", "150"}});
  ApplyWeights(50);
  Prometheus prometheus({"127.0.0.1:" + std::to_string(sandbox_.port())}, "/metrics", 1s);
  ASSERT_TRUE(prometheus.Start());

  // rate() needs two samples of a series: a first round creates the series and is scraped,
  // then the main traffic runs over several scrapes, and is scraped once more.
  ASSERT_TRUE(prometheus.WaitForScrape()) << prometheus.log();
  Tally t = Send(100, 8);
  ASSERT_TRUE(prometheus.WaitForScrape()) << prometheus.log();
  Tally main = Send(1500, 32);
  for (const auto& [key, n] : main.by_ns_status) t.by_ns_status[key] += n;
  for (const auto& [ns, n] : main.by_namespace) t.by_namespace[ns] += n;
  t.errors.insert(t.errors.end(), main.errors.begin(), main.errors.end());
  ASSERT_TRUE(t.errors.empty()) << t.errors.front();
  const int stage_total = t.by_namespace["stage"];
  const int stage_errors = t.Count("stage", 500);
  const int prod_total = t.by_namespace["prod"];
  ASSERT_GT(stage_errors, 0);
  ASSERT_EQ(t.Count("prod", 200), prod_total);
  // Until a scrape after the last request has landed.
  const std::string all_sent = "sum(istio_requests_total{reporter=\"source\"})";
  ASSERT_TRUE(prometheus.WaitForValue(all_sent, [&](double v) { return v == 100 + 1500; }))
      << prometheus.Query(all_sent).value_or(-1) << "\n"
      << prometheus.log();
  ASSERT_TRUE(prometheus.WaitForScrape()) << prometheus.log();

  auto query = [&](const std::string& promql) {
    std::string error;
    auto v = prometheus.Query(promql, &error);
    EXPECT_TRUE(v) << promql << ": " << error;
    return v.value_or(-1);
  };
  auto selector = [](const std::string& reporter, const std::string& ns,
                     const std::string& extra = "") {
    return "{reporter=\"" + reporter + "\",destination_workload_namespace=\"" + ns +
           "\",destination_workload=~\"flaskapp\"" + extra + "}";
  };
  // Counts: exactly what was sent, by both reporters.
  for (const std::string reporter : {"destination", "source"}) {
    EXPECT_EQ(query("sum(istio_requests_total" + selector(reporter, "stage") + ")"), stage_total)
        << reporter;
    EXPECT_EQ(query("sum(istio_requests_total" + selector(reporter, "prod") + ")"), prod_total)
        << reporter;
    EXPECT_EQ(query("sum(istio_requests_total" +
                    selector(reporter, "stage", ",response_code=\"500\"") + ")"),
              stage_errors)
        << reporter;
    EXPECT_EQ(
        query("sum(istio_request_duration_milliseconds_count" + selector(reporter, "stage") + ")"),
        stage_total)
        << reporter;
  }
  EXPECT_EQ(query("sum(istio_requests_total{reporter=\"destination\",destination_version=\"v2\","
                  "destination_service=\"flaskapp.stage.svc.cluster.local\","
                  "source_workload=\"istio-ingressgateway\"})"),
            stage_total);

  // Flagger's request-success-rate, word for word, over a window that holds all the traffic.
  auto success_rate = [](const std::string& ns) {
    return "sum(rate(istio_requests_total{reporter=\"destination\",destination_workload_namespace="
           "\"" +
           ns +
           "\",destination_workload=~\"flaskapp\",response_code!~\"5.*\"}[1m])) / "
           "sum(rate(istio_requests_total{reporter=\"destination\",destination_workload_namespace="
           "\"" +
           ns + "\",destination_workload=~\"flaskapp\"}[1m])) * 100";
  };
  const double expected = 100.0 * (stage_total - stage_errors) / stage_total;
  const double stage_rate = query(success_rate("stage"));
  EXPECT_NEAR(stage_rate, expected, 0.5)
      << "sent " << stage_total << ", " << stage_errors << " of them answered 500";
  EXPECT_DOUBLE_EQ(query(success_rate("prod")), 100.0);

  // Flagger's request-duration: p99 of the histogram; 150 ms latency lands in (100, 250].
  auto p99 = [](const std::string& ns) {
    return "histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{reporter="
           "\"destination\",destination_workload_namespace=\"" +
           ns + "\",destination_workload=~\"flaskapp\"}[1m])) by (le))";
  };
  const double stage_p99 = query(p99("stage"));
  EXPECT_GT(stage_p99, 100.0);
  EXPECT_LE(stage_p99, 250.0);
  const double prod_p99 = query(p99("prod"));
  EXPECT_GT(prod_p99, 0.0);
  EXPECT_LE(prod_p99, 100.0);
  std::cout << "stage: " << stage_total << " requests, " << stage_errors
            << " errors; Flagger success rate " << stage_rate << " % (counts say " << expected
            << " %), p99 " << stage_p99 << " ms; prod p99 " << prod_p99 << " ms\n";
}

}  // namespace
}  // namespace canaryctl::integration

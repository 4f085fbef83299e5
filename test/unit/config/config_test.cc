// Tests of config/: rollout.yaml loading, ${VAR} expansion, overrides, defaults, ToYaml.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/duration.h"
#include "config/expand.h"
#include "config/loader.h"
#include "config/overrides.h"
#include "config/to_yaml.h"

namespace canaryctl::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Like the shared test environment of the corpus: what GitLab defines for every job.
Environment CiEnv() { return {{"CI_COMMIT_SHORT_SHA", "abc1234"}}; }

constexpr const char* kMinimal = R"(app: web
helm: {chart: charts/web}
stable: {namespace: prod}
candidate: {namespace: stage}
)";

RolloutSpec MustParse(const std::string& yaml, const Environment& env = CiEnv(),
                      const Overrides& overrides = {}) {
  auto spec = ParseRolloutSpec(yaml, "rollout.yaml", env, overrides);
  EXPECT_TRUE(spec.ok()) << (spec.ok() ? "" : spec.error().message);
  return spec.ok() ? spec.value() : RolloutSpec{};
}

std::string MustFail(const std::string& yaml, const Environment& env = CiEnv(),
                     const Overrides& overrides = {}) {
  auto spec = ParseRolloutSpec(yaml, "rollout.yaml", env, overrides);
  EXPECT_FALSE(spec.ok());
  if (spec.ok()) return "";
  EXPECT_EQ(spec.error().kind, ErrorKind::kConfig);
  return spec.error().message;
}

// --- Valid configurations ------------------------------------------------------------------

TEST(ValidConfig, DesignExampleVerbatim) {
  RolloutSpec s = MustParse(ReadFile(fs::path(CONFIG_TEST_DATA) / "design_example.yaml"));
  EXPECT_EQ(s.app, "demoapp");
  EXPECT_EQ(s.strategy, Strategy::kHybrid);
  EXPECT_EQ(s.helm.chart, "helm-chart/demoapp");
  EXPECT_THAT(s.helm.values, ElementsAre("helm-chart/demoapp/values.yaml"));
  EXPECT_EQ(s.helm.set.at("deployment.tag"), "abc1234");
  EXPECT_EQ(s.helm.timeout, std::chrono::minutes(5));
  EXPECT_EQ(s.stable.namespace_name, "prod");
  EXPECT_EQ(s.stable.release, "demoapp");
  EXPECT_EQ(s.stable.service, "flaskapp");
  EXPECT_EQ(s.candidate.namespace_name, "stage");
  EXPECT_EQ(s.candidate.service, "flaskapp");
  EXPECT_EQ(s.traffic.virtual_service.namespace_name, "prod");
  EXPECT_EQ(s.traffic.virtual_service.name, "demoapp");
  EXPECT_TRUE(s.traffic.virtual_service.create);
  EXPECT_THAT(s.traffic.virtual_service.gateways, ElementsAre("app-gateway"));
  EXPECT_THAT(s.traffic.virtual_service.hosts, ElementsAre("*"));
  EXPECT_THAT(s.traffic.steps, ElementsAre(0, 30, 60, 100));
  ASSERT_TRUE(s.traffic.test_route.has_value());
  EXPECT_EQ(s.traffic.test_route->header, "x-canary");
  EXPECT_EQ(s.traffic.test_route->value, "always");
  ASSERT_EQ(s.checks.size(), 2u);
  EXPECT_EQ(s.checks[0].name, "health");
  ASSERT_TRUE(s.checks[0].http.has_value());
  EXPECT_FALSE(s.checks[0].command.has_value());
  EXPECT_EQ(s.checks[0].http->url, "http://flaskapp.stage.svc.cluster.local/health");
  EXPECT_EQ(s.checks[0].http->expect.status, 200);
  EXPECT_EQ(s.checks[0].http->method, "GET");
  ASSERT_TRUE(s.checks[1].command.has_value());
  EXPECT_THAT(s.checks[1].command->argv, ElementsAre("./tests/e2e.sh"));
  ASSERT_TRUE(s.analysis.has_value());
  EXPECT_EQ(s.analysis->prometheus_url, "http://prometheus.istio-system:9090");
  EXPECT_EQ(s.analysis->interval, std::chrono::seconds(30));
  EXPECT_EQ(s.analysis->window, std::chrono::minutes(2));
  ASSERT_EQ(s.analysis->metrics.size(), 2u);
  EXPECT_EQ(s.analysis->metrics[0].min, 99);
  EXPECT_FALSE(s.analysis->metrics[0].max.has_value());
  EXPECT_EQ(s.analysis->metrics[1].max, 500);
  EXPECT_TRUE(s.rollback.automatic);
  EXPECT_EQ(s.rollback.candidate, CandidateAfterRollback::kKeep);
  EXPECT_EQ(s.reports_dir, "canaryctl-reports");
}

TEST(ValidConfig, DesignExampleNeedsTheCommitVariable) {
  std::string message =
      MustFail(ReadFile(fs::path(CONFIG_TEST_DATA) / "design_example.yaml"), Environment{});
  // Line 6 is `  set: {deployment.tag: "${CI_COMMIT_SHORT_SHA}"}`; "${" is at column 26.
  EXPECT_THAT(message, HasSubstr("rollout.yaml:6:26: helm.set.deployment.tag: undefined "
                                 "variable CI_COMMIT_SHORT_SHA"));
}

TEST(ValidConfig, ExampleRolloutLoadsFromDisk) {
  const std::string path = std::string(CONFIG_EXAMPLES_DIR) + "/rollout.yaml";
  auto spec = LoadRolloutSpec(path, CiEnv());
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec.value().app, "demoapp");
  EXPECT_EQ(spec.value().helm.chart, "examples/demoapp");
  EXPECT_EQ(spec.value().helm.set.at("deployment.tag"), "abc1234");
  EXPECT_EQ(spec.value().stable.service, "flaskapp");
  EXPECT_EQ(spec.value().lock_ttl, std::chrono::hours(1));
  EXPECT_THAT(spec.value().secrets, ElementsAre("CI_JOB_TOKEN", "PROMETHEUS_TOKEN"));
}

TEST(ValidConfig, MinimalHybridGetsDefaults) {
  RolloutSpec s = MustParse(kMinimal);
  EXPECT_EQ(s.strategy, Strategy::kHybrid);
  EXPECT_EQ(s.stable.release, "web");
  EXPECT_EQ(s.candidate.release, "web");
  EXPECT_EQ(s.stable.service, "web");
  EXPECT_EQ(s.candidate.namespace_name, "stage");
  EXPECT_EQ(s.traffic.virtual_service.namespace_name, "prod");
  EXPECT_EQ(s.traffic.virtual_service.name, "web");
  EXPECT_FALSE(s.traffic.virtual_service.create);
  EXPECT_THAT(s.traffic.steps, ElementsAre(0, 30, 60, 100));
  EXPECT_FALSE(s.traffic.test_route.has_value());
  EXPECT_TRUE(s.checks.empty());
  EXPECT_FALSE(s.analysis.has_value());
  EXPECT_EQ(s.helm.timeout, std::chrono::minutes(5));
  EXPECT_TRUE(s.rollback.automatic);
  EXPECT_EQ(s.reports_dir, "canaryctl-reports");
  EXPECT_EQ(s.lock_ttl, std::chrono::hours(1));
}

TEST(ValidConfig, CanaryKeepsBothReleasesInOneNamespace) {
  RolloutSpec s =
      MustParse("app: web\nstrategy: canary\nhelm: {chart: c}\nstable: {namespace: prod}\n");
  EXPECT_EQ(s.strategy, Strategy::kCanary);
  EXPECT_EQ(s.candidate.namespace_name, "prod");
  EXPECT_EQ(s.stable.release, "web");
  EXPECT_EQ(s.candidate.release, "web-canary");
  EXPECT_EQ(s.candidate.service, "web-canary");
}

TEST(ValidConfig, BlueGreenUsesTwoSlotsAndOneSwitch) {
  RolloutSpec s =
      MustParse("app: web\nstrategy: blue-green\nhelm: {chart: c}\nstable: {namespace: prod}\n");
  EXPECT_EQ(s.stable.release, "web-blue");
  EXPECT_EQ(s.candidate.release, "web-green");
  EXPECT_THAT(s.traffic.steps, ElementsAre(0, 100));
  MustParse(
      "app: web\nstrategy: blue-green\nhelm: {chart: c}\nstable: {namespace: prod}\n"
      "traffic: {steps: [0, 100]}\n");
}

TEST(ValidConfig, StepsMayStartAboveZeroAndEndAtOneHundred) {
  RolloutSpec s = MustParse(std::string(kMinimal) + "traffic: {steps: [10, 100]}\n");
  EXPECT_THAT(s.traffic.steps, ElementsAre(10, 100));
  EXPECT_THAT(MustParse(std::string(kMinimal) + "traffic: {steps: [100]}\n").traffic.steps,
              ElementsAre(100));
}

TEST(ValidConfig, CommandAndHttpCheckDetails) {
  RolloutSpec s = MustParse(std::string(kMinimal) + R"(checks:
  - name: smoke
    command: [./smoke.sh, --fast]
    timeout: 90s
    env: {LEVEL: "2"}
  - name: api
    http:
      url: https://web.example/api
      method: POST
      headers: {Authorization: "Bearer x"}
      expect: {status: 201, body: {contains: created}}
      timeout: 500ms
      retries: 3
)");
  ASSERT_EQ(s.checks.size(), 2u);
  EXPECT_THAT(s.checks[0].command->argv, ElementsAre("./smoke.sh", "--fast"));
  EXPECT_EQ(s.checks[0].command->timeout, std::chrono::seconds(90));
  EXPECT_EQ(s.checks[0].command->env.at("LEVEL"), "2");
  const HttpCheckSpec& h = *s.checks[1].http;
  EXPECT_EQ(h.method, "POST");
  EXPECT_EQ(h.headers.at("Authorization"), "Bearer x");
  EXPECT_EQ(h.expect.status, 201);
  EXPECT_EQ(h.expect.body_contains, "created");
  EXPECT_EQ(h.timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(h.retries, 3);
}

TEST(ValidConfig, HttpCheckDefaults) {
  RolloutSpec s = MustParse(std::string(kMinimal) +
                            "checks: [{name: health, http: {url: \"http://web/health\"}}]\n");
  const HttpCheckSpec& h = *s.checks[0].http;
  EXPECT_EQ(h.body, "");
  EXPECT_EQ(h.retries, 0);
  EXPECT_EQ(h.retry_delay, std::chrono::seconds(1));
  EXPECT_EQ(h.requests, 1);
  EXPECT_FALSE(h.insecure);
  EXPECT_EQ(h.ca_file, "");
  EXPECT_EQ(h.expect.status, 200);
  EXPECT_FALSE(h.expect.body_contains.has_value());
  EXPECT_FALSE(h.expect.body_matches.has_value());
  EXPECT_FALSE(h.expect.json.has_value());
  EXPECT_FALSE(h.expect.max_latency.has_value());
}

// Every http key at once, as a block and as the flow style of the design document.
constexpr const char* kEveryHttpKey = R"(checks:
  - name: api
    http:
      url: https://web.example/api
      method: POST
      headers: {Content-Type: application/json}
      body: '{"probe": true}'
      timeout: 2s
      retries: 4
      retryDelay: 250ms
      requests: 5
      insecure: true
      caFile: /etc/ssl/internal-ca.pem
      expect:
        status: 201
        body: {contains: created, matches: "^\\{.*\"id\":[0-9]+"}
        json: {path: data.items.0.state, equals: ok}
        maxLatency: 500ms
  - {name: zero-delay, http: {url: "http://web/", retryDelay: 0s, expect: {json: {path: n, equals: 2}}}}
)";

TEST(ValidConfig, HttpCheckEveryKey) {
  RolloutSpec s = MustParse(std::string(kMinimal) + kEveryHttpKey);
  ASSERT_EQ(s.checks.size(), 2u);
  const HttpCheckSpec& h = *s.checks[0].http;
  EXPECT_EQ(h.method, "POST");
  EXPECT_EQ(h.headers.at("Content-Type"), "application/json");
  EXPECT_EQ(h.body, R"({"probe": true})");
  EXPECT_EQ(h.timeout, std::chrono::seconds(2));
  EXPECT_EQ(h.retries, 4);
  EXPECT_EQ(h.retry_delay, std::chrono::milliseconds(250));
  EXPECT_EQ(h.requests, 5);
  EXPECT_TRUE(h.insecure);
  EXPECT_EQ(h.ca_file, "/etc/ssl/internal-ca.pem");
  EXPECT_EQ(h.expect.status, 201);
  EXPECT_EQ(h.expect.body_contains, "created");
  EXPECT_EQ(h.expect.body_matches, R"(^\{.*"id":[0-9]+)");
  ASSERT_TRUE(h.expect.json.has_value());
  EXPECT_EQ(h.expect.json->path, "data.items.0.state");
  EXPECT_EQ(h.expect.json->equals, "ok");
  EXPECT_EQ(h.expect.max_latency, std::chrono::milliseconds(500));
  const HttpCheckSpec& zero = *s.checks[1].http;
  EXPECT_EQ(zero.retry_delay, std::chrono::milliseconds(0));  // no pause is a valid choice
  EXPECT_EQ(zero.expect.json->equals, "2");  // compared as text, as JSON writes the number
}

TEST(ValidConfig, HttpRequestsBounds) {
  for (int n : {1, 1000}) {
    RolloutSpec s = MustParse(
        std::string(kMinimal) +
        "checks: [{name: h, http: {url: \"http://web/\", requests: " + std::to_string(n) + "}}]\n");
    EXPECT_EQ(s.checks[0].http->requests, n);
  }
}

// One check whose http mapping is `http`, at line 6 of the file; returns the error text.
std::string HttpFails(const std::string& http) {
  return MustFail(std::string(kMinimal) + "checks:\n  - name: h\n    http: " + http + "\n");
}

TEST(InvalidHttpCheck, Requests) {
  EXPECT_EQ(HttpFails("{url: \"http://web/\", requests: 0}"),
            "rollout.yaml:7:42: checks[0].http.requests: expected 1..1000, got 0");
  EXPECT_EQ(HttpFails("{url: \"http://web/\", requests: 1001}"),
            "rollout.yaml:7:42: checks[0].http.requests: expected 1..1000, got 1001");
  EXPECT_EQ(HttpFails("{url: \"http://web/\", requests: many}"),
            "rollout.yaml:7:42: checks[0].http.requests: expected an integer, got \"many\"");
}

TEST(InvalidHttpCheck, RetryDelay) {
  EXPECT_EQ(HttpFails("{url: \"http://web/\", retryDelay: soon}"),
            "rollout.yaml:7:44: checks[0].http.retryDelay: expected a duration such as \"30s\", "
            "\"5m\" or \"1h30m\", got \"soon\"");
  EXPECT_EQ(HttpFails("{url: \"http://web/\", retryDelay: -1s}"),
            "rollout.yaml:7:44: checks[0].http.retryDelay: expected a duration such as \"30s\", "
            "\"5m\" or \"1h30m\", got \"-1s\"");
  EXPECT_EQ(HttpFails("{url: \"http://web/\", retrydelay: 1s}"),
            "rollout.yaml:7:32: checks[0].http.retrydelay: unknown key; did you mean "
            "`retryDelay`?");
}

TEST(InvalidHttpCheck, InsecureAndCaFile) {
  EXPECT_EQ(HttpFails("{url: \"https://web/\", insecure: yes}"),
            "rollout.yaml:7:43: checks[0].http.insecure: expected true or false, got \"yes\"");
  EXPECT_EQ(HttpFails("{url: \"https://web/\", caFile: \"\"}"),
            "rollout.yaml:7:41: checks[0].http.caFile: expected a CA bundle file (PEM), got \"\"");
  EXPECT_EQ(HttpFails("{url: \"https://web/\", caFile: [a.pem]}"),
            "rollout.yaml:7:41: checks[0].http.caFile: expected a string, got a list");
}

TEST(InvalidHttpCheck, Body) {
  EXPECT_EQ(HttpFails("{url: \"http://web/\", method: POST, body: {a: 1}}"),
            "rollout.yaml:7:52: checks[0].http.body: expected a string, got a mapping");
}

TEST(InvalidHttpCheck, BodyMatchesMustCompile) {
  EXPECT_EQ(HttpFails("{url: \"http://web/\", expect: {body: {matches: \"(v2\"}}}"),
            "rollout.yaml:7:57: checks[0].http.expect.body.matches: invalid regular expression "
            "\"(v2\" (unbalanced parentheses, or *, + or ? with nothing before it; ECMAScript "
            "syntax)");
  EXPECT_EQ(HttpFails("{url: \"http://web/\", expect: {body: {matches: \"[a\"}}}"),
            "rollout.yaml:7:57: checks[0].http.expect.body.matches: invalid regular expression "
            "\"[a\" (unbalanced brackets; ECMAScript syntax)");
  EXPECT_THAT(HttpFails("{url: \"http://web/\", expect: {body: {matches: \"*v2\"}}}"),
              HasSubstr("checks[0].http.expect.body.matches: invalid regular expression \"*v2\""));
  EXPECT_EQ(HttpFails("{url: \"http://web/\", expect: {body: {match: v2}}}"),
            "rollout.yaml:7:48: checks[0].http.expect.body.match: unknown key; did you mean "
            "`matches`?");
}

TEST(InvalidHttpCheck, JsonNeedsPathAndEquals) {
  EXPECT_EQ(HttpFails("{url: \"http://web/\", expect: {json: {path: status}}}"),
            "rollout.yaml:7:47: checks[0].http.expect.json.equals: missing; expected the value "
            "the field must have");
  EXPECT_EQ(HttpFails("{url: \"http://web/\", expect: {json: {equals: ok}}}"),
            "rollout.yaml:7:47: checks[0].http.expect.json.path: missing; expected a dotted path "
            "into the JSON body such as status or checks.0.state");
  EXPECT_EQ(HttpFails("{url: \"http://web/\", expect: {json: {path: a..b, equals: ok}}}"),
            "rollout.yaml:7:54: checks[0].http.expect.json.path: \"a..b\" is not a dotted path "
            "such as status or checks.0.state (no empty segments)");
  EXPECT_EQ(HttpFails("{url: \"http://web/\", expect: {json: status}}"),
            "rollout.yaml:7:47: checks[0].http.expect.json: expected a mapping, got a scalar");
  EXPECT_EQ(HttpFails("{url: \"http://web/\", expect: {json: {path: s, equal: ok}}}"),
            "rollout.yaml:7:47: checks[0].http.expect.json.equals: missing; expected the value "
            "the field must have\n"
            "rollout.yaml:7:57: checks[0].http.expect.json.equal: unknown key; did you mean "
            "`equals`?");
}

TEST(InvalidHttpCheck, MaxLatency) {
  EXPECT_EQ(HttpFails("{url: \"http://web/\", expect: {maxLatency: 0s}}"),
            "rollout.yaml:7:53: checks[0].http.expect.maxLatency: expected a duration greater "
            "than 0");
  EXPECT_EQ(HttpFails("{url: \"http://web/\", expect: {maxLatency: fast}}"),
            "rollout.yaml:7:53: checks[0].http.expect.maxLatency: expected a duration such as "
            "\"30s\", \"5m\" or \"1h30m\", got \"fast\"");
  EXPECT_EQ(HttpFails("{url: \"http://web/\", expect: {maxlatency: 1s}}"),
            "rollout.yaml:7:41: checks[0].http.expect.maxlatency: unknown key; did you mean "
            "`maxLatency`?");
}

// --- Workloads, analysis rules, load --------------------------------------------------------

constexpr const char* kAnalysis = R"(analysis:
  prometheus: {url: "http://prometheus:9090"}
)";

TEST(ValidConfig, WorkloadsDefaultToTheirService) {
  RolloutSpec s = MustParse(std::string(kMinimal));
  EXPECT_EQ(s.stable.workload, "web");
  EXPECT_EQ(s.candidate.workload, "web");
  s = MustParse(
      "app: web\nhelm: {chart: c}\nstable: {namespace: prod, service: front}\n"
      "candidate: {namespace: stage, service: front, workload: front-v2.deploy}\n");
  EXPECT_EQ(s.stable.workload, "front");
  EXPECT_EQ(s.candidate.workload, "front-v2.deploy");  // a subdomain, like a Deployment name
  s = MustParse("app: web\nstrategy: canary\nhelm: {chart: c}\nstable: {namespace: prod}\n");
  EXPECT_EQ(s.candidate.workload, "web-canary");
}

TEST(ValidConfig, AnalysisDefaultsAndComparisonAlone) {
  RolloutSpec s = MustParse(std::string(kMinimal) + kAnalysis +
                            "  metrics: [{name: request-success-rate, min: 99}]\n");
  EXPECT_EQ(s.analysis->passes, 1);
  EXPECT_EQ(s.analysis->failures, 1);
  EXPECT_FALSE(s.analysis->comparison.has_value());
  // A comparison is enough without metrics; its keys default.
  s = MustParse(std::string(kMinimal) + kAnalysis + "  comparison: {}\n");
  EXPECT_TRUE(s.analysis->metrics.empty());
  ASSERT_TRUE(s.analysis->comparison.has_value());
  EXPECT_EQ(s.analysis->comparison->false_rollback_rate, 0.01);
  EXPECT_EQ(s.analysis->comparison->missed_regression_rate, 0.05);
  EXPECT_EQ(s.analysis->comparison->tolerance, 2.0);
  EXPECT_EQ(s.analysis->comparison->min_error_rate, 0.005);
  s = MustParse(std::string(kMinimal) + kAnalysis +
                "  passes: 3\n  failures: 100\n  interval: 1m\n  window: 1m\n"
                "  comparison: {falseRollbackRate: 0.001, missedRegressionRate: 0.2, "
                "tolerance: 1.5, minErrorRate: 0.01}\n");
  EXPECT_EQ(s.analysis->passes, 3);
  EXPECT_EQ(s.analysis->failures, 100);
  EXPECT_EQ(s.analysis->comparison->false_rollback_rate, 0.001);
  EXPECT_EQ(s.analysis->comparison->missed_regression_rate, 0.2);
  EXPECT_EQ(s.analysis->comparison->tolerance, 1.5);
  EXPECT_EQ(s.analysis->comparison->min_error_rate, 0.01);
}

TEST(InvalidAnalysis, DefaultWindowShorterThanTheInterval) {
  EXPECT_EQ(MustFail(std::string(kMinimal) + kAnalysis + "  interval: 5m\n  comparison: {}\n"),
            "rollout.yaml:6:3: analysis.window: 2m (the default) is shorter than "
            "analysis.interval 5m: a step could end before its first measurement");
}

TEST(ValidConfig, EveryQueryPlaceholderIsKnown) {
  std::string query;
  for (const std::string& name : QueryPlaceholders()) query += "{{" + name + "}} ";
  RolloutSpec s =
      MustParse(std::string(kMinimal) + kAnalysis + "  metrics: [{name: custom, max: 1, query: \"" +
                query + "{job=~\\\"a{2}\\\"}\"}]\n");
  EXPECT_THAT(*s.analysis->metrics[0].query, HasSubstr("{{stable_service}}"));
  EXPECT_EQ(QueryPlaceholders().size(), 7u);
}

TEST(ValidConfig, LoadDefaults) {
  RolloutSpec s = MustParse(std::string(kMinimal) + "load: {url: \"http://web.example/\"}\n");
  ASSERT_TRUE(s.load.has_value());
  EXPECT_EQ(s.load->url, "http://web.example/");
  EXPECT_EQ(s.load->method, "GET");
  EXPECT_TRUE(s.load->headers.empty());
  EXPECT_EQ(s.load->rate, 20);
  EXPECT_EQ(s.load->concurrency, 4);
  EXPECT_EQ(s.load->duration, std::chrono::seconds(30));
  EXPECT_EQ(s.load->timeout, std::chrono::seconds(5));
  EXPECT_FALSE(s.load->split.has_value());
  EXPECT_FALSE(MustParse(kMinimal).load.has_value());
}

constexpr const char* kEveryLoadKey = R"(load:
  url: https://web.example/api?probe=1
  method: POST
  headers: {Host: web.example, X-Test: "1"}
  rate: 2.5
  concurrency: 256
  duration: 1m30s
  timeout: 750ms
  split: {json: build.version, candidate: "${CANDIDATE:-v2}", confidence: 0.95}
)";

TEST(ValidConfig, LoadEveryKey) {
  RolloutSpec s = MustParse(std::string(kMinimal) + kEveryLoadKey);
  const LoadSpec& l = *s.load;
  EXPECT_EQ(l.url, "https://web.example/api?probe=1");
  EXPECT_EQ(l.method, "POST");
  EXPECT_EQ(l.headers.at("X-Test"), "1");
  EXPECT_EQ(l.rate, 2.5);
  EXPECT_EQ(l.concurrency, 256);
  EXPECT_EQ(l.duration, std::chrono::seconds(90));
  EXPECT_EQ(l.timeout, std::chrono::milliseconds(750));
  ASSERT_TRUE(l.split.has_value());
  EXPECT_FALSE(l.split->header.has_value());
  EXPECT_EQ(l.split->json, "build.version");
  EXPECT_EQ(l.split->candidate, "v2");
  EXPECT_EQ(l.split->confidence, 0.95);
  // The candidate's value usually comes from the pipeline.
  Environment env = CiEnv();
  env["CANDIDATE"] = "abc1234";
  EXPECT_EQ(MustParse(std::string(kMinimal) + kEveryLoadKey, env).load->split->candidate,
            "abc1234");
  RolloutSpec header = MustParse(std::string(kMinimal) +
                                 "load: {url: \"http://w/\", split: {header: X-Version, "
                                 "candidate: v2}}\n");
  EXPECT_EQ(header.load->split->header, "X-Version");
  EXPECT_FALSE(header.load->split->json.has_value());
  EXPECT_EQ(header.load->split->confidence, 0.999);
}

TEST(Overrides, NewScalarKeys) {
  const std::string yaml =
      std::string(kMinimal) + kAnalysis + "  metrics: [{name: request-success-rate, min: 99}]\n" +
      "load: {url: \"http://web/\", split: {header: x-version, candidate: v1}}\n";
  Environment env = CiEnv();
  env["CANARYCTL_CANDIDATE_WORKLOAD"] = "web-v2";
  env["CANARYCTL_ANALYSIS_PASSES"] = "3";
  env["CANARYCTL_ANALYSIS_FAILURES"] = "2";
  env["CANARYCTL_ANALYSIS_COMPARISON_TOLERANCE"] = "3.5";
  env["CANARYCTL_LOAD_RATE"] = "50.5";
  env["CANARYCTL_LOAD_CONCURRENCY"] = "8";
  env["CANARYCTL_LOAD_DURATION"] = "2m";
  env["CANARYCTL_LOAD_SPLIT_CANDIDATE"] = "v2";
  env["CANARYCTL_LOAD_SPLIT_CONFIDENCE"] = "0.99";
  RolloutSpec s = MustParse(yaml, env);
  EXPECT_EQ(s.stable.workload, "web");
  EXPECT_EQ(s.candidate.workload, "web-v2");
  EXPECT_EQ(s.analysis->passes, 3);
  EXPECT_EQ(s.analysis->failures, 2);
  ASSERT_TRUE(s.analysis->comparison.has_value());  // created by its variable
  EXPECT_EQ(s.analysis->comparison->tolerance, 3.5);
  EXPECT_EQ(s.analysis->comparison->false_rollback_rate, 0.01);
  EXPECT_EQ(s.load->rate, 50.5);
  EXPECT_EQ(s.load->concurrency, 8);
  EXPECT_EQ(s.load->duration, std::chrono::minutes(2));
  EXPECT_EQ(s.load->split->candidate, "v2");
  EXPECT_EQ(s.load->split->confidence, 0.99);
  EXPECT_EQ(FindOverrideKey("load.split.candidate")->variable, "CANARYCTL_LOAD_SPLIT_CANDIDATE");
  EXPECT_EQ(FindOverrideKey("analysis.comparison.falseRollbackRate")->variable,
            "CANARYCTL_ANALYSIS_COMPARISON_FALSE_ROLLBACK_RATE");
  EXPECT_EQ(FindOverrideKey("load.headers"), nullptr);  // not a scalar
}

TEST(ToYaml, RoundTripsAnalysisAndLoad) {
  RolloutSpec first =
      MustParse(std::string(kMinimal) + kAnalysis +
                "  passes: 2\n  failures: 3\n"
                "  metrics: [{name: e, max: 0.1, query: \"x{ns=\\\"{{namespace}}\\\"}\"}]\n"
                "  comparison: {falseRollbackRate: 0.001, tolerance: 1.5}\n" +
                kEveryLoadKey);
  const std::string printed = ToYaml(first);
  for (const char* key :
       {"workload: \"web\"", "passes: 2", "failures: 3", "max: 0.1", "falseRollbackRate: 0.001",
        "missedRegressionRate: 0.05", "tolerance: 1.5", "minErrorRate: 0.005", "rate: 2.5",
        "concurrency: 256", "duration: 1m30s", "timeout: 750ms", "json: \"build.version\"",
        "candidate: \"v2\"", "confidence: 0.95"}) {
    EXPECT_THAT(printed, HasSubstr(key));
  }
  RolloutSpec second = MustParse(printed, {});
  EXPECT_EQ(ToYaml(second), printed);
  EXPECT_EQ(second.analysis->metrics[0].query, "x{ns=\"{{namespace}}\"}");
  EXPECT_EQ(second.load->headers, first.load->headers);
  EXPECT_EQ(second.load->split->confidence, 0.95);
}

TEST(ValidConfig, MissingFileIsAConfigErrorNamingIt) {
  auto spec = LoadRolloutSpec("/nonexistent/rollout.yaml", {});
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.error().kind, ErrorKind::kConfig);
  EXPECT_THAT(spec.error().message, HasSubstr("/nonexistent/rollout.yaml"));
}

// --- The corpus of invalid files -----------------------------------------------------------

std::vector<std::string> InvalidCases() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(fs::path(CONFIG_TEST_DATA) / "invalid")) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class InvalidConfig : public ::testing::TestWithParam<std::string> {};

// Each data/invalid/NAME.yaml fails with exactly the text of NAME.expected (file named
// "rollout.yaml"), with CiEnv() plus the KEY=VALUE lines of NAME.env when present.
TEST_P(InvalidConfig, FailsWithExpectedMessage) {
  const fs::path base = fs::path(CONFIG_TEST_DATA) / "invalid" / GetParam();
  Environment env = CiEnv();
  std::ifstream env_file(base.string() + ".env");
  for (std::string line; std::getline(env_file, line);) {
    const size_t eq = line.find('=');
    ASSERT_NE(eq, std::string::npos) << line;
    env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  const fs::path expected_path = base.string() + ".expected";
  ASSERT_TRUE(fs::exists(expected_path)) << expected_path;
  std::string expected = ReadFile(expected_path);
  while (!expected.empty() && expected.back() == '\n') expected.pop_back();
  EXPECT_EQ(MustFail(ReadFile(base.string() + ".yaml"), env), expected);
}

INSTANTIATE_TEST_SUITE_P(Corpus, InvalidConfig, ::testing::ValuesIn(InvalidCases()),
                         [](const auto& info) { return info.param; });

TEST(InvalidConfigCorpus, HasAtLeastTwentyFiveCases) { EXPECT_GE(InvalidCases().size(), 25u); }

// --- Hostile values --------------------------------------------------------------------------

// Shell syntax, quotes, newlines and 100 KiB are data: kept as written, byte for byte (helm gets
// them as one --set-literal argument, never through a shell).
TEST(HostileValues, ShellSyntaxNewlinesAndLongValuesAreKeptLiterally) {
  const std::string hostile = "$(touch /tmp/pwned); `id` | cat \"'\n\\,x=y";
  const std::string long_value(100 * 1024, 'x');
  const RolloutSpec s = MustParse(
      "app: web\nstable: {namespace: prod}\ncandidate: {namespace: stage}\n"
      "helm: {chart: c, set: {a: \"${A}\", b: \"${B}\"}}\n",
      {{"A", hostile}, {"B", long_value}});
  EXPECT_EQ(s.helm.set.at("a"), hostile);
  EXPECT_EQ(s.helm.set.at("b"), long_value);
}

// A 100 KiB value in an error is cut short, and a newline in it is escaped, so an error stays
// one readable line.
TEST(HostileValues, MessagesQuoteValuesOnOneShortLine) {
  const std::string message = MustFail(
      "app: \"${APP}\"\nhelm: {chart: c}\nstable: {namespace: prod}\n"
      "candidate: {namespace: stage}\n",
      {{"APP", "x\ny" + std::string(100 * 1024, 'z')}});
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_LT(message.size(), 600u) << message;
  EXPECT_THAT(message, HasSubstr("app: \"x\\nyzzz"));
  EXPECT_THAT(message, HasSubstr("... (102403 bytes) is not a DNS-1123 label"));
}

// --- ${VAR} expansion ----------------------------------------------------------------------

TEST(Expand, Forms) {
  const Environment env = {{"A", "one"}, {"EMPTY", ""}};
  EXPECT_EQ(ExpandVariables("x-${A}-y", env).text, "x-one-y");
  EXPECT_EQ(ExpandVariables("${MISSING:-dflt}", env).text, "dflt");
  EXPECT_EQ(ExpandVariables("${EMPTY:-dflt}", env).text, "dflt");
  EXPECT_EQ(ExpandVariables("${A:-dflt}", env).text, "one");
  EXPECT_EQ(ExpandVariables("${MISSING:-}", env).text, "");
  EXPECT_EQ(ExpandVariables("cost $$5 and $${A}", env).text, "cost $5 and ${A}");
  EXPECT_EQ(ExpandVariables("^ok$ $HOME", env).text, "^ok$ $HOME");
  EXPECT_TRUE(ExpandVariables("${A}${A}", env).errors.empty());
}

TEST(Expand, ErrorsNameTheVariableAndOffset) {
  Expansion e = ExpandVariables("ab${X}cd${A}${Y:-y}${Z}", {{"A", "1"}});
  ASSERT_EQ(e.errors.size(), 2u);
  EXPECT_EQ(e.errors[0].offset, 2u);
  EXPECT_THAT(e.errors[0].message, HasSubstr("undefined variable X"));
  EXPECT_EQ(e.errors[1].offset, 19u);
  EXPECT_THAT(e.errors[1].message, HasSubstr("undefined variable Z"));
  EXPECT_EQ(ExpandVariables("${", {}).errors.size(), 1u);
  EXPECT_EQ(ExpandVariables("${}", {}).errors.size(), 1u);
  EXPECT_EQ(ExpandVariables("${A B}", {{"A B", "x"}}).errors.size(), 1u);
}

TEST(Expand, HappensBeforeTypeChecks) {
  const std::string yaml = std::string(kMinimal) +
                           "traffic: {steps: [${FIRST:-30}, 100], port: ${PORT:-8080}}\n"
                           "rollback: {auto: \"${AUTO:-false}\"}\n"
                           "helm: {chart: c, timeout: ${HELM_TIMEOUT}}\n";
  // kMinimal already has helm: build the file without its helm line instead.
  std::string text = yaml;
  text.erase(text.find("helm: {chart: charts/web}\n"),
             std::string("helm: {chart: charts/web}\n").size());
  RolloutSpec defaults = MustParse(text, {{"HELM_TIMEOUT", "90s"}});
  EXPECT_THAT(defaults.traffic.steps, ElementsAre(30, 100));
  EXPECT_EQ(defaults.traffic.port, 8080);
  EXPECT_FALSE(defaults.rollback.automatic);
  EXPECT_EQ(defaults.helm.timeout, std::chrono::seconds(90));
  RolloutSpec given =
      MustParse(text, {{"HELM_TIMEOUT", "1h30m"}, {"FIRST", "5"}, {"AUTO", "true"}});
  EXPECT_THAT(given.traffic.steps, ElementsAre(5, 100));
  EXPECT_TRUE(given.rollback.automatic);
  EXPECT_EQ(given.helm.timeout, std::chrono::minutes(90));
  // The expanded value is still checked: "abc" is not an integer.
  EXPECT_THAT(MustFail(text, {{"HELM_TIMEOUT", "1m"}, {"FIRST", "abc"}}),
              HasSubstr("traffic.steps[0]: expected an integer, got \"abc\""));
}

TEST(Expand, DoubleDollarIsALiteralDollar) {
  RolloutSpec s = MustParse(std::string(kMinimal) + "reports: {dir: \"out/$$CI\"}\n");
  EXPECT_EQ(s.reports_dir, "out/$CI");
}

// --- Overrides -----------------------------------------------------------------------------

TEST(Overrides, FlagsWinOverEnvironmentOverFile) {
  const std::string yaml = std::string(kMinimal) + "reports: {dir: from-file}\n";
  EXPECT_EQ(MustParse(yaml).reports_dir, "from-file");
  Environment env = CiEnv();
  env["CANARYCTL_REPORTS_DIR"] = "from-env";
  EXPECT_EQ(MustParse(yaml, env).reports_dir, "from-env");
  Overrides flags;
  flags.Add("reports.dir", "from-flag", "--reports");
  EXPECT_EQ(MustParse(yaml, env, flags).reports_dir, "from-flag");
  EXPECT_EQ(MustParse(yaml, CiEnv(), flags).reports_dir, "from-flag");
}

TEST(Overrides, EnvironmentTable) {
  Environment env = CiEnv();
  env["CANARYCTL_APP"] = "other";
  env["CANARYCTL_HELM_CHART"] = "oci://registry.example/charts/other";
  env["CANARYCTL_HELM_TIMEOUT"] = "10m";
  env["CANARYCTL_TRAFFIC_STEPS"] = "0, 50,100";
  env["CANARYCTL_STABLE_NAMESPACE"] = "live";
  env["CANARYCTL_ROLLBACK_AUTO"] = "false";
  env["CANARYCTL_ROLLBACK_CANDIDATE"] = "uninstall";
  env["CANARYCTL_TRAFFIC_VIRTUAL_SERVICE_NAME"] = "edge";
  env["CANARYCTL_LOCK_TTL"] = "45m";
  // Facts that canaryctl's own rollout.env passes on are not overrides, and not errors.
  env["CANARYCTL_WEIGHT"] = "30";
  RolloutSpec s = MustParse(kMinimal, env);
  EXPECT_EQ(s.app, "other");
  EXPECT_EQ(s.stable.release, "other");  // defaults follow the overridden app
  EXPECT_EQ(s.helm.chart, "oci://registry.example/charts/other");
  EXPECT_EQ(s.helm.timeout, std::chrono::minutes(10));
  EXPECT_THAT(s.traffic.steps, ElementsAre(0, 50, 100));
  EXPECT_EQ(s.stable.namespace_name, "live");
  EXPECT_FALSE(s.rollback.automatic);
  EXPECT_EQ(s.rollback.candidate, CandidateAfterRollback::kUninstall);
  EXPECT_EQ(s.traffic.virtual_service.name, "edge");
  EXPECT_EQ(s.traffic.virtual_service.namespace_name, "live");
  EXPECT_EQ(s.lock_ttl, std::chrono::minutes(45));
}

TEST(Overrides, SupplyAKeyMissingFromTheFile) {
  const std::string yaml = "app: web\nhelm: {chart: c}\nstable: {namespace: prod}\n";
  EXPECT_THAT(MustFail(yaml), HasSubstr("candidate.namespace: missing"));
  Environment env = CiEnv();
  env["CANARYCTL_CANDIDATE_NAMESPACE"] = "stage";
  EXPECT_EQ(MustParse(yaml, env).candidate.namespace_name, "stage");
}

TEST(Overrides, ErrorsNameTheFlag) {
  Overrides flags;
  flags.Add("traffic.steps", "0,70,40,100", "--steps");
  flags.Add("helm.nope", "x", "--set-config helm.nope");
  EXPECT_EQ(MustFail(kMinimal, CiEnv(), flags),
            "--set-config helm.nope: helm.nope: cannot be overridden (not a known scalar key)\n"
            "--steps: traffic.steps[2]: 40 must be greater than the previous step 70");
}

TEST(Overrides, VariableNamesFollowTheKeys) {
  ASSERT_NE(FindOverrideKey("traffic.virtualService.name"), nullptr);
  EXPECT_EQ(FindOverrideKey("traffic.virtualService.name")->variable,
            "CANARYCTL_TRAFFIC_VIRTUAL_SERVICE_NAME");
  EXPECT_EQ(FindOverrideKey("helm.chart")->variable, "CANARYCTL_HELM_CHART");
  EXPECT_EQ(FindOverrideKey("traffic.testRoute.header")->variable,
            "CANARYCTL_TRAFFIC_TEST_ROUTE_HEADER");
  EXPECT_EQ(FindOverrideKey("checks"), nullptr);
  // Every documented variable in the table is distinct.
  std::set<std::string> names;
  for (const OverrideKey& k : OverrideTable()) EXPECT_TRUE(names.insert(k.variable).second);
}

// --- ToYaml and secrets --------------------------------------------------------------------

TEST(ToYaml, RoundTripsTheEffectiveConfiguration) {
  const std::string path = std::string(CONFIG_EXAMPLES_DIR) + "/rollout.yaml";
  auto first = LoadRolloutSpec(path, CiEnv());
  ASSERT_TRUE(first.ok()) << first.error().message;
  const std::string printed = ToYaml(first.value());
  RolloutSpec second = MustParse(printed, {});  // no variables needed any more
  EXPECT_EQ(ToYaml(second), printed);
  EXPECT_EQ(second.helm.set.at("deployment.tag"), "abc1234");
  EXPECT_THAT(second.traffic.steps, ElementsAre(0, 30, 60, 100));
  EXPECT_EQ(second.analysis->metrics[0].min, 99);
  EXPECT_EQ(second.checks[0].http->retries, 3);
  // Keys the example leaves out print with their defaults and load back to them.
  EXPECT_THAT(printed, HasSubstr("retryDelay: 1s"));
  EXPECT_THAT(printed, HasSubstr("requests: 1"));
  EXPECT_EQ(second.checks[0].http->retry_delay, std::chrono::seconds(1));
  EXPECT_EQ(second.checks[0].http->requests, 1);
  EXPECT_FALSE(second.checks[0].http->insecure);
}

TEST(ToYaml, RoundTripsEveryHttpCheckKey) {
  RolloutSpec first = MustParse(std::string(kMinimal) + kEveryHttpKey);
  const std::string printed = ToYaml(first);
  for (const char* key : {"body:", "retryDelay: 250ms", "requests: 5", "insecure: true",
                          "caFile:", "matches:", "json:", "maxLatency: 500ms"}) {
    EXPECT_THAT(printed, HasSubstr(key));
  }
  RolloutSpec second = MustParse(printed, {});
  EXPECT_EQ(ToYaml(second), printed);
  const HttpCheckSpec& a = *first.checks[0].http;
  const HttpCheckSpec& b = *second.checks[0].http;
  EXPECT_EQ(b.body, a.body);
  EXPECT_EQ(b.retry_delay, a.retry_delay);
  EXPECT_EQ(b.requests, a.requests);
  EXPECT_EQ(b.insecure, a.insecure);
  EXPECT_EQ(b.ca_file, a.ca_file);
  EXPECT_EQ(b.expect.body_contains, a.expect.body_contains);
  EXPECT_EQ(b.expect.body_matches, a.expect.body_matches);
  EXPECT_EQ(b.expect.json->path, a.expect.json->path);
  EXPECT_EQ(b.expect.json->equals, a.expect.json->equals);
  EXPECT_EQ(b.expect.max_latency, a.expect.max_latency);
  EXPECT_EQ(second.checks[1].http->retry_delay, std::chrono::milliseconds(0));
  // A regex anchored with "$" is not a variable reference, before or after printing.
  RolloutSpec anchored = MustParse(std::string(kMinimal) +
                                   "checks: [{name: h, http: {url: \"http://web/\", "
                                   "expect: {body: {matches: \"^ok$$\"}}}}]\n");
  EXPECT_EQ(anchored.checks[0].http->expect.body_matches, "^ok$");
  EXPECT_EQ(MustParse(ToYaml(anchored), {}).checks[0].http->expect.body_matches, "^ok$");
}

TEST(ToYaml, DollarSurvivesTheRoundTrip) {
  RolloutSpec s = MustParse(std::string(kMinimal) + "reports: {dir: \"out/$$CI\"}\n");
  EXPECT_EQ(MustParse(ToYaml(s), {}).reports_dir, "out/$CI");
}

TEST(ToYaml, RedactsSecrets) {
  const std::string yaml = std::string(kMinimal) + R"(checks:
  - name: api
    http:
      url: https://web.example/api
      headers: {Authorization: "Bearer ${API_TOKEN}", X-Key: hunter2-literal}
secrets: [API_TOKEN, hunter2-literal]
)";
  RolloutSpec s = MustParse(yaml, {{"API_TOKEN", "tok-123456"}});
  EXPECT_THAT(s.secret_values, ElementsAre("hunter2-literal", "tok-123456"));
  const std::string printed = ToYaml(s);
  EXPECT_THAT(printed, Not(HasSubstr("tok-123456")));
  EXPECT_THAT(printed, Not(HasSubstr("hunter2")));
  EXPECT_THAT(printed, HasSubstr("Bearer <redacted>"));
  EXPECT_THAT(printed, HasSubstr("API_TOKEN"));  // a variable's name is not secret
  EXPECT_EQ(Redact(s, "sent tok-123456 twice: tok-123456"), "sent <redacted> twice: <redacted>");
  // The spec itself keeps the real value: the checks need it.
  EXPECT_EQ(s.checks[0].http->headers.at("Authorization"), "Bearer tok-123456");
}

// --- Durations -----------------------------------------------------------------------------

TEST(Duration, ParsesGoStyle) {
  EXPECT_EQ(ParseDuration("500ms"), std::chrono::milliseconds(500));
  EXPECT_EQ(ParseDuration("30s"), std::chrono::seconds(30));
  EXPECT_EQ(ParseDuration("5m"), std::chrono::minutes(5));
  EXPECT_EQ(ParseDuration("1h30m"), std::chrono::minutes(90));
  EXPECT_EQ(ParseDuration("1.5h"), std::chrono::minutes(90));
  EXPECT_EQ(ParseDuration("0"), std::chrono::milliseconds(0));
  for (const char* bad : {"", "5", "5 m", "m", "-1s", "1d", "1h30", "1.2.3s", "99999999999h"}) {
    EXPECT_EQ(ParseDuration(bad), std::nullopt) << bad;
  }
}

TEST(Duration, FormatsShortestForm) {
  EXPECT_EQ(FormatDuration(std::chrono::minutes(90)), "1h30m");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(500)), "500ms");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(61001)), "1m1s1ms");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(0)), "0s");
  for (const char* text : {"1h30m", "5m", "2h0m5s", "750ms"}) {
    EXPECT_EQ(ParseDuration(FormatDuration(*ParseDuration(text))), ParseDuration(text));
  }
}

}  // namespace
}  // namespace canaryctl::config

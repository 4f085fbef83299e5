// Tests of checks/from_config.h: rollout.yaml's checks, loaded by config/, built and run.
#include "checks/from_config.h"

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "test_http_server.h"

namespace canaryctl::checks {
namespace {

constexpr const char* kHead = R"(app: web
helm: {chart: charts/web}
stable: {namespace: prod}
candidate: {namespace: stage}
)";

class FromConfigTest : public ::testing::Test {
 protected:
  std::string Url(const std::string& path) const { return server_.Url(path); }

  // Loads kHead + `checks` as rollout.yaml would be, with ${BASE} the test server's URL.
  config::RolloutSpec Load(const std::string& checks) const {
    auto spec =
        config::ParseRolloutSpec(std::string(kHead) + checks, "rollout.yaml", {{"BASE", Url("")}});
    EXPECT_TRUE(spec.ok()) << (spec.ok() ? "" : spec.error().message);
    return spec.ok() ? spec.value() : config::RolloutSpec{};
  }

  // Builds the checks of `checks` and runs the only one.
  CheckResult RunOnly(const std::string& checks) {
    auto built = MakeChecks(Load(checks));
    EXPECT_EQ(built.size(), 1u);
    if (built.size() != 1) return {};
    return built[0]->Run(StepContext{});
  }

  testing::TestHttpServer server_;
  testing::ServerState& state_ = server_.state();
};

TEST_F(FromConfigTest, OneCheckPerEntryInOrderWithItsName) {
  const config::RolloutSpec spec = Load(R"(checks:
  - {name: health, http: {url: "${BASE}/status/200"}}
  - {name: e2e, command: ["true"]}
)");
  EXPECT_TRUE(ValidateChecks(spec).ok());
  auto checks = MakeChecks(spec);
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0]->name(), "health");
  EXPECT_NE(dynamic_cast<HttpCheck*>(checks[0].get()), nullptr);
  EXPECT_EQ(checks[1]->name(), "e2e");
  EXPECT_NE(dynamic_cast<CommandCheck*>(checks[1].get()), nullptr);
  EXPECT_TRUE(MakeChecks(Load("")).empty());
}

TEST_F(FromConfigTest, CommandChecksRun) {
  const CheckResult failing = RunOnly(R"(checks:
  - {name: exits, command: [/bin/sh, -c, "exit 3"], timeout: 20s}
)");
  EXPECT_EQ(failing.name, "exits");
  EXPECT_EQ(failing.verdict, Verdict::kFail);
  EXPECT_NE(failing.message.find("code 3"), std::string::npos) << failing.message;
  const CheckResult passing = RunOnly("checks: [{name: ok, command: [\"true\"]}]\n");
  EXPECT_EQ(passing.verdict, Verdict::kPass) << passing.message;
  const CheckResult env = RunOnly(R"(checks:
  - {name: env, command: [/bin/sh, -c, "test \"$$LEVEL\" = smoke"], env: {LEVEL: smoke}}
)");
  EXPECT_EQ(env.verdict, Verdict::kPass) << env.message;
}

TEST_F(FromConfigTest, CommandSpecKeepsArgvEnvAndTimeout) {
  const config::RolloutSpec spec = Load(R"(checks:
  - {name: e2e, command: [./e2e.sh, --fast], timeout: 90s, env: {A: "1"}}
)");
  auto command = CommandCheckSpecFromConfig(spec.checks[0]);
  ASSERT_TRUE(command.ok()) << command.error().message;
  EXPECT_EQ(command.value().name, "e2e");
  EXPECT_EQ(command.value().argv, (std::vector<std::string>{"./e2e.sh", "--fast"}));
  EXPECT_EQ(command.value().env.at("A"), "1");
  EXPECT_EQ(command.value().timeout, std::chrono::seconds(90));
  EXPECT_FALSE(HttpCheckSpecFromConfig(spec.checks[0]).ok());
}

TEST_F(FromConfigTest, HttpSpecKeepsEveryKey) {
  const config::RolloutSpec spec = Load(R"(checks:
  - name: api
    http:
      url: https://web.example/api
      method: POST
      headers: {X-B: "2", X-A: "1"}
      body: probe
      timeout: 2s
      retries: 4
      retryDelay: 250ms
      requests: 5
      insecure: true
      caFile: /etc/ca.pem
      expect:
        status: 201
        body: {contains: created, matches: "id=[0-9]+"}
        json: {path: data.0.state, equals: ok}
        maxLatency: 500ms
)");
  auto http = HttpCheckSpecFromConfig(spec.checks[0]);
  ASSERT_TRUE(http.ok()) << http.error().message;
  const HttpCheckSpec& h = http.value();
  EXPECT_EQ(h.name, "api");
  EXPECT_EQ(h.method, "POST");
  EXPECT_EQ(h.url, "https://web.example/api");
  using Header = std::pair<std::string, std::string>;
  EXPECT_EQ(h.headers, (std::vector<Header>{{"X-A", "1"}, {"X-B", "2"}}));
  EXPECT_EQ(h.body, "probe");
  EXPECT_EQ(h.timeout, std::chrono::seconds(2));
  EXPECT_EQ(h.retries, 4);
  EXPECT_EQ(h.retry_delay, std::chrono::milliseconds(250));
  EXPECT_EQ(h.requests, 5);
  EXPECT_TRUE(h.insecure);
  EXPECT_EQ(h.ca_file, "/etc/ca.pem");
  EXPECT_TRUE(h.expect_status.Matches(201));
  EXPECT_FALSE(h.expect_status.Matches(200));
  EXPECT_EQ(h.body_contains, "created");
  EXPECT_EQ(h.body_matches, "id=[0-9]+");
  ASSERT_TRUE(h.json_field_equals.has_value());
  EXPECT_EQ(h.json_field_equals->first, "data.0.state");
  EXPECT_EQ(h.json_field_equals->second, "ok");
  EXPECT_EQ(h.max_latency, std::chrono::milliseconds(500));
  EXPECT_FALSE(h.proxy.has_value());
  EXPECT_FALSE(CommandCheckSpecFromConfig(spec.checks[0]).ok());
}

TEST_F(FromConfigTest, HttpStatusMeansExactlyThatStatus) {
  const CheckResult created = RunOnly("checks: [{name: h, http: {url: \"${BASE}/status/201\"}}]\n");
  EXPECT_EQ(created.verdict, Verdict::kFail);
  EXPECT_EQ(created.message,
            "GET " + Url("/status/201") + ": expected status 200, got 201 Created");
  const CheckResult not_found =
      RunOnly("checks: [{name: h, http: {url: \"${BASE}/status/404\", expect: {status: 404}}}]\n");
  EXPECT_EQ(not_found.verdict, Verdict::kPass) << not_found.message;
}

TEST_F(FromConfigTest, HttpBodyMatchesAndJson) {
  const std::string url = "\"${BASE}/json-flat\"";
  const CheckResult matches = RunOnly(R"(checks:
  - {name: h, http: {url: "${BASE}/json-flat", expect: {body: {matches: '"version":"v2\.[0-9]+"'}}}}
)");
  EXPECT_EQ(matches.verdict, Verdict::kPass) << matches.message;
  const CheckResult mismatch =
      RunOnly("checks: [{name: h, http: {url: " + url + ", expect: {body: {matches: \"v3\"}}}}]\n");
  EXPECT_EQ(mismatch.verdict, Verdict::kFail);
  EXPECT_NE(mismatch.message.find("the body does not match /v3/"), std::string::npos)
      << mismatch.message;
  const CheckResult json = RunOnly("checks: [{name: h, http: {url: " + url +
                                   ", expect: {json: {path: replicas.0.ready, equals: true}}}}]\n");
  EXPECT_EQ(json.verdict, Verdict::kPass) << json.message;
  const CheckResult wrong = RunOnly("checks: [{name: h, http: {url: " + url +
                                    ", expect: {json: {path: status, equals: degraded}}}}]\n");
  EXPECT_EQ(wrong.verdict, Verdict::kFail);
  EXPECT_NE(wrong.message.find("JSON field \"status\" is ok, expected degraded"), std::string::npos)
      << wrong.message;
}

TEST_F(FromConfigTest, HttpMethodHeadersAndBodyAreSent) {
  const CheckResult r = RunOnly(R"(checks:
  - name: h
    http: {url: "${BASE}/echo", method: PUT, headers: {X-Canary: always}, body: hello}
)");
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_EQ(r.output, "method=PUT uri=/echo x-canary=always body=hello");
}

TEST_F(FromConfigTest, HttpRequestsMustAllPass) {
  const CheckResult r = RunOnly(R"(checks:
  - {name: burst, http: {url: "${BASE}/third-fails", requests: 5}}
)");
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_EQ(r.message, "GET " + Url("/third-fails") +
                           ": request 3 of 5: expected status 200, got 500 Internal Server Error");
  EXPECT_EQ(state_.requests.load(), 3);
  // The series is tried again after retryDelay, and the next five requests pass.
  const CheckResult retried = RunOnly(R"(checks:
  - {name: burst, http: {url: "${BASE}/third-fails", requests: 5, retries: 1, retryDelay: 0s}}
)");
  EXPECT_EQ(retried.verdict, Verdict::kPass) << retried.message;
  EXPECT_EQ(state_.requests.load(), 8);
}

TEST(FromConfigUnbuildable, AnEntryThatCannotBeBuiltFailsWhenRun) {
  config::RolloutSpec spec;
  config::CheckSpec neither;
  neither.name = "broken";
  spec.checks.push_back(neither);
  config::CheckSpec bad_status;
  bad_status.name = "teapot";
  bad_status.http.emplace().url = "http://web/";
  bad_status.http->expect.status = 999;
  spec.checks.push_back(bad_status);
  auto checks = MakeChecks(spec);
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0]->name(), "broken");
  const CheckResult r = checks[0]->Run(StepContext{});
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_EQ(r.message, "cannot run: check \"broken\": expected exactly one of http and command");
  EXPECT_NE(checks[1]->Run(StepContext{}).message.find("invalid expected status \"999\""),
            std::string::npos);
  auto status = ValidateChecks(spec);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::kConfig);
  EXPECT_EQ(status.error().message, "check \"broken\": expected exactly one of http and command");
}

TEST(FromConfigValidate, NamesTheCheckAtFault) {
  config::RolloutSpec spec;
  config::CheckSpec http;
  http.name = "health";
  http.http.emplace().url = "http://web/";
  spec.checks.push_back(http);
  EXPECT_TRUE(ValidateChecks(spec).ok());

  spec.checks[0].http->expect.body_matches = "(v2";
  EXPECT_EQ(ValidateChecks(spec).error().message.rfind(
                "http check \"health\": invalid body regex \"(v2\": ", 0),
            0u);
  spec.checks[0].http->expect.body_matches.reset();
  spec.checks[0].http->requests = 0;
  EXPECT_EQ(ValidateChecks(spec).error().message,
            "http check \"health\": requests must be 1 or more");
  spec.checks[0].http->requests = 1;

  spec.checks.push_back(http);
  EXPECT_EQ(ValidateChecks(spec).error().message, "duplicate check name \"health\"");
  spec.checks.pop_back();

  config::CheckSpec command;
  command.name = "e2e";
  command.command.emplace();
  spec.checks.push_back(command);
  EXPECT_EQ(ValidateChecks(spec).error().message, "check \"e2e\": the command is empty");
}

}  // namespace
}  // namespace canaryctl::checks

#include "checks/http_check.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "test_http_server.h"

namespace canaryctl::checks {
namespace {

class HttpCheckTest : public ::testing::Test {
 protected:
  std::string Url(const std::string& path) const { return server_.Url(path); }
  HttpCheckSpec Spec(const std::string& path) const {
    HttpCheckSpec spec;
    spec.name = "probe";
    spec.url = Url(path);
    spec.timeout = std::chrono::seconds(20);
    spec.retry_delay = std::chrono::milliseconds(10);
    return spec;
  }
  static StatusMatcher Status(const std::vector<std::string>& specs) {
    auto m = StatusMatcher::Parse(specs);
    EXPECT_TRUE(m.ok()) << m.error().message;
    return m.value();
  }
  CheckResult Run(const HttpCheckSpec& spec) { return HttpCheck(spec).Run(StepContext{}); }

  testing::TestHttpServer server_;
  testing::ServerState& state_ = server_.state();
};

TEST_F(HttpCheckTest, DefaultAccepts2xxAndKeepsTheBody) {
  const CheckResult r = Run(Spec("/status/204"));
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_EQ(r.name, "probe");
  EXPECT_EQ(r.message, "GET " + Url("/status/204") + ": 204 No Content");
  const CheckResult ok = Run(Spec("/json"));
  EXPECT_EQ(ok.output.substr(0, 15), R"({"status":"ok",)");
  const CheckResult bad = Run(Spec("/status/503"));
  EXPECT_EQ(bad.verdict, Verdict::kFail);
  EXPECT_EQ(bad.message,
            "GET " + Url("/status/503") + ": expected status 2xx, got 503 Service Unavailable");
  EXPECT_EQ(bad.output, "status 503");
}

TEST_F(HttpCheckTest, ExpectedStatusListAndRange) {
  HttpCheckSpec spec = Spec("/status/404");
  spec.expect_status = Status({"200", "404"});
  EXPECT_EQ(Run(spec).verdict, Verdict::kPass);
  spec.expect_status = Status({"400-403", "5xx"});
  const CheckResult r = Run(spec);
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_NE(r.message.find("expected status 400-403, 5xx, got 404 Not Found"), std::string::npos);
  spec.expect_status = Status({"4xx"});
  EXPECT_EQ(Run(spec).verdict, Verdict::kPass);
  spec.url = Url("/status/200");
  EXPECT_EQ(Run(spec).verdict, Verdict::kFail);
}

TEST(StatusMatcherTest, ParsesCodesClassesAndRangesAndNamesBadOnes) {
  auto m = StatusMatcher::Parse({"200", "3xx", "401-403"});
  ASSERT_TRUE(m.ok());
  for (int s : {200, 300, 399, 401, 403}) EXPECT_TRUE(m.value().Matches(s)) << s;
  for (int s : {201, 400, 404, 500}) EXPECT_FALSE(m.value().Matches(s)) << s;
  EXPECT_EQ(m.value().Describe(), "200, 3xx, 401-403");
  for (const std::string bad : {"2x", "20", "abc", "600", "299-200", "2xxx", ""}) {
    auto r = StatusMatcher::Parse({bad});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().message, "invalid expected status \"" + bad +
                                     "\": use a code (200), a class (2xx) or a range (200-299)");
    EXPECT_EQ(r.error().kind, ErrorKind::kConfig);
  }
}

TEST_F(HttpCheckTest, BodyContains) {
  HttpCheckSpec spec = Spec("/json");
  spec.body_contains = "\"ready\":true";
  EXPECT_EQ(Run(spec).verdict, Verdict::kPass);
  spec.body_contains = "\"ready\":false";
  const CheckResult r = Run(spec);
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_NE(r.message.find("status 200 but the body does not contain \"\"ready\":false\""),
            std::string::npos)
      << r.message;
}

TEST_F(HttpCheckTest, BodyMatchesRegex) {
  HttpCheckSpec spec = Spec("/json");
  spec.body_matches = R"re("name":"v2\.[0-9]+")re";
  EXPECT_EQ(Run(spec).verdict, Verdict::kPass);
  spec.body_matches = R"re("name":"v3\.)re";
  const CheckResult r = Run(spec);
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_NE(r.message.find(R"re(the body does not match /"name":"v3\./)re"), std::string::npos)
      << r.message;
}

TEST_F(HttpCheckTest, MaxLatency) {
  HttpCheckSpec spec = Spec("/slow");  // answers after 1500ms
  spec.max_latency = std::chrono::milliseconds(100);
  const CheckResult r = Run(spec);
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_NE(r.message.find(", more than the maximum 100ms"), std::string::npos) << r.message;
  spec.max_latency = std::chrono::seconds(60);
  EXPECT_EQ(Run(spec).verdict, Verdict::kPass);
}

TEST(ValidateHttpCheckSpecTest, NamesTheCheckAndWhatIsWrong) {
  HttpCheckSpec spec;
  spec.name = "health";
  EXPECT_TRUE(ValidateHttpCheckSpec(spec).ok());
  spec.body_matches = "(unclosed";
  auto bad_regex = ValidateHttpCheckSpec(spec);
  ASSERT_FALSE(bad_regex.ok());
  EXPECT_EQ(bad_regex.error().message.rfind(
                "http check \"health\": invalid body regex \"(unclosed\": ", 0),
            0u)
      << bad_regex.error().message;
  spec.body_matches.reset();
  spec.timeout = std::chrono::milliseconds(0);
  EXPECT_EQ(ValidateHttpCheckSpec(spec).error().message,
            "http check \"health\": the timeout must be positive");
  spec.timeout = std::chrono::seconds(1);
  spec.retries = -1;
  EXPECT_EQ(ValidateHttpCheckSpec(spec).error().message,
            "http check \"health\": retries must be 0 or more");
  spec.retries = 0;
  spec.requests = 0;
  EXPECT_EQ(ValidateHttpCheckSpec(spec).error().message,
            "http check \"health\": requests must be 1 or more");
}

// A CR or LF would end the header line and let the value add headers of its own.
TEST(ValidateHttpCheckSpecTest, RefusesLineBreaksInHeadersWithoutShowingTheValue) {
  HttpCheckSpec spec;
  spec.name = "api";
  spec.headers = {{"Authorization", "Bearer tok-1\r\nX-Injected: yes"}};
  auto injected = ValidateHttpCheckSpec(spec);
  ASSERT_FALSE(injected.ok());
  EXPECT_EQ(injected.error().message,
            "http check \"api\": header \"Authorization\": a header name or value may not "
            "contain a line break");
  spec.headers = {{"X-Split\nHost", "evil"}};
  EXPECT_FALSE(ValidateHttpCheckSpec(spec).ok());
  spec.headers = {{"X-Trace", "a\tb; $(touch /tmp/pwned) `id` \"'"}};
  EXPECT_TRUE(ValidateHttpCheckSpec(spec).ok());
}

TEST_F(HttpCheckTest, JsonFieldByDottedPath) {
  HttpCheckSpec spec = Spec("/json");
  for (const auto& [path, value] :
       std::vector<std::pair<std::string, std::string>>{{"status", "ok"},
                                                        {"version.major", "2"},
                                                        {"version.name", "v2.1"},
                                                        {"checks.0.state", "up"},
                                                        {"ready", "true"}}) {
    spec.json_field_equals = {path, value};
    const CheckResult r = Run(spec);
    EXPECT_EQ(r.verdict, Verdict::kPass) << path << ": " << r.message;
  }
  spec.json_field_equals = {"version.major", "3"};
  EXPECT_NE(Run(spec).message.find("JSON field \"version.major\" is 2, expected 3"),
            std::string::npos);
  spec.json_field_equals = {"checks.1.state", "up"};
  EXPECT_NE(Run(spec).message.find("JSON field \"checks.1.state\" is missing"), std::string::npos);
  spec.url = Url("/status/200");
  spec.json_field_equals = {"status", "ok"};
  const CheckResult not_json = Run(spec);
  EXPECT_EQ(not_json.verdict, Verdict::kFail);
  EXPECT_NE(not_json.message.find("the body is not JSON"), std::string::npos) << not_json.message;
}

TEST_F(HttpCheckTest, SendsMethodHeadersAndBody) {
  HttpCheckSpec spec = Spec("/echo?x=1");
  spec.method = "POST";
  spec.headers = {{"X-Canary", "always"}};
  spec.body = "hello";
  const CheckResult r = Run(spec);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_EQ(r.output, "method=POST uri=/echo?x=1 x-canary=always body=hello");
}

TEST_F(HttpCheckTest, EmptyUrlUsesTheStepsTargetUrl) {
  HttpCheckSpec spec = Spec("");
  spec.url.clear();
  StepContext step;
  step.target_url = Url("/status/201");
  const CheckResult r = HttpCheck(spec).Run(step);
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_EQ(r.output, "status 201");
}

TEST_F(HttpCheckTest, RetriesThenPassesAndSaysOnWhichAttempt) {
  state_.flaky_failures_left = 2;
  HttpCheckSpec spec = Spec("/flaky");
  spec.retries = 3;
  const CheckResult r = Run(spec);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(r.message, "GET " + Url("/flaky") + ": 200 OK (passed on attempt 3 of 4)");
  EXPECT_EQ(r.output, "ready");
  EXPECT_EQ(state_.requests.load(), 3);
}

TEST_F(HttpCheckTest, RetriesExhaustedFailWithTheLastReason) {
  state_.flaky_failures_left = 10;
  HttpCheckSpec spec = Spec("/flaky");
  spec.retries = 2;
  const CheckResult r = Run(spec);
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(state_.requests.load(), 3);
  EXPECT_EQ(r.message,
            "GET " + Url("/flaky") +
                ": expected status 2xx, got 503 Service Unavailable (failed 3 attempts)");
}

TEST_F(HttpCheckTest, RequestsAllPass) {
  HttpCheckSpec spec = Spec("/status/200");
  spec.requests = 4;
  const CheckResult r = Run(spec);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_EQ(r.message, "GET " + Url("/status/200") + ": 200 OK (all 4 requests)");
  EXPECT_EQ(state_.requests.load(), 4);
  EXPECT_EQ(r.attempts, 1);
}

TEST_F(HttpCheckTest, RequestsStopAtTheFirstFailureAndNameIt) {
  HttpCheckSpec spec = Spec("/third-fails");
  spec.requests = 5;
  spec.expect_status = Status({"200"});
  const CheckResult r = Run(spec);
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_EQ(r.message, "GET " + Url("/third-fails") +
                           ": request 3 of 5: expected status 200, got 500 Internal Server Error");
  EXPECT_EQ(r.output, "broken replica");
  EXPECT_EQ(state_.requests.load(), 3);  // requests 4 and 5 are not sent
}

// A retry repeats the whole series: the second attempt's five requests (4th to 8th) all pass.
TEST_F(HttpCheckTest, RetryRepeatsAllRequests) {
  HttpCheckSpec spec = Spec("/third-fails");
  spec.requests = 5;
  spec.retries = 2;
  const CheckResult r = Run(spec);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_EQ(r.attempts, 2);
  EXPECT_EQ(state_.requests.load(), 8);
  EXPECT_EQ(r.message,
            "GET " + Url("/third-fails") + ": 200 OK (all 5 requests; passed on attempt 2 of 3)");
}

TEST_F(HttpCheckTest, RequestsFailingEveryAttemptSayWhichRequest) {
  state_.flaky_failures_left = 100;
  HttpCheckSpec spec = Spec("/flaky");
  spec.requests = 3;
  spec.retries = 1;
  const CheckResult r = Run(spec);
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_EQ(r.message, "GET " + Url("/flaky") +
                           ": request 1 of 3: expected status 2xx, got 503 Service Unavailable "
                           "(failed 2 attempts)");
  EXPECT_EQ(state_.requests.load(), 2);
}

TEST_F(HttpCheckTest, TimeoutFails) {
  HttpCheckSpec spec = Spec("/slow");
  spec.timeout = std::chrono::milliseconds(100);
  const CheckResult r = Run(spec);
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_EQ(r.message, "GET " + Url("/slow") + ": timed out after 100ms");
}

TEST_F(HttpCheckTest, ConnectionRefusedFailsWithTheReason) {
  std::string url;
  {
    Poco::Net::ServerSocket closed(Poco::Net::SocketAddress("127.0.0.1", 0));
    url = "http://127.0.0.1:" + std::to_string(closed.address().port()) + "/health";
  }
  HttpCheckSpec spec = Spec("");
  spec.url = url;
  const CheckResult r = Run(spec);
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_NE(r.message.find("Connection refused"), std::string::npos) << r.message;
  EXPECT_EQ(r.message.rfind("GET " + url + ": ", 0), 0u) << r.message;
}

TEST_F(HttpCheckTest, InvalidUrlFails) {
  HttpCheckSpec spec = Spec("");
  spec.url = "ftp://example.com/x";
  EXPECT_EQ(Run(spec).message,
            "GET ftp://example.com/x: invalid URL: the scheme must be http or https");
}

TEST_F(HttpCheckTest, BodyIsCappedAsOutput) {
  const CheckResult r = Run(Spec("/big"));
  EXPECT_EQ(r.verdict, Verdict::kPass);
  const std::string marker =
      "\n[output truncated: " + std::to_string(100 * 1024 - kMaxOutputBytes) + " bytes dropped]";
  ASSERT_EQ(r.output.size(), kMaxOutputBytes + marker.size());
  EXPECT_EQ(r.output.substr(kMaxOutputBytes), marker);
}

}  // namespace
}  // namespace canaryctl::checks

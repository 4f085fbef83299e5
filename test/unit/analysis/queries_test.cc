#include "analysis/queries.h"

#include <gtest/gtest.h>

#include <string>

namespace canaryctl::analysis {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const Workload kCandidate{"stage", "api.v2+canary", "api"};
const Workload kStable{"prod", "api", "api-svc"};

// The workload name's '.' and '+' are regex-escaped, and the backslashes PromQL-escaped.
constexpr const char* kSelector =
    R"(reporter="destination",destination_workload_namespace="stage",)"
    R"(destination_workload=~"api\\.v2\\+canary")";

TEST(QueriesTest, RangesAreSecondsOrMilliseconds) {
  EXPECT_EQ(PromqlRange(seconds(30)), "30s");
  EXPECT_EQ(PromqlRange(seconds(90)), "90s");
  EXPECT_EQ(PromqlRange(seconds(3600)), "3600s");
  EXPECT_EQ(PromqlRange(milliseconds(1500)), "1500ms");
  EXPECT_EQ(PromqlRange(milliseconds(0)), "1ms");
}

TEST(QueriesTest, StringsAndRegexesAreEscaped) {
  EXPECT_EQ(PromqlString(R"(a"b\c)"), R"("a\"b\\c")");
  EXPECT_EQ(RegexEscape("a.b*c(d)|e[f]{g}^$?+\\"), R"(a\.b\*c\(d\)\|e\[f\]\{g\}\^\$\?\+\\)");
  EXPECT_EQ(RegexEscape("plain-name"), "plain-name");
}

TEST(QueriesTest, SuccessRateIsFlaggersQuery) {
  EXPECT_EQ(BuiltinQuery("request-success-rate", kCandidate, seconds(90)),
            std::string("(sum(rate(istio_requests_total{") + kSelector +
                R"(,response_code!~"5.*"}[90s])) or on() vector(0)))" +
                " / sum(rate(istio_requests_total{" + kSelector + "}[90s])) * 100");
}

TEST(QueriesTest, DurationIsFlaggersQuery) {
  EXPECT_EQ(BuiltinQuery("request-duration", kCandidate, seconds(30)),
            std::string("histogram_quantile(0.99, "
                        "sum(rate(istio_request_duration_milliseconds_bucket{") +
                kSelector + "}[30s])) by (le))");
  EXPECT_EQ(BuiltinQuery("custom", kCandidate, seconds(30)), std::nullopt);
}

TEST(QueriesTest, CountsSinceTheStepStarted) {
  EXPECT_EQ(RequestsQuery(kCandidate, seconds(75)),
            std::string("sum(increase(istio_requests_total{") + kSelector + "}[75s]))");
  EXPECT_EQ(ErrorsQuery(kCandidate, seconds(75)),
            std::string("sum(increase(istio_requests_total{") + kSelector +
                R"(,response_code=~"5.*"}[75s])))");
}

TEST(QueriesTest, CountsAreRoundedToWholeRequests) {
  EXPECT_EQ(RoundCount(41.7), 42);
  EXPECT_EQ(RoundCount(41.4), 41);
  EXPECT_EQ(RoundCount(0.4), 0);
  EXPECT_EQ(RoundCount(-0.2), 0);
  EXPECT_EQ(RoundCount(std::nullopt), 0);
}

TEST(QueriesTest, TemplatePlaceholdersAreReplaced) {
  auto q = ExpandQueryTemplate(
      "sum(rate(x{ns=\"{{namespace}}\",wl=\"{{ workload }}\",svc=\"{{service}}\"}[{{interval}}]))"
      " / sum(rate(x{ns=\"{{stable_namespace}}\",wl=\"{{stable_workload}}\","
      "svc=\"{{stable_service}}\"}[{{interval}}]))",
      kCandidate, kStable, seconds(60));
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(q.value(),
            "sum(rate(x{ns=\"stage\",wl=\"api.v2+canary\",svc=\"api\"}[60s]))"
            " / sum(rate(x{ns=\"prod\",wl=\"api\",svc=\"api-svc\"}[60s]))");
  EXPECT_EQ(ExpandQueryTemplate("up{}", kCandidate, kStable, seconds(1)).value(), "up{}");
}

TEST(QueriesTest, UnknownOrUnclosedPlaceholderIsAnError) {
  EXPECT_EQ(ValidateQueryTemplate("sum(x{a=\"{{namespace}}\"})"), std::nullopt);
  const auto unknown = ValidateQueryTemplate("sum(x{a=\"{{target}}\"})");
  ASSERT_TRUE(unknown.has_value());
  EXPECT_NE(unknown->find("unknown placeholder \"{{target}}\""), std::string::npos) << *unknown;
  EXPECT_NE(unknown->find("{{stable_workload}}"), std::string::npos) << *unknown;
  const auto unclosed = ValidateQueryTemplate("sum(x{a=\"{{namespace\"})");
  ASSERT_TRUE(unclosed.has_value());
  EXPECT_NE(unclosed->find("unclosed"), std::string::npos) << *unclosed;
  auto expanded = ExpandQueryTemplate("{{nope}}", kCandidate, kStable, seconds(1));
  ASSERT_FALSE(expanded.ok());
  EXPECT_EQ(expanded.error().kind, ErrorKind::kConfig);
}

}  // namespace
}  // namespace canaryctl::analysis

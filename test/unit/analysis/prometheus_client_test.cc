#include "analysis/prometheus_client.h"

#include <gtest/gtest.h>

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/URI.h>

#include <cmath>
#include <string>

#include "test_http_server.h"

namespace canaryctl::analysis {
namespace {

constexpr const char* kPath = "/api/v1/query";

class PrometheusClientTest : public ::testing::Test {
 protected:
  void Answer(const std::string& path, int status, const std::string& body) {
    std::lock_guard lock(server_.state().mu);
    server_.state().json_routes[path] = {status, body};
  }
  void AnswerValue(const std::string& type, const std::string& result) {
    Answer(
        kPath, 200,
        R"({"status":"success","data":{"resultType":")" + type + R"(","result":)" + result + "}}");
  }
  std::string LastUri() {
    std::lock_guard lock(server_.state().mu);
    return server_.state().last_uri;
  }
  Result<std::optional<double>> Query(const std::string& promql, std::string path = "") {
    PrometheusOptions options;
    options.url = server_.Url(path);
    options.timeout = std::chrono::seconds(20);
    return MakePrometheusClient(options)->Query(promql);
  }
  static std::string Sample(const std::string& value) {
    return R"({"metric":{"destination_workload":"api"},"value":[1700000000.123,")" + value +
           R"("]})";
  }

  checks::testing::TestHttpServer server_;
};

TEST_F(PrometheusClientTest, Scalar) {
  AnswerValue("scalar", R"([1700000000.5,"42.5"])");
  auto r = Query("scalar(1)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value(), 42.5);
}

TEST_F(PrometheusClientTest, VectorOfOneSample) {
  AnswerValue("vector", "[" + Sample("99.75") + "]");
  auto r = Query("up");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value(), 99.75);
}

TEST_F(PrometheusClientTest, EmptyVectorAndNaNAreNoData) {
  AnswerValue("vector", "[]");
  auto empty = Query("up");
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_FALSE(empty.value().has_value());

  AnswerValue("vector", "[" + Sample("NaN") + "]");
  auto nan = Query("up");
  ASSERT_TRUE(nan.ok()) << nan.error().message;
  EXPECT_FALSE(nan.value().has_value());
}

TEST_F(PrometheusClientTest, Infinities) {
  AnswerValue("vector", "[" + Sample("+Inf") + "]");
  auto inf = Query("up");
  ASSERT_TRUE(inf.ok()) << inf.error().message;
  ASSERT_TRUE(inf.value().has_value());
  EXPECT_TRUE(std::isinf(*inf.value()) && *inf.value() > 0);
  AnswerValue("scalar", R"([1700000000,"-Inf"])");
  auto minus = Query("up");
  ASSERT_TRUE(minus.ok() && minus.value().has_value());
  EXPECT_TRUE(std::isinf(*minus.value()) && *minus.value() < 0);
}

TEST_F(PrometheusClientTest, PrometheusErrorCarriesItsTypeAndMessage) {
  Answer(
      kPath, 400,
      R"json({"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected )"})json");
  auto r = Query("sum(up");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kCluster);
  EXPECT_NE(r.error().message.find("bad_data: 1:5: parse error: unexpected )"), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("\"sum(up\""), std::string::npos) << r.error().message;
}

TEST_F(PrometheusClientTest, SeveralSamplesIsAnErrorNamingTheQuery) {
  AnswerValue("vector", "[" + Sample("1") + "," + Sample("2") + "]");
  auto r = Query("rate(x[1m])");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("\"rate(x[1m])\""), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("2 series"), std::string::npos) << r.error().message;
}

TEST_F(PrometheusClientTest, MatrixIsAnError) {
  AnswerValue("matrix", R"([{"metric":{},"values":[[1,"1"]]}])");
  auto r = Query("x[1m]");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("matrix"), std::string::npos) << r.error().message;
}

TEST_F(PrometheusClientTest, NotPrometheusIsAnError) {
  // No canned route: the server echoes, which is not Prometheus's JSON.
  auto r = Query("up", "/elsewhere");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kCluster);
  EXPECT_NE(r.error().message.find("not Prometheus's JSON"), std::string::npos)
      << r.error().message;
}

TEST_F(PrometheusClientTest, QueryIsUrlEncoded) {
  AnswerValue("scalar", R"([1,"1"])");
  const std::string promql = R"(sum(rate(x{a="b c",d=~"e.*"}[30s])) / sum(y) + 1 & z # 100% ?)";
  ASSERT_TRUE(Query(promql).ok());
  const std::string uri = LastUri();
  ASSERT_EQ(uri.rfind("/api/v1/query?query=", 0), 0u) << uri;
  const std::string raw = uri.substr(uri.find('?') + 1);
  // Go's query parser reads '+' as a space and '&', '#' as separators: they must be escaped.
  EXPECT_EQ(raw.find_first_of("+&# \"{}"), std::string::npos) << raw;
  EXPECT_NE(raw.find("%2B"), std::string::npos) << raw;
  EXPECT_NE(raw.find("%26"), std::string::npos) << raw;
  const auto params = Poco::URI(uri).getQueryParameters();
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0].first, "query");
  EXPECT_EQ(params[0].second, promql);
}

TEST_F(PrometheusClientTest, PathPrefixIsKept) {
  Answer("/prometheus/api/v1/query", 200,
         R"({"status":"success","data":{"resultType":"scalar","result":[1,"7"]}})");
  for (const std::string prefix : {"/prometheus", "/prometheus/"}) {
    auto r = Query("up", prefix);
    ASSERT_TRUE(r.ok()) << prefix << ": " << r.error().message;
    EXPECT_EQ(r.value(), 7);
  }
}

TEST_F(PrometheusClientTest, GoesThroughTheProxy) {
  PrometheusOptions options;
  options.url = "http://prometheus.istio-system.svc.cluster.local:9090";
  options.proxy = checks::HttpProxy{"127.0.0.1", std::stoi(server_.Url("").substr(17)), "", ""};
  auto r = MakePrometheusClient(options)->Query("up");
  // The test server is no proxy: it echoes the absolute-form request it received.
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(LastUri(),
            "http://prometheus.istio-system.svc.cluster.local:9090/api/v1/query?query=up");
}

TEST_F(PrometheusClientTest, UnreachableIsAClusterError) {
  int port = 0;
  {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    port = socket.address().port();
  }
  PrometheusOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(port);
  options.timeout = std::chrono::seconds(5);
  auto r = MakePrometheusClient(options)->Query("up");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kCluster);
  EXPECT_NE(r.error().message.find(options.url), std::string::npos) << r.error().message;
}

TEST_F(PrometheusClientTest, APrometheusThatNeverAnswersTimesOutAsAClusterError) {
  // Accepts connections (into the kernel's backlog) and never answers.
  Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0));
  PrometheusOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(silent.address().port());
  options.timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  auto r = MakePrometheusClient(options)->Query("up");
  // Not a timing test: the generous bound only catches a client that ignores its timeout
  // (Poco's default is a minute).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kCluster);
  EXPECT_NE(r.error().message.find(options.url), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace canaryctl::analysis

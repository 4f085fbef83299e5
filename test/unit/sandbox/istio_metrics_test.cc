#include "sandbox/istio_metrics.h"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace sandbox {
namespace {

RequestLabels Labels(int code = 200) {
  RequestLabels l;
  l.reporter = "destination";
  l.source_workload = "istio-ingressgateway";
  l.source_workload_namespace = "istio-system";
  l.destination_workload = "flaskapp";
  l.destination_workload_namespace = "stage";
  l.destination_service = "flaskapp.stage.svc.cluster.local";
  l.destination_service_name = "flaskapp";
  l.destination_service_namespace = "stage";
  l.destination_app = "flaskapp";
  l.destination_version = "v2";
  l.response_code = code;
  l.response_flags = "-";
  return l;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The value of the one line that starts with prefix; "" when none.
std::string ValueOf(const std::string& text, const std::string& prefix) {
  std::string found;
  for (const std::string& line : Lines(text)) {
    if (line.rfind(prefix, 0) == 0) {
      EXPECT_TRUE(found.empty()) << "two lines start with " << prefix;
      found = line.substr(line.rfind(' ') + 1);
    }
  }
  return found;
}

TEST(IstioMetricsTest, DefaultBucketsAreEnvoys) {
  const std::vector<double> expected = {0.5,   1,      5,      10,      25,     50,    100,
                                        250,   500,    1000,   2500,    5000,   10000, 30000,
                                        60000, 300000, 600000, 1800000, 3600000};
  EXPECT_EQ(std::vector<double>(kIstioDurationBucketsMs.begin(), kIstioDurationBucketsMs.end()),
            expected);
}

TEST(IstioMetricsTest, EmptyRegistryHasOnlyMetadata) {
  IstioMetrics metrics;
  EXPECT_EQ(metrics.Render(),
            "# HELP istio_requests_total Total number of requests, as Istio's proxies report "
            "them.\n"
            "# TYPE istio_requests_total counter\n"
            "# HELP istio_request_duration_milliseconds Request duration in milliseconds.\n"
            "# TYPE istio_request_duration_milliseconds histogram\n");
}

TEST(IstioMetricsTest, LabelSetAndOrder) {
  EXPECT_EQ(IstioMetrics::LabelText(Labels(503)),
            "reporter=\"destination\",source_workload=\"istio-ingressgateway\","
            "source_workload_namespace=\"istio-system\",destination_workload=\"flaskapp\","
            "destination_workload_namespace=\"stage\","
            "destination_service=\"flaskapp.stage.svc.cluster.local\","
            "destination_service_name=\"flaskapp\",destination_service_namespace=\"stage\","
            "destination_app=\"flaskapp\",destination_version=\"v2\",request_protocol=\"http\","
            "response_code=\"503\",response_flags=\"-\"");
}

TEST(IstioMetricsTest, EmptyValuesAreUnknownAndOthersEscaped) {
  RequestLabels l;
  l.reporter = "source";
  l.destination_version = "a\"b\\c\nd";
  l.response_code = 404;
  l.response_flags = "NR";
  const std::string text = IstioMetrics::LabelText(l);
  EXPECT_NE(text.find("source_workload=\"unknown\""), std::string::npos);
  EXPECT_NE(text.find("destination_service=\"unknown\""), std::string::npos);
  EXPECT_NE(text.find("destination_version=\"a\\\"b\\\\c\\nd\""), std::string::npos);
  EXPECT_NE(text.find("response_flags=\"NR\""), std::string::npos);
}

TEST(IstioMetricsTest, CounterAndCumulativeHistogram) {
  IstioMetrics metrics;
  for (double ms : {0.2, 0.5, 3.0, 120.0, 120.0, 700000.0, 5e6}) metrics.Record(Labels(), ms);
  metrics.Record(Labels(500), 1.0);
  EXPECT_EQ(metrics.Count(Labels()), 7u);
  EXPECT_EQ(metrics.Count(Labels(500)), 1u);
  EXPECT_EQ(metrics.Count(Labels(404)), 0u);
  EXPECT_EQ(metrics.series(), 2u);

  const std::string text = metrics.Render();
  const std::string labels = IstioMetrics::LabelText(Labels());
  EXPECT_EQ(ValueOf(text, "istio_requests_total{" + labels + "}"), "7");
  auto bucket = [&](const std::string& le) {
    return ValueOf(text,
                   "istio_request_duration_milliseconds_bucket{" + labels + ",le=\"" + le + "\"}");
  };
  EXPECT_EQ(bucket("0.5"), "2");  // le is "less than or equal"
  EXPECT_EQ(bucket("1"), "2");
  EXPECT_EQ(bucket("5"), "3");
  EXPECT_EQ(bucket("100"), "3");
  EXPECT_EQ(bucket("250"), "5");
  EXPECT_EQ(bucket("600000"), "5");
  EXPECT_EQ(bucket("1800000"), "6");
  EXPECT_EQ(bucket("3600000"), "6");
  EXPECT_EQ(bucket("+Inf"), "7");
  EXPECT_EQ(ValueOf(text, "istio_request_duration_milliseconds_count{" + labels + "}"), "7");
  EXPECT_DOUBLE_EQ(
      std::stod(ValueOf(text, "istio_request_duration_milliseconds_sum{" + labels + "}")),
      0.2 + 0.5 + 3.0 + 120.0 + 120.0 + 700000.0 + 5e6);
}

TEST(IstioMetricsTest, EveryLineIsValidExpositionFormat) {
  IstioMetrics metrics;
  metrics.Record(Labels(), 12.5);
  RequestLabels source = Labels(404);
  source.reporter = "source";
  metrics.Record(source, 0.1);
  const std::regex sample(
      R"(^(istio_requests_total|istio_request_duration_milliseconds_(bucket|sum|count))\{([a-z_]+="([^"\\]|\\.)*",?)+\} [0-9.e+-]+$)");
  const std::regex meta(R"(^# (HELP|TYPE) [a-z_]+ .+$)");
  int samples = 0;
  for (const std::string& line : Lines(metrics.Render())) {
    if (line.rfind("#", 0) == 0) {
      EXPECT_TRUE(std::regex_match(line, meta)) << line;
    } else {
      EXPECT_TRUE(std::regex_match(line, sample)) << line;
      ++samples;
    }
  }
  // Per series: 1 counter + 20 buckets + sum + count.
  EXPECT_EQ(samples, 2 * (1 + 20 + 2));
  EXPECT_EQ(std::string(IstioMetrics::kContentType), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace
}  // namespace sandbox

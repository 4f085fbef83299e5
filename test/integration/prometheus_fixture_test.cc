// The Prometheus fixture itself: a counter served over HTTP is scraped and queried, so a broken
// prometheus install or config shows up here rather than as an analysis failure.
#include "prometheus_fixture.h"

#include <atomic>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <gtest/gtest.h>

namespace canaryctl::integration {
namespace {

std::atomic<int> g_counter{0};

class CounterHandler : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& res) override {
    res.setContentType("text/plain; version=0.0.4");
    res.send() << "# TYPE demo_requests_total counter\ndemo_requests_total{code=\"200\"} "
               << g_counter.load() << "\n";
  }
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new CounterHandler;
  }
};

TEST(PrometheusFixtureTest, ScrapesACounterAndAnswersQueries) {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  const int port = socket.address().port();
  Poco::Net::HTTPServer server(new Factory, socket, new Poco::Net::HTTPServerParams);
  server.start();
  g_counter = 41;
  Prometheus prometheus({"127.0.0.1:" + std::to_string(port)}, "/metrics", 200ms);
  ASSERT_TRUE(prometheus.Start());
  ASSERT_TRUE(prometheus.WaitForScrape()) << prometheus.log();
  EXPECT_EQ(prometheus.Query("sum(demo_requests_total)"), 41.0);
  g_counter = 50;
  EXPECT_TRUE(prometheus.WaitForValue("sum(demo_requests_total)", [](double v) { return v == 50; }))
      << prometheus.log();
  std::string error;
  EXPECT_EQ(prometheus.Query("sum(no_such_metric)", &error), std::nullopt);
  EXPECT_EQ(error, "no data");
  EXPECT_EQ(prometheus.Query("sum(rate(", &error), std::nullopt);
  EXPECT_NE(error.find("HTTP 400"), std::string::npos) << error;
  server.stop();
}

}  // namespace
}  // namespace canaryctl::integration

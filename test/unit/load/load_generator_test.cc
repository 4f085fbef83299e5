// Tests of load/LoadGenerator against the checks' local HTTP test server.
#include "load/load_generator.h"

#include <gtest/gtest.h>

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/URI.h>

#include <chrono>
#include <thread>

#include "checks/test_http_server.h"

namespace canaryctl::load {
namespace {

using checks::testing::TestHttpServer;
using Clock = std::chrono::steady_clock;

config::LoadSpec Spec(const std::string& url, double rate = 500, int concurrency = 4) {
  config::LoadSpec spec;
  spec.url = url;
  spec.rate = rate;
  spec.concurrency = concurrency;
  spec.timeout = std::chrono::seconds(10);
  return spec;
}

config::SplitSpec HeaderSplit() {
  config::SplitSpec split;
  split.header = "X-Version";
  split.candidate = "v2";
  return split;
}

// Waits (without a deadline that could fail a slow run, but bounded so a broken generator
// cannot hang the suite) until the generator has counted `n` requests.
void WaitForRequests(const LoadGenerator& load, int64_t n) {
  for (int i = 0; i < 6000 && load.Snapshot().requests < n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GE(load.Snapshot().requests, n) << "the generator sent too few requests in 60 s";
}

config::SplitSpec JsonSplit() {
  config::SplitSpec split;
  split.json = "build.version";
  split.candidate = "v2";
  return split;
}

// Runs a generator until it has counted `n` requests; returns its final counts.
report::LoadRecord RunFor(int64_t n, const config::LoadSpec& spec,
                          std::optional<checks::HttpProxy> proxy = std::nullopt) {
  LoadGenerator load(spec, std::move(proxy));
  load.Start();
  WaitForRequests(load, n);
  return load.Stop();
}

std::map<std::string, int64_t> SentBySplit(TestHttpServer& server) {
  std::lock_guard lock(server.state().mu);
  return {server.state().split_answers.begin(), server.state().split_answers.end()};
}

TEST(LoadGenerator, CountsEveryAnswerByTheVersionHeader) {
  TestHttpServer server;
  config::LoadSpec spec = Spec(server.Url("/split"));
  spec.split = HeaderSplit();
  LoadGenerator load(spec, std::nullopt);
  load.Start();
  WaitForRequests(load, 300);
  const report::LoadRecord record = load.Stop();
  EXPECT_EQ(record.requests, server.state().requests.load());
  EXPECT_EQ(record.errors, 0);
  // Exactly what the server sent, answer by answer.
  EXPECT_EQ(record.by_version, SentBySplit(server));
  ASSERT_EQ(record.by_version.count(""), 0u);
  EXPECT_EQ(record.by_version.at("v1") + record.by_version.at("v2"), record.requests);
  const double share = static_cast<double>(record.by_version.at("v2")) / record.requests;
  EXPECT_GT(share, 0.15);  // 0.3 by the server's dice; far bounds, as the sample size varies
  EXPECT_LT(share, 0.45);
  EXPECT_GT(record.p99_ms, 0);
  // Kept alive: far fewer connections than requests.
  EXPECT_LT(server.connections(), record.requests / 10);
  // Stopped means stopped.
  EXPECT_EQ(load.Snapshot().requests, record.requests);
}

TEST(LoadGenerator, ReadsTheVersionFromAJsonField) {
  TestHttpServer server;
  config::LoadSpec spec = Spec(server.Url("/split"));
  spec.split = JsonSplit();
  const report::LoadRecord record = RunFor(100, spec);
  EXPECT_EQ(record.by_version, SentBySplit(server));
  EXPECT_EQ(record.by_version.count(""), 0u);
}

TEST(LoadGenerator, AnswersWithoutTheFieldCountAsUnknown) {
  TestHttpServer server;
  {
    std::lock_guard lock(server.state().mu);
    server.state().json_routes["/other"] = {200, R"({"build":{"name":"x"}})"};
  }
  config::LoadSpec spec = Spec(server.Url("/other"));
  spec.split = JsonSplit();
  const report::LoadRecord record = RunFor(20, spec);
  ASSERT_EQ(record.by_version.size(), 1u);
  EXPECT_EQ(record.by_version.at(""), record.requests);
  EXPECT_EQ(record.errors, 0);
}

TEST(LoadGenerator, SendsTheMethodHeadersAndQuery) {
  TestHttpServer server;
  config::LoadSpec spec = Spec(server.Url("/echo?probe=1"));
  spec.method = "POST";
  spec.headers = {{"X-Canary", "always"}};
  const report::LoadRecord record = RunFor(5, spec);
  EXPECT_EQ(record.errors, 0);
  EXPECT_TRUE(record.by_version.empty());  // no split configured
  std::lock_guard lock(server.state().mu);
  EXPECT_EQ(server.state().last_uri, "/echo?probe=1");
  EXPECT_EQ(server.state().last_method, "POST");
  EXPECT_EQ(server.state().last_x_canary, "always");
}

TEST(LoadGenerator, CountsServerErrorsButNotClientErrors) {
  TestHttpServer server;
  config::LoadSpec spec = Spec(server.Url("/status/503"));
  spec.split = HeaderSplit();
  report::LoadRecord record = RunFor(20, spec);
  EXPECT_EQ(record.errors, record.requests);
  EXPECT_EQ(record.by_version.at(""), record.requests);  // answered, without a version

  record = RunFor(20, Spec(server.Url("/status/404")));
  EXPECT_EQ(record.errors, 0);
}

TEST(LoadGenerator, CountsConnectionFailures) {
  int port = 0;
  {
    Poco::Net::ServerSocket closed(Poco::Net::SocketAddress("127.0.0.1", 0));
    port = closed.address().port();
  }  // nothing listens there any more
  config::LoadSpec spec = Spec("http://127.0.0.1:" + std::to_string(port) + "/");
  spec.split = HeaderSplit();
  const report::LoadRecord record = RunFor(20, spec);
  EXPECT_EQ(record.errors, record.requests);
  EXPECT_TRUE(record.by_version.empty());  // nothing answered
}

TEST(LoadGenerator, NeverAheadOfTheSchedule) {
  TestHttpServer server;
  const double rate = 50;
  LoadGenerator load(Spec(server.Url("/split"), rate, 8), std::nullopt);
  const auto before = Clock::now();
  load.Start();
  WaitForRequests(load, 10);
  const report::LoadRecord record = load.Stop();
  const double elapsed = std::chrono::duration<double>(Clock::now() - before).count();
  // Request k is sent no earlier than k / rate after Start: an invariant, not a timing.
  EXPECT_LE(record.requests, static_cast<int64_t>(rate * elapsed) + 1);
  EXPECT_EQ(server.state().requests.load(), record.requests);
}

TEST(LoadGenerator, SendsAbsoluteFormRequestsToTheProxy) {
  TestHttpServer proxy;  // answers whatever it receives
  checks::HttpProxy via;
  via.host = "127.0.0.1";
  via.port = Poco::URI(proxy.Url("/")).getPort();
  const report::LoadRecord record = RunFor(5, Spec("http://backend.example:8080/split?x=1"), via);
  EXPECT_EQ(record.errors, 0);
  EXPECT_EQ(proxy.state().requests.load(), record.requests);
  std::lock_guard lock(proxy.state().mu);
  EXPECT_EQ(proxy.state().last_uri, "http://backend.example:8080/split?x=1");
}

TEST(LoadGenerator, StopAbandonsRequestsThatGetNoAnswer) {
  // Accepts connections (the kernel does, into the backlog) and never answers.
  Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0));
  config::LoadSpec spec = Spec("http://127.0.0.1:" + std::to_string(silent.address().port()) + "/");
  spec.timeout = std::chrono::milliseconds(300);
  LoadGenerator load(spec, std::nullopt);
  load.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto stopping = Clock::now();
  const report::LoadRecord record = load.Stop();
  // Returns (a hang here is the failure); the generous bound only catches waiting for answers.
  EXPECT_LT(Clock::now() - stopping, std::chrono::seconds(10));
  EXPECT_EQ(record.errors, record.requests);
  if (record.requests > 0) {
    EXPECT_GE(record.p99_ms, 250);  // timeouts count at their wait
  }
}

TEST(LoadGenerator, StartsAgainFromZero) {
  TestHttpServer server;
  LoadGenerator load(Spec(server.Url("/split"), 200, 2), std::nullopt);
  load.Start();
  WaitForRequests(load, 20);
  const int64_t first = load.Stop().requests;
  const auto before = Clock::now();
  load.Start();
  const int64_t second = load.Stop().requests;
  const double elapsed = std::chrono::duration<double>(Clock::now() - before).count();
  EXPECT_EQ(server.state().requests.load(), first + second);
  // The second run counts only its own requests, on a schedule of its own.
  EXPECT_LE(second, static_cast<int64_t>(200 * elapsed) + 1);
}

}  // namespace
}  // namespace canaryctl::load

// The built-in queries, the client and Analysis::Run against a real Prometheus, which scrapes
// synthetic Istio telemetry (istio_requests_total, istio_request_duration_milliseconds) whose
// counts the test controls: the numbers the real PromQL engine computes are known exactly.
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <tuple>

#include "analysis/analysis.h"
#include "analysis/prometheus_client.h"
#include "analysis/queries.h"
#include "prometheus_fixture.h"

namespace canaryctl::analysis {
namespace {

using namespace std::chrono_literals;

// Istio's default buckets of istio_request_duration_milliseconds.
constexpr std::array<double, 19> kBuckets = {0.5,   1,      5,      10,      25,     50,    100,
                                             250,   500,    1000,   2500,    5000,   10000, 30000,
                                             60000, 300000, 600000, 1800000, 3600000};

// What one workload receives per tick of traffic.
struct Side {
  std::string namespace_name;
  std::string workload;
  int ok = 0;      // answered 200 in fast_ms
  int errors = 0;  // answered 500 in fast_ms
  int slow = 0;    // answered 200 in slow_ms
  double fast_ms = 40;
  double slow_ms = 700;
  std::string reporter = "destination";
};

// Serves /metrics in Prometheus's text format; every tick's counts are added at once, so every
// scrape sees the sides' series in the same proportions.
class IstioTelemetry {
 public:
  IstioTelemetry()
      : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)),
        server_(new Factory(this), socket_, new Poco::Net::HTTPServerParams) {
    server_.start();
  }
  ~IstioTelemetry() {
    StopTraffic();
    server_.stopAll(true);
  }

  std::string target() const { return "127.0.0.1:" + std::to_string(socket_.address().port()); }

  // Adds the side's series, at zero counts, so that increase() sees them start.
  void Declare(const Side& side) { Add(side, 0); }

  void Add(const Side& side, int ticks) {
    std::lock_guard lock(mu_);
    Count(side, "200", side.fast_ms, side.ok * ticks);
    Count(side, "500", side.fast_ms, side.errors * ticks);
    Count(side, "200", side.slow_ms, side.slow * ticks);
  }

  // A tick of every side every `period`, until StopTraffic.
  void StartTraffic(std::vector<Side> sides, std::chrono::milliseconds period = 50ms) {
    StopTraffic();
    running_ = true;
    traffic_ = std::thread([this, sides, period] {
      while (running_) {
        for (const auto& side : sides) Add(side, 1);
        std::this_thread::sleep_for(period);
      }
    });
  }
  void StopTraffic() {
    running_ = false;
    if (traffic_.joinable()) traffic_.join();
  }

 private:
  struct Series {
    double requests = 0;
    std::array<double, kBuckets.size()> buckets{};
    double sum = 0;
  };
  using Key = std::tuple<std::string, std::string, std::string, std::string>;  // reporter, ns,
                                                                               // workload, code

  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(IstioTelemetry* owner) : owner_(owner) {}
    void handleRequest(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& res) override {
      res.setContentType("text/plain; version=0.0.4");
      res.send() << owner_->Render();
    }

   private:
    IstioTelemetry* owner_;
  };

  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(IstioTelemetry* owner) : owner_(owner) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler(owner_);
    }

   private:
    IstioTelemetry* owner_;
  };

  void Count(const Side& side, const std::string& code, double ms, int n) {
    Series& s = series_[{side.reporter, side.namespace_name, side.workload, code}];
    s.requests += n;
    s.sum += ms * n;
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      if (ms <= kBuckets[i]) s.buckets[i] += n;
    }
  }

  std::string Render() {
    std::lock_guard lock(mu_);
    std::ostringstream out;
    out << "# TYPE istio_requests_total counter\n";
    for (const auto& [key, s] : series_) {
      out << "istio_requests_total{" << Labels(key) << "} " << s.requests << "\n";
    }
    out << "# TYPE istio_request_duration_milliseconds histogram\n";
    for (const auto& [key, s] : series_) {
      for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        out << "istio_request_duration_milliseconds_bucket{" << Labels(key) << ",le=\""
            << kBuckets[i] << "\"} " << s.buckets[i] << "\n";
      }
      out << "istio_request_duration_milliseconds_bucket{" << Labels(key) << ",le=\"+Inf\"} "
          << s.requests << "\n";
      out << "istio_request_duration_milliseconds_sum{" << Labels(key) << "} " << s.sum << "\n";
      out << "istio_request_duration_milliseconds_count{" << Labels(key) << "} " << s.requests
          << "\n";
    }
    return out.str();
  }

  static std::string Labels(const Key& key) {
    const auto& [reporter, ns, workload, code] = key;
    return "reporter=\"" + reporter + "\",destination_workload_namespace=\"" + ns +
           "\",destination_workload=\"" + workload + "\",destination_service=\"" + workload + "." +
           ns + ".svc.cluster.local\",request_protocol=\"http\",response_code=\"" + code + "\"";
  }

  Poco::Net::ServerSocket socket_;
  Poco::Net::HTTPServer server_;
  std::mutex mu_;
  std::map<Key, Series> series_;
  std::atomic<bool> running_{false};
  std::thread traffic_;
};

// One Prometheus for all tests (it takes seconds to start); each test has namespaces of its
// own, so that series of earlier tests never count.
class PrometheusAnalysisTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    telemetry_ = new IstioTelemetry;
    prometheus_ = new integration::Prometheus({telemetry_->target()}, "/metrics", 200ms);
    started_ = prometheus_->Start();
    PrometheusOptions options;
    options.url = prometheus_->url();
    client_ = MakePrometheusClient(options).release();
  }
  static void TearDownTestSuite() {
    delete client_;
    delete prometheus_;
    delete telemetry_;
  }
  void SetUp() override {
    ASSERT_TRUE(started_) << prometheus_->log();
    static int tests = 0;
    ++tests;
    stage_ = "stage-" + std::to_string(tests);
    prod_ = "prod-" + std::to_string(tests);
    candidate_ = {stage_, "api.v2", "api"};
    stable_ = {prod_, "api.v2", "api"};
    // Decoys the queries must not count: a workload the unescaped regex "api.v2" would match,
    // and the candidate's requests as the source reporter saw them.
    Side decoy{stage_, "apixv2", 0, 5};
    Side source{stage_, "api.v2", 0, 5};
    source.reporter = "source";
    telemetry_->Declare(decoy);
    telemetry_->Declare(source);
    decoys_ = {decoy, source};
  }
  void TearDown() override { telemetry_->StopTraffic(); }

  // Runs traffic of the sides (and the decoys) while Analysis::Run judges the candidate.
  AnalysisResult Analyze(const config::AnalysisSpec& spec, const std::vector<Side>& sides) {
    for (const auto& side : sides) telemetry_->Declare(side);
    EXPECT_TRUE(prometheus_->WaitForScrape()) << prometheus_->log();
    StepTarget target{candidate_, stable_, 30, std::chrono::system_clock::now()};
    std::vector<Side> all = sides;
    all.insert(all.end(), decoys_.begin(), decoys_.end());
    telemetry_->StartTraffic(all);
    AnalysisDeps deps;
    deps.prometheus = client_;
    deps.progress = [](const std::string& line) { std::printf("  %s\n", line.c_str()); };
    AnalysisResult result = Analysis(spec, deps).Run(target);
    telemetry_->StopTraffic();
    return result;
  }

  static config::AnalysisSpec Spec() {
    config::AnalysisSpec spec;
    spec.prometheus_url = "unused";
    spec.interval = 2s;
    spec.window = 20s;
    spec.passes = 2;
    spec.metrics = {{"request-success-rate", 99, std::nullopt, std::nullopt},
                    {"request-duration", std::nullopt, 500, std::nullopt}};
    return spec;
  }

  static inline IstioTelemetry* telemetry_ = nullptr;
  static inline integration::Prometheus* prometheus_ = nullptr;
  static inline PrometheusClient* client_ = nullptr;
  static inline ::testing::AssertionResult started_ = ::testing::AssertionFailure();
  std::string stage_, prod_;
  Workload candidate_, stable_;
  std::vector<Side> decoys_;
};

TEST_F(PrometheusAnalysisTest, BuiltinQueriesComputeTheExactNumbers) {
  // 90% answered fine, of those 1 in 9 slowly; p99 is interpolated in the (500, 1000] bucket:
  // 500 + 500 * (0.99 - 0.9) / 0.1 = 950.
  Side candidate{stage_, "api.v2", 8, 1, 1};
  Side stable{prod_, "api.v2", 10, 0, 0};
  telemetry_->Declare(candidate);
  telemetry_->Declare(stable);
  ASSERT_TRUE(prometheus_->WaitForScrape()) << prometheus_->log();
  const auto started = std::chrono::system_clock::now();
  auto decoys = decoys_;
  decoys.push_back(candidate);
  decoys.push_back(stable);
  telemetry_->StartTraffic(decoys);
  std::this_thread::sleep_for(3s);
  ASSERT_TRUE(prometheus_->WaitForScrape()) << prometheus_->log();

  auto rate = client_->Query(*BuiltinQuery("request-success-rate", candidate_, 2s));
  ASSERT_TRUE(rate.ok()) << rate.error().message;
  ASSERT_TRUE(rate.value().has_value());
  EXPECT_NEAR(*rate.value(), 90.0, 1e-9);
  auto p99 = client_->Query(*BuiltinQuery("request-duration", candidate_, 2s));
  ASSERT_TRUE(p99.ok()) << p99.error().message;
  ASSERT_TRUE(p99.value().has_value());
  EXPECT_NEAR(*p99.value(), 950.0, 1e-6);
  auto stable_rate = client_->Query(*BuiltinQuery("request-success-rate", stable_, 2s));
  ASSERT_TRUE(stable_rate.ok() && stable_rate.value().has_value());
  EXPECT_NEAR(*stable_rate.value(), 100.0, 1e-9);

  // Counts since the traffic started: 10% errors of them. increase() extrapolates each series
  // to the range's ends on its own, so the counts are fractional and their ratio near 10%.
  const auto since =
      std::chrono::ceil<std::chrono::seconds>(std::chrono::system_clock::now() - started);
  auto requests = client_->Query(RequestsQuery(candidate_, since));
  auto errors = client_->Query(ErrorsQuery(candidate_, since));
  ASSERT_TRUE(requests.ok() && errors.ok());
  ASSERT_TRUE(requests.value().has_value() && errors.value().has_value());
  EXPECT_GT(RoundCount(requests.value()), 300);
  EXPECT_NEAR(*errors.value() / *requests.value(), 0.1, 1e-3)
      << *errors.value() << " / " << *requests.value() << " over " << since.count() << "s";

  // A candidate that answers only 5xx measures 0%, not "no data".
  auto all_errors = client_->Query(
      *BuiltinQuery("request-success-rate", Workload{stage_, "apixv2", "apixv2"}, 2s));
  ASSERT_TRUE(all_errors.ok() && all_errors.value().has_value()) << all_errors.error().message;
  EXPECT_EQ(*all_errors.value(), 0);
  telemetry_->StopTraffic();
}

TEST_F(PrometheusAnalysisTest, PrometheusErrorsReachTheCaller) {
  auto bad = client_->Query("sum(rate(");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("bad_data"), std::string::npos) << bad.error().message;
  telemetry_->Add({stage_, "a", 1}, 1);
  telemetry_->Add({stage_, "b", 1}, 1);
  ASSERT_TRUE(prometheus_->WaitForScrape());
  auto several =
      client_->Query("istio_requests_total{destination_workload=~\"a|b\",response_code=\"200\"}");
  ASSERT_FALSE(several.ok());
  EXPECT_NE(several.error().message.find("2 series"), std::string::npos) << several.error().message;
}

TEST_F(PrometheusAnalysisTest, HealthyCandidatePasses) {
  config::AnalysisSpec spec = Spec();
  spec.comparison = config::ComparisonSpec{};
  // 300 requests/s each side, no candidate errors, one stable error in 500.
  const AnalysisResult r = Analyze(spec, {{stage_, "api.v2", 15}, {prod_, "api.v2", 15}});
  EXPECT_EQ(r.verdict, checks::Verdict::kPass) << r.message;
  ASSERT_EQ(r.metrics.size(), 2u);
  EXPECT_EQ(r.metrics[0].value, 100);
  EXPECT_LT(*r.metrics[1].value, 50);  // every request took 40 ms: within the (25, 50] bucket
  ASSERT_EQ(r.checks.size(), 3u);
  EXPECT_EQ(r.checks[2].verdict, checks::Verdict::kPass) << r.checks[2].message;
}

TEST_F(PrometheusAnalysisTest, ErroringCandidateFails) {
  const AnalysisResult r = Analyze(Spec(), {{stage_, "api.v2", 19, 1}, {prod_, "api.v2", 20}});
  EXPECT_EQ(r.verdict, checks::Verdict::kFail) << r.message;
  EXPECT_EQ(r.message.rfind("request-success-rate 95% (min 99)", 0), 0u) << r.message;
}

TEST_F(PrometheusAnalysisTest, SlowCandidateFails) {
  const AnalysisResult r = Analyze(Spec(), {{stage_, "api.v2", 9, 0, 1}, {prod_, "api.v2", 20}});
  EXPECT_EQ(r.verdict, checks::Verdict::kFail) << r.message;
  EXPECT_EQ(r.message.rfind("request-duration 950ms (max 500)", 0), 0u) << r.message;
}

TEST_F(PrometheusAnalysisTest, ComparisonFailsACandidateTheThresholdsLetThrough) {
  config::AnalysisSpec spec = Spec();
  spec.metrics[0].min = 90;  // 97% passes it
  spec.comparison = config::ComparisonSpec{};
  const AnalysisResult r = Analyze(spec, {{stage_, "api.v2", 97, 3}, {prod_, "api.v2", 100, 0}});
  EXPECT_EQ(r.verdict, checks::Verdict::kFail) << r.message;
  EXPECT_EQ(r.message.rfind("error-rate-comparison: candidate errors", 0), 0u) << r.message;
}

TEST_F(PrometheusAnalysisTest, NoTrafficFailsAtTheWindowsEnd) {
  config::AnalysisSpec spec = Spec();
  spec.window = 6s;
  spec.comparison = config::ComparisonSpec{};
  // The candidate's series exist but stay flat: rates are 0/0 (NaN), the count 0.
  const AnalysisResult r = Analyze(spec, {{stage_, "api.v2", 0}, {prod_, "api.v2", 20}});
  EXPECT_EQ(r.verdict, checks::Verdict::kFail) << r.message;
  EXPECT_EQ(r.message,
            "the candidate received no traffic: no data for request-success-rate, "
            "request-duration, error-rate-comparison during the 6s window");
}

}  // namespace
}  // namespace canaryctl::analysis

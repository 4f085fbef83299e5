#include "prometheus_fixture.h"

#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

namespace canaryctl::integration {

namespace fs = std::filesystem;

namespace {

// A port free right now (bound and released): Prometheus cannot report a port 0 it bound.
int FreeLoopbackPort() {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  const int port = socket.address().port();
  socket.close();
  return port;
}

HttpResult Get(const std::string& url) {
  HttpResult result;
  try {
    Poco::URI uri(url);
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, uri.getPathAndQuery(),
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& is = session.receiveResponse(response);
    Poco::StreamCopier::copyToString(is, result.body);
    result.status = static_cast<int>(response.getStatus());
  } catch (const Poco::Exception& e) {
    result.error = e.displayText();
  }
  return result;
}

}  // namespace

std::string PrometheusBinary() {
  if (const char* p = std::getenv("CANARYCTL_PROMETHEUS"); p && *p) return p;
  return "/usr/bin/prometheus";
}

Prometheus::Prometheus(std::vector<std::string> scrape_targets, std::string metrics_path,
                       std::chrono::milliseconds scrape_interval)
    : targets_(std::move(scrape_targets)),
      metrics_path_(std::move(metrics_path)),
      scrape_interval_(scrape_interval) {}

Prometheus::~Prometheus() {
  if (process_) {
    try {
      Poco::Process::requestTermination(process_->id());
      const auto deadline = std::chrono::steady_clock::now() + 5s;
      while (Poco::Process::isRunning(*process_) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
      }
      if (Poco::Process::isRunning(*process_)) Poco::Process::kill(*process_);
      process_->wait();
    } catch (const Poco::Exception&) {
    }
  }
  for (std::thread& t : readers_) t.join();
}

testing::AssertionResult Prometheus::Start() {
  if (!fs::exists(PrometheusBinary())) {
    return testing::AssertionFailure()
           << PrometheusBinary() << " is missing: run scripts/setup (Debian `prometheus`)";
  }
  std::ostringstream config;
  const auto ms = std::to_string(scrape_interval_.count()) + "ms";
  config << "global:\n  scrape_interval: " << ms << "\n  evaluation_interval: " << ms << "\n"
         << "scrape_configs:\n  - job_name: targets\n    scrape_interval: " << ms
         << "\n    scrape_timeout: " << ms << "\n    metrics_path: " << metrics_path_
         << "\n    static_configs:\n      - targets: [";
  for (size_t i = 0; i < targets_.size(); ++i) {
    config << (i ? ", " : "") << '"' << targets_[i] << '"';
  }
  config << "]\n";
  const std::string config_path = dir_.Write("prometheus.yml", config.str());
  const int port = FreeLoopbackPort();
  url_ = "http://127.0.0.1:" + std::to_string(port);
  std::vector<std::string> args = {
      "--config.file=" + config_path, "--storage.tsdb.path=" + dir_.path() + "/data",
      "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"};
  try {
    process_.emplace(
        LaunchCaptured(PrometheusBinary(), args, dir_.path(), log_, log_mu_, &readers_));
  } catch (const Poco::Exception& e) {
    return testing::AssertionFailure()
           << "could not start " << PrometheusBinary() << ": " << e.displayText();
  }
  const bool ready = WaitFor(
      [&] {
        if (!Poco::Process::isRunning(*process_)) return true;
        return Get(url_ + "/-/ready").status == 200;
      },
      30s);
  if (!ready || !Poco::Process::isRunning(*process_)) {
    return testing::AssertionFailure()
           << "prometheus did not become ready on " << url_ << "; its log:\n"
           << log();
  }
  return testing::AssertionSuccess();
}

std::optional<double> Prometheus::Query(const std::string& promql, std::string* error) const {
  Poco::URI uri(url_ + "/api/v1/query");
  uri.addQueryParameter("query", promql);
  const HttpResult r = Get(uri.toString());
  auto fail = [&](const std::string& why) -> std::optional<double> {
    if (error) *error = why;
    return std::nullopt;
  };
  if (r.status != 200) return fail("HTTP " + std::to_string(r.status) + " " + r.error + r.body);
  std::string parse_error;
  const Poco::Dynamic::Var doc = ParseJson(r.body, &parse_error);
  if (doc.isEmpty()) return fail("not JSON: " + parse_error);
  const auto type = Str(doc, "/data/resultType");
  Poco::Dynamic::Var value;
  if (type == "scalar") {
    value = At(doc, "/data/result/1");
  } else if (type == "vector") {
    const auto n = Len(doc, "/data/result");
    if (!n || *n == 0) return fail("no data");
    if (*n > 1) return fail(std::to_string(*n) + " samples");
    value = At(doc, "/data/result/0/value/1");
  } else {
    return fail("result type " + type.value_or("?"));
  }
  if (value.isEmpty()) return fail("no value");
  const double v = std::strtod(value.toString().c_str(), nullptr);
  if (std::isnan(v)) return fail("NaN");
  return v;
}

bool Prometheus::WaitForValue(const std::string& promql, const std::function<bool(double)>& pred,
                              std::chrono::milliseconds timeout) const {
  return WaitFor(
      [&] {
        auto v = Query(promql);
        return v && pred(*v);
      },
      timeout);
}

bool Prometheus::WaitForScrape(std::chrono::milliseconds timeout) const {
  const double since =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string query = "count(timestamp(up{job=\"targets\"} == 1) > " +
                            std::to_string(static_cast<int64_t>(since) + 1) + ")";
  return WaitForValue(
      query, [&](double n) { return n >= static_cast<double>(targets_.size()); }, timeout);
}

std::string Prometheus::log() const {
  std::lock_guard lock(*log_mu_);
  return *log_;
}

}  // namespace canaryctl::integration

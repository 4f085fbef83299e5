#include "analysis/prometheus_client.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <charconv>
#include <cmath>
#include <limits>

#include "checks/check.h"
#include "checks/http_session.h"

namespace canaryctl::analysis {
namespace {

// Longest body kept in an error message.
constexpr std::size_t kMaxQuotedBody = 200;

// Prometheus writes sample values as strings: a Go float, "NaN", "+Inf" or "-Inf".
std::optional<std::optional<double>> ParseSampleValue(const std::string& text) {
  if (text == "NaN") return std::optional<double>();
  if (text == "+Inf" || text == "Inf") return std::optional<double>(HUGE_VAL);
  if (text == "-Inf") return std::optional<double>(-HUGE_VAL);
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (std::isnan(value)) return std::optional<double>();
  return std::optional<double>(value);
}

class HttpPrometheusClient : public PrometheusClient {
 public:
  explicit HttpPrometheusClient(PrometheusOptions options) : options_(std::move(options)) {}

  Result<std::optional<double>> Query(const std::string& promql) override {
    const std::string where = "prometheus query \"" + promql + "\": ";
    Poco::URI uri;
    try {
      uri = Poco::URI(options_.url);
    } catch (const Poco::Exception& e) {
      return ConfigError("prometheus URL \"" + options_.url + "\": " + e.displayText());
    }
    if ((uri.getScheme() != "http" && uri.getScheme() != "https") || uri.getHost().empty()) {
      return ConfigError("prometheus URL \"" + options_.url +
                         "\": must be http:// or https:// with a host");
    }
    std::string path = uri.getPath();
    while (!path.empty() && path.back() == '/') path.pop_back();
    uri.setPath(path + "/api/v1/query");
    uri.setRawQuery("");
    uri.addQueryParameter("query", promql);

    int status = 0;
    std::string body;
    try {
      auto session = checks::OpenHttpSession(
          uri, {options_.timeout, options_.insecure, options_.ca_file, options_.proxy});
      Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, uri.getPathAndQuery(),
                                     Poco::Net::HTTPMessage::HTTP_1_1);
      request.set("Accept", "application/json");
      session->sendRequest(request);
      Poco::Net::HTTPResponse response;
      std::istream& in = session->receiveResponse(response);
      Poco::StreamCopier::copyToString(in, body);
      status = static_cast<int>(response.getStatus());
    } catch (const Poco::TimeoutException&) {
      return ClusterError(where + "no answer from " + options_.url + " within " +
                          checks::FormatDuration(options_.timeout));
    } catch (const Poco::Exception& e) {
      return ClusterError(where + options_.url + ": " + e.displayText());
    } catch (const std::exception& e) {
      return ClusterError(where + options_.url + ": " + e.what());
    }
    return Parse(where, status, body);
  }

 private:
  // Prometheus answers errors (bad PromQL: 400, execution errors: 422, timeouts: 503) with the
  // same JSON envelope, so the body is read whatever the status.
  static Result<std::optional<double>> Parse(const std::string& where, int status,
                                             const std::string& body) {
    const auto not_prometheus = [&](const std::string& why) -> Error {
      return ClusterError(where + why + " (HTTP " + std::to_string(status) + ": " +
                          body.substr(0, kMaxQuotedBody) + ")");
    };
    Poco::JSON::Object::Ptr root;
    try {
      root = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
      return not_prometheus("the answer is not Prometheus's JSON");
    } catch (const std::exception&) {
      return not_prometheus("the answer is not Prometheus's JSON");
    }
    try {
      const std::string result_status = root->optValue<std::string>("status", "");
      if (result_status == "error") {
        return ClusterError(where + root->optValue<std::string>("errorType", "error") + ": " +
                            root->optValue<std::string>("error", "(no message)"));
      }
      if (result_status != "success") return not_prometheus("no \"status\": \"success\"");
      auto data = root->getObject("data");
      if (!data) return not_prometheus("no \"data\"");
      const std::string type = data->optValue<std::string>("resultType", "");
      auto result = data->getArray("result");
      if (!result) return not_prometheus("no \"data.result\"");
      Poco::JSON::Array::Ptr sample;  // [timestamp, "value"]
      if (type == "scalar") {
        sample = result;
      } else if (type == "vector") {
        if (result->size() == 0) return std::optional<double>();
        if (result->size() > 1) {
          return ClusterError(where + "returned " + std::to_string(result->size()) +
                              " series, expected one number (aggregate it, e.g. with sum())");
        }
        auto series = result->getObject(0);
        if (series) sample = series->getArray("value");
      } else {
        return ClusterError(where + "returned a " + (type.empty() ? "result" : type) +
                            ", expected one number");
      }
      if (!sample || sample->size() != 2) return not_prometheus("malformed sample");
      const std::string text = sample->get(1).convert<std::string>();
      const auto value = ParseSampleValue(text);
      if (!value) return not_prometheus("malformed sample value \"" + text + "\"");
      return *value;
    } catch (const Poco::Exception& e) {
      return not_prometheus("malformed answer: " + e.displayText());
    }
  }

  PrometheusOptions options_;
};

}  // namespace

std::unique_ptr<PrometheusClient> MakePrometheusClient(const PrometheusOptions& options) {
  return std::make_unique<HttpPrometheusClient>(options);
}

}  // namespace canaryctl::analysis

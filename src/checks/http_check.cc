#include "checks/http_check.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/URI.h>

#include <algorithm>
#include <istream>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>

#include "checks/http_session.h"
#include "checks/json_field.h"

namespace canaryctl::checks {
namespace {

// The body is judged on at most this much; only kMaxOutputBytes of it are kept as output.
constexpr std::size_t kMaxJudgedBytes = 4 * 1024 * 1024;

}  // namespace

Status ValidateHttpCheckSpec(const HttpCheckSpec& spec) {
  const std::string where = "http check \"" + spec.name + "\": ";
  if (spec.name.empty()) return ConfigError("http check: the name is empty");
  if (spec.method.empty()) return ConfigError(where + "the method is empty");
  if (spec.timeout.count() <= 0) return ConfigError(where + "the timeout must be positive");
  if (spec.retries < 0) return ConfigError(where + "retries must be 0 or more");
  if (spec.requests < 1) return ConfigError(where + "requests must be 1 or more");
  // Poco writes header lines as given: a CR or LF in a value would end the header and start
  // another (header injection). The configuration refuses these already; this guards any other
  // caller. The value is not shown: headers carry tokens.
  for (const auto& [name, value] : spec.headers) {
    const bool bad_name = name.empty() || name.find_first_of(" :\t\r\n") != std::string::npos;
    if (bad_name || value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
      return ConfigError(where + "header \"" + (bad_name ? "(invalid name)" : name) +
                         "\": a header name or value may not contain a line break");
    }
  }
  if (spec.body_matches) {
    try {
      std::regex(*spec.body_matches, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return ConfigError(where + "invalid body regex \"" + *spec.body_matches + "\": " + e.what());
    }
  }
  return Done{};
}

HttpCheck::HttpCheck(HttpCheckSpec spec) : spec_(std::move(spec)) {}

CheckResult HttpCheck::Run(const StepContext& step) {
  const auto start = std::chrono::steady_clock::now();
  CheckResult result;
  result.name = spec_.name;
  const std::string url = spec_.url.empty() ? step.target_url : spec_.url;
  const int attempts = 1 + std::max(0, spec_.retries);
  const int requests = std::max(1, spec_.requests);
  Attempt last;
  int failed_request = 0;  // 1-based, in the last attempt; 0 when it passed
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) std::this_thread::sleep_for(spec_.retry_delay);
    failed_request = 0;
    for (int request = 1; request <= requests; ++request) {
      last = Once(url);
      if (!last.passed) {
        failed_request = request;
        break;
      }
    }
    result.attempts = attempt;
    if (last.passed) break;
  }
  result.verdict = last.passed ? Verdict::kPass : Verdict::kFail;
  result.message = spec_.method + " " + url + ": ";
  if (requests > 1 && !last.passed) {
    result.message +=
        "request " + std::to_string(failed_request) + " of " + std::to_string(requests) + ": ";
  }
  result.message += last.message;
  std::vector<std::string> notes;
  if (last.passed && requests > 1) notes.push_back("all " + std::to_string(requests) + " requests");
  if (last.passed && result.attempts > 1) {
    notes.push_back("passed on attempt " + std::to_string(result.attempts) + " of " +
                    std::to_string(attempts));
  } else if (!last.passed && attempts > 1) {
    notes.push_back("failed " + std::to_string(attempts) + " attempts");
  }
  for (std::size_t i = 0; i < notes.size(); ++i) {
    result.message += (i == 0 ? " (" : "; ") + notes[i];
  }
  if (!notes.empty()) result.message += ")";
  result.output = CapOutput(std::move(last.body), last.dropped_bytes);
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return result;
}

HttpCheck::Attempt HttpCheck::Once(const std::string& url) const {
  Attempt attempt;
  Poco::URI uri;
  try {
    uri = Poco::URI(url);
  } catch (const Poco::Exception& e) {
    attempt.message = "invalid URL: " + e.displayText();
    return attempt;
  }
  if (uri.getScheme() != "http" && uri.getScheme() != "https") {
    attempt.message = "invalid URL: the scheme must be http or https";
    return attempt;
  }
  if (uri.getHost().empty()) {
    attempt.message = "invalid URL: no host";
    return attempt;
  }
  try {
    auto session =
        OpenHttpSession(uri, {spec_.timeout, spec_.insecure, spec_.ca_file, spec_.proxy});
    std::string target = uri.getPathAndQuery();
    if (target.empty()) target = "/";
    Poco::Net::HTTPRequest request(spec_.method, target, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [header, value] : spec_.headers) request.set(header, value);
    const bool has_body = !spec_.body.empty() || spec_.method == "POST" || spec_.method == "PUT" ||
                          spec_.method == "PATCH";
    if (has_body) request.setContentLength(static_cast<std::streamsize>(spec_.body.size()));
    const auto sent = std::chrono::steady_clock::now();
    std::ostream& out = session->sendRequest(request);
    if (has_body) out << spec_.body;

    Poco::Net::HTTPResponse response;
    std::istream& in = session->receiveResponse(response);
    char buffer[16384];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
      const auto n = static_cast<std::size_t>(in.gcount());
      const std::size_t room = kMaxJudgedBytes - std::min(kMaxJudgedBytes, attempt.body.size());
      attempt.body.append(buffer, std::min(n, room));
      attempt.dropped_bytes += n - std::min(n, room);
    }
    const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - sent);
    attempt.message =
        Judge(static_cast<int>(response.getStatus()), response.getReason(), attempt.body, latency);
    attempt.passed = attempt.message.empty();
    if (attempt.passed) {
      attempt.message =
          std::to_string(static_cast<int>(response.getStatus())) + " " + response.getReason();
    }
  } catch (const Poco::TimeoutException&) {
    attempt.message = "timed out after " + FormatDuration(spec_.timeout);
  } catch (const Poco::Exception& e) {
    attempt.message = e.displayText();
  } catch (const std::exception& e) {
    attempt.message = e.what();
  }
  return attempt;
}

// Empty when every expectation holds; otherwise the first one that does not.
std::string HttpCheck::Judge(int status, const std::string& reason, const std::string& body,
                             std::chrono::milliseconds latency) const {
  if (!spec_.expect_status.Matches(status)) {
    return "expected status " + spec_.expect_status.Describe() + ", got " + std::to_string(status) +
           " " + reason;
  }
  if (spec_.body_contains && body.find(*spec_.body_contains) == std::string::npos) {
    return "status " + std::to_string(status) + " but the body does not contain \"" +
           *spec_.body_contains + "\"";
  }
  if (spec_.body_matches) {
    bool found = false;
    try {
      found = std::regex_search(body, std::regex(*spec_.body_matches, std::regex::ECMAScript));
    } catch (const std::regex_error& e) {
      return "invalid body regex \"" + *spec_.body_matches + "\": " + e.what();
    }
    if (!found) {
      return "status " + std::to_string(status) + " but the body does not match /" +
             *spec_.body_matches + "/";
    }
  }
  if (spec_.json_field_equals) {
    const auto& [path, expected] = *spec_.json_field_equals;
    Poco::Dynamic::Var root;
    try {
      root = Poco::JSON::Parser().parse(body);
    } catch (const Poco::Exception& e) {
      return "status " + std::to_string(status) + " but the body is not JSON (" + e.displayText() +
             ")";
    }
    const auto value = FollowJsonPath(root, path);
    if (!value) return "JSON field \"" + path + "\" is missing";
    const std::string actual = JsonText(*value);
    if (actual != expected) {
      return "JSON field \"" + path + "\" is " + actual + ", expected " + expected;
    }
  }
  if (spec_.max_latency && latency > *spec_.max_latency) {
    return "took " + FormatDuration(latency) + ", more than the maximum " +
           FormatDuration(*spec_.max_latency);
  }
  return "";
}

}  // namespace canaryctl::checks

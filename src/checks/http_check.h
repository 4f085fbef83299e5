// An HTTP(S) request against the candidate, judged by its status, body and (optionally) one
// JSON field. TLS peers are verified against the system CAs (plus an optional CA file) unless
// `insecure` is set.
//
// An attempt sends `requests` requests in sequence, each on a fresh connection (so a Service
// spreads them over its pods), and passes only if every one passes; it stops at the first that
// fails ("request 3 of 5: expected status 200, got 500 Internal Server Error"). Retries repeat
// the whole attempt after retry_delay: a check that fails and then passes within its attempts
// passes, and its message says on which attempt. Retrying a single request instead would let a
// candidate that fails one request in five pass. At worst Run takes
// timeout * requests * (1 + retries) plus the retry delays.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "checks/check.h"
#include "checks/status_matcher.h"
#include "common/result.h"

namespace canaryctl::checks {

// An HTTP proxy to send the request through (HTTPS goes through CONNECT). Where it comes from
// (HTTP_PROXY / NO_PROXY) is decided by the caller.
struct HttpProxy {
  std::string host;
  int port = 0;
  std::string username;  // empty: no proxy authentication
  std::string password;
};

struct HttpCheckSpec {
  std::string name;
  std::string method = "GET";
  std::string url;  // empty: the step's target_url
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // sent when non-empty (or when the method is POST/PUT/PATCH)
  std::chrono::milliseconds timeout{10000};  // per attempt: connect, send and receive
  int retries = 0;                           // extra attempts after a failed one
  std::chrono::milliseconds retry_delay{1000};
  int requests = 1;  // per attempt, in sequence; every one must pass

  StatusMatcher expect_status;               // default: any 2xx
  std::optional<std::string> body_contains;  // substring of the response body
  std::optional<std::string> body_matches;   // ECMAScript regex found somewhere in the body
  // A dotted path into the JSON response ("status", "checks.0.state") and the value it must
  // have, compared as text: strings as is, numbers and booleans as JSON writes them.
  std::optional<std::pair<std::string, std::string>> json_field_equals;
  // Longest acceptable time from sending the request to the end of the response body.
  std::optional<std::chrono::milliseconds> max_latency;

  std::string ca_file;    // extra CA bundle (PEM), added to the system CAs
  bool insecure = false;  // skip TLS verification (the caller warns)
  std::optional<HttpProxy> proxy;
};

// Finds what Run would otherwise only report as a failed check: an empty name or method, a
// body regex that does not compile, a non-positive timeout, negative retries, fewer than one
// request. For config
// validation, before anything runs.
Status ValidateHttpCheckSpec(const HttpCheckSpec& spec);

class HttpCheck : public Check {
 public:
  explicit HttpCheck(HttpCheckSpec spec);
  const std::string& name() const override { return spec_.name; }
  CheckResult Run(const StepContext& step) override;

 private:
  struct Attempt {
    bool passed = false;
    std::string message;
    std::string body;
    std::size_t dropped_bytes = 0;
  };
  Attempt Once(const std::string& url) const;
  std::string Judge(int status, const std::string& reason, const std::string& body,
                    std::chrono::milliseconds latency) const;

  HttpCheckSpec spec_;
};

}  // namespace canaryctl::checks

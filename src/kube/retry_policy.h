// When RestClient tries a request again, and how long it waits first.
//
// Retried: 429 (waiting at least its Retry-After), 500, 502, 503, 504 and connection errors
// (refused, reset, dropped, timed out). Never retried: every other status (404, 409, 422, ...).
// Waits use exponential backoff with full jitter: a uniform draw from
// [0, min(max_backoff, initial_backoff * 2^(retry-1))]. Retrying stops at max_attempts or when
// the next wait would pass the request's deadline; then the last response (or error) stands.
//
// Non-idempotent requests: every Kubernetes write canaryctl makes is safe to repeat. Updates and
// patches carry resourceVersion preconditions or set absolute values (merge patches), so a
// repeat either re-applies the same state or gets 409 Conflict. A POST (create) that reached
// the server before the connection broke yields 409 AlreadyExists when repeated, which callers
// handle like any 409 (re-read, re-decide). So POST is retried too, unless
// retry_post_after_send is false: then a POST is retried only when it surely never left this
// process (the connection could not be made).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

namespace canaryctl::kube {

struct RetryPolicy {
  int max_attempts = 5;                              // the first attempt included
  std::chrono::milliseconds initial_backoff{200};    // the cap of the first wait's draw
  std::chrono::milliseconds max_backoff{5000};       // the cap of any draw
  std::chrono::milliseconds deadline{30000};         // per Send, all attempts and waits included
  std::chrono::milliseconds attempt_timeout{10000};  // connect/send/receive timeout of one try
  bool retry_post_after_send = true;
  uint64_t seed = 0;  // for the jitter; 0 = from std::random_device
};

// Whether a response with this status is worth another attempt.
bool IsRetryableStatus(int status);

// The waits between attempts of one request.
class Backoff {
 public:
  explicit Backoff(const RetryPolicy& policy);
  // The wait before retry number `retry` (1 = the wait after the first attempt). A server's
  // Retry-After raises the wait to at least that long.
  std::chrono::milliseconds Next(int retry, std::optional<std::chrono::milliseconds> retry_after);

 private:
  RetryPolicy policy_;
  std::mt19937_64 rng_;
};

}  // namespace canaryctl::kube

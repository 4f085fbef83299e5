// Injected faults for reliability tests: rules (by method, path regex, user-agent regex and n-th
// match) that make API requests fail with a status, a delay, or a dropped connection. The HTTP
// admin API (/sandbox/faults) is a thin layer over FaultInjector; see README.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/api_error.h"
#include "sandbox/json_util.h"

namespace sandbox {

// What to do to one request.
struct FaultAction {
  int64_t rule_id = 0;
  int delay_ms = 0;   // sleep first
  int status = 0;     // then answer this code with a Status body; 0: answer normally
  bool drop = false;  // then close the connection without a response (wins over status)
  std::string message;
};

class FaultInjector {
 public:
  // Adds a rule from its JSON spec; returns the rule as List() shows it (with "id").
  // Unknown keys, wrong types, an invalid regex, nth < 1, count < 0, status outside 100..599
  // or a negative delayMs are a 400 BadRequest naming the problem.
  Result<json::ObjectPtr> Add(const json::ObjectPtr& spec);
  Result<json::ObjectPtr> AddJson(std::string_view body);

  // Every rule, oldest first, with its "matched" and "fired" counters.
  json::ArrayPtr List() const;
  void Clear();
  bool Remove(int64_t id);  // false if no such rule

  // Counts the request against every rule that matches it (method, whole path). The oldest
  // rule whose window [nth, nth+count) covers the request decides the action; a later rule
  // whose window also covers it does not fire for it (its window still moves on).
  // user_agent is matched only by rules that name one (so helm's and canaryctl's requests to
  // the same path can be told apart).
  std::optional<FaultAction> Match(const std::string& method, const std::string& path,
                                   const std::string& user_agent = "");

  // The Kubernetes Status reason for an HTTP code: 500 InternalError, 409 Conflict,
  // 429 TooManyRequests, 503 ServiceUnavailable, 504 Timeout, ... ("Unknown" otherwise).
  static std::string ReasonForCode(int code);

 private:
  struct Rule {
    int64_t id = 0;
    std::string method;  // "" = any
    std::string path;    // "" = any
    std::regex path_re;
    std::string user_agent;  // "" = any
    std::regex user_agent_re;
    uint64_t nth = 1;
    uint64_t count = 1;  // 0 = forever
    int status = 0;
    int delay_ms = 0;
    bool drop = false;
    std::string message;
    uint64_t matched = 0;
    uint64_t fired = 0;
  };
  static json::ObjectPtr ToJson(const Rule& rule);

  mutable std::mutex mu_;
  std::vector<Rule> rules_;
  int64_t next_id_ = 1;
};

}  // namespace sandbox

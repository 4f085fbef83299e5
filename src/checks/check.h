// A check judges one step of a rollout (shared/DESIGN.md §2 `Check`): it runs against the
// candidate (or prod at promote) and returns a verdict. A check never throws and never returns
// an Error: whatever goes wrong (connection refused, missing executable, timeout) is a `fail`
// verdict whose message says what happened, so the engine can decide to roll back.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace canaryctl::checks {

enum class Verdict { kPass, kFail, kInconclusive };

// "pass", "fail" or "inconclusive": the words used in logs and reports.
std::string_view VerdictName(Verdict verdict);

// What a check may know about the step it judges. Command checks see these as CANARYCTL_*
// environment variables; an HTTP check without a URL uses target_url.
struct StepContext {
  std::string app;          // CANARYCTL_APP
  std::string phase;        // CANARYCTL_PHASE: "test", "shift", "promote", ...
  int step_index = 0;       // CANARYCTL_STEP: index into traffic.steps
  int weight = 0;           // CANARYCTL_WEIGHT: the candidate's weight, 0..100
  int stable_weight = 100;  // CANARYCTL_STABLE_WEIGHT
  std::string target_url;   // CANARYCTL_TARGET_URL: where the candidate answers
  // Further facts about the environment (pipeline id, versions, ...). Each key K is exported
  // to command checks as CANARYCTL_K (upper-cased, non-alphanumerics turned into '_').
  std::map<std::string, std::string> facts;
};

struct CheckResult {
  std::string name;
  Verdict verdict = Verdict::kInconclusive;
  std::string message;  // one line: why this verdict ("expected status 2xx, got 503")
  std::chrono::milliseconds duration{0};
  std::string output;  // response body or process output, capped (kMaxOutputBytes)
  int attempts = 1;    // how many tries the verdict took (HTTP retries)
};

// Output kept in a CheckResult; anything beyond is dropped and the drop noted at the end.
inline constexpr std::size_t kMaxOutputBytes = 64 * 1024;

class Check {
 public:
  virtual ~Check() = default;
  virtual const std::string& name() const = 0;
  // Runs the check once (including its own retries). Blocks for at most the check's timeout
  // times its attempts (HTTP: times its requests per attempt), plus retry delays.
  virtual CheckResult Run(const StepContext& step) = 0;
};

// "30s" for whole seconds, "1500ms" otherwise: how durations appear in messages.
std::string FormatDuration(std::chrono::milliseconds duration);

// Keeps at most kMaxOutputBytes of `text`; if more, appends "[output truncated: N bytes
// dropped]" so a reader knows the report is not the whole story.
std::string CapOutput(std::string text, std::size_t dropped_bytes = 0);

}  // namespace canaryctl::checks

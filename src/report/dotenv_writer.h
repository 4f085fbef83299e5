// rollout.env for artifacts:reports:dotenv (shared/notes/gitlab-ci.md). GitLab rejects the
// whole file (and the job's later consumers get nothing) on one bad line, so every line
// written is valid:
// - keys: CANARYCTL_ followed by [A-Z0-9_]+, at most kMaxDotenvKeyBytes; others are dropped;
// - values: redacted, then every byte or code point GitLab cannot carry (whitespace,
//   control characters, quotes, '#', '\', '$', '`', Unicode spaces, invalid UTF-8) is
//   percent-encoded ("a b" -> "a%20b"); empty values are left out;
// - at most kMaxDotenvVariables lines and kMaxDotenvBytes bytes; later keys are dropped.
// Built-in keys come first (most useful first), then RolloutRecord::extra_env in key order.
// Every drop or change is reported as a warning naming the key.
#pragma once

#include <string>
#include <vector>

#include "ci/redactor.h"
#include "common/result.h"
#include "report/rollout_record.h"

namespace canaryctl::report {

inline constexpr size_t kMaxDotenvVariables = 20;  // a default self-managed instance
inline constexpr size_t kMaxDotenvBytes = 5 * 1024;
inline constexpr size_t kMaxDotenvKeyBytes = 255;
inline constexpr char kDotenvFile[] = "rollout.env";

struct DotenvOutput {
  std::string text;
  std::vector<std::string> warnings;
};

// True for CANARYCTL_[A-Z0-9_]+ within the length limit.
bool ValidDotenvKey(const std::string& key);
// The value as GitLab can carry it; `changed` tells whether anything was encoded.
std::string SanitizeDotenvValue(const std::string& value, bool* changed);

DotenvOutput RenderDotenv(const RolloutRecord& record, const ci::Redactor& redactor);
// Warnings are appended to `warnings` when it is not null.
Status WriteDotenv(const std::string& dir, const RolloutRecord& record,
                   const ci::Redactor& redactor, std::vector<std::string>* warnings);

}  // namespace canaryctl::report

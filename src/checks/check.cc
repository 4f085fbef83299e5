#include "checks/check.h"

namespace canaryctl::checks {

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kFail:
      return "fail";
    case Verdict::kInconclusive:
      return "inconclusive";
  }
  return "inconclusive";
}

std::string FormatDuration(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string CapOutput(std::string text, std::size_t dropped_bytes) {
  if (text.size() > kMaxOutputBytes) {
    dropped_bytes += text.size() - kMaxOutputBytes;
    text.resize(kMaxOutputBytes);
  }
  if (dropped_bytes > 0) {
    text += "\n[output truncated: " + std::to_string(dropped_bytes) + " bytes dropped]";
  }
  return text;
}

}  // namespace canaryctl::checks

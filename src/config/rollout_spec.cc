#include "config/rollout_spec.h"

namespace canaryctl::config {

const char* StrategyName(Strategy s) {
  switch (s) {
    case Strategy::kHybrid:
      return "hybrid";
    case Strategy::kCanary:
      return "canary";
    case Strategy::kBlueGreen:
      return "blue-green";
  }
  return "hybrid";
}

const char* CandidateActionName(CandidateAfterRollback a) {
  switch (a) {
    case CandidateAfterRollback::kKeep:
      return "keep";
    case CandidateAfterRollback::kRollback:
      return "rollback";
    case CandidateAfterRollback::kUninstall:
      return "uninstall";
  }
  return "keep";
}

bool IsBuiltinMetric(const std::string& name) {
  return name == "request-success-rate" || name == "request-duration";
}

const std::vector<std::string>& QueryPlaceholders() {
  static const std::vector<std::string> names = {
      "namespace",        "workload",        "service",       "interval",
      "stable_namespace", "stable_workload", "stable_service"};
  return names;
}

std::string Redact(const RolloutSpec& spec, std::string text) {
  static const std::string kRedacted = "<redacted>";
  for (const std::string& secret : spec.secret_values) {
    if (secret.empty()) continue;
    for (size_t pos = text.find(secret); pos != std::string::npos;
         pos = text.find(secret, pos + kRedacted.size())) {
      text.replace(pos, secret.size(), kRedacted);
    }
  }
  return text;
}

}  // namespace canaryctl::config

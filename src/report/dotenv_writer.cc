#include "report/dotenv_writer.h"

#include <set>

#include "report/atomic_file.h"
#include "report/text.h"

namespace canaryctl::report {
namespace {

constexpr std::string_view kPrefix = "CANARYCTL_";

bool UnsafeAscii(unsigned char c) {
  return c <= 0x20 || c == 0x7f || c == '"' || c == '\'' || c == '`' || c == '#' || c == '\\' ||
         c == '$';
}

// Unicode whitespace and line separators: some parsers split or trim on them.
bool UnicodeSpace(uint32_t cp) {
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200B) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 ||
         cp == 0xFEFF;
}

void PercentEncode(std::string_view bytes, std::string* out) {
  static const char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : bytes) {
    out->push_back('%');
    out->push_back(kHex[c >> 4]);
    out->push_back(kHex[c & 0xF]);
  }
}

}  // namespace

bool ValidDotenvKey(const std::string& key) {
  if (key.size() <= kPrefix.size() || key.size() > kMaxDotenvKeyBytes) return false;
  if (key.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  for (char c : key) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string SanitizeDotenvValue(const std::string& value, bool* changed) {
  std::string out;
  *changed = false;
  size_t i = 0;
  while (i < value.size()) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    if (c < 0x80) {
      if (UnsafeAscii(c)) {
        PercentEncode(value.substr(i, 1), &out);
        *changed = true;
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    uint32_t cp = 0;
    size_t len = DecodeUtf8(value, i, &cp);
    if (len == 0) {  // invalid UTF-8: encode the byte
      PercentEncode(value.substr(i, 1), &out);
      *changed = true;
      ++i;
    } else if (UnicodeSpace(cp)) {
      PercentEncode(value.substr(i, len), &out);
      *changed = true;
      i += len;
    } else {
      out.append(value, i, len);
      i += len;
    }
  }
  return out;
}

DotenvOutput RenderDotenv(const RolloutRecord& record, const ci::Redactor& redactor) {
  WeightChange weights = CurrentWeights(record);
  int failed = 0;
  for (const StepRecord& step : record.steps) {
    for (const CheckRecord& check : step.checks) failed += check.verdict == Verdict::kFail;
  }
  auto revision = [](int r) { return r > 0 ? std::to_string(r) : std::string(); };
  std::vector<std::pair<std::string, std::string>> vars = {
      {"CANARYCTL_ROLLOUT_APP", record.app},
      {"CANARYCTL_ROLLOUT_STRATEGY", record.strategy},
      {"CANARYCTL_PHASE", record.phase},
      {"CANARYCTL_OUTCOME", OutcomeName(record.outcome)},
      {"CANARYCTL_STABLE_WEIGHT", std::to_string(weights.stable)},
      {"CANARYCTL_CANDIDATE_WEIGHT", std::to_string(weights.candidate)},
      {"CANARYCTL_CHECKS_FAILED", std::to_string(failed)},
      {"CANARYCTL_STABLE_VERSION", record.stable.version},
      {"CANARYCTL_CANDIDATE_VERSION", record.candidate.version},
      {"CANARYCTL_STABLE_REVISION", revision(record.stable.revision)},
      {"CANARYCTL_CANDIDATE_REVISION", revision(record.candidate.revision)},
      {"CANARYCTL_STABLE_COMMIT", record.stable.commit},
      {"CANARYCTL_CANDIDATE_COMMIT", record.candidate.commit},
      {"CANARYCTL_ENVIRONMENT_URL", record.environment_url},
      {"CANARYCTL_PIPELINE_ID", record.pipeline.pipeline_id},
      {"CANARYCTL_JOB_URL", record.pipeline.job_url},
  };
  std::set<std::string> builtin;
  for (const auto& [key, value] : vars) builtin.insert(key);

  DotenvOutput out;
  for (const auto& [key, value] : record.extra_env) {
    std::string shown = OneLine(ToValidUtf8(redactor.Redact(key)));
    if (!ValidDotenvKey(key)) {
      out.warnings.push_back("rollout.env: dropped variable '" + shown +
                             "': keys must match CANARYCTL_[A-Z0-9_]+ (at most 255 bytes)");
    } else if (builtin.count(key) != 0) {
      out.warnings.push_back("rollout.env: dropped variable " + key + ": canaryctl sets it itself");
    } else {
      vars.emplace_back(key, value);
    }
  }

  size_t count = 0;
  for (const auto& [key, raw] : vars) {
    if (raw.empty()) continue;
    bool changed = false;
    std::string value = SanitizeDotenvValue(redactor.Redact(raw), &changed);
    std::string line = key + "=" + value + "\n";
    if (count == kMaxDotenvVariables) {
      out.warnings.push_back("rollout.env: dropped variable " + key + ": GitLab accepts at most " +
                             std::to_string(kMaxDotenvVariables) + " variables");
      continue;
    }
    if (out.text.size() + line.size() > kMaxDotenvBytes) {
      out.warnings.push_back("rollout.env: dropped variable " + key + ": the file would exceed " +
                             std::to_string(kMaxDotenvBytes) + " bytes");
      continue;
    }
    if (changed) {
      out.warnings.push_back("rollout.env: percent-encoded characters GitLab cannot carry in " +
                             key);
    }
    out.text += line;
    ++count;
  }
  return out;
}

Status WriteDotenv(const std::string& dir, const RolloutRecord& record,
                   const ci::Redactor& redactor, std::vector<std::string>* warnings) {
  DotenvOutput out = RenderDotenv(record, redactor);
  if (warnings != nullptr)
    warnings->insert(warnings->end(), out.warnings.begin(), out.warnings.end());
  return WriteFileAtomically(dir, kDotenvFile, out.text);
}

}  // namespace canaryctl::report

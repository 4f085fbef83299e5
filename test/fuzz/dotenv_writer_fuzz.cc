// rollout.env (report/dotenv_writer.h) from any strings: every line is KEY=VALUE with a valid
// key and no byte GitLab cannot carry, within the line and byte limits, and each value
// percent-decodes to exactly what was given (after redaction); or the variable is left out.
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "fuzz/fuzz_support.h"
#include "report/dotenv_writer.h"

using namespace canaryctl;

namespace {

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Undoes the writer's percent-encoding ("%XX", upper-case hex).
std::string PercentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool HasWarning(const report::DotenvOutput& out, const std::string& text) {
  for (const std::string& w : out.warnings) {
    if (w.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // app, version, commit, secret, then extra key/value pairs.
  std::vector<std::string> parts = fuzz::SplitInput(data, size, 24);
  report::RolloutRecord record;
  record.app = parts[0];
  record.candidate.version = parts[1];
  record.candidate.commit = parts[2];
  ci::Redactor redactor;
  redactor.Add(parts[3]);
  for (size_t i = 4; i + 1 < parts.size(); i += 2) record.extra_env[parts[i]] = parts[i + 1];

  const report::DotenvOutput out = report::RenderDotenv(record, redactor);
  FUZZ_CHECK(out.text.size() <= report::kMaxDotenvBytes, "rollout.env within GitLab's size");
  FUZZ_CHECK(out.text.empty() || out.text.back() == '\n', "every line ends");

  // What each written key must carry: the extra variables, except those canaryctl sets itself
  // (dropped with a warning; the built-in value is written), and the built-in keys given here.
  std::map<std::string, std::string> given;
  for (const auto& [key, value] : record.extra_env) {
    if (!HasWarning(out, "dropped variable " + key + ": canaryctl sets it itself")) {
      given[key] = value;
    }
  }
  given["CANARYCTL_ROLLOUT_APP"] = record.app;
  given["CANARYCTL_CANDIDATE_VERSION"] = record.candidate.version;
  given["CANARYCTL_CANDIDATE_COMMIT"] = record.candidate.commit;
  std::set<std::string> seen;
  size_t start = 0;
  while (start < out.text.size()) {
    const size_t end = out.text.find('\n', start);
    const std::string line = out.text.substr(start, end - start);
    start = end + 1;
    const size_t eq = line.find('=');
    FUZZ_CHECK(eq != std::string::npos, "a line is KEY=VALUE");
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    FUZZ_CHECK(report::ValidDotenvKey(key), "keys are CANARYCTL_[A-Z0-9_]+");
    FUZZ_CHECK(seen.insert(key).second, "a key appears once");
    FUZZ_CHECK(!value.empty(), "empty values are left out");
    for (unsigned char c : value) {
      FUZZ_CHECK(c > 0x20 && c != 0x7f && c != '"' && c != '\'' && c != '`' && c != '#' &&
                     c != '\\' && c != '$',
                 "no byte GitLab cannot carry");
    }
    auto it = given.find(key);
    if (it == given.end()) continue;  // a value canaryctl computes (weights, outcome, ...)
    const std::string redacted = redactor.Redact(it->second);
    bool changed = false;
    report::SanitizeDotenvValue(redacted, &changed);
    if (!changed) {
      // GitLab reads values literally: a value it can carry must be written as it is.
      FUZZ_CHECK(value == redacted, "a value GitLab can carry is written unchanged");
    } else {
      FUZZ_CHECK(HasWarning(out, key), "an encoded value is reported");
      // Without a literal '%' in the value, the encoding is unambiguous.
      if (redacted.find('%') == std::string::npos) {
        FUZZ_CHECK(PercentDecode(value) == redacted, "the value decodes to the given one");
      }
    }
  }
  // A valid extra variable that is not written is reported.
  for (const auto& [key, value] : record.extra_env) {
    if (!value.empty() && report::ValidDotenvKey(key) && seen.count(key) == 0) {
      FUZZ_CHECK(HasWarning(out, key), "a dropped variable is reported");
    }
  }
  FUZZ_CHECK(seen.size() <= report::kMaxDotenvVariables, "at most GitLab's variable count");
  return 0;
}

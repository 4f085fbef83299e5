#include "ci/redactor.h"

#include <algorithm>

namespace canaryctl::ci {
namespace {
constexpr size_t kMinSecretLength = 4;
}

void Redactor::AddOne(std::string_view secret) {
  if (secret.size() < kMinSecretLength) return;
  if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) return;
  secrets_.emplace_back(secret);
  std::stable_sort(secrets_.begin(), secrets_.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

bool Redactor::Add(std::string_view secret) {
  if (secret.size() < kMinSecretLength) return false;
  AddOne(secret);
  size_t start = 0;
  while (start < secret.size()) {
    size_t end = secret.find('\n', start);
    if (end == std::string_view::npos) end = secret.size();
    std::string_view line = secret.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() != secret.size()) AddOne(line);
    start = end + 1;
  }
  return true;
}

std::string Redactor::Redact(std::string_view text) const {
  if (secrets_.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    // Longest-first order makes the first hit at this position the longest.
    size_t matched = 0;
    for (const std::string& s : secrets_) {
      if (text.compare(i, s.size(), s) == 0) {
        matched = s.size();
        break;
      }
    }
    if (matched == 0) {
      out.push_back(text[i]);
      ++i;
      continue;
    }
    // Extend over secrets that overlap the masked span, so no tail of one leaks.
    size_t end = i + matched;
    for (size_t j = i + 1; j < end; ++j) {
      for (const std::string& s : secrets_) {
        if (text.compare(j, s.size(), s) == 0) {
          end = std::max(end, j + s.size());
          break;
        }
      }
    }
    out.append(kMasked);
    i = end;
  }
  return out;
}

}  // namespace canaryctl::ci

// Replaces secret strings with "[MASKED]" in any text before it reaches a log or a report
// (shared/DESIGN.md §8). Secrets shorter than 4 bytes are ignored: masking "a" or "123"
// would shred ordinary text and protect nothing. A multi-line secret (a PEM key) is also
// registered line by line, so a partial print of it is masked too.
//
// Callers must redact a value *before* transforming it (escaping, sanitizing, truncating):
// a transformed secret no longer matches (shared/notes/gitlab-ci.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace canaryctl::ci {

inline constexpr std::string_view kMasked = "[MASKED]";

class Redactor {
 public:
  // Registers a secret; returns false (and registers nothing) when it is shorter than 4 bytes.
  bool Add(std::string_view secret);

  // Every occurrence of every registered secret replaced by kMasked. Where secrets overlap,
  // the longest match at the leftmost position wins, and the masked span covers it all.
  std::string Redact(std::string_view text) const;

  size_t size() const { return secrets_.size(); }

 private:
  void AddOne(std::string_view secret);
  std::vector<std::string> secrets_;  // sorted longest first
};

}  // namespace canaryctl::ci

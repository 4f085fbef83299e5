// Which HTTP status codes an HTTP check accepts: exact codes ("200"), classes ("2xx") and
// inclusive ranges ("200-204"), any of which may match.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace canaryctl::checks {

class StatusMatcher {
 public:
  // Accepts every 2xx: the default when a check names no status.
  StatusMatcher();

  // Parses each spec; an unparsable one is a config error naming it, e.g.
  // `invalid expected status "2x": use a code (200), a class (2xx) or a range (200-299)`.
  static Result<StatusMatcher> Parse(const std::vector<std::string>& specs);

  bool Matches(int status) const;
  // The accepted statuses as written, for messages: "200, 3xx".
  std::string Describe() const;

 private:
  struct Range {
    int low;
    int high;
  };
  std::vector<Range> ranges_;
  std::vector<std::string> specs_;
};

}  // namespace canaryctl::checks

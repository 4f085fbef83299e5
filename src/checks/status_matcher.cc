#include "checks/status_matcher.h"

#include <cctype>

namespace canaryctl::checks {
namespace {

bool AllDigits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsStatusCode(const std::string& s) {
  return s.size() == 3 && AllDigits(s) && s[0] >= '1' && s[0] <= '5';
}

}  // namespace

StatusMatcher::StatusMatcher() : ranges_{{200, 299}}, specs_{"2xx"} {}

Result<StatusMatcher> StatusMatcher::Parse(const std::vector<std::string>& specs) {
  if (specs.empty()) return StatusMatcher();
  StatusMatcher matcher;
  matcher.ranges_.clear();
  matcher.specs_.clear();
  for (const std::string& spec : specs) {
    Range range{};
    const auto dash = spec.find('-');
    if (IsStatusCode(spec)) {
      range.low = range.high = std::stoi(spec);
    } else if (spec.size() == 3 && spec[0] >= '1' && spec[0] <= '5' &&
               (spec.substr(1) == "xx" || spec.substr(1) == "XX")) {
      range.low = (spec[0] - '0') * 100;
      range.high = range.low + 99;
    } else if (dash != std::string::npos && IsStatusCode(spec.substr(0, dash)) &&
               IsStatusCode(spec.substr(dash + 1)) &&
               std::stoi(spec.substr(0, dash)) <= std::stoi(spec.substr(dash + 1))) {
      range.low = std::stoi(spec.substr(0, dash));
      range.high = std::stoi(spec.substr(dash + 1));
    } else {
      return ConfigError("invalid expected status \"" + spec +
                         "\": use a code (200), a class (2xx) or a range (200-299)");
    }
    matcher.ranges_.push_back(range);
    matcher.specs_.push_back(spec);
  }
  return matcher;
}

bool StatusMatcher::Matches(int status) const {
  for (const Range& r : ranges_) {
    if (status >= r.low && status <= r.high) return true;
  }
  return false;
}

std::string StatusMatcher::Describe() const {
  std::string out;
  for (const std::string& spec : specs_) {
    if (!out.empty()) out += ", ";
    out += spec;
  }
  return out;
}

}  // namespace canaryctl::checks

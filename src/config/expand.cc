#include "config/expand.h"

#include <cctype>
#include <optional>

namespace canaryctl::config {
namespace {

bool IsValidName(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

Expansion ExpandVariables(std::string_view input, const Environment& env) {
  Expansion out;
  size_t i = 0;
  while (i < input.size()) {
    const char c = input[i];
    if (c != '$' || i + 1 >= input.size() || (input[i + 1] != '$' && input[i + 1] != '{')) {
      out.text += c;
      ++i;
      continue;
    }
    if (input[i + 1] == '$') {
      out.text += '$';
      i += 2;
      continue;
    }
    const size_t close = input.find('}', i + 2);
    if (close == std::string_view::npos) {
      out.errors.push_back(
          {i, "unterminated \"${\" (missing \"}\"; write \"$$\" for a literal $)"});
      out.text += input.substr(i);
      break;
    }
    std::string_view body = input.substr(i + 2, close - i - 2);
    std::string_view name = body;
    std::optional<std::string_view> fallback;
    if (size_t sep = body.find(":-"); sep != std::string_view::npos) {
      name = body.substr(0, sep);
      fallback = body.substr(sep + 2);
    }
    if (!IsValidName(name)) {
      out.errors.push_back(
          {i, "invalid variable reference \"${" + std::string(body) +
                  "}\" (expected ${NAME} or ${NAME:-default}, NAME of letters, digits and _)"});
    } else if (auto it = env.find(std::string(name));
               it != env.end() && !(fallback && it->second.empty())) {
      out.text += it->second;
    } else if (fallback) {
      out.text += *fallback;
    } else {
      out.errors.push_back({i, "undefined variable " + std::string(name) +
                                   " (define it, or give a default: ${" + std::string(name) +
                                   ":-value})"});
    }
    i = close + 1;
  }
  return out;
}

}  // namespace canaryctl::config

namespace canaryctl::config {
namespace {
constexpr char kOpen = '\x01';
constexpr char kClose = '\x02';
}  // namespace

bool ShieldVariableBraces(std::string* text) {
  std::string& s = *text;
  if (s.find(kOpen) != std::string::npos || s.find(kClose) != std::string::npos) return false;
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] != '$') continue;
    if (s[i + 1] == '$') {
      ++i;
      continue;
    }
    if (s[i + 1] != '{') continue;
    const size_t close = s.find_first_of("}\n", i + 2);
    if (close == std::string::npos || s[close] != '}') continue;
    // Only a well-formed reference: anything else is left for YAML (and expansion) to report.
    std::string_view body(s.data() + i + 2, close - i - 2);
    const size_t sep = body.find(":-");
    if (!IsValidName(body.substr(0, sep)) ||
        (sep != std::string_view::npos &&
         body.substr(sep + 2).find_first_of("{\"'") != std::string_view::npos)) {
      continue;
    }
    s[i + 1] = kOpen;
    s[close] = kClose;
    i = close;
  }
  return true;
}

std::string UnshieldVariableBraces(std::string text) {
  for (char& c : text) {
    if (c == kOpen) c = '{';
    if (c == kClose) c = '}';
  }
  return text;
}

}  // namespace canaryctl::config

#include "engine/json_fields.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

#include <cstdio>
#include <exception>

namespace canaryctl::engine {

std::string FormatTimestamp(Timestamp t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

std::optional<Timestamp> ParseTimestamp(std::string_view s) {
  using namespace std::chrono;
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':' || s[19] != 'Z') {
    return std::nullopt;
  }
  auto num = [&](size_t pos, size_t len) -> int {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  const int y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2),
            se = num(17, 2);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59) {
    return std::nullopt;
  }
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return sys_days{ymd} + hours{h} + minutes{mi} + seconds{se};
}

namespace json {

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong encodings, surrogates and code points past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

Result<Poco::JSON::Object::Ptr> ParseObject(std::string_view text, const std::string& what,
                                            const std::string& recovery) {
  auto corrupt = [&](const std::string& problem) {
    return ClusterError(what + " is corrupt: " + problem + "; " + recovery);
  };
  if (text.size() > kMaxDocumentBytes) {
    return corrupt("it is " + std::to_string(text.size()) + " bytes, more than the " +
                   std::to_string(kMaxDocumentBytes) + " allowed");
  }
  if (!IsValidUtf8(text)) return corrupt("it is not valid UTF-8");
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || text[first] != '{') {
    return corrupt(first == std::string_view::npos ? "it is empty" : "expected a JSON object");
  }
  try {
    Poco::JSON::Parser parser;
    parser.setDepth(8);
    Poco::Dynamic::Var root = parser.parse(std::string(text));
    if (root.type() != typeid(Poco::JSON::Object::Ptr)) {
      return corrupt("expected a JSON object");
    }
    return root.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    return corrupt("invalid JSON (" + e.displayText() + ")");
  } catch (const std::exception& e) {
    return corrupt(std::string("invalid JSON (") + e.what() + ")");
  }
}

void Reader::Fail(const std::string& path, const std::string& problem) {
  if (error_) return;
  error_ = ClusterError(what_ + " is corrupt: field `" + path + "`: " + problem + "; " + recovery_);
}

std::string Reader::String(const Poco::JSON::Object& obj, const std::string& key,
                           const std::string& path, bool allow_empty) {
  if (error_) return {};
  if (!obj.has(key)) {
    Fail(path, "missing");
    return {};
  }
  const Poco::Dynamic::Var v = obj.get(key);
  if (!v.isString()) {
    Fail(path, "expected a string");
    return {};
  }
  std::string s = v.extract<std::string>();
  if (s.size() > kMaxStringBytes) {
    Fail(path, "longer than " + std::to_string(kMaxStringBytes) + " bytes");
    return {};
  }
  if (!IsValidUtf8(s)) {  // \u escapes can decode to lone surrogates.
    Fail(path, "not valid UTF-8");
    return {};
  }
  if (!allow_empty && s.empty()) {
    Fail(path, "must not be empty");
    return {};
  }
  return s;
}

int64_t Reader::Int(const Poco::JSON::Object& obj, const std::string& key, const std::string& path,
                    int64_t min, int64_t max) {
  if (error_) return 0;
  if (!obj.has(key)) {
    Fail(path, "missing");
    return 0;
  }
  const Poco::Dynamic::Var v = obj.get(key);
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  // Booleans convert to integers in Poco; strings and fractions must not pass either.
  if (!v.isInteger() || v.isBoolean() || v.isString()) {
    Fail(path, "expected an integer in " + range);
    return 0;
  }
  try {
    const auto n = v.convert<int64_t>();
    if (n < min || n > max) {
      Fail(path, std::to_string(n) + " is outside " + range);
      return 0;
    }
    return n;
  } catch (const Poco::Exception&) {
    Fail(path, "expected an integer in " + range);
    return 0;
  }
}

Timestamp Reader::Time(const Poco::JSON::Object& obj, const std::string& key,
                       const std::string& path) {
  const std::string s = String(obj, key, path);
  if (error_) return {};
  auto t = ParseTimestamp(s);
  if (!t) {
    Fail(path, "expected a UTC time like 2026-01-31T12:00:00Z, got \"" + s + "\"");
    return {};
  }
  return *t;
}

Poco::JSON::Object::Ptr Reader::Object(const Poco::JSON::Object& obj, const std::string& key,
                                       const std::string& path) {
  if (error_) return nullptr;
  if (!obj.has(key)) {
    Fail(path, "missing");
    return nullptr;
  }
  const Poco::Dynamic::Var v = obj.get(key);
  if (v.type() != typeid(Poco::JSON::Object::Ptr)) {
    Fail(path, "expected an object");
    return nullptr;
  }
  auto p = v.extract<Poco::JSON::Object::Ptr>();
  if (p.isNull()) Fail(path, "expected an object");
  return p;
}

Poco::JSON::Array::Ptr Reader::Array(const Poco::JSON::Object& obj, const std::string& key,
                                     const std::string& path) {
  if (error_) return nullptr;
  if (!obj.has(key)) {
    Fail(path, "missing");
    return nullptr;
  }
  const Poco::Dynamic::Var v = obj.get(key);
  if (v.type() != typeid(Poco::JSON::Array::Ptr)) {
    Fail(path, "expected an array");
    return nullptr;
  }
  auto p = v.extract<Poco::JSON::Array::Ptr>();
  if (p.isNull()) Fail(path, "expected an array");
  return p;
}

void Reader::OnlyKeys(const Poco::JSON::Object& obj, const std::vector<std::string>& known,
                      const std::string& path) {
  if (error_) return;
  for (const auto& [key, value] : obj) {
    bool found = false;
    for (const auto& k : known) found = found || k == key;
    if (!found) {
      const std::string shown = key.size() > 64 ? key.substr(0, 64) + "..." : key;
      Fail(path.empty() ? shown : path + "." + shown, "unknown field");
      return;
    }
  }
}

}  // namespace json
}  // namespace canaryctl::engine

#include "config/diagnostics.h"

#include <algorithm>
#include <tuple>

namespace canaryctl::config {

std::string ParentPath(const std::string& path) {
  if (path.empty()) return "";
  if (path.back() == ']') {
    size_t open = path.rfind('[');
    return open == std::string::npos ? "" : path.substr(0, open);
  }
  size_t dot = path.rfind('.');
  size_t bracket = path.rfind(']');
  if (dot == std::string::npos) return "";
  if (bracket != std::string::npos && bracket > dot) return path.substr(0, bracket + 1);
  return path.substr(0, dot);
}

std::string ChildPath(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

const Location& Diagnostics::LocationOf(const std::string& path) const {
  std::string p = path;
  while (true) {
    auto it = locations_.find(p);
    if (it != locations_.end()) return it->second;
    p = ParentPath(p);
  }
}

bool Diagnostics::Usable(const std::string& path) const {
  if (!Has(path)) return false;
  for (std::string p = path;; p = ParentPath(p)) {
    if (broken_.count(p)) return false;
    if (p.empty()) return true;
  }
}

void Diagnostics::Error(const std::string& path, const std::string& message) {
  ErrorAt(LocationOf(path), path, message);
}

namespace {

// A key path with its control bytes escaped as Go does (\n, \xNN): a key is user text, and a
// newline in it must not let the message forge a line of its own.
std::string Printable(const std::string& path) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (char ch : path) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7f) {
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

}  // namespace

void Diagnostics::ErrorAt(const Location& where, const std::string& path,
                          const std::string& message) {
  std::string text = where.text + ": ";
  if (!path.empty()) text += Printable(path) + ": ";
  text += message;
  // The same problem can be reached twice (e.g. an alias used in two places): say it once.
  for (const Entry& e : errors_) {
    if (e.text == text) return;
  }
  errors_.push_back({where.line, where.column, static_cast<int>(errors_.size()), text});
}

std::string Diagnostics::Joined() const {
  std::vector<Entry> sorted = errors_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.line, a.column, a.sequence) < std::tie(b.line, b.column, b.sequence);
  });
  std::string out;
  for (const Entry& e : sorted) {
    if (!out.empty()) out += '\n';
    out += e.text;
  }
  return out;
}

}  // namespace canaryctl::config

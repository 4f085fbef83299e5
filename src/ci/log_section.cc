#include "ci/log_section.h"

#include <algorithm>
#include <chrono>

namespace canaryctl::ci {
namespace {

constexpr std::string_view kEraseLine = "\x1b[0K";

bool NameChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

std::string CleanHeader(std::string_view header) {
  std::string out(header);
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return out;
}

int64_t SystemSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string SanitizeSectionName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) out.push_back(NameChar(static_cast<unsigned char>(c)) ? c : '_');
  return out.empty() ? std::string("section") : out;
}

SectionLog::SectionLog(std::ostream& out, bool gitlab, Clock clock, const Redactor* redactor)
    : out_(out),
      gitlab_(gitlab),
      clock_(clock ? std::move(clock) : Clock(SystemSeconds)),
      redactor_(redactor) {}

std::string SectionLog::Start(std::string_view name, std::string_view header, bool collapsed) {
  std::string base = SanitizeSectionName(name);
  std::string unique = base;
  for (int n = 2; std::find(used_.begin(), used_.end(), unique) != used_.end(); ++n) {
    unique = base + "-" + std::to_string(n);
  }
  used_.push_back(unique);
  // Redact before cleaning: a cleaned secret would no longer match.
  std::string text =
      CleanHeader(redactor_ != nullptr ? redactor_->Redact(header) : std::string(header));
  if (gitlab_) {
    out_ << kEraseLine << "section_start:" << clock_() << ':' << unique
         << (collapsed ? "[collapsed=true]" : "") << '\r' << kEraseLine << text << '\n';
  } else {
    out_ << std::string(open_.size() * 2, ' ') << text << '\n';
  }
  out_.flush();
  open_.push_back(unique);
  return unique;
}

void SectionLog::End(const std::string& name) {
  auto it = std::find(open_.begin(), open_.end(), name);
  if (it == open_.end()) return;
  // Close inner sections first: GitLab nests by order.
  while (!open_.empty()) {
    std::string top = open_.back();
    open_.pop_back();
    if (gitlab_) {
      out_ << kEraseLine << "section_end:" << clock_() << ':' << top << '\r' << kEraseLine << '\n';
    }
    if (top == name) break;
  }
  out_.flush();
}

LogSection::LogSection(SectionLog& log, std::string_view name, std::string_view header,
                       bool collapsed)
    : log_(log), name_(log.Start(name, header, collapsed)) {}

LogSection::~LogSection() { End(); }

void LogSection::End() {
  if (ended_) return;
  ended_ = true;
  log_.End(name_);
}

}  // namespace canaryctl::ci

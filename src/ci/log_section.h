// GitLab collapsible log sections (shared/notes/gitlab-ci.md):
//   start: \e[0Ksection_start:<unix seconds>:<name>[collapsed=true]\r\e[0K<header>\n
//   end:   \e[0Ksection_end:<unix seconds>:<name>\r\e[0K\n
// Outside GitLab the same calls print plain text: the header on its own line, indented by
// nesting depth, and nothing at the end. Nothing is written to the process's streams
// directly: output goes to the injected std::ostream, time comes from the injected clock.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "ci/redactor.h"

namespace canaryctl::ci {

// Letters, digits, '_', '.', '-' kept; any other byte becomes '_'; empty becomes "section".
std::string SanitizeSectionName(std::string_view name);

// Where sections are written, and how. Tracks the open sections, so nested ones close in
// order and get distinct names (GitLab matches an end to its start by name).
class SectionLog {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds

  // `gitlab`: emit escape sequences (use InGitLab(env)). `clock` defaults to the system clock.
  // Headers pass through `redactor` when given (it must outlive this object).
  SectionLog(std::ostream& out, bool gitlab, Clock clock = {}, const Redactor* redactor = nullptr);

  std::ostream& out() { return out_; }
  bool gitlab() const { return gitlab_; }
  size_t depth() const { return open_.size(); }

 private:
  friend class LogSection;
  std::string Start(std::string_view name, std::string_view header, bool collapsed);
  void End(const std::string& name);

  std::ostream& out_;
  bool gitlab_;
  Clock clock_;
  const Redactor* redactor_;
  std::vector<std::string> open_;
  std::vector<std::string> used_;  // every name started, to keep names unique
};

// One section; ends when End() is called or when it goes out of scope (early return,
// exception), whichever comes first. Not copyable or movable: its lifetime is its extent.
class LogSection {
 public:
  // `name` is sanitized; `header` has control characters replaced by spaces so it cannot
  // forge another section marker.
  LogSection(SectionLog& log, std::string_view name, std::string_view header,
             bool collapsed = false);
  ~LogSection();
  LogSection(const LogSection&) = delete;
  LogSection& operator=(const LogSection&) = delete;

  // Idempotent. Sections nested inside this one and still open are ended first.
  void End();
  const std::string& name() const { return name_; }

 private:
  SectionLog& log_;
  std::string name_;
  bool ended_ = false;
};

}  // namespace canaryctl::ci

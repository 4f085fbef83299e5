// The candidate's commit and the changelog since the stable release's commit, read with
// libgit2 from a checkout (CI_PROJECT_DIR). Nothing here throws: a missing repository, an
// unknown revision or a `from` that is not an ancestor of `to` is an Error naming it.
// Shallow clones (GitLab's default GIT_DEPTH=20) work: when the history needed is cut off,
// the changelog lists what is there and says "changelog truncated by a shallow clone".
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/result.h"

namespace canaryctl::git {

struct CommitInfo {
  std::string sha;        // 40 hex digits
  std::string short_sha;  // the shortest unique abbreviation, at least 7 digits
  std::string subject;    // the first paragraph of the message, on one line (git's %s)
  std::string author_name;
  std::string author_email;
  std::string date;               // author date, RFC 3339 in the author's offset
  std::vector<std::string> tags;  // tags (annotated or not) pointing at it, sorted
};

struct ChangelogEntry {
  std::string short_sha;
  std::string subject;
  std::string author;  // author name
};

struct Changelog {
  std::vector<ChangelogEntry> commits;  // newest first, at most the limit asked for
  std::size_t more = 0;                 // commits beyond the limit, not listed
  bool truncated_by_shallow_clone = false;

  // One line per commit ("abc1234 Fix the probe (Ana)"), then "+N more" when capped, then
  // "changelog truncated by a shallow clone" when history was cut.
  std::vector<std::string> Lines() const;
};

inline constexpr std::size_t kChangelogLimit = 200;

// `rev` is anything git rev-parse takes that leads to a commit: a SHA, branch, tag, "HEAD".
Result<CommitInfo> ReadCommit(const std::string& repo_dir, const std::string& rev);

// Commits reachable from `to_rev` and not from `from_rev`: what the candidate adds over
// stable. Equal revisions give an empty changelog.
Result<Changelog> ReadChangelog(const std::string& repo_dir, const std::string& from_rev,
                                const std::string& to_rev, std::size_t limit = kChangelogLimit);

}  // namespace canaryctl::git

#include "git/repository.h"

#include <git2.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <memory>
#include <set>
#include <string_view>

namespace canaryctl::git {
namespace {

// libgit2 wants one init before use; the shutdown runs at exit.
void EnsureLibGit2() {
  struct LibGit2 {
    LibGit2() { git_libgit2_init(); }
    ~LibGit2() { git_libgit2_shutdown(); }
  };
  static const LibGit2 instance;
}

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using RepoPtr = std::unique_ptr<git_repository, Deleter<git_repository, git_repository_free>>;
using ObjectPtr = std::unique_ptr<git_object, Deleter<git_object, git_object_free>>;
using CommitPtr = std::unique_ptr<git_commit, Deleter<git_commit, git_commit_free>>;
using WalkPtr = std::unique_ptr<git_revwalk, Deleter<git_revwalk, git_revwalk_free>>;

std::string LastError() {
  const git_error* e = git_error_last();
  return e != nullptr && e->message != nullptr ? e->message : "unknown libgit2 error";
}

struct OidLess {
  bool operator()(const git_oid& a, const git_oid& b) const { return git_oid_cmp(&a, &b) < 0; }
};
using OidSet = std::set<git_oid, OidLess>;

std::string Hex(const git_oid& oid) {
  char text[GIT_OID_HEXSZ + 1];
  git_oid_tostr(text, sizeof text, &oid);
  return text;
}

Result<RepoPtr> Open(const std::string& repo_dir) {
  EnsureLibGit2();
  git_repository* repo = nullptr;
  if (git_repository_open_ext(&repo, repo_dir.c_str(), 0, nullptr) != 0) {
    return ConfigError("git: no repository at \"" + repo_dir + "\": " + LastError());
  }
  return RepoPtr(repo);
}

// The commit `rev` leads to. Missing objects are kNotFound: a shallow clone may cut them off.
struct Resolved {
  bool found = false;
  git_oid oid{};
};
Result<Resolved> Resolve(git_repository* repo, const std::string& repo_dir,
                         const std::string& rev) {
  git_object* raw = nullptr;
  const int rc = git_revparse_single(&raw, repo, rev.c_str());
  if (rc == GIT_ENOTFOUND) return Resolved{};
  if (rc != 0) {
    return ConfigError("git: invalid revision \"" + rev + "\" in \"" + repo_dir +
                       "\": " + LastError());
  }
  ObjectPtr object(raw);
  git_object* peeled = nullptr;
  if (git_object_peel(&peeled, object.get(), GIT_OBJECT_COMMIT) != 0) {
    return ConfigError("git: revision \"" + rev + "\" in \"" + repo_dir + "\" is not a commit");
  }
  Resolved out{true, *git_object_id(peeled)};
  git_object_free(peeled);
  return out;
}

Result<git_oid> ResolveExisting(git_repository* repo, const std::string& repo_dir,
                                const std::string& rev) {
  auto resolved = Resolve(repo, repo_dir, rev);
  if (!resolved.ok()) return resolved.error();
  if (!resolved.value().found) {
    return ConfigError("git: unknown revision \"" + rev + "\" in \"" + repo_dir + "\"");
  }
  return resolved.value().oid;
}

std::string ShortSha(git_commit* commit) {
  git_buf buf = GIT_BUF_INIT;
  std::string out;
  if (git_object_short_id(&buf, reinterpret_cast<git_object*>(commit)) == 0) {
    out.assign(buf.ptr, buf.size);
  } else {
    out = Hex(*git_commit_id(commit)).substr(0, 7);
  }
  git_buf_dispose(&buf);
  return out;
}

std::string Rfc3339(const git_time& when) {
  const std::time_t local = static_cast<std::time_t>(when.time) + when.offset * 60;
  std::tm tm{};
  gmtime_r(&local, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  const int offset = std::abs(when.offset);
  char zone[16];
  std::snprintf(zone, sizeof zone, "%c%02d:%02d", when.offset < 0 ? '-' : '+', offset / 60,
                offset % 60);
  return std::string(text) + zone;
}

std::vector<std::string> TagsAt(git_repository* repo, const git_oid& target) {
  struct Search {
    git_repository* repo;
    git_oid target;
    std::vector<std::string> tags;
  } search{repo, target, {}};
  git_tag_foreach(
      repo,
      [](const char* name, git_oid* oid, void* payload) -> int {
        auto* s = static_cast<Search*>(payload);
        git_object* object = nullptr;
        if (git_object_lookup(&object, s->repo, oid, GIT_OBJECT_ANY) != 0) return 0;
        git_object* peeled = nullptr;
        if (git_object_peel(&peeled, object, GIT_OBJECT_COMMIT) == 0) {
          if (git_oid_equal(git_object_id(peeled), &s->target)) {
            std::string_view ref = name;
            constexpr std::string_view kPrefix = "refs/tags/";
            if (ref.substr(0, kPrefix.size()) == kPrefix) ref.remove_prefix(kPrefix.size());
            s->tags.emplace_back(ref);
          }
          git_object_free(peeled);
        }
        git_object_free(object);
        return 0;
      },
      &search);
  std::sort(search.tags.begin(), search.tags.end());
  return search.tags;
}

const char* Subject(git_commit* commit) {
  const char* summary = git_commit_summary(commit);
  return summary != nullptr ? summary : "";
}

ChangelogEntry Entry(git_commit* commit) {
  return {ShortSha(commit), Subject(commit), git_commit_author(commit)->name};
}

bool LooksLikeSha(const std::string& rev) {
  return rev.size() >= 7 && rev.size() <= GIT_OID_HEXSZ &&
         std::all_of(rev.begin(), rev.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

// The commits reachable from `start`, not entering `stop`. Sets `cut` when a parent is missing
// (the edge of a shallow clone). Returns them newest first.
std::vector<CommitPtr> Walk(git_repository* repo, const git_oid& start, const OidSet& stop,
                            bool& cut) {
  std::vector<CommitPtr> found;
  OidSet seen{start};
  std::vector<git_oid> pending{start};
  while (!pending.empty()) {
    const git_oid oid = pending.back();
    pending.pop_back();
    if (stop.count(oid) != 0) continue;
    git_commit* raw = nullptr;
    if (git_commit_lookup(&raw, repo, &oid) != 0) {
      cut = true;
      continue;
    }
    CommitPtr commit(raw);
    for (unsigned i = 0; i < git_commit_parentcount(commit.get()); ++i) {
      const git_oid parent = *git_commit_parent_id(commit.get(), i);
      if (seen.insert(parent).second) pending.push_back(parent);
    }
    found.push_back(std::move(commit));
  }
  std::stable_sort(found.begin(), found.end(), [](const CommitPtr& a, const CommitPtr& b) {
    return git_commit_time(a.get()) > git_commit_time(b.get());
  });
  return found;
}

// Shallow clones: libgit2 1.5 cannot walk past a missing parent, so walk by hand.
Result<Changelog> ShallowChangelog(git_repository* repo, const std::string& repo_dir,
                                   const std::string& from_rev, const git_oid& to,
                                   std::size_t limit) {
  auto from = Resolve(repo, repo_dir, from_rev);
  if (!from.ok()) return from.error();
  if (!from.value().found && !LooksLikeSha(from_rev)) {
    return ConfigError("git: unknown revision \"" + from_rev + "\" in \"" + repo_dir + "\"");
  }
  OidSet hidden;
  if (from.value().found) {
    bool ignored = false;
    for (const CommitPtr& c : Walk(repo, from.value().oid, {}, ignored)) {
      hidden.insert(*git_commit_id(c.get()));
    }
  }
  bool cut = false;
  std::vector<CommitPtr> commits = Walk(repo, to, hidden, cut);
  // Did the walk from `to` run into `from`'s history? If not, either `from` is not an
  // ancestor, or the link between them lies beyond the cut.
  // Reaching `from`'s ancestors is not enough: a sibling branch shares them.
  const bool from_found = from.value().found;
  const git_oid& from_oid = from.value().oid;
  bool met_from = from_found && git_oid_equal(&to, &from_oid);
  for (const CommitPtr& c : commits) {
    for (unsigned i = 0; i < git_commit_parentcount(c.get()) && !met_from; ++i) {
      met_from = from_found && git_oid_equal(git_commit_parent_id(c.get(), i), &from_oid);
    }
  }
  if (!met_from && !cut) {
    if (!from.value().found) {
      return ConfigError("git: unknown revision \"" + from_rev + "\" in \"" + repo_dir + "\"");
    }
    return ConfigError("git: \"" + from_rev + "\" is not an ancestor of the candidate's commit " +
                       Hex(to) + " in \"" + repo_dir + "\"");
  }
  Changelog log;
  log.truncated_by_shallow_clone = cut;
  for (const CommitPtr& c : commits) {
    if (log.commits.size() < limit) {
      log.commits.push_back(Entry(c.get()));
    } else {
      ++log.more;
    }
  }
  return log;
}

}  // namespace

std::vector<std::string> Changelog::Lines() const {
  std::vector<std::string> lines;
  for (const ChangelogEntry& c : commits) {
    lines.push_back(c.short_sha + " " + c.subject + " (" + c.author + ")");
  }
  if (more > 0) lines.push_back("+" + std::to_string(more) + " more");
  if (truncated_by_shallow_clone) lines.push_back("changelog truncated by a shallow clone");
  return lines;
}

Result<CommitInfo> ReadCommit(const std::string& repo_dir, const std::string& rev) {
  auto repo = Open(repo_dir);
  if (!repo.ok()) return repo.error();
  auto oid = ResolveExisting(repo.value().get(), repo_dir, rev);
  if (!oid.ok()) return oid.error();
  git_commit* raw = nullptr;
  if (git_commit_lookup(&raw, repo.value().get(), &oid.value()) != 0) {
    return ConfigError("git: cannot read commit " + Hex(oid.value()) + " in \"" + repo_dir +
                       "\": " + LastError());
  }
  CommitPtr commit(raw);
  const git_signature* author = git_commit_author(commit.get());
  CommitInfo info;
  info.sha = Hex(oid.value());
  info.short_sha = ShortSha(commit.get());
  info.subject = Subject(commit.get());
  info.author_name = author->name;
  info.author_email = author->email;
  info.date = Rfc3339(author->when);
  info.tags = TagsAt(repo.value().get(), oid.value());
  return info;
}

Result<Changelog> ReadChangelog(const std::string& repo_dir, const std::string& from_rev,
                                const std::string& to_rev, std::size_t limit) {
  auto repo_result = Open(repo_dir);
  if (!repo_result.ok()) return repo_result.error();
  git_repository* repo = repo_result.value().get();
  auto to = ResolveExisting(repo, repo_dir, to_rev);
  if (!to.ok()) return to.error();
  if (git_repository_is_shallow(repo) == 1) {
    return ShallowChangelog(repo, repo_dir, from_rev, to.value(), limit);
  }
  auto from = ResolveExisting(repo, repo_dir, from_rev);
  if (!from.ok()) return from.error();
  if (git_oid_equal(&from.value(), &to.value())) return Changelog{};
  const int descendant = git_graph_descendant_of(repo, &to.value(), &from.value());
  if (descendant < 0) {
    return ConfigError("git: cannot compare \"" + from_rev + "\" and \"" + to_rev + "\" in \"" +
                       repo_dir + "\": " + LastError());
  }
  if (descendant == 0) {
    return ConfigError("git: \"" + from_rev + "\" is not an ancestor of \"" + to_rev + "\" in \"" +
                       repo_dir + "\"");
  }
  git_revwalk* raw_walk = nullptr;
  if (git_revwalk_new(&raw_walk, repo) != 0) {
    return ConfigError("git: cannot walk \"" + repo_dir + "\": " + LastError());
  }
  WalkPtr walk(raw_walk);
  git_revwalk_sorting(walk.get(), GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
  if (git_revwalk_push(walk.get(), &to.value()) != 0 ||
      git_revwalk_hide(walk.get(), &from.value()) != 0) {
    return ConfigError("git: cannot walk \"" + repo_dir + "\": " + LastError());
  }
  Changelog log;
  git_oid oid;
  int rc = 0;
  while ((rc = git_revwalk_next(&oid, walk.get())) == 0) {
    if (log.commits.size() >= limit) {
      ++log.more;
      continue;
    }
    git_commit* raw = nullptr;
    if (git_commit_lookup(&raw, repo, &oid) != 0) {
      return ConfigError("git: cannot read commit " + Hex(oid) + " in \"" + repo_dir +
                         "\": " + LastError());
    }
    CommitPtr commit(raw);
    log.commits.push_back(Entry(commit.get()));
  }
  if (rc != GIT_ITEROVER) {
    return ConfigError("git: walking \"" + repo_dir + "\" failed: " + LastError());
  }
  return log;
}

}  // namespace canaryctl::git

#include "git/repository.h"

#include <git2.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace canaryctl::git {
namespace {

constexpr git_time_t kT0 = 1700000000;  // 2023-11-14T22:13:20Z

std::string Hex(const git_oid& oid) {
  char text[GIT_OID_HEXSZ + 1];
  git_oid_tostr(text, sizeof text, &oid);
  return text;
}

// A repository written with libgit2: every commit carries one file and a fixed author date.
class TestRepo {
 public:
  TestRepo() {
    git_libgit2_init();
    char pattern[] = "/tmp/canaryctl-git-XXXXXX";
    dir_ = mkdtemp(pattern);
    Check(git_repository_init(&repo_, dir_.c_str(), 0));
  }
  ~TestRepo() {
    git_repository_free(repo_);
    git_libgit2_shutdown();
    std::filesystem::remove_all(dir_);
  }

  const std::string& dir() const { return dir_; }

  git_oid Commit(const std::string& message, const std::string& author, git_time_t time,
                 int offset_minutes, const std::vector<git_oid>& parents) {
    git_oid blob;
    const std::string content = message + "\n";
    Check(git_blob_create_from_buffer(&blob, repo_, content.data(), content.size()));
    git_treebuilder* builder = nullptr;
    Check(git_treebuilder_new(&builder, repo_, nullptr));
    Check(git_treebuilder_insert(nullptr, builder, "file.txt", &blob, GIT_FILEMODE_BLOB));
    git_oid tree_id;
    Check(git_treebuilder_write(&tree_id, builder));
    git_treebuilder_free(builder);
    git_tree* tree = nullptr;
    Check(git_tree_lookup(&tree, repo_, &tree_id));
    git_signature* sig = nullptr;
    Check(git_signature_new(&sig, author.c_str(), (author + "@example.com").c_str(), time,
                            offset_minutes));
    std::vector<git_commit*> parent_commits;
    for (const git_oid& p : parents) {
      git_commit* c = nullptr;
      Check(git_commit_lookup(&c, repo_, &p));
      parent_commits.push_back(c);
    }
    std::vector<const git_commit*> parent_ptrs(parent_commits.begin(), parent_commits.end());
    git_oid id;
    Check(git_commit_create(&id, repo_, nullptr, sig, sig, nullptr, message.c_str(), tree,
                            parent_ptrs.size(), parent_ptrs.data()));
    for (git_commit* c : parent_commits) git_commit_free(c);
    git_signature_free(sig);
    git_tree_free(tree);
    return id;
  }

  void Branch(const std::string& name, const git_oid& target) {
    git_reference* ref = nullptr;
    Check(git_reference_create(&ref, repo_, ("refs/heads/" + name).c_str(), &target, 1, ""));
    git_reference_free(ref);
    Check(git_repository_set_head(repo_, ("refs/heads/" + name).c_str()));
  }

  void Tag(const std::string& name, const git_oid& target, bool annotated) {
    git_object* object = nullptr;
    Check(git_object_lookup(&object, repo_, &target, GIT_OBJECT_COMMIT));
    git_oid id;
    if (annotated) {
      git_signature* sig = nullptr;
      Check(git_signature_new(&sig, "Rel", "rel@example.com", kT0, 0));
      Check(git_tag_create(&id, repo_, name.c_str(), object, sig, "release", 0));
      git_signature_free(sig);
    } else {
      Check(git_tag_create_lightweight(&id, repo_, name.c_str(), object, 0));
    }
    git_object_free(object);
  }

  // Makes the repository look like `git clone --depth`: `boundary`'s parents are gone.
  void MakeShallow(const git_oid& boundary, const std::vector<git_oid>& removed) {
    std::ofstream(dir_ + "/.git/shallow") << Hex(boundary) << "\n";
    for (const git_oid& oid : removed) {
      const std::string hex = Hex(oid);
      ASSERT_TRUE(std::filesystem::remove(dir_ + "/.git/objects/" + hex.substr(0, 2) + "/" +
                                          hex.substr(2)));
    }
  }

 private:
  static void Check(int rc) {
    if (rc != 0) {
      const git_error* e = git_error_last();
      FAIL() << "libgit2: " << (e != nullptr ? e->message : "?");
    }
  }

  std::string dir_;
  git_repository* repo_ = nullptr;
};

// c1 <- c2 <- c3 <------ m <- c4      (m merges the feature branch f1 off c2)
//          \- f1 -----/
class GitRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    c1 = repo.Commit("Initial commit", "Ana", kT0, 0, {});
    c2 =
        repo.Commit("Add health probe\n\nThe probe answers on /health.", "Bo", kT0 + 100, 60, {c1});
    c3 = repo.Commit("Fix the probe\nwhen idle\n\nDetails.", "Cy", kT0 + 200, -300, {c2});
    f1 = repo.Commit("Feature work", "Di", kT0 + 250, 0, {c2});
    m = repo.Commit("Merge branch 'feature'", "Ana", kT0 + 300, 0, {c3, f1});
    c4 = repo.Commit("Release prep", "Bo", kT0 + 400, 120, {m});
    repo.Branch("main", c4);
    repo.Tag("v1.0", c2, /*annotated=*/true);
    repo.Tag("stable-2", c2, /*annotated=*/false);
    repo.Tag("rel", c4, /*annotated=*/false);
  }

  std::vector<std::string> Subjects(const Changelog& log) {
    std::vector<std::string> out;
    for (const ChangelogEntry& e : log.commits) out.push_back(e.subject);
    return out;
  }

  TestRepo repo;
  git_oid c1, c2, c3, f1, m, c4;
};

TEST_F(GitRepositoryTest, ReadsCommitWithDateInAuthorsOffsetAndItsTags) {
  auto info = ReadCommit(repo.dir(), "main");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info.value().sha, Hex(c4));
  EXPECT_EQ(info.value().subject, "Release prep");
  EXPECT_EQ(info.value().author_name, "Bo");
  EXPECT_EQ(info.value().author_email, "Bo@example.com");
  EXPECT_EQ(info.value().date, "2023-11-15T00:20:00+02:00");  // 22:20:00Z at +02:00
  EXPECT_EQ(info.value().tags, std::vector<std::string>{"rel"});
  EXPECT_GE(info.value().short_sha.size(), 7u);
  EXPECT_EQ(Hex(c4).rfind(info.value().short_sha, 0), 0u);
}

TEST_F(GitRepositoryTest, ReadsAnnotatedAndLightweightTagsSortedAndFoldsTheSubject) {
  auto tagged = ReadCommit(repo.dir(), "v1.0");  // an annotated tag peels to its commit
  ASSERT_TRUE(tagged.ok()) << tagged.error().message;
  EXPECT_EQ(tagged.value().sha, Hex(c2));
  EXPECT_EQ(tagged.value().subject, "Add health probe");
  EXPECT_EQ(tagged.value().date, "2023-11-14T23:15:00+01:00");
  EXPECT_EQ(tagged.value().tags, (std::vector<std::string>{"stable-2", "v1.0"}));

  auto fix = ReadCommit(repo.dir(), Hex(c3));
  ASSERT_TRUE(fix.ok()) << fix.error().message;
  EXPECT_EQ(fix.value().subject, "Fix the probe when idle");
  EXPECT_EQ(fix.value().date, "2023-11-14T17:16:40-05:00");
  EXPECT_TRUE(fix.value().tags.empty());
}

TEST_F(GitRepositoryTest, ChangelogListsWhatToAddsOverFromIncludingTheMergedBranch) {
  auto log = ReadChangelog(repo.dir(), "v1.0", "main");
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(Subjects(log.value()),
            (std::vector<std::string>{"Release prep", "Merge branch 'feature'", "Feature work",
                                      "Fix the probe when idle"}));
  EXPECT_EQ(log.value().commits[2].author, "Di");
  EXPECT_EQ(log.value().more, 0u);
  EXPECT_FALSE(log.value().truncated_by_shallow_clone);

  auto since_fix = ReadChangelog(repo.dir(), Hex(c3), Hex(c4));
  ASSERT_TRUE(since_fix.ok()) << since_fix.error().message;
  EXPECT_EQ(Subjects(since_fix.value()),
            (std::vector<std::string>{"Release prep", "Merge branch 'feature'", "Feature work"}));
}

TEST_F(GitRepositoryTest, ChangelogCapsWithAMoreMarker) {
  auto log = ReadChangelog(repo.dir(), Hex(c1), Hex(c4), /*limit=*/2);
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(log.value().commits.size(), 2u);
  EXPECT_EQ(log.value().more, 3u);
  const auto lines = log.value().Lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], log.value().commits[0].short_sha + " Release prep (Bo)");
  EXPECT_EQ(lines[2], "+3 more");
}

TEST_F(GitRepositoryTest, ChangelogOfASingleRevisionIsEmpty) {
  auto log = ReadChangelog(repo.dir(), "rel", "main");
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_TRUE(log.value().commits.empty());
  EXPECT_TRUE(log.value().Lines().empty());
}

TEST_F(GitRepositoryTest, ChangelogRefusesAFromThatIsNotAnAncestor) {
  auto sideways = ReadChangelog(repo.dir(), Hex(f1), Hex(c3));
  ASSERT_FALSE(sideways.ok());
  EXPECT_NE(sideways.error().message.find("is not an ancestor"), std::string::npos)
      << sideways.error().message;
  auto backwards = ReadChangelog(repo.dir(), "main", "v1.0");
  ASSERT_FALSE(backwards.ok());
  EXPECT_NE(backwards.error().message.find("\"main\" is not an ancestor of \"v1.0\""),
            std::string::npos)
      << backwards.error().message;
}

TEST_F(GitRepositoryTest, UnknownRevisionsAndMissingRepositoriesAreErrors) {
  auto commit = ReadCommit(repo.dir(), "no-such-branch");
  ASSERT_FALSE(commit.ok());
  EXPECT_NE(commit.error().message.find("unknown revision \"no-such-branch\""), std::string::npos)
      << commit.error().message;
  auto log = ReadChangelog(repo.dir(), "v9.9", "main");
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find("unknown revision \"v9.9\""), std::string::npos);
  auto missing = ReadCommit("/nonexistent/canaryctl-repo", "HEAD");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("no repository at \"/nonexistent/canaryctl-repo\""),
            std::string::npos)
      << missing.error().message;
}

TEST_F(GitRepositoryTest, ShallowCloneWithBothCommitsGivesTheFullChangelog) {
  repo.MakeShallow(c2, {c1});
  auto log = ReadChangelog(repo.dir(), "v1.0", "main");
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(Subjects(log.value()),
            (std::vector<std::string>{"Release prep", "Merge branch 'feature'", "Feature work",
                                      "Fix the probe when idle"}));
  EXPECT_FALSE(log.value().truncated_by_shallow_clone);
  auto sideways = ReadChangelog(repo.dir(), Hex(f1), Hex(c3));
  ASSERT_FALSE(sideways.ok());
  EXPECT_NE(sideways.error().message.find("is not an ancestor"), std::string::npos);
}

TEST_F(GitRepositoryTest, ShallowCloneMissingTheStableCommitSaysTheChangelogIsTruncated) {
  repo.MakeShallow(c2, {c1});
  auto log = ReadChangelog(repo.dir(), Hex(c1), "main");
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(Subjects(log.value()),
            (std::vector<std::string>{"Release prep", "Merge branch 'feature'", "Feature work",
                                      "Fix the probe when idle", "Add health probe"}));
  EXPECT_TRUE(log.value().truncated_by_shallow_clone);
  EXPECT_EQ(log.value().Lines().back(), "changelog truncated by a shallow clone");
  auto commit = ReadCommit(repo.dir(), "v1.0");  // the boundary commit is still readable
  ASSERT_TRUE(commit.ok()) << commit.error().message;
  EXPECT_EQ(commit.value().sha, Hex(c2));
}

TEST(GitChangelogLimitTest, DefaultLimitIs200) {
  TestRepo repo;
  std::vector<git_oid> chain{repo.Commit("c0", "Ana", kT0, 0, {})};
  for (int i = 1; i <= 205; ++i) {
    chain.push_back(repo.Commit("c" + std::to_string(i), "Ana", kT0 + i, 0, {chain.back()}));
  }
  auto log = ReadChangelog(repo.dir(), Hex(chain.front()), Hex(chain.back()));
  ASSERT_TRUE(log.ok()) << log.error().message;
  ASSERT_EQ(log.value().commits.size(), 200u);
  EXPECT_EQ(log.value().commits.front().subject, "c205");
  EXPECT_EQ(log.value().commits.back().subject, "c6");
  EXPECT_EQ(log.value().more, 5u);
  EXPECT_EQ(log.value().Lines().back(), "+5 more");
}

}  // namespace
}  // namespace canaryctl::git

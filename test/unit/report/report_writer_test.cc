#include "report/report_writer.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "record_fixture.h"

namespace canaryctl::report {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "report_test.XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, ec);
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* const kFiles[] = {"junit.xml",    "rollout.env", "metrics.txt", "annotations.json",
                              "rollout.json", "summary.md",  "report.html"};

TEST(ReportWriterTest, WritesEveryFileIntoANewDirectoryWithSecretsMasked) {
  TempDir tmp;
  std::string dir = tmp.path() + "/nested/canaryctl-reports";
  const std::string secret = "glpat-SECRET99";
  RolloutRecord r = testing::SampleRecord();
  // The secret appears in every kind of field a writer reads.
  r.message = "auth " + secret;
  r.steps[1].checks[0].name = "health " + secret;
  r.steps[1].checks[0].message = "token " + secret;
  r.steps[1].checks[0].output = "Authorization: Bearer " + secret + "\n";
  r.changelog.push_back("abc Leak " + secret);
  r.dashboards.push_back({"d " + secret, "https://grafana.example.com/?k=" + secret});
  r.environment_url = "https://demo.example.com/?k=" + secret;
  r.candidate.version = secret;
  r.weights.back().reason = secret;
  r.extra_env["CANARYCTL_TOKEN"] = secret;
  ci::Redactor redactor;
  redactor.Add(secret);
  std::vector<std::string> warnings;
  Status s = WriteReports(dir, r, redactor, &warnings);
  ASSERT_TRUE(s.ok()) << s.error().message;
  for (const char* name : kFiles) {
    std::string content = Read(fs::path(dir) / name);
    EXPECT_FALSE(content.empty()) << name;
    EXPECT_EQ(content.find("SECRET99"), std::string::npos) << name << ":\n" << content;
  }
  for (const std::string& w : warnings) EXPECT_EQ(w.find("SECRET99"), std::string::npos) << w;
  // Atomic writes leave no temp files behind.
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    ++entries;
    EXPECT_NE(e.path().filename().string()[0], '.') << e.path();
  }
  EXPECT_EQ(entries, std::size(kFiles));
}

TEST(ReportWriterTest, OverwritesPreviousReports) {
  TempDir tmp;
  RolloutRecord r = testing::SampleRecord();
  ASSERT_TRUE(WriteReports(tmp.path(), r, ci::Redactor(), nullptr).ok());
  r.outcome = Outcome::kSucceeded;
  ASSERT_TRUE(WriteReports(tmp.path(), r, ci::Redactor(), nullptr).ok());
  EXPECT_NE(Read(fs::path(tmp.path()) / "rollout.env").find("CANARYCTL_OUTCOME=succeeded\n"),
            std::string::npos);
}

TEST(ReportWriterTest, FailureNamesEveryFile) {
  TempDir tmp;
  // A regular file where the directory should be: nothing can be created under it.
  std::string blocker = tmp.path() + "/reports";
  std::ofstream(blocker) << "x";
  Status s = WriteReports(blocker, testing::SampleRecord(), ci::Redactor(), nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kCluster);
  for (const char* name : kFiles) {
    EXPECT_NE(s.error().message.find(blocker + "/" + name), std::string::npos)
        << name << " not named in: " << s.error().message;
  }
}

TEST(ReportWriterTest, OneFailingFileDoesNotStopTheOthers) {
  TempDir tmp;
  // A directory where junit.xml should go: the rename fails, even for root.
  fs::create_directories(fs::path(tmp.path()) / "junit.xml" / "inside");
  Status s = WriteReports(tmp.path(), testing::SampleRecord(), ci::Redactor(), nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("cannot write report " + tmp.path() + "/junit.xml: "),
            std::string::npos)
      << s.error().message;
  EXPECT_EQ(s.error().message.find("rollout.env"), std::string::npos) << s.error().message;
  for (const char* name : kFiles) {
    if (std::string(name) == "junit.xml") continue;
    EXPECT_FALSE(Read(fs::path(tmp.path()) / name).empty()) << name;
  }
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    EXPECT_NE(e.path().filename().string()[0], '.') << "temp file left: " << e.path();
  }
}

}  // namespace
}  // namespace canaryctl::report

// The corpus of broken kubeconfigs (data/invalid/NAME.yaml): each fails with exactly the message
// of NAME.expected, where {file} stands for the kubeconfig's path and {dir} for its folder.
// Most fail when loaded; an exec plugin that cannot give a credential fails when the credential
// is first asked for, before any request (the integration corpus test checks that canaryctl
// exits 2 on each without a request). No message may carry a secret: every secret in the corpus
// contains "s3cr3t".
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "kube/exec_credential.h"
#include "kube/kubeconfig.h"

namespace canaryctl::kube {
namespace {

namespace fs = std::filesystem;

const fs::path kCorpus = fs::path(KUBE_TEST_DATA) / "invalid";

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

std::vector<std::string> Cases() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kCorpus)) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The error the kubeconfig ends in: from the loader, else from its exec plugin; "" when none.
std::string Failure(const std::string& file) {
  auto config = LoadKubeconfig({file});
  if (!config.ok()) {
    EXPECT_EQ(config.error().kind, ErrorKind::kConfig);
    return config.error().message;
  }
  if (!config.value().user.exec) return "";
  ExecCredentialProvider provider(*config.value().user.exec, config.value().cluster);
  auto credential = provider.Get();
  if (credential.ok()) return "";
  EXPECT_EQ(credential.error().kind, ErrorKind::kConfig);
  return credential.error().message;
}

class KubeconfigCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(KubeconfigCorpus, FailsWithExpectedMessage) {
  const fs::path base = kCorpus / GetParam();
  const std::string file = base.string() + ".yaml";
  const fs::path expected_path = base.string() + ".expected";
  ASSERT_TRUE(fs::exists(expected_path)) << expected_path;
  std::string expected = ReadText(expected_path);
  while (!expected.empty() && expected.back() == '\n') expected.pop_back();
  ReplaceAll(expected, "{file}", file);
  ReplaceAll(expected, "{dir}", kCorpus.string());
  const std::string message = Failure(file);
  EXPECT_EQ(message, expected);
  EXPECT_EQ(message.find("s3cr3t"), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(Corpus, KubeconfigCorpus, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param; });

TEST(KubeconfigCorpusSize, HasAtLeastTwentyCases) { EXPECT_GE(Cases().size(), 20u); }

}  // namespace
}  // namespace canaryctl::kube

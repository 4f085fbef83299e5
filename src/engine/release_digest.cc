#include "engine/release_digest.h"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace canaryctl::engine {
namespace {

namespace fs = std::filesystem;

// Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
void Field(Poco::SHA2Engine& sha, const std::string& text) {
  const std::string len = std::to_string(text.size()) + ":";
  sha.update(len.data(), len.size());
  sha.update(text.data(), text.size());
}

std::optional<std::string> ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return s.str();
}

}  // namespace

Result<std::string> ReleaseDigest(const config::HelmSpec& helm) {
  Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
  Field(sha, "chart");
  Field(sha, helm.chart);
  Field(sha, helm.version.value_or(""));
  Field(sha, helm.repo.value_or(""));
  for (const auto& file : helm.values) {
    auto content = ReadAll(file);
    if (!content) return ConfigError("helm.values: cannot read " + file);
    Field(sha, "values");
    Field(sha, file);
    Field(sha, *content);
  }
  for (const auto& [key, value] : helm.set) {
    Field(sha, "set");
    Field(sha, key);
    Field(sha, value);
  }
  // A chart in a local folder: its files are part of what is installed.
  std::error_code ec;
  if (fs::is_directory(helm.chart, ec)) {
    std::vector<fs::path> files;
    for (auto it = fs::recursive_directory_iterator(helm.chart, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->path().filename() == ".git") {
        it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec)) files.push_back(it->path());
    }
    if (ec) return ConfigError("helm.chart: cannot list " + helm.chart + ": " + ec.message());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      auto content = ReadAll(file);
      if (!content) return ConfigError("helm.chart: cannot read " + file.string());
      Field(sha, "file");
      Field(sha, fs::relative(file, helm.chart, ec).generic_string());
      Field(sha, *content);
    }
  } else if (fs::is_regular_file(helm.chart, ec)) {  // a packaged chart (.tgz)
    auto content = ReadAll(helm.chart);
    if (!content) return ConfigError("helm.chart: cannot read " + helm.chart);
    Field(sha, *content);
  }
  return Poco::DigestEngine::digestToHex(sha.digest()).substr(0, 16);
}

}  // namespace canaryctl::engine

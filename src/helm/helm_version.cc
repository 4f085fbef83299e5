#include "helm/helm_version.h"

#include <unistd.h>

#include <filesystem>
#include <regex>

namespace canaryctl::helm {

namespace {

bool IsExecutableFile(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

Result<std::string> Checked(const std::string& path, const std::string& origin) {
  if (IsExecutableFile(path)) return path;
  return ConfigError(origin + " names '" + path + "', which is not an executable file");
}

}  // namespace

Result<HelmVersion> ParseHelmVersion(const std::string& text) {
  static const std::regex kVersion(R"(^\s*v?(\d+)\.(\d+)\.(\d+)\S*\s*$)");
  std::smatch m;
  if (!std::regex_match(text, m, kVersion)) {
    return ClusterError("cannot read helm's version from '" + text +
                        "' (expected something like v3.18.0)");
  }
  HelmVersion v;
  v.major = std::stoi(m[1]);
  v.minor = std::stoi(m[2]);
  v.patch = std::stoi(m[3]);
  v.text = text.substr(text.find_first_not_of(" \t\r\n"));
  v.text.erase(v.text.find_last_not_of(" \t\r\n") + 1);
  if (v.major != 3 && v.major != 4) {
    return ClusterError("helm " + v.text + " is not supported (helm 3 or 4 is required)");
  }
  return v;
}

Result<std::string> ResolveHelmBinary(const std::string& explicit_path,
                                      const std::optional<std::string>& helm_bin_env,
                                      const std::optional<std::string>& path_env) {
  if (!explicit_path.empty()) return Checked(explicit_path, "--helm");
  if (helm_bin_env && !helm_bin_env->empty()) return Checked(*helm_bin_env, "HELM_BIN");
  std::string searched = path_env.value_or("");
  size_t start = 0;
  while (start <= searched.size()) {
    size_t end = searched.find(':', start);
    if (end == std::string::npos) end = searched.size();
    std::string dir = searched.substr(start, end - start);
    if (!dir.empty()) {
      std::string candidate = dir + "/helm";
      if (IsExecutableFile(candidate)) return candidate;
    }
    start = end + 1;
  }
  return ConfigError("helm not found: pass --helm PATH, set HELM_BIN, or put helm on PATH (PATH=" +
                     searched + ")");
}

}  // namespace canaryctl::helm

#include "helm/helm_args.h"

#include <algorithm>
#include <regex>

namespace canaryctl::helm {

namespace {

constexpr const char* kRedacted = "<redacted>";

bool IsDns1123Label(const std::string& s, size_t max_len) {
  static const std::regex kLabel("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
  return !s.empty() && s.size() <= max_len && std::regex_match(s, kLabel);
}

void AppendConnection(const Connection& conn, std::vector<std::string>& args) {
  if (!conn.kubeconfig.empty()) args.insert(args.end(), {"--kubeconfig", conn.kubeconfig});
  if (!conn.kube_context.empty()) args.insert(args.end(), {"--kube-context", conn.kube_context});
}

void AppendWait(const HelmVersion& version, bool wait, std::vector<std::string>& args) {
  if (!wait) return;
  // helm 4's --wait takes a strategy; "watcher" (kstatus) is its default when given bare, and
  // the closest to helm 3's readiness wait. Spelled out so a later default change cannot bite.
  args.push_back(version.major >= 4 ? "--wait=watcher" : "--wait");
}

Result<Done> ValidateSetKey(const std::string& key, const char* what) {
  if (key.empty() || key.front() == '-' || key.find_first_of("=,\n ") != std::string::npos) {
    return ConfigError(std::string("helm ") + what + " key '" + key +
                       "' is invalid: it must be non-empty, not start with '-', and contain "
                       "no '=', ',', space or newline");
  }
  return Done{};
}

bool NeedsQuoting(const std::string& arg) {
  if (arg.empty()) return true;
  return arg.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
             "-_./:=,@%+") != std::string::npos;
}

std::string Quote(const std::string& arg) {
  if (!NeedsQuoting(arg)) return arg;
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

bool IsSetFlag(const std::string& arg) {
  return arg == "--set" || arg == "--set-string" || arg == "--set-literal" || arg == "--set-json";
}

}  // namespace

Result<Done> ValidateRelease(const ReleaseRef& release) {
  if (!IsDns1123Label(release.name, 53)) {
    return ConfigError("helm release name '" + release.name +
                       "' is invalid: lower-case letters, digits and '-', starting and ending "
                       "with a letter or digit, at most 53 characters");
  }
  if (!IsDns1123Label(release.ns, 63)) {
    return ConfigError("namespace '" + release.ns + "' of helm release '" + release.name +
                       "' is invalid: lower-case letters, digits and '-', starting and ending "
                       "with a letter or digit, at most 63 characters");
  }
  return Done{};
}

std::string GoDuration(std::chrono::seconds duration) {
  return std::to_string(duration.count()) + "s";
}

std::string EscapeForSetString(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == ',') out += '\\';
    out += c;
  }
  return out;
}

Result<std::vector<std::string>> UpgradeArgs(const HelmVersion& version, const Connection& conn,
                                             const UpgradeRequest& request) {
  if (auto ok = ValidateRelease(request.release); !ok.ok()) return ok.error();
  if (request.chart.empty() || request.chart.front() == '-') {
    return ConfigError("helm chart '" + request.chart + "' of release '" + request.release.name +
                       "' is invalid: it must be a path, repo/chart or oci:// reference");
  }
  if (request.timeout.count() <= 0) {
    return ConfigError("helm timeout for release '" + request.release.name +
                       "' must be positive, got " + GoDuration(request.timeout));
  }
  std::vector<std::string> args = {"upgrade",     "--install",   request.release.name,
                                   request.chart, "--namespace", request.release.ns};
  if (!request.chart_version.empty()) args.insert(args.end(), {"--version", request.chart_version});
  if (!request.repo.empty()) {
    if (request.repo.front() == '-') {
      return ConfigError("helm repo '" + request.repo + "' of release '" + request.release.name +
                         "' is invalid: it must be a chart repository URL");
    }
    args.insert(args.end(), {"--repo", request.repo});
  }
  for (const auto& file : request.values_files) {
    if (file.empty())
      return ConfigError("empty values file name for helm release '" + request.release.name + "'");
    args.insert(args.end(), {"--values", file});
  }
  for (const auto& [key, value] : request.set) {
    if (auto ok = ValidateSetKey(key, "set"); !ok.ok()) return ok.error();
    if (version.HasSetLiteral()) {
      args.insert(args.end(), {"--set-literal", key + "=" + value});
    } else {
      args.insert(args.end(), {"--set-string", key + "=" + EscapeForSetString(value)});
    }
  }
  for (const auto& [key, value] : request.set_typed) {
    if (auto ok = ValidateSetKey(key, "set (typed)"); !ok.ok()) return ok.error();
    if (value.find(',') != std::string::npos) {
      return ConfigError("typed helm value '" + key +
                         "' contains ',', which helm would split; pass it as a string value");
    }
    args.insert(args.end(), {"--set", key + "=" + value});
  }
  if (request.create_namespace) args.push_back("--create-namespace");
  AppendWait(version, request.wait, args);
  args.insert(args.end(), {"--timeout", GoDuration(request.timeout)});
  if (!request.description.empty()) args.insert(args.end(), {"--description", request.description});
  AppendConnection(conn, args);
  return args;
}

Result<std::vector<std::string>> RollbackArgs(const HelmVersion& version, const Connection& conn,
                                              const ReleaseRef& release,
                                              const RollbackOptions& options) {
  if (auto ok = ValidateRelease(release); !ok.ok()) return ok.error();
  if (options.revision < 0) {
    return ConfigError("rollback of helm release '" + release.name + "' to revision " +
                       std::to_string(options.revision) + ": revisions start at 1");
  }
  std::vector<std::string> args = {"rollback", release.name};
  if (options.revision > 0) args.push_back(std::to_string(options.revision));
  args.insert(args.end(), {"--namespace", release.ns});
  AppendWait(version, options.wait, args);
  args.insert(args.end(), {"--timeout", GoDuration(options.timeout)});
  AppendConnection(conn, args);
  return args;
}

Result<std::vector<std::string>> UninstallArgs(const HelmVersion& version, const Connection& conn,
                                               const ReleaseRef& release,
                                               const UninstallOptions& options) {
  if (auto ok = ValidateRelease(release); !ok.ok()) return ok.error();
  std::vector<std::string> args = {"uninstall", release.name, "--namespace", release.ns};
  AppendWait(version, options.wait, args);
  args.insert(args.end(), {"--timeout", GoDuration(options.timeout)});
  AppendConnection(conn, args);
  return args;
}

Result<std::vector<std::string>> StatusArgs(const Connection& conn, const ReleaseRef& release) {
  if (auto ok = ValidateRelease(release); !ok.ok()) return ok.error();
  std::vector<std::string> args = {"status",   release.name, "--namespace",
                                   release.ns, "--output",   "json"};
  AppendConnection(conn, args);
  return args;
}

Result<std::vector<std::string>> HistoryArgs(const Connection& conn, const ReleaseRef& release,
                                             int max) {
  if (auto ok = ValidateRelease(release); !ok.ok()) return ok.error();
  std::vector<std::string> args = {"history",  release.name, "--namespace",
                                   release.ns, "--output",   "json"};
  if (max > 0) args.insert(args.end(), {"--max", std::to_string(max)});
  AppendConnection(conn, args);
  return args;
}

Result<std::vector<std::string>> GetValuesArgs(const Connection& conn, const ReleaseRef& release) {
  if (auto ok = ValidateRelease(release); !ok.ok()) return ok.error();
  std::vector<std::string> args = {"get",      "values",   release.name, "--namespace",
                                   release.ns, "--output", "json"};
  AppendConnection(conn, args);
  return args;
}

std::string DisplayCommand(const std::string& binary, const std::vector<std::string>& args,
                           const std::vector<std::string>& secret_keys) {
  std::string out = Quote(binary);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (i > 0 && IsSetFlag(args[i - 1])) {
      size_t eq = arg.find('=');
      if (eq != std::string::npos && std::find(secret_keys.begin(), secret_keys.end(),
                                               arg.substr(0, eq)) != secret_keys.end()) {
        arg = arg.substr(0, eq + 1) + kRedacted;
      }
    }
    out += ' ';
    out += Quote(arg);
  }
  return out;
}

std::string RedactValues(std::string text, const std::vector<std::string>& secret_values) {
  for (const auto& secret : secret_values) {
    if (secret.empty()) continue;
    for (size_t pos = text.find(secret); pos != std::string::npos;
         pos = text.find(secret, pos + std::char_traits<char>::length(kRedacted))) {
      text.replace(pos, secret.size(), kRedacted);
    }
  }
  return text;
}

std::string TailLines(const std::string& text, size_t n) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  if (n == 0) return "";
  size_t pos = t.size();
  for (size_t lines = 0; lines < n; ++lines) {
    size_t nl = t.rfind('\n', pos == 0 ? 0 : pos - 1);
    if (nl == std::string::npos || pos == 0) return t;
    pos = nl;
  }
  return t.substr(pos + 1);
}

}  // namespace canaryctl::helm

#include "kube/kubeconfig.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <Poco/Base64Decoder.h>
#include <Poco/Exception.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/URI.h>
#include <yaml-cpp/yaml.h>

namespace canaryctl::kube {
namespace {

namespace fs = std::filesystem;

// One named entry of clusters/users/contexts, with where it came from for messages.
struct Entry {
  std::string file;
  std::string key;  // "users[0]"
  YAML::Node node;  // the entry's "cluster"/"user"/"context" map (may be null)
};

struct Merged {
  std::map<std::string, Entry> clusters, users, contexts;
  std::string current_context;
};

std::optional<std::string> ReadWholeFile(const std::string& path) {
  // A directory opens fine and reads as nothing; it would then be reported as "not PEM data".
  std::error_code ec;
  if (fs::is_directory(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return out.str();
}

// Why a referenced file could not be read, for messages.
std::string CannotRead(const std::string& path) {
  std::error_code ec;
  return "cannot read " + path + (fs::is_directory(path, ec) ? ": it is a directory" : "");
}

std::string At(const std::string& file, const std::string& key) { return file + ": " + key; }

Error Bad(const std::string& file, const std::string& key, const std::string& problem) {
  return ConfigError(At(file, key) + ": " + problem);
}

// node[key] as a string: "" when absent or null, an error when not a scalar.
Result<std::string> Scalar(const YAML::Node& node, const std::string& key, const std::string& file,
                           const std::string& where) {
  if (!node || !node.IsMap()) return std::string();
  YAML::Node value = node[key];
  if (!value || value.IsNull()) return std::string();
  if (!value.IsScalar()) return Bad(file, where + "." + key, "must be a string");
  return value.Scalar();
}

Result<bool> Bool(const YAML::Node& node, const std::string& key, const std::string& file,
                  const std::string& where) {
  if (!node || !node.IsMap()) return false;
  YAML::Node value = node[key];
  if (!value || value.IsNull()) return false;
  bool out = false;
  if (!value.IsScalar()) return Bad(file, where + "." + key, "must be true or false");
  if (!YAML::convert<bool>::decode(value, out)) {
    // Booleans hold no secret, so the value is shown.
    return Bad(file, where + "." + key, "must be true or false, got \"" + value.Scalar() + "\"");
  }
  return out;
}

std::string Resolve(const std::string& kubeconfig_file, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(kubeconfig_file).parent_path() / path).lexically_normal().string();
}

// PEM data inline (key-data, base64) or from a file (key); "" when neither is set.
Result<std::string> Pem(const YAML::Node& node, const std::string& file_key,
                        const std::string& data_key, const std::string& file,
                        const std::string& where) {
  auto data = Scalar(node, data_key, file, where);
  if (!data.ok()) return data.error();
  auto path = Scalar(node, file_key, file, where);
  if (!path.ok()) return path.error();
  std::string pem;
  std::string key;
  if (!data.value().empty()) {
    key = where + "." + data_key;
    auto decoded = DecodeBase64(data.value());
    if (!decoded) return Bad(file, key, "not valid base64");
    pem = std::move(*decoded);
  } else if (!path.value().empty()) {
    key = where + "." + file_key;
    const std::string resolved = Resolve(file, path.value());
    auto content = ReadWholeFile(resolved);
    if (!content) return Bad(file, key, CannotRead(resolved));
    pem = std::move(*content);
  } else {
    return std::string();
  }
  if (pem.find("-----BEGIN ") == std::string::npos) return Bad(file, key, "not PEM data");
  return pem;
}

Status AddFile(const std::string& file, Merged& merged) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    return ConfigError(file + ": cannot read the kubeconfig");
  } catch (const YAML::Exception& e) {
    return ConfigError(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                       std::to_string(e.mark.column + 1) + ": not valid YAML: " + e.msg);
  }
  if (root.IsNull()) return Done{};  // an empty file, as kubectl allows
  if (!root.IsMap()) return ConfigError(file + ": a kubeconfig must be a YAML mapping");

  struct List {
    const char* name;
    const char* inner;
    std::map<std::string, Entry>* into;
  };
  for (const List& list :
       {List{"clusters", "cluster", &merged.clusters}, List{"users", "user", &merged.users},
        List{"contexts", "context", &merged.contexts}}) {
    YAML::Node items = root[list.name];
    if (!items || items.IsNull()) continue;
    if (!items.IsSequence()) return Bad(file, list.name, "must be a list");
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string key = std::string(list.name) + "[" + std::to_string(i) + "]";
      if (!items[i].IsMap()) return Bad(file, key, "must be a mapping");
      auto name = Scalar(items[i], "name", file, key);
      if (!name.ok()) return name.error();
      if (name.value().empty()) return Bad(file, key + ".name", "missing");
      YAML::Node inner = items[i][list.inner];
      if (inner && !inner.IsNull() && !inner.IsMap()) {
        return Bad(file, key + "." + list.inner, "must be a mapping");
      }
      // The first file that defines a name wins, as with kubectl.
      list.into->emplace(name.value(), Entry{file, key + "." + list.inner, inner});
    }
  }
  auto current = Scalar(root, "current-context", file, "");
  if (!current.ok()) return current.error();
  if (merged.current_context.empty()) merged.current_context = current.value();
  return Done{};
}

Result<ClusterConfig> BuildCluster(const Entry& entry) {
  const std::string& file = entry.file;
  const std::string& where = entry.key;
  ClusterConfig cluster;
  cluster.source = At(file, where);
  auto server = Scalar(entry.node, "server", file, where);
  if (!server.ok()) return server.error();
  if (server.value().empty()) return Bad(file, where + ".server", "missing");
  try {
    Poco::URI uri(server.value());
    if ((uri.getScheme() != "https" && uri.getScheme() != "http") || uri.getHost().empty()) {
      return Bad(file, where + ".server",
                 "\"" + server.value() + "\" is not an http:// or https:// URL with a host");
    }
  } catch (const Poco::Exception&) {
    return Bad(file, where + ".server", "\"" + server.value() + "\" is not a URL");
  }
  cluster.server = server.value();
  auto ca = Pem(entry.node, "certificate-authority", "certificate-authority-data", file, where);
  if (!ca.ok()) return ca.error();
  cluster.ca_pem = ca.value();
  auto insecure = Bool(entry.node, "insecure-skip-tls-verify", file, where);
  if (!insecure.ok()) return insecure.error();
  cluster.insecure_skip_tls_verify = insecure.value();
  if (cluster.insecure_skip_tls_verify && !cluster.ca_pem.empty()) {
    return Bad(file, where + ".insecure-skip-tls-verify",
               "cannot be combined with a certificate authority (kubectl refuses it too)");
  }
  auto server_name = Scalar(entry.node, "tls-server-name", file, where);
  if (!server_name.ok()) return server_name.error();
  cluster.tls_server_name = server_name.value();
  return cluster;
}

Result<ExecConfig> BuildExec(const YAML::Node& node, const std::string& file,
                             const std::string& where) {
  ExecConfig exec;
  exec.source = At(file, where);
  auto api_version = Scalar(node, "apiVersion", file, where);
  if (!api_version.ok()) return api_version.error();
  exec.api_version = api_version.value();
  if (exec.api_version != "client.authentication.k8s.io/v1" &&
      exec.api_version != "client.authentication.k8s.io/v1beta1") {
    return Bad(file, where + ".apiVersion",
               "\"" + exec.api_version +
                   "\" is not supported (use client.authentication.k8s.io/v1 or v1beta1)");
  }
  auto command = Scalar(node, "command", file, where);
  if (!command.ok()) return command.error();
  if (command.value().empty()) return Bad(file, where + ".command", "missing");
  // Like kubectl: a command with a path separator is a path, relative to the kubeconfig;
  // a bare name is looked up on PATH.
  exec.command = command.value().find('/') == std::string::npos ? command.value()
                                                                : Resolve(file, command.value());
  YAML::Node args = node["args"];
  if (args && !args.IsNull()) {
    if (!args.IsSequence()) return Bad(file, where + ".args", "must be a list of strings");
    for (size_t i = 0; i < args.size(); ++i) {
      if (!args[i].IsScalar()) {
        return Bad(file, where + ".args[" + std::to_string(i) + "]", "must be a string");
      }
      exec.args.push_back(args[i].Scalar());
    }
  }
  YAML::Node env = node["env"];
  if (env && !env.IsNull()) {
    if (!env.IsSequence()) return Bad(file, where + ".env", "must be a list of {name, value}");
    for (size_t i = 0; i < env.size(); ++i) {
      const std::string key = where + ".env[" + std::to_string(i) + "]";
      if (!env[i].IsMap()) return Bad(file, key, "must be a mapping with name and value");
      auto name = Scalar(env[i], "name", file, key);
      if (!name.ok()) return name.error();
      if (name.value().empty()) return Bad(file, key + ".name", "missing");
      auto value = Scalar(env[i], "value", file, key);
      if (!value.ok()) return value.error();
      exec.env.emplace_back(name.value(), value.value());
    }
  }
  auto cluster_info = Bool(node, "provideClusterInfo", file, where);
  if (!cluster_info.ok()) return cluster_info.error();
  exec.provide_cluster_info = cluster_info.value();
  return exec;
}

Result<UserConfig> BuildUser(const Entry& entry) {
  const std::string& file = entry.file;
  const std::string& where = entry.key;
  UserConfig user;
  user.source = At(file, where);
  for (const char* key : {"username", "password"}) {
    if (entry.node && entry.node[key]) {
      return Bad(file, where + "." + key,
                 "basic auth (username/password) is not supported; use a token, a client "
                 "certificate or an exec plugin");
    }
  }
  if (entry.node && entry.node["auth-provider"]) {
    return Bad(file, where + ".auth-provider",
               "auth providers are not supported; use an exec plugin (e.g. gke-gcloud-auth-plugin, "
               "kubelogin)");
  }
  auto token = Scalar(entry.node, "token", file, where);
  if (!token.ok()) return token.error();
  user.token = token.value();
  auto token_file = Scalar(entry.node, "tokenFile", file, where);
  if (!token_file.ok()) return token_file.error();
  if (user.token.empty() && !token_file.value().empty()) {
    const std::string path = Resolve(file, token_file.value());
    auto content = ReadWholeFile(path);
    if (!content) return Bad(file, where + ".tokenFile", CannotRead(path));
    user.token = Poco::trim(*content);
    if (user.token.empty()) return Bad(file, where + ".tokenFile", path + " is empty");
  }
  auto cert = Pem(entry.node, "client-certificate", "client-certificate-data", file, where);
  if (!cert.ok()) return cert.error();
  auto key = Pem(entry.node, "client-key", "client-key-data", file, where);
  if (!key.ok()) return key.error();
  if (cert.value().empty() != key.value().empty()) {
    return Bad(file, where + (cert.value().empty() ? ".client-certificate" : ".client-key"),
               "missing: a client certificate needs both client-certificate(-data) and "
               "client-key(-data)");
  }
  user.client_cert_pem = cert.value();
  user.client_key_pem = key.value();
  if (entry.node && entry.node["exec"] && !entry.node["exec"].IsNull()) {
    if (!entry.node["exec"].IsMap()) return Bad(file, where + ".exec", "must be a mapping");
    auto exec = BuildExec(entry.node["exec"], file, where + ".exec");
    if (!exec.ok()) return exec.error();
    user.exec = std::move(exec).value();
  }
  return user;
}

std::string Joined(const std::vector<std::string>& files) {
  std::string out;
  for (const auto& file : files) out += (out.empty() ? "" : ":") + file;
  return out;
}

}  // namespace

std::optional<std::string> DecodeBase64(const std::string& text) {
  try {
    std::istringstream in(text);
    Poco::Base64Decoder decoder(in);
    std::string out;
    Poco::StreamCopier::copyToString(decoder, out);
    if (decoder.bad()) return std::nullopt;
    return out;
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

Result<std::vector<std::string>> KubeconfigFiles(const std::string& explicit_path,
                                                 const std::string& kubeconfig_env,
                                                 const std::string& home) {
  if (!explicit_path.empty()) return std::vector<std::string>{explicit_path};
  if (!kubeconfig_env.empty()) {
    std::vector<std::string> files;
    std::set<std::string> seen;
    std::istringstream in(kubeconfig_env);
    std::string file;
    while (std::getline(in, file, ':')) {
      std::error_code ec;
      if (!file.empty() && fs::exists(file, ec) && seen.insert(file).second) files.push_back(file);
    }
    if (files.empty()) {
      return ConfigError("KUBECONFIG=" + kubeconfig_env + ": none of these files exists");
    }
    return files;
  }
  if (home.empty()) return ConfigError("no kubeconfig: set KUBECONFIG or HOME, or pass one");
  return std::vector<std::string>{(fs::path(home) / ".kube" / "config").string()};
}

Result<KubeConfig> LoadKubeconfig(const std::vector<std::string>& files,
                                  const std::string& context) {
  if (files.empty()) return ConfigError("no kubeconfig file given");
  Merged merged;
  for (const auto& file : files) {
    Status added = AddFile(file, merged);
    if (!added.ok()) return added.error();
  }
  const std::string name = context.empty() ? merged.current_context : context;
  if (name.empty()) {
    return ConfigError(Joined(files) + ": no current-context set; choose one with --context");
  }
  auto found = merged.contexts.find(name);
  if (found == merged.contexts.end()) {
    std::string known;
    for (const auto& [known_name, entry] : merged.contexts) {
      known += (known.empty() ? "" : ", ") + known_name;
    }
    return ConfigError(Joined(files) + ": no context named \"" + name + "\"" +
                       (context.empty() ? " (current-context)" : "") +
                       "; known: " + (known.empty() ? "none" : known));
  }
  const Entry& ctx = found->second;
  KubeConfig out;
  out.context = name;
  auto ns = Scalar(ctx.node, "namespace", ctx.file, ctx.key);
  if (!ns.ok()) return ns.error();
  out.namespace_ = ns.value();

  auto cluster_name = Scalar(ctx.node, "cluster", ctx.file, ctx.key);
  if (!cluster_name.ok()) return cluster_name.error();
  if (cluster_name.value().empty()) return Bad(ctx.file, ctx.key + ".cluster", "missing");
  auto cluster = merged.clusters.find(cluster_name.value());
  if (cluster == merged.clusters.end()) {
    return Bad(ctx.file, ctx.key + ".cluster",
               "no cluster named \"" + cluster_name.value() + "\" in " + Joined(files));
  }
  auto built_cluster = BuildCluster(cluster->second);
  if (!built_cluster.ok()) return built_cluster.error();
  out.cluster = std::move(built_cluster).value();

  auto user_name = Scalar(ctx.node, "user", ctx.file, ctx.key);
  if (!user_name.ok()) return user_name.error();
  if (!user_name.value().empty()) {
    auto user = merged.users.find(user_name.value());
    if (user == merged.users.end()) {
      return Bad(ctx.file, ctx.key + ".user",
                 "no user named \"" + user_name.value() + "\" in " + Joined(files));
    }
    auto built_user = BuildUser(user->second);
    if (!built_user.ok()) return built_user.error();
    out.user = std::move(built_user).value();
  }
  return out;
}

Result<KubeConfig> LoadInClusterConfig(const std::map<std::string, std::string>& env,
                                       const std::string& root) {
  auto host = env.find("KUBERNETES_SERVICE_HOST");
  auto port = env.find("KUBERNETES_SERVICE_PORT");
  if (host == env.end() || host->second.empty() || port == env.end() || port->second.empty()) {
    return ConfigError(
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  }
  const std::string dir = root + "/var/run/secrets/kubernetes.io/serviceaccount";
  KubeConfig out;
  const std::string bracketed =
      host->second.find(':') != std::string::npos ? "[" + host->second + "]" : host->second;
  out.cluster.server = "https://" + bracketed + ":" + port->second;
  out.cluster.source = "in-cluster config";
  out.user.source = dir + "/token";
  auto token = ReadWholeFile(dir + "/token");
  if (!token) return ConfigError(dir + "/token: cannot read the service account token");
  out.user.token = Poco::trim(*token);
  if (out.user.token.empty()) return ConfigError(dir + "/token: empty");
  auto ca = ReadWholeFile(dir + "/ca.crt");
  if (!ca) return ConfigError(dir + "/ca.crt: cannot read the cluster CA");
  if (ca->find("-----BEGIN ") == std::string::npos) {
    return ConfigError(dir + "/ca.crt: not PEM data");
  }
  out.cluster.ca_pem = *ca;
  auto ns = ReadWholeFile(dir + "/namespace");
  out.namespace_ = ns ? Poco::trim(*ns) : "";
  if (out.namespace_.empty()) out.namespace_ = "default";
  return out;
}

}  // namespace canaryctl::kube

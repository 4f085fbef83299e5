// Where the cluster is and who we are: a kubeconfig (one file or several merged as kubectl does)
// or the in-cluster service account, resolved into one KubeConfig for one context.
//
// Contract: every error has kind kConfig and names the file and the key at fault
// ("/path/kubeconfig: users[0].user.client-key-data: not valid base64"). Secrets (tokens,
// keys) are never part of an error message. Referenced files (certificate-authority,
// client-certificate, client-key, tokenFile) are read at load time; relative paths are resolved
// against the directory of the kubeconfig that names them.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace canaryctl::kube {

// users[].user.exec: a client.authentication.k8s.io/v1 or v1beta1 credential plugin.
struct ExecConfig {
  std::string api_version;
  std::string command;  // resolved against the kubeconfig's folder if it contains a '/'
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  bool provide_cluster_info = false;
  std::string source;  // "/path/kubeconfig: users[0].user.exec", for messages
};

struct ClusterConfig {
  std::string server;  // "https://host:port[/prefix]"
  std::string ca_pem;  // empty: the system's trust store
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;  // empty: the server's host
  std::string source;           // "/path/kubeconfig: clusters[1]"
};

struct UserConfig {
  std::string token;            // static bearer token (token or tokenFile)
  std::string client_cert_pem;  // with client_key_pem: TLS client authentication
  std::string client_key_pem;
  std::optional<ExecConfig> exec;
  std::string source;  // "/path/kubeconfig: users[0]"
};

struct KubeConfig {
  std::string context;     // the context's name ("" in-cluster)
  std::string namespace_;  // the context's namespace; "" when it sets none
  ClusterConfig cluster;
  UserConfig user;
};

// The kubeconfig files to read: explicit (a --kubeconfig flag) if not empty; otherwise
// kubeconfig_env split on ':' keeping only the files that exist (as kubectl does); otherwise
// home/.kube/config. Errors when the list ends up empty.
Result<std::vector<std::string>> KubeconfigFiles(const std::string& explicit_path,
                                                 const std::string& kubeconfig_env,
                                                 const std::string& home);

// Loads and merges files in order: for each cluster, user and context name the first file
// that defines it wins; current-context comes from the first file that sets one. context
// overrides current-context when not empty.
Result<KubeConfig> LoadKubeconfig(const std::vector<std::string>& files,
                                  const std::string& context = "");

// The in-cluster configuration: env KUBERNETES_SERVICE_HOST/PORT and the service account's
// token, ca.crt and namespace under root + "/var/run/secrets/kubernetes.io/serviceaccount".
// env stands for the process environment (tests pass their own).
Result<KubeConfig> LoadInClusterConfig(const std::map<std::string, std::string>& env,
                                       const std::string& root = "");

// Decodes standard base64; nullopt when text is not valid base64.
std::optional<std::string> DecodeBase64(const std::string& text);

}  // namespace canaryctl::kube

#include "sandbox/kubeconfig.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <Poco/Base64Encoder.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <yaml-cpp/yaml.h>

namespace sandbox {
namespace {

constexpr const char* kName = "canaryctl-sandbox";

std::string Base64(const std::string& data) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);  // kubeconfig data fields are one line
  encoder << data;
  encoder.close();
  return out.str();
}

}  // namespace

std::string KubeconfigYaml(const std::string& server_url, const std::optional<KubeconfigTls>& tls) {
  YAML::Node cluster;
  cluster["server"] = server_url;
  if (tls) cluster["certificate-authority-data"] = Base64(tls->ca_pem);
  YAML::Node user(YAML::NodeType::Map);
  if (tls) {
    user["client-certificate-data"] = Base64(tls->client_cert_pem);
    user["client-key-data"] = Base64(tls->client_key_pem);
  }
  YAML::Node root;
  root["apiVersion"] = "v1";
  root["kind"] = "Config";
  YAML::Node named_cluster;
  named_cluster["name"] = kName;
  named_cluster["cluster"] = cluster;
  root["clusters"].push_back(named_cluster);
  YAML::Node named_user;
  named_user["name"] = kName;
  named_user["user"] = user;
  root["users"].push_back(named_user);
  YAML::Node context;
  context["cluster"] = kName;
  context["user"] = kName;
  YAML::Node named_context;
  named_context["name"] = kName;
  named_context["context"] = context;
  root["contexts"].push_back(named_context);
  root["current-context"] = kName;
  root["preferences"] = YAML::Node(YAML::NodeType::Map);
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

Status WriteKubeconfig(const std::string& path, const std::string& server_url,
                       const std::optional<KubeconfigTls>& tls) {
  const std::string text = KubeconfigYaml(server_url, tls);
  const std::string tmp = path + ".tmp";
  try {
    Poco::Path parent = Poco::Path(path).makeParent();
    if (!parent.toString().empty()) Poco::File(parent).createDirectories();
  } catch (const Poco::Exception& e) {
    return ApiError::Internal("cannot create the kubeconfig's directory: " + e.displayText());
  }
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return ApiError::Internal("cannot write " + tmp);
    out << text;
    out.flush();
    if (!out) return ApiError::Internal("cannot write " + tmp);
  }
  // It may carry a client key.
  ::chmod(tmp.c_str(), 0600);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return ApiError::Internal("cannot rename " + tmp + " to " + path);
  }
  return Ok{};
}

}  // namespace sandbox

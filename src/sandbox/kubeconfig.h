// The kubeconfig clients use to reach the sandbox.
#pragma once

#include <optional>
#include <string>

#include "sandbox/api_error.h"

namespace sandbox {

struct KubeconfigTls {
  std::string ca_pem;           // the CA that signed the server certificate
  std::string client_cert_pem;  // CN canaryctl-sandbox-admin, O system:masters
  std::string client_key_pem;
};

// The YAML text: cluster, user and context all named "canaryctl-sandbox", current-context set.
// With tls, the certificate-authority-data/client-certificate-data/client-key-data fields.
std::string KubeconfigYaml(const std::string& server_url, const std::optional<KubeconfigTls>& tls);

// Writes the kubeconfig atomically (temp file beside it, mode 0600, then rename), so a reader
// that sees the file sees all of it.
Status WriteKubeconfig(const std::string& path, const std::string& server_url,
                       const std::optional<KubeconfigTls>& tls);

}  // namespace sandbox

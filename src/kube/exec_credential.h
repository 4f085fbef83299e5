// Credentials from a kubeconfig exec plugin (client.authentication.k8s.io/v1 and v1beta1).
//
// The plugin is spawned with an argument vector (no shell), this process's environment plus the
// kubeconfig's env entries and KUBERNETES_EXEC_INFO, and stdin closed. Its stdout must be an
// ExecCredential of the same apiVersion whose status has a token or a client certificate and
// key. The result is cached until its expirationTimestamp (forever without one) or until
// Invalidate(), e.g. after a 401. A failure is a kConfig error naming the kubeconfig key, the
// command and the tail of its stderr; the plugin's stdout is never quoted, it holds secrets.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "common/result.h"
#include "kube/kubeconfig.h"

namespace canaryctl::kube {

struct ExecCredential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::optional<std::chrono::system_clock::time_point> expiry;
};

class ExecCredentialProvider {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  // cluster is passed to the plugin when exec.provide_cluster_info is set.
  ExecCredentialProvider(ExecConfig exec, ClusterConfig cluster, Clock clock = nullptr);

  // The cached credential while it has not expired; otherwise runs the plugin. Thread-safe.
  Result<ExecCredential> Get();
  // Forgets the cached credential, so the next Get() runs the plugin again.
  void Invalidate();
  // How many times the plugin ran (for tests and logs).
  int runs() const;

 private:
  Result<ExecCredential> Run();

  ExecConfig exec_;
  ClusterConfig cluster_;
  Clock clock_;
  mutable std::mutex mu_;
  std::optional<ExecCredential> cached_;
  int runs_ = 0;
};

}  // namespace canaryctl::kube

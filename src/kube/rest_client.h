// canaryctl's Kubernetes REST client: the Client contract (kube/client.h) over Poco's HTTP(S)
// client sessions, configured from a KubeConfig.
//
// - TLS: the cluster's CA (or the system's when none), the client certificate and key loaded from
//   memory (nothing is written to disk), TLS 1.2+, the server's name checked (tls-server-name
//   when set). insecure-skip-tls-verify turns verification off, and only when set; it logs a
//   warning at Create.
// - Auth: a static bearer token, a client certificate, or an exec plugin (its credential cached
//   until expiry; after a 401 the plugin runs again once).
// - One keep-alive connection, reused across requests; Send is serialized by a mutex.
// - Retries as kube/retry_policy.h says, within RetryPolicy::deadline per Send.
// - Tokens and keys never appear in an error message or a log line.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <Poco/Net/Context.h>

#include "kube/client.h"
#include "kube/exec_credential.h"
#include "kube/kubeconfig.h"
#include "kube/retry_policy.h"

namespace Poco::Net {
class HTTPClientSession;
}  // namespace Poco::Net

namespace canaryctl::kube {

// "canaryctl/0.1.0".
std::string DefaultUserAgent();

struct RestClientOptions {
  RetryPolicy retry;
  std::string user_agent = DefaultUserAgent();
  // How to wait between attempts; tests may record the waits instead of sleeping.
  std::function<void(std::chrono::milliseconds)> sleep;
  // The clock the exec credential's expiry is compared with.
  ExecCredentialProvider::Clock clock;
};

class RestClient : public Client {
 public:
  // Errors (kConfig) name the kubeconfig key when the CA, certificate or key cannot be used.
  static Result<std::unique_ptr<RestClient>> Create(const KubeConfig& config,
                                                    RestClientOptions options = {});
  ~RestClient() override;

  Result<Response> Send(const Request& request) override;

  const KubeConfig& config() const { return config_; }
  // Attempts made by the last Send (1 when it needed no retry).
  int last_attempts() const;

  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

 private:
  struct Attempt;
  RestClient(KubeConfig config, RestClientOptions options);
  Status Connect(const std::string& cert_pem, const std::string& key_pem,
                 const std::string& cert_source);
  Attempt TryOnce(const Request& request, const std::string& token,
                  std::chrono::milliseconds timeout);

  KubeConfig config_;
  RestClientOptions options_;
  Backoff backoff_;
  std::string scheme_, host_, base_path_;
  uint16_t port_ = 0;
  std::unique_ptr<ExecCredentialProvider> exec_;
  mutable std::mutex mu_;
  Poco::Net::Context::Ptr context_;
  std::string context_cert_pem_;  // the client certificate context_ was built with
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
  int last_attempts_ = 0;
};

}  // namespace canaryctl::kube

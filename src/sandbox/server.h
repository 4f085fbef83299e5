// The canaryctl-sandbox process around the API: the HTTP(S) listener, the admin endpoints
// (/sandbox/faults, /sandbox/health, /sandbox/workloads), client-certificate and bearer-token
// auth, the request log, the kubeconfig written once the listener accepts connections; the
// Pods' workloads (pod_workloads.h), the optional gateway (gateway.h) and the Istio metrics they
// record, served without authentication at GET /metrics on the API listener.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "sandbox/api_error.h"

namespace sandbox {

struct ServerOptions {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 picks a free port
  std::string data_dir;                // the store's directory (and pki/ under --tls)
  std::string kubeconfig_path;         // written atomically once serving; "" = none
  bool tls = false;
  // "" = none. With tls, a request is authenticated by a verified client certificate OR
  // "Authorization: Bearer <token>"; without tls, the bearer token is required on plain HTTP.
  std::string token;
  std::chrono::milliseconds ready_delay{300};
  std::chrono::milliseconds job_duration{300};
  std::string request_log_path;  // "" = no request log
  size_t max_body_bytes = 3 * 1024 * 1024;
  int threads = 128;           // connection threads; every open watch holds one
  std::string gateway_listen;  // host:port of the gateway; "" = no gateway
  int gateway_threads = 64;    // the gateway's connection threads
};

class Server {
 public:
  // Opens the store, starts controllers and the listener, then writes the kubeconfig.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options);
  ~Server();  // stops

  uint16_t port() const;
  // "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT".
  std::string url() const;
  // The gateway's bound port and "http://127.0.0.1:PORT"; 0 and "" without --gateway.
  uint16_t gateway_port() const;
  std::string gateway_url() const;
  // Stops accepting, ends watches and pending fault delays, stops controllers, and waits for
  // the connection threads. Idempotent.
  void Stop();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  struct Impl;

 private:
  Server() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sandbox

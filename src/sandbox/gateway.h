// The sandbox's gateway (--gateway HOST:PORT): one HTTP listener that plays every Istio ingress
// gateway, and the mesh's proxy for *.svc.cluster.local hosts. Each request is routed by the
// mesh snapshot (mesh_model.h: VirtualServices bound to a gateway, weights drawn per request,
// DestinationRule subsets, round-robin over ready Pods) and proxied to the chosen Pod's
// workload: method, path and query, headers (minus hop-by-hop ones) and body; the answer is
// relayed with `server: istio-envoy` and `x-envoy-upstream-service-time`. Requests may be in
// origin form (`GET /x`, routed by the Host header) or absolute form
// (`GET http://flaskapp.stage.svc.cluster.local/x`, as clients send through HTTP_PROXY).
//
// Answers of its own, as Envoy gives them: 404 with no body when no route matches (flag NR);
// 503 "no healthy upstream" when the Service has no ready Pod (UH) or the subset or port is
// unknown (NC); 503 "upstream connect error ..." when the workload cannot be reached (UF, after
// one retry on another Pod); 504 "upstream request timeout" after the route's `timeout`
// (default 30 s) (UT). Every request is counted in IstioMetrics with reporter "source" and
// source_workload istio-ingressgateway (namespace istio-system).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "sandbox/api_error.h"
#include "sandbox/istio_metrics.h"
#include "sandbox/mesh.h"

namespace sandbox {

struct GatewayOptions {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 picks a free port
  // Connection threads: each open client connection holds one (wrk -c 32 needs 32).
  int threads = 64;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds default_timeout{30000};  // when the route sets no `timeout`
  size_t max_body_bytes = 16 * 1024 * 1024;          // larger request bodies get 413
  size_t max_idle_per_upstream = 16;                 // pooled keep-alive connections per workload
};

class Gateway {
 public:
  static Result<std::unique_ptr<Gateway>> Start(const GatewayOptions& options, Mesh& mesh,
                                                IstioMetrics& metrics);
  ~Gateway();  // Stop()

  uint16_t port() const;
  std::string url() const;  // "http://127.0.0.1:PORT"
  // Stops accepting, closes open connections, waits for the connection threads. Idempotent.
  void Stop();

  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  struct Impl;

 private:
  Gateway() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sandbox

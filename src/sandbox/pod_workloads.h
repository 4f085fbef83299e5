// The built-in workloads: every running Pod is served by a small HTTP server on a loopback port
// (127.0.0.1, a free port), a Poco HTTPServer with its own thread pool. Any method and path is
// answered with 200 and
//   {"app":"flaskapp","version":"v2","pod":"flaskapp-6d9f-x7k2p","namespace":"stage"}
// plus the headers X-App, X-Version, X-Pod and X-Namespace (PodIdentity, mesh_model.h). The
// container env FAULT_ERROR_RATE (0..1) makes that fraction of the answers 500 (same body and
// headers, plus "error"), and FAULT_LATENCY_MS delays every answer by that many milliseconds.
// Each request is counted in IstioMetrics with reporter "destination": the source is the gateway
// when it forwarded the request (it says so in x-sandbox-* headers), "unknown" otherwise.
//
// It is the controllers' PodRuntime: Run() starts a Pod's workload before the Pod is reported
// Ready; Retain() stops the workloads of Pods that are gone (in the background, so a controller
// round never waits for a server to wind down).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sandbox/istio_metrics.h"
#include "sandbox/mesh_model.h"
#include "sandbox/pod_runtime.h"

namespace sandbox {

// Headers the gateway adds to what it forwards, so the workload's own metrics name the source
// and the Service the request was sent to (a workload may sit behind several Services).
inline constexpr char kSourceWorkloadHeader[] = "x-sandbox-source-workload";
inline constexpr char kSourceNamespaceHeader[] = "x-sandbox-source-workload-namespace";
inline constexpr char kDestinationServiceHeader[] = "x-sandbox-destination-service";

struct WorkloadHostOptions {
  // Per workload: connections served at once. Threads start on demand and exit after 10 s
  // idle. Above what the gateway can hold open to one workload (its 64 threads plus 16 pooled
  // idle connections), so gateway traffic never waits for a thread.
  int threads = 128;
  std::chrono::seconds keep_alive{5};  // an idle keep-alive connection is closed after this
};

class WorkloadHost : public PodRuntime {
 public:
  explicit WorkloadHost(IstioMetrics& metrics, WorkloadHostOptions options = {});
  ~WorkloadHost() override;  // StopAll()

  bool Run(const json::ObjectPtr& pod) override;
  void Retain(const std::set<std::string>& running_uids) override;

  // The Service a request sent straight to a workload counts against: fqdn, or "" for none.
  using ServiceLookup = std::function<std::string(const std::string& ns, const std::string& pod)>;
  void SetServiceLookup(ServiceLookup lookup);

  uint16_t PortOf(const std::string& uid) const;  // 0 when the Pod has no workload
  // Changes whenever a workload starts or stops.
  uint64_t generation() const { return generation_.load(); }

  struct Info {
    std::string uid;
    uint16_t port = 0;
    PodIdentity identity;
  };
  std::vector<Info> List() const;  // sorted by namespace and pod name

  // Stops every workload and waits for them (also for the ones Retain() is stopping).
  void StopAll();

  WorkloadHost(const WorkloadHost&) = delete;
  WorkloadHost& operator=(const WorkloadHost&) = delete;

  struct Workload;

 private:
  void StopInBackground(std::vector<std::shared_ptr<Workload>> workloads);
  void JoinFinishedStoppers(bool all);

  IstioMetrics& metrics_;
  WorkloadHostOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Workload>> workloads_;  // by Pod uid
  std::atomic<uint64_t> generation_{0};
  std::shared_ptr<ServiceLookup> lookup_;  // read by request threads under lookup_mu_
  mutable std::mutex lookup_mu_;

  struct Stopper {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex stoppers_mu_;
  std::vector<Stopper> stoppers_;
};

}  // namespace sandbox

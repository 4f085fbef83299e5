// The controllers that make built-in workloads behave as on a cluster, enough for helm --wait
// (helm 3 polling, helm 4 kstatus watches) and helm hooks:
// - Deployment -> ReplicaSet named <deploy>-<hash of the pod template> (label
//   pod-template-hash, ownerReference controller=true with the Deployment's uid, template
//   equal to the Deployment's plus the hash label) -> Pods <rs>-<5 random> that become
//   Running/Ready after ready_delay. Rolling updates scale the new ReplicaSet up and old ones
//   down to 0 (kept up to revisionHistoryLimit). Status: observedGeneration, replicas,
//   updatedReplicas, readyReplicas, availableReplicas, unavailableReplicas, conditions
//   Available and Progressing (reason NewReplicaSetAvailable once complete).
// - StatefulSet (pods <name>-0..N-1, status incl. currentRevision/updateRevision),
//   DaemonSet (one pod on the single node "sandbox-node"), ReplicaSet, Job (a pod that
//   succeeds after job_duration; status.succeeded, conditions Complete; a pod template env
//   SANDBOX_JOB_FAIL=true makes it fail: status.failed, condition Failed).
// - Pods get spec.nodeName sandbox-node, status.podIP from 10.244.0.0/16, conditions
//   PodScheduled/Initialized/ContainersReady/Ready, containerStatuses. With a PodRuntime, a Pod
//   turns Ready only once the runtime serves it, and the runtime is told after every round which
//   Pods still run (Ready, not terminating, not finished), so it stops the others.
// - Services' Endpoints and EndpointSlices listing their ready pods.
// - HorizontalPodAutoscaler, PodDisruptionBudget, Ingress: status filled so kstatus calls
//   them Current.
// - Garbage collection: objects whose ownerReferences all point at deleted uids are deleted;
//   objects of a deleted namespace are deleted.
// Changes go through the Store, so watches see every step.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "sandbox/pod_runtime.h"
#include "sandbox/store.h"

namespace sandbox {

struct ControllerOptions {
  std::chrono::milliseconds ready_delay{300};   // pod created -> Ready
  std::chrono::milliseconds job_duration{300};  // job pod Ready -> Succeeded
  std::chrono::milliseconds resync{50};         // how often the controllers reconcile
  // Runs the running Pods (the sandbox's workloads); a Pod becomes Ready only once its
  // runtime serves it. null: Pods become Ready after ready_delay alone.
  PodRuntime* runtime = nullptr;
};

class ControllerManager {
 public:
  ControllerManager(Store& store, ControllerOptions options);
  ~ControllerManager();  // stops
  void Start();
  void Stop();
  // Runs every controller once, synchronously (for tests); `now` drives the delays.
  void ReconcileOnce(std::chrono::steady_clock::time_point now);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sandbox

// The mesh snapshot of the running sandbox (mesh_model.h), rebuilt from the Store when it has
// changed since the last one (its resourceVersion) or a workload started or stopped. Readers
// get an immutable snapshot; a request that follows a write (kubectl apply of a
// VirtualService) always sees that write. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "sandbox/mesh_model.h"
#include "sandbox/pod_workloads.h"
#include "sandbox/store.h"

namespace sandbox {

class Mesh {
 public:
  Mesh(Store& store, WorkloadHost& workloads);
  std::shared_ptr<const MeshSnapshot> Current();
  // The fqdn of the first Service (by name) selecting the Pod; "" for none.
  std::string ServiceOf(const std::string& ns, const std::string& pod);

 private:
  Store& store_;
  WorkloadHost& workloads_;
  std::mutex rebuild_mu_;  // one rebuild at a time; others wait for it
  std::mutex snapshot_mu_;
  std::shared_ptr<const MeshSnapshot> snapshot_;
};

}  // namespace sandbox

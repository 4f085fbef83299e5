// What runs a ready Pod. The controllers ask the runtime to start a Pod before they report it
// Ready, and tell it after every round which Pods still run, so it can stop the others. The
// sandbox's runtime is WorkloadHost (pod_workloads.h): one loopback HTTP workload per Pod.
#pragma once

#include <set>
#include <string>

#include "sandbox/json_util.h"

namespace sandbox {

class PodRuntime {
 public:
  virtual ~PodRuntime() = default;
  // Starts what serves this Pod, or updates it when the Pod changed; true once it serves.
  // Called for every running Pod on each controller round: cheap when nothing changed.
  virtual bool Run(const json::ObjectPtr& pod) = 0;
  // Stops what serves the Pods whose uid is not in running_uids.
  virtual void Retain(const std::set<std::string>& running_uids) = 0;
};

}  // namespace sandbox

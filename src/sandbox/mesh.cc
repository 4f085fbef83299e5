#include "sandbox/mesh.h"

#include <spdlog/spdlog.h>

namespace sandbox {
namespace {

const ResourceRef kPods{"", "pods"};
const ResourceRef kServices{"", "services"};
const ResourceRef kVirtualServices{"networking.istio.io", "virtualservices"};
const ResourceRef kDestinationRules{"networking.istio.io", "destinationrules"};

}  // namespace

Mesh::Mesh(Store& store, WorkloadHost& workloads) : store_(store), workloads_(workloads) {}

std::shared_ptr<const MeshSnapshot> Mesh::Current() {
  auto fresh = [&](const std::shared_ptr<const MeshSnapshot>& s) {
    return s && s->resource_version == store_.CurrentResourceVersion() &&
           s->workloads_generation == workloads_.generation();
  };
  {
    std::lock_guard lock(snapshot_mu_);
    if (fresh(snapshot_)) return snapshot_;
  }
  std::lock_guard rebuild(rebuild_mu_);
  {
    std::lock_guard lock(snapshot_mu_);
    if (fresh(snapshot_)) return snapshot_;
  }
  // Read the versions first: a change during the lists makes the next call rebuild again.
  const uint64_t rv = store_.CurrentResourceVersion();
  const uint64_t generation = workloads_.generation();
  std::unique_ptr<MeshSnapshot> built = BuildMeshSnapshot(
      store_.List(kPods, "").items, store_.List(kServices, "").items,
      store_.List(kVirtualServices, "").items, store_.List(kDestinationRules, "").items,
      [this](const std::string& uid) { return workloads_.PortOf(uid); });
  built->resource_version = rv;
  built->workloads_generation = generation;
  for (const std::string& w : built->warnings) spdlog::debug("mesh: {}", w);
  std::shared_ptr<const MeshSnapshot> snapshot(std::move(built));
  std::lock_guard lock(snapshot_mu_);
  snapshot_ = snapshot;
  return snapshot;
}

std::string Mesh::ServiceOf(const std::string& ns, const std::string& pod) {
  auto snapshot = Current();
  auto it = snapshot->service_of_pod.find(ns + "/" + pod);
  return it == snapshot->service_of_pod.end() ? "" : it->second;
}

}  // namespace sandbox

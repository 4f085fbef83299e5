// Every resource type the sandbox serves: the built-in kinds charts commonly carry, and the
// ones CustomResourceDefinitions register at runtime (discovery updates at once).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sandbox/json_util.h"
#include "sandbox/store.h"

namespace sandbox {

struct ResourceType {
  std::string group;      // "" for core
  std::string version;    // "v1"
  std::string resource;   // plural, "deployments"
  std::string singular;   // "deployment"
  std::string kind;       // "Deployment"
  std::string list_kind;  // "DeploymentList"
  bool namespaced = true;
  bool builtin = true;  // strategic merge patch allowed only for built-in kinds
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  std::vector<std::string> verbs;
  bool status_subresource = false;
  bool scale_subresource = false;
  json::ObjectPtr schema;  // CRD openAPIV3Schema of this version; null for built-ins
  bool served = true;
  bool storage = true;  // the storage version (objects are stored once, under this version)
  // Additions: CRD extras the handler needs.
  std::string crd_name;            // "virtualservices.networking.istio.io"; "" for built-ins
  std::string storage_version;     // the version objects are stored under ("v1")
  json::ArrayPtr printer_columns;  // CRD additionalPrinterColumns of this version, or null
  std::string scale_spec_path = "spec.replicas";  // scale subresource (dotted paths)
  std::string scale_status_path = "status.replicas";
  std::string scale_selector_path;  // "" when the selector is not exposed

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  ResourceRef ref() const { return {group, resource}; }
};

class ResourceRegistry {
 public:
  // Starts with the built-in kinds, then registers the CRDs already in the store.
  explicit ResourceRegistry(Store& store);

  std::optional<ResourceType> Find(const std::string& group, const std::string& version,
                                   const std::string& resource) const;
  std::optional<ResourceType> FindByKind(const std::string& group, const std::string& version,
                                         const std::string& kind) const;
  std::vector<ResourceType> All() const;
  // The served versions of a group, most preferred first (Kubernetes version priority).
  std::vector<std::string> GroupVersions(const std::string& group) const;

  // (Re)registers the versions a CRD object serves; a CRD with status.conditions missing gets
  // Established/NamesAccepted from the API handler.
  void RegisterCrd(const json::ObjectPtr& crd);
  void UnregisterCrd(const std::string& crd_name);
  // Increments on every change, so discovery and OpenAPI documents can carry a fresh hash.
  uint64_t generation() const;

 private:
  void AddLocked(ResourceType type);
  void RemoveCrdLocked(const std::string& crd_name);

  mutable std::mutex mu_;
  std::vector<ResourceType> types_;
  uint64_t generation_ = 1;
};

}  // namespace sandbox

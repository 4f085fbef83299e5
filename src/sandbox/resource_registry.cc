#include "sandbox/resource_registry.h"

#include <algorithm>
#include <regex>

namespace sandbox {
namespace {

const std::vector<std::string> kAllVerbs = {"create", "delete", "deletecollection", "get",
                                            "list",   "patch",  "update",           "watch"};

struct Builtin {
  const char* group;
  const char* version;
  const char* resource;
  const char* singular;
  const char* kind;
  bool namespaced;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  bool status;
  bool scale;
};

// The kinds charts commonly carry, with the names `kubectl api-resources` shows on a cluster.
const std::vector<Builtin>& Builtins() {
  // clang-format off
  static const std::vector<Builtin> kTable = {
      {"", "v1", "namespaces", "namespace", "Namespace", false, {"ns"}, {}, true, false},
      {"", "v1", "secrets", "secret", "Secret", true, {}, {}, false, false},
      {"", "v1", "configmaps", "configmap", "ConfigMap", true, {"cm"}, {}, false, false},
      {"", "v1", "services", "service", "Service", true, {"svc"}, {"all"}, true, false},
      {"", "v1", "endpoints", "endpoints", "Endpoints", true, {"ep"}, {}, false, false},
      {"", "v1", "pods", "pod", "Pod", true, {"po"}, {"all"}, true, false},
      {"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, {"sa"}, {}, false,
       false},
      {"", "v1", "events", "event", "Event", true, {"ev"}, {}, false, false},
      {"", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", true,
       {"pvc"}, {}, true, false},
      {"", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", false, {"pv"}, {},
       true, false},
      {"", "v1", "resourcequotas", "resourcequota", "ResourceQuota", true, {"quota"}, {}, true,
       false},
      {"", "v1", "limitranges", "limitrange", "LimitRange", true, {"limits"}, {}, false, false},
      {"", "v1", "nodes", "node", "Node", false, {"no"}, {}, true, false},
      {"", "v1", "replicationcontrollers", "replicationcontroller", "ReplicationController", true,
       {"rc"}, {"all"}, true, true},
      {"apps", "v1", "deployments", "deployment", "Deployment", true, {"deploy"}, {"all"}, true,
       true},
      {"apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, {"rs"}, {"all"}, true, true},
      {"apps", "v1", "statefulsets", "statefulset", "StatefulSet", true, {"sts"}, {"all"}, true,
       true},
      {"apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, {"ds"}, {"all"}, true, false},
      {"apps", "v1", "controllerrevisions", "controllerrevision", "ControllerRevision", true, {},
       {}, false, false},
      {"batch", "v1", "jobs", "job", "Job", true, {}, {"all"}, true, false},
      {"batch", "v1", "cronjobs", "cronjob", "CronJob", true, {"cj"}, {"all"}, true, false},
      {"networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", true, {"ing"}, {}, true,
       false},
      {"networking.k8s.io", "v1", "ingressclasses", "ingressclass", "IngressClass", false, {}, {},
       false, false},
      {"networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", true,
       {"netpol"}, {}, false, false},
      {"autoscaling", "v2", "horizontalpodautoscalers", "horizontalpodautoscaler",
       "HorizontalPodAutoscaler", true, {"hpa"}, {"all"}, true, false},
      {"autoscaling", "v1", "horizontalpodautoscalers", "horizontalpodautoscaler",
       "HorizontalPodAutoscaler", true, {"hpa"}, {"all"}, true, false},
      {"policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", true,
       {"pdb"}, {}, true, false},
      {"rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true, {}, {}, false, false},
      {"rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true, {},
       {}, false, false},
      {"rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false, {},
       {}, false, false},
      {"rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding",
       "ClusterRoleBinding", false, {}, {}, false, false},
      {"discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", true, {}, {},
       false, false},
      {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
       "CustomResourceDefinition", false, {"crd", "crds"}, {"api-extensions"}, true, false},
      {"coordination.k8s.io", "v1", "leases", "lease", "Lease", true, {}, {}, false, false},
      {"storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", false, {"sc"},
       {}, false, false},
      {"scheduling.k8s.io", "v1", "priorityclasses", "priorityclass", "PriorityClass", false,
       {"pc"}, {}, false, false},
      {"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
       "mutatingwebhookconfiguration", "MutatingWebhookConfiguration", false, {},
       {"api-extensions"}, false, false},
      {"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
       "validatingwebhookconfiguration", "ValidatingWebhookConfiguration", false, {},
       {"api-extensions"}, false, false},
  };
  // clang-format on
  return kTable;
}

// Kubernetes version priority: GA before beta before alpha, higher numbers first; versions
// that do not look like Kubernetes versions sort last, alphabetically.
struct VersionKey {
  bool kube_like = false;
  int major = 0;
  int stage = 0;  // 2 GA, 1 beta, 0 alpha
  int minor = 0;
  std::string text;
};

VersionKey ParseVersion(const std::string& v) {
  static const std::regex kRe("^v([0-9]+)(?:(alpha|beta)([0-9]+)?)?$");
  VersionKey key;
  key.text = v;
  std::smatch m;
  if (std::regex_match(v, m, kRe)) {
    key.kube_like = true;
    key.major = std::stoi(m[1].str());
    key.stage = !m[2].matched ? 2 : (m[2].str() == "beta" ? 1 : 0);
    key.minor = m[3].matched ? std::stoi(m[3].str()) : 0;
  }
  return key;
}

bool VersionBefore(const std::string& a, const std::string& b) {
  VersionKey x = ParseVersion(a), y = ParseVersion(b);
  if (x.kube_like != y.kube_like) return x.kube_like;
  if (!x.kube_like) return x.text < y.text;
  if (x.stage != y.stage) return x.stage > y.stage;
  if (x.major != y.major) return x.major > y.major;
  return x.minor > y.minor;
}

std::vector<std::string> StringList(const json::ArrayPtr& array) {
  std::vector<std::string> out;
  if (!array) return out;
  for (size_t i = 0; i < array->size(); ++i) {
    if (json::IsString(array->get(i))) out.push_back(array->get(i).extract<std::string>());
  }
  return out;
}

// ".spec.replicas" -> "spec.replicas"
std::string DottedPath(const std::string& json_path) {
  return !json_path.empty() && json_path[0] == '.' ? json_path.substr(1) : json_path;
}

}  // namespace

ResourceRegistry::ResourceRegistry(Store& store) {
  for (const Builtin& b : Builtins()) {
    ResourceType t;
    t.group = b.group;
    t.version = b.version;
    t.resource = b.resource;
    t.singular = b.singular;
    t.kind = b.kind;
    t.list_kind = t.kind + "List";
    t.namespaced = b.namespaced;
    t.builtin = true;
    t.short_names = b.short_names;
    t.categories = b.categories;
    t.verbs = kAllVerbs;
    t.status_subresource = b.status;
    t.scale_subresource = b.scale;
    t.storage_version = b.group == std::string("autoscaling") ? "v2" : b.version;
    t.storage = t.storage_version == t.version;
    if (t.scale_subresource) t.scale_selector_path = "spec.selector";
    types_.push_back(std::move(t));
  }
  ListResult crds = store.List({"apiextensions.k8s.io", "customresourcedefinitions"}, "");
  for (const auto& crd : crds.items) RegisterCrd(crd);
}

void ResourceRegistry::AddLocked(ResourceType type) { types_.push_back(std::move(type)); }

void ResourceRegistry::RemoveCrdLocked(const std::string& crd_name) {
  std::erase_if(types_, [&](const ResourceType& t) { return t.crd_name == crd_name; });
}

std::optional<ResourceType> ResourceRegistry::Find(const std::string& group,
                                                   const std::string& version,
                                                   const std::string& resource) const {
  std::lock_guard lock(mu_);
  for (const auto& t : types_) {
    if (t.resource == resource && t.version == version && t.group == group) return t;
  }
  return std::nullopt;
}

std::optional<ResourceType> ResourceRegistry::FindByKind(const std::string& group,
                                                         const std::string& version,
                                                         const std::string& kind) const {
  std::lock_guard lock(mu_);
  for (const auto& t : types_) {
    if (t.kind == kind && t.version == version && t.group == group) return t;
  }
  return std::nullopt;
}

std::vector<ResourceType> ResourceRegistry::All() const {
  std::lock_guard lock(mu_);
  return types_;
}

std::vector<std::string> ResourceRegistry::GroupVersions(const std::string& group) const {
  std::vector<std::string> versions;
  {
    std::lock_guard lock(mu_);
    for (const auto& t : types_) {
      if (t.group == group && t.served &&
          std::find(versions.begin(), versions.end(), t.version) == versions.end()) {
        versions.push_back(t.version);
      }
    }
  }
  std::sort(versions.begin(), versions.end(), VersionBefore);
  return versions;
}

void ResourceRegistry::RegisterCrd(const json::ObjectPtr& crd) {
  if (!crd) return;
  std::string name = json::GetString(crd, "metadata.name").value_or("");
  std::string group = json::GetString(crd, "spec.group").value_or("");
  std::string plural = json::GetString(crd, "spec.names.plural").value_or("");
  std::string kind = json::GetString(crd, "spec.names.kind").value_or("");
  json::ArrayPtr versions = json::GetArray(crd, "spec.versions");
  if (name.empty() || group.empty() || plural.empty() || kind.empty() || !versions) return;

  ResourceType base;
  base.group = group;
  base.resource = plural;
  base.kind = kind;
  base.singular = json::GetString(crd, "spec.names.singular").value_or("");
  if (base.singular.empty()) {
    base.singular = kind;
    std::transform(base.singular.begin(), base.singular.end(), base.singular.begin(), ::tolower);
  }
  base.list_kind = json::GetString(crd, "spec.names.listKind").value_or(kind + "List");
  base.namespaced = json::GetString(crd, "spec.scope").value_or("Namespaced") != "Cluster";
  base.builtin = false;
  base.short_names = StringList(json::GetArray(crd, "spec.names.shortNames"));
  base.categories = StringList(json::GetArray(crd, "spec.names.categories"));
  base.verbs = kAllVerbs;
  base.crd_name = name;

  std::string storage_version;
  for (size_t i = 0; i < versions->size(); ++i) {
    json::ObjectPtr v = json::AsObject(versions->get(i));
    if (v && json::GetBool(v, "storage").value_or(false)) {
      storage_version = json::GetString(v, "name").value_or("");
    }
  }

  std::vector<ResourceType> added;
  for (size_t i = 0; i < versions->size(); ++i) {
    json::ObjectPtr v = json::AsObject(versions->get(i));
    if (!v) continue;
    ResourceType t = base;
    t.version = json::GetString(v, "name").value_or("");
    if (t.version.empty()) continue;
    t.served = json::GetBool(v, "served").value_or(true);
    t.storage = json::GetBool(v, "storage").value_or(false);
    t.storage_version = storage_version.empty() ? t.version : storage_version;
    t.schema = json::GetObject(v, "schema.openAPIV3Schema");
    t.printer_columns = json::GetArray(v, "additionalPrinterColumns");
    t.status_subresource = static_cast<bool>(json::GetObject(v, "subresources.status"));
    json::ObjectPtr scale = json::GetObject(v, "subresources.scale");
    t.scale_subresource = static_cast<bool>(scale);
    if (scale) {
      t.scale_spec_path =
          DottedPath(json::GetString(scale, "specReplicasPath").value_or(".spec.replicas"));
      t.scale_status_path =
          DottedPath(json::GetString(scale, "statusReplicasPath").value_or(".status.replicas"));
      t.scale_selector_path = DottedPath(json::GetString(scale, "labelSelectorPath").value_or(""));
    }
    if (t.served) added.push_back(std::move(t));
  }

  std::lock_guard lock(mu_);
  RemoveCrdLocked(name);
  for (auto& t : added) AddLocked(std::move(t));
  ++generation_;
}

void ResourceRegistry::UnregisterCrd(const std::string& crd_name) {
  std::lock_guard lock(mu_);
  RemoveCrdLocked(crd_name);
  ++generation_;
}

uint64_t ResourceRegistry::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

}  // namespace sandbox

#include "sandbox/discovery.h"

#include <algorithm>
#include <vector>

#include <Poco/DigestEngine.h>
#include <Poco/SHA1Engine.h>

namespace sandbox::discovery {
namespace {

json::ArrayPtr Strings(const std::vector<std::string>& values) {
  json::ArrayPtr out = new json::Array;
  for (const auto& v : values) out->add(v);
  return out;
}

json::ObjectPtr GroupVersionFor(const std::string& group, const std::string& version) {
  json::ObjectPtr gv = new json::Object;
  gv->set("groupVersion", group.empty() ? version : group + "/" + version);
  gv->set("version", version);
  return gv;
}

// Groups in the order the registry holds them (built-ins first, as the apiserver lists them).
std::vector<std::string> Groups(const std::vector<ResourceType>& types) {
  std::vector<std::string> groups;
  for (const auto& t : types) {
    if (t.group.empty() || !t.served) continue;
    if (std::find(groups.begin(), groups.end(), t.group) == groups.end()) groups.push_back(t.group);
  }
  return groups;
}

json::ObjectPtr MakeApiGroup(const ResourceRegistry& registry, const std::string& group) {
  std::vector<std::string> versions = registry.GroupVersions(group);
  if (versions.empty()) return nullptr;
  json::ObjectPtr out = new json::Object;
  out->set("name", group);
  json::ArrayPtr list = new json::Array;
  for (const auto& v : versions) list->add(GroupVersionFor(group, v));
  out->set("versions", list);
  out->set("preferredVersion", GroupVersionFor(group, versions.front()));
  return out;
}

json::ObjectPtr Subresource(const ResourceType& t, const std::string& sub) {
  json::ObjectPtr r = new json::Object;
  r->set("name", t.resource + "/" + sub);
  r->set("singularName", "");
  r->set("namespaced", t.namespaced);
  if (sub == "scale") {
    r->set("group", "autoscaling");
    r->set("version", "v1");
    r->set("kind", "Scale");
  } else {
    r->set("kind", t.kind);
  }
  r->set("verbs", Strings({"get", "patch", "update"}));
  return r;
}

json::ObjectPtr Param(const std::string& name, const std::string& in, const std::string& type) {
  json::ObjectPtr p = new json::Object;
  p->set("name", name);
  p->set("in", in);
  if (in == "path") p->set("required", true);
  json::ObjectPtr schema = new json::Object;
  schema->set("type", type);
  if (in == "query") schema->set("uniqueItems", true);
  p->set("schema", schema);
  return p;
}

json::ObjectPtr Operation(const std::string& action, const ResourceType& t) {
  json::ObjectPtr op = new json::Object;
  std::string kind_word = t.kind;
  op->set("operationId", action + (t.namespaced ? "Namespaced" : "") + kind_word);
  op->set("x-kubernetes-action", action);
  json::ObjectPtr gvk = new json::Object;
  gvk->set("group", t.group);
  gvk->set("version", t.version);
  gvk->set("kind", t.kind);
  op->set("x-kubernetes-group-version-kind", gvk);
  json::ArrayPtr params = new json::Array;
  if (action == "patch" || action == "replace" || action == "create") {
    params->add(Param("dryRun", "query", "string"));
    params->add(Param("fieldManager", "query", "string"));
    params->add(Param("fieldValidation", "query", "string"));
    if (action == "patch") params->add(Param("force", "query", "boolean"));
  }
  op->set("parameters", params);
  json::ObjectPtr ok = new json::Object;
  ok->set("description", "OK");
  json::ObjectPtr responses = new json::Object;
  responses->set("200", ok);
  op->set("responses", responses);
  return op;
}

std::string Hash(const std::string& text) {
  Poco::SHA1Engine sha;
  sha.update(text);
  std::string hex = Poco::DigestEngine::digestToHex(sha.digest());
  std::transform(hex.begin(), hex.end(), hex.begin(), ::toupper);
  return hex;
}

}  // namespace

json::ObjectPtr Version() {
  json::ObjectPtr v = new json::Object;
  v->set("major", "1");
  v->set("minor", "34");
  v->set("emulationMajor", "1");
  v->set("emulationMinor", "34");
  v->set("minCompatibilityMajor", "1");
  v->set("minCompatibilityMinor", "33");
  v->set("gitVersion", kGitVersion);
  v->set("gitCommit", "canaryctl-sandbox");
  v->set("gitTreeState", "clean");
  v->set("buildDate", "2025-01-01T00:00:00Z");
  v->set("goVersion", "go1.24.0");
  v->set("compiler", "gc");
  v->set("platform", "linux/amd64");
  return v;
}

json::ObjectPtr ApiVersions() {
  json::ObjectPtr out = new json::Object;
  out->set("kind", "APIVersions");
  out->set("versions", Strings({"v1"}));
  json::ObjectPtr cidr = new json::Object;
  cidr->set("clientCIDR", "0.0.0.0/0");
  cidr->set("serverAddress", "127.0.0.1:6443");
  json::ArrayPtr cidrs = new json::Array;
  cidrs->add(cidr);
  out->set("serverAddressByClientCIDRs", cidrs);
  return out;
}

json::ObjectPtr ApiGroupList(const ResourceRegistry& registry) {
  json::ObjectPtr out = new json::Object;
  out->set("kind", "APIGroupList");
  out->set("apiVersion", "v1");
  json::ArrayPtr groups = new json::Array;
  for (const auto& g : Groups(registry.All())) {
    if (json::ObjectPtr group = MakeApiGroup(registry, g)) groups->add(group);
  }
  out->set("groups", groups);
  return out;
}

std::optional<json::ObjectPtr> ApiGroup(const ResourceRegistry& registry,
                                        const std::string& group) {
  json::ObjectPtr g = MakeApiGroup(registry, group);
  if (!g) return std::nullopt;
  g->set("kind", "APIGroup");
  g->set("apiVersion", "v1");
  return g;
}

std::optional<json::ObjectPtr> ApiResourceList(const ResourceRegistry& registry,
                                               const std::string& group,
                                               const std::string& version) {
  json::ArrayPtr resources = new json::Array;
  for (const auto& t : registry.All()) {
    if (t.group != group || t.version != version || !t.served) continue;
    json::ObjectPtr r = new json::Object;
    r->set("name", t.resource);
    r->set("singularName", t.singular);
    r->set("namespaced", t.namespaced);
    r->set("kind", t.kind);
    r->set("verbs", Strings(t.verbs));
    if (!t.short_names.empty()) r->set("shortNames", Strings(t.short_names));
    if (!t.categories.empty()) r->set("categories", Strings(t.categories));
    r->set("storageVersionHash",
           Hash(t.group + "/" + t.storage_version + "/" + t.kind).substr(0, 11));
    resources->add(r);
    if (t.status_subresource) resources->add(Subresource(t, "status"));
    if (t.scale_subresource) resources->add(Subresource(t, "scale"));
  }
  if (resources->size() == 0) return std::nullopt;
  json::ObjectPtr out = new json::Object;
  out->set("kind", "APIResourceList");
  out->set("apiVersion", "v1");
  out->set("groupVersion", group.empty() ? version : group + "/" + version);
  out->set("resources", resources);
  return out;
}

void OpenApi::RefreshLocked() {
  uint64_t generation = registry_.generation();
  if (generation == generation_ && !index_.empty()) return;
  generation_ = generation;
  std::map<std::string, json::ObjectPtr> paths_by_gv;
  for (const auto& t : registry_.All()) {
    if (!t.served) continue;
    std::string gv_path =
        t.group.empty() ? "api/" + t.version : "apis/" + t.group + "/" + t.version;
    json::ObjectPtr& paths = paths_by_gv[gv_path];
    if (!paths) paths = new json::Object;
    std::string prefix = "/" + gv_path + (t.namespaced ? "/namespaces/{namespace}/" : "/");
    json::ObjectPtr item = new json::Object;
    item->set("get", Operation("read", t));
    item->set("put", Operation("replace", t));
    item->set("patch", Operation("patch", t));
    item->set("delete", Operation("delete", t));
    json::ArrayPtr item_params = new json::Array;
    item_params->add(Param("name", "path", "string"));
    if (t.namespaced) item_params->add(Param("namespace", "path", "string"));
    item->set("parameters", item_params);
    paths->set(prefix + t.resource + "/{name}", item);
    json::ObjectPtr collection = new json::Object;
    collection->set("get", Operation("list", t));
    collection->set("post", Operation("create", t));
    if (t.namespaced) {
      json::ArrayPtr params = new json::Array;
      params->add(Param("namespace", "path", "string"));
      collection->set("parameters", params);
    }
    paths->set(prefix + t.resource, collection);
  }
  docs_.clear();
  json::ObjectPtr index_paths = new json::Object;
  for (const auto& [gv_path, paths] : paths_by_gv) {
    json::ObjectPtr doc = new json::Object;
    doc->set("openapi", "3.0.0");
    json::ObjectPtr info = new json::Object;
    info->set("title", "Kubernetes");
    info->set("version", kGitVersion);
    doc->set("info", info);
    doc->set("paths", paths);
    doc->set("components", json::ObjectPtr(new json::Object));
    Doc d{json::Stringify(doc), ""};
    d.hash = Hash(d.text);
    json::ObjectPtr entry = new json::Object;
    entry->set("serverRelativeURL", "/openapi/v3/" + gv_path + "?hash=" + d.hash);
    index_paths->set(gv_path, entry);
    docs_[gv_path] = std::move(d);
  }
  json::ObjectPtr index = new json::Object;
  index->set("paths", index_paths);
  index_ = json::Stringify(index);
}

std::string OpenApi::Index() {
  std::lock_guard lock(mu_);
  RefreshLocked();
  return index_;
}

std::optional<std::string> OpenApi::Document(const std::string& gv_path) {
  std::lock_guard lock(mu_);
  RefreshLocked();
  auto it = docs_.find(gv_path);
  if (it == docs_.end()) return std::nullopt;
  return it->second.text;
}

}  // namespace sandbox::discovery

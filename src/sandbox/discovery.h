// Discovery and OpenAPI documents built from the ResourceRegistry: /version, /api, /apis,
// /api/v1, /apis/{group}[/{version}], and the minimal OpenAPI v3 that makes kubectl and helm
// leave validation to the server (?fieldValidation=Strict) instead of validating client-side.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "sandbox/json_util.h"
#include "sandbox/resource_registry.h"

namespace sandbox::discovery {

inline constexpr const char* kGitVersion = "v1.34.5";

json::ObjectPtr Version();                                       // /version
json::ObjectPtr ApiVersions();                                   // /api (APIVersions)
json::ObjectPtr ApiGroupList(const ResourceRegistry& registry);  // /apis
// /apis/{group} (APIGroup); nullopt for a group nothing serves.
std::optional<json::ObjectPtr> ApiGroup(const ResourceRegistry& registry, const std::string& group);
// /api/v1 and /apis/{group}/{version} (APIResourceList); nullopt for an unknown group/version.
std::optional<json::ObjectPtr> ApiResourceList(const ResourceRegistry& registry,
                                               const std::string& group,
                                               const std::string& version);

// OpenAPI v3 documents, rebuilt when the registry's generation changes. Each group/version
// document is served at a URL carrying a hash of its content, as clients cache by that URL.
class OpenApi {
 public:
  explicit OpenApi(const ResourceRegistry& registry) : registry_(registry) {}
  std::string Index();  // /openapi/v3 as JSON text
  // "api/v1" or "apis/{group}/{version}"; nullopt when no such group/version is served.
  std::optional<std::string> Document(const std::string& gv_path);

 private:
  struct Doc {
    std::string text;
    std::string hash;
  };
  void RefreshLocked();

  const ResourceRegistry& registry_;
  std::mutex mu_;
  uint64_t generation_ = 0;
  std::map<std::string, Doc> docs_;  // by gv_path
  std::string index_;
};

}  // namespace sandbox::discovery

// Server-side printing: meta.k8s.io/v1 Table (what `kubectl get` asks for) and
// PartialObjectMetadata conversions of objects the API handler serves.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sandbox/json_util.h"
#include "sandbox/resource_registry.h"

namespace sandbox::table {

// includeObject: "None", "Metadata" (default) or "Object".
json::ObjectPtr ToTable(const ResourceType& type, const std::vector<json::ObjectPtr>& objects,
                        const std::string& include_object, const std::string& resource_version,
                        int64_t now_unix);

// A PartialObjectMetadata (meta.k8s.io/v1) holding the object's metadata.
json::ObjectPtr ToPartial(const json::ObjectPtr& object);

// The apiserver's short human durations ("45s", "5m", "3h2m", "12d").
std::string HumanDuration(int64_t seconds);

}  // namespace sandbox::table

// YAML to JSON, as the apiserver converts YAML bodies: YAML 1.2 core schema (quoted scalars are
// strings; plain ones may be null, bool, integers or floats).
#pragma once

#include <string>

#include <yaml-cpp/node/node.h>

#include "sandbox/api_error.h"
#include "sandbox/json_util.h"

namespace sandbox {

json::Var YamlToVar(const YAML::Node& node);

// Parses a body that is JSON or YAML (the first document) and must be an object; anything else
// is a 400 BadRequest.
Result<json::ObjectPtr> ParseYamlObject(const std::string& body);

}  // namespace sandbox

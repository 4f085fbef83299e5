// One field of a JSON document by dotted path ("status", "checks.0.state"), as text: how http
// checks compare expect.json, and how the load generator reads load.split.json.
#pragma once

#include <Poco/Dynamic/Var.h>

#include <optional>
#include <string>

namespace canaryctl::checks {

// Follows the path through objects (by key) and arrays (by index); nullopt when absent.
std::optional<Poco::Dynamic::Var> FollowJsonPath(Poco::Dynamic::Var node, const std::string& path);

// Strings as they are, numbers and booleans as JSON writes them, null as "null", objects and
// arrays as compact JSON.
std::string JsonText(const Poco::Dynamic::Var& value);

}  // namespace canaryctl::checks

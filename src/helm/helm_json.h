// Reading helm's `-o json` output (helm 3 and 4 print the same fields for what we read). Each
// parser names the command and the missing or mistyped field when the text is not what helm
// prints, so a changed helm shows up as a clear kCluster error, not a wrong decision.
#pragma once

#include <string>
#include <vector>

#include <Poco/JSON/Object.h>

#include "common/result.h"
#include "helm/deployer.h"

namespace canaryctl::helm {

// `helm status -o json`: name, namespace, version, info.{status, description, last_deployed,
// first_deployed}. The chart and app version are not in it (current.chart stays empty).
Result<ReleaseStatus> ParseStatusJson(const std::string& text);

// `helm history -o json`: revisions in the order printed (oldest first).
Result<std::vector<Revision>> ParseHistoryJson(const std::string& text);

// `helm get values -o json`: an object (helm prints `null` when no value was supplied, which
// gives an empty object).
Result<Poco::JSON::Object::Ptr> ParseValuesJson(const std::string& text);

}  // namespace canaryctl::helm

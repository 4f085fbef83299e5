// A digest of everything a deploy installs (chart reference and version, values files' contents,
// --set values, and a local chart's files), so that rerunning `deploy` with the same inputs
// converges while a changed value or template deploys again.
#pragma once

#include <string>

#include "common/result.h"
#include "config/rollout_spec.h"

namespace canaryctl::engine {

// 16 hex digits of SHA-256. Unreadable values files are a kConfig error naming them.
Result<std::string> ReleaseDigest(const config::HelmSpec& helm);

}  // namespace canaryctl::engine

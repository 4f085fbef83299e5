// The effective configuration as YAML, for `canaryctl config print`: every key, defaults
// included, in rollout.yaml's own layout, so the output loads back to the same RolloutSpec.
// Secret values (RolloutSpec::secret_values) are replaced by "<redacted>" wherever they occur,
// and literal entries of `secrets:` print as "<redacted>" (variable names print as themselves).
// Every "$" in a string prints as "$$", the escape that ${VAR} expansion reads back as "$".
#pragma once

#include <string>

#include "config/rollout_spec.h"

namespace canaryctl::config {

std::string ToYaml(const RolloutSpec& spec);

}  // namespace canaryctl::config

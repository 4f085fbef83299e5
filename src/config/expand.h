// ${VAR} expansion in rollout.yaml scalars.
//   ${NAME}           the variable's value; an error when NAME is undefined
//   ${NAME:-default}  the value, or default when NAME is undefined or empty (default is literal)
//   $$                a literal $
// Any other $ is literal (so regular expressions such as "^ok$" need no escaping).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "config/rollout_spec.h"

namespace canaryctl::config {

struct ExpansionError {
  size_t offset;  // of the offending "${" (or "$") in the input
  std::string message;
};

struct Expansion {
  std::string text;                    // best effort when errors is not empty
  std::vector<ExpansionError> errors;  // every problem, in order
};

Expansion ExpandVariables(std::string_view input, const Environment& env);

}  // namespace canaryctl::config

namespace canaryctl::config {

// YAML reads the braces of `steps: [${FIRST:-30}, 100]` as a flow mapping. Before parsing, the
// braces of each ${...} (on one line, not escaped as $$) are swapped for two control characters
// that YAML takes as ordinary scalar text (only for well-formed references: a NAME, and a
// default without quotes or braces); every byte keeps its position, so marks (line,
// column) are unchanged. Scalars are restored with UnshieldVariableBraces before expansion.
// Returns false when the text already holds one of the two characters (never valid YAML).
bool ShieldVariableBraces(std::string* yaml_text);
std::string UnshieldVariableBraces(std::string text);

}  // namespace canaryctl::config

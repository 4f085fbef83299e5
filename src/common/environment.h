// The process environment, and the vectors an exec takes (argv, envp).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace canaryctl {

using Environment = std::map<std::string, std::string>;

// This process's environment by name; a name given twice keeps its first value, as getenv does.
Environment ProcessEnvironment();

// "NAME=value" for each variable, for an exec's envp.
std::vector<std::string> EnvironmentStrings(const Environment& env);

// Null-terminated pointers into strings, for argv or envp; strings must outlive the result and
// not change size.
std::vector<char*> CStrings(std::vector<std::string>& strings);

}  // namespace canaryctl

// What a child process starts with: the environment, the vectors an exec takes (argv, envp),
// and its signal state.
#pragma once

#include <spawn.h>

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

// Initializes attr so that the child starts with no blocked signals and the default
// disposition of those canaryctl may ignore or handle (PIPE, INT, TERM, HUP, QUIT, CHLD), plus
// extra_flags (e.g. POSIX_SPAWN_SETPGROUP). The caller destroys attr.
void InitChildSignals(posix_spawnattr_t* attr, short extra_flags = 0);

}  // namespace canaryctl

// Runs one program with an argument vector (never a shell), stdin closed, capturing stdout and
// stderr, and kills it (SIGKILL) when it outlives its deadline. Its descendants are not killed;
// if one holds the output pipes open, we stop reading 2 s after the kill instead of hanging.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace canaryctl::helm {

struct ProcessOutput {
  int exit_code = -1;      // 256 + signal number when killed by a signal
  bool timed_out = false;  // killed by us at the deadline
  std::string out;
  std::string err;
};

struct ProcessOptions {
  std::map<std::string, std::string> env;  // added to (overriding) this process's environment
  std::chrono::milliseconds deadline{std::chrono::minutes(10)};
};

// An Error (kCluster) only when the program could not be started; a non-zero exit or a kill is
// reported in ProcessOutput for the caller to judge.
Result<ProcessOutput> RunProcess(const std::string& binary, const std::vector<std::string>& args,
                                 const ProcessOptions& options);

}  // namespace canaryctl::helm

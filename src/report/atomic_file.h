// Writes a report file so a reader (GitLab's artifact upload, a later job) sees either the
// old file or the complete new one, never a half-written one: temp file in the same
// directory, fsync, rename. The directory is created when missing.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace canaryctl::report {

// Writes `content` to `dir`/`name`. The error message names the file and the reason.
Status WriteFileAtomically(const std::string& dir, const std::string& name,
                           std::string_view content);

}  // namespace canaryctl::report

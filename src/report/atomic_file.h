// Writes a report file so a reader (GitLab's artifact upload, a later job) sees either the
// old file or the complete new one, never a half-written one, even when canaryctl is killed:
// temp file in the same directory, then rename. Not fsynced: it survives a killed process, not
// a crashed machine, which loses the CI job anyway. The directory is created when missing.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace canaryctl::report {

// Writes `content` to `dir`/`name`. The error message names the file and the reason.
Status WriteFileAtomically(const std::string& dir, const std::string& name,
                           std::string_view content);

}  // namespace canaryctl::report

// annotations.json for artifacts:reports:annotations (GitLab 16.3+):
//   {"canaryctl": [{"external_link": {"label": "...", "url": "..."}}, ...]}
// Links, in order: the environment (labelled "Environment: <name>"), then the dashboards.
// Only http:// and https:// URLs without whitespace or control characters are kept; others
// are dropped with a warning (GitLab would render them as broken or unsafe links).
#pragma once

#include <string>
#include <vector>

#include "ci/redactor.h"
#include "common/result.h"
#include "report/rollout_record.h"

namespace canaryctl::report {

inline constexpr char kAnnotationsFile[] = "annotations.json";

struct AnnotationsOutput {
  std::string text;
  std::vector<std::string> warnings;
};

// True for an absolute http(s) URL without spaces or control characters.
bool LinkableUrl(const std::string& url);

AnnotationsOutput RenderAnnotations(const RolloutRecord& record, const ci::Redactor& redactor);
Status WriteAnnotations(const std::string& dir, const RolloutRecord& record,
                        const ci::Redactor& redactor, std::vector<std::string>* warnings);

}  // namespace canaryctl::report

#include "report/report_writer.h"

#include "report/annotations_writer.h"
#include "report/dotenv_writer.h"
#include "report/html_writer.h"
#include "report/json_writer.h"
#include "report/junit_writer.h"
#include "report/metrics_writer.h"
#include "report/summary_writer.h"

namespace canaryctl::report {

Status WriteReports(const std::string& dir, const RolloutRecord& record,
                    const ci::Redactor& redactor, std::vector<std::string>* warnings) {
  Status results[] = {
      WriteJUnit(dir, record, redactor),       WriteDotenv(dir, record, redactor, warnings),
      WriteMetrics(dir, record, redactor),     WriteAnnotations(dir, record, redactor, warnings),
      WriteRolloutJson(dir, record, redactor), WriteSummary(dir, record, redactor),
      WriteHtmlReport(dir, record, redactor),
  };
  std::string failures;
  for (const Status& s : results) {
    if (s.ok()) continue;
    if (!failures.empty()) failures += "; ";
    failures += s.error().message;
  }
  if (failures.empty()) return Done{};
  return ClusterError(failures);
}

}  // namespace canaryctl::report

#include "report/junit_writer.h"

#include <Poco/SAX/AttributesImpl.h>
#include <Poco/XML/XMLWriter.h>

#include <sstream>

#include "report/atomic_file.h"
#include "report/text.h"

namespace canaryctl::report {
namespace {

constexpr size_t kMaxMessageBytes = 1024;

class Writer {
 public:
  Writer(std::ostream& out, const ci::Redactor& redactor)
      : xml_(out, Poco::XML::XMLWriter::WRITE_XML_DECLARATION | Poco::XML::XMLWriter::PRETTY_PRINT),
        redactor_(redactor) {
    xml_.setNewLine("\n");
    xml_.setIndent("  ");
  }

  // Redact first (a transformed secret would not match), then make it valid XML.
  std::string Text(const std::string& s) { return ToXmlText(redactor_.Redact(s)); }
  std::string Attr(const std::string& s, size_t max = kMaxMessageBytes) {
    std::string one = OneLine(redactor_.Redact(s));
    if (one.size() > max) one = one.substr(0, max) + "...";
    return ToXmlText(one);
  }

  void Start(const std::string& tag,
             const std::vector<std::pair<std::string, std::string>>& attrs) {
    Poco::XML::AttributesImpl a;
    for (const auto& [k, v] : attrs) a.addAttribute("", "", k, "CDATA", v);
    xml_.startElement("", "", tag, a);
  }
  void End(const std::string& tag) { xml_.endElement("", "", tag); }
  void Chars(const std::string& text) { xml_.characters(text); }
  Poco::XML::XMLWriter& xml() { return xml_; }

 private:
  Poco::XML::XMLWriter xml_;
  const ci::Redactor& redactor_;
};

struct Counts {
  int tests = 0, failures = 0, skipped = 0;
  std::chrono::milliseconds time{0};
};

Counts Count(const StepRecord& step) {
  Counts c;
  for (const CheckRecord& check : step.checks) {
    ++c.tests;
    if (check.verdict == Verdict::kFail) ++c.failures;
    if (check.verdict == Verdict::kInconclusive) ++c.skipped;
    c.time += check.duration;
  }
  return c;
}

}  // namespace

std::string RenderJUnit(const RolloutRecord& record, const ci::Redactor& redactor) {
  std::ostringstream out;
  Writer w(out, redactor);
  Counts total;
  for (const StepRecord& step : record.steps) {
    Counts c = Count(step);
    total.tests += c.tests, total.failures += c.failures, total.skipped += c.skipped;
    total.time += c.time;
  }
  w.xml().startDocument();
  w.Start("testsuites", {{"name", w.Attr("canaryctl " + record.app)},
                         {"tests", std::to_string(total.tests)},
                         {"failures", std::to_string(total.failures)},
                         {"errors", "0"},
                         {"skipped", std::to_string(total.skipped)},
                         {"time", SecondsText(total.time)}});
  for (const StepRecord& step : record.steps) {
    Counts c = Count(step);
    std::string label = w.Attr(StepLabel(step));
    std::vector<std::pair<std::string, std::string>> suite = {
        {"name", label},
        {"tests", std::to_string(c.tests)},
        {"failures", std::to_string(c.failures)},
        {"errors", "0"},
        {"skipped", std::to_string(c.skipped)},
        {"time", SecondsText(c.time)}};
    if (step.started_at != 0) suite.emplace_back("timestamp", IsoTimeUtc(step.started_at));
    w.Start("testsuite", suite);
    std::vector<std::string> names = UniqueCheckNames(step);
    for (size_t i = 0; i < step.checks.size(); ++i) {
      const CheckRecord& check = step.checks[i];
      w.Start("testcase", {{"classname", label},
                           {"name", w.Attr(names[i])},
                           {"time", SecondsText(check.duration)}});
      if (check.verdict == Verdict::kFail) {
        w.Start("failure", {{"message", w.Attr(check.message)}, {"type", "fail"}});
        w.Chars(w.Text(check.message));
        w.End("failure");
      } else if (check.verdict == Verdict::kInconclusive) {
        w.Start("skipped", {{"message", w.Attr(check.message)}});
        w.End("skipped");
      }
      if (!check.output.empty()) {
        w.Start("system-out", {});
        w.Chars(ToXmlText(KeepTail(redactor.Redact(check.output), kMaxOutputBytes)));
        w.End("system-out");
      }
      w.End("testcase");
    }
    w.End("testsuite");
  }
  w.End("testsuites");
  w.xml().endDocument();
  return out.str();
}

Status WriteJUnit(const std::string& dir, const RolloutRecord& record,
                  const ci::Redactor& redactor) {
  return WriteFileAtomically(dir, kJUnitFile, RenderJUnit(record, redactor));
}

}  // namespace canaryctl::report

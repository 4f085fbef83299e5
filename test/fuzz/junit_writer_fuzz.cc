// junit.xml (report/junit_writer.h) from any strings: the output parses as XML (Poco's DOM
// parser, as strict as GitLab's), and carries each check's name, message and output: exactly
// when the text is already valid one-line XML text, and never a registered secret.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include <Poco/AutoPtr.h>
#include <Poco/DOM/DOMParser.h>
#include <Poco/DOM/Document.h>
#include <Poco/DOM/Element.h>
#include <Poco/DOM/NodeList.h>
#include <Poco/SAX/InputSource.h>

#include "fuzz/fuzz_support.h"
#include "report/junit_writer.h"
#include "report/text.h"

using namespace canaryctl;
using Poco::XML::Element;

namespace {

// Text that the writer must pass through unchanged: valid XML characters on one line, short
// enough not to be cut.
bool Verbatim(const std::string& s, size_t max) {
  if (s.size() > max || s.find_first_of("\r\n\t") != std::string::npos) return false;
  return report::ToXmlText(s) == s;
}

// An alphanumeric secret of 8+ bytes with a lower-case letter cannot be produced by masking
// ("[MASKED]"), escaping or U+FFFD replacement, so it must never appear.
bool CheckableSecret(const std::string& s) {
  if (s.size() < 8) return false;
  bool lower = false;
  for (unsigned char c : s) {
    if (!std::isalnum(c)) return false;
    lower |= std::islower(c) != 0;
  }
  return lower;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // secret, app, then (name, message, output) per check; the first byte of a name picks the
  // verdict.
  std::vector<std::string> parts = fuzz::SplitInput(data, size, 2 + 3 * 4);
  ci::Redactor redactor;
  redactor.Add(parts[0]);
  report::RolloutRecord record;
  record.app = parts[1];
  report::StepRecord step;
  step.phase = "shift";
  step.weight = 30;
  for (size_t i = 2; i + 2 < parts.size(); i += 3) {
    report::CheckRecord check;
    check.name = parts[i];
    check.verdict = check.name.empty()         ? report::Verdict::kPass
                    : (check.name[0] & 3) == 1 ? report::Verdict::kFail
                    : (check.name[0] & 3) == 2 ? report::Verdict::kInconclusive
                                               : report::Verdict::kPass;
    check.message = parts[i + 1];
    check.output = parts[i + 2];
    step.checks.push_back(check);
  }
  record.steps.push_back(step);

  const std::string xml = report::RenderJUnit(record, redactor);
  Poco::AutoPtr<Poco::XML::Document> doc;
  try {
    std::istringstream in(xml);
    Poco::XML::InputSource source(in);
    doc = Poco::XML::DOMParser().parse(&source);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n%s\n", e.what(), xml.c_str());
    FUZZ_CHECK(false, "junit.xml is well-formed XML");
  }
  Poco::AutoPtr<Poco::XML::NodeList> cases = doc->getElementsByTagName("testcase");
  FUZZ_CHECK(cases->length() == step.checks.size(), "a testcase per check");
  const bool check_secret = redactor.size() > 0 && CheckableSecret(parts[0]);
  auto no_secret = [&](const std::string& text) {
    return !check_secret || text.find(parts[0]) == std::string::npos;
  };
  const std::vector<std::string> names = report::UniqueCheckNames(step);
  for (size_t i = 0; i < step.checks.size(); ++i) {
    const report::CheckRecord& check = step.checks[i];
    auto* testcase = static_cast<Element*>(cases->item(i));
    const std::string name = testcase->getAttribute("name");
    FUZZ_CHECK(no_secret(name), "no secret in a name");
    if (redactor.Redact(names[i]) == names[i] && Verbatim(names[i], 1024)) {
      FUZZ_CHECK(name == names[i], "the testcase carries the check's name");
    }
    Element* failure = testcase->getChildElement("failure");
    FUZZ_CHECK((failure != nullptr) == (check.verdict == report::Verdict::kFail),
               "a failed check has a <failure>");
    if (failure != nullptr) {
      FUZZ_CHECK(no_secret(failure->getAttribute("message")) && no_secret(failure->innerText()),
                 "no secret in a message");
      if (redactor.Redact(check.message) == check.message && Verbatim(check.message, 1024)) {
        FUZZ_CHECK(failure->getAttribute("message") == check.message, "the failure's message");
        FUZZ_CHECK(failure->innerText() == check.message, "the failure's text");
      }
    }
    Element* out = testcase->getChildElement("system-out");
    FUZZ_CHECK((out != nullptr) == !check.output.empty(), "output goes to <system-out>");
    if (out != nullptr) {
      FUZZ_CHECK(no_secret(out->innerText()), "no secret in the output");
      // Multi-line text is kept as it is, except CR, which XML parsers turn into LF.
      if (redactor.Redact(check.output) == check.output &&
          check.output.size() <= report::kMaxOutputBytes &&
          check.output.find('\r') == std::string::npos &&
          report::ToXmlText(check.output) == check.output) {
        FUZZ_CHECK(out->innerText() == check.output, "<system-out> carries the output");
      }
    }
  }
  return 0;
}

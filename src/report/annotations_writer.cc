#include "report/annotations_writer.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <sstream>

#include "report/atomic_file.h"
#include "report/text.h"

namespace canaryctl::report {

bool LinkableUrl(const std::string& url) {
  bool scheme = url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0;
  if (!scheme || url.size() <= 8) return false;
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

AnnotationsOutput RenderAnnotations(const RolloutRecord& record, const ci::Redactor& redactor) {
  AnnotationsOutput out;
  std::vector<Link> links;
  if (!record.environment_url.empty()) {
    std::string name = record.environment_name.empty() ? record.app : record.environment_name;
    links.push_back({"Environment: " + name, record.environment_url});
  }
  links.insert(links.end(), record.dashboards.begin(), record.dashboards.end());

  Poco::JSON::Array::Ptr items = new Poco::JSON::Array;
  for (const Link& link : links) {
    std::string url = ToValidUtf8(redactor.Redact(link.url));
    std::string label = OneLine(ToValidUtf8(redactor.Redact(link.label)));
    if (!LinkableUrl(url)) {
      out.warnings.push_back("annotations.json: dropped link '" + label + "': URL '" +
                             OneLine(url) + "' is not an absolute http(s) URL");
      continue;
    }
    Poco::JSON::Object::Ptr external = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    external->set("label", label.empty() ? url : label);
    external->set("url", url);
    Poco::JSON::Object::Ptr item = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    item->set("external_link", external);
    items->add(item);
  }
  Poco::JSON::Object root(Poco::JSON_PRESERVE_KEY_ORDER);
  root.set("canaryctl", items);
  std::ostringstream json;
  root.stringify(json, 2);
  out.text = json.str() + "\n";
  return out;
}

Status WriteAnnotations(const std::string& dir, const RolloutRecord& record,
                        const ci::Redactor& redactor, std::vector<std::string>* warnings) {
  AnnotationsOutput out = RenderAnnotations(record, redactor);
  if (warnings != nullptr)
    warnings->insert(warnings->end(), out.warnings.begin(), out.warnings.end());
  return WriteFileAtomically(dir, kAnnotationsFile, out.text);
}

}  // namespace canaryctl::report

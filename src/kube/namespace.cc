#include "kube/namespace.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>

#include <regex>
#include <sstream>

#include "kube/api.h"

namespace canaryctl::kube {
namespace {

constexpr const char* kNamespaces = "/api/v1/namespaces";

std::string Json(const Poco::JSON::Object::Ptr& object) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(object, out);
  return out.str();
}

Poco::JSON::Object::Ptr LabelsObject(const std::map<std::string, std::string>& labels) {
  Poco::JSON::Object::Ptr object = new Poco::JSON::Object;
  for (const auto& [key, value] : labels) object->set(key, value);
  return object;
}

class Ensurer {
 public:
  Ensurer(Client& client, const std::string& name, const std::map<std::string, std::string>& labels)
      : client_(client),
        name_(name),
        labels_(labels),
        path_(std::string(kNamespaces) + "/" + name) {}

  Status Run() {
    Request get{"GET", path_, {}, "", ""};
    auto got = Send(get, "cannot read it");
    if (!got.ok()) return got.error();
    if (got.value().status == 404) {
      auto created = Create();
      if (!created.ok()) return created.error();
      if (created.value()) return Done{};
      // 409: someone created it meanwhile; theirs may lack our labels.
      got = Send(get, "cannot read it");
      if (!got.ok()) return got.error();
    }
    auto object = ParseJsonObject(get, got.value());
    if (!object.ok()) return Fail("cannot read it", object.error());
    return Label(object.value());
  }

 private:
  // The response, or the transport error as this namespace's error.
  Result<Response> Send(const Request& request, const std::string& what) {
    auto response = client_.Send(request);
    if (!response.ok()) return Fail(what, response.error());
    return response;
  }

  Error Fail(const std::string& what, const Error& cause) const {
    return ClusterError("namespace \"" + name_ + "\": " + what + ": " + cause.message);
  }

  // True when created; false when it already existed (409).
  Result<bool> Create() {
    Poco::JSON::Object::Ptr metadata = new Poco::JSON::Object;
    metadata->set("name", name_);
    if (!labels_.empty()) metadata->set("labels", LabelsObject(labels_));
    Poco::JSON::Object::Ptr body =
        new Poco::JSON::Object;  // keys sorted: apiVersion, kind, metadata
    body->set("apiVersion", "v1");
    body->set("kind", "Namespace");
    body->set("metadata", metadata);
    Request post{"POST", kNamespaces, {}, Json(body), "application/json"};
    auto response = Send(post, "cannot create it");
    if (!response.ok()) return response.error();
    const int status = response.value().status;
    if (status == 409) return false;
    if (status < 200 || status > 299) {
      return Fail("cannot create it", ApiStatusError(post, response.value()));
    }
    return true;
  }

  Status Label(const Poco::JSON::Object::Ptr& ns) {
    Poco::JSON::Object::Ptr status = ns->getObject("status");
    if (status && status->optValue<std::string>("phase", "") == "Terminating") {
      return ClusterError("namespace \"" + name_ +
                          "\" is being deleted (phase Terminating); wait until it is gone");
    }
    Poco::JSON::Object::Ptr metadata = ns->getObject("metadata");
    Poco::JSON::Object::Ptr have = metadata ? metadata->getObject("labels") : nullptr;
    std::map<std::string, std::string> missing;
    for (const auto& [key, value] : labels_) {
      // Label values are always strings; anything else counts as different.
      const bool same = have && have->has(key) && have->get(key).isString() &&
                        have->getValue<std::string>(key) == value;
      if (!same) missing[key] = value;
    }
    if (missing.empty()) return Done{};
    Poco::JSON::Object::Ptr patch_metadata = new Poco::JSON::Object;
    patch_metadata->set("labels", LabelsObject(missing));
    Poco::JSON::Object::Ptr patch = new Poco::JSON::Object;
    patch->set("metadata", patch_metadata);
    Request request{"PATCH", path_, {}, Json(patch), "application/merge-patch+json"};
    auto response = Send(request, "cannot label it");
    if (!response.ok()) return response.error();
    if (response.value().status < 200 || response.value().status > 299) {
      return Fail("cannot label it", ApiStatusError(request, response.value()));
    }
    return Done{};
  }

  Client& client_;
  const std::string& name_;
  const std::map<std::string, std::string>& labels_;
  const std::string path_;
};

}  // namespace

Status EnsureNamespace(Client& client, const std::string& name,
                       const std::map<std::string, std::string>& labels) {
  // Checked here because the name becomes part of the request path.
  static const std::regex kLabel("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  if (name.size() > 63 || !std::regex_match(name, kLabel)) {
    return ConfigError("namespace \"" + name +
                       "\": not a DNS-1123 label (lower-case letters, digits and '-', at most 63 "
                       "characters)");
  }
  return Ensurer(client, name, labels).Run();
}

}  // namespace canaryctl::kube

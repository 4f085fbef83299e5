#include "sandbox/api_handler.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Exception.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>
#include <Poco/UUIDGenerator.h>

#include "sandbox/admission.h"
#include "sandbox/api_table.h"
#include "sandbox/apply.h"
#include "sandbox/discovery.h"
#include "sandbox/patch.h"
#include "sandbox/protobuf.h"
#include "sandbox/schema_validator.h"
#include "sandbox/selector.h"
#include "sandbox/yaml_json.h"

namespace sandbox {
namespace {

using json::ArrayPtr;
using json::ObjectPtr;
using json::Var;

constexpr const char* kJson = "application/json";
constexpr const char* kMergePatch = "application/merge-patch+json";
constexpr const char* kJsonPatch = "application/json-patch+json";
constexpr const char* kStrategicPatch = "application/strategic-merge-patch+json";
constexpr const char* kApplyPatch = "application/apply-patch+yaml";
constexpr const char* kProtobuf = "application/vnd.kubernetes.protobuf";
constexpr int kWriteAttempts = 5;
constexpr std::chrono::seconds kBookmarkInterval{5};
constexpr std::chrono::seconds kDefaultWatchTimeout{1800};

const ResourceRef kNamespaces{"", "namespaces"};
const ResourceRef kCrds{"apiextensions.k8s.io", "customresourcedefinitions"};

std::string NowRfc3339() {
  return Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y-%m-%dT%H:%M:%SZ");
}

int64_t NowUnix() { return Poco::Timestamp().epochTime(); }

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}

// "application/json; charset=utf-8" -> "application/json"
std::string MediaType(const std::string& content_type) {
  std::string media = content_type.substr(0, content_type.find(';'));
  media.erase(std::remove_if(media.begin(), media.end(), ::isspace), media.end());
  return Lower(media);
}

ApiError MakeError(int code, std::string reason, std::string message) {
  return ApiError{code, std::move(reason), std::move(message), "", "", "", {}};
}

ApiError NotFoundPath() {
  return MakeError(404, "NotFound", "the server could not find the requested resource");
}

ApiError MethodNotAllowed() {
  return MakeError(405, "MethodNotAllowed",
                   "the server does not allow this method on the requested resource");
}

// --- names ------------------------------------------------------------------------------------

bool IsAlnumLower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool IsDnsLabel(std::string_view s, bool must_start_alpha) {
  if (s.empty() || s.size() > 63) return false;
  if (!IsAlnumLower(s.front()) || !IsAlnumLower(s.back())) return false;
  if (must_start_alpha && !(s.front() >= 'a' && s.front() <= 'z')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsAlnumLower(c) || c == '-'; });
}

bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view part = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (part.empty() || !IsAlnumLower(part.front()) || !IsAlnumLower(part.back())) return false;
    if (!std::all_of(part.begin(), part.end(),
                     [](char c) { return IsAlnumLower(c) || c == '-'; })) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// The apiserver's name rules: namespaces are DNS labels, services DNS-1035 labels, RBAC
// objects any path segment, everything else DNS subdomains.
std::optional<std::string> NameProblem(const ResourceType& t, const std::string& name) {
  if (t.group == "rbac.authorization.k8s.io") {
    if (name == "." || name == ".." || name.find_first_of("/%") != std::string::npos) {
      return "may not contain '/' or '%' and may not be '.' or '..'";
    }
    return std::nullopt;
  }
  if (t.group.empty() && t.resource == "namespaces") {
    if (IsDnsLabel(name, false)) return std::nullopt;
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
           "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
           "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
  }
  if (t.group.empty() && t.resource == "services") {
    if (IsDnsLabel(name, true)) return std::nullopt;
    return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
           "with an alphabetic character, and end with an alphanumeric character (e.g. "
           "'my-name',  or 'abc-123', regex used for validation is "
           "'[a-z]([-a-z0-9]*[a-z0-9])?')";
  }
  if (IsDnsSubdomain(name)) return std::nullopt;
  return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
         "'-' or '.', and must start and end with an alphanumeric character (e.g. "
         "'example.com', regex used for validation is "
         "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
}

std::string Base64(const std::string& s) {
  std::ostringstream out;
  Poco::Base64Encoder enc(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
  enc << s;
  enc.close();
  return out.str();
}

std::string Unbase64(const std::string& s) {
  try {
    std::istringstream in(s);
    Poco::Base64Decoder dec(in, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
    std::string out((std::istreambuf_iterator<char>(dec)), std::istreambuf_iterator<char>());
    return out;
  } catch (const Poco::Exception&) {
    return "";
  }
}

std::string ObjectKey(const ObjectPtr& obj) {
  return json::GetString(obj, "metadata.namespace").value_or("") + "/" +
         json::GetString(obj, "metadata.name").value_or("");
}

std::string QuoteForWarning(const std::string& text) {
  std::string out = "\"";
  for (char ch : text) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

void SetPath(ObjectPtr obj, const std::string& dotted, const Var& value) {
  size_t dot = dotted.rfind('.');
  ObjectPtr parent =
      dot == std::string::npos ? obj : json::EnsureObject(obj, dotted.substr(0, dot));
  parent->set(dot == std::string::npos ? dotted : dotted.substr(dot + 1), value);
}

// A label selector object ({matchLabels, matchExpressions}) as the string form.
std::string SelectorString(const ObjectPtr& selector) {
  if (!selector) return "";
  std::string out;
  if (ObjectPtr labels = json::GetObject(selector, "matchLabels")) {
    for (const auto& [k, v] : *labels) {
      if (!out.empty()) out += ",";
      out += k + "=" + v.convert<std::string>();
    }
  }
  if (ArrayPtr exprs = json::GetArray(selector, "matchExpressions")) {
    for (size_t i = 0; i < exprs->size(); ++i) {
      ObjectPtr e = json::AsObject(exprs->get(i));
      if (!e) continue;
      std::string key = json::GetString(e, "key").value_or("");
      std::string op = json::GetString(e, "operator").value_or("");
      std::string values;
      if (ArrayPtr vs = json::GetArray(e, "values")) {
        for (size_t j = 0; j < vs->size(); ++j) {
          values += (j ? "," : "") + vs->get(j).convert<std::string>();
        }
      }
      if (!out.empty()) out += ",";
      if (op == "In")
        out += key + " in (" + values + ")";
      else if (op == "NotIn")
        out += key + " notin (" + values + ")";
      else if (op == "Exists")
        out += key;
      else if (op == "DoesNotExist")
        out += "!" + key;
    }
  }
  return out;
}

}  // namespace

// ------------------------------------------------------------------------------------------------

struct ApiHandler::Impl {
  struct Ctx {
    Poco::Net::HTTPServerRequest& req;
    Poco::Net::HTTPServerResponse& resp;
    std::string method;
    std::string path;
    std::map<std::string, std::string> query;
    std::vector<std::string> warnings;
    bool sent = false;

    std::string Param(const std::string& name) const {
      auto it = query.find(name);
      return it == query.end() ? "" : it->second;
    }
    bool Has(const std::string& name) const { return query.count(name) > 0; }
    bool DryRun() const { return Param("dryRun") == "All"; }
  };

  struct Target {
    ResourceType type;
    std::string ns;
    bool ns_in_path = false;
    std::string name;
    std::string sub;
    bool watch_path = false;
  };

  Impl(ApiHandler& owner)
      : h(owner), store(owner.store_), registry(owner.registry_), openapi(owner.registry_) {}

  ApiHandler& h;
  Store& store;
  ResourceRegistry& registry;
  discovery::OpenApi openapi;
  std::mutex watch_mu;
  std::set<std::shared_ptr<Watcher>> watchers;

  // --- responses ------------------------------------------------------------------------------

  void SendText(Ctx& c, int code, const std::string& text, const std::string& type = kJson) {
    c.resp.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(code));
    c.resp.setContentType(type);
    for (const auto& w : c.warnings) c.resp.add("Warning", "299 - " + QuoteForWarning(w));
    c.resp.sendBuffer(text.data(), text.size());
    c.sent = true;
  }

  void SendJson(Ctx& c, int code, const Var& value) { SendText(c, code, json::Stringify(value)); }

  void SendError(Ctx& c, const ApiError& e) { SendJson(c, e.code, e.ToStatus()); }

  static void Present(ObjectPtr obj, const ResourceType& t) {
    obj->set("apiVersion", t.api_version());
    obj->set("kind", t.kind);
  }

  static void ToStorage(ObjectPtr obj, const ResourceType& t) {
    obj->set("apiVersion", t.group.empty() ? t.storage_version : t.group + "/" + t.storage_version);
    obj->set("kind", t.kind);
  }

  static bool WantsTable(const Ctx& c) {
    return c.req.get("Accept", "").find("as=Table") != std::string::npos;
  }
  static bool WantsPartial(const Ctx& c) {
    return c.req.get("Accept", "").find("as=PartialObjectMetadata") != std::string::npos;
  }

  std::string Manager(const Ctx& c) const {
    std::string m = c.Param("fieldManager");
    if (!m.empty()) return m;
    std::string ua = c.req.get("User-Agent", "");
    m = ua.substr(0, ua.find('/'));
    if (m.size() > 128) m.resize(128);
    return m.empty() ? "unknown" : m;
  }

  // --- request bodies -------------------------------------------------------------------------

  Result<std::string> ReadBody(Ctx& c) {
    const size_t limit = h.options_.max_body_bytes;
    ApiError too_large = MakeError(413, "RequestEntityTooLarge",
                                   "Request entity too large: limit is " + std::to_string(limit));
    if (c.req.getContentLength64() > static_cast<Poco::Int64>(limit)) {
      c.resp.setKeepAlive(false);  // the unread body would be taken for the next request
      return too_large;
    }
    std::istream& in = c.req.stream();
    std::string body;
    char buf[16384];
    while (in.good()) {
      in.read(buf, sizeof buf);
      body.append(buf, static_cast<size_t>(in.gcount()));
      if (body.size() > limit) {
        c.resp.setKeepAlive(false);
        return too_large;
      }
    }
    return body;
  }

  Result<ObjectPtr> DecodeObject(const Ctx& c, const std::string& body) {
    std::string content_type = c.req.getContentType();
    std::string media = MediaType(content_type);
    if (media.empty() || media == kJson || media == "*/*") return json::ParseObject(body);
    if (media == "application/yaml" || media == "application/x-yaml" || media == "text/yaml") {
      return ParseYamlObject(body);
    }
    if (media == kProtobuf) return protobuf::Decode(body);
    return MakeError(415, "UnsupportedMediaType",
                     "the body of the request was in an unknown format - accepted media types "
                     "include: application/json, application/yaml, "
                     "application/vnd.kubernetes.protobuf (got " +
                         content_type + ")");
  }

  // apiVersion/kind in a body must name the resource of the URL; absent ones are filled in.
  static std::optional<ApiError> CheckTypeMeta(ObjectPtr obj, const ResourceType& t,
                                               bool required) {
    auto api_version = json::GetString(obj, "apiVersion");
    auto kind = json::GetString(obj, "kind");
    if (required && (!api_version || !kind || api_version->empty() || kind->empty())) {
      return ApiError::BadRequest("invalid object: apiVersion and kind must be set");
    }
    if (api_version && !api_version->empty() && *api_version != t.api_version()) {
      return ApiError::BadRequest("the API version in the data (" + *api_version +
                                  ") does not match the expected API version (" + t.api_version() +
                                  ")");
    }
    if (kind && !kind->empty() && *kind != t.kind) {
      return ApiError::BadRequest("the kind in the data (" + *kind +
                                  ") does not match the expected kind (" + t.kind + ")");
    }
    Present(obj, t);
    return std::nullopt;
  }

  // Name and namespace in a body must match the URL; absent ones are filled in.
  static std::optional<ApiError> CheckObjectMeta(ObjectPtr obj, const Target& t,
                                                 bool name_from_url) {
    ObjectPtr meta = json::EnsureObject(obj, "metadata");
    if (name_from_url) {
      std::string name = json::GetString(meta, "name").value_or("");
      if (!name.empty() && name != t.name) {
        return ApiError::BadRequest("the name of the object (" + name +
                                    ") does not match the name on the URL (" + t.name + ")");
      }
      meta->set("name", t.name);
    }
    if (t.type.namespaced) {
      std::string ns = json::GetString(meta, "namespace").value_or("");
      if (!ns.empty() && ns != t.ns) {
        return ApiError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the "
            "request");
      }
      meta->set("namespace", t.ns);
    } else {
      meta->remove("namespace");
    }
    return std::nullopt;
  }

  std::optional<ApiError> CheckNamespaceExists(const Target& t) {
    if (!t.type.namespaced) return std::nullopt;
    auto ns = store.Get(kNamespaces, "", t.ns);
    if (!ns.ok()) return ApiError::NotFound("", "namespaces", t.ns);
    if (json::GetString(ns.value(), "metadata.deletionTimestamp")) {
      return MakeError(403, "Forbidden",
                       t.type.resource + " \"" + t.name +
                           "\" is forbidden: unable to create new "
                           "content in namespace " +
                           t.ns + " because it is being terminated");
    }
    return std::nullopt;
  }

  // --- admission ------------------------------------------------------------------------------

  // The status and scale subresources, and the main resource of a kind with a status
  // subresource, each change only their part of the object.
  static ObjectPtr Finalize(const Target& t, const ObjectPtr& old, ObjectPtr candidate) {
    if (t.sub == "status") {
      ObjectPtr result = json::DeepCopy(old);
      if (candidate->has("status")) {
        result->set("status", candidate->get("status"));
      } else {
        result->remove("status");
      }
      return result;
    }
    if (t.type.status_subresource && old) {
      if (old->has("status")) {
        candidate->set("status", old->get("status"));
      } else {
        candidate->remove("status");
      }
    }
    return candidate;
  }

  std::optional<ApiError> ValidateCrd(ObjectPtr crd, const ObjectPtr& old) {
    std::string name = json::GetString(crd, "metadata.name").value_or("");
    std::string group = json::GetString(crd, "spec.group").value_or("");
    std::string plural = json::GetString(crd, "spec.names.plural").value_or("");
    std::vector<StatusCause> causes;
    if (group.empty()) {
      causes.push_back({"FieldValueRequired", "Required value", "spec.group"});
    } else if (group.find('.') == std::string::npos) {
      causes.push_back(
          {"FieldValueInvalid",
           "Invalid value: \"" + group + "\": should be a domain with at least one dot",
           "spec.group"});
    }
    if (plural.empty())
      causes.push_back({"FieldValueRequired", "Required value", "spec.names.plural"});
    if (!json::GetString(crd, "spec.names.kind")) {
      causes.push_back({"FieldValueRequired", "Required value", "spec.names.kind"});
    }
    if (!group.empty() && !plural.empty() && name != plural + "." + group) {
      causes.push_back(
          {"FieldValueInvalid",
           "Invalid value: \"" + name + "\": must be spec.names.plural+\".\"+spec.group",
           "metadata.name"});
    }
    ArrayPtr versions = json::GetArray(crd, "spec.versions");
    int storage = 0;
    std::string storage_version;
    for (size_t i = 0; versions && i < versions->size(); ++i) {
      ObjectPtr v = json::AsObject(versions->get(i));
      if (v && json::GetBool(v, "storage").value_or(false)) {
        ++storage;
        storage_version = json::GetString(v, "name").value_or("");
      }
    }
    if (!versions || versions->size() == 0) {
      causes.push_back({"FieldValueRequired", "Required value", "spec.versions"});
    } else if (storage != 1) {
      causes.push_back({"FieldValueInvalid",
                        "Invalid value: " + std::to_string(storage) +
                            ": must have exactly one version marked as storage version",
                        "spec.versions"});
    }
    if (!causes.empty()) {
      return ApiError::Invalid("apiextensions.k8s.io", "CustomResourceDefinition", name, causes);
    }
    // Names are accepted and the CRD established at once: there is nothing to wait for here.
    ObjectPtr status = new json::Object;
    ObjectPtr accepted = json::DeepCopy(json::GetObject(crd, "spec.names"));
    if (!accepted->has("singular"))
      accepted->set("singular", Lower(json::GetString(accepted, "kind").value_or("")));
    if (!accepted->has("listKind")) {
      accepted->set("listKind", json::GetString(accepted, "kind").value_or("") + "List");
    }
    status->set("acceptedNames", accepted);
    std::string now = NowRfc3339();
    ArrayPtr conditions = new json::Array;
    auto condition = [&](const char* type, const char* reason, const char* message) {
      ObjectPtr cond = new json::Object;
      cond->set("type", type);
      cond->set("status", "True");
      cond->set("reason", reason);
      cond->set("message", message);
      cond->set("lastTransitionTime", now);
      conditions->add(cond);
    };
    condition("NamesAccepted", "NoConflicts", "no conflicts found");
    condition("Established", "InitialNamesAccepted", "the initial names have been accepted");
    status->set("conditions", conditions);
    ArrayPtr stored = new json::Array;
    if (ArrayPtr before = old ? json::GetArray(old, "status.storedVersions") : nullptr) {
      for (size_t i = 0; i < before->size(); ++i) stored->add(before->get(i));
    }
    bool have = false;
    for (size_t i = 0; i < stored->size(); ++i) {
      if (stored->get(i).convert<std::string>() == storage_version) have = true;
    }
    if (!have) stored->add(storage_version);
    status->set("storedVersions", stored);
    crd->set("status", status);
    return std::nullopt;
  }

  // Admission for built-ins, schema validation for custom resources. obj changes in place.
  std::optional<ApiError> Validate(Ctx& c, const Target& t, const ObjectPtr& obj,
                                   const ObjectPtr& old) {
    const ResourceType& type = t.type;
    std::string name = json::GetString(obj, "metadata.name").value_or("");
    if (!type.builtin) {
      if (!type.schema) return std::nullopt;
      std::string mode = c.Param("fieldValidation");
      bool strict = mode == "Strict";
      SchemaValidator validator(type.schema);
      ValidationResult r = validator.Validate(obj, !strict);
      if (strict && !r.unknown_fields.empty()) {
        std::string message = "strict decoding error: ";
        for (size_t i = 0; i < r.unknown_fields.size(); ++i) {
          message += (i ? ", " : "") + std::string("unknown field \"") + r.unknown_fields[i] + "\"";
        }
        return ApiError::BadRequest(message);
      }
      if (!r.causes.empty()) return ApiError::Invalid(type.group, type.kind, name, r.causes);
      if (mode != "Ignore") {
        for (const auto& f : r.unknown_fields) c.warnings.push_back("unknown field \"" + f + "\"");
      }
      return std::nullopt;
    }
    if (t.sub == "status") return std::nullopt;
    if (type.ref() == kCrds) {
      if (auto e = ValidateCrd(obj, old)) return e;
    }
    Status admitted = Admit(type.ref(), obj, old, store);
    if (!admitted.ok()) return admitted.error();
    return std::nullopt;
  }

  // After a CRD changed, discovery follows at once.
  void AfterWrite(const Target& t, const ObjectPtr& stored) {
    if (t.type.ref() == kCrds && !t.sub.empty()) return;
    if (t.type.ref() == kCrds) registry.RegisterCrd(stored);
  }

  // --- routing --------------------------------------------------------------------------------

  void Serve(Ctx& c) {
    Poco::URI uri(c.req.getURI());
    c.path = uri.getPath();
    for (const auto& [k, v] : uri.getQueryParameters()) c.query[k] = v;
    c.method = c.req.getMethod();
    while (c.path.size() > 1 && c.path.back() == '/') c.path.pop_back();

    const std::string& p = c.path;
    if (p == "/healthz" || p == "/readyz" || p == "/livez" || p.rfind("/healthz/", 0) == 0 ||
        p.rfind("/readyz/", 0) == 0 || p.rfind("/livez/", 0) == 0) {
      return SendText(c, 200, "ok", "text/plain; charset=utf-8");
    }
    if (p == "/version") return SendJson(c, 200, discovery::Version());
    if (p == "/api") return SendJson(c, 200, discovery::ApiVersions());
    if (p == "/apis") return SendJson(c, 200, discovery::ApiGroupList(registry));
    if (p == "/openapi/v3") return SendText(c, 200, openapi.Index());
    if (p.rfind("/openapi/v3/", 0) == 0) {
      auto doc = openapi.Document(p.substr(12));
      if (!doc) return SendError(c, NotFoundPath());
      c.resp.set("Cache-Control", "public, immutable");
      return SendText(c, 200, *doc);
    }

    std::vector<std::string> seg;
    std::istringstream parts(p);
    for (std::string s; std::getline(parts, s, '/');) {
      if (!s.empty()) seg.push_back(s);
    }
    if (seg.empty()) return SendError(c, NotFoundPath());
    std::string group, version;
    size_t rest = 0;
    if (seg[0] == "api" && seg.size() >= 2) {
      version = seg[1];
      rest = 2;
    } else if (seg[0] == "apis" && seg.size() >= 2) {
      group = seg[1];
      if (seg.size() == 2) {
        auto g = discovery::ApiGroup(registry, group);
        return g ? SendJson(c, 200, *g) : SendError(c, NotFoundPath());
      }
      version = seg[2];
      rest = 3;
    } else {
      return SendError(c, NotFoundPath());
    }
    std::vector<std::string> r(seg.begin() + static_cast<long>(rest), seg.end());
    if (r.empty()) {
      auto list = discovery::ApiResourceList(registry, group, version);
      return list ? SendJson(c, 200, *list) : SendError(c, NotFoundPath());
    }
    Target t;
    if (r[0] == "watch") {
      t.watch_path = true;
      r.erase(r.begin());
    }
    if (r.size() >= 3 && r[0] == "namespaces" &&
        !(r.size() == 3 && (r[2] == "status" || r[2] == "finalize"))) {
      t.ns = r[1];
      t.ns_in_path = true;
      r.erase(r.begin(), r.begin() + 2);
    }
    if (r.empty() || r.size() > 3) return SendError(c, NotFoundPath());
    auto type = registry.Find(group, version, r[0]);
    if (!type || !type->served) return SendError(c, NotFoundPath());
    t.type = std::move(*type);
    if (t.ns_in_path && !t.type.namespaced) return SendError(c, NotFoundPath());
    if (r.size() >= 2) t.name = r[1];
    if (r.size() == 3) {
      t.sub = r[2] == "finalize" ? "" : r[2];
      if (!((t.sub == "status" && t.type.status_subresource) ||
            (t.sub == "scale" && t.type.scale_subresource) || r[2] == "finalize")) {
        return SendError(c, NotFoundPath());
      }
    }

    const std::string& m = c.method;
    if (m == "GET") {
      if (t.name.empty()) return ListOrWatch(c, t);
      return Get(c, t);
    }
    if (t.watch_path) return SendError(c, MethodNotAllowed());
    if (m == "POST" && t.name.empty()) {
      if (t.type.namespaced && !t.ns_in_path) return SendError(c, MethodNotAllowed());
      return Create(c, t);
    }
    if (m == "PUT" && !t.name.empty()) return Update(c, t);
    if (m == "PATCH" && !t.name.empty()) return Patch(c, t);
    if (m == "DELETE") return t.name.empty() ? DeleteCollection(c, t) : Delete(c, t);
    return SendError(c, MethodNotAllowed());
  }

  // --- reads ----------------------------------------------------------------------------------

  void Get(Ctx& c, const Target& t) {
    auto got = store.Get(t.type.ref(), t.ns, t.name);
    if (!got.ok()) return SendError(c, got.error());
    ObjectPtr obj = got.value();
    Present(obj, t.type);
    if (t.sub == "scale") return SendJson(c, 200, ScaleOf(obj, t.type));
    if (WantsTable(c)) {
      std::string include = c.Param("includeObject");
      return SendJson(
          c, 200,
          table::ToTable(t.type, {obj}, include.empty() ? "Metadata" : include,
                         json::GetString(obj, "metadata.resourceVersion").value_or(""), NowUnix()));
    }
    if (WantsPartial(c)) return SendJson(c, 200, table::ToPartial(obj));
    SendJson(c, 200, obj);
  }

  Result<ObjectFilter> MakeFilter(const Ctx& c) {
    std::optional<LabelSelector> labels;
    std::optional<FieldSelector> fields;
    if (!c.Param("labelSelector").empty()) {
      auto ls = LabelSelector::Parse(c.Param("labelSelector"));
      if (!ls.ok()) return ls.error();
      labels = std::move(ls).value();
    }
    if (!c.Param("fieldSelector").empty()) {
      auto fs = FieldSelector::Parse(c.Param("fieldSelector"));
      if (!fs.ok()) return fs.error();
      fields = std::move(fs).value();
    }
    if (!labels && !fields) return ObjectFilter(nullptr);
    return ObjectFilter([labels, fields](const ObjectPtr& obj) {
      if (labels && !labels->Matches(json::GetObject(obj, "metadata.labels"))) return false;
      if (fields && !fields->Matches(obj)) return false;
      return true;
    });
  }

  void ListOrWatch(Ctx& c, const Target& t) {
    auto filter = MakeFilter(c);
    if (!filter.ok()) return SendError(c, filter.error());
    std::string watch = c.Param("watch");
    if (t.watch_path || watch == "true" || watch == "1") return Watch(c, t, filter.value());

    ListResult list = store.List(t.type.ref(), t.ns, filter.value());
    std::vector<ObjectPtr> items = std::move(list.items);
    std::string next;
    // Pages resume after the last key served, so a continue token survives writes between pages.
    std::string cont = Unbase64(c.Param("continue"));
    if (!cont.empty()) {
      std::erase_if(items, [&](const ObjectPtr& o) { return ObjectKey(o) <= cont; });
    }
    int64_t limit = 0;
    try {
      if (!c.Param("limit").empty()) limit = std::stoll(c.Param("limit"));
    } catch (const std::exception&) {
      limit = 0;
    }
    int64_t remaining = 0;
    if (limit > 0 && static_cast<int64_t>(items.size()) > limit) {
      remaining = static_cast<int64_t>(items.size()) - limit;
      items.resize(static_cast<size_t>(limit));
      next = Base64(ObjectKey(items.back()));
    }
    for (auto& item : items) Present(item, t.type);
    std::string rv = std::to_string(list.resource_version);

    if (WantsTable(c)) {
      std::string include = c.Param("includeObject");
      ObjectPtr tbl =
          table::ToTable(t.type, items, include.empty() ? "Metadata" : include, rv, NowUnix());
      if (!next.empty()) json::GetObject(tbl, "metadata")->set("continue", next);
      return SendJson(c, 200, tbl);
    }
    ObjectPtr out = new json::Object;
    ObjectPtr meta = new json::Object;
    meta->set("resourceVersion", rv);
    if (!next.empty()) {
      meta->set("continue", next);
      meta->set("remainingItemCount", remaining);
    }
    ArrayPtr array = new json::Array;
    if (WantsPartial(c)) {
      out->set("apiVersion", "meta.k8s.io/v1");
      out->set("kind", "PartialObjectMetadataList");
      for (const auto& item : items) array->add(table::ToPartial(item));
    } else {
      out->set("apiVersion", t.type.api_version());
      out->set("kind", t.type.list_kind);
      for (const auto& item : items) array->add(item);
    }
    out->set("metadata", meta);
    out->set("items", array);
    SendJson(c, 200, out);
  }

  // --- watches --------------------------------------------------------------------------------

  // The client went away: its socket reads as closed. Poco tells nothing otherwise until a
  // write fails, which may be long on a quiet watch.
  static bool ClientGone(Ctx& c) {
    auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&c.req);
    if (!impl) return false;
    try {
      Poco::Net::StreamSocket& socket = impl->socket();
      if (socket.poll(Poco::Timespan(0),
                      Poco::Net::Socket::SELECT_READ | Poco::Net::Socket::SELECT_ERROR)) {
        return socket.available() <= 0;
      }
    } catch (const Poco::Exception&) {
      return true;
    }
    return false;
  }

  void Watch(Ctx& c, const Target& t, const ObjectFilter& filter) {
    const bool send_initial_events = c.Param("sendInitialEvents") == "true";
    const bool bookmarks = c.Param("allowWatchBookmarks") == "true";
    const bool as_table = WantsTable(c);
    const std::string rv_param = c.Param("resourceVersion");
    auto timeout = kDefaultWatchTimeout;
    if (!c.Param("timeoutSeconds").empty()) {
      try {
        timeout = std::chrono::seconds(std::max(0LL, std::stoll(c.Param("timeoutSeconds"))));
      } catch (const std::exception&) {
        return SendError(c, ApiError::BadRequest("invalid timeoutSeconds"));
      }
    }

    // As the apiserver: with no resourceVersion (or "0") the watch starts with the current
    // state as ADDED events; sendInitialEvents adds the bookmark that ends them; an explicit
    // resourceVersion replays from there.
    const bool initial = send_initial_events || rv_param.empty() || rv_param == "0";
    uint64_t since = 0;
    if (!initial) {
      try {
        since = std::stoull(rv_param);
      } catch (const std::exception&) {
        return SendError(c, ApiError::BadRequest("invalid resourceVersion: " + rv_param));
      }
    }
    auto started = store.Watch(t.type.ref(), t.ns, since, filter);
    std::shared_ptr<Watcher> watcher;
    std::optional<ApiError> start_error;
    if (started.ok()) {
      watcher = started.value();
    } else {
      start_error = started.error();
      if (start_error->code != 410) return SendError(c, *start_error);
    }
    // Start the watch before listing: events already in the list are skipped by version.
    std::vector<ObjectPtr> items;
    uint64_t last_rv = since;
    if (initial && watcher) {
      ListResult list = store.List(t.type.ref(), t.ns, filter);
      items = std::move(list.items);
      last_rv = list.resource_version;
    }
    if (watcher) {
      std::lock_guard lock(watch_mu);
      watchers.insert(watcher);
    }
    struct Unregister {
      Impl* impl;
      std::shared_ptr<Watcher> w;
      ~Unregister() {
        if (!w) return;
        w->Stop();
        std::lock_guard lock(impl->watch_mu);
        impl->watchers.erase(w);
      }
    } unregister{this, watcher};
    if (h.shutting_down_ && watcher) watcher->Stop();

    c.resp.setChunkedTransferEncoding(true);
    c.resp.setContentType(kJson);
    c.resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
    c.resp.set("Cache-Control", "no-cache, private");
    std::ostream& out = c.resp.send();
    c.sent = true;

    auto write = [&](const char* type, const ObjectPtr& object) {
      ObjectPtr event = new json::Object;
      event->set("type", type);
      if (as_table && std::string(type) != "BOOKMARK" && std::string(type) != "ERROR") {
        ObjectPtr tbl = table::ToTable(
            t.type, {object},
            c.Param("includeObject").empty() ? "Metadata" : c.Param("includeObject"),
            json::GetString(object, "metadata.resourceVersion").value_or(""), NowUnix());
        event->set("object", tbl);
      } else {
        event->set("object", object);
      }
      out << json::Stringify(event) << "\n";
      out.flush();
      return out.good();
    };
    auto bookmark = [&](bool initial_end) {
      ObjectPtr obj = new json::Object;
      Present(obj, t.type);
      ObjectPtr meta = new json::Object;
      meta->set("resourceVersion", std::to_string(last_rv));
      if (initial_end) {
        ObjectPtr annotations = new json::Object;
        annotations->set("k8s.io/initial-events-end", "true");
        meta->set("annotations", annotations);
      }
      obj->set("metadata", meta);
      return write("BOOKMARK", obj);
    };

    if (start_error) {
      write("ERROR", start_error->ToStatus());
      return;
    }
    for (auto& item : items) {
      Present(item, t.type);
      if (!write("ADDED", item)) return;
    }
    if (send_initial_events && !bookmark(true)) return;

    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto last_bookmark = std::chrono::steady_clock::now();
    while (!h.shutting_down_ && !watcher->stopped()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      auto ev = watcher->Next(std::min(left, std::chrono::milliseconds(1000)));
      if (ev) {
        if (ev->resource_version <= last_rv && initial) continue;
        last_rv = std::max(last_rv, ev->resource_version);
        ObjectPtr obj = json::DeepCopy(ev->object);
        Present(obj, t.type);
        if (!write(EventTypeName(ev->type), obj)) return;
        continue;
      }
      if (h.shutting_down_) break;
      if (ClientGone(c)) return;
      auto now_tp = std::chrono::steady_clock::now();
      if (bookmarks && now_tp - last_bookmark >= kBookmarkInterval) {
        last_bookmark = now_tp;
        if (!bookmark(false)) return;
      }
    }
  }

  // --- scale ----------------------------------------------------------------------------------

  static ObjectPtr ScaleOf(const ObjectPtr& obj, const ResourceType& t) {
    ObjectPtr scale = new json::Object;
    scale->set("apiVersion", "autoscaling/v1");
    scale->set("kind", "Scale");
    ObjectPtr meta = new json::Object;
    for (const char* key : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
      if (auto v = json::GetString(obj, std::string("metadata.") + key)) meta->set(key, *v);
    }
    scale->set("metadata", meta);
    ObjectPtr spec = new json::Object;
    spec->set("replicas", json::GetInt(obj, t.scale_spec_path).value_or(t.builtin ? 1 : 0));
    scale->set("spec", spec);
    ObjectPtr status = new json::Object;
    status->set("replicas", json::GetInt(obj, t.scale_status_path).value_or(0));
    if (!t.scale_selector_path.empty()) {
      if (t.builtin) {
        std::string sel = SelectorString(json::GetObject(obj, t.scale_selector_path));
        if (!sel.empty()) status->set("selector", sel);
      } else if (auto sel = json::GetString(obj, t.scale_selector_path)) {
        status->set("selector", *sel);
      }
    }
    scale->set("status", status);
    return scale;
  }

  // --- writes ---------------------------------------------------------------------------------

  void Create(Ctx& c, const Target& t) {
    auto body = ReadBody(c);
    if (!body.ok()) return SendError(c, body.error());
    auto decoded = DecodeObject(c, body.value());
    if (!decoded.ok()) return SendError(c, decoded.error());
    ObjectPtr obj = decoded.value();
    if (auto e = CheckTypeMeta(obj, t.type, false)) return SendError(c, *e);
    if (auto e = CheckObjectMeta(obj, t, false)) return SendError(c, *e);
    Target target = t;
    target.name = json::GetString(obj, "metadata.name").value_or("");
    auto created = CreateObject(c, target, obj);
    if (!created.ok()) return SendError(c, created.error());
    SendJson(c, 201, created.value());
  }

  // The shared end of POST and of an apply that creates: checks, admission, store.
  Result<ObjectPtr> CreateObject(Ctx& c, const Target& t, ObjectPtr obj) {
    ObjectPtr meta = json::EnsureObject(obj, "metadata");
    std::string name = json::GetString(meta, "name").value_or("");
    std::string generate = json::GetString(meta, "generateName").value_or("");
    if (name.empty() && generate.empty()) {
      return ApiError::Invalid(
          t.type.group, t.type.kind, "",
          {{"FieldValueRequired", "Required value: name or generateName is required",
            "metadata.name"}});
    }
    if (!name.empty()) {
      if (auto problem = NameProblem(t.type, name)) {
        return ApiError::Invalid(
            t.type.group, t.type.kind, name,
            {{"FieldValueInvalid", "Invalid value: \"" + name + "\": " + *problem,
              "metadata.name"}});
      }
    }
    if (!json::GetString(meta, "resourceVersion").value_or("").empty()) {
      return ApiError::BadRequest("resourceVersion should not be set on objects to be created");
    }
    meta->remove("resourceVersion");
    if (auto e = CheckNamespaceExists(t)) return *e;
    if (t.type.status_subresource) obj->remove("status");
    if (auto e = Validate(c, t, obj, nullptr)) return *e;
    ObjectPtr recorded = apply::RecordUpdate(new json::Object, obj, Manager(c), NowRfc3339());
    ToStorage(recorded, t.type);
    if (c.DryRun()) {
      ObjectPtr m = json::EnsureObject(recorded, "metadata");
      if (name.empty()) m->set("name", generate + "dryrn");
      m->set("uid", Poco::UUIDGenerator::defaultGenerator().createRandom().toString());
      m->set("creationTimestamp", NowRfc3339());
      m->set("generation", 1);
      Present(recorded, t.type);
      return recorded;
    }
    auto created = store.Create(t.type.ref(), t.ns, recorded);
    if (!created.ok()) return created.error();
    AfterWrite(t, created.value());
    Present(created.value(), t.type);
    return created.value();
  }

  // The shared end of PUT and PATCH: admission, managedFields, store with a precondition.
  Result<ObjectPtr> UpdateObject(Ctx& c, const Target& t, const ObjectPtr& old,
                                 const ObjectPtr& candidate, const std::string& precondition,
                                 bool record) {
    ObjectPtr updated = Finalize(t, old, candidate);
    ObjectPtr meta = json::EnsureObject(updated, "metadata");
    meta->set("name", t.name);
    if (t.type.namespaced) meta->set("namespace", t.ns);
    if (!meta->has("managedFields")) {
      if (ArrayPtr mf = json::GetArray(old, "metadata.managedFields"))
        meta->set("managedFields", mf);
    }
    Present(updated, t.type);
    if (auto e = Validate(c, t, updated, old)) return *e;
    if (record) updated = apply::RecordUpdate(old, updated, Manager(c), NowRfc3339());
    ToStorage(updated, t.type);
    if (c.DryRun()) {
      Present(updated, t.type);
      return updated;
    }
    auto stored = store.Update(t.type.ref(), t.ns, updated, precondition);
    if (!stored.ok()) return stored.error();
    AfterWrite(t, stored.value());
    Present(stored.value(), t.type);
    return stored.value();
  }

  Result<ObjectPtr> GetPresented(const Target& t) {
    auto got = store.Get(t.type.ref(), t.ns, t.name);
    if (got.ok()) Present(got.value(), t.type);
    return got;
  }

  void Update(Ctx& c, const Target& t) {
    auto body = ReadBody(c);
    if (!body.ok()) return SendError(c, body.error());
    auto decoded = DecodeObject(c, body.value());
    if (!decoded.ok()) return SendError(c, decoded.error());
    ObjectPtr obj = decoded.value();
    if (t.sub == "scale") return UpdateScale(c, t, obj, nullptr);
    if (auto e = CheckTypeMeta(obj, t.type, false)) return SendError(c, *e);
    if (auto e = CheckObjectMeta(obj, t, true)) return SendError(c, *e);
    auto old = GetPresented(t);
    if (!old.ok()) return SendError(c, old.error());
    std::string precondition = json::GetString(obj, "metadata.resourceVersion").value_or("");
    auto updated = UpdateObject(c, t, old.value(), obj, precondition, true);
    if (!updated.ok()) return SendError(c, updated.error());
    SendJson(c, 200, updated.value());
  }

  // PUT or PATCH of /scale: the Scale's spec.replicas goes to the object's replicas path.
  void UpdateScale(Ctx& c, const Target& t, const ObjectPtr& scale_body, const Var* patch_doc) {
    std::string patch_media = MediaType(c.req.getContentType());
    for (int attempt = 0;; ++attempt) {
      auto old = GetPresented(t);
      if (!old.ok()) return SendError(c, old.error());
      ObjectPtr scale = scale_body;
      if (patch_doc) {
        auto patched = ApplyPatchKind(patch_media, ScaleOf(old.value(), t.type), *patch_doc, true);
        if (!patched.ok()) return SendError(c, patched.error());
        scale = patched.value();
      }
      auto replicas = json::GetInt(scale, "spec.replicas");
      if (!replicas || *replicas < 0) {
        return SendError(c, ApiError::Invalid("autoscaling", "Scale", t.name,
                                              {{"FieldValueInvalid",
                                                "Invalid value: must be greater than or equal to 0",
                                                "spec.replicas"}}));
      }
      std::string old_rv = json::GetString(old.value(), "metadata.resourceVersion").value_or("");
      std::string precondition = json::GetString(scale, "metadata.resourceVersion").value_or("");
      bool retryable = precondition.empty() || (patch_doc && precondition == old_rv);
      if (precondition.empty()) precondition = old_rv;
      ObjectPtr candidate = json::DeepCopy(old.value());
      SetPath(candidate, t.type.scale_spec_path, *replicas);
      Target main = t;
      main.sub = "";
      auto updated = UpdateObject(c, main, old.value(), candidate, precondition, true);
      if (!updated.ok()) {
        if (updated.error().code == 409 && updated.error().reason == "Conflict" && retryable &&
            attempt + 1 < kWriteAttempts) {
          continue;
        }
        return SendError(c, updated.error());
      }
      return SendJson(c, 200, ScaleOf(updated.value(), t.type));
    }
  }

  Result<ObjectPtr> ApplyPatchKind(const std::string& media, const ObjectPtr& base, const Var& doc,
                                   bool builtin) {
    if (media == kMergePatch) return patch::MergePatch(base, doc);
    if (media == kJsonPatch) return patch::JsonPatch(base, doc);
    if (media == kStrategicPatch) {
      if (!builtin) {
        return MakeError(415, "UnsupportedMediaType",
                         "the body of the request was in an unknown format - accepted media "
                         "types include: application/json-patch+json, "
                         "application/merge-patch+json, application/apply-patch+yaml");
      }
      ObjectPtr obj = json::AsObject(doc);
      if (!obj) return ApiError::BadRequest("strategic merge patch must be a JSON object");
      return patch::StrategicMergePatch(base, obj);
    }
    return ApiError::UnsupportedMediaType(media);
  }

  void Patch(Ctx& c, const Target& t) {
    std::string media = MediaType(c.req.getContentType());
    auto body = ReadBody(c);
    if (!body.ok()) return SendError(c, body.error());
    if (media == kApplyPatch) return Apply(c, t, body.value());
    if (media != kMergePatch && media != kJsonPatch && media != kStrategicPatch) {
      return SendError(c, ApiError::UnsupportedMediaType(c.req.getContentType()));
    }
    if (media == kStrategicPatch && !t.type.builtin && t.sub != "scale") {
      return SendError(c, ApplyPatchKind(media, nullptr, Var(), false).error());
    }
    auto doc = json::Parse(body.value());
    if (!doc.ok()) return SendError(c, doc.error());
    if (t.sub == "scale") return UpdateScale(c, t, nullptr, &doc.value());

    for (int attempt = 0;; ++attempt) {
      auto old = GetPresented(t);
      if (!old.ok()) return SendError(c, old.error());
      auto patched = ApplyPatchKind(media, old.value(), doc.value(), t.type.builtin);
      if (!patched.ok()) return SendError(c, patched.error());
      ObjectPtr obj = patched.value();
      // A resourceVersion the patch carries is a precondition; otherwise the object read above
      // is, and a concurrent write just means patching again.
      std::string old_rv = json::GetString(old.value(), "metadata.resourceVersion").value_or("");
      std::string precondition = json::GetString(obj, "metadata.resourceVersion").value_or("");
      bool retryable = precondition == old_rv;
      if (auto e = CheckTypeMeta(obj, t.type, false)) return SendError(c, *e);
      auto updated = UpdateObject(c, t, old.value(), obj, precondition, true);
      if (!updated.ok()) {
        if (updated.error().code == 409 && updated.error().reason == "Conflict" && retryable &&
            attempt + 1 < kWriteAttempts) {
          continue;
        }
        return SendError(c, updated.error());
      }
      return SendJson(c, 200, updated.value());
    }
  }

  void Apply(Ctx& c, const Target& t, const std::string& body) {
    std::string manager = c.Param("fieldManager");
    if (manager.empty()) {
      return SendError(
          c, ApiError::Invalid("meta.k8s.io", "PatchOptions", "",
                               {{"FieldValueRequired",
                                 "Required value: is required for apply patch", "fieldManager"}}));
    }
    auto parsed = ParseYamlObject(body);
    if (!parsed.ok()) return SendError(c, parsed.error());
    ObjectPtr applied = parsed.value();
    if (auto e = CheckTypeMeta(applied, t.type, true)) return SendError(c, *e);
    if (auto e = CheckObjectMeta(applied, t, true)) return SendError(c, *e);
    const std::string force = c.Param("force");
    for (int attempt = 0;; ++attempt) {
      auto live = GetPresented(t);
      if (!live.ok() && live.error().code != 404) return SendError(c, live.error());
      ObjectPtr live_obj = live.ok() ? live.value() : nullptr;
      if (!live_obj && !t.sub.empty()) return SendError(c, live.error());
      apply::ApplyRequest request{live_obj, json::DeepCopy(applied), manager,
                                  force == "true" || force == "1", NowRfc3339()};
      auto merged = apply::Apply(request);
      if (!merged.ok()) return SendError(c, merged.error());
      ObjectPtr obj = merged.value();
      if (auto e = CheckTypeMeta(obj, t.type, false)) return SendError(c, *e);
      if (!live_obj) {
        auto created = CreateApplied(c, t, obj);
        if (!created.ok()) {
          if (created.error().code == 409 && created.error().reason == "AlreadyExists" &&
              attempt + 1 < kWriteAttempts) {
            continue;
          }
          return SendError(c, created.error());
        }
        return SendJson(c, 201, created.value());
      }
      std::string rv = json::GetString(live_obj, "metadata.resourceVersion").value_or("");
      auto updated = UpdateObject(c, t, live_obj, obj, rv, false);
      if (!updated.ok()) {
        if (updated.error().code == 409 && updated.error().reason == "Conflict" &&
            attempt + 1 < kWriteAttempts) {
          continue;
        }
        return SendError(c, updated.error());
      }
      return SendJson(c, 200, updated.value());
    }
  }

  // An apply that creates: as POST, but managedFields come from apply::Apply.
  Result<ObjectPtr> CreateApplied(Ctx& c, const Target& t, ObjectPtr obj) {
    if (auto problem = NameProblem(t.type, t.name)) {
      return ApiError::Invalid(
          t.type.group, t.type.kind, t.name,
          {{"FieldValueInvalid", "Invalid value: \"" + t.name + "\": " + *problem,
            "metadata.name"}});
    }
    json::EnsureObject(obj, "metadata")->remove("resourceVersion");
    if (auto e = CheckNamespaceExists(t)) return *e;
    if (t.type.status_subresource) obj->remove("status");
    if (auto e = Validate(c, t, obj, nullptr)) return *e;
    ToStorage(obj, t.type);
    if (c.DryRun()) {
      ObjectPtr m = json::EnsureObject(obj, "metadata");
      m->set("uid", Poco::UUIDGenerator::defaultGenerator().createRandom().toString());
      m->set("creationTimestamp", NowRfc3339());
      m->set("generation", 1);
      Present(obj, t.type);
      return obj;
    }
    auto created = store.Create(t.type.ref(), t.ns, obj);
    if (!created.ok()) return created.error();
    AfterWrite(t, created.value());
    Present(created.value(), t.type);
    return created.value();
  }

  // --- deletes --------------------------------------------------------------------------------

  struct DeleteOptions {
    std::string precondition_rv;
    std::string precondition_uid;
  };

  Result<DeleteOptions> ReadDeleteOptions(Ctx& c) {
    DeleteOptions options;
    auto body = ReadBody(c);
    if (!body.ok()) return body.error();
    std::string media = MediaType(c.req.getContentType());
    bool has_text = body.value().find_first_not_of(" \t\r\n") != std::string::npos;
    if (has_text && (media.empty() || media == kJson)) {
      auto parsed = json::ParseObject(body.value());
      if (!parsed.ok()) return parsed.error();
      options.precondition_rv =
          json::GetString(parsed.value(), "preconditions.resourceVersion").value_or("");
      options.precondition_uid = json::GetString(parsed.value(), "preconditions.uid").value_or("");
    }
    return options;
  }

  void Delete(Ctx& c, const Target& t) {
    if (!t.sub.empty()) return SendError(c, MethodNotAllowed());
    auto options = ReadDeleteOptions(c);
    if (!options.ok()) return SendError(c, options.error());
    auto old = GetPresented(t);
    if (!old.ok()) return SendError(c, old.error());
    std::string uid = json::GetString(old.value(), "metadata.uid").value_or("");
    if (!options.value().precondition_uid.empty() && options.value().precondition_uid != uid) {
      return SendError(c, ApiError::Conflict(t.type.group, t.type.resource, t.name,
                                             "Precondition failed: UID in precondition: " +
                                                 options.value().precondition_uid +
                                                 ", UID in object meta: " + uid));
    }
    ObjectPtr deleted = old.value();
    if (!c.DryRun()) {
      auto result = store.Delete(t.type.ref(), t.ns, t.name, options.value().precondition_rv);
      if (!result.ok()) return SendError(c, result.error());
      deleted = result.value();
      Present(deleted, t.type);
      if (t.type.ref() == kCrds) DeleteCrdContent(deleted);
    }
    if (json::GetString(deleted, "metadata.deletionTimestamp")) return SendJson(c, 200, deleted);
    SendJson(c, 200, SuccessStatus(t, uid));
  }

  static ObjectPtr SuccessStatus(const Target& t, const std::string& uid) {
    ObjectPtr status = new json::Object;
    status->set("kind", "Status");
    status->set("apiVersion", "v1");
    status->set("metadata", ObjectPtr(new json::Object));
    status->set("status", "Success");
    ObjectPtr details = new json::Object;
    details->set("name", t.name);
    if (!t.type.group.empty()) details->set("group", t.type.group);
    details->set("kind", t.type.resource);
    details->set("uid", uid);
    status->set("details", details);
    return status;
  }

  // A deleted CRD takes its resources out of discovery and its objects out of the store.
  void DeleteCrdContent(const ObjectPtr& crd) {
    std::string name = json::GetString(crd, "metadata.name").value_or("");
    registry.UnregisterCrd(name);
    ResourceRef ref{json::GetString(crd, "spec.group").value_or(""),
                    json::GetString(crd, "spec.names.plural").value_or("")};
    if (ref.group.empty() || ref.resource.empty()) return;
    for (const auto& obj : store.List(ref, "").items) {
      store.Delete(ref, json::GetString(obj, "metadata.namespace").value_or(""),
                   json::GetString(obj, "metadata.name").value_or(""));
    }
  }

  void DeleteCollection(Ctx& c, const Target& t) {
    auto options = ReadDeleteOptions(c);
    if (!options.ok()) return SendError(c, options.error());
    auto filter = MakeFilter(c);
    if (!filter.ok()) return SendError(c, filter.error());
    ListResult list = store.List(t.type.ref(), t.ns, filter.value());
    ArrayPtr items = new json::Array;
    for (const auto& obj : list.items) {
      std::string ns = json::GetString(obj, "metadata.namespace").value_or("");
      std::string name = json::GetString(obj, "metadata.name").value_or("");
      if (c.DryRun()) {
        Present(obj, t.type);
        items->add(obj);
        continue;
      }
      auto deleted = store.Delete(t.type.ref(), ns, name);
      if (!deleted.ok()) continue;
      Present(deleted.value(), t.type);
      if (t.type.ref() == kCrds) DeleteCrdContent(deleted.value());
      items->add(deleted.value());
    }
    ObjectPtr out = new json::Object;
    out->set("apiVersion", t.type.api_version());
    out->set("kind", t.type.list_kind);
    ObjectPtr meta = new json::Object;
    meta->set("resourceVersion", std::to_string(store.CurrentResourceVersion()));
    out->set("metadata", meta);
    out->set("items", items);
    SendJson(c, 200, out);
  }

  // The namespaces every cluster has; kubectl and helm default to "default".
  void EnsureDefaultNamespaces() {
    for (const char* name : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
      if (store.Get(kNamespaces, "", name).ok()) continue;
      ObjectPtr ns = new json::Object;
      ns->set("apiVersion", "v1");
      ns->set("kind", "Namespace");
      json::EnsureObject(ns, "metadata")->set("name", std::string(name));
      if (!Admit(kNamespaces, ns, nullptr, store).ok()) continue;
      store.Create(kNamespaces, "", ns);
    }
  }
};

ApiHandler::ApiHandler(Store& store, ResourceRegistry& registry, ApiHandlerOptions options)
    : store_(store), registry_(registry), options_(options), impl_(std::make_unique<Impl>(*this)) {
  impl_->EnsureDefaultNamespaces();
}

ApiHandler::~ApiHandler() { Shutdown(); }

void ApiHandler::Handle(Poco::Net::HTTPServerRequest& request,
                        Poco::Net::HTTPServerResponse& response) {
  Impl::Ctx c{request, response, {}, {}, {}, {}, false};
  try {
    impl_->Serve(c);
  } catch (const Poco::Exception& e) {
    if (!c.sent) impl_->SendError(c, ApiError::Internal(e.displayText()));
  } catch (const std::exception& e) {
    if (!c.sent) impl_->SendError(c, ApiError::Internal(e.what()));
  }
}

void ApiHandler::Shutdown() {
  shutting_down_ = true;
  std::lock_guard lock(impl_->watch_mu);
  for (const auto& w : impl_->watchers) w->Stop();
}

}  // namespace sandbox

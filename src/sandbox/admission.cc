#include "sandbox/admission.h"

#include <cctype>
#include <cstdint>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>
#include <Poco/UUIDGenerator.h>

#include "sandbox/selector.h"

namespace sandbox {
namespace {

using json::Array;
using json::ArrayPtr;
using json::Object;
using json::ObjectPtr;
using json::Var;

// 10.96.0.0/12, as kube-apiserver's default --service-cluster-ip-range.
constexpr uint32_t kServiceNet = (10u << 24) | (96u << 16);
constexpr uint32_t kServiceNetSize = 1u << 20;
constexpr int kNodePortMin = 30000;
constexpr int kNodePortMax = 32767;

StatusCause Required(const std::string& field) {
  return {"FieldValueRequired", "Required value", field};
}
StatusCause InvalidValue(const std::string& field, const std::string& value,
                         const std::string& why) {
  return {"FieldValueInvalid", "Invalid value: " + value + ": " + why, field};
}
StatusCause NotSupported(const std::string& field, const std::string& value,
                         const std::string& supported) {
  return {"FieldValueNotSupported",
          "Unsupported value: \"" + value + "\": supported values: " + supported, field};
}

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

// Standard base64 with padding, as the apiserver decodes Secret data.
bool IsBase64(const std::string& text) {
  if (text.size() % 4 != 0) return false;
  const size_t body = text.find_last_not_of('=') + 1;  // 0 when empty or all '='
  if (text.size() - body > 2) return false;
  for (size_t i = 0; i < body; ++i) {
    const unsigned char c = text[i];
    if (!std::isalnum(c) && c != '+' && c != '/') return false;
  }
  return true;
}

void SetDefault(ObjectPtr obj, const std::string& key, const Var& value) {
  if (!obj->has(key) || json::IsNull(obj->get(key))) obj->set(key, value);
}

std::string NameOf(ObjectPtr obj) { return json::GetString(obj, "metadata.name").value_or(""); }

std::optional<uint32_t> ParseIPv4(const std::string& text) {
  uint32_t out = 0;
  int parts = 0;
  size_t pos = 0;
  while (parts < 4) {
    size_t end = text.find('.', pos);
    std::string part = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (part.empty() || part.size() > 3) return std::nullopt;
    for (char c : part) {
      if (c < '0' || c > '9') return std::nullopt;
    }
    int v = std::stoi(part);
    if (v > 255) return std::nullopt;
    out = (out << 8) | static_cast<uint32_t>(v);
    ++parts;
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  if (parts != 4 || text.find('.', pos) != std::string::npos) return std::nullopt;
  return out;
}

std::string FormatIPv4(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." +
         std::to_string((ip >> 8) & 255) + "." + std::to_string(ip & 255);
}

// Addresses and node ports handed out by this process but perhaps not stored yet: two
// concurrent creates must not receive the same one.
struct Allocations {
  std::mutex mu;
  std::mt19937 rng{std::random_device{}()};
  std::set<std::string> ips;
  std::set<int> node_ports;
};
Allocations& Allocated() {
  static Allocations a;
  return a;
}

bool SameObject(ObjectPtr a, ObjectPtr b) {
  if (!a || !b) return false;
  auto ua = json::GetString(a, "metadata.uid");
  return ua && ua == json::GetString(b, "metadata.uid");
}

// IPs and node ports of every other stored Service.
void UsedByOthers(Store& store, ObjectPtr self, std::set<std::string>* ips,
                  std::set<int>* node_ports) {
  ListResult all = store.List({"", "services"}, "");
  for (auto svc : all.items) {
    if (SameObject(svc, self)) continue;
    if (auto ip = json::GetString(svc, "spec.clusterIP")) ips->insert(*ip);
    if (ArrayPtr ports = json::GetArray(svc, "spec.ports")) {
      for (size_t i = 0; i < ports->size(); ++i) {
        ObjectPtr p = json::AsObject(ports->get(i));
        if (auto np = json::GetInt(p, "nodePort")) node_ports->insert(static_cast<int>(*np));
      }
    }
  }
}

std::string AllocateClusterIP(const std::set<std::string>& used) {
  Allocations& a = Allocated();
  std::lock_guard lock(a.mu);
  // .1 is the kubernetes Service and .10 kube-dns on a real cluster: keep them free.
  std::uniform_int_distribution<uint32_t> dist(11, kServiceNetSize - 2);
  for (;;) {
    std::string ip = FormatIPv4(kServiceNet + dist(a.rng));
    if (used.count(ip) || a.ips.count(ip)) continue;
    a.ips.insert(ip);
    return ip;
  }
}

std::optional<int> AllocateNodePort(const std::set<int>& used) {
  Allocations& a = Allocated();
  std::lock_guard lock(a.mu);
  std::uniform_int_distribution<int> dist(kNodePortMin, kNodePortMax);
  for (int tries = 0; tries < 100000; ++tries) {
    int port = dist(a.rng);
    if (used.count(port) || a.node_ports.count(port)) continue;
    a.node_ports.insert(port);
    return port;
  }
  return std::nullopt;
}

Status AdmitService(ObjectPtr obj, ObjectPtr old, Store& store) {
  const std::string name = NameOf(obj);
  std::vector<StatusCause> causes;
  ObjectPtr spec = json::EnsureObject(obj, "spec");
  SetDefault(spec, "type", std::string("ClusterIP"));
  const std::string type = json::GetString(spec, "type").value_or("");
  if (type != "ClusterIP" && type != "NodePort" && type != "LoadBalancer" &&
      type != "ExternalName") {
    causes.push_back(NotSupported(
        "spec.type", type, "\"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""));
    return ApiError::Invalid("", "Service", name, causes);
  }
  SetDefault(spec, "sessionAffinity", std::string("None"));

  std::set<std::string> used_ips;
  std::set<int> used_ports;
  UsedByOthers(store, old, &used_ips, &used_ports);

  if (type == "ExternalName") {
    if (!json::GetString(spec, "externalName")) causes.push_back(Required("spec.externalName"));
  } else {
    const std::string old_ip = old ? json::GetString(old, "spec.clusterIP").value_or("") : "";
    std::string ip = json::GetString(spec, "clusterIP").value_or("");
    if (!old_ip.empty()) {
      // The address is kept across updates, whatever the client sent (or left out).
      if (ip.empty()) {
        ip = old_ip;
      } else if (ip != old_ip) {
        causes.push_back(InvalidValue("spec.clusterIP", Quote(ip), "field is immutable"));
      }
    } else if (ip.empty()) {
      ip = AllocateClusterIP(used_ips);
    } else if (ip != "None") {
      auto parsed = ParseIPv4(ip);
      if (!parsed || *parsed < kServiceNet || *parsed >= kServiceNet + kServiceNetSize) {
        causes.push_back(InvalidValue("spec.clusterIPs", Quote(ip),
                                      "failed to allocate IP " + ip +
                                          ": provided IP is not in the valid range. The "
                                          "range of valid IPs is 10.96.0.0/12"));
      } else if (used_ips.count(ip)) {
        causes.push_back(
            InvalidValue("spec.clusterIPs", Quote(ip),
                         "failed to allocate IP " + ip + ": provided IP is already allocated"));
      }
    }
    spec->set("clusterIP", ip);
    ArrayPtr ips = new Array;
    ips->add(ip);
    spec->set("clusterIPs", ips);
    if (!spec->has("ipFamilies")) {
      ArrayPtr families = new Array;
      families->add(std::string("IPv4"));
      spec->set("ipFamilies", families);
    }
    SetDefault(spec, "ipFamilyPolicy", std::string("SingleStack"));
    SetDefault(spec, "internalTrafficPolicy", std::string("Cluster"));
  }
  const bool node_ports = type == "NodePort" || type == "LoadBalancer";
  if (node_ports) SetDefault(spec, "externalTrafficPolicy", std::string("Cluster"));
  if (type == "LoadBalancer") SetDefault(spec, "allocateLoadBalancerNodePorts", true);

  ArrayPtr ports = json::GetArray(spec, "ports");
  ArrayPtr old_ports = old ? json::GetArray(old, "spec.ports") : ArrayPtr();
  for (size_t i = 0; ports && i < ports->size(); ++i) {
    ObjectPtr port = json::AsObject(ports->get(i));
    const std::string field = "spec.ports[" + std::to_string(i) + "]";
    if (!port) {
      causes.push_back(Required(field));
      continue;
    }
    auto number = json::GetInt(port, "port");
    if (!number) {
      causes.push_back(Required(field + ".port"));
      continue;
    }
    if (*number < 1 || *number > 65535) {
      causes.push_back(InvalidValue(field + ".port", std::to_string(*number),
                                    "must be between 1 and 65535, inclusive"));
      continue;
    }
    SetDefault(port, "protocol", std::string("TCP"));
    SetDefault(port, "targetPort", *number);
    if (!node_ports) {
      port->remove("nodePort");
      continue;
    }
    if (port->has("nodePort")) continue;
    // Keep the node port an earlier version of this Service had for the same port.
    for (size_t j = 0; old_ports && j < old_ports->size(); ++j) {
      ObjectPtr op = json::AsObject(old_ports->get(j));
      if (json::GetInt(op, "port") == number &&
          json::GetString(op, "protocol") == json::GetString(port, "protocol")) {
        if (auto np = json::GetInt(op, "nodePort")) port->set("nodePort", *np);
      }
    }
    if (port->has("nodePort")) continue;
    auto np = AllocateNodePort(used_ports);
    if (!np) {
      causes.push_back(InvalidValue(field + ".nodePort", "0", "range is full"));
      continue;
    }
    used_ports.insert(*np);
    port->set("nodePort", *np);
  }
  if (!causes.empty()) return ApiError::Invalid("", "Service", name, causes);
  if (!obj->has("status")) {
    ObjectPtr status = json::EnsureObject(obj, "status");
    status->set("loadBalancer", ObjectPtr(new Object));
  }
  return Ok{};
}

// imagePullPolicy as the apiserver defaults it: Always for :latest or no tag.
std::string PullPolicyFor(const std::string& image) {
  if (image.find('@') != std::string::npos) return "IfNotPresent";
  size_t slash = image.rfind('/');
  size_t colon = image.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) {
    return "Always";
  }
  return image.substr(colon + 1) == "latest" ? "Always" : "IfNotPresent";
}

void DefaultContainers(const ArrayPtr& containers, const std::string& field, bool need_image,
                       std::vector<StatusCause>* causes) {
  for (size_t i = 0; containers && i < containers->size(); ++i) {
    ObjectPtr c = json::AsObject(containers->get(i));
    const std::string f = field + "[" + std::to_string(i) + "]";
    if (!c) {
      causes->push_back(Required(f));
      continue;
    }
    if (!json::GetString(c, "name")) causes->push_back(Required(f + ".name"));
    auto image = json::GetString(c, "image");
    if (!image && need_image) causes->push_back(Required(f + ".image"));
    SetDefault(c, "imagePullPolicy", PullPolicyFor(image.value_or("")));
    SetDefault(c, "terminationMessagePath", std::string("/dev/termination-log"));
    SetDefault(c, "terminationMessagePolicy", std::string("File"));
    SetDefault(c, "resources", ObjectPtr(new Object));
    if (ArrayPtr ports = json::GetArray(c, "ports")) {
      for (size_t j = 0; j < ports->size(); ++j) {
        if (ObjectPtr p = json::AsObject(ports->get(j))) {
          SetDefault(p, "protocol", std::string("TCP"));
        }
      }
    }
  }
}

void DefaultPodSpec(ObjectPtr spec, const std::string& field, const std::string& restart_policy,
                    std::vector<StatusCause>* causes) {
  SetDefault(spec, "restartPolicy", restart_policy);
  SetDefault(spec, "dnsPolicy", std::string("ClusterFirst"));
  SetDefault(spec, "terminationGracePeriodSeconds", 30);
  SetDefault(spec, "schedulerName", std::string("default-scheduler"));
  SetDefault(spec, "securityContext", ObjectPtr(new Object));
  ArrayPtr containers = json::GetArray(spec, "containers");
  if (!containers || containers->size() == 0) causes->push_back(Required(field + ".containers"));
  DefaultContainers(containers, field + ".containers", true, causes);
  DefaultContainers(json::GetArray(spec, "initContainers"), field + ".initContainers", true,
                    causes);
}

struct WorkloadKind {
  const char* resource;
  const char* kind;
  const char* group;
};
constexpr WorkloadKind kWorkloads[] = {
    {"deployments", "Deployment", "apps"},
    {"statefulsets", "StatefulSet", "apps"},
    {"daemonsets", "DaemonSet", "apps"},
    {"replicasets", "ReplicaSet", "apps"},
    {"jobs", "Job", "batch"},
};

ObjectPtr RollingUpdate(const Var& max_unavailable, const Var& max_surge) {
  ObjectPtr strategy = new Object;
  strategy->set("type", std::string("RollingUpdate"));
  ObjectPtr rolling = new Object;
  rolling->set("maxUnavailable", max_unavailable);
  if (!json::IsNull(max_surge)) rolling->set("maxSurge", max_surge);
  strategy->set("rollingUpdate", rolling);
  return strategy;
}

// Jobs get a generated selector on a uid-bearing label, as the Job controller expects; the uid
// is kept across updates because both selector and template are immutable.
void DefaultJobSelector(ObjectPtr obj, ObjectPtr old, ObjectPtr spec, ObjectPtr template_labels) {
  if (json::GetBool(spec, "manualSelector").value_or(false)) return;
  std::string uid;
  if (old) {
    ObjectPtr old_labels = json::GetObject(old, "spec.selector.matchLabels");
    if (old_labels && old_labels->has("batch.kubernetes.io/controller-uid")) {
      uid = old_labels->getValue<std::string>("batch.kubernetes.io/controller-uid");
    }
  }
  if (uid.empty() && spec->has("selector")) return;  // the client chose its own selector
  if (uid.empty()) uid = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
  const std::string job_name = NameOf(obj);
  template_labels->set("batch.kubernetes.io/controller-uid", uid);
  template_labels->set("controller-uid", uid);
  if (!job_name.empty()) {
    template_labels->set("batch.kubernetes.io/job-name", job_name);
    template_labels->set("job-name", job_name);
  }
  ObjectPtr selector = new Object;
  ObjectPtr match = new Object;
  match->set("batch.kubernetes.io/controller-uid", uid);
  selector->set("matchLabels", match);
  spec->set("selector", selector);
}

Status AdmitWorkload(const WorkloadKind& w, ObjectPtr obj, ObjectPtr old) {
  const std::string resource = w.resource;
  const std::string name = NameOf(obj);
  const bool is_job = resource == "jobs";
  std::vector<StatusCause> causes;
  ObjectPtr spec = json::EnsureObject(obj, "spec");

  if (resource == "deployments") {
    SetDefault(spec, "replicas", 1);
    SetDefault(spec, "strategy", RollingUpdate(std::string("25%"), std::string("25%")));
    ObjectPtr strategy = json::GetObject(spec, "strategy");
    if (strategy) {
      SetDefault(strategy, "type", std::string("RollingUpdate"));
      if (json::GetString(strategy, "type") == "RollingUpdate") {
        ObjectPtr rolling = json::EnsureObject(strategy, "rollingUpdate");
        SetDefault(rolling, "maxUnavailable", std::string("25%"));
        SetDefault(rolling, "maxSurge", std::string("25%"));
      }
    }
    SetDefault(spec, "revisionHistoryLimit", 10);
    SetDefault(spec, "progressDeadlineSeconds", 600);
  } else if (resource == "statefulsets") {
    SetDefault(spec, "replicas", 1);
    SetDefault(spec, "podManagementPolicy", std::string("OrderedReady"));
    ObjectPtr update = json::EnsureObject(spec, "updateStrategy");
    SetDefault(update, "type", std::string("RollingUpdate"));
    if (json::GetString(update, "type") == "RollingUpdate") {
      SetDefault(json::EnsureObject(update, "rollingUpdate"), "partition", 0);
    }
    SetDefault(spec, "revisionHistoryLimit", 10);
    ObjectPtr retention = json::EnsureObject(spec, "persistentVolumeClaimRetentionPolicy");
    SetDefault(retention, "whenDeleted", std::string("Retain"));
    SetDefault(retention, "whenScaled", std::string("Retain"));
  } else if (resource == "daemonsets") {
    SetDefault(spec, "updateStrategy", RollingUpdate(1, 0));
    SetDefault(spec, "revisionHistoryLimit", 10);
  } else if (resource == "replicasets") {
    SetDefault(spec, "replicas", 1);
  } else if (is_job) {
    SetDefault(spec, "backoffLimit", 6);
    SetDefault(spec, "parallelism", 1);
    SetDefault(spec, "completions", 1);
    SetDefault(spec, "completionMode", std::string("NonIndexed"));
    SetDefault(spec, "suspend", false);
  }

  ObjectPtr tmpl = json::GetObject(spec, "template");
  if (!tmpl) {
    causes.push_back(Required("spec.template"));
    return ApiError::Invalid(w.group, w.kind, name, causes);
  }
  ObjectPtr labels = json::EnsureObject(tmpl, "metadata.labels");
  if (is_job) DefaultJobSelector(obj, old, spec, labels);

  ObjectPtr pod_spec = json::GetObject(tmpl, "spec");
  if (!pod_spec) {
    causes.push_back(Required("spec.template.spec"));
  } else {
    DefaultPodSpec(pod_spec, "spec.template.spec", is_job ? "" : "Always", &causes);
    if (is_job) {
      std::string policy = json::GetString(pod_spec, "restartPolicy").value_or("");
      if (policy.empty()) pod_spec->remove("restartPolicy");
      if (policy != "Never" && policy != "OnFailure") {
        causes.push_back(NotSupported("spec.template.spec.restartPolicy",
                                      policy.empty() ? "Always" : policy,
                                      "\"OnFailure\", \"Never\""));
      }
    } else if (json::GetString(pod_spec, "restartPolicy") != "Always") {
      causes.push_back(NotSupported("spec.template.spec.restartPolicy",
                                    json::GetString(pod_spec, "restartPolicy").value_or(""),
                                    "\"Always\""));
    }
  }

  ObjectPtr selector = json::GetObject(spec, "selector");
  if (!selector) {
    causes.push_back(Required("spec.selector"));
  } else {
    ObjectPtr match = json::GetObject(selector, "matchLabels");
    ArrayPtr exprs = json::GetArray(selector, "matchExpressions");
    if ((!match || match->size() == 0) && (!exprs || exprs->size() == 0)) {
      causes.push_back(InvalidValue(
          "spec.selector", json::Stringify(selector),
          std::string("empty selector is invalid for ") + (is_job ? "job" : "deployment")));
    } else {
      auto parsed = LabelSelector::FromObject(selector);
      if (!parsed.ok()) {
        causes.push_back(
            InvalidValue("spec.selector", json::Stringify(selector), parsed.error().message));
      } else if (!parsed.value().Matches(labels)) {
        causes.push_back(InvalidValue("spec.template.metadata.labels", json::Stringify(labels),
                                      "`selector` does not match template `labels`"));
      }
    }
  }

  if (old) {
    ObjectPtr old_selector = json::GetObject(old, "spec.selector");
    if (old_selector && selector && !json::Equal(old_selector, selector)) {
      causes.push_back(
          InvalidValue("spec.selector", json::Stringify(selector), "field is immutable"));
    }
    // A Job's pod template cannot change either; charts get around it with hook policies.
    ObjectPtr old_tmpl = json::GetObject(old, "spec.template");
    if (is_job && old_tmpl && !json::Equal(old_tmpl, tmpl)) {
      causes.push_back(InvalidValue("spec.template", json::Stringify(tmpl), "field is immutable"));
    }
  }
  if (!causes.empty()) return ApiError::Invalid(w.group, w.kind, name, causes);
  return Ok{};
}

Status AdmitNamespace(ObjectPtr obj) {
  const std::string name = NameOf(obj);
  json::EnsureObject(obj, "metadata.labels")->set("kubernetes.io/metadata.name", name);
  ObjectPtr spec = json::EnsureObject(obj, "spec");
  if (!json::GetArray(spec, "finalizers")) {
    ArrayPtr finalizers = new Array;
    finalizers->add(std::string("kubernetes"));
    spec->set("finalizers", finalizers);
  }
  ObjectPtr status = json::EnsureObject(obj, "status");
  const bool terminating = json::GetString(obj, "metadata.deletionTimestamp").has_value();
  status->set("phase", std::string(terminating ? "Terminating" : "Active"));
  return Ok{};
}

Status AdmitPod(ObjectPtr obj, ObjectPtr old) {
  std::vector<StatusCause> causes;
  if (!old) {
    ObjectPtr spec = json::GetObject(obj, "spec");
    if (!spec) {
      causes.push_back(Required("spec"));
    } else {
      DefaultPodSpec(spec, "spec", "Always", &causes);
    }
  }
  if (!causes.empty()) return ApiError::Invalid("", "Pod", NameOf(obj), causes);
  ObjectPtr status = json::EnsureObject(obj, "status");
  if (!json::GetString(status, "phase")) status->set("phase", std::string("Pending"));
  return Ok{};
}

// The apiserver folds stringData into data (base64) and never stores stringData; values that
// are not base64 in data are refused, as decoding them would fail for every reader.
Status AdmitSecret(ObjectPtr obj) {
  std::vector<StatusCause> causes;
  ObjectPtr data = json::GetObject(obj, "data");
  if (data) {
    for (const auto& [key, value] : *data) {
      if (!json::IsString(value) || !IsBase64(value.extract<std::string>())) {
        causes.push_back(
            InvalidValue("data[" + key + "]", "<secret contents redacted>", "illegal base64 data"));
      }
    }
  }
  if (!causes.empty()) return ApiError::Invalid("", "Secret", NameOf(obj), causes);
  if (ObjectPtr string_data = json::GetObject(obj, "stringData")) {
    data = json::EnsureObject(obj, "data");
    for (const auto& [key, value] : *string_data) {
      std::ostringstream encoded;
      Poco::Base64Encoder encoder(encoded);
      encoder.rdbuf()->setLineLength(0);
      encoder << (json::IsString(value) ? value.extract<std::string>() : json::Stringify(value));
      encoder.close();
      data->set(key, encoded.str());
    }
  }
  obj->remove("stringData");
  if (!json::GetString(obj, "type")) obj->set("type", std::string("Opaque"));
  return Ok{};
}

}  // namespace

Status Admit(const ResourceRef& ref, const json::ObjectPtr& obj, const json::ObjectPtr& old,
             Store& store) {
  if (!obj) return ApiError::BadRequest("no object to admit");
  try {
    if (ref.group.empty()) {
      if (ref.resource == "services") return AdmitService(obj, old, store);
      if (ref.resource == "namespaces") return AdmitNamespace(obj);
      if (ref.resource == "pods") return AdmitPod(obj, old);
      if (ref.resource == "secrets") return AdmitSecret(obj);
      return Ok{};
    }
    for (auto w : kWorkloads) {
      if (ref.group == w.group && ref.resource == w.resource) return AdmitWorkload(w, obj, old);
    }
    return Ok{};
  } catch (const Poco::Exception& e) {
    return ApiError::Internal("admission failed: " + e.displayText());
  } catch (const std::exception& e) {
    return ApiError::Internal(std::string("admission failed: ") + e.what());
  }
}

}  // namespace sandbox

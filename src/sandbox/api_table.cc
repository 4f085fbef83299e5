#include "sandbox/api_table.h"

#include <functional>

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>

namespace sandbox::table {
namespace {

using json::ObjectPtr;
using json::Var;

struct Column {
  std::string name;
  std::string type;  // string, integer, number, boolean, date
  std::string description;
  int priority = 0;
  std::function<Var(const ObjectPtr&)> cell;
};

int64_t UnixTime(const std::string& rfc3339) {
  Poco::DateTime dt;
  int tz = 0;
  if (!Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FORMAT, rfc3339, dt, tz)) {
    return -1;
  }
  return dt.timestamp().epochTime() - tz;
}

std::string Age(const ObjectPtr& obj, int64_t now) {
  auto ts = json::GetString(obj, "metadata.creationTimestamp");
  if (!ts) return "<unknown>";
  int64_t t = UnixTime(*ts);
  if (t < 0) return "<unknown>";
  return HumanDuration(now - t);
}

int64_t Int(const ObjectPtr& obj, const char* path) { return json::GetInt(obj, path).value_or(0); }

std::string Str(const ObjectPtr& obj, const char* path, const std::string& fallback = "") {
  return json::GetString(obj, path).value_or(fallback);
}

size_t Count(const ObjectPtr& obj, const char* path) {
  ObjectPtr o = json::GetObject(obj, path);
  return o ? o->size() : 0;
}

// Joins a field of each container ("name" or "image").
std::string Containers(const ObjectPtr& obj, const char* containers_path, const char* field) {
  json::ArrayPtr list = json::GetArray(obj, containers_path);
  std::string out;
  for (size_t i = 0; list && i < list->size(); ++i) {
    ObjectPtr c = json::AsObject(list->get(i));
    if (!c) continue;
    if (!out.empty()) out += ",";
    out += json::GetString(c, field).value_or("");
  }
  return out;
}

std::string MatchLabels(const ObjectPtr& obj, const char* path) {
  ObjectPtr labels = json::GetObject(obj, path);
  if (!labels || labels->size() == 0) return "<none>";
  std::string out;
  for (const auto& [k, v] : *labels) {
    if (!out.empty()) out += ",";
    out += k + "=" + (v.isString() ? v.extract<std::string>() : json::Stringify(v));
  }
  return out;
}

std::string ServicePorts(const ObjectPtr& svc) {
  json::ArrayPtr ports = json::GetArray(svc, "spec.ports");
  if (!ports || ports->size() == 0) return "<none>";
  std::string out;
  for (size_t i = 0; i < ports->size(); ++i) {
    ObjectPtr p = json::AsObject(ports->get(i));
    if (!p) continue;
    if (!out.empty()) out += ",";
    out += std::to_string(json::GetInt(p, "port").value_or(0));
    if (auto np = json::GetInt(p, "nodePort")) out += ":" + std::to_string(*np);
    out += "/" + json::GetString(p, "protocol").value_or("TCP");
  }
  return out;
}

std::string PodStatus(const ObjectPtr& pod) {
  if (json::GetString(pod, "metadata.deletionTimestamp")) return "Terminating";
  json::ArrayPtr statuses = json::GetArray(pod, "status.containerStatuses");
  for (size_t i = 0; statuses && i < statuses->size(); ++i) {
    ObjectPtr s = json::AsObject(statuses->get(i));
    if (auto reason = json::GetString(s, "state.waiting.reason")) return *reason;
    if (auto reason = json::GetString(s, "state.terminated.reason")) {
      if (*reason != "Completed") return *reason;
    }
  }
  if (auto reason = json::GetString(pod, "status.reason")) return *reason;
  return Str(pod, "status.phase", "Pending");
}

std::string PodReady(const ObjectPtr& pod) {
  json::ArrayPtr containers = json::GetArray(pod, "spec.containers");
  json::ArrayPtr statuses = json::GetArray(pod, "status.containerStatuses");
  size_t ready = 0;
  for (size_t i = 0; statuses && i < statuses->size(); ++i) {
    if (json::GetBool(json::AsObject(statuses->get(i)), "ready").value_or(false)) ++ready;
  }
  return std::to_string(ready) + "/" + std::to_string(containers ? containers->size() : 0);
}

int64_t PodRestarts(const ObjectPtr& pod) {
  json::ArrayPtr statuses = json::GetArray(pod, "status.containerStatuses");
  int64_t restarts = 0;
  for (size_t i = 0; statuses && i < statuses->size(); ++i) {
    restarts += json::GetInt(json::AsObject(statuses->get(i)), "restartCount").value_or(0);
  }
  return restarts;
}

std::string JobStatus(const ObjectPtr& job) {
  json::ArrayPtr conditions = json::GetArray(job, "status.conditions");
  for (size_t i = 0; conditions && i < conditions->size(); ++i) {
    ObjectPtr c = json::AsObject(conditions->get(i));
    if (json::GetString(c, "status").value_or("") != "True") continue;
    std::string type = json::GetString(c, "type").value_or("");
    if (type == "Complete" || type == "Failed" || type == "Suspended") return type;
  }
  return "Running";
}

// Follows a simple JSONPath (".spec.hosts", ".status.items[0].name"); anything fancier (filters,
// wildcards) yields null, which kubectl prints as an empty cell.
Var JsonPathValue(const ObjectPtr& obj, const std::string& path) {
  Var cur = obj;
  size_t i = (!path.empty() && path[0] == '.') ? 1 : 0;
  while (i < path.size()) {
    size_t end = path.find_first_of(".[", i);
    std::string key = path.substr(i, end == std::string::npos ? std::string::npos : end - i);
    if (!key.empty()) {
      ObjectPtr o = json::AsObject(cur);
      if (!o || !o->has(key)) return Var();
      cur = o->get(key);
    }
    if (end == std::string::npos) break;
    if (path[end] == '[') {
      size_t close = path.find(']', end);
      if (close == std::string::npos) return Var();
      std::string index = path.substr(end + 1, close - end - 1);
      if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos) {
        return Var();
      }
      json::ArrayPtr a = json::AsArray(cur);
      size_t n = std::stoul(index);
      if (!a || n >= a->size()) return Var();
      cur = a->get(n);
      i = close + 1;
      if (i < path.size() && path[i] == '.') ++i;
    } else {
      i = end + 1;
    }
  }
  return cur;
}

std::vector<Column> ColumnsFor(const ResourceType& t, int64_t now) {
  auto age = Column{"Age", "string",
                    "CreationTimestamp is a timestamp representing the server "
                    "time when this object was created.",
                    0, [now](const ObjectPtr& o) { return Var(Age(o, now)); }};
  std::vector<Column> cols;
  cols.push_back({"Name", "string", "Name must be unique within a namespace.", 0,
                  [](const ObjectPtr& o) { return Var(Str(o, "metadata.name")); }});
  auto add = [&](std::string name, std::string type, int priority,
                 std::function<Var(const ObjectPtr&)> cell) {
    cols.push_back({std::move(name), std::move(type), "", priority, std::move(cell)});
  };

  if (!t.builtin) {
    if (!t.printer_columns || t.printer_columns->size() == 0) {
      cols.push_back(age);
      return cols;
    }
    for (size_t i = 0; i < t.printer_columns->size(); ++i) {
      ObjectPtr c = json::AsObject(t.printer_columns->get(i));
      if (!c) continue;
      std::string type = json::GetString(c, "type").value_or("string");
      std::string path = json::GetString(c, "jsonPath").value_or("");
      int priority = static_cast<int>(json::GetInt(c, "priority").value_or(0));
      cols.push_back({json::GetString(c, "name").value_or(path), type,
                      json::GetString(c, "description").value_or(""), priority,
                      [type, path, now](const ObjectPtr& o) -> Var {
                        Var v = JsonPathValue(o, path);
                        if (json::IsNull(v)) return v;
                        if (type == "date" && json::IsString(v)) {
                          int64_t ts = UnixTime(v.extract<std::string>());
                          return ts < 0 ? v : Var(HumanDuration(now - ts));
                        }
                        if (json::IsObject(v) || json::IsArray(v)) return json::Stringify(v);
                        return v;
                      }});
    }
    return cols;
  }

  const std::string& k = t.kind;
  if (k == "Namespace") {
    add("Status", "string", 0, [](const ObjectPtr& o) { return Var(Str(o, "status.phase")); });
  } else if (k == "Pod") {
    add("Ready", "string", 0, [](const ObjectPtr& o) { return Var(PodReady(o)); });
    add("Status", "string", 0, [](const ObjectPtr& o) { return Var(PodStatus(o)); });
    add("Restarts", "string", 0,
        [](const ObjectPtr& o) { return Var(std::to_string(PodRestarts(o))); });
    cols.push_back(age);
    add("IP", "string", 1,
        [](const ObjectPtr& o) { return Var(Str(o, "status.podIP", "<none>")); });
    add("Node", "string", 1,
        [](const ObjectPtr& o) { return Var(Str(o, "spec.nodeName", "<none>")); });
    return cols;
  } else if (k == "Deployment") {
    add("Ready", "string", 0, [](const ObjectPtr& o) {
      return Var(std::to_string(Int(o, "status.readyReplicas")) + "/" +
                 std::to_string(json::GetInt(o, "spec.replicas").value_or(1)));
    });
    add("Up-to-date", "integer", 0,
        [](const ObjectPtr& o) { return Var(Int(o, "status.updatedReplicas")); });
    add("Available", "integer", 0,
        [](const ObjectPtr& o) { return Var(Int(o, "status.availableReplicas")); });
    cols.push_back(age);
    add("Containers", "string", 1, [](const ObjectPtr& o) {
      return Var(Containers(o, "spec.template.spec.containers", "name"));
    });
    add("Images", "string", 1, [](const ObjectPtr& o) {
      return Var(Containers(o, "spec.template.spec.containers", "image"));
    });
    add("Selector", "string", 1,
        [](const ObjectPtr& o) { return Var(MatchLabels(o, "spec.selector.matchLabels")); });
    return cols;
  } else if (k == "ReplicaSet") {
    add("Desired", "integer", 0,
        [](const ObjectPtr& o) { return Var(json::GetInt(o, "spec.replicas").value_or(1)); });
    add("Current", "integer", 0, [](const ObjectPtr& o) { return Var(Int(o, "status.replicas")); });
    add("Ready", "integer", 0,
        [](const ObjectPtr& o) { return Var(Int(o, "status.readyReplicas")); });
  } else if (k == "StatefulSet") {
    add("Ready", "string", 0, [](const ObjectPtr& o) {
      return Var(std::to_string(Int(o, "status.readyReplicas")) + "/" +
                 std::to_string(json::GetInt(o, "spec.replicas").value_or(1)));
    });
  } else if (k == "DaemonSet") {
    add("Desired", "integer", 0,
        [](const ObjectPtr& o) { return Var(Int(o, "status.desiredNumberScheduled")); });
    add("Current", "integer", 0,
        [](const ObjectPtr& o) { return Var(Int(o, "status.currentNumberScheduled")); });
    add("Ready", "integer", 0,
        [](const ObjectPtr& o) { return Var(Int(o, "status.numberReady")); });
    add("Up-to-date", "integer", 0,
        [](const ObjectPtr& o) { return Var(Int(o, "status.updatedNumberScheduled")); });
    add("Available", "integer", 0,
        [](const ObjectPtr& o) { return Var(Int(o, "status.numberAvailable")); });
  } else if (k == "Service") {
    add("Type", "string", 0,
        [](const ObjectPtr& o) { return Var(Str(o, "spec.type", "ClusterIP")); });
    add("Cluster-IP", "string", 0,
        [](const ObjectPtr& o) { return Var(Str(o, "spec.clusterIP", "<none>")); });
    add("External-IP", "string", 0, [](const ObjectPtr& o) {
      json::ArrayPtr ips = json::GetArray(o, "spec.externalIPs");
      if (ips && ips->size() > 0 && json::IsString(ips->get(0))) {
        return Var(ips->get(0).extract<std::string>());
      }
      return Var(Str(o, "spec.type") == "LoadBalancer" ? "<pending>" : "<none>");
    });
    add("Port(s)", "string", 0, [](const ObjectPtr& o) { return Var(ServicePorts(o)); });
    cols.push_back(age);
    add("Selector", "string", 1,
        [](const ObjectPtr& o) { return Var(MatchLabels(o, "spec.selector")); });
    return cols;
  } else if (k == "Secret") {
    add("Type", "string", 0, [](const ObjectPtr& o) { return Var(Str(o, "type", "Opaque")); });
    add("Data", "integer", 0,
        [](const ObjectPtr& o) { return Var(static_cast<int64_t>(Count(o, "data"))); });
  } else if (k == "ConfigMap") {
    add("Data", "integer", 0, [](const ObjectPtr& o) {
      return Var(static_cast<int64_t>(Count(o, "data") + Count(o, "binaryData")));
    });
  } else if (k == "Job") {
    add("Status", "string", 0, [](const ObjectPtr& o) { return Var(JobStatus(o)); });
    add("Completions", "string", 0, [](const ObjectPtr& o) {
      return Var(std::to_string(Int(o, "status.succeeded")) + "/" +
                 std::to_string(json::GetInt(o, "spec.completions").value_or(1)));
    });
  } else if (k == "CustomResourceDefinition") {
    add("Created At", "date", 0,
        [](const ObjectPtr& o) { return Var(Str(o, "metadata.creationTimestamp")); });
    return cols;
  } else if (k == "Ingress") {
    add("Class", "string", 0,
        [](const ObjectPtr& o) { return Var(Str(o, "spec.ingressClassName", "<none>")); });
    add("Hosts", "string", 0, [](const ObjectPtr& o) {
      json::ArrayPtr rules = json::GetArray(o, "spec.rules");
      std::string hosts;
      for (size_t i = 0; rules && i < rules->size(); ++i) {
        if (auto h = json::GetString(json::AsObject(rules->get(i)), "host")) {
          hosts += (hosts.empty() ? "" : ",") + *h;
        }
      }
      return Var(hosts.empty() ? "*" : hosts);
    });
  } else if (k == "HorizontalPodAutoscaler") {
    add("Reference", "string", 0, [](const ObjectPtr& o) {
      return Var(Str(o, "spec.scaleTargetRef.kind") + "/" + Str(o, "spec.scaleTargetRef.name"));
    });
    add("MinPods", "integer", 0,
        [](const ObjectPtr& o) { return Var(json::GetInt(o, "spec.minReplicas").value_or(1)); });
    add("MaxPods", "integer", 0,
        [](const ObjectPtr& o) { return Var(Int(o, "spec.maxReplicas")); });
    add("Replicas", "integer", 0,
        [](const ObjectPtr& o) { return Var(Int(o, "status.currentReplicas")); });
  } else if (k == "ServiceAccount") {
    add("Secrets", "integer", 0, [](const ObjectPtr& o) {
      json::ArrayPtr s = json::GetArray(o, "secrets");
      return Var(static_cast<int64_t>(s ? s->size() : 0));
    });
  }
  cols.push_back(age);
  return cols;
}

}  // namespace

std::string HumanDuration(int64_t seconds) {
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return std::to_string(seconds) + "s";
  int64_t minutes = seconds / 60;
  if (minutes < 10) {
    int64_t s = seconds % 60;
    return std::to_string(minutes) + "m" + (s ? std::to_string(s) + "s" : "");
  }
  if (minutes < 180) return std::to_string(minutes) + "m";
  int64_t hours = minutes / 60;
  if (hours < 8) {
    int64_t m = minutes % 60;
    return std::to_string(hours) + "h" + (m ? std::to_string(m) + "m" : "");
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    int64_t h = hours % 24;
    return std::to_string(hours / 24) + "d" + (h ? std::to_string(h) + "h" : "");
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    int64_t d = (hours / 24) % 365;
    return std::to_string(hours / 24 / 365) + "y" + (d ? std::to_string(d) + "d" : "");
  }
  return std::to_string(hours / 24 / 365) + "y";
}

ObjectPtr ToPartial(const ObjectPtr& object) {
  ObjectPtr out = new json::Object;
  out->set("kind", "PartialObjectMetadata");
  out->set("apiVersion", "meta.k8s.io/v1");
  ObjectPtr meta = json::GetObject(object, "metadata");
  out->set("metadata", meta ? meta : ObjectPtr(new json::Object));
  return out;
}

ObjectPtr ToTable(const ResourceType& type, const std::vector<ObjectPtr>& objects,
                  const std::string& include_object, const std::string& resource_version,
                  int64_t now_unix) {
  std::vector<Column> cols = ColumnsFor(type, now_unix);
  ObjectPtr table = new json::Object;
  table->set("kind", "Table");
  table->set("apiVersion", "meta.k8s.io/v1");
  ObjectPtr meta = new json::Object;
  if (!resource_version.empty()) meta->set("resourceVersion", resource_version);
  table->set("metadata", meta);
  json::ArrayPtr defs = new json::Array;
  for (const auto& c : cols) {
    ObjectPtr d = new json::Object;
    d->set("name", c.name);
    d->set("type", c.type);
    d->set("format", c.name == "Name" ? "name" : "");
    d->set("description", c.description);
    d->set("priority", c.priority);
    defs->add(d);
  }
  table->set("columnDefinitions", defs);
  json::ArrayPtr rows = new json::Array;
  for (const auto& obj : objects) {
    ObjectPtr row = new json::Object;
    json::ArrayPtr cells = new json::Array;
    for (const auto& c : cols) cells->add(c.cell(obj));
    row->set("cells", cells);
    if (include_object == "Object") {
      row->set("object", obj);
    } else if (include_object != "None") {
      row->set("object", ToPartial(obj));
    }
    rows->add(row);
  }
  table->set("rows", rows);
  return table;
}

}  // namespace sandbox::table

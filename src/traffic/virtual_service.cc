#include "traffic/virtual_service.h"

#include <sstream>
#include <utility>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Stringifier.h>

namespace canaryctl::traffic {
namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

std::string Stringify(const Var& value) {
  std::ostringstream os;
  Poco::JSON::Stringifier::stringify(value, os);
  return os.str();
}

// RFC 6901: "~" -> "~0", "/" -> "~1" (annotation keys hold a "/").
std::string PointerEscape(const std::string& token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

Object::Ptr Op(const std::string& op, const std::string& path) {
  Object::Ptr o = new Object;
  o->set("op", op);
  o->set("path", path);
  return o;
}

Object::Ptr Op(const std::string& op, const std::string& path, const Var& value) {
  Object::Ptr o = Op(op, path);
  o->set("value", value);
  return o;
}

std::string Truncate(const std::string& s, size_t max = 160) {
  return s.size() <= max ? s : s.substr(0, max) + "...";
}

std::string RouteLabel(const Object::Ptr& route, int index) {
  std::string label = "http[" + std::to_string(index) + "]";
  if (route && route->has("name") && route->get("name").isString()) {
    label += " \"" + route->get("name").toString() + "\"";
  }
  return label;
}

// One destination of a route[] entry, as written in the object.
struct DestinationView {
  std::string host;
  std::optional<int64_t> port;
  std::string subset;
  Var weight;  // empty when absent
  Object::Ptr port_object;
};

DestinationView ViewOf(const Object::Ptr& entry) {
  DestinationView v;
  if (!entry) return v;
  v.weight = entry->get("weight");
  Object::Ptr d = entry->getObject("destination");
  if (!d) return v;
  if (d->get("host").isString()) v.host = d->get("host").toString();
  if (d->get("subset").isString()) v.subset = d->get("subset").toString();
  v.port_object = d->getObject("port");
  if (v.port_object && v.port_object->get("number").isInteger()) {
    v.port = v.port_object->get("number").convert<int64_t>();
  }
  return v;
}

bool Matches(const DestinationView& v, const std::string& vs_ns, const ServiceDestination& d) {
  if (!HostNames(v.host, vs_ns, d)) return false;
  if (d.port && (!v.port || *v.port != *d.port)) return false;
  if (!d.subset.empty() && v.subset != d.subset) return false;
  return true;
}

std::string LookedFor(const std::string& vs_ns, const ServiceDestination& d) {
  std::string s = d.Fqdn() + " (as " + d.service + "." + d.ns + ".svc, " + d.service + "." + d.ns;
  if (d.ns == vs_ns) s += " or " + d.service;
  s += ")";
  if (d.port) s += " port " + std::to_string(*d.port);
  if (!d.subset.empty()) s += " subset " + d.subset;
  return s;
}

std::string VsNamespace(const Object::Ptr& vs, const RouterConfig& config) {
  Object::Ptr meta = vs->getObject("metadata");
  if (meta && meta->get("namespace").isString()) return meta->get("namespace").toString();
  return config.virtual_service.ns;
}

std::string ResourceVersion(const Object::Ptr& vs) {
  Object::Ptr meta = vs->getObject("metadata");
  if (meta && meta->get("resourceVersion").isString()) {
    return meta->get("resourceVersion").toString();
  }
  return "";
}

// Reads an explicit weight; the error names the route and the destination.
Result<int> WeightOf(const DestinationView& v, const std::string& where) {
  if (v.weight.isEmpty()) return 0;  // Istio: an omitted weight is 0 when there are several
  if (!v.weight.isInteger() || v.weight.isBoolean()) {
    return ClusterError(where + ": weight of " + v.host + " is " + Stringify(v.weight) +
                        ", not an integer");
  }
  int64_t w = v.weight.convert<int64_t>();
  if (w < 0 || w > 100) {
    return ClusterError(where + ": weight of " + v.host + " is " + std::to_string(w) +
                        ", outside 0..100");
  }
  return static_cast<int>(w);
}

Object::Ptr DestinationObject(const ServiceDestination& d, const Object::Ptr& port_from) {
  Object::Ptr dest = new Object;
  dest->set("host", d.Fqdn());
  if (d.port) {
    Object::Ptr port = new Object;
    port->set("number", *d.port);
    dest->set("port", port);
  } else if (port_from) {
    Object::Ptr port = new Object;
    for (const auto& [k, v] : *port_from) port->set(k, v);
    dest->set("port", port);
  }
  if (!d.subset.empty()) dest->set("subset", d.subset);
  return dest;
}

Object::Ptr RouteEntry(const Object::Ptr& destination, int weight) {
  Object::Ptr entry = new Object;
  entry->set("destination", destination);
  entry->set("weight", weight);
  return entry;
}

Array::Ptr HttpRoutes(const Object::Ptr& vs) {
  Object::Ptr spec = vs->getObject("spec");
  return spec ? spec->getArray("http") : nullptr;
}

DestinationView DestinationAt(const Object::Ptr& vs, int http_index, int route_index) {
  Object::Ptr route = HttpRoutes(vs)->getObject(http_index);
  return ViewOf(route->getArray("route")->getObject(route_index));
}

std::string RoutePath(int http_index) { return "/spec/http/" + std::to_string(http_index); }

// Where the candidate's port comes from when it is not configured: its own destination, or the
// stable one's (a destination added next to it serves the same port).
Object::Ptr CandidatePortSource(const Object::Ptr& vs, const ManagedRoute& m) {
  if (m.candidate_index >= 0) return DestinationAt(vs, m.http_index, m.candidate_index).port_object;
  return DestinationAt(vs, m.http_index, m.stable_index).port_object;
}

Object::Ptr TestRouteObject(const Object::Ptr& vs, const RouterConfig& config,
                            const ManagedRoute& m) {
  Object::Ptr exact = new Object;
  exact->set("exact", config.test_route->value);
  Object::Ptr headers = new Object;
  headers->set(config.test_route->header, exact);
  Object::Ptr match = new Object;
  match->set("headers", headers);
  Array::Ptr matches = new Array;
  matches->add(match);
  Array::Ptr route = new Array;
  route->add(RouteEntry(DestinationObject(config.candidate, CandidatePortSource(vs, m)), 100));
  Object::Ptr r = new Object;
  r->set("name", std::string(kTestRouteName));
  r->set("match", matches);
  r->set("route", route);
  return r;
}

std::string Finish(const Array::Ptr& ops, const std::string& expected_rv) {
  if (ops->size() == 0) return "";
  // The precondition: the apiserver answers 409 Conflict when the patched object's
  // resourceVersion is not the stored one (a failed `test` op would be a 422 instead).
  Array::Ptr all = new Array;
  all->add(Op("replace", "/metadata/resourceVersion", expected_rv));
  for (size_t i = 0; i < ops->size(); ++i) all->add(ops->get(i));
  return Stringify(all);
}

}  // namespace

std::optional<Error> ValidateConfig(const RouterConfig& config) {
  const auto& vs = config.virtual_service;
  if (vs.ns.empty() || vs.name.empty()) {
    return ConfigError("traffic.virtualService: namespace and name are required");
  }
  for (const auto* d : {&config.stable, &config.candidate}) {
    if (d->service.empty() || d->ns.empty()) {
      return ConfigError(std::string(d == &config.stable ? "stable" : "candidate") +
                         ": service and namespace are required for the route");
    }
  }
  if (config.stable.Fqdn() == config.candidate.Fqdn() &&
      config.stable.subset == config.candidate.subset) {
    return ConfigError("stable and candidate are the same destination (" + config.stable.Fqdn() +
                       "); give them different services, namespaces or subsets");
  }
  if (config.test_route &&
      (config.test_route->header.empty() || config.test_route->value.empty())) {
    return ConfigError("traffic.testRoute: header and value are required");
  }
  return std::nullopt;
}

bool HostNames(const std::string& host, const std::string& vs_ns, const ServiceDestination& d) {
  const std::string short_form = d.service + "." + d.ns;
  return host == d.Fqdn() || host == short_form || host == short_form + ".svc" ||
         (host == d.service && d.ns == vs_ns);
}

Result<ManagedRoute> FindManagedRoute(const Object::Ptr& vs, const RouterConfig& config) {
  const std::string what = config.virtual_service.Describe();
  const std::string vs_ns = VsNamespace(vs, config);
  Array::Ptr http = HttpRoutes(vs);
  const std::string looked_for = "a route with destinations " + LookedFor(vs_ns, config.stable) +
                                 " and " + LookedFor(vs_ns, config.candidate);
  if (!http || http->size() == 0) {
    return ClusterError(what + " has no spec.http routes; looked for " + looked_for);
  }
  ManagedRoute found;
  std::vector<ManagedRoute> both, stable_only;
  std::vector<std::string> invalid;
  for (size_t i = 0; i < http->size(); ++i) {
    const int index = static_cast<int>(i);
    Object::Ptr route = http->getObject(i);
    if (!route) continue;
    if (route->get("name").isString() && route->get("name").toString() == kTestRouteName) {
      found.test_route_index = index;
      continue;
    }
    Array::Ptr dests = route->getArray("route");
    if (!dests) continue;
    ManagedRoute m;
    m.http_index = index;
    int stable_count = 0, candidate_count = 0;
    for (size_t j = 0; j < dests->size(); ++j) {
      DestinationView v = ViewOf(dests->getObject(j));
      if (Matches(v, vs_ns, config.stable)) {
        ++stable_count;
        m.stable_index = static_cast<int>(j);
      } else if (Matches(v, vs_ns, config.candidate)) {
        ++candidate_count;
        m.candidate_index = static_cast<int>(j);
      }
    }
    if (stable_count == 0) continue;  // not about the stable release
    const std::string label = RouteLabel(route, index);
    if (dests->size() >= 3) {
      invalid.push_back(label + " has " + std::to_string(dests->size()) +
                        " destinations; canaryctl manages a route with exactly the stable and "
                        "the candidate destination");
    } else if (dests->size() == 2 && (stable_count != 1 || candidate_count != 1)) {
      invalid.push_back(label + " pairs the stable destination with another one (" +
                        ViewOf(dests->getObject(m.stable_index == 0 ? 1 : 0)).host +
                        ") instead of the candidate");
    } else if (dests->size() == 2) {
      both.push_back(m);
    } else {
      m.candidate_index = -1;
      stable_only.push_back(m);
    }
  }
  auto ambiguous = [&](const std::vector<ManagedRoute>& routes) {
    std::string list;
    for (const auto& m : routes) {
      if (!list.empty()) list += ", ";
      list += RouteLabel(http->getObject(m.http_index), m.http_index);
    }
    return ClusterError(what + " is ambiguous: " + list + " all match " + looked_for +
                        "; canaryctl manages exactly one route");
  };
  ManagedRoute m;
  if (both.size() > 1) return ambiguous(both);
  if (both.size() == 1) {
    m = both[0];
  } else if (stable_only.size() > 1) {
    // Routes with a `match` serve particular requests (an admin path, a header); the one
    // without is the catch-all that carries the application's traffic: that one is split.
    std::vector<ManagedRoute> catch_all;
    for (const auto& r : stable_only) {
      Array::Ptr match = http->getObject(r.http_index)->getArray("match");
      if (!match || match->size() == 0) catch_all.push_back(r);
    }
    if (catch_all.size() != 1) return ambiguous(stable_only);
    m = catch_all[0];
  } else if (stable_only.size() == 1) {
    m = stable_only[0];
  } else if (!invalid.empty()) {
    std::string reasons;
    for (const auto& r : invalid) reasons += (reasons.empty() ? "" : "; ") + r;
    return ClusterError(what + ": no route canaryctl can manage: " + reasons);
  } else {
    return ClusterError(what + " has no HTTP route to the stable destination; looked for " +
                        looked_for);
  }
  m.test_route_index = found.test_route_index;
  const std::string where = what + " " + RouteLabel(http->getObject(m.http_index), m.http_index);
  if (m.candidate_index < 0) {
    m.stable_weight = 100;  // a single destination receives all the traffic
    m.candidate_weight = 0;
    return m;
  }
  auto sw = WeightOf(DestinationAt(vs, m.http_index, m.stable_index), where);
  if (!sw.ok()) return sw.error();
  auto cw = WeightOf(DestinationAt(vs, m.http_index, m.candidate_index), where);
  if (!cw.ok()) return cw.error();
  if (sw.value() + cw.value() != 100) {
    return ClusterError(where + ": weights " + std::to_string(sw.value()) + " + " +
                        std::to_string(cw.value()) + " = " +
                        std::to_string(sw.value() + cw.value()) +
                        ", not 100; fix the object (canaryctl does not guess)");
  }
  m.stable_weight = sw.value();
  m.candidate_weight = cw.value();
  return m;
}

Result<TrafficState> ReadTrafficState(const Object::Ptr& vs, const RouterConfig& config) {
  auto m = FindManagedRoute(vs, config);
  if (!m.ok()) return m.error();
  TrafficState s;
  s.stable = m.value().stable_weight;
  s.candidate = m.value().candidate_weight;
  s.test_route = m.value().test_route_index >= 0;
  s.resource_version = ResourceVersion(vs);
  // Every write is guarded by it; an object without one is the server's fault, not the config's.
  if (s.resource_version.empty()) {
    return ClusterError(config.virtual_service.Describe() +
                        " came back without a metadata.resourceVersion; cannot write it safely");
  }
  Object::Ptr meta = vs->getObject("metadata");
  Object::Ptr annotations = meta ? meta->getObject("annotations") : nullptr;
  if (annotations) {
    for (const auto& [k, v] : *annotations) {
      if (v.isString()) s.annotations[k] = v.toString();
    }
  }
  return s;
}

Result<WeightPlan> PlanWeightPatch(const Object::Ptr& vs, const RouterConfig& config,
                                   const WeightUpdate& update) {
  if (update.stable < 0 || update.candidate < 0 || update.stable + update.candidate != 100) {
    return ConfigError("weights stable " + std::to_string(update.stable) + " / candidate " +
                       std::to_string(update.candidate) +
                       " are not integers in 0..100 summing to 100");
  }
  if (update.expected_resource_version.empty()) {
    return ConfigError("SetWeights needs the resourceVersion read with the weights");
  }
  auto found = FindManagedRoute(vs, config);
  if (!found.ok()) return found.error();
  const ManagedRoute& m = found.value();
  Array::Ptr http = HttpRoutes(vs);
  const std::string route_path = RoutePath(m.http_index) + "/route/";
  Array::Ptr ops = new Array;
  std::ostringstream diff;
  diff << config.virtual_service.Describe() << " "
       << RouteLabel(http->getObject(m.http_index), m.http_index) << ":\n";

  DestinationView stable = DestinationAt(vs, m.http_index, m.stable_index);
  const bool weight_change = m.candidate_index < 0 || m.stable_weight != update.stable ||
                             m.candidate_weight != update.candidate || stable.weight.isEmpty() ||
                             DestinationAt(vs, m.http_index, m.candidate_index).weight.isEmpty();
  if (weight_change) {
    ops->add(Op("add", route_path + std::to_string(m.stable_index) + "/weight", update.stable));
  }
  auto weight_lines = [&](const std::string& host, int before, int after) {
    if (before == after) {
      diff << "  " << host << " weight " << after << "\n";
    } else {
      diff << "- " << host << " weight " << before << "\n+ " << host << " weight " << after << "\n";
    }
  };
  weight_lines(stable.host, m.stable_weight, update.stable);
  if (m.candidate_index < 0) {
    Object::Ptr dest = DestinationObject(config.candidate, stable.port_object);
    ops->add(Op("add", route_path + "-", RouteEntry(dest, update.candidate)));
    diff << "+ " << config.candidate.Fqdn() << " weight " << update.candidate
         << " (destination added)\n";
  } else {
    DestinationView cand = DestinationAt(vs, m.http_index, m.candidate_index);
    if (weight_change) {
      ops->add(
          Op("add", route_path + std::to_string(m.candidate_index) + "/weight", update.candidate));
    }
    weight_lines(cand.host, m.candidate_weight, update.candidate);
  }

  Object::Ptr meta = vs->getObject("metadata");
  Object::Ptr annotations = meta ? meta->getObject("annotations") : nullptr;
  Object::Ptr new_annotations = new Object;  // used when the object has none
  for (const auto& [key, value] :
       {std::pair<std::string, std::string>{kStateAnnotation, update.state_json},
        std::pair<std::string, std::string>{kLockAnnotation, update.lock_json}}) {
    const bool present = annotations && annotations->has(key);
    const std::string current = present ? annotations->get(key).toString() : "";
    const std::string path = "/metadata/annotations/" + PointerEscape(key);
    if (value.empty()) {
      if (present) {
        ops->add(Op("remove", path));
        diff << "- annotation " << key << ": " << Truncate(current) << "\n";
      }
    } else if (!present || current != value) {
      if (annotations) {
        ops->add(Op("add", path, value));
      } else {
        new_annotations->set(key, value);
      }
      diff << (present ? "~ annotation " : "+ annotation ") << key << ": " << Truncate(value)
           << "\n";
    }
  }
  if (new_annotations->size() > 0) ops->add(Op("add", "/metadata/annotations", new_annotations));
  // Last, so that the indices above still refer to the object as read.
  if (update.remove_test_route && m.test_route_index >= 0) {
    ops->add(Op("remove", RoutePath(m.test_route_index)));
    diff << "- " << RouteLabel(http->getObject(m.test_route_index), m.test_route_index)
         << " (test route) removed\n";
  }
  WeightPlan plan;
  plan.patch = Finish(ops, update.expected_resource_version);
  plan.diff = plan.patch.empty() ? config.virtual_service.Describe() + ": no change\n" : diff.str();
  return plan;
}

Result<std::string> PlanTestRoutePatch(const Object::Ptr& vs, const RouterConfig& config,
                                       bool present) {
  auto found = FindManagedRoute(vs, config);
  if (!found.ok()) return found.error();
  const ManagedRoute& m = found.value();
  Array::Ptr ops = new Array;
  const int k = m.test_route_index;
  if (!present) {
    if (k >= 0) ops->add(Op("remove", RoutePath(k)));
    return Finish(ops, ResourceVersion(vs));
  }
  if (!config.test_route) {
    return ConfigError("traffic.testRoute is not configured: no header to route on");
  }
  Object::Ptr desired = TestRouteObject(vs, config, m);
  Array::Ptr http = HttpRoutes(vs);
  if (k >= 0 && k < m.http_index && Stringify(http->get(k)) == Stringify(desired)) {
    return std::string();  // already in place
  }
  int insert_at = m.http_index;
  if (k >= 0) {
    ops->add(Op("remove", RoutePath(k)));
    if (k < m.http_index) --insert_at;
  }
  ops->add(Op("add", RoutePath(insert_at), desired));
  return Finish(ops, ResourceVersion(vs));
}

Result<std::string> PlanReconcilePatch(const Object::Ptr& vs, const RouterConfig& config) {
  auto found = FindManagedRoute(vs, config);
  if (!found.ok()) return found.error();
  const ManagedRoute& m = found.value();
  Array::Ptr ops = new Array;
  if (m.candidate_index < 0) {
    const std::string route_path = RoutePath(m.http_index) + "/route/";
    DestinationView stable = DestinationAt(vs, m.http_index, m.stable_index);
    ops->add(Op("add", route_path + std::to_string(m.stable_index) + "/weight", 100));
    ops->add(Op("add", route_path + "-",
                RouteEntry(DestinationObject(config.candidate, stable.port_object), 0)));
  }
  return Finish(ops, ResourceVersion(vs));
}

std::string NewVirtualService(const RouterConfig& config) {
  const auto& ref = config.virtual_service;
  Object::Ptr meta = new Object;
  meta->set("name", ref.name);
  meta->set("namespace", ref.ns);
  Array::Ptr hosts = new Array;
  for (const auto& h : ref.hosts) hosts->add(h);
  Array::Ptr gateways = new Array;
  for (const auto& g : ref.gateways) gateways->add(g);
  Array::Ptr route = new Array;
  route->add(RouteEntry(DestinationObject(config.stable, nullptr), 100));
  route->add(RouteEntry(DestinationObject(config.candidate, nullptr), 0));
  Object::Ptr http_route = new Object;
  http_route->set("route", route);
  Array::Ptr http = new Array;
  http->add(http_route);
  Object::Ptr spec = new Object;
  spec->set("hosts", hosts);
  if (!ref.gateways.empty()) spec->set("gateways", gateways);
  spec->set("http", http);
  Object::Ptr vs = new Object;
  vs->set("apiVersion", ref.api_version);
  vs->set("kind", std::string("VirtualService"));
  vs->set("metadata", meta);
  vs->set("spec", spec);
  return Stringify(vs);
}

}  // namespace canaryctl::traffic

#include "sandbox/mesh_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

namespace sandbox {
namespace {

using json::ArrayPtr;
using json::ObjectPtr;
using json::Var;

constexpr char kClusterLocal[] = ".svc.cluster.local";
constexpr char kHashLabel[] = "pod-template-hash";

std::string Str(const ObjectPtr& o, std::string_view path) {
  return json::GetString(o, path).value_or("");
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::map<std::string, std::string> StringMap(const ObjectPtr& o) {
  std::map<std::string, std::string> out;
  if (!o) return out;
  for (const auto& [k, v] : *o) {
    if (json::IsString(v)) out[k] = v.extract<std::string>();
  }
  return out;
}

bool Contains(const std::map<std::string, std::string>& labels,
              const std::map<std::string, std::string>& wanted) {
  for (const auto& [k, v] : wanted) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

bool HasConditionTrue(const ObjectPtr& o, const std::string& type) {
  ArrayPtr conds = json::GetArray(o, "status.conditions");
  for (size_t i = 0; conds && i < conds->size(); ++i) {
    ObjectPtr c = json::AsObject(conds->get(i));
    if (Str(c, "type") == type && Str(c, "status") == "True") return true;
  }
  return false;
}

// The first container's env value `name` (plain values only).
std::optional<std::string> EnvValue(const ObjectPtr& pod, const std::string& name) {
  ArrayPtr containers = json::GetArray(pod, "spec.containers");
  for (size_t i = 0; containers && i < containers->size(); ++i) {
    ArrayPtr env = json::GetArray(json::AsObject(containers->get(i)), "env");
    for (size_t j = 0; env && j < env->size(); ++j) {
      ObjectPtr e = json::AsObject(env->get(j));
      if (Str(e, "name") == name && e->has("value")) return Str(e, "value");
    }
  }
  return std::nullopt;
}

std::string ImageTag(const std::string& image) {
  std::string ref = image.substr(0, image.find('@'));
  const size_t slash = ref.rfind('/');
  const size_t colon = ref.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return "latest";
  return ref.substr(colon + 1);
}

// A Go-style duration ("5s", "1.5s", "250ms", "1m30s"); nullopt when it is not one.
std::optional<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  double total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
      ++i;
    }
    if (start == i) return std::nullopt;
    const double number = std::strtod(text.substr(start, i - start).c_str(), nullptr);
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    const std::string unit = text.substr(unit_start, i - unit_start);
    double scale = 0;
    if (unit == "h") {
      scale = 3600e3;
    } else if (unit == "m") {
      scale = 60e3;
    } else if (unit == "s") {
      scale = 1e3;
    } else if (unit == "ms") {
      scale = 1;
    } else if (unit == "us" || unit == "µs") {
      scale = 1e-3;
    } else if (unit == "ns") {
      scale = 1e-6;
    } else {
      return std::nullopt;
    }
    total_ms += number * scale;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(total_ms)));
}

StringMatch ParseStringMatch(const Var& v, std::vector<std::string>& warnings,
                             const std::string& where, bool& unsupported) {
  StringMatch m;
  ObjectPtr o = json::AsObject(v);
  if (!o || o->size() == 0) {
    m.kind = StringMatch::Kind::kPresent;
    return m;
  }
  if (auto exact = json::GetString(o, "exact")) {
    m.kind = StringMatch::Kind::kExact;
    m.value = *exact;
  } else if (auto prefix = json::GetString(o, "prefix")) {
    m.kind = StringMatch::Kind::kPrefix;
    m.value = *prefix;
  } else if (auto regex = json::GetString(o, "regex")) {
    m.kind = StringMatch::Kind::kRegex;
    m.value = *regex;
    try {
      m.regex = std::make_shared<const std::regex>(*regex, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      warnings.push_back(where + ": bad regex " + *regex + ": " + e.what());
    }
  } else {
    warnings.push_back(where + ": unsupported string match " + json::Stringify(v));
    unsupported = true;
  }
  return m;
}

std::vector<std::pair<std::string, StringMatch>> ParseMatchMap(const ObjectPtr& o,
                                                               std::vector<std::string>& warnings,
                                                               const std::string& where,
                                                               bool& unsupported, bool lower) {
  std::vector<std::pair<std::string, StringMatch>> out;
  if (!o) return out;
  for (const auto& [k, v] : *o) {
    out.emplace_back(lower ? Lower(k) : k,
                     ParseStringMatch(v, warnings, where + "." + k, unsupported));
  }
  return out;
}

RouteMatch ParseRouteMatch(const ObjectPtr& m, std::vector<std::string>& warnings,
                           const std::string& where) {
  RouteMatch out;
  if (!m) return out;
  out.headers = ParseMatchMap(json::GetObject(m, "headers"), warnings, where + ".headers",
                              out.unsupported, true);
  out.without_headers = ParseMatchMap(json::GetObject(m, "withoutHeaders"), warnings,
                                      where + ".withoutHeaders", out.unsupported, true);
  out.query_params = ParseMatchMap(json::GetObject(m, "queryParams"), warnings,
                                   where + ".queryParams", out.unsupported, false);
  if (m->has("uri"))
    out.uri = ParseStringMatch(m->get("uri"), warnings, where + ".uri", out.unsupported);
  if (m->has("method")) {
    out.method = ParseStringMatch(m->get("method"), warnings, where + ".method", out.unsupported);
  }
  if (m->has("authority")) {
    out.authority =
        ParseStringMatch(m->get("authority"), warnings, where + ".authority", out.unsupported);
  }
  out.ignore_uri_case = json::GetBool(m, "ignoreUriCase").value_or(false);
  if (ArrayPtr gateways = json::GetArray(m, "gateways"); gateways && gateways->size() > 0) {
    out.gateway_applies = false;
    for (size_t i = 0; i < gateways->size(); ++i) {
      Var g = gateways->get(i);
      if (json::IsString(g) && g.extract<std::string>() != "mesh") out.gateway_applies = true;
    }
  }
  for (const char* field : {"sourceLabels", "sourceNamespace"}) {
    if (m->has(field)) {
      warnings.push_back(where + "." + field + " is not supported at the sandbox's gateway");
      out.unsupported = true;
    }
  }
  return out;
}

bool IsGatewayBound(const ObjectPtr& vs) {
  ArrayPtr gateways = json::GetArray(vs, "spec.gateways");
  for (size_t i = 0; gateways && i < gateways->size(); ++i) {
    Var g = gateways->get(i);
    if (json::IsString(g) && g.extract<std::string>() != "mesh") return true;
  }
  return false;
}

VirtualService ParseVirtualService(const ObjectPtr& o, std::vector<std::string>& warnings) {
  VirtualService vs;
  vs.ns = Str(o, "metadata.namespace");
  vs.name = Str(o, "metadata.name");
  vs.created = Str(o, "metadata.creationTimestamp");
  const std::string where = "VirtualService " + vs.ns + "/" + vs.name;
  ArrayPtr hosts = json::GetArray(o, "spec.hosts");
  for (size_t i = 0; hosts && i < hosts->size(); ++i) {
    Var h = hosts->get(i);
    if (!json::IsString(h)) continue;
    std::string host = Lower(h.extract<std::string>());
    // Short names (no dot) are relative to the VirtualService's namespace, as in Istio.
    if (host != "*" && host.find('.') == std::string::npos) host += "." + vs.ns + kClusterLocal;
    vs.hosts.push_back(host);
  }
  ArrayPtr http = json::GetArray(o, "spec.http");
  for (size_t i = 0; http && i < http->size(); ++i) {
    ObjectPtr r = json::AsObject(http->get(i));
    if (!r) continue;
    const std::string rwhere = where + " http[" + std::to_string(i) + "]";
    HttpRoute route;
    route.name = Str(r, "name");
    ArrayPtr matches = json::GetArray(r, "match");
    for (size_t j = 0; matches && j < matches->size(); ++j) {
      route.matches.push_back(ParseRouteMatch(json::AsObject(matches->get(j)), warnings,
                                              rwhere + ".match[" + std::to_string(j) + "]"));
    }
    ArrayPtr dests = json::GetArray(r, "route");
    for (size_t j = 0; dests && j < dests->size(); ++j) {
      ObjectPtr d = json::AsObject(dests->get(j));
      if (!d) continue;
      RouteDestination dest;
      dest.host = Str(d, "destination.host");
      dest.subset = Str(d, "destination.subset");
      dest.port = json::GetInt(d, "destination.port.number").value_or(0);
      dest.weight = json::GetInt(d, "weight").value_or(0);
      route.route.push_back(dest);
    }
    if (auto timeout = json::GetString(r, "timeout")) {
      route.timeout = ParseDuration(*timeout);
      if (!route.timeout) warnings.push_back(rwhere + ": bad timeout " + *timeout);
    }
    vs.http.push_back(std::move(route));
  }
  return vs;
}

// How well host matches pattern: -1 no match; "*" 0; "*.suffix" 1 + its length; exact above.
int HostScore(const std::string& pattern, const std::string& host) {
  if (pattern == host) return 1000000 + static_cast<int>(pattern.size());
  if (pattern == "*") return 0;
  if (pattern.rfind("*.", 0) == 0 && host.size() > pattern.size() - 1 &&
      EndsWith(host, std::string_view(pattern).substr(1))) {
    return 1 + static_cast<int>(pattern.size());
  }
  return -1;
}

std::string PathOnly(const std::string& path) { return path.substr(0, path.find('?')); }

std::optional<std::string> QueryParam(const std::string& path, const std::string& name) {
  const size_t q = path.find('?');
  if (q == std::string::npos) return std::nullopt;
  size_t pos = q + 1;
  while (pos <= path.size()) {
    size_t end = path.find('&', pos);
    if (end == std::string::npos) end = path.size();
    const std::string pair = path.substr(pos, end - pos);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string::npos ? "" : pair.substr(eq + 1);
    pos = end + 1;
  }
  return std::nullopt;
}

bool MatchHolds(const RouteMatch& m, const MeshRequest& r) {
  if (!m.gateway_applies || m.unsupported) return false;
  for (const auto& [name, match] : m.headers) {
    const std::string* value = r.Header(name);
    if (!value || !match.Matches(*value)) return false;
  }
  for (const auto& [name, match] : m.without_headers) {
    const std::string* value = r.Header(name);
    if (value && match.Matches(*value)) return false;
  }
  for (const auto& [name, match] : m.query_params) {
    auto value = QueryParam(r.path, name);
    if (!value || !match.Matches(*value)) return false;
  }
  if (m.uri) {
    const std::string& subject =
        m.uri->kind == StringMatch::Kind::kPrefix ? r.path : PathOnly(r.path);
    if (!m.uri->Matches(subject, m.ignore_uri_case)) return false;
  }
  if (m.method && !m.method->Matches(r.method)) return false;
  if (m.authority) {
    std::string authority = r.host;
    if (const std::string* h = r.Header("host")) authority = *h;
    if (!m.authority->Matches(authority)) return false;
  }
  return true;
}

}  // namespace

bool StringMatch::Matches(const std::string& text, bool ignore_case) const {
  switch (kind) {
    case Kind::kPresent:
      return true;
    case Kind::kExact:
      return ignore_case ? Lower(text) == Lower(value) : text == value;
    case Kind::kPrefix:
      return ignore_case ? Lower(text).rfind(Lower(value), 0) == 0 : text.rfind(value, 0) == 0;
    case Kind::kRegex:
      if (!regex) return false;
      return std::regex_match(ignore_case ? Lower(text) : text, *regex);
  }
  return false;
}

const std::string* MeshRequest::Header(const std::string& lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

PodIdentity IdentityOf(const ObjectPtr& pod) {
  PodIdentity id;
  id.ns = Str(pod, "metadata.namespace");
  id.pod = Str(pod, "metadata.name");
  const auto labels = StringMap(json::GetObject(pod, "metadata.labels"));
  auto label = [&](const std::string& key) {
    auto it = labels.find(key);
    return it == labels.end() ? std::string() : it->second;
  };

  // The workload: Istio's rule, the Deployment behind a ReplicaSet "<deploy>-<hash>".
  ArrayPtr refs = json::GetArray(pod, "metadata.ownerReferences");
  ObjectPtr owner;
  for (size_t i = 0; refs && i < refs->size(); ++i) {
    ObjectPtr r = json::AsObject(refs->get(i));
    if (r && json::GetBool(r, "controller").value_or(false)) owner = r;
  }
  if (!owner && refs && refs->size() > 0) owner = json::AsObject(refs->get(0));
  if (owner) {
    id.workload = Str(owner, "name");
    const std::string hash = label(kHashLabel);
    if (Str(owner, "kind") == "ReplicaSet") {
      if (!hash.empty() && EndsWith(id.workload, "-" + hash)) {
        id.workload.resize(id.workload.size() - hash.size() - 1);
      } else if (size_t dash = id.workload.rfind('-'); dash != std::string::npos && dash > 0) {
        id.workload.resize(dash);
      }
    }
  }
  if (id.workload.empty()) id.workload = id.pod;

  id.app = label("app");
  if (id.app.empty()) id.app = label("app.kubernetes.io/name");
  if (id.app.empty()) id.app = id.workload;

  id.version = label("version");
  if (id.version.empty()) {
    ArrayPtr containers = json::GetArray(pod, "spec.containers");
    if (containers && containers->size() > 0) {
      const std::string image = Str(json::AsObject(containers->get(0)), "image");
      if (!image.empty()) id.version = ImageTag(image);
    }
  }

  if (auto rate = EnvValue(pod, "FAULT_ERROR_RATE")) {
    char* end = nullptr;
    const double v = std::strtod(rate->c_str(), &end);
    if (end != rate->c_str() && std::isfinite(v)) id.error_rate = std::clamp(v, 0.0, 1.0);
  }
  if (auto latency = EnvValue(pod, "FAULT_LATENCY_MS")) {
    char* end = nullptr;
    const double v = std::strtod(latency->c_str(), &end);
    if (end != latency->c_str() && std::isfinite(v) && v > 0) {
      id.latency_ms = static_cast<int>(std::min(v, 3600e3));
    }
  }
  return id;
}

std::optional<std::pair<std::string, std::string>> ParseClusterLocal(const std::string& host) {
  const std::string h = Lower(host);
  if (!EndsWith(h, kClusterLocal)) return std::nullopt;
  const std::string rest = h.substr(0, h.size() - (sizeof(kClusterLocal) - 1));
  const size_t dot = rest.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 >= rest.size() ||
      rest.find('.', dot + 1) != std::string::npos) {
    return std::nullopt;
  }
  return std::make_pair(rest.substr(0, dot), rest.substr(dot + 1));
}

std::string ResolveDestinationHost(const std::string& host, const std::string& ns) {
  const std::string h = Lower(host);
  if (h.empty() || EndsWith(h, kClusterLocal)) return h;
  if (EndsWith(h, ".svc")) return h + ".cluster.local";
  const size_t dots = static_cast<size_t>(std::count(h.begin(), h.end(), '.'));
  if (dots == 0) return h + "." + ns + kClusterLocal;
  if (dots == 1) return h + kClusterLocal;
  return h;  // an outside name: no Service in the sandbox
}

std::unique_ptr<MeshSnapshot> BuildMeshSnapshot(
    const std::vector<ObjectPtr>& pods, const std::vector<ObjectPtr>& services,
    const std::vector<ObjectPtr>& virtual_services, const std::vector<ObjectPtr>& destination_rules,
    const std::function<uint16_t(const std::string& uid)>& port_of) {
  auto mesh = std::make_unique<MeshSnapshot>();
  for (const ObjectPtr& p : pods) {
    if (!p || json::GetString(p, "metadata.deletionTimestamp")) continue;
    if (Str(p, "status.phase") != "Running" || !HasConditionTrue(p, "Ready")) continue;
    const std::string uid = Str(p, "metadata.uid");
    const uint16_t port = port_of ? port_of(uid) : 0;
    if (port == 0) continue;
    MeshPod pod;
    pod.uid = uid;
    pod.labels = StringMap(json::GetObject(p, "metadata.labels"));
    pod.identity = IdentityOf(p);
    pod.port = port;
    mesh->pods.push_back(std::move(pod));
  }
  std::stable_sort(mesh->pods.begin(), mesh->pods.end(), [](const MeshPod& a, const MeshPod& b) {
    return std::tie(a.identity.ns, a.identity.pod) < std::tie(b.identity.ns, b.identity.pod);
  });

  std::vector<ObjectPtr> sorted_services = services;
  std::stable_sort(sorted_services.begin(), sorted_services.end(),
                   [](const ObjectPtr& a, const ObjectPtr& b) {
                     return std::make_pair(Str(a, "metadata.namespace"), Str(a, "metadata.name")) <
                            std::make_pair(Str(b, "metadata.namespace"), Str(b, "metadata.name"));
                   });
  for (const ObjectPtr& s : sorted_services) {
    if (!s || json::GetString(s, "metadata.deletionTimestamp")) continue;
    MeshService svc;
    svc.ns = Str(s, "metadata.namespace");
    svc.name = Str(s, "metadata.name");
    svc.fqdn = svc.name + "." + svc.ns + kClusterLocal;
    ArrayPtr ports = json::GetArray(s, "spec.ports");
    for (size_t i = 0; ports && i < ports->size(); ++i) {
      if (auto n = json::GetInt(json::AsObject(ports->get(i)), "port")) svc.ports.push_back(*n);
    }
    const auto selector = StringMap(json::GetObject(s, "spec.selector"));
    if (!selector.empty() && Str(s, "spec.type") != "ExternalName") {
      for (size_t i = 0; i < mesh->pods.size(); ++i) {
        const MeshPod& pod = mesh->pods[i];
        if (pod.identity.ns != svc.ns || !Contains(pod.labels, selector)) continue;
        svc.pods.push_back(i);
        mesh->service_of_pod.emplace(pod.identity.ns + "/" + pod.identity.pod, svc.fqdn);
      }
    }
    const std::string fqdn = svc.fqdn;
    mesh->services.emplace(fqdn, std::move(svc));
  }

  for (const ObjectPtr& v : virtual_services) {
    if (!v || json::GetString(v, "metadata.deletionTimestamp") || !IsGatewayBound(v)) continue;
    mesh->gateway_routes.push_back(ParseVirtualService(v, mesh->warnings));
  }
  std::stable_sort(mesh->gateway_routes.begin(), mesh->gateway_routes.end(),
                   [](const VirtualService& a, const VirtualService& b) {
                     return std::tie(a.created, a.ns, a.name) < std::tie(b.created, b.ns, b.name);
                   });

  for (const ObjectPtr& d : destination_rules) {
    if (!d || json::GetString(d, "metadata.deletionTimestamp")) continue;
    DestinationRule dr;
    dr.ns = Str(d, "metadata.namespace");
    dr.name = Str(d, "metadata.name");
    dr.host = ResolveDestinationHost(Str(d, "spec.host"), dr.ns);
    ArrayPtr subsets = json::GetArray(d, "spec.subsets");
    for (size_t i = 0; subsets && i < subsets->size(); ++i) {
      ObjectPtr s = json::AsObject(subsets->get(i));
      if (!s || Str(s, "name").empty()) continue;
      dr.subsets[Str(s, "name")] = StringMap(json::GetObject(s, "labels"));
    }
    mesh->destination_rules.push_back(std::move(dr));
  }
  std::stable_sort(mesh->destination_rules.begin(), mesh->destination_rules.end(),
                   [](const DestinationRule& a, const DestinationRule& b) {
                     return std::tie(a.ns, a.name) < std::tie(b.ns, b.name);
                   });
  return mesh;
}

RouteChoice RouteRequest(const MeshSnapshot& mesh, const MeshRequest& request,
                         const std::function<uint64_t(uint64_t)>& random_below) {
  RouteChoice choice;
  if (auto local = ParseClusterLocal(request.host)) {
    choice.found = true;
    choice.target.service = local->first + "." + local->second + kClusterLocal;
    choice.target.port = request.port;
    return choice;
  }

  const VirtualService* best = nullptr;
  int best_score = -1;
  for (const VirtualService& vs : mesh.gateway_routes) {
    for (const std::string& pattern : vs.hosts) {
      const int score = HostScore(pattern, request.host);
      if (score > best_score) {
        best_score = score;
        best = &vs;
      }
    }
  }
  if (!best) return choice;

  for (const HttpRoute& route : best->http) {
    bool holds = route.matches.empty();
    for (const RouteMatch& m : route.matches) {
      if (MatchHolds(m, request)) {
        holds = true;
        break;
      }
    }
    if (!holds) continue;
    if (route.route.empty()) return choice;  // redirect, directResponse...: not served here
    choice.virtual_service = best;
    choice.route_name = route.name;
    choice.timeout = route.timeout;
    const RouteDestination* picked = nullptr;
    if (route.route.size() == 1) {
      picked = &route.route.front();
    } else {
      uint64_t total = 0;
      for (const RouteDestination& d : route.route)
        total += static_cast<uint64_t>(std::max<int64_t>(d.weight, 0));
      if (total == 0) {
        choice.found = true;
        choice.zero_weights = true;
        choice.target.service = ResolveDestinationHost(route.route.front().host, best->ns);
        return choice;
      }
      uint64_t draw = random_below(total);
      for (const RouteDestination& d : route.route) {
        const uint64_t w = static_cast<uint64_t>(std::max<int64_t>(d.weight, 0));
        if (draw < w) {
          picked = &d;
          break;
        }
        draw -= w;
      }
      if (!picked) picked = &route.route.back();
    }
    choice.found = true;
    choice.target.service = ResolveDestinationHost(picked->host, best->ns);
    choice.target.subset = picked->subset;
    choice.target.port = picked->port;
    return choice;
  }
  return choice;
}

EndpointChoice PickEndpoint(const MeshSnapshot& mesh, const RouteTarget& target) {
  EndpointChoice out;
  auto it = mesh.services.find(target.service);
  if (it == mesh.services.end()) {
    out.response_flags = "UH";
    return out;
  }
  const MeshService& svc = it->second;
  out.service = &svc;
  if (target.port != 0 && !svc.ports.empty() &&
      std::find(svc.ports.begin(), svc.ports.end(), target.port) == svc.ports.end()) {
    out.response_flags = "NC";
    return out;
  }
  const std::map<std::string, std::string>* subset_labels = nullptr;
  if (!target.subset.empty()) {
    const DestinationRule* rule = nullptr;
    for (const DestinationRule& dr : mesh.destination_rules) {
      if (dr.host != svc.fqdn || !dr.subsets.count(target.subset)) continue;
      if (!rule || (dr.ns == svc.ns && rule->ns != svc.ns)) rule = &dr;
    }
    if (!rule) {
      out.response_flags = "NC";
      return out;
    }
    subset_labels = &rule->subsets.at(target.subset);
  }
  std::vector<size_t> candidates;
  candidates.reserve(svc.pods.size());
  for (size_t i : svc.pods) {
    if (subset_labels && !Contains(mesh.pods[i].labels, *subset_labels)) continue;
    candidates.push_back(i);
  }
  if (candidates.empty()) {
    out.response_flags = "UH";
    return out;
  }
  const uint64_t n = svc.next->fetch_add(1, std::memory_order_relaxed);
  out.pod = &mesh.pods[candidates[n % candidates.size()]];
  return out;
}

}  // namespace sandbox

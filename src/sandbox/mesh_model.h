// The mesh as the sandbox's gateway and workloads see it: a read-only snapshot of the ready Pods
// (with the loopback port of each one's workload), the Services, the gateway-bound
// VirtualServices and the DestinationRules, built from Kubernetes objects; and the routing
// decisions over it, which are pure functions (the random draw for weights is passed in).
//
// Routing, as Istio's ingress gateway does it:
// - A request whose host is "<svc>.<ns>.svc.cluster.local" goes straight to that Service
//   (in-mesh traffic); no VirtualService is consulted.
// - Otherwise the VirtualServices that name a gateway other than "mesh" are candidates. Their
//   hosts match the request's host exactly, as "*.suffix" or as "*"; short names ("flaskapp")
//   mean "<name>.<vs namespace>.svc.cluster.local". The most specific host wins (exact, then
//   the longest wildcard suffix, then "*"); ties go to the oldest VirtualService.
// - Its `http` routes are tried in order; the first whose `match` list is empty or has one
//   entry whose every condition holds wins. Conditions: headers / withoutHeaders (exact, prefix,
//   regex; names case-insensitive), uri (exact and regex on the path without the query,
//   prefix on the path with it; ignoreUriCase), method, authority, queryParams, and gateways
//   (a match naming only "mesh" never applies at the gateway).
// - Among the route's destinations one is drawn per request with probability weight/total, as
//   Envoy's weighted clusters do (a single destination without weight counts as 100).
//   Destination hosts: "<svc>.<ns>.svc.cluster.local", "<svc>.<ns>" or "<svc>" (the
//   VirtualService's namespace); optional port.number; subset via a DestinationRule's subsets.
// - No VirtualService, no route or no destination: 404 (response flag NR). A Service without a
//   ready Pod (or unknown): 503 "no healthy upstream" (UH). An unknown subset or port: 503 (NC).
// - The ready Pods of the Service (selector, plus the subset's labels) are taken round-robin.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "sandbox/json_util.h"

namespace sandbox {

// Who a Pod is, for the workload's answers and the metrics' destination labels.
struct PodIdentity {
  std::string ns;
  std::string pod;
  std::string app;        // label app, else app.kubernetes.io/name, else the workload
  std::string version;    // label version, else the image tag of the first container
  std::string workload;   // the owning Deployment (ReplicaSet name minus its hash), or owner
  double error_rate = 0;  // container env FAULT_ERROR_RATE, clamped to 0..1
  int latency_ms = 0;     // container env FAULT_LATENCY_MS, >= 0
};
PodIdentity IdentityOf(const json::ObjectPtr& pod);

// "flaskapp.stage.svc.cluster.local" -> {"flaskapp", "stage"}; nullopt for other hosts.
std::optional<std::pair<std::string, std::string>> ParseClusterLocal(const std::string& host);

struct MeshPod {
  std::string uid;
  std::map<std::string, std::string> labels;
  PodIdentity identity;
  uint16_t port = 0;  // the workload's loopback port
};

struct MeshService {
  std::string ns;
  std::string name;
  std::string fqdn;  // name.ns.svc.cluster.local
  std::vector<int64_t> ports;
  std::vector<size_t> pods;  // indices into MeshSnapshot::pods: ready, selected, sorted by name
  // Round-robin position; shared by the subsets of the Service.
  std::unique_ptr<std::atomic<uint64_t>> next = std::make_unique<std::atomic<uint64_t>>(0);
};

struct StringMatch {
  enum class Kind { kExact, kPrefix, kRegex, kPresent } kind = Kind::kExact;
  std::string value;
  std::shared_ptr<const std::regex> regex;  // null when the pattern did not compile
  bool Matches(const std::string& text, bool ignore_case = false) const;
};

struct RouteMatch {
  std::vector<std::pair<std::string, StringMatch>> headers;  // names lowercased
  std::vector<std::pair<std::string, StringMatch>> without_headers;
  std::vector<std::pair<std::string, StringMatch>> query_params;
  std::optional<StringMatch> uri;
  std::optional<StringMatch> method;
  std::optional<StringMatch> authority;
  bool ignore_uri_case = false;
  bool gateway_applies = true;  // false when `gateways` names only "mesh"
  bool unsupported = false;     // a condition the sandbox cannot evaluate (never matches)
};

struct RouteDestination {
  std::string host;  // as written
  std::string subset;
  int64_t port = 0;  // 0 = not given
  int64_t weight = 0;
};

struct HttpRoute {
  std::string name;
  std::vector<RouteMatch> matches;  // empty: every request
  std::vector<RouteDestination> route;
  std::optional<std::chrono::milliseconds> timeout;
};

struct VirtualService {
  std::string ns;
  std::string name;
  std::string created;             // creationTimestamp, for precedence
  std::vector<std::string> hosts;  // lowercased, short names expanded
  std::vector<HttpRoute> http;
};

struct DestinationRule {
  std::string ns;
  std::string name;
  std::string host;                                                   // FQDN
  std::map<std::string, std::map<std::string, std::string>> subsets;  // name -> labels
};

struct MeshSnapshot {
  uint64_t resource_version = 0;  // the store's, when built
  uint64_t workloads_generation = 0;
  std::vector<MeshPod> pods;                    // ready Pods that have a workload
  std::map<std::string, MeshService> services;  // by fqdn
  std::vector<VirtualService> gateway_routes;   // gateway-bound VirtualServices, oldest first
  std::vector<DestinationRule> destination_rules;
  // Pod "ns/name" -> the fqdn of the first Service (by name) that selects it.
  std::map<std::string, std::string> service_of_pod;
  // Problems met while reading the objects (bad regexes, ...), for the debug log.
  std::vector<std::string> warnings;
};

// Builds a snapshot. pods: every Pod; port_of(uid) gives the loopback port of the Pod's
// workload, 0 when it has none (such Pods are left out, as are Pods not Ready).
std::unique_ptr<MeshSnapshot> BuildMeshSnapshot(
    const std::vector<json::ObjectPtr>& pods, const std::vector<json::ObjectPtr>& services,
    const std::vector<json::ObjectPtr>& virtual_services,
    const std::vector<json::ObjectPtr>& destination_rules,
    const std::function<uint16_t(const std::string& uid)>& port_of);

// One request as the gateway received it.
struct MeshRequest {
  std::string method = "GET";
  std::string host;                                          // lowercased, without the port
  int port = 0;                                              // from the authority, 0 when absent
  std::string path;                                          // path and query ("/a/b?x=1")
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  const std::string* Header(const std::string& lower_name) const;
};

// Where a request goes, before an endpoint is picked.
struct RouteTarget {
  std::string service;  // fqdn "<svc>.<ns>.svc.cluster.local"
  std::string subset;
  int64_t port = 0;
};

struct RouteChoice {
  bool found = false;  // false: 404 NR
  RouteTarget target;
  const VirtualService* virtual_service = nullptr;  // null for *.svc.cluster.local requests
  std::string route_name;
  std::optional<std::chrono::milliseconds> timeout;
  bool zero_weights = false;  // found, but every destination has weight 0 (503 UH)
};

// random_below(n) returns a uniformly distributed value in [0, n).
RouteChoice RouteRequest(const MeshSnapshot& mesh, const MeshRequest& request,
                         const std::function<uint64_t(uint64_t)>& random_below);

// The destination host of a route, resolved as a Service fqdn relative to namespace ns.
std::string ResolveDestinationHost(const std::string& host, const std::string& ns);

struct EndpointChoice {
  const MeshPod* pod = nullptr;          // null: no endpoint (503)
  const MeshService* service = nullptr;  // null when the Service does not exist
  std::string response_flags;            // "UH" or "NC" when pod is null
};
// Picks the next ready Pod of the target's Service (and subset), round-robin.
EndpointChoice PickEndpoint(const MeshSnapshot& mesh, const RouteTarget& target);

}  // namespace sandbox

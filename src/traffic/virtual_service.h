// Pure functions over an Istio VirtualService's JSON: find the route canaryctl manages, and
// compute the JSON patch that changes only its weights, canaryctl's annotations and the test
// route. Everything else in the object is never re-serialized: the patch names only the
// fields canaryctl owns, so other routes, matches, retries, timeouts, fault injection,
// annotations and labels stay exactly as they were.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <Poco/JSON/Object.h>

#include "common/result.h"
#include "traffic/router.h"

namespace canaryctl::traffic {

inline constexpr char kTestRouteName[] = "canaryctl-test-route";

// A Kubernetes Service as a route destination.
struct ServiceDestination {
  std::string service;
  std::string ns;
  std::optional<int> port;  // matched (and written) when set
  std::string subset;       // matched (and written) when non-empty
  std::string Fqdn() const { return service + "." + ns + ".svc.cluster.local"; }
};

struct VirtualServiceRef {
  std::string ns;
  std::string name;
  std::string api_version = "networking.istio.io/v1";
  bool create = false;  // created by Reconcile() when absent
  std::vector<std::string> gateways;
  std::vector<std::string> hosts;
  std::string Describe() const { return "VirtualService " + ns + "/" + name; }
};

struct TestRouteSpec {
  std::string header;
  std::string value;
};

struct RouterConfig {
  VirtualServiceRef virtual_service;
  ServiceDestination stable;
  ServiceDestination candidate;
  std::optional<TestRouteSpec> test_route;
};

// Problems with the configuration itself (same destination twice, empty names), or nullopt.
std::optional<Error> ValidateConfig(const RouterConfig& config);

// Whether a destination.host written in a VirtualService in vs_ns names the Service: the FQDN,
// "<svc>.<ns>", "<svc>.<ns>.svc", or "<svc>" when ns == vs_ns (as Istio resolves them).
bool HostNames(const std::string& host, const std::string& vs_ns, const ServiceDestination& d);

// The managed route as found in an object.
struct ManagedRoute {
  int http_index = -1;
  int stable_index = -1;     // index in route[]
  int candidate_index = -1;  // -1: absent (to be added at weight 0)
  int stable_weight = 100;
  int candidate_weight = 0;
  int test_route_index = -1;  // index in http[] of the route named kTestRouteName, or -1
};

// Finds the one HTTP route whose destinations are exactly the stable and candidate ones (or
// only the stable one). Ambiguity (several such routes), 3+ destinations, weights that are not
// integers in 0..100 summing to 100: a kCluster error naming the object and the route.
Result<ManagedRoute> FindManagedRoute(const Poco::JSON::Object::Ptr& vs,
                                      const RouterConfig& config);

// The patch and diff for update against vs (which must be the object read with
// update.expected_resource_version; the patch carries it as a precondition).
Result<WeightPlan> PlanWeightPatch(const Poco::JSON::Object::Ptr& vs, const RouterConfig& config,
                                   const WeightUpdate& update);

// The patch that adds (present) or removes the test route; empty when nothing would change.
Result<std::string> PlanTestRoutePatch(const Poco::JSON::Object::Ptr& vs,
                                       const RouterConfig& config, bool present);

// The patch that adds the candidate destination at weight 0 to the managed route; empty when
// it is already there.
Result<std::string> PlanReconcilePatch(const Poco::JSON::Object::Ptr& vs,
                                       const RouterConfig& config);

// A new object for create: true: the configured gateways and hosts, one route to stable 100 /
// candidate 0.
std::string NewVirtualService(const RouterConfig& config);

// Reads what Weights() returns from an object.
Result<TrafficState> ReadTrafficState(const Poco::JSON::Object::Ptr& vs,
                                      const RouterConfig& config);

}  // namespace canaryctl::traffic

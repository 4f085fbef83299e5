// Kubernetes JSON responses: the API helpers (kube/api.h) on any body, then, when the body is
// an object, the VirtualService functions (traffic/virtual_service.h) on it. Properties: every
// failure is a kCluster error with a message; a planned weight patch, applied as the API
// server would (the sandbox's RFC 6902 implementation), gives exactly the weights and the
// state asked for.
#include <cstddef>
#include <cstdint>
#include <string>

#include <Poco/JSON/Parser.h>

#include "fuzz/fuzz_support.h"
#include "kube/api.h"
#include "sandbox/patch.h"
#include "traffic/virtual_service.h"

using namespace canaryctl;

namespace {

traffic::RouterConfig Config() {
  traffic::RouterConfig config;
  config.virtual_service.ns = "prod";
  config.virtual_service.name = "demoapp";
  config.virtual_service.create = true;
  config.virtual_service.gateways = {"app-gateway"};
  config.virtual_service.hosts = {"*"};
  config.stable.service = config.candidate.service = "flaskapp";
  config.stable.ns = "prod";
  config.candidate.ns = "stage";
  config.test_route = traffic::TestRouteSpec{"x-canary", "always"};
  return config;
}

bool IsClusterError(const Error& e) { return e.kind == ErrorKind::kCluster && !e.message.empty(); }

Poco::Dynamic::Var ParseJson(const std::string& text) { return Poco::JSON::Parser().parse(text); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const traffic::RouterConfig config = Config();
  const std::string body(reinterpret_cast<const char*>(data), size);

  FUZZ_CHECK(!kube::ApiStatusMessage({404, body, {}}).empty(), "a failure has a message");
  const kube::Request request{"GET", "/apis/networking.istio.io/v1/namespaces/prod/x", {}, "", ""};
  auto parsed = kube::ParseJsonObject(request, {200, body, {}});
  if (!parsed.ok()) {
    FUZZ_CHECK(IsClusterError(parsed.error()), "an unreadable answer is a cluster error");
    return 0;
  }
  const Poco::JSON::Object::Ptr vs = parsed.value();

  auto state = traffic::ReadTrafficState(vs, config);
  if (!state.ok()) {
    FUZZ_CHECK(IsClusterError(state.error()), "an unusable route is a cluster error");
    return 0;
  }
  FUZZ_CHECK(state.value().stable >= 0 && state.value().candidate >= 0 &&
                 state.value().stable + state.value().candidate == 100,
             "weights read are percentages summing to 100");

  for (bool present : {true, false}) {
    auto test_route = traffic::PlanTestRoutePatch(vs, config, present);
    FUZZ_CHECK(test_route.ok() || IsClusterError(test_route.error()), "test route patch");
  }
  auto reconcile = traffic::PlanReconcilePatch(vs, config);
  FUZZ_CHECK(reconcile.ok() || IsClusterError(reconcile.error()), "reconcile patch");

  // An object without metadata.resourceVersion is a cluster error above
  // (regressions/kube_json/no_resource_version.json: it once passed and then failed as kConfig).
  FUZZ_CHECK(!state.value().resource_version.empty(), "a route read has its resourceVersion");
  traffic::WeightUpdate update;
  update.stable = 70;
  update.candidate = 30;
  update.state_json = R"({"phase":"shifting"})";
  update.expected_resource_version = state.value().resource_version;
  update.remove_test_route = true;
  auto plan = traffic::PlanWeightPatch(vs, config, update);
  if (!plan.ok()) {
    FUZZ_CHECK(IsClusterError(plan.error()), "weight patch");
    return 0;
  }
  if (plan.value().patch.empty()) return 0;
  // The patch must be a JSON patch the API server accepts, and do what it says.
  Poco::Dynamic::Var patch;
  try {
    patch = ParseJson(plan.value().patch);
  } catch (const std::exception&) {
    FUZZ_CHECK(false, "the weight patch is JSON");
  }
  auto patched = sandbox::patch::JsonPatch(vs, patch);
  if (!patched.ok()) std::fprintf(stderr, "%s\n", plan.value().patch.c_str());
  FUZZ_CHECK(patched.ok(), "the weight patch applies to the object it was planned on");
  auto after = traffic::ReadTrafficState(patched.value(), config);
  FUZZ_CHECK(after.ok(), "the patched object still has the managed route");
  FUZZ_CHECK(after.value().stable == 70 && after.value().candidate == 30,
             "the patch sets the weights asked for");
  FUZZ_CHECK(after.value().annotations.count(traffic::kStateAnnotation) == 1 &&
                 after.value().annotations.at(traffic::kStateAnnotation) == update.state_json,
             "the patch writes the state with the weights");
  FUZZ_CHECK(!after.value().test_route, "the patch removes the test route");
  return 0;
}

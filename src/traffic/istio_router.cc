#include "traffic/istio_router.h"

#include <utility>

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

namespace canaryctl::traffic {
namespace {

using Poco::JSON::Object;

constexpr int kReconcileAttempts = 3;

Result<Object::Ptr> ParseObject(const std::string& body, const std::string& what) {
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var v = parser.parse(body);
    if (v.type() == typeid(Object::Ptr)) return v.extract<Object::Ptr>();
  } catch (const Poco::Exception& e) {
    return ClusterError(what + ": the API server's answer is not JSON: " + e.displayText());
  }
  return ClusterError(what + ": the API server's answer is not a JSON object");
}

std::string ResourceVersionOf(const Object::Ptr& obj) {
  Object::Ptr meta = obj ? obj->getObject("metadata") : nullptr;
  if (meta && meta->get("resourceVersion").isString()) {
    return meta->get("resourceVersion").toString();
  }
  return "";
}

}  // namespace

IstioRouter::IstioRouter(kube::Client& client, RouterConfig config)
    : client_(client), config_(std::move(config)) {}

std::string IstioRouter::ObjectPath() const {
  const auto& ref = config_.virtual_service;
  return "/apis/" + ref.api_version + "/namespaces/" + ref.ns + "/virtualservices/" + ref.name;
}

Error IstioRouter::ApiError(const std::string& verb, const kube::Response& response) const {
  std::string message;
  auto parsed = ParseObject(response.body, "");
  if (parsed.ok() && parsed.value()->get("message").isString()) {
    message = parsed.value()->get("message").toString();
  } else {
    message = response.body.substr(0, 300);
  }
  return ClusterError(verb + " " + config_.virtual_service.Describe() + ": HTTP " +
                      std::to_string(response.status) + ": " + message);
}

Result<Object::Ptr> IstioRouter::Read() {
  if (auto e = ValidateConfig(config_)) return *e;
  last_ = nullptr;
  auto r = client_.Send({"GET", ObjectPath(), {}, "", ""});
  if (!r.ok()) return r.error();
  if (r.value().status == 404) return Object::Ptr();
  if (r.value().status != 200) return ApiError("reading", r.value());
  auto obj = ParseObject(r.value().body, "reading " + config_.virtual_service.Describe());
  if (obj.ok()) last_ = obj.value();
  return obj;
}

Result<Object::Ptr> IstioRouter::ReadExisting() {
  auto vs = Read();
  if (!vs.ok()) return vs.error();
  if (!vs.value()) {
    return ClusterError(config_.virtual_service.Describe() + " not found" +
                        (config_.virtual_service.create
                             ? " (run deploy first: it creates it)"
                             : " and traffic.virtualService.create is false"));
  }
  return vs;
}

Result<WriteResult> IstioRouter::Patch(const std::string& patch, const std::string& expected_rv) {
  last_ = nullptr;
  auto r = client_.Send({"PATCH", ObjectPath(), {}, patch, "application/json-patch+json"});
  if (!r.ok()) return r.error();
  const kube::Response& resp = r.value();
  if (resp.status == 200) {
    auto obj = ParseObject(resp.body, "patching " + config_.virtual_service.Describe());
    if (obj.ok()) last_ = obj.value();
    return WriteResult{WriteOutcome::kWritten, obj.ok() ? ResourceVersionOf(obj.value()) : ""};
  }
  if (resp.status == 409) return WriteResult{WriteOutcome::kConflict, ""};
  if (resp.status == 422) {
    // The patch's paths were computed on the object we read; if it changed since, they may not
    // resolve any more, which the apiserver reports before the resourceVersion check.
    auto now = Read();
    if (now.ok() && now.value() && ResourceVersionOf(now.value()) != expected_rv) {
      return WriteResult{WriteOutcome::kConflict, ResourceVersionOf(now.value())};
    }
  }
  return ApiError("patching", resp);
}

Status IstioRouter::Reconcile() {
  for (int attempt = 0; attempt < kReconcileAttempts; ++attempt) {
    auto vs = Read();
    if (!vs.ok()) return vs.error();
    if (!vs.value()) {
      if (!config_.virtual_service.create) {
        return ClusterError(config_.virtual_service.Describe() +
                            " not found and traffic.virtualService.create is false");
      }
      const auto& ref = config_.virtual_service;
      auto r =
          client_.Send({"POST",
                        "/apis/" + ref.api_version + "/namespaces/" + ref.ns + "/virtualservices",
                        {},
                        NewVirtualService(config_),
                        "application/json"});
      if (!r.ok()) return r.error();
      if (r.value().status == 201 || r.value().status == 200) return Done{};
      if (r.value().status == 409) continue;  // created meanwhile: check what it holds
      return ApiError("creating", r.value());
    }
    auto patch = PlanReconcilePatch(vs.value(), config_);
    if (!patch.ok()) return patch.error();
    if (patch.value().empty()) return Done{};
    auto written = Patch(patch.value(), ResourceVersionOf(vs.value()));
    if (!written.ok()) return written.error();
    if (written.value().outcome != WriteOutcome::kConflict) return Done{};
    // Reconcile decides nothing from the state: re-reading and retrying is always safe.
  }
  return ClusterError(config_.virtual_service.Describe() + " kept changing while adding the " +
                      "candidate destination (" + std::to_string(kReconcileAttempts) +
                      " conflicts)");
}

Result<TrafficState> IstioRouter::Weights() {
  auto vs = Read();
  if (!vs.ok()) return vs.error();
  if (!vs.value()) {
    TrafficState absent;
    absent.exists = false;
    return absent;
  }
  return ReadTrafficState(vs.value(), config_);
}

Result<WeightPlan> IstioRouter::PlanWeights(const WeightUpdate& update) {
  auto vs = Read();
  if (!vs.ok()) return vs.error();
  if (!vs.value() && config_.virtual_service.create) {
    // Plan against the object Reconcile() would create.
    auto created = ParseObject(NewVirtualService(config_), "planning");
    if (!created.ok()) return created.error();
    WeightUpdate on_new = update;
    if (on_new.expected_resource_version.empty()) on_new.expected_resource_version = "0";
    created.value()
        ->getObject("metadata")
        ->set("resourceVersion", on_new.expected_resource_version);
    auto plan = PlanWeightPatch(created.value(), config_, on_new);
    if (!plan.ok()) return plan.error();
    plan.value().creates = true;
    plan.value().diff = "+ " + config_.virtual_service.Describe() +
                        " (created: stable 100 / candidate 0)\n" + plan.value().diff;
    return plan;
  }
  if (!vs.value()) return ReadExisting().error();
  return PlanWeightPatch(vs.value(), config_, update);
}

Result<WriteResult> IstioRouter::SetWeights(const WeightUpdate& update) {
  // The object this router last read or wrote, when it is the version the caller decided on:
  // reading it again would return the same. The patch's resourceVersion still guards the write.
  Result<Object::Ptr> vs = last_ && !update.expected_resource_version.empty() &&
                                   ResourceVersionOf(last_) == update.expected_resource_version
                               ? Result<Object::Ptr>(last_)
                               : ReadExisting();
  if (!vs.ok()) return vs.error();
  const std::string rv = ResourceVersionOf(vs.value());
  // Validate the request first: a bad update is an error even when the object has moved on.
  auto plan = PlanWeightPatch(vs.value(), config_, update);
  if (!plan.ok()) return plan.error();
  if (rv != update.expected_resource_version) return WriteResult{WriteOutcome::kConflict, rv};
  if (plan.value().patch.empty()) return WriteResult{WriteOutcome::kUnchanged, rv};
  return Patch(plan.value().patch, update.expected_resource_version);
}

Result<WriteResult> IstioRouter::SetTestRoute(bool present) {
  auto vs = ReadExisting();
  if (!vs.ok()) return vs.error();
  const std::string rv = ResourceVersionOf(vs.value());
  auto patch = PlanTestRoutePatch(vs.value(), config_, present);
  if (!patch.ok()) return patch.error();
  if (patch.value().empty()) return WriteResult{WriteOutcome::kUnchanged, rv};
  return Patch(patch.value(), rv);
}

}  // namespace canaryctl::traffic

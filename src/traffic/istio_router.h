// The Router over an Istio VirtualService, through the Kubernetes API (kube::Client). Every
// write is a JSON patch naming only canaryctl's fields, preceded by the resourceVersion the
// decision was based on: the apiserver answers 409 when the object changed since, which comes
// back as WriteOutcome::kConflict. A router remembers the object its last request returned, so
// a read followed by writes costs one GET and a PATCH per write.
#pragma once

#include <string>

#include <Poco/JSON/Object.h>

#include "kube/client.h"
#include "traffic/router.h"
#include "traffic/virtual_service.h"

namespace canaryctl::traffic {

class IstioRouter : public Router {
 public:
  // client must outlive the router. Call ValidateConfig(config) first; the verbs repeat the
  // check and fail with its error.
  IstioRouter(kube::Client& client, RouterConfig config);

  Status Reconcile() override;
  Result<TrafficState> Weights() override;
  Result<WriteResult> SetWeights(const WeightUpdate& update) override;
  Result<WeightPlan> PlanWeights(const WeightUpdate& update) override;
  Result<WriteResult> SetTestRoute(bool present) override;

  // /apis/networking.istio.io/v1/namespaces/<ns>/virtualservices/<name>
  std::string ObjectPath() const;

 private:
  // The object, or a null Ptr when it does not exist.
  Result<Poco::JSON::Object::Ptr> Read();
  Result<Poco::JSON::Object::Ptr> ReadExisting();
  // Sends a JSON patch guarded by expected_rv; turns a 409 (or a 422 on an object that has
  // changed since) into kConflict.
  Result<WriteResult> Patch(const std::string& patch, const std::string& expected_rv);
  Error ApiError(const std::string& verb, const kube::Response& response) const;

  kube::Client& client_;
  RouterConfig config_;
  // The object as the last GET or PATCH returned it (null after a failure or a 404): what
  // SetWeights plans on when the caller expects that resourceVersion, saving a GET per write.
  Poco::JSON::Object::Ptr last_;
};

}  // namespace canaryctl::traffic

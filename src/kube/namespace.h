// Making sure a namespace exists and carries given labels, with as few writes as possible.
//
// EnsureNamespace(client, name, labels):
//   1. GET /api/v1/namespaces/<name>.
//   2. 404: POST /api/v1/namespaces {"apiVersion":"v1","kind":"Namespace","metadata":{"name":
//      name,"labels":labels}} and return. A 409 AlreadyExists means someone created it
//      meanwhile: GET it again and go on with 3.
//   3. It exists: if some of `labels` are missing or have another value, one PATCH
//      (application/merge-patch+json) {"metadata":{"labels":{...}}} naming only those; labels
//      it has that are not in `labels` are left alone. When everything already is as asked,
//      nothing is written at all (a CI job without write rights on namespaces still passes).
// A namespace being deleted (status.phase Terminating) is an error: nothing could be deployed
// into it. Errors are kCluster and read `namespace "<name>": <what failed>: <the API's
// message>`; a name that is not a DNS-1123 label is a kConfig error and nothing is sent.
#pragma once

#include <map>
#include <string>

#include "common/result.h"
#include "kube/client.h"

namespace canaryctl::kube {

Status EnsureNamespace(Client& client, const std::string& name,
                       const std::map<std::string, std::string>& labels);

}  // namespace canaryctl::kube

// The three PATCH kinds of the Kubernetes API, applied to an object's JSON.
//
// - JSON merge patch (RFC 7386, application/merge-patch+json).
// - JSON patch (RFC 6902, application/json-patch+json): add, remove, replace, move, copy,
//   test; paths are JSON pointers (RFC 6901, with ~0 ~1 escapes and "-" for append). A failed
//   `test` or a path that does not resolve is an error (the apiserver answers 422 for a failed
//   test: "the server rejected our request due to an error in our request"; use 422 Invalid
//   for failed tests and missing paths, 400 for malformed patch documents).
// - Strategic merge patch (application/strategic-merge-patch+json) for built-in kinds:
//   merge patch, except that lists with a known patch merge key merge by that key
//   (containers, initContainers, ephemeralContainers, volumes, env, ports (containerPort; for
//   Service ports: port), volumeMounts (mountPath), imagePullSecrets (name), conditions
//   (type), ownerReferences (uid), hostAliases (ip), volumeDevices (devicePath)); lists with
//   no merge key (tolerations, args, command) are replaced whole,
//   honouring the directives `$patch: replace|delete|merge`,
//   `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`, and `$retainKeys`.
//   Lists of primitives with strategy "merge" (finalizers) union; others replace.
//
// All functions leave their inputs untouched and return a new object.
#pragma once

#include "sandbox/api_error.h"
#include "sandbox/json_util.h"

namespace sandbox::patch {

Result<json::ObjectPtr> MergePatch(const json::ObjectPtr& target, const json::Var& patch);
Result<json::ObjectPtr> JsonPatch(const json::ObjectPtr& target, const json::Var& patch);
Result<json::ObjectPtr> StrategicMergePatch(const json::ObjectPtr& target,
                                            const json::ObjectPtr& patch);

// RFC 7386 applied to any JSON value (used by MergePatch and reusable elsewhere).
json::Var MergeValue(const json::Var& target, const json::Var& patch);

}  // namespace sandbox::patch

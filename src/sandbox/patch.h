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

#include <string>
#include <string_view>
#include <vector>

#include "sandbox/api_error.h"
#include "sandbox/json_util.h"

namespace sandbox::patch {

Result<json::ObjectPtr> MergePatch(const json::ObjectPtr& target, const json::Var& patch);
Result<json::ObjectPtr> JsonPatch(const json::ObjectPtr& target, const json::Var& patch);
Result<json::ObjectPtr> StrategicMergePatch(const json::ObjectPtr& target,
                                            const json::ObjectPtr& patch);

// RFC 7386 applied to any JSON value (used by MergePatch and reusable elsewhere).
json::Var MergeValue(const json::Var& target, const json::Var& patch);

// --- Shared with server-side apply (apply.cc) ---

// How a list field of a built-in kind merges. Decided by the field's name and, for "ports",
// by whether the elements carry "containerPort" (container ports) or "port" (Service ports).
struct ListStrategy {
  enum Kind { kAtomic, kMergeByKey, kMergePrimitives } kind = kAtomic;
  std::string key;  // the patch merge key, for kMergeByKey
};
// `a` and `b` are the lists being merged (either may be null); their elements decide "ports".
ListStrategy ListStrategyFor(std::string_view field, const json::ArrayPtr& a,
                             const json::ArrayPtr& b);

// True for the API groups of built-in kinds (core, apps, batch, *.k8s.io, ...), whose lists
// merge by key; custom resources' lists are atomic.
bool IsBuiltInApiVersion(std::string_view api_version);

// One element of a merged list: where it was in the live list (-1: new) and in the patch's
// order (-1: not mentioned by the patch).
struct OrderedItem {
  json::Var value;
  int server_index = -1;
  int patch_index = -1;
};
// The apiserver's order for a merged list: the patch's elements in patch order, with the
// elements only the live object has kept at their relative positions.
std::vector<json::Var> InterleaveOrder(std::vector<OrderedItem> items);

}  // namespace sandbox::patch

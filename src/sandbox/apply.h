// Server-side apply (PATCH application/apply-patch+yaml, ?fieldManager=M&force=true|false).
//
// Tracks field ownership in metadata.managedFields as the apiserver does: entries
// {manager, operation: "Apply"|"Update", apiVersion, time, fieldsType: "FieldsV1",
//  fieldsV1: {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:containers":
//  {"k:{\"name\":\"web\"}": {...}}}}}. Lists with a merge key (see patch.h) are keyed
//  "k:{...}"; other lists are atomic (owned whole); map keys are "f:<name>".
//
// Apply(live, applied, manager, force):
// - live == null: creates from `applied` (the caller then stores it); the manager owns every
//   field it set.
// - Otherwise merges `applied` into `live`: fields in `applied` are set; fields the manager
//   owned before but no longer sends are removed (unless another manager also owns them);
//   lists with merge keys merge element-wise; atomic lists and scalars are replaced.
// - A field that `applied` sets to a value different from live, and that another manager
//   owns, is a conflict: without force, 409 Conflict with one cause per field, reason
//   "FieldManagerConflict", message `conflict with "<other manager>" using <apiVersion>`,
//   field ".spec.replicas". With force, ownership moves to `manager`.
// - Same value applied by two managers: shared ownership, no conflict.
//
// RecordUpdate(before, after, manager, operation): for non-apply writes (create, update,
// merge/json/strategic patch) records that `manager` (the fieldManager query parameter, or
// a default derived from the user agent, e.g. "kubectl-client-side-apply", "kubectl-patch",
// "helm") now owns the fields it changed, taking them away from other managers — this is how
// a later apply by the previous owner conflicts with a `kubectl patch`.
//
// metadata.managedFields, resourceVersion, uid, creationTimestamp, generation and status are
// never treated as applied fields.
#pragma once

#include <string>

#include "sandbox/api_error.h"
#include "sandbox/json_util.h"

namespace sandbox::apply {

struct ApplyRequest {
  json::ObjectPtr live;     // null when the object does not exist yet
  json::ObjectPtr applied;  // the configuration sent by the client (already parsed from YAML/JSON)
  std::string manager;      // required; empty is a 400 from the caller
  bool force = false;
  std::string now;  // RFC 3339 time to record in managedFields
};

// Returns the merged object (with managedFields updated) or a 409 Conflict listing the fields.
Result<json::ObjectPtr> Apply(const ApplyRequest& request);

// Returns `after` with managedFields updated for a non-apply write.
json::ObjectPtr RecordUpdate(const json::ObjectPtr& before, const json::ObjectPtr& after,
                             const std::string& manager, const std::string& now);

}  // namespace sandbox::apply

// Validates custom resources against their CRD version's openAPIV3Schema, as the apiserver
// does for structural schemas.
//
// Supported: type (object, array, string, integer, number, boolean), properties, required,
// items, additionalProperties (bool or schema), enum, nullable, format (int32/int64 range
// only), minimum/maximum (+ exclusive), minLength/maxLength, pattern (ECMAScript via
// std::regex), minItems/maxItems, minProperties/maxProperties, oneOf/anyOf/allOf/not (as
// value validations), x-kubernetes-int-or-string, x-kubernetes-preserve-unknown-fields,
// x-kubernetes-embedded-resource. x-kubernetes-validations (CEL) rules are not evaluated.
//
// Unknown fields: with Strict field validation they are errors (reason FieldValueInvalid,
// message `unknown field "spec.foo"`); otherwise they are pruned from the object, as the
// apiserver prunes them, except under x-kubernetes-preserve-unknown-fields.
//
// Each violation is a StatusCause whose field is the path from the object root in the
// apiserver's notation: "spec.http[0].route[1].weight"; reasons FieldValueRequired,
// FieldValueInvalid (wrong type: `Invalid value: "string": spec.x in body must be of type
// integer: "string"`, as the apiserver writes it), FieldValueNotSupported (enum).
#pragma once

#include <vector>

#include "sandbox/api_error.h"
#include "sandbox/json_util.h"

namespace sandbox {

enum class FieldValidation { kIgnore, kWarn, kStrict };

class SchemaValidator {
 public:
  explicit SchemaValidator(json::ObjectPtr openapi_v3_schema);
  // Validates (and, unless strict, prunes unknown fields of) object in place. apiVersion,
  // kind and metadata are always allowed at the root. Returns the violations; empty = valid.
  std::vector<StatusCause> Validate(const json::ObjectPtr& object, FieldValidation mode) const;

 private:
  json::ObjectPtr schema_;
};

}  // namespace sandbox

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
// Unknown fields are reported apart from violations, because the apiserver answers them
// differently: with fieldValidation=Strict an unknown field is a 400 BadRequest
// ("strict decoding error: unknown field \"spec.foo\""); otherwise it is pruned from the
// object (and, with Warn, named in a Warning header). Fields under
// x-kubernetes-preserve-unknown-fields are never unknown.
//
// Each violation is a StatusCause whose field is the path from the object root in the
// apiserver's notation, "spec.http[0].route[1].weight", with reason FieldValueRequired
// (message "Required value"), FieldValueInvalid (wrong type: message
// `Invalid value: "string": spec.x in body must be of type integer: "string"`, as the
// apiserver writes it) or FieldValueNotSupported (enum: `Unsupported value: "x": supported
// values: "a", "b"`). Together they make the 422 Invalid response.
//
// As built (codec): a wrong type has reason FieldValueTypeInvalid (field.TypeInvalid, which is
// what the apiserver uses; the message is as above); oneOf/anyOf/allOf/not failures are
// FieldValueInvalid causes with field "<nil>" and the message `Invalid value: "": "spec.x" must
// validate one and only one schema (oneOf). Found 2 valid alternatives`, as the apiserver
// reports them. `pattern` uses PCRE (Poco::RegularExpression), closer to Go's RE2. format int32
// is not range-checked: the apiserver does not check it either. Nulls of non-nullable fields
// count as absent (pruned when prune_unknown), as the apiserver drops them before validating.
#pragma once

#include <string>
#include <vector>

#include "sandbox/api_error.h"
#include "sandbox/json_util.h"

namespace sandbox {

struct ValidationResult {
  std::vector<StatusCause> causes;          // schema violations (422)
  std::vector<std::string> unknown_fields;  // dotted paths, e.g. "spec.foo" (400 if Strict)
  bool ok() const { return causes.empty() && unknown_fields.empty(); }
};

class SchemaValidator {
 public:
  explicit SchemaValidator(json::ObjectPtr openapi_v3_schema);
  // Validates object; with prune_unknown, also removes the unknown fields from it in place
  // (they are still listed). apiVersion, kind and metadata are always allowed at the root.
  ValidationResult Validate(const json::ObjectPtr& object, bool prune_unknown) const;

 private:
  json::ObjectPtr schema_;
};

}  // namespace sandbox

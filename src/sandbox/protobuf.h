// Decodes the Kubernetes protobuf encoding (Content-Type application/vnd.kubernetes.protobuf)
// into the JSON object the rest of the sandbox handles.
//
// Wire format: the 4-byte magic "k8s\0", then a runtime.Unknown message:
//   1: typeMeta {1: apiVersion, 2: kind}   2: raw (bytes, the object's own message)
//   3: contentEncoding   4: contentType
// Decoded kinds (the ones typed clients such as helm and kubectl create): v1 Namespace,
// Secret, ConfigMap, ServiceAccount, Service (metadata, spec.ports/selector/type/clusterIP),
// and meta v1 DeleteOptions (decoded to {} or its fields; callers may ignore it).
// ObjectMeta fields: name, generateName, namespace, uid, resourceVersion, generation,
// creationTimestamp (seconds), labels, annotations, ownerReferences, finalizers.
// Secret.data values are base64-encoded in the JSON output, as JSON clients send them.
//
// Malformed input (bad magic, truncated varint, length past the end, wrong wire type, an
// unsupported kind) is a 400 BadRequest naming the problem, never a crash.
//
// As built (codec): zero values of non-pointer fields (present on the wire) are omitted as
// encoding/json's omitempty would; set pointer fields (immutable, controller,
// gracePeriodSeconds...) are kept even when false/0. Strings must be UTF-8. managedFields and
// Service status are not decoded. Other kinds (e.g. apps/v1 Deployment from `kubectl create
// deployment`) get a 400 naming the kind.
#pragma once

#include <string_view>

#include "sandbox/api_error.h"
#include "sandbox/json_util.h"

namespace sandbox::protobuf {

Result<json::ObjectPtr> Decode(std::string_view body);

}  // namespace sandbox::protobuf

#include "sandbox/protobuf.h"

#include <cstdint>
#include <span>
#include <sstream>
#include <string>

#include <Poco/Base64Encoder.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Exception.h>
#include <Poco/Timestamp.h>
#include <Poco/UTF8Encoding.h>

namespace sandbox::protobuf {
namespace {

// The decoder is driven by small descriptor tables transcribed from k8s.io/api core/v1 and
// apimachinery meta/v1 generated.proto, so adding a kind is adding a table, not code.
enum class Kind {
  kString,
  kBytes,  // base64 in JSON, as encoding/json writes []byte
  kInt32,
  kInt64,
  kBool,
  kMessage,
  kStringMap,  // map<string, string>: entries {1: key, 2: value}
  kBytesMap,   // map<string, bytes>
  kTime,       // meta/v1 Time {1: seconds, 2: nanos} -> RFC 3339
  kIntOrString,
};

// Go's JSON encoding omits zero values of `omitempty` fields but writes pointer fields that are
// set (e.g. `immutable: false`) and required scalars (ServicePort.port). The wire format carries
// non-pointer fields even when zero, so each field says which rule applies.
enum class Presence { kOmitEmpty, kAlways };

struct Message;

struct Field {
  uint32_t number;
  const char* json;
  Kind kind;
  bool repeated = false;
  Presence presence = Presence::kOmitEmpty;
  const Message* message = nullptr;
};

struct Message {
  const char* name;
  std::span<const Field> fields;
};

constexpr Presence kAlways = Presence::kAlways;

// meta/v1
constexpr Field kOwnerReferenceFields[] = {
    {1, "kind", Kind::kString},
    {3, "name", Kind::kString},
    {4, "uid", Kind::kString},
    {5, "apiVersion", Kind::kString},
    {6, "controller", Kind::kBool, false, kAlways},
    {7, "blockOwnerDeletion", Kind::kBool, false, kAlways},
};
constexpr Message kOwnerReference{"OwnerReference", kOwnerReferenceFields};

constexpr Field kObjectMetaFields[] = {
    {1, "name", Kind::kString},
    {2, "generateName", Kind::kString},
    {3, "namespace", Kind::kString},
    {4, "selfLink", Kind::kString},
    {5, "uid", Kind::kString},
    {6, "resourceVersion", Kind::kString},
    {7, "generation", Kind::kInt64},
    {8, "creationTimestamp", Kind::kTime},
    {9, "deletionTimestamp", Kind::kTime},
    {10, "deletionGracePeriodSeconds", Kind::kInt64, false, kAlways},
    {11, "labels", Kind::kStringMap},
    {12, "annotations", Kind::kStringMap},
    {13, "ownerReferences", Kind::kMessage, true, Presence::kOmitEmpty, &kOwnerReference},
    {14, "finalizers", Kind::kString, true},
    // 17 managedFields is left out on purpose: the server keeps its own field managers.
};
constexpr Message kObjectMeta{"ObjectMeta", kObjectMetaFields};

constexpr Field kPreconditionsFields[] = {
    {1, "uid", Kind::kString, false, kAlways},
    {2, "resourceVersion", Kind::kString, false, kAlways},
};
constexpr Message kPreconditions{"Preconditions", kPreconditionsFields};

constexpr Field kDeleteOptionsFields[] = {
    {1, "gracePeriodSeconds", Kind::kInt64, false, kAlways},
    {2, "preconditions", Kind::kMessage, false, kAlways, &kPreconditions},
    {3, "orphanDependents", Kind::kBool, false, kAlways},
    {4, "propagationPolicy", Kind::kString, false, kAlways},
    {5, "dryRun", Kind::kString, true},
    {6, "ignoreStoreReadErrorWithClusterBreakingPotential", Kind::kBool, false, kAlways},
};
constexpr Message kDeleteOptions{"DeleteOptions", kDeleteOptionsFields};

// core/v1
constexpr Field kNamespaceSpecFields[] = {{1, "finalizers", Kind::kString, true}};
constexpr Message kNamespaceSpec{"NamespaceSpec", kNamespaceSpecFields};
constexpr Field kNamespaceStatusFields[] = {{1, "phase", Kind::kString}};
constexpr Message kNamespaceStatus{"NamespaceStatus", kNamespaceStatusFields};
constexpr Field kNamespaceFields[] = {
    {1, "metadata", Kind::kMessage, false, kAlways, &kObjectMeta},
    {2, "spec", Kind::kMessage, false, kAlways, &kNamespaceSpec},
    {3, "status", Kind::kMessage, false, kAlways, &kNamespaceStatus},
};
constexpr Message kNamespace{"Namespace", kNamespaceFields};

constexpr Field kSecretFields[] = {
    {1, "metadata", Kind::kMessage, false, kAlways, &kObjectMeta},
    {2, "data", Kind::kBytesMap},
    {3, "type", Kind::kString},
    {4, "stringData", Kind::kStringMap},
    {5, "immutable", Kind::kBool, false, kAlways},
};
constexpr Message kSecret{"Secret", kSecretFields};

constexpr Field kConfigMapFields[] = {
    {1, "metadata", Kind::kMessage, false, kAlways, &kObjectMeta},
    {2, "data", Kind::kStringMap},
    {3, "binaryData", Kind::kBytesMap},
    {4, "immutable", Kind::kBool, false, kAlways},
};
constexpr Message kConfigMap{"ConfigMap", kConfigMapFields};

constexpr Field kObjectReferenceFields[] = {
    {1, "kind", Kind::kString},       {2, "namespace", Kind::kString},
    {3, "name", Kind::kString},       {4, "uid", Kind::kString},
    {5, "apiVersion", Kind::kString}, {6, "resourceVersion", Kind::kString},
    {7, "fieldPath", Kind::kString},
};
constexpr Message kObjectReference{"ObjectReference", kObjectReferenceFields};
constexpr Field kLocalObjectReferenceFields[] = {{1, "name", Kind::kString}};
constexpr Message kLocalObjectReference{"LocalObjectReference", kLocalObjectReferenceFields};

constexpr Field kServiceAccountFields[] = {
    {1, "metadata", Kind::kMessage, false, kAlways, &kObjectMeta},
    {2, "secrets", Kind::kMessage, true, Presence::kOmitEmpty, &kObjectReference},
    {3, "imagePullSecrets", Kind::kMessage, true, Presence::kOmitEmpty, &kLocalObjectReference},
    {4, "automountServiceAccountToken", Kind::kBool, false, kAlways},
};
constexpr Message kServiceAccount{"ServiceAccount", kServiceAccountFields};

constexpr Field kServicePortFields[] = {
    {1, "name", Kind::kString},
    {2, "protocol", Kind::kString},
    {3, "port", Kind::kInt32, false, kAlways},
    {4, "targetPort", Kind::kIntOrString},
    {5, "nodePort", Kind::kInt32},
    {6, "appProtocol", Kind::kString, false, kAlways},
};
constexpr Message kServicePort{"ServicePort", kServicePortFields};

constexpr Field kServiceSpecFields[] = {
    {1, "ports", Kind::kMessage, true, Presence::kOmitEmpty, &kServicePort},
    {2, "selector", Kind::kStringMap},
    {3, "clusterIP", Kind::kString},
    {4, "type", Kind::kString},
    {5, "externalIPs", Kind::kString, true},
    {7, "sessionAffinity", Kind::kString},
    {8, "loadBalancerIP", Kind::kString},
    {9, "loadBalancerSourceRanges", Kind::kString, true},
    {10, "externalName", Kind::kString},
    {11, "externalTrafficPolicy", Kind::kString},
    {12, "healthCheckNodePort", Kind::kInt32},
    {13, "publishNotReadyAddresses", Kind::kBool},
    {17, "ipFamilyPolicy", Kind::kString, false, kAlways},
    {18, "clusterIPs", Kind::kString, true},
    {19, "ipFamilies", Kind::kString, true},
    {20, "allocateLoadBalancerNodePorts", Kind::kBool, false, kAlways},
    {21, "loadBalancerClass", Kind::kString, false, kAlways},
    {22, "internalTrafficPolicy", Kind::kString, false, kAlways},
    {23, "trafficDistribution", Kind::kString, false, kAlways},
};
constexpr Message kServiceSpec{"ServiceSpec", kServiceSpecFields};
constexpr Field kServiceFields[] = {
    {1, "metadata", Kind::kMessage, false, kAlways, &kObjectMeta},
    {2, "spec", Kind::kMessage, false, kAlways, &kServiceSpec},
    // 3 status is set by the server; a client's copy is ignored, as the apiserver does on create.
};
constexpr Message kService{"Service", kServiceFields};

struct TopLevel {
  const char* api_version;  // nullptr: any
  const char* kind;
  const Message* message;
};
constexpr TopLevel kTopLevel[] = {
    {"v1", "Namespace", &kNamespace},
    {"v1", "Secret", &kSecret},
    {"v1", "ConfigMap", &kConfigMap},
    {"v1", "ServiceAccount", &kServiceAccount},
    {"v1", "Service", &kService},
    // Clients tag DeleteOptions with the group they delete in, so any apiVersion is fine.
    {nullptr, "DeleteOptions", &kDeleteOptions},
};

constexpr std::string_view kMagic("k8s\0", 4);
// The tables nest at most four deep; anything deeper is not a Kubernetes object.
constexpr int kMaxDepth = 16;
// Year 9999, as Go's RFC 3339 formatting allows.
constexpr int64_t kMaxSeconds = 253402300799;

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// Decodes one message's bytes; every read is checked against the end of its buffer.
class Decoder {
 public:
  const std::string& error() const { return error_; }

  bool DecodeMessage(std::string_view data, const Message& message, json::ObjectPtr out,
                     int depth) {
    if (depth > kMaxDepth) return Fail(std::string("nesting too deep in ") + message.name);
    size_t pos = 0;
    while (pos < data.size()) {
      uint64_t tag = 0;
      if (!ReadVarint(data, &pos, &tag, message.name)) return false;
      const uint64_t number = tag >> 3;
      const auto wire = static_cast<uint32_t>(tag & 7);
      if (number == 0 || number > 536870911) {
        return Fail(std::string("invalid field number in ") + message.name);
      }
      const Field* field = Find(message, static_cast<uint32_t>(number));
      if (field == nullptr) {
        if (!Skip(data, &pos, wire, message.name)) return false;
        continue;
      }
      if (!DecodeField(data, &pos, wire, *field, message, out, depth)) return false;
    }
    return true;
  }

  bool ReadVarint(std::string_view data, size_t* pos, uint64_t* out, const char* where) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (*pos >= data.size()) return Fail(std::string("truncated varint in ") + where);
      const auto byte = static_cast<uint8_t>(data[(*pos)++]);
      // The tenth byte may only carry the top bit of a 64-bit value.
      if (shift == 63 && byte > 1) return Fail(std::string("varint overflows 64 bits in ") + where);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *out = value;
        return true;
      }
    }
    return Fail(std::string("varint overflows 64 bits in ") + where);
  }

  bool ReadBytes(std::string_view data, size_t* pos, std::string_view* out, const char* where) {
    uint64_t length = 0;
    if (!ReadVarint(data, pos, &length, where)) return false;
    if (length > data.size() - *pos) return Fail(std::string("length past the end in ") + where);
    *out = data.substr(*pos, static_cast<size_t>(length));
    *pos += static_cast<size_t>(length);
    return true;
  }

 private:
  bool Fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  static const Field* Find(const Message& message, uint32_t number) {
    for (const Field& f : message.fields) {
      if (f.number == number) return &f;
    }
    return nullptr;
  }

  bool Skip(std::string_view data, size_t* pos, uint32_t wire, const char* where) {
    switch (wire) {
      case kVarint: {
        uint64_t ignored = 0;
        return ReadVarint(data, pos, &ignored, where);
      }
      case kFixed64:
      case kFixed32: {
        const size_t width = wire == kFixed64 ? 8 : 4;
        if (width > data.size() - *pos)
          return Fail(std::string("truncated fixed field in ") + where);
        *pos += width;
        return true;
      }
      case kLengthDelimited: {
        std::string_view ignored;
        return ReadBytes(data, pos, &ignored, where);
      }
      default:
        // Groups (3, 4) are proto2 relics no Kubernetes type uses; 6 and 7 do not exist.
        return Fail("unsupported wire type " + std::to_string(wire) + " in " + where);
    }
  }

  bool WrongWire(const Message& message, const Field& field) {
    return Fail(std::string("wrong wire type for ") + message.name + "." + field.json);
  }

  bool ReadString(std::string_view bytes, const Message& message, const Field& field,
                  std::string* out) {
    // Poco's JSON writer and every client downstream expect UTF-8 text.
    if (!IsValidUtf8(bytes)) {
      return Fail(std::string("invalid UTF-8 in ") + message.name + "." + field.json);
    }
    out->assign(bytes);
    return true;
  }

  // Poco's isLegal checks one sequence (overlongs, surrogates); walk the whole string with it.
  static bool IsValidUtf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
      const auto c = static_cast<unsigned char>(s[i]);
      int n = 0;
      if (c < 0x80) {
        n = 1;
      } else if ((c & 0xe0) == 0xc0) {
        n = 2;
      } else if ((c & 0xf0) == 0xe0) {
        n = 3;
      } else if ((c & 0xf8) == 0xf0) {
        n = 4;
      } else {
        return false;
      }
      if (static_cast<size_t>(n) > s.size() - i) return false;
      if (!Poco::UTF8Encoding::isLegal(reinterpret_cast<const unsigned char*>(s.data() + i), n)) {
        return false;
      }
      i += static_cast<size_t>(n);
    }
    return true;
  }

  static std::string Base64(std::string_view bytes) {
    std::ostringstream out;
    Poco::Base64Encoder encoder(out);
    encoder.rdbuf()->setLineLength(0);  // JSON clients send one unbroken line
    encoder.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    encoder.close();
    return out.str();
  }

  bool DecodeMapEntry(std::string_view entry, const Message& message, const Field& field,
                      std::string* key, std::string* value) {
    size_t pos = 0;
    while (pos < entry.size()) {
      uint64_t tag = 0;
      if (!ReadVarint(entry, &pos, &tag, field.json)) return false;
      const auto wire = static_cast<uint32_t>(tag & 7);
      const uint64_t number = tag >> 3;
      if (number != 1 && number != 2) {
        if (!Skip(entry, &pos, wire, field.json)) return false;
        continue;
      }
      if (wire != kLengthDelimited) return WrongWire(message, field);
      std::string_view bytes;
      if (!ReadBytes(entry, &pos, &bytes, field.json)) return false;
      if (number == 1) {
        if (!ReadString(bytes, message, field, key)) return false;
      } else if (field.kind == Kind::kBytesMap) {
        *value = Base64(bytes);
      } else if (!ReadString(bytes, message, field, value)) {
        return false;
      }
    }
    return true;
  }

  bool DecodeTime(std::string_view bytes, const Message& message, const Field& field,
                  json::ObjectPtr out) {
    int64_t seconds = 0;
    size_t pos = 0;
    while (pos < bytes.size()) {
      uint64_t tag = 0;
      if (!ReadVarint(bytes, &pos, &tag, field.json)) return false;
      const auto wire = static_cast<uint32_t>(tag & 7);
      if ((tag >> 3) == 1) {
        if (wire != kVarint) return WrongWire(message, field);
        uint64_t v = 0;
        if (!ReadVarint(bytes, &pos, &v, field.json)) return false;
        seconds = static_cast<int64_t>(v);
      } else if (!Skip(bytes, &pos, wire, field.json)) {  // nanos: JSON has whole seconds
        return false;
      }
    }
    // The zero Time is `null` in JSON, i.e. not set.
    if (seconds == 0) {
      out->remove(field.json);
      return true;
    }
    if (seconds < 0 || seconds > kMaxSeconds) {
      return Fail(std::string("timestamp out of range in ") + message.name + "." + field.json);
    }
    out->set(field.json, Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(seconds),
                                                         "%Y-%m-%dT%H:%M:%SZ"));
    return true;
  }

  bool DecodeIntOrString(std::string_view bytes, const Message& message, const Field& field,
                         json::ObjectPtr out) {
    int64_t type = 0;
    int32_t int_val = 0;
    std::string str_val;
    size_t pos = 0;
    while (pos < bytes.size()) {
      uint64_t tag = 0;
      if (!ReadVarint(bytes, &pos, &tag, field.json)) return false;
      const auto wire = static_cast<uint32_t>(tag & 7);
      const uint64_t number = tag >> 3;
      if (number == 1 || number == 2) {
        if (wire != kVarint) return WrongWire(message, field);
        uint64_t v = 0;
        if (!ReadVarint(bytes, &pos, &v, field.json)) return false;
        if (number == 1) {
          type = static_cast<int64_t>(v);
        } else {
          int_val = static_cast<int32_t>(v);
        }
      } else if (number == 3) {
        if (wire != kLengthDelimited) return WrongWire(message, field);
        std::string_view s;
        if (!ReadBytes(bytes, &pos, &s, field.json)) return false;
        if (!ReadString(s, message, field, &str_val)) return false;
      } else if (!Skip(bytes, &pos, wire, field.json)) {
        return false;
      }
    }
    if (type == 0) {
      // A zero IntOrString is what an unset targetPort looks like on the wire.
      if (int_val == 0 && field.presence == Presence::kOmitEmpty) {
        out->remove(field.json);
      } else {
        out->set(field.json, int_val);
      }
    } else if (type == 1) {
      out->set(field.json, str_val);
    } else {
      return Fail(std::string("invalid IntOrString type in ") + message.name + "." + field.json);
    }
    return true;
  }

  bool DecodeField(std::string_view data, size_t* pos, uint32_t wire, const Field& field,
                   const Message& message, json::ObjectPtr out, int depth) {
    switch (field.kind) {
      case Kind::kInt32:
      case Kind::kInt64:
      case Kind::kBool: {
        if (wire != kVarint) return WrongWire(message, field);
        uint64_t v = 0;
        if (!ReadVarint(data, pos, &v, message.name)) return false;
        const bool zero = v == 0 || (field.kind == Kind::kInt32 && static_cast<int32_t>(v) == 0);
        if (zero && field.presence == Presence::kOmitEmpty) {
          out->remove(field.json);
        } else if (field.kind == Kind::kInt32) {
          out->set(field.json, static_cast<int32_t>(v));
        } else if (field.kind == Kind::kInt64) {
          out->set(field.json, static_cast<Poco::Int64>(static_cast<int64_t>(v)));
        } else {
          out->set(field.json, v != 0);
        }
        return true;
      }
      default:
        break;
    }
    if (wire != kLengthDelimited) return WrongWire(message, field);
    std::string_view bytes;
    if (!ReadBytes(data, pos, &bytes, message.name)) return false;
    switch (field.kind) {
      case Kind::kString:
      case Kind::kBytes: {
        std::string value;
        if (field.kind == Kind::kBytes) {
          value = Base64(bytes);
        } else if (!ReadString(bytes, message, field, &value)) {
          return false;
        }
        if (field.repeated) {
          Append(out, field.json, value);
        } else if (value.empty() && field.presence == Presence::kOmitEmpty) {
          out->remove(field.json);
        } else {
          out->set(field.json, value);
        }
        return true;
      }
      case Kind::kMessage: {
        json::ObjectPtr child;
        if (field.repeated) {
          child = new json::Object;
        } else {
          // A repeated occurrence of a singular message merges into it, as protobuf does.
          child = json::AsObject(out->get(field.json));
          if (!child) child = new json::Object;
        }
        if (!DecodeMessage(bytes, *field.message, child, depth + 1)) return false;
        if (field.repeated) {
          Append(out, field.json, child);
        } else {
          out->set(field.json, child);
        }
        return true;
      }
      case Kind::kStringMap:
      case Kind::kBytesMap: {
        std::string key;
        std::string value;
        if (!DecodeMapEntry(bytes, message, field, &key, &value)) return false;
        json::ObjectPtr map = json::AsObject(out->get(field.json));
        if (!map) {
          map = new json::Object;
          out->set(field.json, map);
        }
        map->set(key, value);
        return true;
      }
      case Kind::kTime:
        return DecodeTime(bytes, message, field, out);
      case Kind::kIntOrString:
        return DecodeIntOrString(bytes, message, field, out);
      default:
        return WrongWire(message, field);
    }
  }

  static void Append(json::ObjectPtr out, const char* key, const json::Var& value) {
    json::ArrayPtr array = json::AsArray(out->get(key));
    if (!array) {
      array = new json::Array;
      out->set(key, array);
    }
    array->add(value);
  }

  std::string error_;
};

ApiError Malformed(const std::string& why) {
  return ApiError::BadRequest("invalid protobuf body: " + why);
}

Result<json::ObjectPtr> DecodeUnchecked(std::string_view body) {
  if (body.size() < kMagic.size() || body.substr(0, kMagic.size()) != kMagic) {
    return Malformed("missing the k8s\\0 prefix");
  }
  const std::string_view unknown = body.substr(kMagic.size());

  // runtime.Unknown: 1 typeMeta, 2 raw, 3 contentEncoding, 4 contentType.
  Decoder decoder;
  std::string api_version;
  std::string kind;
  std::string_view raw;
  std::string content_encoding;
  size_t pos = 0;
  while (pos < unknown.size()) {
    uint64_t tag = 0;
    if (!decoder.ReadVarint(unknown, &pos, &tag, "Unknown")) return Malformed(decoder.error());
    const auto wire = static_cast<uint32_t>(tag & 7);
    const uint64_t number = tag >> 3;
    if (wire != kLengthDelimited) return Malformed("unexpected wire type in Unknown");
    std::string_view bytes;
    if (!decoder.ReadBytes(unknown, &pos, &bytes, "Unknown")) return Malformed(decoder.error());
    if (number == 1) {
      // TypeMeta {1: apiVersion, 2: kind}
      size_t p = 0;
      while (p < bytes.size()) {
        uint64_t t = 0;
        if (!decoder.ReadVarint(bytes, &p, &t, "TypeMeta")) return Malformed(decoder.error());
        if ((t & 7) != kLengthDelimited) return Malformed("unexpected wire type in TypeMeta");
        std::string_view s;
        if (!decoder.ReadBytes(bytes, &p, &s, "TypeMeta")) return Malformed(decoder.error());
        if ((t >> 3) == 1) api_version.assign(s);
        if ((t >> 3) == 2) kind.assign(s);
      }
    } else if (number == 2) {
      raw = bytes;
    } else if (number == 3) {
      content_encoding.assign(bytes);
    }
  }
  if (kind.empty()) return Malformed("no kind in the type meta");
  if (!content_encoding.empty()) {
    return Malformed("unsupported content encoding \"" + content_encoding + "\"");
  }
  const TopLevel* top = nullptr;
  for (const TopLevel& t : kTopLevel) {
    if (kind == t.kind && (t.api_version == nullptr || api_version == t.api_version)) top = &t;
  }
  if (top == nullptr) {
    return ApiError::BadRequest("protobuf bodies of " + api_version + " " + kind +
                                " are not supported; send JSON");
  }
  json::ObjectPtr object = new json::Object;
  if (!decoder.DecodeMessage(raw, *top->message, object, 0)) return Malformed(decoder.error());
  object->set("apiVersion", api_version);
  object->set("kind", kind);
  return object;
}

}  // namespace

Result<json::ObjectPtr> Decode(std::string_view body) {
  try {
    return DecodeUnchecked(body);
  } catch (const Poco::Exception& e) {
    return Malformed(e.displayText());
  } catch (const std::exception& e) {
    return Malformed(e.what());
  }
}

}  // namespace sandbox::protobuf

#include "sandbox/protobuf.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace sandbox::protobuf {
namespace {

// A minimal protobuf writer, so each test states the exact bytes a Go client would send.
class Pb {
 public:
  Pb& Varint(uint32_t field, uint64_t v) {
    Tag(field, 0);
    Raw(v);
    return *this;
  }
  Pb& Str(uint32_t field, std::string_view s) {
    Tag(field, 2);
    Raw(s.size());
    out_.append(s);
    return *this;
  }
  Pb& Msg(uint32_t field, const Pb& m) { return Str(field, m.out_); }
  Pb& MapEntry(uint32_t field, std::string_view k, std::string_view v) {
    return Msg(field, Pb().Str(1, k).Str(2, v));
  }
  Pb& Fixed32(uint32_t field) {
    Tag(field, 5);
    out_.append("\x01\x02\x03\x04", 4);
    return *this;
  }
  Pb& Fixed64(uint32_t field) {
    Tag(field, 1);
    out_.append("\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    return *this;
  }
  Pb& Bytes(std::string_view raw) {
    out_.append(raw);
    return *this;
  }
  void Tag(uint32_t field, uint32_t wire) { Raw((static_cast<uint64_t>(field) << 3) | wire); }
  void Raw(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

std::string Envelope(std::string_view api_version, std::string_view kind, const Pb& raw) {
  Pb unknown;
  unknown.Msg(1, Pb().Str(1, api_version).Str(2, kind)).Msg(2, raw).Str(3, "").Str(4, "");
  return std::string("k8s\0", 4) + unknown.str();
}

std::string Data(const std::string& name) {
  const auto path = std::filesystem::path(__FILE__).parent_path() / "data" / name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "missing test data " << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

json::ObjectPtr MustDecode(std::string_view body) {
  auto r = Decode(body);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : json::ObjectPtr(new json::Object);
}

void ExpectBadRequest(std::string_view body, const std::string& needle) {
  auto r = Decode(body);
  ASSERT_FALSE(r.ok()) << "decoded: " << json::Stringify(r.value());
  EXPECT_EQ(r.error().code, 400);
  EXPECT_EQ(r.error().reason, "BadRequest");
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
}

std::string S(const json::ObjectPtr& o, std::string_view path) {
  return json::GetString(o, path).value_or("<missing>");
}

// A full ObjectMeta the way client-go writes it: every non-pointer field present.
Pb FullMeta() {
  Pb owner;
  owner.Str(1, "Deployment")
      .Str(3, "web")
      .Str(4, "uid-1")
      .Str(5, "apps/v1")
      .Varint(6, 1)
      .Varint(7, 0);
  Pb meta;
  meta.Str(1, "web")
      .Str(2, "web-")
      .Str(3, "prod")
      .Str(4, "")
      .Str(5, "0b6f1c2e")
      .Str(6, "42")
      .Varint(7, 3)
      .Msg(8, Pb().Varint(1, 1704164645).Varint(2, 500))  // 2024-01-02T03:04:05Z
      .Msg(9, Pb().Varint(1, 1704164700))
      .Varint(10, 30)
      .MapEntry(11, "app", "web")
      .MapEntry(11, "tier", "front")
      .MapEntry(12, "note", "a \"quoted\" value")
      .Msg(13, owner)
      .Str(14, "example.com/a")
      .Str(14, "example.com/b")
      .Msg(17, Pb().Str(1, "kubectl").Str(2, "Update"));  // managedFields: ignored
  return meta;
}

TEST(ProtobufDecode, ObjectMetaFieldByField) {
  auto o = MustDecode(Envelope("v1", "ConfigMap", Pb().Msg(1, FullMeta())));
  EXPECT_EQ(S(o, "apiVersion"), "v1");
  EXPECT_EQ(S(o, "kind"), "ConfigMap");
  EXPECT_EQ(S(o, "metadata.name"), "web");
  EXPECT_EQ(S(o, "metadata.generateName"), "web-");
  EXPECT_EQ(S(o, "metadata.namespace"), "prod");
  EXPECT_FALSE(json::GetObject(o, "metadata")->has("selfLink"));  // empty string: omitted
  EXPECT_EQ(S(o, "metadata.uid"), "0b6f1c2e");
  EXPECT_EQ(S(o, "metadata.resourceVersion"), "42");
  EXPECT_EQ(json::GetInt(o, "metadata.generation"), 3);
  EXPECT_EQ(S(o, "metadata.creationTimestamp"), "2024-01-02T03:04:05Z");
  EXPECT_EQ(S(o, "metadata.deletionTimestamp"), "2024-01-02T03:05:00Z");
  EXPECT_EQ(json::GetInt(o, "metadata.deletionGracePeriodSeconds"), 30);
  EXPECT_EQ(S(o, "metadata.labels.app"), "web");
  EXPECT_EQ(S(o, "metadata.labels.tier"), "front");
  EXPECT_EQ(S(o, "metadata.annotations.note"), "a \"quoted\" value");
  auto owners = json::GetArray(o, "metadata.ownerReferences");
  ASSERT_TRUE(owners);
  ASSERT_EQ(owners->size(), 1u);
  auto owner = json::AsObject(owners->get(0));
  EXPECT_EQ(S(owner, "kind"), "Deployment");
  EXPECT_EQ(S(owner, "name"), "web");
  EXPECT_EQ(S(owner, "uid"), "uid-1");
  EXPECT_EQ(S(owner, "apiVersion"), "apps/v1");
  EXPECT_EQ(json::GetBool(owner, "controller"), true);
  EXPECT_EQ(json::GetBool(owner, "blockOwnerDeletion"), false);  // pointer: kept when false
  auto finalizers = json::GetArray(o, "metadata.finalizers");
  ASSERT_TRUE(finalizers);
  ASSERT_EQ(finalizers->size(), 2u);
  EXPECT_EQ(finalizers->getElement<std::string>(1), "example.com/b");
  EXPECT_FALSE(json::GetObject(o, "metadata")->has("managedFields"));
}

TEST(ProtobufDecode, ZeroValuesAreOmittedLikeJsonOmitempty) {
  Pb meta;
  meta.Str(1, "x").Str(2, "").Str(3, "").Str(5, "").Str(6, "").Varint(7, 0).Msg(8, Pb());
  auto o = MustDecode(Envelope("v1", "Namespace", Pb().Msg(1, meta)));
  auto m = json::GetObject(o, "metadata");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->size(), 1u) << json::Stringify(m);
  EXPECT_EQ(S(o, "metadata.name"), "x");
}

TEST(ProtobufDecode, Namespace) {
  Pb ns;
  ns.Msg(1, Pb().Str(1, "prod")).Msg(2, Pb().Str(1, "kubernetes")).Msg(3, Pb().Str(1, "Active"));
  auto o = MustDecode(Envelope("v1", "Namespace", ns));
  EXPECT_EQ(S(o, "kind"), "Namespace");
  EXPECT_EQ(S(o, "metadata.name"), "prod");
  auto fin = json::GetArray(o, "spec.finalizers");
  ASSERT_TRUE(fin);
  EXPECT_EQ(fin->getElement<std::string>(0), "kubernetes");
  EXPECT_EQ(S(o, "status.phase"), "Active");
}

TEST(ProtobufDecode, SecretDataIsBase64AndBinarySafe) {
  Pb secret;
  secret.Msg(1, Pb().Str(1, "s").Str(3, "prod"))
      .MapEntry(2, "password", "s3cr3t")
      .MapEntry(2, "binary", std::string("\x00\xff\x10", 3))
      .MapEntry(2, "empty", "")
      .Str(3, "Opaque")
      .MapEntry(4, "plain", "text")
      .Varint(5, 0);
  auto o = MustDecode(Envelope("v1", "Secret", secret));
  EXPECT_EQ(S(o, "data.password"), "czNjcjN0");
  EXPECT_EQ(S(o, "data.binary"), "AP8Q");
  EXPECT_EQ(S(o, "data.empty"), "");
  EXPECT_EQ(S(o, "type"), "Opaque");
  EXPECT_EQ(S(o, "stringData.plain"), "text");
  EXPECT_EQ(json::GetBool(o, "immutable"), false);
}

TEST(ProtobufDecode, LongSecretValueIsOneBase64Line) {
  const std::string big(3000, 'x');
  auto o = MustDecode(Envelope("v1", "Secret", Pb().MapEntry(2, "k", big)));
  const std::string encoded = S(o, "data.k");
  EXPECT_EQ(encoded.size(), 4000u);
  EXPECT_EQ(encoded.find('\n'), std::string::npos);
  EXPECT_EQ(encoded.find('\r'), std::string::npos);
}

TEST(ProtobufDecode, ConfigMap) {
  Pb cm;
  cm.Msg(1, Pb().Str(1, "cfg"))
      .MapEntry(2, "a", "b")
      .MapEntry(2, "multi", "line1\nline2")
      .MapEntry(3, "bin", std::string("\x01\x02", 2))
      .Varint(4, 1);
  auto o = MustDecode(Envelope("v1", "ConfigMap", cm));
  EXPECT_EQ(S(o, "data.a"), "b");
  EXPECT_EQ(S(o, "data.multi"), "line1\nline2");
  EXPECT_EQ(S(o, "binaryData.bin"), "AQI=");
  EXPECT_EQ(json::GetBool(o, "immutable"), true);
}

TEST(ProtobufDecode, ServiceAccount) {
  Pb sa;
  sa.Msg(1, Pb().Str(1, "builder"))
      .Msg(2, Pb().Str(1, "Secret").Str(3, "token-a"))
      .Msg(3, Pb().Str(1, "regcred"))
      .Varint(4, 0);
  auto o = MustDecode(Envelope("v1", "ServiceAccount", sa));
  auto secrets = json::GetArray(o, "secrets");
  ASSERT_TRUE(secrets);
  EXPECT_EQ(S(json::AsObject(secrets->get(0)), "name"), "token-a");
  EXPECT_EQ(S(json::AsObject(secrets->get(0)), "kind"), "Secret");
  auto pulls = json::GetArray(o, "imagePullSecrets");
  ASSERT_TRUE(pulls);
  EXPECT_EQ(S(json::AsObject(pulls->get(0)), "name"), "regcred");
  EXPECT_EQ(json::GetBool(o, "automountServiceAccountToken"), false);
}

TEST(ProtobufDecode, ServicePortsSelectorAndIntOrString) {
  Pb http;
  http.Str(1, "http")
      .Str(2, "TCP")
      .Varint(3, 80)
      .Msg(4, Pb().Varint(1, 0).Varint(2, 8080))
      .Varint(5, 30080);
  Pb https;
  https.Str(1, "https")
      .Str(2, "TCP")
      .Varint(3, 443)
      .Msg(4, Pb().Varint(1, 1).Str(3, "web"))
      .Varint(5, 0)
      .Str(6, "kubernetes.io/h2c");
  Pb spec;
  spec.Msg(1, http)
      .Msg(1, https)
      .MapEntry(2, "app", "web")
      .Str(3, "10.0.0.7")
      .Str(4, "NodePort")
      .Str(7, "")
      .Str(18, "10.0.0.7")
      .Str(19, "IPv4")
      .Str(17, "SingleStack")
      .Varint(13, 0);
  auto o = MustDecode(Envelope("v1", "Service", Pb().Msg(1, Pb().Str(1, "web")).Msg(2, spec)));
  auto ports = json::GetArray(o, "spec.ports");
  ASSERT_TRUE(ports);
  ASSERT_EQ(ports->size(), 2u);
  auto p0 = json::AsObject(ports->get(0));
  EXPECT_EQ(S(p0, "name"), "http");
  EXPECT_EQ(S(p0, "protocol"), "TCP");
  EXPECT_EQ(json::GetInt(p0, "port"), 80);
  EXPECT_EQ(json::GetInt(p0, "targetPort"), 8080);
  EXPECT_EQ(json::GetInt(p0, "nodePort"), 30080);
  auto p1 = json::AsObject(ports->get(1));
  EXPECT_EQ(json::GetInt(p1, "port"), 443);
  EXPECT_EQ(S(p1, "targetPort"), "web");
  EXPECT_FALSE(p1->has("nodePort"));
  EXPECT_EQ(S(p1, "appProtocol"), "kubernetes.io/h2c");
  EXPECT_EQ(S(o, "spec.selector.app"), "web");
  EXPECT_EQ(S(o, "spec.clusterIP"), "10.0.0.7");
  EXPECT_EQ(S(o, "spec.type"), "NodePort");
  EXPECT_EQ(S(o, "spec.ipFamilyPolicy"), "SingleStack");
  EXPECT_EQ(json::GetArray(o, "spec.clusterIPs")->getElement<std::string>(0), "10.0.0.7");
  EXPECT_EQ(json::GetArray(o, "spec.ipFamilies")->getElement<std::string>(0), "IPv4");
  EXPECT_FALSE(json::GetObject(o, "spec")->has("sessionAffinity"));
  EXPECT_FALSE(json::GetObject(o, "spec")->has("publishNotReadyAddresses"));
}

TEST(ProtobufDecode, NegativeInt32IsTenByteVarint) {
  Pb port;
  port.Varint(3, static_cast<uint64_t>(int64_t{-5}));
  auto o = MustDecode(Envelope("v1", "Service", Pb().Msg(2, Pb().Msg(1, port))));
  EXPECT_EQ(json::GetInt(json::AsObject(json::GetArray(o, "spec.ports")->get(0)), "port"), -5);
}

TEST(ProtobufDecode, DeleteOptions) {
  Pb opts;
  opts.Varint(1, 0).Msg(2, Pb().Str(1, "uid-9").Str(2, "17")).Str(4, "Foreground").Str(5, "All");
  for (const char* api_version : {"v1", "meta.k8s.io/v1"}) {
    auto o = MustDecode(Envelope(api_version, "DeleteOptions", opts));
    EXPECT_EQ(S(o, "kind"), "DeleteOptions");
    EXPECT_EQ(S(o, "apiVersion"), api_version);
    EXPECT_EQ(json::GetInt(o, "gracePeriodSeconds"), 0);  // pointer: zero is meaningful
    EXPECT_EQ(S(o, "preconditions.uid"), "uid-9");
    EXPECT_EQ(S(o, "preconditions.resourceVersion"), "17");
    EXPECT_EQ(S(o, "propagationPolicy"), "Foreground");
    EXPECT_EQ(json::GetArray(o, "dryRun")->getElement<std::string>(0), "All");
    EXPECT_FALSE(o->has("orphanDependents"));
  }
  auto empty = MustDecode(Envelope("v1", "DeleteOptions", Pb()));
  EXPECT_EQ(empty->size(), 2u);  // apiVersion and kind only
}

TEST(ProtobufDecode, UnknownFieldsOfEveryWireTypeAreSkipped) {
  Pb meta;
  meta.Varint(99, 7).Fixed32(98).Fixed64(97).Str(96, "junk").Str(1, "kept");
  Pb secret;
  secret.Msg(1, meta).Varint(50, 1).Str(51, "x").MapEntry(2, "k", "v");
  auto o = MustDecode(Envelope("v1", "Secret", secret));
  EXPECT_EQ(S(o, "metadata.name"), "kept");
  EXPECT_EQ(S(o, "data.k"), "dg==");
  EXPECT_FALSE(o->has("50"));
}

TEST(ProtobufDecode, RepeatedSingularMessageMergesAndLastScalarWins) {
  Pb secret;
  secret.Msg(1, Pb().Str(1, "first").MapEntry(11, "a", "1"))
      .Msg(1, Pb().Str(1, "second").MapEntry(11, "b", "2"));
  auto o = MustDecode(Envelope("v1", "Secret", secret));
  EXPECT_EQ(S(o, "metadata.name"), "second");
  EXPECT_EQ(S(o, "metadata.labels.a"), "1");
  EXPECT_EQ(S(o, "metadata.labels.b"), "2");
}

TEST(ProtobufDecode, RealKubectlNamespace) {
  auto o = MustDecode(Data("kubectl-namespace.pb"));
  EXPECT_EQ(S(o, "apiVersion"), "v1");
  EXPECT_EQ(S(o, "kind"), "Namespace");
  EXPECT_EQ(S(o, "metadata.name"), "prod");
  EXPECT_EQ(json::GetObject(o, "metadata")->size(), 1u) << json::Stringify(o);
  EXPECT_FALSE(json::GetObject(o, "status")->has("phase"));
}

TEST(ProtobufDecode, RealKubectlSecret) {
  auto o = MustDecode(Data("kubectl-secret.pb"));
  EXPECT_EQ(S(o, "kind"), "Secret");
  EXPECT_EQ(S(o, "metadata.name"), "s1");
  EXPECT_EQ(S(o, "metadata.namespace"), "prod");
  EXPECT_EQ(S(o, "type"), "helm.sh/release.v1");
  EXPECT_EQ(S(o, "data.password"), "czNjcjN0");  // base64("s3cr3t")
  EXPECT_EQ(S(o, "data.empty"), "");
}

TEST(ProtobufDecode, RealKubectlConfigMapAndServiceAccount) {
  auto cm = MustDecode(Data("kubectl-configmap.pb"));
  EXPECT_EQ(S(cm, "metadata.name"), "cm1");
  EXPECT_EQ(S(cm, "data.a"), "b");
  EXPECT_EQ(S(cm, "data.k"), "v");
  auto sa = MustDecode(Data("kubectl-serviceaccount.pb"));
  EXPECT_EQ(S(sa, "kind"), "ServiceAccount");
  EXPECT_EQ(S(sa, "metadata.name"), "sa1");
  EXPECT_EQ(S(sa, "metadata.namespace"), "prod");
}

TEST(ProtobufDecode, RealKubectlServices) {
  auto o = MustDecode(Data("kubectl-service-clusterip.pb"));
  EXPECT_EQ(S(o, "metadata.name"), "svc1");
  EXPECT_EQ(S(o, "metadata.labels.app"), "svc1");
  EXPECT_EQ(S(o, "spec.selector.app"), "svc1");
  EXPECT_EQ(S(o, "spec.type"), "ClusterIP");
  EXPECT_FALSE(json::GetObject(o, "spec")->has("clusterIP"));
  auto ports = json::GetArray(o, "spec.ports");
  ASSERT_TRUE(ports);
  ASSERT_EQ(ports->size(), 2u);
  auto p0 = json::AsObject(ports->get(0));
  EXPECT_EQ(S(p0, "name"), "80-8080");
  EXPECT_EQ(json::GetInt(p0, "port"), 80);
  EXPECT_EQ(json::GetInt(p0, "targetPort"), 8080);
  EXPECT_FALSE(p0->has("nodePort"));
  auto p1 = json::AsObject(ports->get(1));
  EXPECT_EQ(json::GetInt(p1, "port"), 443);
  EXPECT_EQ(S(p1, "targetPort"), "https");

  auto np = MustDecode(Data("kubectl-service-nodeport.pb"));
  EXPECT_EQ(S(np, "spec.type"), "NodePort");
  EXPECT_EQ(json::GetInt(json::AsObject(json::GetArray(np, "spec.ports")->get(0)), "nodePort"),
            30080);
}

TEST(ProtobufDecode, RealHelmReleaseSecrets) {
  auto o = MustDecode(Data("helm3-release-secret.pb"));
  EXPECT_EQ(S(o, "metadata.name"), "sh.helm.release.v1.rel1.v1");
  EXPECT_EQ(S(o, "metadata.labels.owner"), "helm");
  EXPECT_EQ(S(o, "metadata.labels.name"), "rel1");
  EXPECT_EQ(S(o, "metadata.labels.status"), "pending-install");
  EXPECT_EQ(S(o, "metadata.labels.version"), "1");
  EXPECT_EQ(S(o, "type"), "helm.sh/release.v1");
  // helm's release is base64 text already; the Secret carries it base64-encoded once more.
  EXPECT_EQ(S(o, "data.release").rfind("SDRzSUFBQUFBQUFDLz", 0), 0u) << S(o, "data.release");

  auto update = MustDecode(Data("helm4-release-secret-update.pb"));
  EXPECT_EQ(S(update, "metadata.name"), "sh.helm.release.v1.rel2.v1");
  EXPECT_EQ(S(update, "metadata.labels.status"), "failed");
  EXPECT_TRUE(json::GetObject(update, "data")->has("release"));
}

TEST(ProtobufDecode, MalformedInputsAre400) {
  const Pb ok_ns = Pb().Msg(1, Pb().Str(1, "x"));
  ExpectBadRequest("", "k8s");
  ExpectBadRequest("k8s", "k8s");
  ExpectBadRequest(std::string("k8s\1", 4) + "\x0a\x00", "k8s");
  ExpectBadRequest("{\"kind\":\"Namespace\"}", "k8s");
  ExpectBadRequest(std::string("k8s\0", 4), "kind");  // an empty Unknown
  // Truncated varint: a tag byte with its continuation bit set, then the end.
  ExpectBadRequest(std::string("k8s\0", 4) + "\x8a", "truncated varint");
  // A length past the end of the buffer.
  ExpectBadRequest(std::string("k8s\0", 4) + "\x0a\x7f\x0a\x02v1", "length past the end");
  // A varint longer than ten bytes.
  ExpectBadRequest(std::string("k8s\0", 4) + "\x0a" + std::string(10, '\xff') + "\x01", "varint");
  // An unsupported kind names itself.
  ExpectBadRequest(Envelope("apps/v1", "Deployment", Pb()), "apps/v1 Deployment");
  ExpectBadRequest(Envelope("v2", "Secret", Pb()), "v2 Secret");
  // Compressed content is not something Go clients send; it is refused, not misread.
  Pb gz;
  gz.Msg(1, Pb().Str(1, "v1").Str(2, "Namespace")).Msg(2, ok_ns).Str(3, "gzip");
  ExpectBadRequest(std::string("k8s\0", 4) + gz.str(), "content encoding");
}

TEST(ProtobufDecode, MalformedObjectBytesAre400) {
  // Groups (wire types 3 and 4) are rejected even in unknown fields.
  ExpectBadRequest(Envelope("v1", "Namespace", Pb().Bytes("\x9b\x06")), "wire type 3");
  ExpectBadRequest(Envelope("v1", "Namespace", Pb().Bytes("\x9c\x06")), "wire type 4");
  ExpectBadRequest(Envelope("v1", "Namespace", Pb().Bytes("\x9e\x06")), "wire type 6");
  // Field number zero does not exist.
  ExpectBadRequest(Envelope("v1", "Namespace", Pb().Bytes("\x02\x00")), "field number");
  // A known field with the wrong wire type.
  ExpectBadRequest(Envelope("v1", "Namespace", Pb().Varint(1, 5)), "Namespace.metadata");
  ExpectBadRequest(Envelope("v1", "Secret", Pb().Msg(1, Pb().Varint(1, 5))), "ObjectMeta.name");
  ExpectBadRequest(Envelope("v1", "Secret", Pb().Msg(1, Pb().Str(7, "x"))),
                   "ObjectMeta.generation");
  // Truncated fixed-width unknown fields.
  ExpectBadRequest(Envelope("v1", "Namespace", Pb().Bytes("\xfd\x01\x01\x02")), "truncated");
  ExpectBadRequest(Envelope("v1", "Namespace", Pb().Bytes("\xf9\x01\x01")), "truncated");
  // A nested length that runs past its parent (but not past the whole body).
  ExpectBadRequest(Envelope("v1", "Namespace", Pb().Bytes("\x0a\x03\x0a\x05prod")),
                   "length past the end");
  // Invalid UTF-8 in a string field, and in a map key.
  ExpectBadRequest(Envelope("v1", "Namespace", Pb().Msg(1, Pb().Str(1, "\xc3\x28"))), "UTF-8");
  ExpectBadRequest(Envelope("v1", "ConfigMap", Pb().MapEntry(2, "\xff", "v")), "UTF-8");
  ExpectBadRequest(Envelope("v1", "ConfigMap", Pb().MapEntry(2, "k", "\xed\xa0\x80")), "UTF-8");
  // Out-of-range timestamps and unknown IntOrString types.
  ExpectBadRequest(
      Envelope("v1", "Secret",
               Pb().Msg(1, Pb().Msg(8, Pb().Varint(1, static_cast<uint64_t>(int64_t{-1}))))),
      "timestamp");
  ExpectBadRequest(Envelope("v1", "Secret", Pb().Msg(1, Pb().Msg(8, Pb().Varint(1, 1ull << 40)))),
                   "timestamp");
  ExpectBadRequest(
      Envelope("v1", "Service", Pb().Msg(2, Pb().Msg(1, Pb().Msg(4, Pb().Varint(1, 2))))),
      "IntOrString");
}

TEST(ProtobufDecode, DeepNestingNeverRecursesUnbounded) {
  // 100000 levels of nested length-delimited fields in an unknown field: skipped, not walked.
  // Built outside-in from precomputed sizes, since wrapping level by level is quadratic.
  constexpr int kLevels = 100000;
  std::vector<uint64_t> size(kLevels + 1, 0);  // size[k]: bytes of k nested levels
  auto varint_len = [](uint64_t v) { return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4; };
  for (int k = 1; k <= kLevels; ++k) size[k] = 1 + varint_len(size[k - 1]) + size[k - 1];
  Pb chain;
  for (int k = kLevels; k >= 1; --k) {
    chain.Tag(1, 2);
    chain.Raw(size[k - 1]);
  }
  const std::string nested = chain.str();
  ASSERT_EQ(nested.size(), size[kLevels]);
  Pb meta;
  meta.Str(1, "deep").Str(15, nested);
  auto o = MustDecode(Envelope("v1", "Namespace", Pb().Msg(1, meta)));
  EXPECT_EQ(S(o, "metadata.name"), "deep");
  // The same chain where a message is expected: metadata's field 1 is a string, so the walk
  // stops at the second level (its length bytes are not UTF-8) instead of following the chain.
  ExpectBadRequest(Envelope("v1", "Namespace", Pb().Bytes(nested)), "UTF-8 in ObjectMeta.name");
}

TEST(ProtobufDecode, MutatedMessagesNeverCrash) {
  std::vector<std::string> seeds = {Data("kubectl-namespace.pb"), Data("kubectl-secret.pb"),
                                    Data("kubectl-service-clusterip.pb"),
                                    Data("helm3-release-secret.pb")};
  seeds.push_back(Envelope("v1", "ConfigMap", Pb().Msg(1, FullMeta()).MapEntry(3, "b", "\x01")));
  size_t decoded = 0;
  size_t rejected = 0;
  auto check = [&](const std::string& body) {
    auto r = Decode(body);
    if (r.ok()) {
      ++decoded;
      EXPECT_TRUE(r.value()->has("kind"));
    } else {
      ++rejected;
      EXPECT_EQ(r.error().code, 400);
    }
  };
  for (const std::string& seed : seeds) {
    for (size_t len = 0; len < seed.size(); ++len) check(seed.substr(0, len));
    for (size_t i = 0; i < seed.size(); ++i) {
      for (unsigned char mask : {0x01, 0x80, 0xff, 0x7f, 0x08}) {
        std::string m = seed;
        m[i] = static_cast<char>(static_cast<unsigned char>(m[i]) ^ mask);
        check(m);
      }
    }
  }
  std::mt19937 rng(12345);  // fixed seed: the same cases every run
  for (int round = 0; round < 20000; ++round) {
    std::string m = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !m.empty(); ++e) {
      const size_t at = rng() % m.size();
      switch (rng() % 3) {
        case 0:
          m[at] = static_cast<char>(rng());
          break;
        case 1:
          m.erase(at, 1 + rng() % 8);
          break;
        default:
          m.insert(at, 1 + rng() % 4, static_cast<char>(rng()));
      }
    }
    check(m);
  }
  // Both outcomes must occur, or the loop exercised nothing.
  EXPECT_GT(decoded, 100u);
  EXPECT_GT(rejected, 100u);
}

}  // namespace
}  // namespace sandbox::protobuf

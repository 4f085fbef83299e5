#include "sandbox/admission.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "json_object.h"

namespace sandbox {
namespace {

const ResourceRef kServices{"", "services"};
const ResourceRef kDeployments{"apps", "deployments"};
const ResourceRef kStatefulSets{"apps", "statefulsets"};
const ResourceRef kDaemonSets{"apps", "daemonsets"};
const ResourceRef kJobs{"batch", "jobs"};
const ResourceRef kNamespaces{"", "namespaces"};
const ResourceRef kPods{"", "pods"};

std::string S(const json::ObjectPtr& o, const std::string& path) {
  return json::GetString(o, path).value_or("<missing>");
}

bool InServiceRange(const std::string& ip) {
  unsigned a, b, c, d;
  if (sscanf(ip.c_str(), "%u.%u.%u.%u", &a, &b, &c, &d) != 4) return false;
  return a == 10 && b >= 96 && b <= 111 && c <= 255 && d <= 255;
}

json::ObjectPtr Service(const std::string& name, const std::string& spec_extra = "",
                        const std::string& ports = R"([{"port":80}])") {
  return Obj(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":")" + name +
             R"(","namespace":"default"},"spec":{"selector":{"app":"web"},"ports":)" + ports +
             spec_extra + "}}");
}

json::ObjectPtr Deployment(const std::string& selector_labels = R"({"app":"web"})",
                           const std::string& template_labels = R"({"app":"web"})",
                           const std::string& image = "nginx:1.25") {
  return Obj(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
    "spec":{"selector":{"matchLabels":)" +
             selector_labels + R"(},"template":{"metadata":{"labels":)" + template_labels +
             R"(},"spec":{"containers":[{"name":"web","image":")" + image +
             R"(","ports":[{"containerPort":8080}]}]}}}})");
}

json::ObjectPtr Job(const std::string& restart = "Never") {
  return Obj(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"migrate"},
    "spec":{"template":{"spec":{"restartPolicy":")" +
             restart + R"(","containers":[{"name":"m","image":"busybox:1.36"}]}}}})");
}

class AdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/admission_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto opened = Store::Open(dir_);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened.value());
  }

  // Admits and stores, as the API handler does on create.
  json::ObjectPtr CreateAdmitted(const ResourceRef& ref, json::ObjectPtr obj) {
    auto admitted = Admit(ref, obj, nullptr, *store_);
    EXPECT_TRUE(admitted.ok()) << admitted.error().message;
    auto created = store_->Create(ref, "default", obj);
    EXPECT_TRUE(created.ok()) << created.error().message;
    return created.ok() ? created.value() : obj;
  }

  static bool HasCause(const ApiError& e, const std::string& field, const std::string& reason) {
    for (const auto& c : e.causes) {
      if (c.field == field && c.reason == reason) return true;
    }
    return false;
  }

  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(AdmissionTest, ServiceGetsClusterIPAndPortDefaults) {
  json::ObjectPtr svc = Service("web", "", R"([{"port":80},{"port":443,"targetPort":8443,
      "protocol":"UDP","name":"tls"}])");
  ASSERT_TRUE(Admit(kServices, svc, nullptr, *store_).ok());
  EXPECT_EQ(S(svc, "spec.type"), "ClusterIP");
  const std::string ip = S(svc, "spec.clusterIP");
  EXPECT_TRUE(InServiceRange(ip)) << ip;
  EXPECT_NE(ip, "10.96.0.1");  // the kubernetes Service's address on a real cluster
  json::ArrayPtr ips = json::GetArray(svc, "spec.clusterIPs");
  ASSERT_TRUE(ips);
  ASSERT_EQ(ips->size(), 1u);
  EXPECT_EQ(ips->getElement<std::string>(0), ip);
  EXPECT_EQ(S(svc, "spec.sessionAffinity"), "None");
  json::ArrayPtr ports = json::GetArray(svc, "spec.ports");
  json::ObjectPtr p0 = ports->getObject(0), p1 = ports->getObject(1);
  EXPECT_EQ(S(p0, "protocol"), "TCP");
  EXPECT_EQ(json::GetInt(p0, "targetPort"), 80);
  EXPECT_FALSE(p0->has("nodePort"));
  EXPECT_EQ(S(p1, "protocol"), "UDP");
  EXPECT_EQ(json::GetInt(p1, "targetPort"), 8443);
}

TEST_F(AdmissionTest, ClusterIPsAreUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 60; ++i) {
    json::ObjectPtr svc = CreateAdmitted(kServices, Service("svc" + std::to_string(i)));
    seen.insert(S(svc, "spec.clusterIP"));
  }
  EXPECT_EQ(seen.size(), 60u);
}

TEST_F(AdmissionTest, ClusterIPIsKeptAcrossUpdatesAndImmutable) {
  json::ObjectPtr old = CreateAdmitted(kServices, Service("web"));
  const std::string ip = S(old, "spec.clusterIP");

  // helm and kubectl apply send the Service without clusterIP: the stored one stays.
  json::ObjectPtr update = Service("web", "", R"([{"port":81}])");
  ASSERT_TRUE(Admit(kServices, update, old, *store_).ok());
  EXPECT_EQ(S(update, "spec.clusterIP"), ip);
  EXPECT_EQ(json::GetArray(update, "spec.clusterIPs")->getElement<std::string>(0), ip);

  json::ObjectPtr same = Service("web", R"(,"clusterIP":")" + ip + "\"");
  EXPECT_TRUE(Admit(kServices, same, old, *store_).ok());

  json::ObjectPtr changed = Service("web", R"(,"clusterIP":"10.96.200.200")");
  auto r = Admit(kServices, changed, old, *store_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 422);
  EXPECT_EQ(r.error().reason, "Invalid");
  EXPECT_TRUE(HasCause(r.error(), "spec.clusterIP", "FieldValueInvalid"));
}

TEST_F(AdmissionTest, HeadlessServiceStaysHeadless) {
  json::ObjectPtr svc = CreateAdmitted(kServices, Service("db", R"(,"clusterIP":"None")"));
  EXPECT_EQ(S(svc, "spec.clusterIP"), "None");
  EXPECT_EQ(json::GetArray(svc, "spec.clusterIPs")->getElement<std::string>(0), "None");
  json::ObjectPtr update = Service("db");
  ASSERT_TRUE(Admit(kServices, update, svc, *store_).ok());
  EXPECT_EQ(S(update, "spec.clusterIP"), "None");
}

TEST_F(AdmissionTest, RequestedClusterIPMustBeFreeAndInRange) {
  json::ObjectPtr first = CreateAdmitted(kServices, Service("a", R"(,"clusterIP":"10.96.5.5")"));
  EXPECT_EQ(S(first, "spec.clusterIP"), "10.96.5.5");

  auto taken = Admit(kServices, Service("b", R"(,"clusterIP":"10.96.5.5")"), nullptr, *store_);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, 422);
  EXPECT_NE(taken.error().message.find("already allocated"), std::string::npos);

  auto outside = Admit(kServices, Service("c", R"(,"clusterIP":"192.168.1.1")"), nullptr, *store_);
  ASSERT_FALSE(outside.ok());
  EXPECT_TRUE(HasCause(outside.error(), "spec.clusterIPs", "FieldValueInvalid"));

  auto garbage = Admit(kServices, Service("d", R"(,"clusterIP":"10.96.1")"), nullptr, *store_);
  EXPECT_FALSE(garbage.ok());
}

TEST_F(AdmissionTest, NodePortsAllocatedKeptAndDropped) {
  json::ObjectPtr svc = CreateAdmitted(kServices, Service("np", R"(,"type":"NodePort")"));
  auto node_port = json::GetInt(json::GetArray(svc, "spec.ports")->getObject(0), "nodePort");
  ASSERT_TRUE(node_port);
  EXPECT_GE(*node_port, 30000);
  EXPECT_LE(*node_port, 32767);
  EXPECT_EQ(S(svc, "spec.externalTrafficPolicy"), "Cluster");

  json::ObjectPtr again = Service("np", R"(,"type":"NodePort")");
  ASSERT_TRUE(Admit(kServices, again, svc, *store_).ok());
  EXPECT_EQ(json::GetInt(json::GetArray(again, "spec.ports")->getObject(0), "nodePort"), node_port);

  json::ObjectPtr back = Service("np", "", R"([{"port":80,"nodePort":31000}])");
  ASSERT_TRUE(Admit(kServices, back, svc, *store_).ok());
  EXPECT_FALSE(json::GetArray(back, "spec.ports")->getObject(0)->has("nodePort"));
}

TEST_F(AdmissionTest, ServiceValidation) {
  auto bad_type = Admit(kServices, Service("x", R"(,"type":"Magic")"), nullptr, *store_);
  ASSERT_FALSE(bad_type.ok());
  EXPECT_TRUE(HasCause(bad_type.error(), "spec.type", "FieldValueNotSupported"));

  auto ext = Admit(kServices, Service("x", R"(,"type":"ExternalName")"), nullptr, *store_);
  ASSERT_FALSE(ext.ok());
  EXPECT_TRUE(HasCause(ext.error(), "spec.externalName", "FieldValueRequired"));

  auto bad_port = Admit(kServices, Service("x", "", R"([{"port":70000}])"), nullptr, *store_);
  ASSERT_FALSE(bad_port.ok());
  EXPECT_TRUE(HasCause(bad_port.error(), "spec.ports[0].port", "FieldValueInvalid"));

  json::ObjectPtr ok = Service("x", R"(,"type":"ExternalName","externalName":"example.com")");
  ASSERT_TRUE(Admit(kServices, ok, nullptr, *store_).ok());
  EXPECT_FALSE(json::GetString(ok, "spec.clusterIP").has_value());
}

TEST_F(AdmissionTest, DeploymentDefaults) {
  json::ObjectPtr d = Deployment();
  ASSERT_TRUE(Admit(kDeployments, d, nullptr, *store_).ok());
  EXPECT_EQ(json::GetInt(d, "spec.replicas"), 1);
  EXPECT_EQ(S(d, "spec.strategy.type"), "RollingUpdate");
  EXPECT_EQ(S(d, "spec.strategy.rollingUpdate.maxUnavailable"), "25%");
  EXPECT_EQ(S(d, "spec.strategy.rollingUpdate.maxSurge"), "25%");
  EXPECT_EQ(json::GetInt(d, "spec.revisionHistoryLimit"), 10);
  EXPECT_EQ(json::GetInt(d, "spec.progressDeadlineSeconds"), 600);
  EXPECT_EQ(S(d, "spec.template.spec.restartPolicy"), "Always");
  EXPECT_EQ(S(d, "spec.template.spec.dnsPolicy"), "ClusterFirst");
  EXPECT_EQ(json::GetInt(d, "spec.template.spec.terminationGracePeriodSeconds"), 30);
  json::ObjectPtr c = json::GetArray(d, "spec.template.spec.containers")->getObject(0);
  EXPECT_EQ(S(c, "imagePullPolicy"), "IfNotPresent");
  EXPECT_EQ(S(c, "terminationMessagePath"), "/dev/termination-log");
  EXPECT_EQ(S(c, "terminationMessagePolicy"), "File");
  EXPECT_EQ(S(c->getArray("ports")->getObject(0), "protocol"), "TCP");

  // Explicit values are left alone.
  json::ObjectPtr three = Deployment();
  json::GetObject(three, "spec")->set("replicas", 3);
  json::GetObject(three, "spec")->set("revisionHistoryLimit", 2);
  ASSERT_TRUE(Admit(kDeployments, three, nullptr, *store_).ok());
  EXPECT_EQ(json::GetInt(three, "spec.replicas"), 3);
  EXPECT_EQ(json::GetInt(three, "spec.revisionHistoryLimit"), 2);
}

TEST_F(AdmissionTest, ImagePullPolicyFollowsTheTag) {
  const std::pair<std::string, std::string> cases[] = {
      {"nginx", "Always"},
      {"nginx:latest", "Always"},
      {"registry:5000/team/app", "Always"},
      {"registry:5000/team/app:v2", "IfNotPresent"},
      {"nginx@sha256:0123456789abcdef", "IfNotPresent"},
  };
  for (const auto& [image, policy] : cases) {
    json::ObjectPtr d = Deployment(R"({"app":"web"})", R"({"app":"web"})", image);
    ASSERT_TRUE(Admit(kDeployments, d, nullptr, *store_).ok());
    EXPECT_EQ(
        S(json::GetArray(d, "spec.template.spec.containers")->getObject(0), "imagePullPolicy"),
        policy)
        << image;
  }
}

TEST_F(AdmissionTest, SelectorMustMatchTemplateLabels) {
  auto r =
      Admit(kDeployments, Deployment(R"({"app":"web"})", R"({"app":"api"})"), nullptr, *store_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 422);
  EXPECT_EQ(r.error().reason, "Invalid");
  EXPECT_EQ(r.error().kind, "Deployment");
  EXPECT_EQ(r.error().group, "apps");
  EXPECT_EQ(r.error().name, "web");
  EXPECT_TRUE(HasCause(r.error(), "spec.template.metadata.labels", "FieldValueInvalid"));
  EXPECT_NE(r.error().message.find("`selector` does not match template `labels`"),
            std::string::npos);

  // A subset of the template's labels is enough.
  EXPECT_TRUE(Admit(kDeployments, Deployment(R"({"app":"web"})", R"({"app":"web","v":"1"})"),
                    nullptr, *store_)
                  .ok());
}

TEST_F(AdmissionTest, SelectorRequiredAndNotEmpty) {
  json::ObjectPtr missing = Deployment();
  json::GetObject(missing, "spec")->remove("selector");
  auto r = Admit(kDeployments, missing, nullptr, *store_);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(HasCause(r.error(), "spec.selector", "FieldValueRequired"));

  auto empty = Admit(kDeployments, Deployment("{}"), nullptr, *store_);
  ASSERT_FALSE(empty.ok());
  EXPECT_TRUE(HasCause(empty.error(), "spec.selector", "FieldValueInvalid"));

  json::ObjectPtr no_containers = Deployment();
  json::GetObject(no_containers, "spec.template.spec")
      ->set("containers", json::ArrayPtr(new json::Array));
  auto nc = Admit(kDeployments, no_containers, nullptr, *store_);
  ASSERT_FALSE(nc.ok());
  EXPECT_TRUE(HasCause(nc.error(), "spec.template.spec.containers", "FieldValueRequired"));
}

TEST_F(AdmissionTest, WorkloadSelectorIsImmutable) {
  json::ObjectPtr old = CreateAdmitted(kDeployments, Deployment());
  json::ObjectPtr same = Deployment(R"({"app":"web"})", R"({"app":"web"})", "nginx:1.26");
  EXPECT_TRUE(Admit(kDeployments, same, old, *store_).ok());

  json::ObjectPtr changed =
      Deployment(R"({"app":"web","tier":"x"})", R"({"app":"web","tier":"x"})");
  auto r = Admit(kDeployments, changed, old, *store_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 422);
  EXPECT_TRUE(HasCause(r.error(), "spec.selector", "FieldValueInvalid"));
  EXPECT_NE(r.error().message.find("field is immutable"), std::string::npos);
}

TEST_F(AdmissionTest, WorkloadTemplatesMustRestartAlways) {
  json::ObjectPtr d = Deployment();
  json::GetObject(d, "spec.template.spec")->set("restartPolicy", std::string("Never"));
  auto r = Admit(kDeployments, d, nullptr, *store_);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(HasCause(r.error(), "spec.template.spec.restartPolicy", "FieldValueNotSupported"));
}

TEST_F(AdmissionTest, StatefulSetAndDaemonSetDefaults) {
  json::ObjectPtr sts = Deployment();
  sts->set("kind", std::string("StatefulSet"));
  ASSERT_TRUE(Admit(kStatefulSets, sts, nullptr, *store_).ok());
  EXPECT_EQ(json::GetInt(sts, "spec.replicas"), 1);
  EXPECT_EQ(S(sts, "spec.podManagementPolicy"), "OrderedReady");
  EXPECT_EQ(S(sts, "spec.updateStrategy.type"), "RollingUpdate");
  EXPECT_EQ(json::GetInt(sts, "spec.updateStrategy.rollingUpdate.partition"), 0);
  EXPECT_FALSE(json::GetObject(sts, "spec")->has("strategy"));

  json::ObjectPtr ds = Deployment();
  ds->set("kind", std::string("DaemonSet"));
  ASSERT_TRUE(Admit(kDaemonSets, ds, nullptr, *store_).ok());
  EXPECT_EQ(S(ds, "spec.updateStrategy.type"), "RollingUpdate");
  EXPECT_EQ(json::GetInt(ds, "spec.updateStrategy.rollingUpdate.maxUnavailable"), 1);
  EXPECT_FALSE(json::GetObject(ds, "spec")->has("replicas"));

  json::ObjectPtr bad = Deployment(R"({"app":"web"})", R"({"app":"db"})");
  EXPECT_FALSE(Admit(kStatefulSets, bad, nullptr, *store_).ok());
}

TEST_F(AdmissionTest, JobGetsGeneratedSelectorKeptOnUpdate) {
  json::ObjectPtr job = Job();
  ASSERT_TRUE(Admit(kJobs, job, nullptr, *store_).ok());
  EXPECT_EQ(json::GetInt(job, "spec.backoffLimit"), 6);
  EXPECT_EQ(json::GetInt(job, "spec.completions"), 1);
  EXPECT_EQ(json::GetInt(job, "spec.parallelism"), 1);
  json::ObjectPtr match = json::GetObject(job, "spec.selector.matchLabels");
  ASSERT_TRUE(match);
  const std::string uid = match->getValue<std::string>("batch.kubernetes.io/controller-uid");
  EXPECT_EQ(uid.size(), 36u);
  json::ObjectPtr labels = json::GetObject(job, "spec.template.metadata.labels");
  EXPECT_EQ(labels->getValue<std::string>("batch.kubernetes.io/controller-uid"), uid);
  EXPECT_EQ(labels->getValue<std::string>("controller-uid"), uid);
  EXPECT_EQ(labels->getValue<std::string>("job-name"), "migrate");
  EXPECT_EQ(labels->getValue<std::string>("batch.kubernetes.io/job-name"), "migrate");

  // An update without the generated fields keeps them (both are immutable).
  json::ObjectPtr update = Job();
  ASSERT_TRUE(Admit(kJobs, update, job, *store_).ok());
  EXPECT_EQ(json::GetObject(update, "spec.selector.matchLabels")
                ->getValue<std::string>("batch.kubernetes.io/controller-uid"),
            uid);

  json::ObjectPtr other_template = Job("OnFailure");
  auto r = Admit(kJobs, other_template, job, *store_);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(HasCause(r.error(), "spec.template", "FieldValueInvalid"));

  // Two Jobs get different uids.
  json::ObjectPtr second = Job();
  ASSERT_TRUE(Admit(kJobs, second, nullptr, *store_).ok());
  EXPECT_NE(json::GetObject(second, "spec.selector.matchLabels")
                ->getValue<std::string>("batch.kubernetes.io/controller-uid"),
            uid);
}

TEST_F(AdmissionTest, JobRestartPolicyMustNotBeAlways) {
  auto r = Admit(kJobs, Job("Always"), nullptr, *store_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, "Job");
  EXPECT_EQ(r.error().group, "batch");
  EXPECT_TRUE(HasCause(r.error(), "spec.template.spec.restartPolicy", "FieldValueNotSupported"));

  json::ObjectPtr none = Job();
  json::GetObject(none, "spec.template.spec")->remove("restartPolicy");
  EXPECT_FALSE(Admit(kJobs, none, nullptr, *store_).ok());
}

TEST_F(AdmissionTest, NamespaceDefaults) {
  json::ObjectPtr ns = Obj(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}})");
  ASSERT_TRUE(Admit(kNamespaces, ns, nullptr, *store_).ok());
  EXPECT_EQ(
      json::GetObject(ns, "metadata.labels")->getValue<std::string>("kubernetes.io/metadata.name"),
      "prod");
  json::ArrayPtr finalizers = json::GetArray(ns, "spec.finalizers");
  ASSERT_TRUE(finalizers);
  ASSERT_EQ(finalizers->size(), 1u);
  EXPECT_EQ(finalizers->getElement<std::string>(0), "kubernetes");
  EXPECT_EQ(S(ns, "status.phase"), "Active");
}

TEST_F(AdmissionTest, PodPhaseDefaultsToPending) {
  json::ObjectPtr pod = Obj(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
      "spec":{"containers":[{"name":"c","image":"busybox"}]}})");
  ASSERT_TRUE(Admit(kPods, pod, nullptr, *store_).ok());
  EXPECT_EQ(S(pod, "status.phase"), "Pending");
  EXPECT_EQ(S(pod, "spec.restartPolicy"), "Always");

  json::ObjectPtr running = Obj(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
      "spec":{"containers":[{"name":"c","image":"busybox"}]},"status":{"phase":"Running"}})");
  ASSERT_TRUE(Admit(kPods, running, nullptr, *store_).ok());
  EXPECT_EQ(S(running, "status.phase"), "Running");
}

TEST_F(AdmissionTest, OtherKindsPassUntouched) {
  json::ObjectPtr cm = Obj(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},
      "data":{"a":"b"}})");
  const std::string before = json::Stringify(cm);
  ASSERT_TRUE(Admit({"", "configmaps"}, cm, nullptr, *store_).ok());
  EXPECT_EQ(json::Stringify(cm), before);
  json::ObjectPtr vs = Obj(R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService",
      "metadata":{"name":"v"},"spec":{}})");
  ASSERT_TRUE(Admit({"networking.istio.io", "virtualservices"}, vs, nullptr, *store_).ok());
  EXPECT_FALSE(json::GetObject(vs, "spec")->has("selector"));
}

}  // namespace
}  // namespace sandbox

namespace sandbox {
namespace {

TEST(SecretAdmissionTest, StringDataIsFoldedIntoBase64Data) {
  auto secret =
      json::ParseObject(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},)"
                        R"("data":{"kept":"YQ=="},"stringData":{"password":"s3cret","kept":"b"}})")
          .value();
  auto store = Store::Open("").value();
  ASSERT_TRUE(Admit({"", "secrets"}, secret, nullptr, *store).ok());
  EXPECT_FALSE(secret->has("stringData"));
  EXPECT_EQ(json::GetString(secret, "data.password"), "czNjcmV0");
  EXPECT_EQ(json::GetString(secret, "data.kept"), "Yg==");  // stringData wins, as in the apiserver
  EXPECT_EQ(json::GetString(secret, "type"), "Opaque");
}

TEST(SecretAdmissionTest, DataThatIsNotBase64IsRefused) {
  auto store = Store::Open("").value();
  for (const char* bad : {"abc", "a===", "ab=c", "!!!!"}) {
    auto secret =
        json::ParseObject(std::string(R"({"metadata":{"name":"s"},"data":{"k":")") + bad + R"("}})")
            .value();
    auto admitted = Admit({"", "secrets"}, secret, nullptr, *store);
    ASSERT_FALSE(admitted.ok()) << bad;
    EXPECT_EQ(admitted.error().code, 422);
    EXPECT_EQ(admitted.error().causes.at(0).field, "data[k]");
  }
  auto good = json::ParseObject(R"({"metadata":{"name":"s"},"data":{"k":"YWI=","e":""}})").value();
  EXPECT_TRUE(Admit({"", "secrets"}, good, nullptr, *store).ok());
}

}  // namespace
}  // namespace sandbox

#include "sandbox/controllers.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "json_object.h"
#include "sandbox/admission.h"

namespace sandbox {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

const ResourceRef kPods{"", "pods"};
const ResourceRef kServices{"", "services"};
const ResourceRef kEndpoints{"", "endpoints"};
const ResourceRef kNamespaces{"", "namespaces"};
const ResourceRef kConfigMaps{"", "configmaps"};
const ResourceRef kPvcs{"", "persistentvolumeclaims"};
const ResourceRef kDeployments{"apps", "deployments"};
const ResourceRef kReplicaSets{"apps", "replicasets"};
const ResourceRef kStatefulSets{"apps", "statefulsets"};
const ResourceRef kDaemonSets{"apps", "daemonsets"};
const ResourceRef kJobs{"batch", "jobs"};
const ResourceRef kSlices{"discovery.k8s.io", "endpointslices"};
const ResourceRef kHpas{"autoscaling", "horizontalpodautoscalers"};
const ResourceRef kPdbs{"policy", "poddisruptionbudgets"};

constexpr milliseconds kReady{300};
constexpr milliseconds kJob{500};

std::string S(const json::ObjectPtr& o, const std::string& path) {
  return json::GetString(o, path).value_or("<missing>");
}
int64_t I(const json::ObjectPtr& o, const std::string& path) {
  return json::GetInt(o, path).value_or(-1);
}
std::string Label(const json::ObjectPtr& o, const std::string& key) {
  json::ObjectPtr labels = json::GetObject(o, "metadata.labels");
  return labels && labels->has(key) ? labels->getValue<std::string>(key) : "<missing>";
}
std::string Annotation(const json::ObjectPtr& o, const std::string& key) {
  json::ObjectPtr a = json::GetObject(o, "metadata.annotations");
  return a && a->has(key) ? a->getValue<std::string>(key) : "<missing>";
}

json::ObjectPtr Condition(const json::ObjectPtr& o, const std::string& type) {
  json::ArrayPtr conds = json::GetArray(o, "status.conditions");
  for (size_t i = 0; conds && i < conds->size(); ++i) {
    if (S(conds->getObject(i), "type") == type) return conds->getObject(i);
  }
  return nullptr;
}

bool IsRfc3339(const std::string& s) {
  return std::regex_match(s, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)"));
}

json::ObjectPtr WithoutHash(const json::ObjectPtr& tmpl) {
  json::ObjectPtr copy = json::DeepCopy(tmpl);
  json::GetObject(copy, "metadata.labels")->remove("pod-template-hash");
  return copy;
}

std::string DeploymentJson(const std::string& name, int replicas, const std::string& image,
                           const std::string& extra_spec = "") {
  return R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":")" + name +
         R"(","namespace":"prod"},"spec":{"replicas":)" + std::to_string(replicas) +
         R"(,"selector":{"matchLabels":{"app":")" + name +
         R"("}},"template":{"metadata":{"labels":{"app":")" + name +
         R"(","version":"v1"},"annotations":{"team":"a"}},"spec":{"containers":[{"name":"web",
         "image":")" +
         image + R"(","ports":[{"name":"http","containerPort":8080}]}]}})" + extra_spec + "}}";
}

class ControllersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/controllers_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto opened = Store::Open(dir_);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened.value());
    ControllerOptions options;
    options.ready_delay = kReady;
    options.job_duration = kJob;
    cm_ = std::make_unique<ControllerManager>(*store_, options);
    t0_ = Clock::now();
    // The API refuses objects in a missing namespace, so the tests' namespace exists too.
    Create(kNamespaces, R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}})", "");
  }
  void TearDown() override {
    cm_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Through admission, as the API handler stores objects.
  json::ObjectPtr Create(const ResourceRef& ref, const std::string& text,
                         const std::string& ns = "prod") {
    json::ObjectPtr obj = Obj(text);
    auto admitted = Admit(ref, obj, nullptr, *store_);
    EXPECT_TRUE(admitted.ok()) << admitted.error().message;
    auto created = store_->Create(ref, ns, obj);
    EXPECT_TRUE(created.ok()) << created.error().message;
    return created.ok() ? created.value() : obj;
  }

  json::ObjectPtr Get(const ResourceRef& ref, const std::string& name,
                      const std::string& ns = "prod") {
    auto r = store_->Get(ref, ns, name);
    return r.ok() ? r.value() : nullptr;
  }

  std::vector<json::ObjectPtr> List(const ResourceRef& ref, const std::string& ns = "prod") {
    return store_->List(ref, ns).items;
  }

  std::vector<json::ObjectPtr> OwnedBy(const ResourceRef& ref, const json::ObjectPtr& owner) {
    std::vector<json::ObjectPtr> out;
    for (const auto& o : List(ref, S(owner, "metadata.namespace"))) {
      json::ArrayPtr refs = json::GetArray(o, "metadata.ownerReferences");
      for (size_t i = 0; refs && i < refs->size(); ++i) {
        if (S(refs->getObject(i), "uid") == S(owner, "metadata.uid")) out.push_back(o);
      }
    }
    return out;
  }

  void Reconcile(milliseconds at) { cm_->ReconcileOnce(t0_ + at); }

  // Reads the object back, lets `change` edit it and stores it (as an update by a client).
  void Modify(const ResourceRef& ref, const std::string& name,
              const std::function<void(json::ObjectPtr)>& change) {
    json::ObjectPtr obj = Get(ref, name);
    ASSERT_TRUE(obj);
    json::ObjectPtr old = json::DeepCopy(obj);
    change(obj);
    ASSERT_TRUE(Admit(ref, obj, old, *store_).ok());
    auto r = store_->Update(ref, "prod", obj);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  // What helm 4 (kstatus) requires of a Deployment to call it Current.
  void ExpectDeploymentCurrent(const std::string& name, int64_t replicas) {
    json::ObjectPtr d = Get(kDeployments, name);
    ASSERT_TRUE(d);
    EXPECT_EQ(I(d, "status.observedGeneration"), I(d, "metadata.generation"));
    EXPECT_EQ(I(d, "status.replicas"), replicas);
    EXPECT_EQ(I(d, "status.updatedReplicas"), replicas);
    EXPECT_EQ(I(d, "status.readyReplicas"), replicas);
    EXPECT_EQ(I(d, "status.availableReplicas"), replicas);
    json::ObjectPtr available = Condition(d, "Available");
    ASSERT_TRUE(available);
    EXPECT_EQ(S(available, "status"), "True");
    json::ObjectPtr progressing = Condition(d, "Progressing");
    ASSERT_TRUE(progressing);
    EXPECT_EQ(S(progressing, "status"), "True");
    EXPECT_EQ(S(progressing, "reason"), "NewReplicaSetAvailable");
    EXPECT_TRUE(IsRfc3339(S(progressing, "lastUpdateTime")));
    EXPECT_TRUE(IsRfc3339(S(progressing, "lastTransitionTime")));
  }

  // What helm 3 --wait requires: the new ReplicaSet, found by selector and controller
  // reference, with a template equal to the Deployment's but for the hash label, ready.
  json::ObjectPtr ExpectHelm3Ready(const std::string& name) {
    json::ObjectPtr d = Get(kDeployments, name);
    json::ObjectPtr found;
    for (const auto& rs : OwnedBy(kReplicaSets, d)) {
      json::ObjectPtr ref = json::GetArray(rs, "metadata.ownerReferences")->getObject(0);
      EXPECT_EQ(S(ref, "apiVersion"), "apps/v1");
      EXPECT_EQ(S(ref, "kind"), "Deployment");
      EXPECT_EQ(S(ref, "name"), name);
      EXPECT_EQ(json::GetBool(ref, "controller"), true);
      EXPECT_EQ(json::GetBool(ref, "blockOwnerDeletion"), true);
      EXPECT_EQ(Label(rs, "app"), name);  // found by the Deployment's selector
      if (json::Equal(WithoutHash(json::GetObject(rs, "spec.template")),
                      json::GetObject(d, "spec.template"))) {
        found = rs;
      }
    }
    EXPECT_TRUE(found) << "no ReplicaSet with the Deployment's template";
    if (!found) return nullptr;
    EXPECT_GE(I(found, "status.readyReplicas"), I(d, "spec.replicas"));
    EXPECT_EQ(Annotation(found, "deployment.kubernetes.io/revision"),
              Annotation(d, "deployment.kubernetes.io/revision"));
    EXPECT_GE(I(d, "status.observedGeneration"), I(d, "metadata.generation"));
    for (const auto& pod : OwnedBy(kPods, found)) {
      EXPECT_EQ(S(pod, "status.phase"), "Running");
      EXPECT_EQ(S(Condition(pod, "Ready"), "status"), "True");
    }
    return found;
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ControllerManager> cm_;
  Clock::time_point t0_;
};

TEST_F(ControllersTest, DeploymentGetsReplicaSetAndPendingPods) {
  json::ObjectPtr d = Create(kDeployments, DeploymentJson("web", 2, "nginx:1.25"));
  Reconcile(milliseconds(0));

  auto rss = OwnedBy(kReplicaSets, d);
  ASSERT_EQ(rss.size(), 1u);
  json::ObjectPtr rs = rss[0];
  const std::string hash = Label(rs, "pod-template-hash");
  ASSERT_NE(hash, "<missing>");
  EXPECT_EQ(S(rs, "metadata.name"), "web-" + hash);
  EXPECT_EQ(I(rs, "spec.replicas"), 2);
  EXPECT_EQ(
      json::GetObject(rs, "spec.selector.matchLabels")->getValue<std::string>("pod-template-hash"),
      hash);
  EXPECT_EQ(Label(json::GetObject(rs, "spec.template"), "pod-template-hash"), hash);
  EXPECT_TRUE(json::Equal(WithoutHash(json::GetObject(rs, "spec.template")),
                          json::GetObject(d, "spec.template")));
  EXPECT_EQ(Annotation(rs, "deployment.kubernetes.io/revision"), "1");
  EXPECT_EQ(Annotation(Get(kDeployments, "web"), "deployment.kubernetes.io/revision"), "1");

  auto pods = OwnedBy(kPods, rs);
  ASSERT_EQ(pods.size(), 2u);
  for (const auto& pod : pods) {
    EXPECT_TRUE(
        std::regex_match(S(pod, "metadata.name"), std::regex("web-" + hash + "-[a-z0-9]{5}")))
        << S(pod, "metadata.name");
    EXPECT_EQ(Label(pod, "app"), "web");
    EXPECT_EQ(Label(pod, "version"), "v1");
    EXPECT_EQ(Label(pod, "pod-template-hash"), hash);
    EXPECT_EQ(Annotation(pod, "team"), "a");
    json::ObjectPtr ref = json::GetArray(pod, "metadata.ownerReferences")->getObject(0);
    EXPECT_EQ(S(ref, "kind"), "ReplicaSet");
    EXPECT_EQ(json::GetBool(ref, "controller"), true);
    EXPECT_EQ(S(pod, "spec.nodeName"), "sandbox-node");
    EXPECT_EQ(json::GetArray(pod, "spec.containers")->getObject(0)->getValue<std::string>("image"),
              "nginx:1.25");
    EXPECT_EQ(S(pod, "status.phase"), "Pending");
    EXPECT_EQ(S(Condition(pod, "PodScheduled"), "status"), "True");
  }

  json::ObjectPtr status = Get(kDeployments, "web");
  EXPECT_EQ(I(status, "status.replicas"), 2);
  EXPECT_EQ(I(status, "status.readyReplicas"), 0);
  EXPECT_EQ(S(Condition(status, "Available"), "status"), "False");
  EXPECT_EQ(S(Condition(status, "Progressing"), "reason"), "ReplicaSetUpdated");
}

TEST_F(ControllersTest, PodsBecomeReadyAfterTheDelay) {
  Create(kDeployments, DeploymentJson("web", 3, "nginx:1.25"));
  Reconcile(milliseconds(0));
  Reconcile(kReady - milliseconds(1));
  for (const auto& pod : List(kPods)) EXPECT_EQ(S(pod, "status.phase"), "Pending");
  EXPECT_EQ(I(Get(kDeployments, "web"), "status.readyReplicas"), 0);

  Reconcile(kReady);
  std::set<std::string> ips;
  auto pods = List(kPods);
  ASSERT_EQ(pods.size(), 3u);
  for (const auto& pod : pods) {
    EXPECT_EQ(S(pod, "status.phase"), "Running");
    for (const char* type : {"Initialized", "Ready", "ContainersReady", "PodScheduled"}) {
      EXPECT_EQ(S(Condition(pod, type), "status"), "True") << type;
    }
    const std::string ip = S(pod, "status.podIP");
    EXPECT_TRUE(std::regex_match(ip, std::regex(R"(10\.244\.\d+\.\d+)"))) << ip;
    ips.insert(ip);
    EXPECT_EQ(S(pod, "status.hostIP"), "127.0.0.1");
    EXPECT_TRUE(IsRfc3339(S(pod, "status.startTime")));
    json::ObjectPtr cs = json::GetArray(pod, "status.containerStatuses")->getObject(0);
    EXPECT_EQ(S(cs, "name"), "web");
    EXPECT_EQ(S(cs, "image"), "nginx:1.25");
    EXPECT_NE(S(cs, "imageID"), "<missing>");
    EXPECT_EQ(json::GetBool(cs, "ready"), true);
    EXPECT_EQ(json::GetBool(cs, "started"), true);
    EXPECT_EQ(I(cs, "restartCount"), 0);
    EXPECT_TRUE(IsRfc3339(S(cs, "state.running.startedAt")));
  }
  EXPECT_EQ(ips.size(), 3u);
  ExpectDeploymentCurrent("web", 3);
  ExpectHelm3Ready("web");
  json::ObjectPtr d = Get(kDeployments, "web");
  EXPECT_FALSE(json::GetObject(d, "status")->has("unavailableReplicas"));
}

TEST_F(ControllersTest, PodIPsStayUniqueAcrossARestart) {
  Create(kDeployments, DeploymentJson("web", 3, "nginx:1.25"));
  Reconcile(milliseconds(0));
  Reconcile(kReady);
  // A new controller process knows nothing of the addresses handed out before.
  ControllerOptions options;
  options.ready_delay = kReady;
  options.job_duration = kJob;
  cm_ = std::make_unique<ControllerManager>(*store_, options);
  Modify(kDeployments, "web",
         [](json::ObjectPtr obj) { json::GetObject(obj, "spec")->set("replicas", 6); });
  Reconcile(kReady);
  Reconcile(kReady * 2);
  std::set<std::string> ips;
  auto pods = List(kPods);
  ASSERT_EQ(pods.size(), 6u);
  for (const auto& pod : pods) {
    EXPECT_EQ(S(pod, "status.phase"), "Running");
    ips.insert(S(pod, "status.podIP"));
  }
  EXPECT_EQ(ips.size(), 6u);
  ExpectDeploymentCurrent("web", 6);
}

TEST_F(ControllersTest, NothingToDoWritesNothing) {
  Create(kDeployments, DeploymentJson("web", 2, "nginx:1.25"));
  Create(kServices, R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},
      "spec":{"selector":{"app":"web"},"ports":[{"port":80,"targetPort":"http"}]}})");
  Create(kJobs, R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},
      "spec":{"template":{"spec":{"restartPolicy":"Never",
      "containers":[{"name":"c","image":"busybox"}]}}}})");
  Reconcile(milliseconds(0));
  Reconcile(kReady + kJob);
  const uint64_t settled = store_->CurrentResourceVersion();
  Reconcile(kReady + kJob + milliseconds(10));
  EXPECT_EQ(store_->CurrentResourceVersion(), settled);
  // An unrelated change makes every controller look at everything again: still no writes.
  Create(kConfigMaps, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}})");
  const uint64_t after_change = store_->CurrentResourceVersion();
  Reconcile(kReady + kJob + milliseconds(20));
  Reconcile(std::chrono::seconds(30));  // also runs the full garbage collection
  EXPECT_EQ(store_->CurrentResourceVersion(), after_change);
}

TEST_F(ControllersTest, RollingUpdateAndRollback) {
  json::ObjectPtr d = Create(kDeployments, DeploymentJson("web", 2, "nginx:1.25"));
  Reconcile(milliseconds(0));
  Reconcile(kReady);
  json::ObjectPtr first_rs = ExpectHelm3Ready("web");
  ASSERT_TRUE(first_rs);

  Modify(kDeployments, "web", [](json::ObjectPtr obj) {
    json::GetArray(obj, "spec.template.spec.containers")
        ->getObject(0)
        ->set("image", std::string("nginx:2"));
  });
  const auto t1 = kReady + milliseconds(1000);
  Reconcile(t1);
  auto rss = OwnedBy(kReplicaSets, d);
  ASSERT_EQ(rss.size(), 2u);
  json::ObjectPtr d1 = Get(kDeployments, "web");
  EXPECT_EQ(I(d1, "metadata.generation"), 2);
  EXPECT_EQ(I(d1, "status.observedGeneration"), 2);
  EXPECT_EQ(Annotation(d1, "deployment.kubernetes.io/revision"), "2");
  // Old pods serve until the new ones are ready: not yet current.
  EXPECT_EQ(I(d1, "status.replicas"), 4);
  EXPECT_EQ(I(d1, "status.updatedReplicas"), 2);
  EXPECT_EQ(S(Condition(d1, "Progressing"), "reason"), "ReplicaSetUpdated");
  EXPECT_EQ(I(Get(kReplicaSets, S(first_rs, "metadata.name")), "spec.replicas"), 2);

  Reconcile(t1 + kReady);
  ExpectDeploymentCurrent("web", 2);
  json::ObjectPtr second_rs = ExpectHelm3Ready("web");
  ASSERT_TRUE(second_rs);
  EXPECT_NE(S(second_rs, "metadata.name"), S(first_rs, "metadata.name"));
  EXPECT_EQ(Annotation(second_rs, "deployment.kubernetes.io/revision"), "2");
  json::ObjectPtr old_rs = Get(kReplicaSets, S(first_rs, "metadata.name"));
  ASSERT_TRUE(old_rs);  // kept for history
  EXPECT_EQ(I(old_rs, "spec.replicas"), 0);
  EXPECT_TRUE(OwnedBy(kPods, old_rs).empty());
  EXPECT_EQ(List(kPods).size(), 2u);

  // Rolling back reuses the first ReplicaSet as the newest revision.
  Modify(kDeployments, "web", [](json::ObjectPtr obj) {
    json::GetArray(obj, "spec.template.spec.containers")
        ->getObject(0)
        ->set("image", std::string("nginx:1.25"));
  });
  const auto t2 = t1 + milliseconds(2000);
  Reconcile(t2);
  Reconcile(t2 + kReady);
  json::ObjectPtr back = ExpectHelm3Ready("web");
  ASSERT_TRUE(back);
  EXPECT_EQ(S(back, "metadata.name"), S(first_rs, "metadata.name"));
  EXPECT_EQ(Annotation(back, "deployment.kubernetes.io/revision"), "3");
  EXPECT_EQ(Annotation(Get(kDeployments, "web"), "deployment.kubernetes.io/revision"), "3");
  ExpectDeploymentCurrent("web", 2);
  EXPECT_EQ(OwnedBy(kReplicaSets, d).size(), 2u);
}

TEST_F(ControllersTest, RevisionHistoryLimitPrunesOldReplicaSets) {
  json::ObjectPtr d =
      Create(kDeployments, DeploymentJson("web", 1, "app:1", R"(,"revisionHistoryLimit":1)"));
  auto at = milliseconds(0);
  Reconcile(at);
  for (int v = 2; v <= 4; ++v) {
    at += kReady;
    Reconcile(at);
    Modify(kDeployments, "web", [v](json::ObjectPtr obj) {
      json::GetArray(obj, "spec.template.spec.containers")
          ->getObject(0)
          ->set("image", "app:" + std::to_string(v));
    });
    Reconcile(at);
  }
  Reconcile(at + kReady);
  ExpectDeploymentCurrent("web", 1);
  auto rss = OwnedBy(kReplicaSets, d);
  ASSERT_EQ(rss.size(), 2u);  // the current one and one old revision
  std::set<std::string> revisions;
  for (const auto& rs : rss) revisions.insert(Annotation(rs, "deployment.kubernetes.io/revision"));
  EXPECT_EQ(revisions, (std::set<std::string>{"3", "4"}));
}

TEST_F(ControllersTest, ScaleUpAndDown) {
  json::ObjectPtr d = Create(kDeployments, DeploymentJson("web", 1, "nginx:1.25"));
  Reconcile(milliseconds(0));
  Reconcile(kReady);
  ExpectDeploymentCurrent("web", 1);

  Modify(kDeployments, "web",
         [](json::ObjectPtr obj) { json::GetObject(obj, "spec")->set("replicas", 4); });
  Reconcile(kReady + milliseconds(10));
  EXPECT_EQ(List(kPods).size(), 4u);
  EXPECT_EQ(OwnedBy(kReplicaSets, d).size(), 1u);  // same template, same ReplicaSet
  json::ObjectPtr mid = Get(kDeployments, "web");
  EXPECT_EQ(I(mid, "status.readyReplicas"), 1);
  EXPECT_EQ(I(mid, "status.unavailableReplicas"), 3);
  // 25% of 4 may be unavailable: 1 ready is not enough.
  EXPECT_EQ(S(Condition(mid, "Available"), "status"), "False");

  Reconcile(kReady * 2 + milliseconds(10));
  ExpectDeploymentCurrent("web", 4);

  Modify(kDeployments, "web",
         [](json::ObjectPtr obj) { json::GetObject(obj, "spec")->set("replicas", 1); });
  Reconcile(kReady * 3);
  EXPECT_EQ(List(kPods).size(), 1u);
  ExpectDeploymentCurrent("web", 1);

  Modify(kDeployments, "web",
         [](json::ObjectPtr obj) { json::GetObject(obj, "spec")->set("replicas", 0); });
  Reconcile(kReady * 4);
  EXPECT_TRUE(List(kPods).empty());
  json::ObjectPtr zero = Get(kDeployments, "web");
  EXPECT_EQ(I(zero, "status.replicas"), 0);
  EXPECT_EQ(S(Condition(zero, "Available"), "status"), "True");
}

TEST_F(ControllersTest, JobCompletesAfterItsDuration) {
  json::ObjectPtr job = Create(kJobs, R"({"apiVersion":"batch/v1","kind":"Job",
      "metadata":{"name":"migrate","annotations":{"helm.sh/hook":"pre-install"}},
      "spec":{"template":{"spec":{"restartPolicy":"Never",
      "containers":[{"name":"m","image":"busybox:1.36"}]}}}})");
  Reconcile(milliseconds(0));
  auto pods = OwnedBy(kPods, job);
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(Label(pods[0], "job-name"), "migrate");
  json::ObjectPtr ref = json::GetArray(pods[0], "metadata.ownerReferences")->getObject(0);
  EXPECT_EQ(S(ref, "kind"), "Job");
  EXPECT_EQ(S(ref, "apiVersion"), "batch/v1");
  json::ObjectPtr started = Get(kJobs, "migrate");
  EXPECT_EQ(I(started, "status.active"), 1);
  EXPECT_TRUE(IsRfc3339(S(started, "status.startTime")));
  EXPECT_FALSE(Condition(started, "Complete"));

  Reconcile(kReady);
  EXPECT_EQ(I(Get(kJobs, "migrate"), "status.ready"), 1);
  EXPECT_FALSE(Condition(Get(kJobs, "migrate"), "Complete"));

  Reconcile(kReady + kJob - milliseconds(1));
  EXPECT_FALSE(Condition(Get(kJobs, "migrate"), "Complete"));

  Reconcile(kReady + kJob);
  json::ObjectPtr done = Get(kJobs, "migrate");
  EXPECT_EQ(I(done, "status.succeeded"), 1);
  EXPECT_EQ(I(done, "status.active"), 0);
  EXPECT_EQ(S(Condition(done, "Complete"), "status"), "True");
  EXPECT_TRUE(IsRfc3339(S(done, "status.completionTime")));
  EXPECT_EQ(S(done, "status.startTime"), S(started, "status.startTime"));
  pods = OwnedBy(kPods, job);
  ASSERT_EQ(pods.size(), 1u);  // no second run
  EXPECT_EQ(S(pods[0], "status.phase"), "Succeeded");
  json::ObjectPtr cs = json::GetArray(pods[0], "status.containerStatuses")->getObject(0);
  EXPECT_EQ(I(cs, "state.terminated.exitCode"), 0);
  EXPECT_EQ(S(cs, "state.terminated.reason"), "Completed");
}

TEST_F(ControllersTest, JobFailsOnRequest) {
  json::ObjectPtr job = Create(kJobs, R"({"apiVersion":"batch/v1","kind":"Job",
      "metadata":{"name":"bad"},"spec":{"template":{"spec":{"restartPolicy":"Never",
      "containers":[{"name":"m","image":"busybox","env":[{"name":"SANDBOX_JOB_FAIL",
      "value":"true"}]}]}}}})");
  Reconcile(milliseconds(0));
  Reconcile(kReady + kJob);
  Reconcile(kReady * 3 + kJob * 3);
  json::ObjectPtr failed = Get(kJobs, "bad");
  EXPECT_EQ(I(failed, "status.failed"), 1);
  EXPECT_EQ(S(Condition(failed, "Failed"), "status"), "True");
  EXPECT_FALSE(Condition(failed, "Complete"));
  auto pods = OwnedBy(kPods, job);
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(S(pods[0], "status.phase"), "Failed");
}

TEST_F(ControllersTest, BarePodsRunToCompletionOrKeepRunning) {
  Create(kPods, R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"release-test",
      "annotations":{"helm.sh/hook":"test"}},"spec":{"restartPolicy":"Never",
      "containers":[{"name":"t","image":"busybox"}]}})");
  Create(kPods, R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"server"},
      "spec":{"containers":[{"name":"s","image":"busybox"}]}})");
  Reconcile(milliseconds(0));
  EXPECT_EQ(S(Get(kPods, "release-test"), "spec.nodeName"), "sandbox-node");
  EXPECT_EQ(S(Get(kPods, "release-test"), "status.phase"), "Pending");
  Reconcile(kReady);
  EXPECT_EQ(S(Get(kPods, "release-test"), "status.phase"), "Running");
  Reconcile(kReady + kJob);
  json::ObjectPtr done = Get(kPods, "release-test");
  EXPECT_EQ(S(done, "status.phase"), "Succeeded");
  EXPECT_EQ(S(Condition(done, "Ready"), "status"), "False");
  EXPECT_EQ(S(Condition(done, "Ready"), "reason"), "PodCompleted");
  json::ObjectPtr server = Get(kPods, "server");
  EXPECT_EQ(S(server, "status.phase"), "Running");
  EXPECT_EQ(S(Condition(server, "Ready"), "status"), "True");
  Reconcile(std::chrono::seconds(60));
  EXPECT_EQ(S(Get(kPods, "server"), "status.phase"), "Running");
  EXPECT_EQ(S(Get(kPods, "release-test"), "status.phase"), "Succeeded");
}

TEST_F(ControllersTest, DeletingADeploymentCollectsItsReplicaSetsAndPods) {
  Create(kDeployments, DeploymentJson("web", 2, "nginx:1.25"));
  Create(kDeployments, DeploymentJson("other", 1, "nginx:1.25"));
  Reconcile(milliseconds(0));
  Reconcile(kReady);
  ASSERT_EQ(List(kReplicaSets).size(), 2u);
  ASSERT_EQ(List(kPods).size(), 3u);
  ASSERT_TRUE(store_->Delete(kDeployments, "prod", "web").ok());
  Reconcile(kReady + milliseconds(1));
  auto rss = List(kReplicaSets);
  ASSERT_EQ(rss.size(), 1u);
  EXPECT_EQ(Label(rss[0], "app"), "other");
  auto pods = List(kPods);
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(Label(pods[0], "app"), "other");
}

TEST_F(ControllersTest, GarbageCollectsDependentsOfAnyKind) {
  json::ObjectPtr owner = Create(kConfigMaps, R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"owner"}})");
  json::ObjectPtr keep = Create(kConfigMaps, R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"keeper"}})");
  auto dependent = [](const std::string& name, const std::vector<json::ObjectPtr>& owners) {
    std::string refs;
    for (const auto& o : owners) {
      refs += std::string(refs.empty() ? "" : ",") + R"({"apiVersion":"v1","kind":"ConfigMap",
          "name":")" +
              S(o, "metadata.name") + R"(","uid":")" + S(o, "metadata.uid") + "\"}";
    }
    return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
           R"(","ownerReferences":[)" + refs + "]}}";
  };
  Create(kConfigMaps, dependent("orphan", {owner}));
  Create(kConfigMaps, dependent("shared", {owner, keep}));
  Reconcile(milliseconds(0));
  EXPECT_EQ(List(kConfigMaps).size(), 4u);
  ASSERT_TRUE(store_->Delete(kConfigMaps, "prod", "owner").ok());
  Reconcile(milliseconds(10));  // the sweep over every kind runs at most every 2 s
  EXPECT_TRUE(Get(kConfigMaps, "orphan"));
  Reconcile(std::chrono::seconds(5));  // nothing changed since, but the sweep is due
  EXPECT_FALSE(Get(kConfigMaps, "orphan"));
  EXPECT_TRUE(Get(kConfigMaps, "shared"));  // one owner is still there
  EXPECT_TRUE(Get(kConfigMaps, "keeper"));
}

TEST_F(ControllersTest, TerminatingNamespaceIsEmptiedThenRemoved) {
  Create(kNamespaces, R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"stage",
      "finalizers":["kubernetes"]}})",
         "");
  Create(kDeployments, DeploymentJson("web", 1, "nginx:1.25"));  // in prod: must survive
  Create(kConfigMaps, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}})", "stage");
  json::ObjectPtr stuck = Obj(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s",
      "finalizers":["example.com/hold"]}})");
  ASSERT_TRUE(store_->Create({"", "secrets"}, "stage", stuck).ok());
  json::ObjectPtr d = Obj(DeploymentJson("api", 1, "nginx:1.25"));
  ASSERT_TRUE(Admit(kDeployments, d, nullptr, *store_).ok());
  ASSERT_TRUE(store_->Create(kDeployments, "stage", d).ok());
  Reconcile(milliseconds(0));
  ASSERT_EQ(store_->List(kPods, "stage").items.size(), 1u);

  auto deleted = store_->Delete(kNamespaces, "", "stage");
  ASSERT_TRUE(deleted.ok());
  ASSERT_TRUE(json::GetString(deleted.value(), "metadata.deletionTimestamp"));
  Reconcile(milliseconds(10));
  EXPECT_FALSE(store_->Get(kNamespaces, "", "stage").ok());
  for (const auto& ref : store_->Resources()) {
    EXPECT_TRUE(store_->List(ref, "stage").items.empty()) << ref.group << "/" << ref.resource;
  }
  EXPECT_TRUE(Get(kDeployments, "web"));
  EXPECT_EQ(store_->List(kPods, "prod").items.size(), 1u);
}

TEST_F(ControllersTest, VanishedNamespaceIsPurged) {
  Create(kNamespaces, R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"tmp"}})", "");
  Reconcile(milliseconds(0));  // the controller sees the namespace
  Create(kConfigMaps, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}})", "tmp");
  Create(kConfigMaps, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}})");
  ASSERT_TRUE(store_->Delete(kNamespaces, "", "tmp").ok());
  Reconcile(milliseconds(10));
  EXPECT_TRUE(store_->List(kConfigMaps, "tmp").items.empty());
  EXPECT_TRUE(Get(kConfigMaps, "c"));  // other namespaces are left alone
}

TEST_F(ControllersTest, NamespaceDeletedJustBeforeARestartIsPurged) {
  Create(kNamespaces, R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"tmp"}})", "");
  Create(kConfigMaps, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}})", "tmp");
  Create(kConfigMaps, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}})");
  ASSERT_TRUE(store_->Delete(kNamespaces, "", "tmp").ok());
  // A new controller process never saw "tmp"; the objects naming it are enough.
  cm_ = std::make_unique<ControllerManager>(*store_, ControllerOptions{});
  Reconcile(milliseconds(10));
  EXPECT_TRUE(store_->List(kConfigMaps, "tmp").items.empty());
  EXPECT_TRUE(Get(kConfigMaps, "c"));
}

TEST_F(ControllersTest, ServiceEndpointsFollowReadyPods) {
  Create(kDeployments, DeploymentJson("web", 2, "nginx:1.25"));
  json::ObjectPtr svc = Create(kServices, R"({"apiVersion":"v1","kind":"Service",
      "metadata":{"name":"web","labels":{"tier":"front"}},"spec":{"selector":{"app":"web"},
      "ports":[{"name":"http","port":80,"targetPort":"http"}]}})");
  Create(kServices, R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"external"},
      "spec":{"ports":[{"port":80}]}})");
  Reconcile(milliseconds(0));
  Reconcile(milliseconds(1));
  json::ObjectPtr ep = Get(kEndpoints, "web");
  ASSERT_TRUE(ep);
  EXPECT_FALSE(Get(kEndpoints, "external"));    // no selector: endpoints are the user's
  EXPECT_FALSE(json::GetArray(ep, "subsets"));  // pods have no IP yet

  Reconcile(kReady);
  std::set<std::string> pod_ips;
  for (const auto& pod : List(kPods)) pod_ips.insert(S(pod, "status.podIP"));
  ep = Get(kEndpoints, "web");
  json::ArrayPtr subsets = json::GetArray(ep, "subsets");
  ASSERT_TRUE(subsets);
  ASSERT_EQ(subsets->size(), 1u);
  json::ObjectPtr subset = subsets->getObject(0);
  std::set<std::string> ep_ips;
  json::ArrayPtr addresses = subset->getArray("addresses");
  ASSERT_TRUE(addresses);
  for (size_t i = 0; i < addresses->size(); ++i) {
    ep_ips.insert(S(addresses->getObject(i), "ip"));
    EXPECT_EQ(S(addresses->getObject(i), "targetRef.kind"), "Pod");
  }
  EXPECT_EQ(ep_ips, pod_ips);
  json::ObjectPtr port = subset->getArray("ports")->getObject(0);
  EXPECT_EQ(I(port, "port"), 8080);  // the named targetPort, resolved
  EXPECT_EQ(S(port, "name"), "http");
  EXPECT_EQ(S(port, "protocol"), "TCP");

  auto slices = List(kSlices);
  ASSERT_EQ(slices.size(), 1u);
  json::ObjectPtr slice = slices[0];
  EXPECT_TRUE(std::regex_match(S(slice, "metadata.name"), std::regex("web-[a-z0-9]{5}")));
  EXPECT_EQ(Label(slice, "kubernetes.io/service-name"), "web");
  EXPECT_EQ(S(slice, "addressType"), "IPv4");
  json::ArrayPtr endpoints = json::GetArray(slice, "endpoints");
  ASSERT_EQ(endpoints->size(), 2u);
  for (size_t i = 0; i < endpoints->size(); ++i) {
    EXPECT_EQ(json::GetBool(endpoints->getObject(i), "conditions.ready"), true);
    EXPECT_TRUE(
        pod_ips.count(endpoints->getObject(i)->getArray("addresses")->getElement<std::string>(0)));
  }
  EXPECT_EQ(S(json::GetArray(slice, "metadata.ownerReferences")->getObject(0), "uid"),
            S(svc, "metadata.uid"));

  ASSERT_TRUE(store_->Delete(kServices, "prod", "web").ok());
  Reconcile(kReady + milliseconds(1));
  EXPECT_FALSE(Get(kEndpoints, "web"));
  EXPECT_TRUE(List(kSlices).empty());
}

TEST_F(ControllersTest, NotReadyPodsAreNotReadyAddresses) {
  Create(kServices, R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"one"},
      "spec":{"selector":{"app":"one"},"ports":[{"port":80}]}})");
  // A pod that claims an IP but is not Ready (a client wrote its status).
  Create(kPods, R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"one",
      "labels":{"app":"one"}},"spec":{"containers":[{"name":"c","image":"x"}]}})");
  Reconcile(milliseconds(0));
  json::ObjectPtr pod = Get(kPods, "one");
  json::GetObject(pod, "status")->set("podIP", std::string("10.244.9.9"));
  ASSERT_TRUE(store_->Update(kPods, "prod", pod).ok());
  Reconcile(milliseconds(1));
  json::ObjectPtr subset = json::GetArray(Get(kEndpoints, "one"), "subsets")->getObject(0);
  EXPECT_FALSE(subset->has("addresses"));
  EXPECT_EQ(S(subset->getArray("notReadyAddresses")->getObject(0), "ip"), "10.244.9.9");
  EXPECT_EQ(I(subset->getArray("ports")->getObject(0), "port"), 80);
  Reconcile(kReady);
  subset = json::GetArray(Get(kEndpoints, "one"), "subsets")->getObject(0);
  EXPECT_EQ(S(subset->getArray("addresses")->getObject(0), "ip"), "10.244.9.9");  // IP kept
}

TEST_F(ControllersTest, StatefulSetRollsOutAndReportsRevisions) {
  json::ObjectPtr sts = Create(kStatefulSets, R"({"apiVersion":"apps/v1","kind":"StatefulSet",
      "metadata":{"name":"db"},"spec":{"replicas":2,"serviceName":"db",
      "selector":{"matchLabels":{"app":"db"}},"template":{"metadata":{"labels":{"app":"db"}},
      "spec":{"containers":[{"name":"db","image":"postgres:16"}]}}}})");
  Reconcile(milliseconds(0));
  ASSERT_TRUE(Get(kPods, "db-0"));
  ASSERT_TRUE(Get(kPods, "db-1"));
  EXPECT_EQ(S(Get(kPods, "db-1"), "spec.hostname"), "db-1");
  EXPECT_EQ(S(Get(kPods, "db-1"), "spec.subdomain"), "db");
  EXPECT_EQ(Label(Get(kPods, "db-0"), "statefulset.kubernetes.io/pod-name"), "db-0");
  EXPECT_EQ(I(Get(kStatefulSets, "db"), "status.readyReplicas"), 0);

  Reconcile(kReady);
  json::ObjectPtr s = Get(kStatefulSets, "db");
  EXPECT_EQ(I(s, "status.observedGeneration"), I(s, "metadata.generation"));
  EXPECT_EQ(I(s, "status.replicas"), 2);
  EXPECT_EQ(I(s, "status.readyReplicas"), 2);
  EXPECT_EQ(I(s, "status.currentReplicas"), 2);
  EXPECT_EQ(I(s, "status.updatedReplicas"), 2);
  EXPECT_EQ(S(s, "status.currentRevision"), S(s, "status.updateRevision"));
  const std::string first_revision = S(s, "status.updateRevision");
  EXPECT_EQ(Label(Get(kPods, "db-0"), "controller-revision-hash"), first_revision);

  Modify(kStatefulSets, "db", [](json::ObjectPtr obj) {
    json::GetArray(obj, "spec.template.spec.containers")
        ->getObject(0)
        ->set("image", std::string("postgres:17"));
  });
  auto at = kReady + milliseconds(100);
  Reconcile(at);
  s = Get(kStatefulSets, "db");
  EXPECT_NE(S(s, "status.updateRevision"), first_revision);
  EXPECT_EQ(S(s, "status.currentRevision"), first_revision);  // rollout in progress
  for (int i = 0; i < 6; ++i) {
    at += kReady;
    Reconcile(at);
  }
  s = Get(kStatefulSets, "db");
  EXPECT_EQ(S(s, "status.currentRevision"), S(s, "status.updateRevision"));
  EXPECT_EQ(I(s, "status.updatedReplicas"), 2);
  EXPECT_EQ(I(s, "status.readyReplicas"), 2);
  EXPECT_EQ(I(s, "status.currentReplicas"), 2);
  EXPECT_EQ(json::GetArray(Get(kPods, "db-1"), "spec.containers")
                ->getObject(0)
                ->getValue<std::string>("image"),
            "postgres:17");

  Modify(kStatefulSets, "db",
         [](json::ObjectPtr obj) { json::GetObject(obj, "spec")->set("replicas", 1); });
  Reconcile(at + milliseconds(1));
  EXPECT_FALSE(Get(kPods, "db-1"));
  EXPECT_EQ(OwnedBy(kPods, sts).size(), 1u);
}

TEST_F(ControllersTest, DaemonSetRunsOnePodOnTheNode) {
  json::ObjectPtr ds = Create(kDaemonSets, R"({"apiVersion":"apps/v1","kind":"DaemonSet",
      "metadata":{"name":"agent"},"spec":{"selector":{"matchLabels":{"app":"agent"}},
      "template":{"metadata":{"labels":{"app":"agent"}},
      "spec":{"containers":[{"name":"a","image":"agent:1"}]}}}})");
  Reconcile(milliseconds(0));
  auto pods = OwnedBy(kPods, ds);
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(S(pods[0], "spec.nodeName"), "sandbox-node");
  json::ObjectPtr s = Get(kDaemonSets, "agent");
  EXPECT_EQ(I(s, "status.desiredNumberScheduled"), 1);
  EXPECT_EQ(I(s, "status.numberReady"), 0);

  Reconcile(kReady);
  s = Get(kDaemonSets, "agent");
  EXPECT_EQ(I(s, "status.observedGeneration"), I(s, "metadata.generation"));
  EXPECT_EQ(I(s, "status.currentNumberScheduled"), 1);
  EXPECT_EQ(I(s, "status.updatedNumberScheduled"), 1);
  EXPECT_EQ(I(s, "status.numberReady"), 1);
  EXPECT_EQ(I(s, "status.numberAvailable"), 1);

  Modify(kDaemonSets, "agent", [](json::ObjectPtr obj) {
    json::GetArray(obj, "spec.template.spec.containers")
        ->getObject(0)
        ->set("image", std::string("agent:2"));
  });
  Reconcile(kReady * 2);
  s = Get(kDaemonSets, "agent");
  EXPECT_EQ(I(s, "status.updatedNumberScheduled"), 1);
  EXPECT_EQ(I(s, "status.numberReady"), 0);
  Reconcile(kReady * 3);
  pods = OwnedBy(kPods, ds);
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(
      json::GetArray(pods[0], "spec.containers")->getObject(0)->getValue<std::string>("image"),
      "agent:2");
  EXPECT_EQ(I(Get(kDaemonSets, "agent"), "status.numberReady"), 1);
}

TEST_F(ControllersTest, LoadBalancerPvcHpaAndPdbGetStatus) {
  Create(kServices, R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"lb"},
      "spec":{"type":"LoadBalancer","selector":{"app":"web"},"ports":[{"port":80}]}})");
  ASSERT_TRUE(store_
                  ->Create(kPvcs, "prod", Obj(R"({"apiVersion":"v1",
      "kind":"PersistentVolumeClaim","metadata":{"name":"data"},"spec":{"accessModes":
      ["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}})"))
                  .ok());
  Create(kDeployments, DeploymentJson("web", 2, "nginx:1.25"));
  ASSERT_TRUE(store_
                  ->Create(kHpas, "prod", Obj(R"({"apiVersion":"autoscaling/v2",
      "kind":"HorizontalPodAutoscaler","metadata":{"name":"web"},"spec":{"scaleTargetRef":
      {"apiVersion":"apps/v1","kind":"Deployment","name":"web"},"minReplicas":1,
      "maxReplicas":5}})"))
                  .ok());
  ASSERT_TRUE(store_
                  ->Create(kPdbs, "prod", Obj(R"({"apiVersion":"policy/v1",
      "kind":"PodDisruptionBudget","metadata":{"name":"web"},"spec":{"minAvailable":1,
      "selector":{"matchLabels":{"app":"web"}}}})"))
                  .ok());
  Reconcile(milliseconds(0));
  Reconcile(kReady);
  EXPECT_EQ(
      S(json::GetArray(Get(kServices, "lb"), "status.loadBalancer.ingress")->getObject(0), "ip"),
      "127.0.0.1");
  json::ObjectPtr pvc = Get(kPvcs, "data");
  EXPECT_EQ(S(pvc, "status.phase"), "Bound");
  EXPECT_EQ(S(pvc, "status.capacity.storage"), "1Gi");
  json::ObjectPtr hpa = Get(kHpas, "web");
  EXPECT_EQ(I(hpa, "status.currentReplicas"), 2);
  EXPECT_EQ(I(hpa, "status.desiredReplicas"), 2);
  EXPECT_EQ(I(hpa, "status.observedGeneration"), I(hpa, "metadata.generation"));
  json::ObjectPtr pdb = Get(kPdbs, "web");
  EXPECT_EQ(I(pdb, "status.expectedPods"), 2);
  EXPECT_EQ(I(pdb, "status.currentHealthy"), 2);
  EXPECT_EQ(I(pdb, "status.desiredHealthy"), 1);
  EXPECT_EQ(I(pdb, "status.disruptionsAllowed"), 1);
  EXPECT_EQ(I(pdb, "status.observedGeneration"), I(pdb, "metadata.generation"));
}

TEST_F(ControllersTest, BackgroundThreadDrivesDeploymentsToReady) {
  ControllerOptions fast;
  fast.ready_delay = milliseconds(20);
  fast.job_duration = milliseconds(20);
  fast.resync = milliseconds(5);
  cm_ = std::make_unique<ControllerManager>(*store_, fast);
  Create(kDeployments, DeploymentJson("web", 2, "nginx:1.25"));
  cm_->Start();
  cm_->Start();  // a second Start is harmless
  bool ready = false;
  for (int i = 0; i < 400 && !ready; ++i) {
    std::this_thread::sleep_for(milliseconds(5));
    json::ObjectPtr d = Get(kDeployments, "web");
    ready = d && I(d, "status.readyReplicas") == 2 &&
            S(Condition(d, "Progressing"), "reason") == "NewReplicaSetAvailable";
  }
  EXPECT_TRUE(ready);
  ASSERT_TRUE(store_->Delete(kDeployments, "prod", "web").ok());
  bool gone = false;
  for (int i = 0; i < 400 && !gone; ++i) {
    std::this_thread::sleep_for(milliseconds(5));
    gone = List(kPods).empty() && List(kReplicaSets).empty();
  }
  EXPECT_TRUE(gone);
  cm_->Stop();
  cm_->Stop();
  const uint64_t rv = store_->CurrentResourceVersion();
  Create(kDeployments, DeploymentJson("idle", 1, "nginx:1.25"));
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(store_->CurrentResourceVersion(), rv + 1);  // stopped: nothing reconciles
}

}  // namespace
}  // namespace sandbox

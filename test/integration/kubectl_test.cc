// The real kubectl (1.33 and 1.34) against the sandbox: reads, writes, every patch kind, apply
// (client- and server-side), labels, namespaces, and the Istio VirtualService custom resource.
#include <algorithm>
#include <regex>

#include "sandbox_fixture.h"

namespace canaryctl::integration {
namespace {

using Poco::Dynamic::Var;

// Names in a list, sorted, without what a real cluster adds to every namespace on its own.
std::vector<std::string> SortedNames(const Var& list) {
  std::vector<std::string> names = ItemNames(list);
  std::erase(names, "kube-root-ca.crt");
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> SortedWords(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream s(text);
  for (std::string w; s >> w;) {
    if (w != "kube-root-ca.crt") words.push_back(w);
  }
  std::sort(words.begin(), words.end());
  return words;
}

// The keys of the object at pointer, sorted.
std::vector<std::string> Keys(const Var& root, std::string_view pointer) {
  std::vector<std::string> keys;
  Var v = At(root, pointer);
  if (v.type() != typeid(Poco::JSON::Object::Ptr)) return keys;
  auto obj = v.extract<Poco::JSON::Object::Ptr>();
  obj->getNames(keys);
  std::sort(keys.begin(), keys.end());
  return keys;
}

constexpr const char* kConfigMaps = R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: web
  namespace: demo
  labels: {tier: web, env: prod}
data: {color: blue}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: db
  namespace: demo
  labels: {tier: db, env: prod}
data: {color: green}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cache
  namespace: demo
  labels: {tier: cache, env: stage, canary: "true"}
data: {color: red}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: plain
  namespace: demo
data: {color: white}
)";

class KubectlTest : public SandboxTest {
 protected:
  void SetUp() override {
    SandboxTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(Succeeded(Kubectl({"create", "namespace", "demo"})));
  }

  void CreateConfigMaps() {
    ASSERT_TRUE(Succeeded(Kubectl({"create", "-f", Write("cms.yaml", kConfigMaps)})));
  }

  std::vector<std::string> Select(const std::string& selector) {
    return SortedNames(Get({"get", "configmaps", "-n", "demo", "-l", selector}));
  }

  // Applies the Istio VirtualService CRD and waits until it is established.
  void InstallVirtualServiceCrd() {
    ASSERT_TRUE(
        Succeeded(Kubectl({"apply", "-f", SourcePath("examples/istio/crds/virtualservice.yaml")})));
    ASSERT_TRUE(Succeeded(Kubectl({"wait", "--for=condition=Established", "--timeout=20s",
                                   "crd/virtualservices.networking.istio.io"})));
  }

  Var GetVs(const std::string& name = "demoapp") {
    return Get({"get", "virtualservice", name, "-n", "prod"});
  }
};

using Strings = std::vector<std::string>;

TEST_P(KubectlTest, GetByNameListSelectorsAndOutputs) {
  CreateConfigMaps();

  Var web = Get({"get", "configmap", "web", "-n", "demo"});
  EXPECT_EQ(Str(web, "/apiVersion"), "v1");
  EXPECT_EQ(Str(web, "/kind"), "ConfigMap");
  EXPECT_EQ(Str(web, "/metadata/name"), "web");
  EXPECT_EQ(Str(web, "/metadata/namespace"), "demo");
  EXPECT_EQ(Str(web, "/data/color"), "blue");
  EXPECT_EQ(Str(web, "/metadata/labels/tier"), "web");
  EXPECT_FALSE(Str(web, "/metadata/uid").value_or("").empty());
  EXPECT_FALSE(Str(web, "/metadata/resourceVersion").value_or("").empty());
  EXPECT_TRUE(std::regex_match(Str(web, "/metadata/creationTimestamp").value_or(""),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << ToJson(web);

  Var list = Get({"get", "configmaps", "-n", "demo"});
  EXPECT_EQ(SortedNames(list), (Strings{"cache", "db", "plain", "web"}));
  // Distinct objects, distinct uids.
  EXPECT_NE(Str(Item(list, "web"), "/metadata/uid"), Str(Item(list, "db"), "/metadata/uid"));

  EXPECT_EQ(Select("tier=web"), (Strings{"web"}));
  EXPECT_EQ(Select("tier==db"), (Strings{"db"}));
  // != and notin also match objects without the key, as on a cluster.
  EXPECT_EQ(Select("tier!=web"), (Strings{"cache", "db", "plain"}));
  EXPECT_EQ(Select("tier in (web,db)"), (Strings{"db", "web"}));
  EXPECT_EQ(Select("tier notin (web,db)"), (Strings{"cache", "plain"}));
  EXPECT_EQ(Select("canary"), (Strings{"cache"}));
  EXPECT_EQ(Select("!canary"), (Strings{"db", "plain", "web"}));
  EXPECT_EQ(Select("env=prod,tier!=db"), (Strings{"web"}));
  EXPECT_EQ(Select("env in (prod),tier notin (web)"), (Strings{"db"}));
  EXPECT_EQ(Select("env=nowhere"), (Strings{}));

  CommandResult color =
      Kubectl({"get", "configmap", "web", "-n", "demo", "-o", "jsonpath={.data.color}"});
  ASSERT_TRUE(Succeeded(color));
  EXPECT_EQ(color.out, "blue");
  CommandResult names = Kubectl({"get", "configmaps", "-n", "demo", "-l", "env=prod", "-o",
                                 "jsonpath={.items[*].metadata.name}"});
  ASSERT_TRUE(Succeeded(names));
  EXPECT_EQ(SortedWords(names.out), (Strings{"db", "web"}));

  // Across namespaces: a ConfigMap elsewhere shows up with -A and not with -n demo.
  ASSERT_TRUE(Succeeded(Kubectl({"create", "namespace", "other"})));
  ASSERT_TRUE(Succeeded(
      Kubectl({"create", "configmap", "elsewhere", "-n", "other", "--from-literal=tier=web"})));
  Var all = Get({"get", "configmaps", "-A", "-l", "tier"});
  EXPECT_EQ(SortedNames(all), (Strings{"cache", "db", "web"}));
  EXPECT_EQ(Select("tier"), (Strings{"cache", "db", "web"}));
  Var everywhere = Get({"get", "configmaps", "-A"});
  EXPECT_EQ(Str(Item(everywhere, "elsewhere"), "/metadata/namespace"), "other");

  EXPECT_TRUE(FailedWith(Kubectl({"get", "configmap", "nope", "-n", "demo"}), "NotFound"));
  EXPECT_TRUE(FailedWith(Kubectl({"get", "configmap", "nope", "-n", "demo"}),
                         "configmaps \"nope\" not found"));
}

TEST_P(KubectlTest, CreateFromFile) {
  const std::string manifest = Write("app.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
)");
  CommandResult created = Kubectl({"create", "-f", manifest});
  ASSERT_TRUE(Succeeded(created));
  EXPECT_NE(created.out.find("deployment.apps/web created"), std::string::npos) << created.out;
  EXPECT_NE(created.out.find("service/web created"), std::string::npos) << created.out;

  Var deploy = Get({"get", "deployment", "web", "-n", "demo"});
  EXPECT_EQ(Int(deploy, "/spec/replicas"), 2);
  EXPECT_EQ(Int(deploy, "/metadata/generation"), 1);
  EXPECT_EQ(Str(deploy, "/spec/template/spec/containers/0/image"), "nginx:1.27");

  Var svc = Get({"get", "service", "web", "-n", "demo"});
  const std::string ip = Str(svc, "/spec/clusterIP").value_or("");
  EXPECT_TRUE(std::regex_match(ip, std::regex(R"(\d+\.\d+\.\d+\.\d+)"))) << ToJson(svc);
  EXPECT_EQ(Int(svc, "/spec/ports/0/port"), 80);
  EXPECT_EQ(Str(svc, "/spec/ports/0/targetPort"), "http");

  // The Deployment becomes ready through a ReplicaSet and Pods.
  EXPECT_TRUE(WaitFor(
      [&] {
        return Int(Get({"get", "deployment", "web", "-n", "demo"}), "/status/readyReplicas") == 2;
      },
      20s));
  Var pods = Get({"get", "pods", "-n", "demo", "-l", "app=web"});
  EXPECT_EQ(Len(pods, "/items"), 2u) << ToJson(pods);

  CommandResult again = Kubectl({"create", "-f", manifest});
  EXPECT_TRUE(FailedWith(again, "AlreadyExists"));
  EXPECT_TRUE(FailedWith(again, "\"web\" already exists"));
  // The failed create left the objects as they were.
  EXPECT_EQ(Str(Get({"get", "service", "web", "-n", "demo"}), "/metadata/uid"),
            Str(svc, "/metadata/uid"));
}

TEST_P(KubectlTest, ApplyClientSideTwiceWithAChange) {
  const std::string v1 = Write("v1.yaml", R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: demo
  labels: {app: demo}
data: {a: "1", b: "2"}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: demo
spec:
  replicas: 1
  selector:
    matchLabels: {app: demo}
  template:
    metadata:
      labels: {app: demo}
    spec:
      containers:
        - name: app
          image: demo:1
          env: [{name: MODE, value: one}, {name: KEEP, value: "yes"}]
)");
  CommandResult first = Kubectl({"apply", "-f", v1});
  ASSERT_TRUE(Succeeded(first));
  EXPECT_NE(first.out.find("configmap/settings created"), std::string::npos) << first.out;

  Var cm1 = Get({"get", "configmap", "settings", "-n", "demo"});
  const std::string last_applied =
      Str(cm1, "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration")
          .value_or("");
  EXPECT_EQ(Str(ParseJson(last_applied), "/data/b"), "2") << ToJson(cm1);
  const std::string rv1 = Str(cm1, "/metadata/resourceVersion").value_or("");

  CommandResult same = Kubectl({"apply", "-f", v1});
  ASSERT_TRUE(Succeeded(same));
  EXPECT_NE(same.out.find("configmap/settings unchanged"), std::string::npos) << same.out;
  EXPECT_EQ(Str(Get({"get", "configmap", "settings", "-n", "demo"}), "/metadata/resourceVersion"),
            rv1);

  // b removed, a changed, c added; the Deployment scaled and one env var changed.
  const std::string v2 = Write("v2.yaml", R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: demo
  labels: {app: demo}
data: {a: "10", c: "3"}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: demo
spec:
  replicas: 3
  selector:
    matchLabels: {app: demo}
  template:
    metadata:
      labels: {app: demo}
    spec:
      containers:
        - name: app
          image: demo:1
          env: [{name: MODE, value: two}, {name: KEEP, value: "yes"}]
)");
  CommandResult second = Kubectl({"apply", "-f", v2});
  ASSERT_TRUE(Succeeded(second));
  EXPECT_NE(second.out.find("configmap/settings configured"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("deployment.apps/app configured"), std::string::npos) << second.out;

  Var cm2 = Get({"get", "configmap", "settings", "-n", "demo"});
  EXPECT_EQ(Keys(cm2, "/data"), (Strings{"a", "c"})) << ToJson(cm2);
  EXPECT_EQ(Str(cm2, "/data/a"), "10");
  EXPECT_EQ(Str(cm2, "/metadata/uid"), Str(cm1, "/metadata/uid"));
  EXPECT_GT(ToInt(Str(cm2, "/metadata/resourceVersion").value_or("")), ToInt(rv1));

  Var app = Get({"get", "deployment", "app", "-n", "demo"});
  EXPECT_EQ(Int(app, "/spec/replicas"), 3);
  EXPECT_EQ(Int(app, "/metadata/generation"), 2);
  // The strategic merge kept both env entries, in order, with MODE changed.
  EXPECT_EQ(Len(app, "/spec/template/spec/containers/0/env"), 2u) << ToJson(app);
  EXPECT_EQ(Str(app, "/spec/template/spec/containers/0/env/0/name"), "MODE");
  EXPECT_EQ(Str(app, "/spec/template/spec/containers/0/env/0/value"), "two");
  EXPECT_EQ(Str(app, "/spec/template/spec/containers/0/env/1/value"), "yes");
}

TEST_P(KubectlTest, ApplyServerSideWithFieldManagers) {
  const std::string v1 = Write("ssa.yaml", R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: ssa
  namespace: demo
data: {a: "1", b: "2"}
)");
  CommandResult first = Kubectl({"apply", "--server-side", "-f", v1});
  ASSERT_TRUE(Succeeded(first));
  EXPECT_NE(first.out.find("serverside-applied"), std::string::npos) << first.out;
  Var cm = Get({"get", "configmap", "ssa", "-n", "demo", "--show-managed-fields"});
  EXPECT_EQ(Str(cm, "/data/a"), "1");
  EXPECT_EQ(Str(cm, "/metadata/managedFields/0/manager"), "kubectl") << ToJson(cm);
  EXPECT_EQ(Str(cm, "/metadata/managedFields/0/operation"), "Apply");

  // Another manager changing a field kubectl owns conflicts, and nothing changes.
  const std::string other = Write("other.yaml", R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: ssa
  namespace: demo
data: {a: "99"}
)");
  CommandResult conflict =
      Kubectl({"apply", "--server-side", "--field-manager=other", "-f", other});
  EXPECT_TRUE(FailedWith(conflict, "conflict"));
  EXPECT_EQ(Str(Get({"get", "configmap", "ssa", "-n", "demo"}), "/data/a"), "1");

  CommandResult forced = Kubectl(
      {"apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", other});
  ASSERT_TRUE(Succeeded(forced));
  Var after = Get({"get", "configmap", "ssa", "-n", "demo", "--show-managed-fields"});
  EXPECT_EQ(Str(after, "/data/a"), "99");
  EXPECT_EQ(Str(after, "/data/b"), "2");
  Strings managers;
  for (size_t i = 0; i < Len(after, "/metadata/managedFields").value_or(0); ++i) {
    managers.push_back(
        Str(after, "/metadata/managedFields/" + std::to_string(i) + "/manager").value_or(""));
  }
  std::sort(managers.begin(), managers.end());
  EXPECT_EQ(managers, (Strings{"kubectl", "other"})) << ToJson(after);

  // kubectl applies again without b: the field it alone owned goes away.
  const std::string v2 = Write("ssa2.yaml", R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: ssa
  namespace: demo
data: {c: "3"}
)");
  ASSERT_TRUE(Succeeded(Kubectl({"apply", "--server-side", "-f", v2})));
  Var last = Get({"get", "configmap", "ssa", "-n", "demo"});
  EXPECT_EQ(Keys(last, "/data"), (Strings{"a", "c"})) << ToJson(last);
  EXPECT_EQ(Str(last, "/data/a"), "99");
}

TEST_P(KubectlTest, PatchMerge) {
  CreateConfigMaps();
  Var before = Get({"get", "configmap", "web", "-n", "demo"});
  ASSERT_TRUE(Succeeded(Kubectl({"patch", "configmap", "web", "-n", "demo", "--type", "merge", "-p",
                                 R"({"data":{"color":"navy","size":"L"}})"})));
  Var after = Get({"get", "configmap", "web", "-n", "demo"});
  EXPECT_EQ(Str(after, "/data/color"), "navy");
  EXPECT_EQ(Str(after, "/data/size"), "L");
  EXPECT_GT(ToInt(Str(after, "/metadata/resourceVersion").value_or("")),
            ToInt(Str(before, "/metadata/resourceVersion").value_or("")));

  // null removes a key.
  ASSERT_TRUE(Succeeded(Kubectl({"patch", "configmap", "web", "-n", "demo", "--type", "merge", "-p",
                                 R"({"data":{"size":null},"metadata":{"labels":{"x":"y"}}})"})));
  Var removed = Get({"get", "configmap", "web", "-n", "demo"});
  EXPECT_EQ(Keys(removed, "/data"), (Strings{"color"}));
  EXPECT_EQ(Str(removed, "/metadata/labels/x"), "y");
  EXPECT_EQ(Str(removed, "/metadata/labels/tier"), "web");

  // A merge patch carrying a stale resourceVersion is refused with a conflict.
  CommandResult stale = Kubectl({"patch", "configmap", "web", "-n", "demo", "--type", "merge", "-p",
                                 R"({"metadata":{"resourceVersion":")" +
                                     Str(before, "/metadata/resourceVersion").value_or("") +
                                     R"("},"data":{"color":"x"}})"});
  EXPECT_TRUE(FailedWith(stale, "Conflict"));
  EXPECT_EQ(Str(Get({"get", "configmap", "web", "-n", "demo"}), "/data/color"), "navy");

  EXPECT_TRUE(FailedWith(Kubectl({"patch", "configmap", "nope", "-n", "demo", "--type", "merge",
                                  "-p", R"({"data":{"a":"b"}})"}),
                         "NotFound"));
}

TEST_P(KubectlTest, PatchJsonIncludingAFailingTest) {
  CreateConfigMaps();
  ASSERT_TRUE(Succeeded(Kubectl({"patch", "configmap", "db", "-n", "demo", "--type", "json", "-p",
                                 R"([{"op":"test","path":"/data/color","value":"green"},
           {"op":"replace","path":"/data/color","value":"teal"},
           {"op":"add","path":"/data/owner","value":"team-a"},
           {"op":"add","path":"/metadata/labels/app.kubernetes.io~1name","value":"db"},
           {"op":"remove","path":"/metadata/labels/env"}])"})));
  Var patched = Get({"get", "configmap", "db", "-n", "demo"});
  EXPECT_EQ(Str(patched, "/data/color"), "teal");
  EXPECT_EQ(Str(patched, "/data/owner"), "team-a");
  EXPECT_EQ(Str(patched, "/metadata/labels/app.kubernetes.io~1name"), "db");
  EXPECT_FALSE(Str(patched, "/metadata/labels/env").has_value()) << ToJson(patched);

  // A failing test op refuses the whole patch: non-zero exit, the object unchanged.
  CommandResult failing = Kubectl({"patch", "configmap", "db", "-n", "demo", "--type", "json", "-p",
                                   R"([{"op":"replace","path":"/data/owner","value":"team-b"},
           {"op":"test","path":"/data/color","value":"green"}])"});
  EXPECT_FALSE(failing.ok()) << failing.Describe();
  EXPECT_FALSE(failing.err.empty());
  Var unchanged = Get({"get", "configmap", "db", "-n", "demo"});
  EXPECT_EQ(Str(unchanged, "/data/owner"), "team-a");
  EXPECT_EQ(Str(unchanged, "/metadata/resourceVersion"), Str(patched, "/metadata/resourceVersion"));

  // So does a path that does not exist.
  CommandResult missing = Kubectl({"patch", "configmap", "db", "-n", "demo", "--type", "json", "-p",
                                   R"([{"op":"remove","path":"/data/nothing"}])"});
  EXPECT_FALSE(missing.ok()) << missing.Describe();
  EXPECT_EQ(Str(Get({"get", "configmap", "db", "-n", "demo"}), "/metadata/resourceVersion"),
            Str(patched, "/metadata/resourceVersion"));
}

TEST_P(KubectlTest, ReplaceWithAStaleResourceVersionConflicts) {
  CreateConfigMaps();
  Var web = Get({"get", "configmap", "web", "-n", "demo"});
  const std::string stale = Write("stale.json", ToJson(web));
  ASSERT_TRUE(Succeeded(Kubectl({"patch", "configmap", "web", "-n", "demo", "--type", "merge", "-p",
                                 R"({"data":{"color":"black"}})"})));
  EXPECT_TRUE(FailedWith(Kubectl({"replace", "-f", stale}), "the object has been modified"));
  EXPECT_EQ(Str(Get({"get", "configmap", "web", "-n", "demo"}), "/data/color"), "black");
}

TEST_P(KubectlTest, Delete) {
  CreateConfigMaps();
  CommandResult deleted = Kubectl({"delete", "configmap", "web", "-n", "demo"});
  ASSERT_TRUE(Succeeded(deleted));
  EXPECT_NE(deleted.out.find("configmap \"web\" deleted"), std::string::npos) << deleted.out;
  EXPECT_TRUE(FailedWith(Kubectl({"get", "configmap", "web", "-n", "demo"}), "NotFound"));
  EXPECT_EQ(SortedNames(Get({"get", "configmaps", "-n", "demo"})),
            (Strings{"cache", "db", "plain"}));

  ASSERT_TRUE(Succeeded(Kubectl({"delete", "configmaps", "-n", "demo", "-l", "env=prod"})));
  EXPECT_EQ(SortedNames(Get({"get", "configmaps", "-n", "demo"})), (Strings{"cache", "plain"}));

  EXPECT_TRUE(FailedWith(Kubectl({"delete", "configmap", "web", "-n", "demo"}), "NotFound"));

  // Deleting a namespace deletes what it holds; kubectl waits until it is gone.
  ASSERT_TRUE(Succeeded(Kubectl({"delete", "namespace", "demo", "--timeout=30s"})));
  EXPECT_TRUE(FailedWith(Kubectl({"get", "namespace", "demo"}), "NotFound"));
  Var left = Get({"get", "configmaps", "-n", "demo"});
  EXPECT_EQ(SortedNames(left), Strings{}) << ToJson(left);
}

TEST_P(KubectlTest, Label) {
  CreateConfigMaps();
  ASSERT_TRUE(Succeeded(Kubectl({"label", "configmap", "plain", "-n", "demo", "team=ops"})));
  EXPECT_EQ(Str(Get({"get", "configmap", "plain", "-n", "demo"}), "/metadata/labels/team"), "ops");
  EXPECT_EQ(Select("team=ops"), (Strings{"plain"}));

  EXPECT_TRUE(FailedWith(Kubectl({"label", "configmap", "plain", "-n", "demo", "team=dev"}),
                         "already has a value"));
  ASSERT_TRUE(
      Succeeded(Kubectl({"label", "configmap", "plain", "-n", "demo", "team=dev", "--overwrite"})));
  EXPECT_EQ(Str(Get({"get", "configmap", "plain", "-n", "demo"}), "/metadata/labels/team"), "dev");

  ASSERT_TRUE(Succeeded(Kubectl({"label", "configmap", "plain", "-n", "demo", "team-"})));
  Var unlabelled = Get({"get", "configmap", "plain", "-n", "demo"});
  EXPECT_FALSE(Str(unlabelled, "/metadata/labels/team").has_value()) << ToJson(unlabelled);

  // By selector: every prod ConfigMap, and only those.
  ASSERT_TRUE(
      Succeeded(Kubectl({"label", "configmaps", "-n", "demo", "-l", "env=prod", "audited=yes"})));
  EXPECT_EQ(Select("audited=yes"), (Strings{"db", "web"}));
}

TEST_P(KubectlTest, CreateNamespace) {
  CommandResult created = Kubectl({"create", "namespace", "prod"});
  ASSERT_TRUE(Succeeded(created));
  EXPECT_NE(created.out.find("namespace/prod created"), std::string::npos) << created.out;
  Var ns = Get({"get", "namespace", "prod"});
  EXPECT_EQ(Str(ns, "/kind"), "Namespace");
  EXPECT_EQ(Str(ns, "/status/phase"), "Active");
  EXPECT_EQ(Str(ns, "/metadata/labels/kubernetes.io~1metadata.name"), "prod");
  EXPECT_FALSE(Str(ns, "/metadata/namespace").has_value());

  Var all = Get({"get", "namespaces"});
  Strings names = SortedNames(all);
  EXPECT_TRUE(std::find(names.begin(), names.end(), "prod") != names.end()) << ToJson(all);
  EXPECT_TRUE(std::find(names.begin(), names.end(), "default") != names.end()) << ToJson(all);

  EXPECT_TRUE(FailedWith(Kubectl({"create", "namespace", "prod"}), "AlreadyExists"));
  // Objects need their namespace; "default" exists from the start.
  EXPECT_TRUE(
      FailedWith(Kubectl({"create", "configmap", "x", "-n", "missing", "--from-literal=a=b"}),
                 "namespaces \"missing\" not found"));
  ASSERT_TRUE(Succeeded(Kubectl({"create", "configmap", "in-default", "--from-literal=a=b"})));
  EXPECT_EQ(Str(Get({"get", "configmap", "in-default", "-n", "default"}), "/data/a"), "b");
}

TEST_P(KubectlTest, VirtualServiceCreateApplyAndPatch) {
  InstallVirtualServiceCrd();
  Var crd = Get({"get", "crd", "virtualservices.networking.istio.io"});
  EXPECT_EQ(Str(crd, "/spec/names/kind"), "VirtualService");

  ASSERT_TRUE(Succeeded(Kubectl({"create", "namespace", "prod"})));
  ASSERT_TRUE(
      Succeeded(Kubectl({"create", "-f", SourcePath("examples/istio/virtualservice.yaml")})));
  Var vs = GetVs();
  EXPECT_EQ(Str(vs, "/apiVersion"), "networking.istio.io/v1");
  EXPECT_EQ(Str(vs, "/kind"), "VirtualService");
  EXPECT_EQ(Str(vs, "/spec/gateways/0"), "app-gateway");
  EXPECT_EQ(Str(vs, "/spec/hosts/0"), "*");
  EXPECT_EQ(Str(vs, "/spec/http/0/route/0/destination/host"), "flaskapp.prod.svc.cluster.local");
  EXPECT_EQ(Int(vs, "/spec/http/0/route/0/weight"), 100);
  EXPECT_EQ(Str(vs, "/spec/http/0/route/1/destination/host"), "flaskapp.stage.svc.cluster.local");
  EXPECT_EQ(Int(vs, "/spec/http/0/route/1/weight"), 0);
  EXPECT_EQ(Int(vs, "/metadata/generation"), 1);

  // The CRD's short name, and the other served versions, reach the same object.
  Var by_short = Get({"get", "vs", "-n", "prod"});
  EXPECT_EQ(ItemNames(by_short), (Strings{"demoapp"}));
  Var v1beta1 =
      Get({"get", "virtualservices.v1beta1.networking.istio.io", "demoapp", "-n", "prod"});
  EXPECT_EQ(Str(v1beta1, "/apiVersion"), "networking.istio.io/v1beta1");
  EXPECT_EQ(Int(v1beta1, "/spec/http/0/route/0/weight"), 100);

  // Merge patch: the whole http list is replaced.
  ASSERT_TRUE(Succeeded(
      Kubectl({"patch", "virtualservice", "demoapp", "-n", "prod", "--type", "merge", "-p",
               R"({"spec":{"http":[{"route":[
           {"destination":{"host":"flaskapp.prod.svc.cluster.local"},"weight":70},
           {"destination":{"host":"flaskapp.stage.svc.cluster.local"},"weight":30}]}]}})"})));
  Var split = GetVs();
  EXPECT_EQ(Int(split, "/spec/http/0/route/0/weight"), 70);
  EXPECT_EQ(Int(split, "/spec/http/0/route/1/weight"), 30);
  EXPECT_EQ(Len(split, "/spec/http"), 1u);
  EXPECT_EQ(Int(split, "/metadata/generation"), 2);

  // JSON patch of both weights.
  ASSERT_TRUE(
      Succeeded(Kubectl({"patch", "vs", "demoapp", "-n", "prod", "--type", "json", "-p",
                         R"([{"op":"replace","path":"/spec/http/0/route/0/weight","value":40},
            {"op":"replace","path":"/spec/http/0/route/1/weight","value":60}])"})));
  Var forty = GetVs();
  EXPECT_EQ(Int(forty, "/spec/http/0/route/0/weight"), 40);
  EXPECT_EQ(Int(forty, "/spec/http/0/route/1/weight"), 60);
  EXPECT_EQ(Int(forty, "/metadata/generation"), 3);

  // A failing test op leaves it alone.
  EXPECT_FALSE(Kubectl({"patch", "vs", "demoapp", "-n", "prod", "--type", "json", "-p",
                        R"([{"op":"test","path":"/spec/http/0/route/0/weight","value":99},
            {"op":"replace","path":"/spec/http/0/route/0/weight","value":0}])"})
                   .ok());
  EXPECT_EQ(Int(GetVs(), "/spec/http/0/route/0/weight"), 40);

  // Client-side apply of the example twice: back to 100/0, then unchanged.
  CommandResult applied =
      Kubectl({"apply", "-f", SourcePath("examples/istio/virtualservice.yaml")});
  ASSERT_TRUE(Succeeded(applied));
  Var reset = GetVs();
  EXPECT_EQ(Int(reset, "/spec/http/0/route/0/weight"), 100);
  EXPECT_EQ(Int(reset, "/spec/http/0/route/1/weight"), 0);
  CommandResult reapplied =
      Kubectl({"apply", "-f", SourcePath("examples/istio/virtualservice.yaml")});
  ASSERT_TRUE(Succeeded(reapplied));
  EXPECT_NE(reapplied.out.find("unchanged"), std::string::npos) << reapplied.out;
}

TEST_P(KubectlTest, VirtualServiceStrategicPatchIsUnsupported) {
  InstallVirtualServiceCrd();
  ASSERT_TRUE(Succeeded(Kubectl({"create", "namespace", "prod"})));
  ASSERT_TRUE(
      Succeeded(Kubectl({"create", "-f", SourcePath("examples/istio/virtualservice.yaml")})));
  Var before = GetVs();
  // -v=6 logs each response's status line. kubectl recognises the UnsupportedMediaType Status
  // and says so in its own words, followed by the server's message.
  CommandResult strategic = Kubectl({"patch", "vs", "demoapp", "-n", "prod", "--type", "strategic",
                                     "-p", R"({"spec":{"hosts":["example.com"]}})", "-v=6"});
  EXPECT_TRUE(FailedWith(strategic, "415 Unsupported Media Type"));
  EXPECT_TRUE(FailedWith(strategic, "application/strategic-merge-patch+json is not supported by"));
  EXPECT_TRUE(FailedWith(strategic, "the body of the request was in an unknown format"));
  Var after = GetVs();
  EXPECT_EQ(Str(after, "/spec/hosts/0"), "*");
  EXPECT_EQ(Str(after, "/metadata/resourceVersion"), Str(before, "/metadata/resourceVersion"));
}

TEST_P(KubectlTest, InvalidVirtualServiceIsRefusedWithTheFieldPath) {
  InstallVirtualServiceCrd();
  ASSERT_TRUE(Succeeded(Kubectl({"create", "namespace", "prod"})));
  const std::string bad = Write("bad-vs.yaml", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: bad
  namespace: prod
spec:
  hosts: ["*"]
  http:
    - route:
        - destination: {host: flaskapp.prod.svc.cluster.local}
          weight: abc
)");
  CommandResult created = Kubectl({"create", "-f", bad, "-v=6"});
  EXPECT_TRUE(FailedWith(created, "422 Unprocessable Entity"));
  EXPECT_TRUE(FailedWith(created, "spec.http[0].route[0].weight"));
  EXPECT_TRUE(FailedWith(created, "is invalid"));
  EXPECT_TRUE(FailedWith(Kubectl({"get", "vs", "bad", "-n", "prod"}), "NotFound"));

  // Same check on a patch: the stored object stays valid.
  ASSERT_TRUE(
      Succeeded(Kubectl({"create", "-f", SourcePath("examples/istio/virtualservice.yaml")})));
  CommandResult patched =
      Kubectl({"patch", "vs", "demoapp", "-n", "prod", "--type", "json", "-p",
               R"([{"op":"replace","path":"/spec/http/0/route/1/weight","value":"abc"}])"});
  EXPECT_TRUE(FailedWith(patched, "spec.http[0].route[1].weight"));
  EXPECT_EQ(Int(GetVs(), "/spec/http/0/route/1/weight"), 0);
}

INSTANTIATE_TEST_SUITE_P(Tools, KubectlTest, testing::ValuesIn(ToolSets()), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration

#include "sandbox/controllers.h"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <Poco/DateTimeFormatter.h>
#include <Poco/DigestEngine.h>
#include <Poco/Exception.h>
#include <Poco/SHA2Engine.h>
#include <Poco/Timestamp.h>

#include "sandbox/selector.h"

namespace sandbox {
namespace {

using Clock = std::chrono::steady_clock;
using json::Array;
using json::ArrayPtr;
using json::Object;
using json::ObjectPtr;
using json::Var;

const ResourceRef kPods{"", "pods"};
const ResourceRef kServices{"", "services"};
const ResourceRef kEndpoints{"", "endpoints"};
const ResourceRef kNamespaces{"", "namespaces"};
const ResourceRef kPvcs{"", "persistentvolumeclaims"};
const ResourceRef kDeployments{"apps", "deployments"};
const ResourceRef kReplicaSets{"apps", "replicasets"};
const ResourceRef kStatefulSets{"apps", "statefulsets"};
const ResourceRef kDaemonSets{"apps", "daemonsets"};
const ResourceRef kJobs{"batch", "jobs"};
const ResourceRef kSlices{"discovery.k8s.io", "endpointslices"};
const ResourceRef kHpas{"autoscaling", "horizontalpodautoscalers"};
const ResourceRef kPdbs{"policy", "poddisruptionbudgets"};
const ResourceRef kIngresses{"networking.k8s.io", "ingresses"};

constexpr char kNodeName[] = "sandbox-node";
constexpr char kHostIP[] = "127.0.0.1";
constexpr char kHashLabel[] = "pod-template-hash";
constexpr char kRevisionHashLabel[] = "controller-revision-hash";
constexpr char kRevision[] = "deployment.kubernetes.io/revision";
constexpr char kServiceNameLabel[] = "kubernetes.io/service-name";
constexpr char kSliceManagedBy[] = "endpointslice.kubernetes.io/managed-by";
constexpr char kSliceController[] = "endpointslice-controller.k8s.io";
constexpr char kEndpointsManagedBy[] = "endpoints.kubernetes.io/managed-by";
constexpr char kEndpointsController[] = "endpoint-controller";
// The alphabet Kubernetes uses for generated names (no vowels, no confusable characters).
constexpr char kAlphanums[] = "bcdfghjklmnpqrstvwxz2456789";
constexpr int kMaxPasses = 8;
constexpr auto kFullGcInterval = std::chrono::seconds(2);

// ---- small accessors ----

std::string Str(ObjectPtr o, std::string_view path) {
  return json::GetString(o, path).value_or("");
}
int64_t Int(ObjectPtr o, std::string_view path, int64_t def) {
  return json::GetInt(o, path).value_or(def);
}
std::string Name(ObjectPtr o) { return Str(o, "metadata.name"); }
std::string Ns(ObjectPtr o) { return Str(o, "metadata.namespace"); }
std::string Uid(ObjectPtr o) { return Str(o, "metadata.uid"); }
bool Terminating(ObjectPtr o) {
  return json::GetString(o, "metadata.deletionTimestamp").has_value();
}

ObjectPtr Obj() { return new Object; }
ArrayPtr Arr() { return new Array; }

std::string ControllerUid(ObjectPtr o) {
  ArrayPtr refs = json::GetArray(o, "metadata.ownerReferences");
  for (size_t i = 0; refs && i < refs->size(); ++i) {
    ObjectPtr r = json::AsObject(refs->get(i));
    if (json::GetBool(r, "controller").value_or(false)) return Str(r, "uid");
  }
  return "";
}

ObjectPtr OwnerRef(const std::string& api_version, const std::string& kind, ObjectPtr owner) {
  ObjectPtr ref = Obj();
  ref->set("apiVersion", api_version);
  ref->set("kind", kind);
  ref->set("name", Name(owner));
  ref->set("uid", Uid(owner));
  ref->set("controller", true);
  ref->set("blockOwnerDeletion", true);
  return ref;
}

std::string Label(ObjectPtr o, const std::string& key) {
  ObjectPtr labels = json::GetObject(o, "metadata.labels");
  if (!labels || !labels->has(key)) return "";
  Var v = labels->get(key);
  return json::IsString(v) ? v.extract<std::string>() : "";
}

std::string Annotation(ObjectPtr o, const std::string& key) {
  ObjectPtr a = json::GetObject(o, "metadata.annotations");
  if (!a || !a->has(key)) return "";
  Var v = a->get(key);
  return json::IsString(v) ? v.extract<std::string>() : "";
}

// Sets a string field; true when it changed.
bool SetString(ObjectPtr o, const std::string& key, const std::string& value) {
  if (o->has(key) && json::IsString(o->get(key)) && o->get(key).extract<std::string>() == value) {
    return false;
  }
  o->set(key, value);
  return true;
}

bool Replace(ObjectPtr o, const std::string& key, const Var& value) {
  if (o->has(key) && json::Equal(o->get(key), value)) return false;
  o->set(key, value);
  return true;
}

bool HasConditionTrue(ObjectPtr o, const std::string& type) {
  ArrayPtr conds = json::GetArray(o, "status.conditions");
  for (size_t i = 0; conds && i < conds->size(); ++i) {
    ObjectPtr c = json::AsObject(conds->get(i));
    if (Str(c, "type") == type && Str(c, "status") == "True") return true;
  }
  return false;
}

std::string Phase(ObjectPtr pod) { return Str(pod, "status.phase"); }
bool PodReady(ObjectPtr pod) { return Phase(pod) == "Running" && HasConditionTrue(pod, "Ready"); }
// Counted by its controller: not being deleted and not finished.
bool PodActive(ObjectPtr pod) {
  std::string phase = Phase(pod);
  return !Terminating(pod) && phase != "Succeeded" && phase != "Failed";
}

std::string RandomSuffix(std::mt19937& rng, int n = 5) {
  std::uniform_int_distribution<size_t> dist(0, sizeof(kAlphanums) - 2);
  std::string out;
  for (int i = 0; i < n; ++i) out += kAlphanums[dist(rng)];
  return out;
}

std::string RandomHex(std::mt19937& rng, int n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::uniform_int_distribution<int> dist(0, 15);
  std::string out;
  for (int i = 0; i < n; ++i) out += kHex[dist(rng)];
  return out;
}

// FNV-1a 32 of the canonical JSON (Poco objects keep keys sorted), encoded like
// k8s.io/apimachinery rand.SafeEncodeString.
std::string HashOf(ObjectPtr o) {
  std::string text = json::Stringify(json::DeepCopy(o));
  uint32_t h = 2166136261u;
  for (unsigned char c : text) {
    h ^= c;
    h *= 16777619u;
  }
  std::string digits = std::to_string(h);
  std::string out;
  for (char c : digits) out += kAlphanums[static_cast<unsigned char>(c) % (sizeof(kAlphanums) - 1)];
  return out;
}

ObjectPtr WithoutHashLabel(ObjectPtr tmpl) {
  ObjectPtr copy = json::DeepCopy(tmpl);
  if (!copy) return copy;
  if (ObjectPtr labels = json::GetObject(copy, "metadata.labels")) labels->remove(kHashLabel);
  return copy;
}

std::string TemplateHash(ObjectPtr tmpl) { return HashOf(WithoutHashLabel(tmpl)); }

// As deploymentutil.EqualIgnoreHash: templates equal apart from the pod-template-hash label.
bool EqualIgnoreHash(ObjectPtr a, ObjectPtr b) {
  return json::Equal(WithoutHashLabel(a), WithoutHashLabel(b));
}

std::string Sha256Hex(const std::string& text) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(text);
  return Poco::DigestEngine::digestToHex(engine.digest());
}

// An int-or-percent (maxUnavailable, maxSurge, minAvailable) scaled against total.
int64_t Scaled(const Var& v, int64_t total, bool round_up, int64_t def) {
  if (json::IsInteger(v)) return v.convert<int64_t>();
  if (!json::IsString(v)) return def;
  std::string s = v.extract<std::string>();
  if (s.empty() || s.back() != '%') {
    try {
      return std::stoll(s);
    } catch (...) {
      return def;
    }
  }
  int64_t pct = 0;
  try {
    pct = std::stoll(s.substr(0, s.size() - 1));
  } catch (...) {
    return def;
  }
  return round_up ? (pct * total + 99) / 100 : (pct * total) / 100;
}

Var FieldOr(ObjectPtr o, std::string_view parent, const std::string& key) {
  ObjectPtr p = json::GetObject(o, parent);
  return p && p->has(key) ? p->get(key) : Var();
}

struct Cond {
  std::string type;
  std::string status;
  std::string reason;
  std::string message;
};

// Conditions as controllers maintain them: lastTransitionTime moves only when the status
// flips, lastUpdateTime (Deployments) when reason or message change, so a steady state
// produces an identical array and no write.
ArrayPtr MergeConditions(const ArrayPtr& old, const std::vector<Cond>& desired,
                         const std::string& now, bool update_time) {
  ArrayPtr out = Arr();
  for (auto d : desired) {
    ObjectPtr prev;
    for (size_t i = 0; old && i < old->size(); ++i) {
      ObjectPtr c = json::AsObject(old->get(i));
      if (c && Str(c, "type") == d.type) prev = c;
    }
    ObjectPtr c = Obj();
    c->set("type", d.type);
    c->set("status", d.status);
    if (!d.reason.empty()) c->set("reason", d.reason);
    if (!d.message.empty()) c->set("message", d.message);
    const bool same_status = prev && Str(prev, "status") == d.status;
    const bool same_text =
        same_status && Str(prev, "reason") == d.reason && Str(prev, "message") == d.message;
    std::string transition = same_status ? Str(prev, "lastTransitionTime") : "";
    c->set("lastTransitionTime", transition.empty() ? now : transition);
    if (update_time) {
      std::string updated = same_text ? Str(prev, "lastUpdateTime") : "";
      c->set("lastUpdateTime", updated.empty() ? now : updated);
    }
    out->add(c);
  }
  return out;
}

bool LabelsContain(ObjectPtr labels, ObjectPtr wanted) {
  if (!wanted) return false;
  for (const auto& [k, v] : *wanted) {
    if (!labels || !labels->has(k) || !json::Equal(labels->get(k), v)) return false;
  }
  return true;
}

bool ContainerEnvTrue(ObjectPtr pod, const std::string& var) {
  ArrayPtr containers = json::GetArray(pod, "spec.containers");
  for (size_t i = 0; containers && i < containers->size(); ++i) {
    ArrayPtr env = json::GetArray(json::AsObject(containers->get(i)), "env");
    for (size_t j = 0; env && j < env->size(); ++j) {
      ObjectPtr e = json::AsObject(env->get(j));
      if (Str(e, "name") == var && Str(e, "value") == "true") return true;
    }
  }
  return false;
}

std::string RevisionOf(ObjectPtr rs) { return Annotation(rs, kRevision); }
int64_t RevisionNumber(ObjectPtr rs) {
  try {
    return std::stoll(RevisionOf(rs));
  } catch (...) {
    return 0;
  }
}

std::map<std::string, std::vector<ObjectPtr>> ByControllerUid(const std::vector<ObjectPtr>& items) {
  std::map<std::string, std::vector<ObjectPtr>> out;
  for (auto o : items) {
    std::string uid = ControllerUid(o);
    if (!uid.empty()) out[uid].push_back(o);
  }
  return out;
}

}  // namespace

struct ControllerManager::Impl {
  Impl(Store& s, ControllerOptions o) : store(s), options(o), rng(std::random_device{}()) {}

  Store& store;
  ControllerOptions options;

  std::mutex run_mu;  // one reconcile at a time (background thread and tests)
  std::mutex thread_mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread thread;

  // State kept between passes; everything else is read back from the store.
  std::map<std::string, Clock::time_point> first_seen;  // pod uid -> first time seen
  std::set<std::string> known_namespaces;
  bool namespaces_seeded = false;
  std::optional<Clock::time_point> last_full_gc;
  uint32_t next_pod_ip = 0;
  std::mt19937 rng;
  // Idle rounds are skipped: nothing changed in the store since the last round that wrote
  // nothing, and no delay (pod start, job end, pending full GC) has run out.
  bool quiet = false;
  uint64_t quiet_rv = 0;
  uint64_t full_gc_rv = 0;  // the store's resourceVersion when the last full GC started
  Clock::time_point wake_at = Clock::time_point::max();
  Clock::time_point next_deadline = Clock::time_point::max();  // from the last Pods() step

  // Per call.
  Clock::time_point now;
  std::string now_str;
  int writes = 0;

  // ---- store access; counts the writes that changed something ----

  std::vector<ObjectPtr> List(const ResourceRef& ref, const std::string& ns = "") {
    return store.List(ref, ns).items;
  }

  ObjectPtr Create(const ResourceRef& ref, ObjectPtr obj) {
    auto r = store.Create(ref, Ns(obj), obj);
    if (!r.ok()) return nullptr;
    ++writes;
    return r.value();
  }

  // Precondition: the resourceVersion the object was read at; a 409 waits for the next round.
  ObjectPtr Update(const ResourceRef& ref, ObjectPtr obj) {
    const std::string rv = Str(obj, "metadata.resourceVersion");
    auto r = store.Update(ref, Ns(obj), obj, rv);
    if (!r.ok()) return nullptr;
    if (Str(r.value(), "metadata.resourceVersion") != rv) ++writes;
    return r.value();
  }

  bool Delete(const ResourceRef& ref, ObjectPtr obj) {
    auto r = store.Delete(ref, Ns(obj), Name(obj), Str(obj, "metadata.resourceVersion"));
    if (!r.ok()) return false;
    ++writes;
    return true;
  }

  // Writes obj with `status` replaced when it differs.
  void UpdateStatus(const ResourceRef& ref, ObjectPtr obj, ObjectPtr status) {
    if (obj->has("status") && json::Equal(obj->get("status"), status)) return;
    obj->set("status", status);
    Update(ref, obj);
  }

  void Reconcile(Clock::time_point t) {
    if (quiet && store.CurrentResourceVersion() == quiet_rv && t < wake_at) return;
    quiet = false;
    now = t;
    now_str = Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y-%m-%dT%H:%M:%SZ");
    for (int pass = 0; pass < kMaxPasses; ++pass) {
      writes = 0;
      next_deadline = Clock::time_point::max();
      RunPass();
      if (writes == 0) {
        quiet = true;
        break;
      }
    }
    quiet_rv = store.CurrentResourceVersion();
    wake_at = next_deadline;
    // Deletions since the last full GC may have orphaned objects of any kind.
    if (full_gc_rv != quiet_rv && last_full_gc) {
      wake_at = std::min(wake_at, *last_full_gc + kFullGcInterval);
    }
  }

  void RunPass() {
    // Each step lists what it needs afresh and guards itself, so one bad object cannot stop
    // the others from being reconciled.
    const std::pair<const char*, void (Impl::*)()> steps[] = {
        {"namespaces", &Impl::Namespaces},
        {"gc", &Impl::GarbageCollect},
        {"deployments", &Impl::Deployments},
        {"replicasets", &Impl::ReplicaSets},
        {"statefulsets", &Impl::StatefulSets},
        {"daemonsets", &Impl::DaemonSets},
        {"jobs", &Impl::Jobs},
        {"pods", &Impl::Pods},
        {"rs status", &Impl::ReplicaSetStatus},
        {"deploy status", &Impl::DeploymentStatus},
        {"sts status", &Impl::StatefulSetStatus},
        {"ds status", &Impl::DaemonSetStatus},
        {"job status", &Impl::JobStatus},
        {"services", &Impl::Services},
        {"others", &Impl::Others},
    };
    for (const auto& [name, step] : steps) {
      try {
        (this->*step)();
      } catch (const Poco::Exception&) {
        // Malformed objects are skipped; the next round tries again.
      } catch (const std::exception&) {
      }
    }
  }

  // ---- namespaces ----

  // Deletes what is left in a namespace; returns how many objects were still there.
  size_t Purge(const std::string& ns) {
    size_t seen = 0;
    for (auto ref : store.Resources()) {
      if (ref == kNamespaces) continue;
      for (auto o : List(ref, ns)) {
        if (Ns(o) != ns) continue;
        ++seen;
        if (Terminating(o)) {
          // Nobody else runs finalizers in the sandbox: release the object.
          if (json::GetArray(o, "metadata.finalizers")) {
            json::GetObject(o, "metadata")->set("finalizers", Arr());
            Update(ref, o);
          }
        } else {
          Delete(ref, o);
        }
      }
    }
    return seen;
  }

  void Namespaces() {
    if (!namespaces_seeded) {
      // A namespace deleted just before a restart left its objects behind with nobody
      // remembering it: count every namespace an object names as known, so the sweep below
      // purges the ones that no longer exist.
      for (auto ref : store.Resources()) {
        if (ref == kNamespaces) continue;
        for (auto o : List(ref, "")) {
          if (!Ns(o).empty()) known_namespaces.insert(Ns(o));
        }
      }
      namespaces_seeded = true;
    }
    std::set<std::string> present;
    for (auto ns : List(kNamespaces)) {
      const std::string name = Name(ns);
      present.insert(name);
      if (!Terminating(ns)) continue;
      ObjectPtr status = json::EnsureObject(ns, "status");
      ObjectPtr current = ns;
      if (Str(status, "phase") != "Terminating") {
        status->set("phase", std::string("Terminating"));
        current = Update(kNamespaces, ns);
        if (!current) continue;
      }
      if (Purge(name) > 0) continue;
      ArrayPtr finalizers = json::GetArray(current, "metadata.finalizers");
      if (finalizers && finalizers->size() > 0) {
        json::GetObject(current, "metadata")->set("finalizers", Arr());
        json::EnsureObject(current, "spec")->set("finalizers", Arr());
        Update(kNamespaces, current);
      } else {
        Delete(kNamespaces, current);
      }
    }
    // Namespaces that disappeared without passing through deletionTimestamp.
    std::set<std::string> next = present;
    for (auto name : known_namespaces) {
      if (present.count(name)) continue;
      if (Purge(name) > 0) next.insert(name);
    }
    known_namespaces = std::move(next);
  }

  // ---- garbage collection ----

  // Fast path every round for the kinds the controllers own; a full sweep over every stored
  // type every kFullGcInterval for owners of any other kind.
  void GarbageCollect() {
    // Dependents are listed before owners: an owner always exists before its dependents, so a
    // dependent seen here has its live owner in the later lists.
    struct Dependents {
      ResourceRef ref;
      std::vector<ObjectPtr> items;
    };
    std::vector<Dependents> deps = {
        {kPods, List(kPods)}, {kSlices, List(kSlices)}, {kReplicaSets, List(kReplicaSets)}};
    std::map<std::string, std::set<std::string>> owners;  // kind -> uids
    const std::pair<const char*, ResourceRef> owner_kinds[] = {{"ReplicaSet", kReplicaSets},
                                                               {"Deployment", kDeployments},
                                                               {"StatefulSet", kStatefulSets},
                                                               {"DaemonSet", kDaemonSets},
                                                               {"Job", kJobs},
                                                               {"Service", kServices}};
    for (const auto& [kind, ref] : owner_kinds) {
      auto& uids = owners[kind];
      for (auto o : List(ref)) uids.insert(Uid(o));
    }
    for (auto d : deps) {
      for (auto o : d.items) {
        ArrayPtr refs = json::GetArray(o, "metadata.ownerReferences");
        if (!refs || refs->size() == 0 || Terminating(o)) continue;
        bool all_known_and_gone = true;
        for (size_t i = 0; i < refs->size() && all_known_and_gone; ++i) {
          ObjectPtr r = json::AsObject(refs->get(i));
          auto it = owners.find(Str(r, "kind"));
          if (it == owners.end() || it->second.count(Str(r, "uid"))) all_known_and_gone = false;
        }
        if (all_known_and_gone) Delete(d.ref, o);
      }
    }
    if (!last_full_gc || now - *last_full_gc >= kFullGcInterval) {
      last_full_gc = now;
      FullGc();
    }
  }

  std::set<std::string> AllUids() {
    std::set<std::string> uids;
    for (auto ref : store.Resources()) {
      for (auto o : List(ref)) uids.insert(Uid(o));
    }
    return uids;
  }

  void FullGc() {
    full_gc_rv = store.CurrentResourceVersion();
    std::vector<std::pair<ResourceRef, ObjectPtr>> candidates;
    for (auto ref : store.Resources()) {
      for (auto o : List(ref)) {
        ArrayPtr refs = json::GetArray(o, "metadata.ownerReferences");
        if (refs && refs->size() > 0 && !Terminating(o)) candidates.emplace_back(ref, o);
      }
    }
    if (candidates.empty()) return;
    // Owners are gathered after their dependents, for the reason given above.
    std::set<std::string> uids = AllUids();
    for (const auto& [ref, o] : candidates) {
      ArrayPtr refs = json::GetArray(o, "metadata.ownerReferences");
      bool any_alive = false;
      for (size_t i = 0; i < refs->size(); ++i) {
        if (uids.count(Str(json::AsObject(refs->get(i)), "uid"))) any_alive = true;
      }
      if (!any_alive) Delete(ref, o);
    }
  }

  // ---- pods ----

  ObjectPtr PendingStatus(ObjectPtr pod) {
    ObjectPtr status = Obj();
    status->set("phase", std::string("Pending"));
    status->set("hostIP", std::string(kHostIP));
    ArrayPtr host_ips = Arr();
    ObjectPtr hip = Obj();
    hip->set("ip", std::string(kHostIP));
    host_ips->add(hip);
    status->set("hostIPs", host_ips);
    status->set("qosClass", QosClass(pod));
    status->set("conditions", MergeConditions(json::GetArray(pod, "status.conditions"),
                                              {{"PodScheduled", "True", "", ""}}, now_str, false));
    ArrayPtr statuses = Arr();
    ArrayPtr containers = json::GetArray(pod, "spec.containers");
    for (size_t i = 0; containers && i < containers->size(); ++i) {
      ObjectPtr c = json::AsObject(containers->get(i));
      ObjectPtr cs = Obj();
      cs->set("name", Str(c, "name"));
      cs->set("image", Str(c, "image"));
      cs->set("imageID", std::string(""));
      cs->set("ready", false);
      cs->set("started", false);
      cs->set("restartCount", 0);
      ObjectPtr waiting = Obj();
      waiting->set("reason", std::string("ContainerCreating"));
      ObjectPtr state = Obj();
      state->set("waiting", waiting);
      cs->set("state", state);
      cs->set("lastState", Obj());
      statuses->add(cs);
    }
    status->set("containerStatuses", statuses);
    return status;
  }

  static std::string QosClass(ObjectPtr pod) {
    ArrayPtr containers = json::GetArray(pod, "spec.containers");
    for (size_t i = 0; containers && i < containers->size(); ++i) {
      ObjectPtr res = json::GetObject(json::AsObject(containers->get(i)), "resources");
      if (res && res->size() > 0) return "Burstable";
    }
    return "BestEffort";
  }

  std::string AllocatePodIP(std::set<std::string>& used) {
    // 10.244.0.0/16, skipping .0 and .255 of every /24.
    for (uint32_t tries = 0; tries < 65536; ++tries) {
      uint32_t n = next_pod_ip++ % 65536;
      uint32_t hi = n >> 8, lo = n & 255;
      if (lo == 0 || lo == 255) continue;
      std::string ip = "10.244." + std::to_string(hi) + "." + std::to_string(lo);
      if (used.insert(ip).second) return ip;
    }
    return "10.244.255.254";
  }

  ObjectPtr ContainerStatus(ObjectPtr c, ObjectPtr prev, bool init) {
    ObjectPtr cs = Obj();
    const std::string image = Str(c, "image");
    cs->set("name", Str(c, "name"));
    cs->set("image", image);
    cs->set("imageID", image + "@sha256:" + Sha256Hex(image));
    std::string id = Str(prev, "containerID");
    cs->set("containerID", id.empty() ? "containerd://" + RandomHex(rng, 64) : id);
    cs->set("restartCount", 0);
    cs->set("lastState", Obj());
    ObjectPtr state = Obj();
    if (init) {
      ObjectPtr term = Obj();
      term->set("exitCode", 0);
      term->set("reason", std::string("Completed"));
      term->set("startedAt", now_str);
      term->set("finishedAt", now_str);
      term->set("containerID", cs->get("containerID"));
      state->set("terminated", term);
      cs->set("ready", true);
      cs->set("started", false);
    } else {
      ObjectPtr running = Obj();
      running->set("startedAt", now_str);
      state->set("running", running);
      cs->set("ready", true);
      cs->set("started", true);
    }
    cs->set("state", state);
    return cs;
  }

  ObjectPtr RunningStatus(ObjectPtr pod, std::set<std::string>& used_ips) {
    ObjectPtr old = json::GetObject(pod, "status");
    ObjectPtr status = Obj();
    status->set("phase", std::string("Running"));
    status->set("hostIP", std::string(kHostIP));
    ArrayPtr host_ips = Arr();
    ObjectPtr hip = Obj();
    hip->set("ip", std::string(kHostIP));
    host_ips->add(hip);
    status->set("hostIPs", host_ips);
    std::string ip = Str(old, "podIP");
    if (ip.empty()) ip = AllocatePodIP(used_ips);
    status->set("podIP", ip);
    ArrayPtr pod_ips = Arr();
    ObjectPtr pip = Obj();
    pip->set("ip", ip);
    pod_ips->add(pip);
    status->set("podIPs", pod_ips);
    std::string start = Str(old, "startTime");
    status->set("startTime", start.empty() ? now_str : start);
    status->set("qosClass", QosClass(pod));
    status->set("conditions", MergeConditions(json::GetArray(pod, "status.conditions"),
                                              {{"PodReadyToStartContainers", "True", "", ""},
                                               {"Initialized", "True", "", ""},
                                               {"Ready", "True", "", ""},
                                               {"ContainersReady", "True", "", ""},
                                               {"PodScheduled", "True", "", ""}},
                                              now_str, false));
    for (const char* field : {"initContainers", "containers"}) {
      const bool init = std::string(field) == "initContainers";
      ArrayPtr containers = json::GetArray(pod, std::string("spec.") + field);
      if (!containers || containers->size() == 0) continue;
      ArrayPtr statuses = Arr();
      for (size_t i = 0; i < containers->size(); ++i) {
        statuses->add(ContainerStatus(json::AsObject(containers->get(i)), ObjectPtr(), init));
      }
      status->set(init ? "initContainerStatuses" : "containerStatuses", statuses);
    }
    return status;
  }

  ObjectPtr FinishedStatus(ObjectPtr pod, bool failed) {
    ObjectPtr status = json::DeepCopy(json::GetObject(pod, "status"));
    status->set("phase", std::string(failed ? "Failed" : "Succeeded"));
    const std::string reason = failed ? "PodFailed" : "PodCompleted";
    status->set("conditions", MergeConditions(json::GetArray(pod, "status.conditions"),
                                              {{"PodReadyToStartContainers", "False", "", ""},
                                               {"Initialized", "True", reason, ""},
                                               {"Ready", "False", reason, ""},
                                               {"ContainersReady", "False", reason, ""},
                                               {"PodScheduled", "True", "", ""}},
                                              now_str, false));
    ArrayPtr statuses = json::GetArray(status, "containerStatuses");
    for (size_t i = 0; statuses && i < statuses->size(); ++i) {
      ObjectPtr cs = json::AsObject(statuses->get(i));
      ObjectPtr term = Obj();
      term->set("exitCode", failed ? 1 : 0);
      term->set("reason", std::string(failed ? "Error" : "Completed"));
      std::string started = Str(cs, "state.running.startedAt");
      term->set("startedAt", started.empty() ? now_str : started);
      term->set("finishedAt", now_str);
      term->set("containerID", Str(cs, "containerID"));
      ObjectPtr state = Obj();
      state->set("terminated", term);
      cs->set("state", state);
      cs->set("ready", false);
      cs->set("started", false);
    }
    return status;
  }

  ObjectPtr NewPod(ObjectPtr tmpl, const std::string& ns, ObjectPtr owner_ref,
                   const std::string& name, const std::string& generate_name,
                   const std::vector<std::pair<std::string, std::string>>& extra_labels) {
    ObjectPtr pod = Obj();
    pod->set("apiVersion", std::string("v1"));
    pod->set("kind", std::string("Pod"));
    ObjectPtr meta = Obj();
    if (!name.empty()) meta->set("name", name);
    if (!generate_name.empty()) meta->set("generateName", generate_name);
    meta->set("namespace", ns);
    ObjectPtr labels = json::DeepCopy(json::GetObject(tmpl, "metadata.labels"));
    if (!labels) labels = Obj();
    for (const auto& [k, v] : extra_labels) labels->set(k, v);
    meta->set("labels", labels);
    if (ObjectPtr annotations = json::GetObject(tmpl, "metadata.annotations")) {
      meta->set("annotations", json::DeepCopy(annotations));
    }
    ArrayPtr refs = Arr();
    refs->add(owner_ref);
    meta->set("ownerReferences", refs);
    pod->set("metadata", meta);
    ObjectPtr spec = json::DeepCopy(json::GetObject(tmpl, "spec"));
    if (!spec) spec = Obj();
    spec->set("nodeName", std::string(kNodeName));
    if (!spec->has("serviceAccountName")) spec->set("serviceAccountName", std::string("default"));
    if (!spec->has("serviceAccount")) spec->set("serviceAccount", spec->get("serviceAccountName"));
    if (!spec->has("enableServiceLinks")) spec->set("enableServiceLinks", true);
    if (!spec->has("priority")) spec->set("priority", 0);
    if (!spec->has("preemptionPolicy")) {
      spec->set("preemptionPolicy", std::string("PreemptLowerPriority"));
    }
    pod->set("spec", spec);
    pod->set("status", PendingStatus(pod));
    ObjectPtr created = Create(kPods, pod);
    if (created) first_seen[Uid(created)] = now;
    return created;
  }

  void Pods() {
    auto pods = List(kPods);
    std::set<std::string> used_ips;
    std::set<std::string> live;
    for (auto p : pods) {
      live.insert(Uid(p));
      std::string ip = Str(p, "status.podIP");
      if (!ip.empty()) used_ips.insert(ip);
    }
    for (auto it = first_seen.begin(); it != first_seen.end();) {
      it = live.count(it->first) ? std::next(it) : first_seen.erase(it);
    }
    std::set<std::string> running;  // the Pods the runtime keeps serving
    for (auto pod : pods) {
      if (Terminating(pod) || !PodActive(pod)) continue;
      const Clock::time_point seen = first_seen.emplace(Uid(pod), now).first->second;
      const std::string restart = json::GetString(pod, "spec.restartPolicy").value_or("Always");
      const bool runs_to_completion = restart != "Always";
      const auto ready_at = seen + options.ready_delay;
      const auto done_at = ready_at + options.job_duration;
      ObjectPtr spec = json::EnsureObject(pod, "spec");
      if (PodReady(pod)) {
        if (runs_to_completion && now >= done_at) {
          pod->set("status", FinishedStatus(pod, ContainerEnvTrue(pod, "SANDBOX_JOB_FAIL")));
          Update(kPods, pod);
          continue;
        } else if (runs_to_completion) {
          next_deadline = std::min(next_deadline, done_at);
        }
        // Serves it again after a restart, and follows changes of its labels.
        if (options.runtime) options.runtime->Run(pod);
        running.insert(Uid(pod));
        continue;
      }
      next_deadline = std::min(next_deadline, ready_at);
      if (now >= ready_at) {
        // Ready only once its workload serves; otherwise try again shortly.
        if (options.runtime && !options.runtime->Run(pod)) {
          next_deadline = std::min(next_deadline, now + std::chrono::milliseconds(100));
          continue;
        }
        running.insert(Uid(pod));
        SetString(spec, "nodeName", kNodeName);
        pod->set("status", RunningStatus(pod, used_ips));
        Update(kPods, pod);
        continue;
      }
      // Created through the API: schedule it now, start it later.
      bool changed = SetString(spec, "nodeName", kNodeName);
      if (!json::GetArray(pod, "status.conditions")) {
        pod->set("status", PendingStatus(pod));
        changed = true;
      }
      if (changed) Update(kPods, pod);
    }
    if (options.runtime) options.runtime->Retain(running);
  }

  // ---- deployments ----

  ObjectPtr NewReplicaSet(ObjectPtr d, const std::string& hash, int64_t revision,
                          int64_t replicas) {
    ObjectPtr tmpl = json::DeepCopy(json::GetObject(d, "spec.template"));
    json::EnsureObject(tmpl, "metadata.labels")->set(kHashLabel, hash);
    ObjectPtr rs = Obj();
    rs->set("apiVersion", std::string("apps/v1"));
    rs->set("kind", std::string("ReplicaSet"));
    ObjectPtr meta = Obj();
    meta->set("name", Name(d) + "-" + hash);
    meta->set("namespace", Ns(d));
    meta->set("labels", json::DeepCopy(json::GetObject(tmpl, "metadata.labels")));
    ObjectPtr annotations = Obj();
    annotations->set(kRevision, std::to_string(revision));
    meta->set("annotations", annotations);
    ArrayPtr refs = Arr();
    refs->add(OwnerRef("apps/v1", "Deployment", d));
    meta->set("ownerReferences", refs);
    rs->set("metadata", meta);
    ObjectPtr spec = Obj();
    spec->set("replicas", replicas);
    if (d->has("spec") && json::GetObject(d, "spec")->has("minReadySeconds")) {
      spec->set("minReadySeconds", json::GetObject(d, "spec")->get("minReadySeconds"));
    }
    ObjectPtr selector = json::DeepCopy(json::GetObject(d, "spec.selector"));
    if (!selector) selector = Obj();
    json::EnsureObject(selector, "matchLabels")->set(kHashLabel, hash);
    spec->set("selector", selector);
    spec->set("template", tmpl);
    rs->set("spec", spec);
    rs->set("status", Obj());
    json::GetObject(rs, "status")->set("replicas", 0);
    return rs;
  }

  void SetRsAnnotations(ObjectPtr d, ObjectPtr rs, int64_t replicas, bool* changed) {
    ObjectPtr a = json::EnsureObject(rs, "metadata.annotations");
    const int64_t surge =
        Scaled(FieldOr(d, "spec.strategy.rollingUpdate", "maxSurge"), replicas, true, 0);
    *changed |= SetString(a, "deployment.kubernetes.io/desired-replicas", std::to_string(replicas));
    *changed |=
        SetString(a, "deployment.kubernetes.io/max-replicas", std::to_string(replicas + surge));
  }

  void Deployments() {
    auto rs_by_owner = ByControllerUid(List(kReplicaSets));
    for (auto d : List(kDeployments)) {
      if (Terminating(d)) continue;
      ObjectPtr tmpl = json::GetObject(d, "spec.template");
      if (!tmpl || !json::GetObject(d, "spec.selector")) continue;
      const int64_t replicas = Int(d, "spec.replicas", 1);
      std::vector<ObjectPtr> owned = rs_by_owner[Uid(d)];
      std::sort(owned.begin(), owned.end(), [](ObjectPtr a, ObjectPtr b) {
        return Str(a, "metadata.creationTimestamp") != Str(b, "metadata.creationTimestamp")
                   ? Str(a, "metadata.creationTimestamp") < Str(b, "metadata.creationTimestamp")
                   : Name(a) < Name(b);
      });
      ObjectPtr new_rs;
      int64_t max_revision = 0;
      for (auto rs : owned) {
        max_revision = std::max(max_revision, RevisionNumber(rs));
        if (!new_rs && EqualIgnoreHash(json::GetObject(rs, "spec.template"), tmpl)) new_rs = rs;
      }
      if (!new_rs) {
        std::string hash = TemplateHash(tmpl);
        ObjectPtr rs = NewReplicaSet(d, hash, max_revision + 1, replicas);
        bool changed = false;
        SetRsAnnotations(d, rs, replicas, &changed);
        new_rs = Create(kReplicaSets, rs);
        if (!new_rs) {
          // Name taken by a ReplicaSet we do not own: salt the hash, as collisionCount does.
          rs = NewReplicaSet(d, HashOf(tmpl) + RandomSuffix(rng, 2), max_revision + 1, replicas);
          SetRsAnnotations(d, rs, replicas, &changed);
          new_rs = Create(kReplicaSets, rs);
        }
        if (!new_rs) continue;
        owned.push_back(new_rs);
      } else {
        bool changed = false;
        // A rollback makes an old ReplicaSet the newest revision again.
        if (RevisionOf(new_rs).empty() || RevisionNumber(new_rs) < max_revision) {
          json::EnsureObject(new_rs, "metadata.annotations")
              ->set(kRevision, std::to_string(max_revision + 1));
          changed = true;
        }
        if (Int(new_rs, "spec.replicas", 1) != replicas) {
          json::EnsureObject(new_rs, "spec")->set("replicas", replicas);
          changed = true;
        }
        SetRsAnnotations(d, new_rs, replicas, &changed);
        if (changed) {
          new_rs = Update(kReplicaSets, new_rs);
          if (!new_rs) continue;
        }
      }
      const std::string new_uid = Uid(new_rs);

      // Old ReplicaSets go to 0 once the new one is fully ready (at once for Recreate).
      const bool recreate = Str(d, "spec.strategy.type") == "Recreate";
      const bool new_ready =
          Int(new_rs, "status.readyReplicas", 0) >= replicas &&
          Int(new_rs, "status.observedGeneration", 0) >= Int(new_rs, "metadata.generation", 1);
      std::vector<ObjectPtr> old_idle;
      for (auto rs : owned) {
        if (Uid(rs) == new_uid) continue;
        if (Int(rs, "spec.replicas", 1) != 0) {
          if (recreate || replicas == 0 || new_ready) {
            json::EnsureObject(rs, "spec")->set("replicas", 0);
            Update(kReplicaSets, rs);
          }
        } else if (Int(rs, "status.replicas", 0) == 0) {
          old_idle.push_back(rs);
        }
      }
      // Keep revisionHistoryLimit old ReplicaSets, the newest revisions.
      const int64_t limit = Int(d, "spec.revisionHistoryLimit", 10);
      std::sort(old_idle.begin(), old_idle.end(),
                [](ObjectPtr a, ObjectPtr b) { return RevisionNumber(a) < RevisionNumber(b); });
      for (size_t i = 0; static_cast<int64_t>(old_idle.size() - i) > limit; ++i) {
        Delete(kReplicaSets, old_idle[i]);
      }
      if (Annotation(d, kRevision) != RevisionOf(new_rs)) {
        json::EnsureObject(d, "metadata.annotations")->set(kRevision, RevisionOf(new_rs));
        Update(kDeployments, d);
      }
    }
  }

  void ReplicaSets() {
    auto pods_by_owner = ByControllerUid(List(kPods));
    for (auto rs : List(kReplicaSets)) {
      if (Terminating(rs)) continue;
      const int64_t want = Int(rs, "spec.replicas", 1);
      std::vector<ObjectPtr> active;
      for (auto p : pods_by_owner[Uid(rs)]) {
        if (PodActive(p)) active.push_back(p);
      }
      ObjectPtr tmpl = json::GetObject(rs, "spec.template");
      for (int64_t i = static_cast<int64_t>(active.size()); i < want && tmpl; ++i) {
        NewPod(tmpl, Ns(rs), OwnerRef("apps/v1", "ReplicaSet", rs), "", Name(rs) + "-", {});
      }
      if (static_cast<int64_t>(active.size()) > want) {
        // Not-ready pods go first, then the newest, as the ReplicaSet controller ranks them.
        std::sort(active.begin(), active.end(), [](ObjectPtr a, ObjectPtr b) {
          if (PodReady(a) != PodReady(b)) return !PodReady(a);
          return Str(a, "metadata.creationTimestamp") > Str(b, "metadata.creationTimestamp");
        });
        for (size_t i = 0; static_cast<int64_t>(active.size() - i) > want; ++i) {
          Delete(kPods, active[i]);
        }
      }
    }
  }

  void ReplicaSetStatus() {
    auto pods_by_owner = ByControllerUid(List(kPods));
    for (auto rs : List(kReplicaSets)) {
      int64_t replicas = 0, ready = 0, labeled = 0;
      ObjectPtr tmpl_labels = json::GetObject(rs, "spec.template.metadata.labels");
      for (auto p : pods_by_owner[Uid(rs)]) {
        if (!PodActive(p)) continue;
        ++replicas;
        if (PodReady(p)) ++ready;
        if (!tmpl_labels || LabelsContain(json::GetObject(p, "metadata.labels"), tmpl_labels)) {
          ++labeled;
        }
      }
      ObjectPtr status = Obj();
      status->set("replicas", replicas);
      status->set("fullyLabeledReplicas", labeled);
      status->set("readyReplicas", ready);
      status->set("availableReplicas", ready);
      status->set("observedGeneration", Int(rs, "metadata.generation", 1));
      UpdateStatus(kReplicaSets, rs, status);
    }
  }

  void DeploymentStatus() {
    auto rs_by_owner = ByControllerUid(List(kReplicaSets));
    auto pods_by_owner = ByControllerUid(List(kPods));
    for (auto d : List(kDeployments)) {
      if (Terminating(d)) continue;
      ObjectPtr tmpl = json::GetObject(d, "spec.template");
      const int64_t want = Int(d, "spec.replicas", 1);
      int64_t replicas = 0, updated = 0, ready = 0;
      ObjectPtr new_rs;
      for (auto rs : rs_by_owner[Uid(d)]) {
        const bool is_new = !new_rs && EqualIgnoreHash(json::GetObject(rs, "spec.template"), tmpl);
        if (is_new) new_rs = rs;
        for (auto p : pods_by_owner[Uid(rs)]) {
          if (!PodActive(p)) continue;
          ++replicas;
          if (is_new) ++updated;
          if (PodReady(p)) ++ready;
        }
      }
      const bool rolling = Str(d, "spec.strategy.type") != "Recreate";
      const int64_t max_unavailable =
          rolling
              ? Scaled(FieldOr(d, "spec.strategy.rollingUpdate", "maxUnavailable"), want, false, 0)
              : 0;
      const bool available = ready >= want - max_unavailable;
      const bool complete = new_rs && updated == want && replicas == want && ready == want;
      const std::string rs_name = new_rs ? Name(new_rs) : Name(d);
      std::vector<Cond> conds;
      conds.push_back(available ? Cond{"Available", "True", "MinimumReplicasAvailable",
                                       "Deployment has minimum availability."}
                                : Cond{"Available", "False", "MinimumReplicasUnavailable",
                                       "Deployment does not have minimum availability."});
      conds.push_back(complete ? Cond{"Progressing", "True", "NewReplicaSetAvailable",
                                      "ReplicaSet \"" + rs_name + "\" has successfully progressed."}
                               : Cond{"Progressing", "True", "ReplicaSetUpdated",
                                      "ReplicaSet \"" + rs_name + "\" is progressing."});
      ObjectPtr status = Obj();
      status->set("observedGeneration", Int(d, "metadata.generation", 1));
      status->set("replicas", replicas);
      status->set("updatedReplicas", updated);
      status->set("readyReplicas", ready);
      status->set("availableReplicas", ready);
      if (want > ready) status->set("unavailableReplicas", want - ready);
      status->set("conditions",
                  MergeConditions(json::GetArray(d, "status.conditions"), conds, now_str, true));
      UpdateStatus(kDeployments, d, status);
    }
  }

  // ---- statefulsets, daemonsets, jobs ----

  void StatefulSets() {
    auto pods_by_owner = ByControllerUid(List(kPods));
    for (auto sts : List(kStatefulSets)) {
      if (Terminating(sts)) continue;
      ObjectPtr tmpl = json::GetObject(sts, "spec.template");
      if (!tmpl) continue;
      const std::string name = Name(sts);
      const int64_t want = Int(sts, "spec.replicas", 1);
      const std::string revision = name + "-" + TemplateHash(tmpl);
      std::map<std::string, ObjectPtr> by_name;
      for (auto p : pods_by_owner[Uid(sts)]) by_name[Name(p)] = p;
      bool all_ready = true;
      for (int64_t i = 0; i < want; ++i) {
        auto it = by_name.find(name + "-" + std::to_string(i));
        if (it == by_name.end() || !PodReady(it->second)) all_ready = false;
      }
      for (int64_t i = 0; i < want; ++i) {
        const std::string pod_name = name + "-" + std::to_string(i);
        auto it = by_name.find(pod_name);
        if (it == by_name.end()) {
          ObjectPtr pod_tmpl = json::DeepCopy(tmpl);
          ObjectPtr pod_spec = json::EnsureObject(pod_tmpl, "spec");
          pod_spec->set("hostname", pod_name);
          if (auto svc = json::GetString(sts, "spec.serviceName")) pod_spec->set("subdomain", *svc);
          NewPod(pod_tmpl, Ns(sts), OwnerRef("apps/v1", "StatefulSet", sts), pod_name, "",
                 {{kRevisionHashLabel, revision},
                  {"statefulset.kubernetes.io/pod-name", pod_name},
                  {"apps.kubernetes.io/pod-index", std::to_string(i)}});
        } else if (!PodActive(it->second) && !Terminating(it->second)) {
          Delete(kPods, it->second);  // a finished pod is replaced, as the controller does
        }
      }
      for (const auto& [pod_name, p] : by_name) {
        const std::string suffix = pod_name.substr(std::min(pod_name.size(), name.size() + 1));
        int64_t ordinal = -1;
        try {
          ordinal = std::stoll(suffix);
        } catch (...) {
        }
        if (ordinal < 0 || ordinal >= want) Delete(kPods, p);
      }
      // Rolling update: replace the highest outdated ordinal once every pod is ready.
      if (Str(sts, "spec.updateStrategy.type") == "OnDelete" || !all_ready) continue;
      const int64_t partition = Int(sts, "spec.updateStrategy.rollingUpdate.partition", 0);
      for (int64_t i = want - 1; i >= partition; --i) {
        auto it = by_name.find(name + "-" + std::to_string(i));
        if (it != by_name.end() && Label(it->second, kRevisionHashLabel) != revision) {
          Delete(kPods, it->second);
          break;
        }
      }
    }
  }

  void StatefulSetStatus() {
    auto pods_by_owner = ByControllerUid(List(kPods));
    for (auto sts : List(kStatefulSets)) {
      ObjectPtr tmpl = json::GetObject(sts, "spec.template");
      if (!tmpl || Terminating(sts)) continue;
      const int64_t want = Int(sts, "spec.replicas", 1);
      const std::string update_rev = Name(sts) + "-" + TemplateHash(tmpl);
      std::string current_rev = Str(sts, "status.currentRevision");
      if (current_rev.empty()) current_rev = update_rev;
      int64_t replicas = 0, ready = 0, updated = 0;
      std::vector<ObjectPtr> active;
      for (auto p : pods_by_owner[Uid(sts)]) {
        if (!PodActive(p)) continue;
        active.push_back(p);
        ++replicas;
        if (PodReady(p)) ++ready;
        if (Label(p, kRevisionHashLabel) == update_rev) ++updated;
      }
      if (updated == want && ready == want && replicas == want) current_rev = update_rev;
      int64_t current = 0;
      for (auto p : active) {
        if (Label(p, kRevisionHashLabel) == current_rev) ++current;
      }
      ObjectPtr status = Obj();
      status->set("observedGeneration", Int(sts, "metadata.generation", 1));
      status->set("replicas", replicas);
      status->set("readyReplicas", ready);
      status->set("availableReplicas", ready);
      status->set("currentReplicas", current);
      status->set("updatedReplicas", updated);
      status->set("currentRevision", current_rev);
      status->set("updateRevision", update_rev);
      status->set("collisionCount", 0);
      UpdateStatus(kStatefulSets, sts, status);
    }
  }

  void DaemonSets() {
    auto pods_by_owner = ByControllerUid(List(kPods));
    for (auto ds : List(kDaemonSets)) {
      if (Terminating(ds)) continue;
      ObjectPtr tmpl = json::GetObject(ds, "spec.template");
      if (!tmpl) continue;
      const std::string hash = TemplateHash(tmpl);
      std::vector<ObjectPtr> active;
      for (auto p : pods_by_owner[Uid(ds)]) {
        if (PodActive(p)) active.push_back(p);
      }
      // The single node runs exactly one pod of the current template.
      const bool rolling = Str(ds, "spec.updateStrategy.type") != "OnDelete";
      size_t kept = 0;
      for (auto p : active) {
        if (kept == 0 && (!rolling || Label(p, kRevisionHashLabel) == hash)) {
          ++kept;
        } else {
          Delete(kPods, p);
        }
      }
      if (active.empty()) {
        NewPod(tmpl, Ns(ds), OwnerRef("apps/v1", "DaemonSet", ds), "", Name(ds) + "-",
               {{kRevisionHashLabel, hash},
                {"pod-template-generation", std::to_string(Int(ds, "metadata.generation", 1))}});
      }
    }
  }

  void DaemonSetStatus() {
    auto pods_by_owner = ByControllerUid(List(kPods));
    for (auto ds : List(kDaemonSets)) {
      ObjectPtr tmpl = json::GetObject(ds, "spec.template");
      if (!tmpl || Terminating(ds)) continue;
      const std::string hash = TemplateHash(tmpl);
      int64_t scheduled = 0, ready = 0, updated = 0;
      for (auto p : pods_by_owner[Uid(ds)]) {
        if (!PodActive(p)) continue;
        ++scheduled;
        if (PodReady(p)) ++ready;
        if (Label(p, kRevisionHashLabel) == hash) ++updated;
      }
      ObjectPtr status = Obj();
      status->set("currentNumberScheduled", scheduled);
      status->set("desiredNumberScheduled", 1);
      status->set("numberMisscheduled", 0);
      status->set("numberReady", ready);
      status->set("numberAvailable", ready);
      if (ready < 1) status->set("numberUnavailable", 1 - ready);
      status->set("updatedNumberScheduled", updated);
      status->set("observedGeneration", Int(ds, "metadata.generation", 1));
      UpdateStatus(kDaemonSets, ds, status);
    }
  }

  static bool JobFinished(ObjectPtr job) {
    return HasConditionTrue(job, "Complete") || HasConditionTrue(job, "Failed");
  }

  void Jobs() {
    auto pods_by_owner = ByControllerUid(List(kPods));
    for (auto job : List(kJobs)) {
      if (Terminating(job) || JobFinished(job)) continue;
      if (json::GetBool(job, "spec.suspend").value_or(false)) continue;
      ObjectPtr tmpl = json::GetObject(job, "spec.template");
      if (!tmpl) continue;
      const int64_t completions = Int(job, "spec.completions", 1);
      const int64_t parallelism = Int(job, "spec.parallelism", 1);
      int64_t active = 0, succeeded = 0, failed = 0;
      for (auto p : pods_by_owner[Uid(job)]) {
        if (Terminating(p)) continue;
        const std::string phase = Phase(p);
        if (phase == "Succeeded") {
          ++succeeded;
        } else if (phase == "Failed") {
          ++failed;
        } else {
          ++active;
        }
      }
      // The sandbox does not retry: one failed pod fails the Job.
      if (failed > 0) continue;
      int64_t start = std::min(parallelism, completions - succeeded) - active;
      for (int64_t i = 0; i < start; ++i) {
        NewPod(tmpl, Ns(job), OwnerRef("batch/v1", "Job", job), "", Name(job) + "-", {});
      }
    }
  }

  void JobStatus() {
    auto pods_by_owner = ByControllerUid(List(kPods));
    for (auto job : List(kJobs)) {
      if (Terminating(job)) continue;
      ObjectPtr old = json::GetObject(job, "status");
      const auto& pods = pods_by_owner[Uid(job)];
      if (JobFinished(job) || (pods.empty() && !old)) continue;
      const int64_t completions = Int(job, "spec.completions", 1);
      int64_t active = 0, ready = 0, succeeded = 0, failed = 0;
      for (auto p : pods) {
        const std::string phase = Phase(p);
        if (phase == "Succeeded") {
          ++succeeded;
        } else if (phase == "Failed") {
          ++failed;
        } else if (!Terminating(p)) {
          ++active;
          if (PodReady(p)) ++ready;
        }
      }
      ObjectPtr status = old ? json::DeepCopy(old) : Obj();
      if (!pods.empty() && Str(status, "startTime").empty()) status->set("startTime", now_str);
      status->set("active", active);
      status->set("ready", ready);
      status->set("succeeded", succeeded);
      status->set("failed", failed);
      status->set("terminating", 0);
      status->set("uncountedTerminatedPods", Obj());
      if (failed > 0) {
        status->set("active", 0);
        status->set("ready", 0);
        const std::string msg = "Job has reached the specified backoff limit";
        status->set("conditions",
                    MergeConditions(json::GetArray(job, "status.conditions"),
                                    {{"FailureTarget", "True", "BackoffLimitExceeded", msg},
                                     {"Failed", "True", "BackoffLimitExceeded", msg}},
                                    now_str, false));
      } else if (succeeded >= completions) {
        const std::string msg = "Reached expected number of succeeded pods";
        status->set("conditions",
                    MergeConditions(json::GetArray(job, "status.conditions"),
                                    {{"SuccessCriteriaMet", "True", "CompletionsReached", msg},
                                     {"Complete", "True", "CompletionsReached", msg}},
                                    now_str, false));
        status->set("completionTime", now_str);
      }
      UpdateStatus(kJobs, job, status);
    }
  }

  // ---- services ----

  struct Subset {
    ArrayPtr ports;
    std::vector<std::pair<std::string, ObjectPtr>> ready;  // (ip, address)
    std::vector<std::pair<std::string, ObjectPtr>> not_ready;
  };

  // The Service's ports as they land on this pod (named targetPorts resolved), or nullopt
  // when a named port is missing from the pod.
  static ArrayPtr ResolvePorts(ObjectPtr svc, ObjectPtr pod) {
    ArrayPtr out = Arr();
    ArrayPtr ports = json::GetArray(svc, "spec.ports");
    for (size_t i = 0; ports && i < ports->size(); ++i) {
      ObjectPtr sp = json::AsObject(ports->get(i));
      if (!sp) continue;
      Var target = sp->has("targetPort") ? sp->get("targetPort") : sp->get("port");
      int64_t number = -1;
      if (json::IsInteger(target)) {
        number = target.convert<int64_t>();
      } else if (json::IsString(target)) {
        const std::string wanted = target.extract<std::string>();
        ArrayPtr containers = json::GetArray(pod, "spec.containers");
        for (size_t c = 0; containers && c < containers->size() && number < 0; ++c) {
          ArrayPtr cports = json::GetArray(json::AsObject(containers->get(c)), "ports");
          for (size_t j = 0; cports && j < cports->size(); ++j) {
            ObjectPtr cp = json::AsObject(cports->get(j));
            if (Str(cp, "name") == wanted) number = Int(cp, "containerPort", -1);
          }
        }
      }
      if (number < 0) continue;
      ObjectPtr p = Obj();
      if (auto name = json::GetString(sp, "name")) p->set("name", *name);
      p->set("port", number);
      p->set("protocol", json::GetString(sp, "protocol").value_or("TCP"));
      out->add(p);
    }
    return out;
  }

  static ObjectPtr TargetRef(ObjectPtr pod) {
    ObjectPtr ref = Obj();
    ref->set("kind", std::string("Pod"));
    ref->set("name", Name(pod));
    ref->set("namespace", Ns(pod));
    ref->set("uid", Uid(pod));
    return ref;
  }

  void Services() {
    const auto pods = List(kPods);
    const auto endpoints = List(kEndpoints);
    const auto slices = List(kSlices);
    std::set<std::pair<std::string, std::string>> wanted_endpoints;
    for (auto svc : List(kServices)) {
      if (Terminating(svc)) continue;
      if (Str(svc, "spec.type") == "LoadBalancer" &&
          !json::GetArray(svc, "status.loadBalancer.ingress")) {
        ArrayPtr ingress = Arr();
        ObjectPtr entry = Obj();
        entry->set("ip", std::string(kHostIP));
        entry->set("ipMode", std::string("VIP"));
        ingress->add(entry);
        json::EnsureObject(svc, "status.loadBalancer")->set("ingress", ingress);
        Update(kServices, svc);
        continue;  // endpoints next round, from the fresh object
      }
      ObjectPtr selector = json::GetObject(svc, "spec.selector");
      if (!selector || selector->size() == 0 || Str(svc, "spec.type") == "ExternalName") continue;
      wanted_endpoints.insert({Ns(svc), Name(svc)});
      SyncEndpoints(svc, selector, pods, endpoints, slices);
    }
    // Endpoints this controller made for Services that are gone or lost their selector.
    for (auto ep : endpoints) {
      if (Label(ep, kEndpointsManagedBy) == kEndpointsController &&
          !wanted_endpoints.count({Ns(ep), Name(ep)})) {
        Delete(kEndpoints, ep);
      }
    }
  }

  void SyncEndpoints(ObjectPtr svc, ObjectPtr selector, const std::vector<ObjectPtr>& pods,
                     const std::vector<ObjectPtr>& endpoints,
                     const std::vector<ObjectPtr>& slices) {
    const std::string ns = Ns(svc), name = Name(svc);
    std::map<std::string, Subset> subsets;  // keyed by the ports' JSON
    std::vector<std::pair<std::string, ObjectPtr>> slice_endpoints;
    ArrayPtr slice_ports;
    for (auto pod : pods) {
      if (Ns(pod) != ns || !PodActive(pod)) continue;
      if (!LabelsContain(json::GetObject(pod, "metadata.labels"), selector)) continue;
      const std::string ip = Str(pod, "status.podIP");
      if (ip.empty()) continue;
      ArrayPtr ports = ResolvePorts(svc, pod);
      Subset& s = subsets[json::Stringify(ports)];
      s.ports = ports;
      const bool ready = PodReady(pod);
      ObjectPtr address = Obj();
      address->set("ip", ip);
      address->set("nodeName", Str(pod, "spec.nodeName"));
      address->set("targetRef", TargetRef(pod));
      (ready ? s.ready : s.not_ready).emplace_back(ip, address);

      ObjectPtr e = Obj();
      ArrayPtr addrs = Arr();
      addrs->add(ip);
      e->set("addresses", addrs);
      ObjectPtr conditions = Obj();
      conditions->set("ready", ready);
      conditions->set("serving", ready);
      conditions->set("terminating", false);
      e->set("conditions", conditions);
      e->set("nodeName", Str(pod, "spec.nodeName"));
      e->set("targetRef", TargetRef(pod));
      slice_endpoints.emplace_back(ip, e);
      if (!slice_ports) slice_ports = ports;
    }
    auto sorted = [](std::vector<std::pair<std::string, ObjectPtr>> v) {
      std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      ArrayPtr out = Arr();
      for (const auto& [ip, o] : v) out->add(o);
      return out;
    };
    ArrayPtr subset_list = Arr();
    for (const auto& [key, s] : subsets) {
      ObjectPtr subset = Obj();
      if (!s.ready.empty()) subset->set("addresses", sorted(s.ready));
      if (!s.not_ready.empty()) subset->set("notReadyAddresses", sorted(s.not_ready));
      if (s.ports->size() > 0) subset->set("ports", s.ports);
      subset_list->add(subset);
    }

    // core/v1 Endpoints, same name as the Service.
    ObjectPtr labels = json::DeepCopy(json::GetObject(svc, "metadata.labels"));
    if (!labels) labels = Obj();
    labels->set(kEndpointsManagedBy, std::string(kEndpointsController));
    if (Str(svc, "spec.clusterIP") == "None") {
      labels->set("service.kubernetes.io/headless", std::string(""));
    }
    ObjectPtr existing;
    for (auto ep : endpoints) {
      if (Ns(ep) == ns && Name(ep) == name) existing = ep;
    }
    if (!existing) {
      ObjectPtr ep = Obj();
      ep->set("apiVersion", std::string("v1"));
      ep->set("kind", std::string("Endpoints"));
      ObjectPtr meta = Obj();
      meta->set("name", name);
      meta->set("namespace", ns);
      meta->set("labels", labels);
      ep->set("metadata", meta);
      if (subset_list->size() > 0) ep->set("subsets", subset_list);
      Create(kEndpoints, ep);
    } else {
      bool changed = Replace(json::EnsureObject(existing, "metadata"), "labels", labels);
      if (subset_list->size() > 0) {
        changed |= Replace(existing, "subsets", subset_list);
      } else if (existing->has("subsets")) {
        existing->remove("subsets");
        changed = true;
      }
      if (changed) Update(kEndpoints, existing);
    }

    // discovery.k8s.io/v1 EndpointSlice owned by the Service.
    ObjectPtr slice_labels = json::DeepCopy(json::GetObject(svc, "metadata.labels"));
    if (!slice_labels) slice_labels = Obj();
    slice_labels->set(kServiceNameLabel, name);
    slice_labels->set(kSliceManagedBy, std::string(kSliceController));
    ArrayPtr slice_eps = sorted(slice_endpoints);
    std::vector<ObjectPtr> mine;
    for (auto s : slices) {
      if (Ns(s) == ns && Label(s, kServiceNameLabel) == name &&
          Label(s, kSliceManagedBy) == kSliceController) {
        mine.push_back(s);
      }
    }
    for (size_t i = 1; i < mine.size(); ++i) Delete(kSlices, mine[i]);
    auto fill = [&](ObjectPtr slice) {
      bool changed = Replace(json::EnsureObject(slice, "metadata"), "labels", slice_labels);
      changed |= SetString(slice, "addressType", "IPv4");
      changed |= Replace(slice, "endpoints", slice_eps);
      if (slice_ports) {
        changed |= Replace(slice, "ports", slice_ports);
      } else if (slice->has("ports")) {
        slice->remove("ports");
        changed = true;
      }
      return changed;
    };
    if (mine.empty()) {
      ObjectPtr slice = Obj();
      slice->set("apiVersion", std::string("discovery.k8s.io/v1"));
      slice->set("kind", std::string("EndpointSlice"));
      ObjectPtr meta = Obj();
      meta->set("generateName", name + "-");
      meta->set("namespace", ns);
      ArrayPtr refs = Arr();
      refs->add(OwnerRef("v1", "Service", svc));
      meta->set("ownerReferences", refs);
      slice->set("metadata", meta);
      fill(slice);
      Create(kSlices, slice);
    } else if (fill(mine[0])) {
      Update(kSlices, mine[0]);
    }
  }

  // ---- HPA, PDB, PVC, Ingress: status so that kstatus and helm call them ready ----

  void Others() {
    for (auto hpa : List(kHpas)) {
      if (Terminating(hpa)) continue;
      const std::string kind = Str(hpa, "spec.scaleTargetRef.kind");
      const std::string target = Str(hpa, "spec.scaleTargetRef.name");
      int64_t current = Int(hpa, "spec.minReplicas", 1);
      const ResourceRef ref = kind == "StatefulSet"  ? kStatefulSets
                              : kind == "ReplicaSet" ? kReplicaSets
                                                     : kDeployments;
      auto got = store.Get(ref, Ns(hpa), target);
      if (got.ok()) current = Int(got.value(), "spec.replicas", 1);
      const int64_t lo = Int(hpa, "spec.minReplicas", 1);
      const int64_t desired =
          std::clamp(current, lo, std::max(Int(hpa, "spec.maxReplicas", lo), lo));
      ObjectPtr status = Obj();
      status->set("observedGeneration", Int(hpa, "metadata.generation", 1));
      status->set("currentReplicas", current);
      status->set("desiredReplicas", desired);
      status->set("conditions", MergeConditions(json::GetArray(hpa, "status.conditions"),
                                                {{"AbleToScale", "True", "ReadyForNewScale",
                                                  "recommended size matches current size"}},
                                                now_str, false));
      UpdateStatus(kHpas, hpa, status);
    }

    std::vector<ObjectPtr> pods;
    auto pdbs = List(kPdbs);
    if (!pdbs.empty()) pods = List(kPods);
    for (auto pdb : pdbs) {
      if (Terminating(pdb)) continue;
      auto selector = LabelSelector::FromObject(json::GetObject(pdb, "spec.selector"));
      int64_t expected = 0, healthy = 0;
      for (auto p : pods) {
        if (Ns(p) != Ns(pdb) || !PodActive(p)) continue;
        if (!selector.ok() || !selector.value().Matches(json::GetObject(p, "metadata.labels"))) {
          continue;
        }
        ++expected;
        if (PodReady(p)) ++healthy;
      }
      int64_t desired = 0;
      ObjectPtr spec = json::GetObject(pdb, "spec");
      if (spec && spec->has("minAvailable")) {
        desired = Scaled(spec->get("minAvailable"), expected, true, 0);
      } else if (spec && spec->has("maxUnavailable")) {
        desired = expected - Scaled(spec->get("maxUnavailable"), expected, true, 0);
      }
      desired = std::max<int64_t>(desired, 0);
      const int64_t allowed = std::max<int64_t>(healthy - desired, 0);
      ObjectPtr status = Obj();
      status->set("observedGeneration", Int(pdb, "metadata.generation", 1));
      status->set("currentHealthy", healthy);
      status->set("desiredHealthy", desired);
      status->set("expectedPods", expected);
      status->set("disruptionsAllowed", allowed);
      status->set("conditions",
                  MergeConditions(
                      json::GetArray(pdb, "status.conditions"),
                      {allowed > 0 ? Cond{"DisruptionAllowed", "True", "SufficientPods", ""}
                                   : Cond{"DisruptionAllowed", "False", "InsufficientPods", ""}},
                      now_str, false));
      UpdateStatus(kPdbs, pdb, status);
    }

    for (auto pvc : List(kPvcs)) {
      if (Terminating(pvc) || Str(pvc, "status.phase") == "Bound") continue;
      ObjectPtr status = Obj();
      status->set("phase", std::string("Bound"));
      if (ArrayPtr modes = json::GetArray(pvc, "spec.accessModes")) {
        status->set("accessModes", json::DeepCopy(Var(modes)));
      }
      if (auto storage = json::GetString(pvc, "spec.resources.requests.storage")) {
        ObjectPtr capacity = Obj();
        capacity->set("storage", *storage);
        status->set("capacity", capacity);
      }
      UpdateStatus(kPvcs, pvc, status);
    }

    for (auto ing : List(kIngresses)) {
      if (Terminating(ing) || json::GetArray(ing, "status.loadBalancer.ingress")) continue;
      ArrayPtr ingress = Arr();
      ObjectPtr entry = Obj();
      entry->set("ip", std::string(kHostIP));
      ingress->add(entry);
      json::EnsureObject(ing, "status.loadBalancer")->set("ingress", ingress);
      Update(kIngresses, ing);
    }
  }
};

ControllerManager::ControllerManager(Store& store, ControllerOptions options)
    : impl_(std::make_unique<Impl>(store, options)) {}

ControllerManager::~ControllerManager() { Stop(); }

void ControllerManager::Start() {
  std::lock_guard lock(impl_->thread_mu);
  if (impl_->thread.joinable()) return;
  impl_->stop = false;
  impl_->thread = std::thread([impl = impl_.get(), this] {
    for (;;) {
      ReconcileOnce(Clock::now());
      std::unique_lock lock(impl->thread_mu);
      if (impl->cv.wait_for(lock, impl->options.resync, [impl] { return impl->stop; })) break;
    }
  });
}

void ControllerManager::Stop() {
  std::thread thread;
  {
    std::lock_guard lock(impl_->thread_mu);
    impl_->stop = true;
    thread = std::move(impl_->thread);
  }
  impl_->cv.notify_all();
  if (thread.joinable()) thread.join();
}

void ControllerManager::ReconcileOnce(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(impl_->run_mu);
  try {
    impl_->Reconcile(now);
  } catch (const Poco::Exception&) {
    // Never let a malformed object take the controllers down; the next round retries.
  } catch (const std::exception&) {
  }
}

}  // namespace sandbox

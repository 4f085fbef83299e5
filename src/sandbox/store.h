// The sandbox's object store: every Kubernetes object, its resourceVersion bookkeeping, watch
// fan-out, and durability under --data.
//
// Contract:
// - Objects are keyed by (group, resource, namespace, name); namespace is "" for cluster-scoped.
// - One global resourceVersion counter, strictly increasing across restarts. Every successful
//   Create/Update/Delete takes the next value and stamps it into metadata.resourceVersion
//   (as a decimal string).
// - Create sets metadata.uid (random UUID v4), creationTimestamp (RFC 3339, UTC, seconds),
//   generation = 1, and metadata.namespace for namespaced objects. It honours
//   metadata.generateName when name is empty (5 random lowercase alphanumerics appended).
// - Update keeps uid and creationTimestamp from the stored object whatever the caller sent;
//   bumps generation when anything outside `metadata` and `status` changed; a non-empty
//   precondition that differs from the stored resourceVersion is a 409 Conflict with the
//   apiserver's message "the object has been modified; please apply your changes to the
//   latest version and try again". An update that changes nothing keeps the resourceVersion
//   and emits no event.
// - Delete removes the object at once unless metadata.finalizers is non-empty, in which case it
//   sets metadata.deletionTimestamp (an Update); an Update that empties the finalizers of an
//   object carrying deletionTimestamp removes it.
// - Durability: a write is appended to a log under dir before the call returns, so a kill -9
//   at any instant leaves a state that loads; a torn final record is ignored on load. The log
//   is compacted into a snapshot (write temp, fsync, rename) when it grows; a crash during
//   compaction loses nothing.
// - Thread-safe: all methods may be called from any thread.
// - Objects passed in are copied; objects returned are copies the caller may change.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sandbox/api_error.h"
#include "sandbox/json_util.h"

namespace sandbox {

struct ResourceRef {
  std::string group;     // "" for the core group, "apps", "networking.istio.io", ...
  std::string resource;  // plural: "secrets", "deployments", "virtualservices"
  bool operator==(const ResourceRef&) const = default;
  bool operator<(const ResourceRef& o) const {
    return group != o.group ? group < o.group : resource < o.resource;
  }
};

enum class EventType { kAdded, kModified, kDeleted };
const char* EventTypeName(EventType t);  // "ADDED", "MODIFIED", "DELETED"

struct WatchEvent {
  EventType type;
  ResourceRef ref;
  json::ObjectPtr object;     // the object after the change (for DELETED: as it was, with the
                              // deletion's resourceVersion)
  uint64_t resource_version;  // the change's resourceVersion
};

struct ListResult {
  std::vector<json::ObjectPtr> items;  // sorted by namespace, then name
  uint64_t resource_version;           // the store's resourceVersion at the time of the list
};

// Decides whether an object belongs in a list or watch (label/field selectors).
using ObjectFilter = std::function<bool(const json::ObjectPtr&)>;

// A live watch. Events arrive in resourceVersion order.
class Watcher {
 public:
  // Waits up to `timeout` for the next event. nullopt on timeout or once Stop() was called.
  std::optional<WatchEvent> Next(std::chrono::milliseconds timeout);
  void Stop();
  bool stopped() const;

 private:
  friend class Store;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WatchEvent> queue_;
  bool stopped_ = false;
  ResourceRef ref_;
  std::string namespace_;  // "" = all namespaces
  ObjectFilter filter_;
  size_t max_queue_ = 0;  // a watcher this far behind is stopped (the client re-watches)
};

// Tuning knobs; the defaults suit the sandbox. Files under dir: store.snapshot, store.log.
struct StoreOptions {
  bool fsync = false;                   // fsync the log after every write (power loss)
  size_t compact_log_bytes = 4 << 20;   // compact once the log is this large...
  size_t compact_log_records = 10000;   // ...or holds this many records
  size_t watch_history = 10000;         // events retained for since_rv replays
  size_t watcher_queue_limit = 100000;  // undelivered events before a watcher is stopped
};

class Store {
 public:
  // Opens the store persisted under dir (created if absent) and loads what is there.
  // An empty dir keeps everything in memory only (for tests). Reopening a dir restores every
  // object and the resourceVersion counter.
  static Result<std::unique_ptr<Store>> Open(const std::string& dir);
  static Result<std::unique_ptr<Store>> Open(const std::string& dir, const StoreOptions& options);
  ~Store();

  Result<json::ObjectPtr> Create(const ResourceRef& ref, const std::string& ns,
                                 const json::ObjectPtr& obj);
  Result<json::ObjectPtr> Get(const ResourceRef& ref, const std::string& ns,
                              const std::string& name) const;
  // ns "" lists across all namespaces (or the cluster-scoped objects).
  ListResult List(const ResourceRef& ref, const std::string& ns,
                  const ObjectFilter& filter = nullptr) const;
  // precondition_rv: "" for none; otherwise must equal the stored resourceVersion.
  Result<json::ObjectPtr> Update(const ResourceRef& ref, const std::string& ns,
                                 const json::ObjectPtr& obj,
                                 const std::string& precondition_rv = "");
  // Returns the deleted object (or the object now marked with deletionTimestamp).
  Result<json::ObjectPtr> Delete(const ResourceRef& ref, const std::string& ns,
                                 const std::string& name, const std::string& precondition_rv = "");

  // Starts a watch. With since_rv > 0, first replays the retained events after since_rv
  // (410 Gone if they were already dropped from the bounded history); with since_rv == 0 the
  // watch sees only future changes (the caller sends initial ADDED events itself from a List).
  Result<std::shared_ptr<Watcher>> Watch(const ResourceRef& ref, const std::string& ns,
                                         uint64_t since_rv, ObjectFilter filter = nullptr);

  // Every resource type holding at least one object (for namespace cleanup, GC, debugging).
  std::vector<ResourceRef> Resources() const;
  uint64_t CurrentResourceVersion() const;

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

 private:
  Store() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sandbox

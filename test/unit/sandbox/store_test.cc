#include "sandbox/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <Poco/Checksum.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "json_object.h"

namespace sandbox {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

const ResourceRef kSecrets{"", "secrets"};
const ResourceRef kDeploys{"apps", "deployments"};

json::ObjectPtr Named(const std::string& name, const std::string& extra = "") {
  return Obj(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":")" + name + "\"}" +
             (extra.empty() ? "" : "," + extra) + "}");
}

std::string Rv(const json::ObjectPtr& o) {
  return json::GetString(o, "metadata.resourceVersion").value_or("");
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/store_test.XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<Store> MustOpen(const std::string& dir, const StoreOptions& o = {}) {
  auto r = Store::Open(dir, o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : nullptr;
}

// ------------------------------------------------------------------------------------------
// Create / Get / List

TEST(StoreTest, CreateStampsServerFields) {
  auto s = MustOpen("");
  auto r = s->Create(kSecrets, "ns1", Named("a", R"("metadata2":1)"));
  ASSERT_TRUE(r.ok());
  auto o = r.value();
  EXPECT_EQ(json::GetString(o, "metadata.namespace"), "ns1");
  EXPECT_EQ(json::GetInt(o, "metadata.generation"), 1);
  EXPECT_EQ(Rv(o), std::to_string(s->CurrentResourceVersion()));
  auto uid = json::GetString(o, "metadata.uid").value_or("");
  EXPECT_EQ(uid.size(), 36u);
  EXPECT_EQ(uid[14], '4');  // UUID v4
  auto ts = json::GetString(o, "metadata.creationTimestamp").value_or("");
  EXPECT_EQ(ts.size(), 20u);
  EXPECT_EQ(ts.back(), 'Z');
  EXPECT_EQ(ts[10], 'T');
}

TEST(StoreTest, CreateCopiesInputAndGetReturnsCopies) {
  auto s = MustOpen("");
  auto in = Named("a", R"("data":{"k":"djE="})");
  ASSERT_TRUE(s->Create(kSecrets, "ns", in).ok());
  in->getObject("data")->set("k", "changed");
  auto g1 = s->Get(kSecrets, "ns", "a");
  ASSERT_TRUE(g1.ok());
  EXPECT_EQ(json::GetString(g1.value(), "data.k"), "djE=");
  g1.value()->getObject("data")->set("k", "mutated");
  EXPECT_EQ(json::GetString(s->Get(kSecrets, "ns", "a").value(), "data.k"), "djE=");
  EXPECT_FALSE(json::GetString(in, "metadata.uid"));  // the caller's object is not touched
}

TEST(StoreTest, CreateDuplicateIsAlreadyExists) {
  auto s = MustOpen("");
  ASSERT_TRUE(s->Create(kSecrets, "ns", Named("a")).ok());
  auto r = s->Create(kSecrets, "ns", Named("a"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 409);
  EXPECT_EQ(r.error().reason, "AlreadyExists");
  EXPECT_EQ(r.error().message, "secrets \"a\" already exists");
  // Same name in another namespace or another resource is fine.
  EXPECT_TRUE(s->Create(kSecrets, "other", Named("a")).ok());
  EXPECT_TRUE(s->Create(ResourceRef{"", "configmaps"}, "ns", Named("a")).ok());
}

TEST(StoreTest, CreateWithoutNameIsInvalid) {
  auto s = MustOpen("");
  auto r = s->Create(kSecrets, "ns", Obj(R"({"kind":"Secret","metadata":{}})"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 422);
  EXPECT_EQ(s->CurrentResourceVersion(), 0u);
}

TEST(StoreTest, GenerateNameAppendsFiveChars) {
  auto s = MustOpen("");
  std::set<std::string> names;
  for (int i = 0; i < 20; ++i) {
    auto r = s->Create(kSecrets, "ns", Obj(R"({"metadata":{"generateName":"web-"}})"));
    ASSERT_TRUE(r.ok());
    std::string name = json::GetString(r.value(), "metadata.name").value_or("");
    ASSERT_EQ(name.size(), 9u);
    EXPECT_EQ(name.substr(0, 4), "web-");
    for (char c : name.substr(4)) EXPECT_TRUE(std::isdigit(c) || std::islower(c)) << name;
    EXPECT_TRUE(s->Get(kSecrets, "ns", name).ok());
    names.insert(name);
  }
  EXPECT_EQ(names.size(), 20u);
}

TEST(StoreTest, ClusterScopedDropsNamespace) {
  auto s = MustOpen("");
  auto r = s->Create(ResourceRef{"", "namespaces"}, "",
                     Obj(R"({"metadata":{"name":"x","namespace":"bogus"}})"));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(json::GetString(r.value(), "metadata.namespace"));
  EXPECT_TRUE(s->Get(ResourceRef{"", "namespaces"}, "", "x").ok());
}

TEST(StoreTest, GetMissingIsNotFound) {
  auto s = MustOpen("");
  auto r = s->Get(kDeploys, "ns", "nope");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 404);
  EXPECT_EQ(r.error().message, "deployments.apps \"nope\" not found");
}

TEST(StoreTest, ListSortsAndScopes) {
  auto s = MustOpen("");
  for (auto [ns, name] : std::vector<std::pair<std::string, std::string>>{
           {"b", "z"}, {"a", "y"}, {"b", "a"}, {"a", "x"}}) {
    ASSERT_TRUE(s->Create(kSecrets, ns, Named(name)).ok());
  }
  ASSERT_TRUE(s->Create(ResourceRef{"", "secretsx"}, "a", Named("q")).ok());
  ASSERT_TRUE(s->Create(ResourceRef{"", "secret"}, "a", Named("q")).ok());
  auto all = s->List(kSecrets, "");
  std::vector<std::string> got;
  for (auto& o : all.items) {
    got.push_back(*json::GetString(o, "metadata.namespace") + "/" +
                  *json::GetString(o, "metadata.name"));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"a/x", "a/y", "b/a", "b/z"}));
  EXPECT_EQ(all.resource_version, s->CurrentResourceVersion());
  EXPECT_EQ(s->List(kSecrets, "b").items.size(), 2u);
  EXPECT_EQ(s->List(kSecrets, "c").items.size(), 0u);
  auto filtered = s->List(kSecrets, "", [](const json::ObjectPtr& o) {
    return json::GetString(o, "metadata.name") == "y";
  });
  ASSERT_EQ(filtered.items.size(), 1u);
  auto refs = s->Resources();
  EXPECT_EQ(refs, (std::vector<ResourceRef>{{"", "secret"}, {"", "secrets"}, {"", "secretsx"}}));
}

// ------------------------------------------------------------------------------------------
// Update

TEST(StoreTest, UpdateKeepsUidAndCreationTimestamp) {
  auto s = MustOpen("");
  auto c = s->Create(kSecrets, "ns", Named("a", R"("data":{"k":"MQ=="})")).value();
  auto upd =
      Obj(R"({"metadata":{"name":"a","uid":"forged","creationTimestamp":"1999-01-01T00:00:00Z",
                    "generation":77},"data":{"k":"Mg=="}})");
  auto u = s->Update(kSecrets, "ns", upd);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(json::GetString(u.value(), "metadata.uid"), json::GetString(c, "metadata.uid"));
  EXPECT_EQ(json::GetString(u.value(), "metadata.creationTimestamp"),
            json::GetString(c, "metadata.creationTimestamp"));
  EXPECT_EQ(json::GetString(u.value(), "metadata.namespace"), "ns");
  EXPECT_GT(std::stoull(Rv(u.value())), std::stoull(Rv(c)));
  EXPECT_EQ(json::GetString(s->Get(kSecrets, "ns", "a").value(), "data.k"), "Mg==");
}

TEST(StoreTest, GenerationBumpsOnlyOutsideMetadataAndStatus) {
  auto s = MustOpen("");
  auto base = R"({"metadata":{"name":"d","labels":{"a":"1"}},"spec":{"replicas":1}})";
  ASSERT_TRUE(s->Create(kDeploys, "ns", Obj(base)).ok());
  auto gen = [&] {
    return json::GetInt(s->Get(kDeploys, "ns", "d").value(), "metadata.generation").value_or(-1);
  };
  ASSERT_TRUE(
      s->Update(kDeploys, "ns",
                Obj(R"({"metadata":{"name":"d","labels":{"a":"2"}},"spec":{"replicas":1}})"))
          .ok());
  EXPECT_EQ(gen(), 1);
  ASSERT_TRUE(s->Update(kDeploys, "ns",
                        Obj(R"({"metadata":{"name":"d","labels":{"a":"2"}},"spec":{"replicas":1},
                                "status":{"readyReplicas":1}})"))
                  .ok());
  EXPECT_EQ(gen(), 1);
  ASSERT_TRUE(s->Update(kDeploys, "ns",
                        Obj(R"({"metadata":{"name":"d","labels":{"a":"2"}},"spec":{"replicas":3},
                                "status":{"readyReplicas":1}})"))
                  .ok());
  EXPECT_EQ(gen(), 2);
  // 3 vs 3.0 is no change.
  auto same = s->Update(kDeploys, "ns",
                        Obj(R"({"metadata":{"name":"d","labels":{"a":"2"}},"spec":{"replicas":3.0},
                                "status":{"readyReplicas":1}})"));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(gen(), 2);
}

TEST(StoreTest, NoOpUpdateKeepsResourceVersionAndEmitsNothing) {
  auto s = MustOpen("");
  auto c = s->Create(kSecrets, "ns", Obj(R"({"metadata":{"name":"a","managedFields":[{"manager":"m",
                            "time":"2024-01-01T00:00:00Z"}]},"data":{}})"))
               .value();
  auto w = s->Watch(kSecrets, "", 0).value();
  uint64_t rv = s->CurrentResourceVersion();
  auto again = json::DeepCopy(c);
  again->getObject("metadata")->set("resourceVersion", "12345");
  again->getObject("metadata")
      ->getArray("managedFields")
      ->getObject(0)
      ->set("time", "2025-05-05T00:00:00Z");
  auto u = s->Update(kSecrets, "ns", again);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(Rv(u.value()), Rv(c));
  EXPECT_EQ(s->CurrentResourceVersion(), rv);
  EXPECT_FALSE(w->Next(milliseconds(20)));
  // A managedFields change other than time is a change.
  again->getObject("metadata")->getArray("managedFields")->getObject(0)->set("manager", "n");
  auto u2 = s->Update(kSecrets, "ns", again);
  ASSERT_TRUE(u2.ok());
  EXPECT_NE(Rv(u2.value()), Rv(c));
  auto ev = w->Next(milliseconds(100));
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->type, EventType::kModified);
}

TEST(StoreTest, UpdatePreconditionConflict) {
  auto s = MustOpen("");
  auto c = s->Create(kSecrets, "ns", Named("a")).value();
  auto stale = Rv(c);
  ASSERT_TRUE(s->Update(kSecrets, "ns", Named("a", R"("data":{"x":"eA=="})"), stale).ok());
  auto r = s->Update(kSecrets, "ns", Named("a", R"("data":{"x":"eQ=="})"), stale);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 409);
  EXPECT_EQ(r.error().reason, "Conflict");
  EXPECT_EQ(r.error().message,
            "Operation cannot be fulfilled on secrets \"a\": the object has been modified; "
            "please apply your changes to the latest version and try again");
  EXPECT_EQ(json::GetString(s->Get(kSecrets, "ns", "a").value(), "data.x"), "eA==");
}

TEST(StoreTest, UpdateMissingIsNotFound) {
  auto s = MustOpen("");
  auto r = s->Update(kSecrets, "ns", Named("ghost"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 404);
}

// ------------------------------------------------------------------------------------------
// Delete

TEST(StoreTest, DeleteRemovesAndReturnsObjectWithNewRv) {
  auto s = MustOpen("");
  auto c = s->Create(kSecrets, "ns", Named("a")).value();
  auto d = s->Delete(kSecrets, "ns", "a");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(Rv(d.value()), std::to_string(s->CurrentResourceVersion()));
  EXPECT_NE(Rv(d.value()), Rv(c));
  EXPECT_EQ(s->Get(kSecrets, "ns", "a").error().code, 404);
  EXPECT_EQ(s->Delete(kSecrets, "ns", "a").error().code, 404);
  EXPECT_TRUE(s->Resources().empty());
}

TEST(StoreTest, DeletePreconditionConflict) {
  auto s = MustOpen("");
  ASSERT_TRUE(s->Create(kSecrets, "ns", Named("a")).ok());
  auto r = s->Delete(kSecrets, "ns", "a", "999");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 409);
  EXPECT_TRUE(s->Get(kSecrets, "ns", "a").ok());
}

TEST(StoreTest, FinalizersDeferDeletion) {
  auto s = MustOpen("");
  ASSERT_TRUE(
      s->Create(kSecrets, "ns", Obj(R"({"metadata":{"name":"a","finalizers":["x/y"]},"data":{}})"))
          .ok());
  auto w = s->Watch(kSecrets, "ns", 0).value();
  auto d = s->Delete(kSecrets, "ns", "a");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(json::GetString(d.value(), "metadata.deletionTimestamp"));
  EXPECT_EQ(json::GetInt(d.value(), "metadata.generation"), 2);
  auto got = s->Get(kSecrets, "ns", "a");
  ASSERT_TRUE(got.ok());
  auto ev = w->Next(milliseconds(100));
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->type, EventType::kModified);
  uint64_t rv = s->CurrentResourceVersion();
  // A second delete changes nothing.
  ASSERT_TRUE(s->Delete(kSecrets, "ns", "a").ok());
  EXPECT_EQ(s->CurrentResourceVersion(), rv);
  // An update cannot clear deletionTimestamp; one that keeps a finalizer keeps the object.
  auto keep = Obj(R"({"metadata":{"name":"a","finalizers":["x/y","z"]},"data":{}})");
  auto u = s->Update(kSecrets, "ns", keep);
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(json::GetString(u.value(), "metadata.deletionTimestamp"));
  ASSERT_TRUE(w->Next(milliseconds(100)));
  // Emptying the finalizers removes it, with a DELETED event at a new rv.
  auto u2 =
      s->Update(kSecrets, "ns", Obj(R"({"metadata":{"name":"a","finalizers":[]},"data":{}})"));
  ASSERT_TRUE(u2.ok());
  EXPECT_EQ(s->Get(kSecrets, "ns", "a").error().code, 404);
  ev = w->Next(milliseconds(100));
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->type, EventType::kDeleted);
  EXPECT_EQ(ev->resource_version, s->CurrentResourceVersion());
  EXPECT_EQ(Rv(ev->object), std::to_string(ev->resource_version));
}

// ------------------------------------------------------------------------------------------
// Watch

TEST(StoreTest, WatchSeesFutureEventsInOrder) {
  auto s = MustOpen("");
  ASSERT_TRUE(s->Create(kSecrets, "ns", Named("before")).ok());
  auto w = s->Watch(kSecrets, "ns", 0).value();
  ASSERT_TRUE(s->Create(kSecrets, "ns", Named("a")).ok());
  ASSERT_TRUE(s->Create(kSecrets, "other", Named("b")).ok());  // other namespace
  ASSERT_TRUE(s->Create(kDeploys, "ns", Named("c")).ok());     // other resource
  ASSERT_TRUE(s->Update(kSecrets, "ns", Named("a", R"("data":{"k":"dg=="})")).ok());
  ASSERT_TRUE(s->Delete(kSecrets, "ns", "a").ok());
  std::vector<std::pair<EventType, std::string>> got;
  uint64_t last = 0;
  while (auto ev = w->Next(milliseconds(50))) {
    EXPECT_GT(ev->resource_version, last);
    last = ev->resource_version;
    EXPECT_EQ(Rv(ev->object), std::to_string(ev->resource_version));
    got.emplace_back(ev->type, *json::GetString(ev->object, "metadata.name"));
  }
  EXPECT_EQ(
      got, (std::vector<std::pair<EventType, std::string>>{
               {EventType::kAdded, "a"}, {EventType::kModified, "a"}, {EventType::kDeleted, "a"}}));
  EXPECT_STREQ(EventTypeName(EventType::kModified), "MODIFIED");
}

TEST(StoreTest, WatchEventObjectsAreIndependentCopies) {
  auto s = MustOpen("");
  auto w1 = s->Watch(kSecrets, "", 0).value();
  auto w2 = s->Watch(kSecrets, "", 0).value();
  ASSERT_TRUE(s->Create(kSecrets, "ns", Named("a", R"("data":{"k":"MQ=="})")).ok());
  auto e1 = w1->Next(milliseconds(100));
  ASSERT_TRUE(e1);
  e1->object->getObject("data")->set("k", "changed");
  auto e2 = w2->Next(milliseconds(100));
  ASSERT_TRUE(e2);
  EXPECT_EQ(json::GetString(e2->object, "data.k"), "MQ==");
  EXPECT_EQ(json::GetString(s->Get(kSecrets, "ns", "a").value(), "data.k"), "MQ==");
}

TEST(StoreTest, WatchFilterTransitionsBecomeAddedAndDeleted) {
  auto s = MustOpen("");
  ASSERT_TRUE(s->Create(kSecrets, "ns", Named("a", R"("type":"x")")).ok());
  auto w = s->Watch(kSecrets, "", 0,
                    [](const json::ObjectPtr& o) { return json::GetString(o, "type") == "y"; });
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(s->Update(kSecrets, "ns", Named("a", R"("type":"y")")).ok());
  ASSERT_TRUE(s->Update(kSecrets, "ns", Named("a", R"("type":"y","data":{})")).ok());
  ASSERT_TRUE(s->Update(kSecrets, "ns", Named("a", R"("type":"z")")).ok());
  ASSERT_TRUE(s->Update(kSecrets, "ns", Named("a", R"("type":"w")")).ok());
  std::vector<EventType> got;
  while (auto ev = w.value()->Next(milliseconds(50))) got.push_back(ev->type);
  EXPECT_EQ(got,
            (std::vector<EventType>{EventType::kAdded, EventType::kModified, EventType::kDeleted}));
}

TEST(StoreTest, WatchSinceRvReplaysAfterList) {
  auto s = MustOpen("");
  ASSERT_TRUE(s->Create(kSecrets, "ns", Named("a")).ok());
  auto list = s->List(kSecrets, "ns");
  ASSERT_TRUE(s->Create(kSecrets, "ns", Named("b")).ok());
  ASSERT_TRUE(s->Create(kSecrets, "zz", Named("c")).ok());
  ASSERT_TRUE(s->Delete(kSecrets, "ns", "a").ok());
  auto w = s->Watch(kSecrets, "ns", list.resource_version);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(s->Create(kSecrets, "ns", Named("d")).ok());
  std::vector<std::string> got;
  while (auto ev = w.value()->Next(milliseconds(50))) {
    got.push_back(std::string(EventTypeName(ev->type)) + " " +
                  *json::GetString(ev->object, "metadata.name"));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"ADDED b", "DELETED a", "ADDED d"}));
}

TEST(StoreTest, WatchTooOldIsGone) {
  StoreOptions o;
  o.watch_history = 3;
  auto s = MustOpen("", o);
  for (int i = 0; i < 6; ++i)
    ASSERT_TRUE(s->Create(kSecrets, "ns", Named("n" + std::to_string(i))).ok());
  // rv 1..6; history keeps 4,5,6, so since_rv 3 still works and 2 does not.
  auto ok = s->Watch(kSecrets, "", 3);
  ASSERT_TRUE(ok.ok());
  int n = 0;
  while (ok.value()->Next(milliseconds(20))) ++n;
  EXPECT_EQ(n, 3);
  auto gone = s->Watch(kSecrets, "", 2);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, 410);
  EXPECT_EQ(gone.error().message, "too old resource version: 2 (3)");
}

TEST(StoreTest, StopWakesWaiter) {
  auto s = MustOpen("");
  auto w = s->Watch(kSecrets, "", 0).value();
  std::thread t([&] {
    std::this_thread::sleep_for(milliseconds(30));
    w->Stop();
  });
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(w->Next(milliseconds(5000)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
  EXPECT_TRUE(w->stopped());
  t.join();
  // A stopped watcher is dropped and gets nothing more.
  ASSERT_TRUE(s->Create(kSecrets, "ns", Named("a")).ok());
  EXPECT_FALSE(w->Next(milliseconds(10)));
}

TEST(StoreTest, SlowWatcherIsStoppedAtQueueLimit) {
  StoreOptions o;
  o.watcher_queue_limit = 2;
  auto s = MustOpen("", o);
  auto w = s->Watch(kSecrets, "", 0).value();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s->Create(kSecrets, "ns", Named(std::to_string(i))).ok());
  EXPECT_TRUE(w->stopped());
}

TEST(StoreTest, ConcurrentWritersAndWatcherSeeEveryEventInOrder) {
  // On disk with tiny compaction thresholds, so background compactions race the writers.
  TempDir dir;
  StoreOptions o;
  o.compact_log_records = 50;
  auto s = MustOpen(dir.path(), o);
  auto w = s->Watch(kSecrets, "", 0).value();
  constexpr int kThreads = 4, kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
        ASSERT_TRUE(s->Create(kSecrets, "ns", Named(name)).ok());
        ASSERT_TRUE(s->Update(kSecrets, "ns", Named(name, R"("data":{"x":"eA=="})")).ok());
        (void)s->Get(kSecrets, "ns", name);
        // A filtered list still walks every object under the read lock.
        auto mine = s->List(kSecrets, "ns", [&](const json::ObjectPtr& o) {
          return json::GetString(o, "metadata.name") == name;
        });
        ASSERT_EQ(mine.items.size(), 1u);
      }
    });
  }
  uint64_t last = 0;
  int count = 0;
  std::set<std::string> added;
  while (count < kThreads * kPerThread * 2) {
    auto ev = w->Next(milliseconds(5000));
    ASSERT_TRUE(ev) << "after " << count << " events";
    EXPECT_EQ(ev->resource_version, last + 1);  // every write, no gaps, in order
    last = ev->resource_version;
    std::string name = *json::GetString(ev->object, "metadata.name");
    if (ev->type == EventType::kAdded) {
      added.insert(name);
    } else {
      EXPECT_TRUE(added.count(name)) << "MODIFIED before ADDED: " << name;
    }
    ++count;
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(s->CurrentResourceVersion(), last);
  EXPECT_EQ(s->List(kSecrets, "ns").items.size(), static_cast<size_t>(kThreads * kPerThread));
  s.reset();
  auto reopened = MustOpen(dir.path(), o);
  EXPECT_EQ(reopened->CurrentResourceVersion(), last);
  auto all = reopened->List(kSecrets, "ns");
  ASSERT_EQ(all.items.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const auto& item : all.items) EXPECT_EQ(json::GetString(item, "data.x"), "eA==");
}

// ------------------------------------------------------------------------------------------
// Durability

TEST(StorePersistenceTest, ReopenRestoresObjectsAndCounter) {
  TempDir dir;
  std::string uid;
  uint64_t rv;
  {
    auto s = MustOpen(dir.path());
    uid = *json::GetString(s->Create(kSecrets, "ns", Named("a")).value(), "metadata.uid");
    ASSERT_TRUE(s->Create(kSecrets, "ns", Named("b")).ok());
    ASSERT_TRUE(s->Create(kDeploys, "ns", Named("d", R"("spec":{"r":1})")).ok());
    ASSERT_TRUE(s->Update(kDeploys, "ns", Named("d", R"("spec":{"r":2})")).ok());
    ASSERT_TRUE(s->Delete(kSecrets, "ns", "b").ok());
    rv = s->CurrentResourceVersion();
  }
  auto s = MustOpen(dir.path());
  EXPECT_EQ(s->CurrentResourceVersion(), rv);
  EXPECT_EQ(json::GetString(s->Get(kSecrets, "ns", "a").value(), "metadata.uid"), uid);
  EXPECT_EQ(s->Get(kSecrets, "ns", "b").error().code, 404);
  auto d = s->Get(kDeploys, "ns", "d").value();
  EXPECT_EQ(json::GetInt(d, "spec.r"), 2);
  EXPECT_EQ(json::GetInt(d, "metadata.generation"), 2);
  auto c = s->Create(kSecrets, "ns", Named("c"));
  EXPECT_EQ(Rv(c.value()), std::to_string(rv + 1));
  // A watch from the reopened rv works; an older one is gone.
  EXPECT_TRUE(s->Watch(kSecrets, "", rv).ok());
  EXPECT_EQ(s->Watch(kSecrets, "", rv - 1).error().code, 410);
}

TEST(StorePersistenceTest, TornLastRecordIsIgnored) {
  TempDir dir;
  std::string log = dir.path() + "/store.log";
  {
    auto s = MustOpen(dir.path());
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(s->Create(kSecrets, "ns", Named("o" + std::to_string(i))).ok());
  }
  auto full = fs::file_size(log);
  std::string original;
  {
    std::ifstream in(log, std::ios::binary);
    original.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Cut 1 byte (the newline), a few bytes, into the header, and leave only a prefix of the length.
  auto last_start = original.rfind('\n', original.size() - 2) + 1;
  for (size_t cut : {size_t{1}, size_t{5}, full - last_start - 12, full - last_start - 1}) {
    SCOPED_TRACE("cut " + std::to_string(cut));
    {
      std::ofstream out(log, std::ios::binary | std::ios::trunc);
      out.write(original.data(), static_cast<std::streamsize>(full - cut));
    }
    auto s = MustOpen(dir.path());
    EXPECT_EQ(s->CurrentResourceVersion(), 2u);
    EXPECT_TRUE(s->Get(kSecrets, "ns", "o1").ok());
    EXPECT_EQ(s->Get(kSecrets, "ns", "o2").error().code, 404);
    // The torn tail is cut off, so a new write survives the next reopen.
    ASSERT_TRUE(s->Create(kSecrets, "ns", Named("new")).ok());
    s.reset();
    auto again = MustOpen(dir.path());
    EXPECT_TRUE(again->Get(kSecrets, "ns", "new").ok());
    EXPECT_EQ(again->CurrentResourceVersion(), 3u);
  }
}

TEST(StorePersistenceTest, CorruptMiddleRecordStopsReplay) {
  TempDir dir;
  std::string log = dir.path() + "/store.log";
  {
    auto s = MustOpen(dir.path());
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(s->Create(kSecrets, "ns", Named("o" + std::to_string(i))).ok());
  }
  std::string data;
  {
    std::ifstream in(log, std::ios::binary);
    data.assign(std::istreambuf_iterator<char>(in), {});
  }
  size_t second = data.find('\n') + 1;
  size_t at = data.find("o1", second);
  ASSERT_NE(at, std::string::npos);
  data[at] = 'X';  // payload changes, CRC no longer matches
  {
    std::ofstream out(log, std::ios::binary | std::ios::trunc);
    out << data;
  }
  auto s = MustOpen(dir.path());
  EXPECT_TRUE(s->Get(kSecrets, "ns", "o0").ok());
  EXPECT_EQ(s->Get(kSecrets, "ns", "o1").error().code, 404);
  EXPECT_EQ(s->Get(kSecrets, "ns", "o2").error().code, 404);
  EXPECT_EQ(s->CurrentResourceVersion(), 1u);
  ASSERT_TRUE(s->Create(kSecrets, "ns", Named("after")).ok());
  s.reset();
  auto again = MustOpen(dir.path());
  EXPECT_TRUE(again->Get(kSecrets, "ns", "after").ok());
  EXPECT_TRUE(again->Get(kSecrets, "ns", "o0").ok());
}

TEST(StorePersistenceTest, CrashAfterLogRotationBeforeSnapshot) {
  // A compaction rotates store.log to store.log.old before writing the snapshot; a crash
  // there leaves an old snapshot, store.log.old and a new store.log. All three are read.
  TempDir dir;
  {
    auto s = MustOpen(dir.path());
    ASSERT_TRUE(s->Create(kSecrets, "ns", Named("a")).ok());
    ASSERT_TRUE(s->Create(kSecrets, "ns", Named("b")).ok());
  }
  fs::rename(dir.path() + "/store.log", dir.path() + "/store.log.old");
  {
    auto s = MustOpen(dir.path());
    EXPECT_EQ(s->CurrentResourceVersion(), 2u);
    EXPECT_FALSE(fs::exists(dir.path() + "/store.log.old"));  // folded into a snapshot
    ASSERT_TRUE(s->Delete(kSecrets, "ns", "a").ok());
  }
}

TEST(StorePersistenceTest, OldLogIsReplayedBeforeTheCurrentOne) {
  TempDir dir;
  {
    auto s = MustOpen(dir.path());
    ASSERT_TRUE(s->Create(kSecrets, "ns", Named("a")).ok());
    ASSERT_TRUE(s->Create(kSecrets, "ns", Named("b")).ok());
    ASSERT_TRUE(s->Delete(kSecrets, "ns", "a").ok());
    ASSERT_TRUE(s->Create(kSecrets, "ns", Named("a", R"("data":{"v":"Mg=="})")).ok());
  }
  // Split the log after its second record: records 1-2 in store.log.old, 3-4 in store.log.
  std::string text;
  {
    std::ifstream in(dir.path() + "/store.log", std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  size_t split = text.find('\n', text.find('\n') + 1) + 1;
  std::ofstream(dir.path() + "/store.log.old", std::ios::binary) << text.substr(0, split);
  std::ofstream(dir.path() + "/store.log", std::ios::binary | std::ios::trunc)
      << text.substr(split);
  auto s = MustOpen(dir.path());
  EXPECT_EQ(s->CurrentResourceVersion(), 4u);
  auto a = s->Get(kSecrets, "ns", "a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(json::GetString(a.value(), "data.v"), "Mg==");
  EXPECT_TRUE(s->Get(kSecrets, "ns", "b").ok());
}

TEST(StorePersistenceTest, ValuesRoundTripThroughTheLog) {
  TempDir dir;
  auto obj = Obj(R"({"metadata":{"name":"v"},"data":{
      "quote":"a\"b","backslash":"c\\d","ctl":"\n\t\r\u0001\u001f","uni":"h\u00e9llo \u4e16 \ud83d\ude00",
      "slash":"</x>"},"n":{"neg":-42,"big":18446744073709551615,"dbl":1.25,"tiny":1e-7,
      "zero":0,"t":true,"f":false,"nul":null},"arr":[[],{},[1,"x",null],{"k":[{"z":1}]}]})");
  auto with_bad_utf8 = Named("bad");
  with_bad_utf8->set("s", std::string("ok\xff\xc3(end\xe2\x82"));
  {
    auto s = MustOpen(dir.path());
    ASSERT_TRUE(s->Create(kSecrets, "ns", obj).ok());
    ASSERT_TRUE(s->Create(kSecrets, "ns", with_bad_utf8).ok());
  }
  auto s = MustOpen(dir.path());
  auto got = s->Get(kSecrets, "ns", "v");
  ASSERT_TRUE(got.ok());
  for (const char* key : {"data", "n", "arr"}) {
    EXPECT_TRUE(json::Equal(got.value()->get(key), obj->get(key)))
        << key << ": " << json::Stringify(got.value()->get(key));
  }
  auto bad = s->Get(kSecrets, "ns", "bad");
  ASSERT_TRUE(bad.ok());  // invalid UTF-8 must not make the record unloadable
  EXPECT_EQ(json::GetString(bad.value(), "s"),
            "ok\xef\xbf\xbd\xef\xbf\xbd(end\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(StorePersistenceTest, IntactButUnreadableRecordIsSkippedAlone) {
  TempDir dir;
  std::string log = dir.path() + "/store.log";
  {
    auto s = MustOpen(dir.path());
    ASSERT_TRUE(s->Create(kSecrets, "ns", Named("a")).ok());
    ASSERT_TRUE(s->Create(kSecrets, "ns", Named("b")).ok());
  }
  std::string data;
  {
    std::ifstream in(log, std::ios::binary);
    data.assign(std::istreambuf_iterator<char>(in), {});
  }
  // A frame with a correct length and CRC but content that is not a record, between the two.
  std::string payload = R"({"op":"put"})";
  Poco::Checksum crc(Poco::Checksum::TYPE_CRC32);
  crc.update(payload.data(), static_cast<unsigned>(payload.size()));
  char head[32];
  std::snprintf(head, sizeof head, "%zu %08x ", payload.size(), crc.checksum());
  data.insert(data.find('\n') + 1, std::string(head) + payload + "\n");
  {
    std::ofstream out(log, std::ios::binary | std::ios::trunc);
    out << data;
  }
  auto s = MustOpen(dir.path());
  EXPECT_TRUE(s->Get(kSecrets, "ns", "a").ok());
  EXPECT_TRUE(s->Get(kSecrets, "ns", "b").ok());
  EXPECT_EQ(s->CurrentResourceVersion(), 2u);
}

TEST(StorePersistenceTest, GarbageFilesDoNotCrash) {
  TempDir dir;
  {
    std::ofstream(dir.path() + "/store.snapshot") << "999999999999 zzzz {\n\x01\x02";
    std::ofstream(dir.path() + "/store.log") << "12 00000000 {\"op\":\"put\"}\nrandom";
  }
  auto r = Store::Open(dir.path());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value()->Resources().empty());
  EXPECT_TRUE(r.value()->Create(kSecrets, "ns", Named("a")).ok());
}

TEST(StorePersistenceTest, CompactionKeepsEverything) {
  TempDir dir;
  StoreOptions o;
  o.compact_log_records = 10;
  o.compact_log_bytes = 1 << 30;
  uint64_t rv;
  {
    auto s = MustOpen(dir.path(), o);
    for (int i = 0; i < 25; ++i) {
      std::string name = "o" + std::to_string(i);
      ASSERT_TRUE(s->Create(kSecrets, "ns", Named(name)).ok());
      if (i % 3 == 0) {
        ASSERT_TRUE(s->Delete(kSecrets, "ns", name).ok());
      }
    }
    rv = s->CurrentResourceVersion();
  }
  // Closing waits for a running compaction; what it leaves is a snapshot and a short log.
  EXPECT_TRUE(fs::exists(dir.path() + "/store.snapshot"));
  EXPECT_FALSE(fs::exists(dir.path() + "/store.log.old"));
  std::ifstream log_in(dir.path() + "/store.log", std::ios::binary);
  std::string log_text((std::istreambuf_iterator<char>(log_in)), {});
  EXPECT_EQ(log_text.find("\"n\":\"o1\""), std::string::npos);  // early records are gone
  auto s = MustOpen(dir.path(), o);
  EXPECT_EQ(s->CurrentResourceVersion(), rv);
  for (int i = 0; i < 25; ++i) {
    bool present = s->Get(kSecrets, "ns", "o" + std::to_string(i)).ok();
    EXPECT_EQ(present, i % 3 != 0) << i;
  }
}

TEST(StorePersistenceTest, CrashAfterSnapshotRenameBeforeLogTruncate) {
  // Simulate the crash window: a fresh snapshot beside the old, full log. Records the
  // snapshot covers must not be replayed twice (a delete then re-create would break).
  TempDir dir, other;
  StoreOptions big;
  StoreOptions small;
  small.compact_log_records = 1;
  {
    auto s = MustOpen(dir.path(), big);
    ASSERT_TRUE(s->Create(kSecrets, "ns", Named("a")).ok());
    ASSERT_TRUE(s->Create(kSecrets, "ns", Named("b")).ok());
  }
  fs::copy_file(dir.path() + "/store.log", other.path() + "/saved.log");
  {
    auto s = MustOpen(dir.path(), small);
    ASSERT_TRUE(s->Delete(kSecrets, "ns", "a").ok());  // compacts
    EXPECT_EQ(fs::file_size(dir.path() + "/store.log"), 0u);
  }
  // Put back the old log (rv 1..2), as if truncation never happened: replaying it would
  // resurrect "a".
  fs::copy_file(other.path() + "/saved.log", dir.path() + "/store.log",
                fs::copy_options::overwrite_existing);
  auto s = MustOpen(dir.path(), big);
  EXPECT_EQ(s->CurrentResourceVersion(), 3u);
  EXPECT_EQ(s->Get(kSecrets, "ns", "a").error().code, 404);
  EXPECT_TRUE(s->Get(kSecrets, "ns", "b").ok());
  ASSERT_TRUE(s->Create(kSecrets, "ns", Named("c")).ok());
  // A leftover temp snapshot from a crash mid-write is ignored.
  std::ofstream(dir.path() + "/store.snapshot.tmp") << "partial";
  s.reset();
  auto again = MustOpen(dir.path(), big);
  EXPECT_TRUE(again->Get(kSecrets, "ns", "c").ok());
}

}  // namespace
}  // namespace sandbox

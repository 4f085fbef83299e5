#include "sandbox/apply.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "sandbox/patch.h"

namespace sandbox::apply {
namespace {

using json::Array;
using json::ArrayPtr;
using json::Object;
using json::ObjectPtr;
using json::Var;
using patch::ListStrategy;

// ---------------------------------------------------------------------------------------------
// Field sets, as the FieldsV1 trees of managedFields: children are keyed "f:<field>",
// "k:<json of the merge key>", "v:<json value>" (or "i:<index>" from elsewhere); a node is a
// member when the path itself is owned ("." in FieldsV1, or a leaf {}).

struct FieldSet {
  bool member = false;
  std::map<std::string, FieldSet> children;

  bool Empty() const { return !member && children.empty(); }
  bool operator==(const FieldSet& other) const = default;
};

FieldSet FromFieldsV1(const ObjectPtr& obj) {
  FieldSet out;
  if (!obj || obj->size() == 0) {
    out.member = true;
    return out;
  }
  for (const auto& [key, value] : *obj) {
    if (key == ".") {
      out.member = true;
      continue;
    }
    out.children[key] = FromFieldsV1(json::AsObject(value));
  }
  return out;
}

ObjectPtr ToFieldsV1(const FieldSet& set) {
  ObjectPtr out = new Object;
  if (set.member && !set.children.empty()) out->set(".", ObjectPtr(new Object));
  for (const auto& [key, child] : set.children) out->set(key, ToFieldsV1(child));
  return out;
}

void Union(FieldSet& into, const FieldSet& other) {
  into.member = into.member || other.member;
  for (const auto& [key, child] : other.children) Union(into.children[key], child);
}

// Removes the members of `other` from `from`, dropping nodes left with nothing.
void Subtract(FieldSet& from, const FieldSet& other) {
  if (other.member) from.member = false;
  for (const auto& [key, child] : other.children) {
    auto it = from.children.find(key);
    if (it == from.children.end()) continue;
    Subtract(it->second, child);
    if (it->second.Empty()) from.children.erase(it);
  }
}

FieldSet Intersect(const FieldSet& a, const FieldSet& b) {
  FieldSet out;
  out.member = a.member && b.member;
  for (const auto& [key, child] : a.children) {
    auto it = b.children.find(key);
    if (it == b.children.end()) continue;
    FieldSet both = Intersect(child, it->second);
    if (!both.Empty()) out.children[key] = std::move(both);
  }
  return out;
}

// A path element as the apiserver prints it: ".spec", "[name=\"web\"]", "[=\"x\"]", "[0]".
std::string PrintElement(const std::string& element) {
  std::string_view body = std::string_view(element).substr(2);
  if (element.rfind("f:", 0) == 0) return "." + std::string(body);
  if (element.rfind("v:", 0) == 0) return "[=" + std::string(body) + "]";
  if (element.rfind("i:", 0) == 0) return "[" + std::string(body) + "]";
  if (element.rfind("k:", 0) == 0) {
    auto key = json::ParseObject(body);
    if (key.ok()) {
      std::string out = "[";
      bool first = true;
      for (const auto& [name, value] : *key.value()) {
        if (!first) out += ",";
        first = false;
        out += name + "=" + json::Stringify(value);
      }
      return out + "]";
    }
  }
  return "[" + element + "]";
}

void MemberPaths(const FieldSet& set, const std::string& prefix, std::vector<std::string>* out) {
  if (set.member) out->push_back(prefix);
  for (const auto& [key, child] : set.children) {
    MemberPaths(child, prefix + PrintElement(key), out);
  }
}

// ---------------------------------------------------------------------------------------------
// Which fields count: apiVersion, kind, status and metadata's system fields are never owned
// (the apiserver strips them from every field set).

bool IsSystemMetadata(const std::string& key) {
  static const char* const kKeys[] = {"managedFields",
                                      "resourceVersion",
                                      "uid",
                                      "creationTimestamp",
                                      "generation",
                                      "selfLink",
                                      "deletionTimestamp",
                                      "deletionGracePeriodSeconds"};
  for (const char* k : kKeys) {
    if (key == k) return true;
  }
  return false;
}

// The object's fields that may be written by a client: everything but status and metadata's
// system fields. Shallow: shares all values with `obj`.
ObjectPtr WritableView(const ObjectPtr& obj) {
  ObjectPtr view = new Object;
  if (!obj) return view;
  for (const auto& [key, value] : *obj) {
    if (key == "status") continue;
    if (key == "metadata") {
      ObjectPtr meta = json::AsObject(value);
      if (!meta) continue;
      ObjectPtr filtered = new Object;
      for (const auto& [mkey, mvalue] : *meta) {
        if (!IsSystemMetadata(mkey)) filtered->set(mkey, mvalue);
      }
      view->set(key, filtered);
      continue;
    }
    view->set(key, value);
  }
  return view;
}

// The fields that are tracked in managedFields: also without apiVersion, kind, metadata.name
// and metadata.namespace. Shallow.
ObjectPtr TrackedView(const ObjectPtr& obj) {
  ObjectPtr view = WritableView(obj);
  view->remove("apiVersion");
  view->remove("kind");
  if (ObjectPtr meta = view->getObject("metadata")) {
    meta->remove("name");
    meta->remove("namespace");
    if (meta->size() == 0) view->remove("metadata");
  }
  return view;
}

// ---------------------------------------------------------------------------------------------
// Lists

// The strategy for list `field` holding `a` and/or `b`: keyed lists need every element to be an
// object carrying the key, else the list is treated as atomic.
ListStrategy StrategyFor(std::string_view field, const ArrayPtr& a, const ArrayPtr& b,
                         bool builtin) {
  if (!builtin) return {};
  ListStrategy strategy = patch::ListStrategyFor(field, a, b);
  if (strategy.kind != ListStrategy::kMergeByKey) return strategy;
  for (const ArrayPtr& list : {a, b}) {
    if (!list) continue;
    for (size_t i = 0; i < list->size(); ++i) {
      ObjectPtr element = json::AsObject(list->get(static_cast<unsigned>(i)));
      if (!element || !element->has(strategy.key)) return {};
    }
  }
  return strategy;
}

// Server-side apply keys ports by port and protocol (defaulting to TCP), so 53/TCP and 53/UDP
// are two elements; other keyed lists by their merge key alone.
bool KeyedWithProtocol(const ListStrategy& s) {
  return s.key == "containerPort" || s.key == "port";
}

Var ProtocolOf(const ObjectPtr& element) {
  return element->has("protocol") ? element->get("protocol") : Var(std::string("TCP"));
}

// The identity of a list element: the element itself for primitives, else an object of its key
// fields (as in "k:{...}").
Var IdOf(const Var& element, const ListStrategy& s) {
  if (s.kind != ListStrategy::kMergeByKey) return element;
  ObjectPtr obj = json::AsObject(element);
  ObjectPtr id = new Object;
  id->set(s.key, obj->get(s.key));
  if (KeyedWithProtocol(s)) id->set("protocol", ProtocolOf(obj));
  return id;
}

bool HasId(const Var& element, const Var& id, const ListStrategy& s) {
  if (s.kind != ListStrategy::kMergeByKey) return json::Equal(element, id);
  ObjectPtr obj = json::AsObject(element), id_obj = json::AsObject(id);
  if (!obj || !id_obj) return false;
  for (const auto& [field, value] : *id_obj) {
    if (field == "protocol" && KeyedWithProtocol(s)) {
      if (!json::Equal(ProtocolOf(obj), value)) return false;
    } else if (!obj->has(field) || !json::Equal(obj->get(field), value)) {
      return false;
    }
  }
  return true;
}

// Index of the element of `list` with identity `id`; -1 if none.
int FindElement(const ArrayPtr& list, const ListStrategy& s, const Var& id) {
  if (!list) return -1;
  for (size_t i = 0; i < list->size(); ++i) {
    if (HasId(list->get(static_cast<unsigned>(i)), id, s)) return static_cast<int>(i);
  }
  return -1;
}

// The FieldsV1 name of an element with identity `id`: "k:{...}" or "v:<json>".
std::string ElementName(const Var& id, const ListStrategy& s) {
  return (s.kind == ListStrategy::kMergeByKey ? "k:" : "v:") + json::Stringify(id);
}

// ---------------------------------------------------------------------------------------------
// Building field sets from values

void Collect(const Var& value, std::string_view field, bool builtin, FieldSet& node);

void CollectFields(const ObjectPtr& obj, bool builtin, FieldSet& node) {
  for (const auto& [key, value] : *obj) {
    Collect(value, key, builtin, node.children["f:" + key]);
  }
}

void Collect(const Var& value, std::string_view field, bool builtin, FieldSet& node) {
  if (ObjectPtr obj = json::AsObject(value)) {
    if (obj->size() == 0) {
      node.member = true;
    } else {
      CollectFields(obj, builtin, node);
    }
    return;
  }
  if (ArrayPtr list = json::AsArray(value)) {
    ListStrategy strategy = StrategyFor(field, list, ArrayPtr(), builtin);
    if (strategy.kind == ListStrategy::kAtomic) {
      node.member = true;
      return;
    }
    for (size_t i = 0; i < list->size(); ++i) {
      Var element = list->get(static_cast<unsigned>(i));
      FieldSet& child = node.children[ElementName(IdOf(element, strategy), strategy)];
      child.member = true;
      if (strategy.kind == ListStrategy::kMergeByKey) {
        CollectFields(json::AsObject(element), builtin, child);
      }
    }
    if (list->size() == 0) node.member = true;
    return;
  }
  node.member = true;
}

// Walks the applied configuration against the live object: `set` receives every field the
// configuration sets, `changed` those whose value differs from live (absent counts as
// different), i.e. the fields this apply would change.
void Walk(const Var& applied, const Var* live, std::string_view field, bool builtin, FieldSet& set,
          FieldSet& changed);

void WalkFields(const ObjectPtr& applied, const ObjectPtr& live, bool builtin, FieldSet& set,
                FieldSet& changed) {
  for (const auto& [key, value] : *applied) {
    std::string element = "f:" + key;
    Var live_value;
    bool has_live = live && live->has(key);
    if (has_live) live_value = live->get(key);
    FieldSet& changed_child = changed.children[element];
    Walk(value, has_live ? &live_value : nullptr, key, builtin, set.children[element],
         changed_child);
    if (changed_child.Empty()) changed.children.erase(element);
  }
}

void Walk(const Var& applied, const Var* live, std::string_view field, bool builtin, FieldSet& set,
          FieldSet& changed) {
  ObjectPtr applied_obj = json::AsObject(applied);
  if (applied_obj && applied_obj->size() > 0) {
    WalkFields(applied_obj, live ? json::AsObject(*live) : ObjectPtr(), builtin, set, changed);
    return;
  }
  ArrayPtr applied_list = json::AsArray(applied);
  if (applied_list && applied_list->size() > 0) {
    ArrayPtr live_list = live ? json::AsArray(*live) : ArrayPtr();
    ListStrategy strategy = StrategyFor(field, applied_list, ArrayPtr(), builtin);
    if (strategy.kind != ListStrategy::kAtomic) {
      for (size_t i = 0; i < applied_list->size(); ++i) {
        Var element = applied_list->get(static_cast<unsigned>(i));
        Var id = IdOf(element, strategy);
        std::string name = ElementName(id, strategy);
        FieldSet& set_child = set.children[name];
        FieldSet& changed_child = changed.children[name];
        set_child.member = true;
        int index = FindElement(live_list, strategy, id);
        if (index < 0) changed_child.member = true;
        if (strategy.kind == ListStrategy::kMergeByKey) {
          ObjectPtr live_element =
              index >= 0 ? json::AsObject(live_list->get(static_cast<unsigned>(index)))
                         : ObjectPtr();
          WalkFields(json::AsObject(element), live_element, builtin, set_child, changed_child);
        }
        if (changed_child.Empty()) changed.children.erase(name);
      }
      return;
    }
  }
  // Leaves: scalars, null, empty maps and lists, atomic lists.
  set.member = true;
  bool same;
  if (!live) {
    same = json::IsNull(applied);  // applying null to an absent field changes nothing
  } else if (applied_obj) {
    same = json::IsObject(*live);  // merging {} into a map changes nothing
  } else {
    same = json::Equal(applied, *live);
  }
  if (!same) changed.member = true;
}

// Compares two versions of a value: `changed` gets the fields added or modified, `removed`
// the fields that are gone.
void Diff(const Var& before, const Var& after, std::string_view field, bool builtin,
          FieldSet& changed, FieldSet& removed);

void DiffFields(const ObjectPtr& before, const ObjectPtr& after, bool builtin, FieldSet& changed,
                FieldSet& removed) {
  for (const auto& [key, value] : *after) {
    std::string element = "f:" + key;
    if (before->has(key)) {
      FieldSet& c = changed.children[element];
      FieldSet& r = removed.children[element];
      Diff(before->get(key), value, key, builtin, c, r);
      if (c.Empty()) changed.children.erase(element);
      if (r.Empty()) removed.children.erase(element);
    } else {
      Collect(value, key, builtin, changed.children[element]);
    }
  }
  for (const auto& [key, value] : *before) {
    if (!after->has(key)) Collect(value, key, builtin, removed.children["f:" + key]);
  }
}

void Diff(const Var& before, const Var& after, std::string_view field, bool builtin,
          FieldSet& changed, FieldSet& removed) {
  ObjectPtr before_obj = json::AsObject(before), after_obj = json::AsObject(after);
  if (before_obj && after_obj && before_obj->size() > 0 && after_obj->size() > 0) {
    DiffFields(before_obj, after_obj, builtin, changed, removed);
    return;
  }
  ArrayPtr before_list = json::AsArray(before), after_list = json::AsArray(after);
  if (before_list && after_list && before_list->size() > 0 && after_list->size() > 0) {
    ListStrategy strategy = StrategyFor(field, before_list, after_list, builtin);
    if (strategy.kind != ListStrategy::kAtomic) {
      bool keyed = strategy.kind == ListStrategy::kMergeByKey;
      for (size_t i = 0; i < after_list->size(); ++i) {
        Var element = after_list->get(static_cast<unsigned>(i));
        Var id = IdOf(element, strategy);
        std::string name = ElementName(id, strategy);
        int index = FindElement(before_list, strategy, id);
        if (index < 0) {
          FieldSet& node = changed.children[name];
          node.member = true;
          if (keyed) CollectFields(json::AsObject(element), builtin, node);
        } else if (keyed) {
          FieldSet& c = changed.children[name];
          FieldSet& r = removed.children[name];
          DiffFields(json::AsObject(before_list->get(static_cast<unsigned>(index))),
                     json::AsObject(element), builtin, c, r);
          if (c.Empty()) changed.children.erase(name);
          if (r.Empty()) removed.children.erase(name);
        }
      }
      for (size_t i = 0; i < before_list->size(); ++i) {
        Var element = before_list->get(static_cast<unsigned>(i));
        Var id = IdOf(element, strategy);
        if (FindElement(after_list, strategy, id) >= 0) continue;
        FieldSet& node = removed.children[ElementName(id, strategy)];
        node.member = true;
        if (keyed) CollectFields(json::AsObject(element), builtin, node);
      }
      return;
    }
  }
  if (json::Equal(before, after)) return;
  // Different shapes or leaf values: the old value's fields go, the new one's arrive.
  if (before_obj || before_list) Collect(before, field, builtin, removed);
  Collect(after, field, builtin, changed);
}

// ---------------------------------------------------------------------------------------------
// Merging an applied configuration into the live object

void MergeApplied(ObjectPtr dst, const ObjectPtr& applied, bool builtin);

ArrayPtr MergeList(std::string_view field, const ArrayPtr& live, const ArrayPtr& applied,
                   bool builtin) {
  ListStrategy strategy = StrategyFor(field, live, applied, builtin);
  if (strategy.kind == ListStrategy::kAtomic) return json::AsArray(json::DeepCopy(Var(applied)));
  bool keyed = strategy.kind == ListStrategy::kMergeByKey;
  std::vector<patch::OrderedItem> items;
  std::vector<bool> used(applied->size(), false);
  size_t live_size = live ? live->size() : 0;
  for (size_t i = 0; i < live_size; ++i) {
    Var element = json::DeepCopy(live->get(static_cast<unsigned>(i)));
    int index = FindElement(applied, strategy, IdOf(element, strategy));
    if (index >= 0) {
      used[static_cast<size_t>(index)] = true;
      if (keyed) {
        MergeApplied(json::AsObject(element),
                     json::AsObject(applied->get(static_cast<unsigned>(index))), builtin);
      }
    }
    items.push_back({element, static_cast<int>(i), index});
  }
  for (size_t i = 0; i < applied->size(); ++i) {
    if (used[i]) continue;
    Var element = applied->get(static_cast<unsigned>(i));
    if (FindElement(applied, strategy, IdOf(element, strategy)) != static_cast<int>(i)) {
      continue;  // a duplicate: the first one wins
    }
    if (!keyed) {
      items.push_back({json::DeepCopy(element), -1, static_cast<int>(i)});
    } else {
      ObjectPtr fresh = new Object;
      MergeApplied(fresh, json::AsObject(element), builtin);
      items.push_back({fresh, -1, static_cast<int>(i)});
    }
  }
  ArrayPtr out = new Array;
  for (auto& value : patch::InterleaveOrder(std::move(items))) out->add(value);
  return out;
}

void MergeApplied(ObjectPtr dst, const ObjectPtr& applied, bool builtin) {
  for (const auto& [key, value] : *applied) {
    if (json::IsNull(value)) {
      dst->remove(key);
    } else if (ObjectPtr applied_obj = json::AsObject(value)) {
      ObjectPtr child = dst->has(key) ? json::AsObject(dst->get(key)) : ObjectPtr();
      if (!child) {
        child = new Object;
        dst->set(key, child);
      }
      MergeApplied(child, applied_obj, builtin);
    } else if (ArrayPtr applied_list = json::AsArray(value)) {
      ArrayPtr live = dst->has(key) ? json::AsArray(dst->get(key)) : ArrayPtr();
      dst->set(key, MergeList(key, live, applied_list, builtin));
    } else {
      dst->set(key, value);  // scalars: Var copies are deep
    }
  }
}

// Removes the fields in `remove` from `value`, except what `keep` (the other managers' fields)
// still holds below. Maps and lists emptied by the removal go too.
void RemoveFields(const Var& value, const FieldSet& remove, const FieldSet* keep);

bool KeepsAnything(const FieldSet* keep) { return keep && !keep->Empty(); }

const FieldSet* ChildOf(const FieldSet* set, const std::string& key) {
  if (!set) return nullptr;
  auto it = set->children.find(key);
  return it == set->children.end() ? nullptr : &it->second;
}

void RemoveFields(const Var& value, const FieldSet& remove, const FieldSet* keep) {
  if (ObjectPtr obj = json::AsObject(value)) {
    for (const auto& [element, child] : remove.children) {
      if (element.rfind("f:", 0) != 0) continue;
      std::string key = element.substr(2);
      if (!obj->has(key)) continue;
      const FieldSet* keep_child = ChildOf(keep, element);
      if (child.member && !KeepsAnything(keep_child)) {
        obj->remove(key);
        continue;
      }
      Var field = obj->get(key);
      RemoveFields(field, child, keep_child);
      ObjectPtr field_obj = json::AsObject(field);
      ArrayPtr field_list = json::AsArray(field);
      bool emptied =
          (field_obj && field_obj->size() == 0) || (field_list && field_list->size() == 0);
      if (emptied && !KeepsAnything(keep_child)) obj->remove(key);
    }
    return;
  }
  ArrayPtr list = json::AsArray(value);
  if (!list) return;
  for (const auto& [element, child] : remove.children) {
    if (element.size() < 2) continue;
    auto id = json::Parse("[" + element.substr(2) + "]");  // Poco parses only arrays/objects
    if (!id.ok()) continue;
    Var id_value = json::AsArray(id.value())->get(0);
    // The list's strategy only matters for how "protocol" defaults, which HasId handles.
    ListStrategy strategy;
    if (element.rfind("k:", 0) == 0) {
      ObjectPtr id_obj = json::AsObject(id_value);
      if (!id_obj || id_obj->size() == 0) continue;
      strategy.kind = ListStrategy::kMergeByKey;
      strategy.key = id_obj->has("containerPort") ? "containerPort"
                     : id_obj->has("port")        ? "port"
                                                  : id_obj->begin()->first;
    } else if (element.rfind("v:", 0) != 0) {
      continue;
    }
    int index = FindElement(list, strategy, id_value);
    if (index < 0) continue;
    const FieldSet* keep_child = ChildOf(keep, element);
    if (child.member && !KeepsAnything(keep_child)) {
      list->remove(static_cast<unsigned>(index));
      continue;
    }
    RemoveFields(list->get(static_cast<unsigned>(index)), child, keep_child);
  }
}

// ---------------------------------------------------------------------------------------------
// managedFields entries

struct Entry {
  std::string manager, operation, api_version, time, subresource;
  FieldSet fields;
  bool touched = false;  // set by this request: its time becomes now
};

std::string Str(const ObjectPtr& obj, const char* key) {
  return json::GetString(obj, key).value_or("");
}

std::vector<Entry> ReadEntries(const ArrayPtr& list) {
  std::vector<Entry> out;
  if (!list) return out;
  for (size_t i = 0; i < list->size(); ++i) {
    ObjectPtr obj = json::AsObject(list->get(static_cast<unsigned>(i)));
    if (!obj) continue;
    Entry e{Str(obj, "manager"),
            Str(obj, "operation"),
            Str(obj, "apiVersion"),
            Str(obj, "time"),
            Str(obj, "subresource"),
            {},
            false};
    ObjectPtr fields = json::GetObject(obj, "fieldsV1");
    if (fields) e.fields = FromFieldsV1(fields);
    out.push_back(std::move(e));
  }
  return out;
}

ArrayPtr WriteEntries(const std::vector<Entry>& entries, const std::string& now) {
  ArrayPtr out = new Array;
  for (const auto& e : entries) {
    if (e.fields.Empty()) continue;  // a manager that owns nothing is dropped
    ObjectPtr obj = new Object;
    obj->set("manager", e.manager);
    obj->set("operation", e.operation);
    obj->set("apiVersion", e.api_version);
    std::string time = e.touched || e.time.empty() ? now : e.time;
    if (!time.empty()) obj->set("time", time);
    obj->set("fieldsType", "FieldsV1");
    obj->set("fieldsV1", ToFieldsV1(e.fields));
    if (!e.subresource.empty()) obj->set("subresource", e.subresource);
    out->add(obj);
  }
  return out;
}

ArrayPtr ManagedFieldsOf(const ObjectPtr& obj) {
  return obj ? json::GetArray(obj, "metadata.managedFields") : ArrayPtr();
}

void SetManagedFields(ObjectPtr obj, const std::vector<Entry>& entries, const std::string& now) {
  ObjectPtr meta = json::EnsureObject(obj, "metadata");
  ArrayPtr list = WriteEntries(entries, now);
  if (list->size() == 0) {
    meta->remove("managedFields");
  } else {
    meta->set("managedFields", list);
  }
}

// `"helm"`, `"kubectl-patch" using v1`, `"x" with subresource "status" using v1`: how the
// apiserver names a manager in conflicts (apimachinery managedfields/internal/conflict.go).
std::string PrintManager(const Entry& e) {
  std::string quoted = "\"";
  for (char c : e.manager) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  quoted += "\"";
  if (!e.subresource.empty()) quoted += " with subresource \"" + e.subresource + "\"";
  if (e.operation == "Update") quoted += " using " + e.api_version;
  return quoted;
}

bool BuiltIn(const ObjectPtr& obj) {
  return patch::IsBuiltInApiVersion(json::GetString(obj, "apiVersion").value_or("v1"));
}

}  // namespace

Result<json::ObjectPtr> Apply(const ApplyRequest& request) {
  if (!request.applied) return ApiError::BadRequest("apply: the configuration must be an object");
  if (request.manager.empty()) {
    return ApiError::BadRequest("PATCH, application/apply-patch+yaml requires fieldManager");
  }
  const ObjectPtr& live = request.live;
  bool builtin = BuiltIn(request.applied);
  std::string api_version = json::GetString(request.applied, "apiVersion").value_or("");

  FieldSet applied_set, changed;
  ObjectPtr tracked_live = live ? TrackedView(live) : ObjectPtr();
  WalkFields(TrackedView(request.applied), tracked_live, builtin, applied_set, changed);

  std::vector<Entry> entries = ReadEntries(ManagedFieldsOf(live));
  auto is_self = [&](const Entry& e) {
    return e.manager == request.manager && e.operation == "Apply" && e.subresource.empty();
  };

  // Conflicts: fields this apply changes that another manager owns.
  struct Conflict {
    const Entry* owner;
    std::vector<std::string> paths;
  };
  std::vector<Conflict> conflicts;
  for (auto& e : entries) {
    if (is_self(e)) continue;
    FieldSet clash = Intersect(e.fields, changed);
    if (clash.Empty()) continue;
    if (request.force) {
      Subtract(e.fields, clash);  // ownership moves to the applier
      continue;
    }
    Conflict c{&e, {}};
    MemberPaths(clash, "", &c.paths);
    conflicts.push_back(std::move(c));
  }
  if (!conflicts.empty()) {
    std::sort(conflicts.begin(), conflicts.end(), [](const Conflict& a, const Conflict& b) {
      return std::tie(a.owner->manager, a.owner->operation, a.owner->api_version,
                      a.owner->subresource) < std::tie(b.owner->manager, b.owner->operation,
                                                       b.owner->api_version, b.owner->subresource);
    });
    ApiError error{409, "Conflict", "", "", "", "", {}};
    size_t count = 0;
    std::string listing;
    for (const auto& c : conflicts) {
      std::string who = PrintManager(*c.owner);
      listing += (listing.empty() ? "" : "\n") + std::string("conflicts with ") + who + ":";
      for (const auto& path : c.paths) {
        listing += "\n- " + path;
        error.causes.push_back({"FieldManagerConflict", "conflict with " + who, path});
        ++count;
      }
    }
    // The apiserver's wording (managedfields/internal/conflict.go).
    if (count == 1) {
      error.message =
          "Apply failed with 1 conflict: " + error.causes[0].message + ": " + error.causes[0].field;
    } else {
      error.message = "Apply failed with " + std::to_string(count) + " conflicts: " + listing;
    }
    return error;
  }

  // What this manager applied before, and what everyone else owns now.
  FieldSet previous, others;
  for (const auto& e : entries) Union(is_self(e) ? previous : others, e.fields);

  ObjectPtr merged = live ? json::DeepCopy(live) : ObjectPtr(new Object);
  MergeApplied(merged, WritableView(request.applied), builtin);

  // Fields this manager no longer applies and nobody else owns are removed.
  FieldSet removed = previous;
  Subtract(removed, applied_set);
  Subtract(removed, others);
  if (!removed.Empty()) {
    FieldSet keep = others;
    Union(keep, applied_set);
    RemoveFields(Var(merged), removed, &keep);
  }

  // One Apply entry per manager: the first one is updated, any others merged into it.
  bool found = false;
  std::vector<Entry> next;
  for (auto& e : entries) {
    if (!is_self(e)) {
      next.push_back(std::move(e));
      continue;
    }
    if (found) continue;
    found = true;
    e.touched = !(e.fields == applied_set) || e.api_version != api_version;
    e.fields = applied_set;
    e.api_version = api_version;
    next.push_back(std::move(e));
  }
  if (!found) {
    next.push_back(Entry{request.manager, "Apply", api_version, "", "", applied_set, true});
  }
  SetManagedFields(merged, next, request.now);
  return merged;
}

json::ObjectPtr RecordUpdate(const json::ObjectPtr& before, const json::ObjectPtr& after,
                             const std::string& manager, const std::string& now) {
  if (!after) return after;
  ObjectPtr result = json::DeepCopy(after);
  bool builtin = BuiltIn(after);
  std::string api_version = json::GetString(after, "apiVersion").value_or("");

  FieldSet changed, removed;
  ObjectPtr tracked_after = TrackedView(after);
  if (before) {
    DiffFields(TrackedView(before), tracked_after, builtin, changed, removed);
  } else {
    CollectFields(tracked_after, builtin, changed);
  }

  // A write that carries managedFields sets them (as the apiserver honours a client's list);
  // otherwise they carry over from before.
  ArrayPtr given = ManagedFieldsOf(after);
  std::vector<Entry> entries = ReadEntries(given ? given : ManagedFieldsOf(before));

  Entry* self = nullptr;
  for (auto& e : entries) {
    if (e.manager == manager && e.operation == "Update" && e.api_version == api_version &&
        e.subresource.empty()) {
      self = &e;
      continue;
    }
    // Fields this write changed now belong to the writer alone; removed fields to no one.
    Subtract(e.fields, changed);
    Subtract(e.fields, removed);
  }
  if (!self && !changed.Empty()) {
    entries.push_back(Entry{manager, "Update", api_version, "", "", {}, true});
    self = &entries.back();
  }
  if (self) {
    FieldSet before_fields = self->fields;
    Subtract(self->fields, removed);
    Union(self->fields, changed);
    if (!(self->fields == before_fields)) self->touched = true;
  }
  SetManagedFields(result, entries, now);
  return result;
}

}  // namespace sandbox::apply

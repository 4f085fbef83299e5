#include "sandbox/patch.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sandbox::patch {
namespace {

using json::Array;
using json::ArrayPtr;
using json::Object;
using json::ObjectPtr;
using json::Var;

// ---------------------------------------------------------------------------------------------
// JSON merge patch (RFC 7386)

// Applies `patch` to `dst` in place; `dst` belongs to the result, so mutating it is safe.
void MergeInto(ObjectPtr dst, const ObjectPtr& patch) {
  for (const auto& [key, value] : *patch) {
    if (json::IsNull(value)) {
      dst->remove(key);
    } else if (json::IsObject(value)) {
      ObjectPtr child = dst->has(key) ? json::AsObject(dst->get(key)) : ObjectPtr();
      if (!child) {
        child = new Object;
        dst->set(key, child);
      }
      MergeInto(child, json::AsObject(value));
    } else {
      dst->set(key, json::DeepCopy(value));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// JSON patch (RFC 6902) with JSON pointers (RFC 6901)

using Tokens = std::vector<std::string>;

// The apiserver answers every failure while applying a JSON patch (failed test, missing path,
// bad index, unknown op) with errors.NewGenericServerResponse(422, ...): reason Invalid, this
// fixed message and no causes (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go).
// kubectl prints it as "The request is invalid: the server rejected our request due to an
// error in our request".
ApiError PatchFailed() {
  return ApiError{422, "Invalid", "the server rejected our request due to an error in our request",
                  "",  "",        "",
                  {}};
}

std::optional<Tokens> ParsePointer(const std::string& text) {
  Tokens tokens;
  if (text.empty()) return tokens;
  if (text[0] != '/') return std::nullopt;
  std::string current;
  for (size_t i = 1; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '/') {
      tokens.push_back(std::move(current));
      current.clear();
    } else if (text[i] == '~') {
      // One pass decodes ~1 and ~0 exactly as RFC 6901's "first ~1, then ~0" does.
      if (i + 1 >= text.size()) return std::nullopt;
      char next = text[++i];
      if (next == '0') {
        current += '~';
      } else if (next == '1') {
        current += '/';
      } else {
        return std::nullopt;
      }
    } else {
      current += text[i];
    }
  }
  return tokens;
}

// An array index per RFC 6901: digits without leading zeros. "-" (past the end) only when
// `allow_end`; the index must be < size, or <= size when `allow_end`.
std::optional<size_t> ArrayIndex(const std::string& token, size_t size, bool allow_end) {
  if (token == "-") return allow_end ? std::optional<size_t>(size) : std::nullopt;
  if (token.empty() || token.size() > 9) return std::nullopt;
  if (token.size() > 1 && token[0] == '0') return std::nullopt;
  size_t index = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
    index = index * 10 + static_cast<size_t>(c - '0');
  }
  if (index > size || (index == size && !allow_end)) return std::nullopt;
  return index;
}

// The value at tokens[0, count), or nullopt if the path does not resolve.
std::optional<Var> Resolve(const Var& root, const Tokens& tokens, size_t count) {
  Var current = root;
  for (size_t i = 0; i < count; ++i) {
    if (ObjectPtr obj = json::AsObject(current)) {
      if (!obj->has(tokens[i])) return std::nullopt;
      current = obj->get(tokens[i]);
    } else if (ArrayPtr arr = json::AsArray(current)) {
      auto index = ArrayIndex(tokens[i], arr->size(), false);
      if (!index) return std::nullopt;
      current = arr->get(static_cast<unsigned>(*index));
    } else {
      return std::nullopt;
    }
  }
  return std::optional<Var>(std::in_place, current);
}

bool AddAt(Var& root, const Tokens& path, const Var& value) {
  if (path.empty()) {
    root = value;
    return true;
  }
  auto parent = Resolve(root, path, path.size() - 1);
  if (!parent) return false;
  const std::string& last = path.back();
  if (ObjectPtr obj = json::AsObject(*parent)) {
    obj->set(last, value);
    return true;
  }
  if (ArrayPtr arr = json::AsArray(*parent)) {
    auto index = ArrayIndex(last, arr->size(), true);
    if (!index) return false;
    // Poco's Array has no insert: grow by one and shift the tail right.
    arr->add(Var());
    for (size_t i = arr->size() - 1; i > *index; --i) {
      arr->set(static_cast<unsigned>(i), arr->get(static_cast<unsigned>(i - 1)));
    }
    arr->set(static_cast<unsigned>(*index), value);
    return true;
  }
  return false;
}

bool RemoveAt(Var& root, const Tokens& path) {
  if (path.empty()) return false;
  auto parent = Resolve(root, path, path.size() - 1);
  if (!parent) return false;
  if (ObjectPtr obj = json::AsObject(*parent)) {
    if (!obj->has(path.back())) return false;
    obj->remove(path.back());
    return true;
  }
  if (ArrayPtr arr = json::AsArray(*parent)) {
    auto index = ArrayIndex(path.back(), arr->size(), false);
    if (!index) return false;
    arr->remove(static_cast<unsigned>(*index));
    return true;
  }
  return false;
}

bool ReplaceAt(Var& root, const Tokens& path, const Var& value) {
  if (path.empty()) {
    root = value;
    return true;
  }
  auto parent = Resolve(root, path, path.size() - 1);
  if (!parent) return false;
  if (ObjectPtr obj = json::AsObject(*parent)) {
    if (!obj->has(path.back())) return false;
    obj->set(path.back(), value);
    return true;
  }
  if (ArrayPtr arr = json::AsArray(*parent)) {
    auto index = ArrayIndex(path.back(), arr->size(), false);
    if (!index) return false;
    arr->set(static_cast<unsigned>(*index), value);
    return true;
  }
  return false;
}

bool IsProperPrefix(const Tokens& prefix, const Tokens& path) {
  return prefix.size() < path.size() && std::equal(prefix.begin(), prefix.end(), path.begin());
}

// Applies one operation to `root`; false when it does not apply.
bool ApplyOperation(Var& root, const ObjectPtr& op) {
  auto op_name = json::GetString(op, "op");
  auto path_text = json::GetString(op, "path");
  if (!op_name || !path_text) return false;
  auto path = ParsePointer(*path_text);
  if (!path) return false;
  const std::string& name = *op_name;
  bool has_value = op->has("value");
  if (name == "add") {
    return has_value && AddAt(root, *path, json::DeepCopy(op->get("value")));
  }
  if (name == "remove") return RemoveAt(root, *path);
  if (name == "replace") {
    return has_value && ReplaceAt(root, *path, json::DeepCopy(op->get("value")));
  }
  if (name == "test") {
    auto actual = Resolve(root, *path, path->size());
    Var expected = has_value ? op->get("value") : Var();
    // As evanphx/json-patch (which the apiserver uses): a missing member tests equal to null.
    if (!actual) return json::IsNull(expected);
    return json::Equal(*actual, expected);
  }
  if (name == "move" || name == "copy") {
    auto from_text = json::GetString(op, "from");
    if (!from_text) return false;
    auto from = ParsePointer(*from_text);
    if (!from) return false;
    auto value = Resolve(root, *from, from->size());
    if (!value) return false;
    if (name == "copy") return AddAt(root, *path, json::DeepCopy(*value));
    if (*from == *path) return true;
    if (IsProperPrefix(*from, *path)) return false;  // cannot move a value into itself
    return RemoveAt(root, *from) && AddAt(root, *path, *value);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch

constexpr std::string_view kPatchDirective = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kSetElementOrder = "$setElementOrder/";
constexpr std::string_view kDeleteFromPrimitiveList = "$deleteFromPrimitiveList/";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Index of the first element of `list` equal to `value` (or whose `key` member equals `value`
// when key is non-empty); -1 if none.
int IndexOf(const ArrayPtr& list, const Var& value, const std::string& key) {
  if (!list) return -1;
  for (size_t i = 0; i < list->size(); ++i) {
    Var element = list->get(static_cast<unsigned>(i));
    if (key.empty()) {
      if (json::Equal(element, value)) return static_cast<int>(i);
    } else if (ObjectPtr obj = json::AsObject(element)) {
      if (obj->has(key) && json::Equal(obj->get(key), value)) return static_cast<int>(i);
    }
  }
  return -1;
}

ArrayPtr ToArray(const std::vector<Var>& values) {
  ArrayPtr out = new Array;
  for (const auto& v : values) out->add(v);
  return out;
}

std::string Describe(const Var& v) { return json::Stringify(v); }

Result<ObjectPtr> SmpMergeMap(ObjectPtr dst, const ObjectPtr& patch);

// Merges a patch list into `original` (may be null) for the list field `field`. `order` is the
// field's $setElementOrder list, if any.
Result<ArrayPtr> SmpMergeList(const std::string& field, const ArrayPtr& original,
                              const ArrayPtr& patch, const ArrayPtr& order) {
  ListStrategy strategy = ListStrategyFor(field, original, patch);
  if (strategy.kind == ListStrategy::kAtomic) {
    return json::AsArray(json::DeepCopy(Var(patch)));
  }
  // A {"$patch": "replace"} element replaces the whole list with the other elements.
  bool replace = false;
  std::vector<Var> elements;
  std::vector<Var> deletions;  // merge-key values of {"$patch": "delete"} elements
  for (size_t i = 0; i < patch->size(); ++i) {
    Var element = patch->get(static_cast<unsigned>(i));
    ObjectPtr obj = json::AsObject(element);
    if (obj && obj->has(std::string(kPatchDirective))) {
      std::string directive = obj->get(std::string(kPatchDirective)).toString();
      if (directive == "replace") {
        replace = true;
        continue;
      }
      if (directive == "delete") {
        if (strategy.kind != ListStrategy::kMergeByKey || !obj->has(strategy.key)) {
          return ApiError::BadRequest("delete directive without merge key in list " + field);
        }
        deletions.push_back(obj->get(strategy.key));
        continue;
      }
      if (directive != "merge") {
        return ApiError::BadRequest("unknown patch type: " + directive + " in list " + field);
      }
    }
    if (strategy.kind == ListStrategy::kMergeByKey) {
      if (!obj) {
        return ApiError::BadRequest("list " + field + " must hold maps, got " + Describe(element));
      }
      if (!obj->has(strategy.key)) {
        return ApiError::BadRequest("map: " + Describe(element) +
                                    " does not contain declared merge key: " + strategy.key);
      }
    }
    elements.push_back(element);
  }
  auto strip = [](const Var& element) -> Result<Var> {
    ObjectPtr obj = json::AsObject(element);
    if (!obj) return json::DeepCopy(element);
    auto merged = SmpMergeMap(ObjectPtr(), obj);
    if (!merged.ok()) return merged.error();
    return Var(merged.value());
  };
  if (replace) {
    std::vector<Var> out;
    for (const auto& element : elements) {
      auto stripped = strip(element);
      if (!stripped.ok()) return stripped.error();
      out.push_back(stripped.value());
    }
    return ToArray(out);
  }

  const std::string& key = strategy.key;  // empty for primitives
  auto identity = [&](const Var& element) -> std::optional<Var> {
    if (key.empty()) return std::optional<Var>(std::in_place, element);
    ObjectPtr obj = json::AsObject(element);
    if (!obj || !obj->has(key)) return std::nullopt;
    return std::optional<Var>(std::in_place, obj->get(key));
  };
  ArrayPtr patch_elements = ToArray(elements);
  ArrayPtr deleted = ToArray(deletions);
  const std::string order_key =
      order && order->size() > 0 && json::IsObject(order->get(0)) ? key : "";
  // Position in the patch's order: $setElementOrder when given, else the patch list itself.
  auto patch_position = [&](const Var& id) -> int {
    return order ? IndexOf(order, id, order_key) : IndexOf(patch_elements, id, key);
  };

  std::vector<OrderedItem> items;
  std::vector<bool> used(elements.size(), false);
  size_t original_size = original ? original->size() : 0;
  for (size_t i = 0; i < original_size; ++i) {
    Var element = original->get(static_cast<unsigned>(i));
    auto id = identity(element);
    if (!id) {  // a malformed live element: keep it where it is
      items.push_back({json::DeepCopy(element), static_cast<int>(i), -1});
      continue;
    }
    if (IndexOf(deleted, *id, "") >= 0) continue;
    int in_patch = IndexOf(patch_elements, *id, key);
    Var merged = json::DeepCopy(element);
    if (in_patch >= 0) {
      used[static_cast<size_t>(in_patch)] = true;
      if (!key.empty()) {
        auto result = SmpMergeMap(json::AsObject(merged),
                                  json::AsObject(elements[static_cast<size_t>(in_patch)]));
        if (!result.ok()) return result.error();
        merged = result.value();
      }
    }
    int position = (in_patch >= 0 || order) ? patch_position(*id) : -1;
    items.push_back({merged, static_cast<int>(i), position});
  }
  for (size_t i = 0; i < elements.size(); ++i) {
    if (used[i]) continue;
    auto id = identity(elements[i]);
    // A primitive already listed twice in the patch is added once.
    if (key.empty() && IndexOf(patch_elements, *id, "") != static_cast<int>(i)) continue;
    auto stripped = strip(elements[i]);
    if (!stripped.ok()) return stripped.error();
    int position = patch_position(*id);
    // An element missing from $setElementOrder still goes after the ordered ones.
    if (position < 0) position = static_cast<int>((order ? order->size() : 0) + i);
    items.push_back({stripped.value(), -1, position});
  }
  return ToArray(InterleaveOrder(std::move(items)));
}

Result<ObjectPtr> SmpMergeMap(ObjectPtr dst, const ObjectPtr& patch) {
  if (!dst) dst = new Object;
  const std::string directive_key(kPatchDirective);
  if (patch->has(directive_key)) {
    std::string directive = patch->get(directive_key).toString();
    if (directive == "delete") return ObjectPtr(new Object);
    if (directive == "replace") {
      ObjectPtr rest = new Object;
      for (const auto& [key, value] : *patch) {
        if (key != directive_key) rest->set(key, value);
      }
      return SmpMergeMap(ObjectPtr(), rest);
    }
    // As the apiserver: "merge" is not a map directive.
    return ApiError::BadRequest("unknown patch type: " + directive +
                                " in map: " + Describe(Var(patch)));
  }
  const std::string retain_key(kRetainKeys);
  if (patch->has(retain_key)) {
    ArrayPtr retain = json::AsArray(patch->get(retain_key));
    if (!retain) return ApiError::BadRequest("$retainKeys must be a list of field names");
    std::vector<std::string> drop;
    for (const auto& [key, value] : *dst) {
      if (IndexOf(retain, Var(key), "") < 0) drop.push_back(key);
    }
    for (const auto& key : drop) dst->remove(key);
  }
  // Deletions from primitive lists come first, so a patch may remove and add in one go.
  for (const auto& [key, value] : *patch) {
    if (!StartsWith(key, kDeleteFromPrimitiveList)) continue;
    std::string field = key.substr(kDeleteFromPrimitiveList.size());
    ArrayPtr remove = json::AsArray(value);
    if (!remove) return ApiError::BadRequest(key + " must be a list");
    ArrayPtr current = dst->has(field) ? json::AsArray(dst->get(field)) : ArrayPtr();
    if (!current) continue;
    ArrayPtr kept = new Array;
    for (size_t i = 0; i < current->size(); ++i) {
      Var element = current->get(static_cast<unsigned>(i));
      if (IndexOf(remove, element, "") < 0) kept->add(element);
    }
    dst->set(field, kept);
  }
  for (const auto& [key, value] : *patch) {
    if (!key.empty() && key[0] == '$') continue;  // directives
    if (json::IsNull(value)) {
      dst->remove(key);
      continue;
    }
    if (ObjectPtr patch_obj = json::AsObject(value)) {
      ObjectPtr child = dst->has(key) ? json::AsObject(dst->get(key)) : ObjectPtr();
      auto merged = SmpMergeMap(child, patch_obj);
      if (!merged.ok()) return merged.error();
      dst->set(key, merged.value());
      continue;
    }
    if (ArrayPtr patch_list = json::AsArray(value)) {
      ArrayPtr original = dst->has(key) ? json::AsArray(dst->get(key)) : ArrayPtr();
      std::string order_key = std::string(kSetElementOrder) + key;
      ArrayPtr order = patch->has(order_key) ? json::AsArray(patch->get(order_key)) : ArrayPtr();
      auto merged = SmpMergeList(key, original, patch_list, order);
      if (!merged.ok()) return merged.error();
      dst->set(key, merged.value());
      continue;
    }
    dst->set(key, json::DeepCopy(value));
  }
  // $setElementOrder for lists the patch does not otherwise touch: reorder only.
  for (const auto& [key, value] : *patch) {
    if (!StartsWith(key, kSetElementOrder)) continue;
    std::string field = key.substr(kSetElementOrder.size());
    if (patch->has(field)) continue;
    ArrayPtr order = json::AsArray(value);
    if (!order) return ApiError::BadRequest(key + " must be a list");
    ArrayPtr original = dst->has(field) ? json::AsArray(dst->get(field)) : ArrayPtr();
    if (!original) continue;
    auto merged = SmpMergeList(field, original, ArrayPtr(new Array), order);
    if (!merged.ok()) return merged.error();
    dst->set(field, merged.value());
  }
  return dst;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public API

Var MergeValue(const Var& target, const Var& patch) {
  ObjectPtr patch_obj = json::AsObject(patch);
  if (!patch_obj) return json::DeepCopy(patch);
  ObjectPtr target_obj = json::AsObject(target);
  ObjectPtr result = target_obj ? json::DeepCopy(target_obj) : ObjectPtr(new Object);
  MergeInto(result, patch_obj);
  return result;
}

Result<ObjectPtr> MergePatch(const ObjectPtr& target, const Var& patch) {
  // The apiserver's merge patch (evanphx/json-patch) rejects a patch that is not an object.
  ObjectPtr patch_obj = json::AsObject(patch);
  if (!patch_obj) return ApiError::BadRequest("Invalid JSON Patch");
  ObjectPtr result = target ? json::DeepCopy(target) : ObjectPtr(new Object);
  MergeInto(result, patch_obj);
  return result;
}

Result<ObjectPtr> JsonPatch(const ObjectPtr& target, const Var& patch) {
  // A body that is not a list of operation objects fails to decode: 400, as the apiserver.
  ArrayPtr ops = json::AsArray(patch);
  if (!ops) {
    return ApiError::BadRequest(
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  }
  for (size_t i = 0; i < ops->size(); ++i) {
    if (!json::IsObject(ops->get(static_cast<unsigned>(i)))) {
      return ApiError::BadRequest(
          "json: cannot unmarshal non-object into Go value of type jsonpatch.Operation");
    }
  }
  Var root = target ? json::DeepCopy(target) : ObjectPtr(new Object);
  for (size_t i = 0; i < ops->size(); ++i) {
    if (!ApplyOperation(root, json::AsObject(ops->get(static_cast<unsigned>(i))))) {
      return PatchFailed();
    }
  }
  ObjectPtr result = json::AsObject(root);
  if (!result) return PatchFailed();
  return result;
}

Result<ObjectPtr> StrategicMergePatch(const ObjectPtr& target, const ObjectPtr& patch) {
  if (!patch) return ApiError::BadRequest("invalid strategic merge patch: expected an object");
  ObjectPtr base = target ? json::DeepCopy(target) : ObjectPtr(new Object);
  return SmpMergeMap(base, patch);
}

ListStrategy ListStrategyFor(std::string_view field, const ArrayPtr& a, const ArrayPtr& b) {
  static const std::pair<std::string_view, std::string_view> kKeys[] = {
      {"containers", "name"},          {"initContainers", "name"},
      {"ephemeralContainers", "name"}, {"volumes", "name"},
      {"imagePullSecrets", "name"},    {"env", "name"},
      {"resourceClaims", "name"},      {"schedulingGates", "name"},
      {"volumeMounts", "mountPath"},   {"volumeDevices", "devicePath"},
      {"conditions", "type"},          {"ownerReferences", "uid"},
      {"hostAliases", "ip"},           {"topologySpreadConstraints", "topologyKey"},
  };
  ListStrategy out;
  if (field == "finalizers") {
    out.kind = ListStrategy::kMergePrimitives;
    return out;
  }
  if (field == "ports") {
    // Container ports merge by containerPort, Service ports by port.
    for (const ArrayPtr& list : {b, a}) {
      if (!list) continue;
      for (size_t i = 0; i < list->size(); ++i) {
        ObjectPtr element = json::AsObject(list->get(static_cast<unsigned>(i)));
        if (!element) continue;
        if (element->has("containerPort")) {
          out.kind = ListStrategy::kMergeByKey;
          out.key = "containerPort";
          return out;
        }
        if (element->has("port")) {
          out.kind = ListStrategy::kMergeByKey;
          out.key = "port";
          return out;
        }
      }
    }
    return out;
  }
  for (const auto& [name, key] : kKeys) {
    if (field == name) {
      out.kind = ListStrategy::kMergeByKey;
      out.key = std::string(key);
      return out;
    }
  }
  return out;
}

bool IsBuiltInApiVersion(std::string_view api_version) {
  size_t slash = api_version.find('/');
  if (slash == std::string_view::npos) return true;  // core: "v1"
  std::string_view group = api_version.substr(0, slash);
  if (group.find('.') == std::string_view::npos) return true;  // apps, batch, policy, ...
  constexpr std::string_view kK8s = ".k8s.io";
  return group.size() > kK8s.size() && group.substr(group.size() - kK8s.size()) == kK8s;
}

std::vector<Var> InterleaveOrder(std::vector<OrderedItem> items) {
  std::vector<const OrderedItem*> patched, server_only;
  for (const auto& item : items) {
    (item.patch_index >= 0 ? patched : server_only).push_back(&item);
  }
  std::stable_sort(patched.begin(), patched.end(),
                   [](const auto* x, const auto* y) { return x->patch_index < y->patch_index; });
  std::stable_sort(server_only.begin(), server_only.end(),
                   [](const auto* x, const auto* y) { return x->server_index < y->server_index; });
  // A new element goes just before the next patched element that the live list has, so live-only
  // elements stay at their relative positions around it.
  std::vector<int> anchor(patched.size(), -1);
  int next = -1;
  for (size_t i = patched.size(); i-- > 0;) {
    if (patched[i]->server_index >= 0) next = patched[i]->server_index;
    anchor[i] = patched[i]->server_index >= 0 ? patched[i]->server_index : next;
  }
  std::vector<Var> out;
  out.reserve(items.size());
  size_t i = 0, j = 0;
  while (i < patched.size() || j < server_only.size()) {
    bool take_server = false;
    if (i == patched.size()) {
      take_server = true;
    } else if (j < server_only.size()) {
      take_server = anchor[i] < 0 || server_only[j]->server_index < anchor[i];
    }
    out.push_back(take_server ? server_only[j++]->value : patched[i++]->value);
  }
  return out;
}

}  // namespace sandbox::patch

#include "sandbox/json_util.h"

#include <cmath>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/JSONException.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

namespace sandbox::json {

Result<Var> Parse(std::string_view text) {
  try {
    Poco::JSON::Parser parser;
    return parser.parse(std::string(text));
  } catch (const Poco::Exception& e) {
    return ApiError::BadRequest("invalid JSON body: " + e.displayText());
  } catch (const std::exception& e) {
    return ApiError::BadRequest(std::string("invalid JSON body: ") + e.what());
  }
}

Result<ObjectPtr> ParseObject(std::string_view text) {
  auto parsed = Parse(text);
  if (!parsed.ok()) return parsed.error();
  ObjectPtr obj = AsObject(parsed.value());
  if (!obj) return ApiError::BadRequest("invalid body: expected a JSON object");
  return obj;
}

std::string Stringify(const Var& value) {
  std::ostringstream out;
  if (IsNull(value)) return "null";
  Poco::JSON::Stringifier::condense(value, out);
  return out.str();
}

bool IsObject(const Var& v) { return v.type() == typeid(ObjectPtr); }
bool IsArray(const Var& v) { return v.type() == typeid(ArrayPtr); }
bool IsString(const Var& v) { return v.isString(); }
bool IsNull(const Var& v) { return v.isEmpty(); }
bool IsBool(const Var& v) { return v.type() == typeid(bool); }
bool IsNumber(const Var& v) { return v.isNumeric() && !IsBool(v); }
bool IsInteger(const Var& v) {
  if (!IsNumber(v)) return false;
  if (v.isInteger()) return true;
  double d = v.convert<double>();
  return std::isfinite(d) && std::floor(d) == d;
}

ObjectPtr AsObject(const Var& v) { return IsObject(v) ? v.extract<ObjectPtr>() : ObjectPtr(); }
ArrayPtr AsArray(const Var& v) { return IsArray(v) ? v.extract<ArrayPtr>() : ArrayPtr(); }

Var DeepCopy(const Var& value) {
  if (IsObject(value)) return DeepCopy(value.extract<ObjectPtr>());
  if (IsArray(value)) {
    ArrayPtr src = value.extract<ArrayPtr>();
    ArrayPtr out = new Array;
    if (src) {
      for (size_t i = 0; i < src->size(); ++i) out->add(DeepCopy(src->get(i)));
    }
    return out;
  }
  return value;
}

ObjectPtr DeepCopy(const ObjectPtr& object) {
  if (!object) return object;
  ObjectPtr out = new Object;
  for (const auto& [key, val] : *object) out->set(key, DeepCopy(val));
  return out;
}

bool Equal(const Var& a, const Var& b) {
  if (IsNull(a) || IsNull(b)) return IsNull(a) && IsNull(b);
  if (IsObject(a) || IsObject(b)) {
    ObjectPtr x = AsObject(a), y = AsObject(b);
    if (!x || !y) return false;
    if (x->size() != y->size()) return false;
    for (const auto& [key, val] : *x) {
      if (!y->has(key) || !Equal(val, y->get(key))) return false;
    }
    return true;
  }
  if (IsArray(a) || IsArray(b)) {
    ArrayPtr x = AsArray(a), y = AsArray(b);
    if (!x || !y || x->size() != y->size()) return false;
    for (size_t i = 0; i < x->size(); ++i) {
      if (!Equal(x->get(i), y->get(i))) return false;
    }
    return true;
  }
  if (IsBool(a) || IsBool(b))
    return IsBool(a) && IsBool(b) && a.extract<bool>() == b.extract<bool>();
  if (IsNumber(a) && IsNumber(b)) {
    if (a.isInteger() && b.isInteger()) {
      if (a.isSigned() && b.isSigned()) return a.convert<int64_t>() == b.convert<int64_t>();
      return a.convert<std::string>() == b.convert<std::string>();
    }
    return a.convert<double>() == b.convert<double>();
  }
  if (IsString(a) && IsString(b)) return a.extract<std::string>() == b.extract<std::string>();
  return false;
}

namespace {
// Walks all but the last segment of path; returns the parent object and the last key.
ObjectPtr Walk(const ObjectPtr& obj, std::string_view path, std::string* last) {
  ObjectPtr cur = obj;
  size_t start = 0;
  while (cur) {
    size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) {
      *last = std::string(path.substr(start));
      return cur;
    }
    std::string key(path.substr(start, dot - start));
    cur = cur->has(key) ? AsObject(cur->get(key)) : ObjectPtr();
    start = dot + 1;
  }
  return cur;
}

Var Lookup(const ObjectPtr& obj, std::string_view path) {
  std::string last;
  ObjectPtr parent = Walk(obj, path, &last);
  if (!parent || !parent->has(last)) return Var();
  return parent->get(last);
}
}  // namespace

std::optional<std::string> GetString(const ObjectPtr& obj, std::string_view path) {
  Var v = Lookup(obj, path);
  if (!IsString(v)) return std::nullopt;
  return v.extract<std::string>();
}

std::optional<int64_t> GetInt(const ObjectPtr& obj, std::string_view path) {
  Var v = Lookup(obj, path);
  if (!IsInteger(v)) return std::nullopt;
  try {
    return v.convert<int64_t>();
  } catch (const Poco::RangeException&) {
    return std::nullopt;  // a whole number past int64 (1e300, 2^64-1) is no usable int
  }
}

std::optional<bool> GetBool(const ObjectPtr& obj, std::string_view path) {
  Var v = Lookup(obj, path);
  if (!IsBool(v)) return std::nullopt;
  return v.extract<bool>();
}

ObjectPtr GetObject(const ObjectPtr& obj, std::string_view path) {
  return AsObject(Lookup(obj, path));
}

ArrayPtr GetArray(const ObjectPtr& obj, std::string_view path) {
  return AsArray(Lookup(obj, path));
}

ObjectPtr EnsureObject(const ObjectPtr& obj, std::string_view path) {
  ObjectPtr cur = obj;
  size_t start = 0;
  while (cur) {
    size_t dot = path.find('.', start);
    std::string key(path.substr(start, dot == std::string_view::npos ? path.npos : dot - start));
    ObjectPtr next = cur->has(key) ? AsObject(cur->get(key)) : ObjectPtr();
    if (!next) {
      next = new Object;
      cur->set(key, next);
    }
    cur = next;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return cur;
}

}  // namespace sandbox::json

// JSON helpers over Poco::JSON shared by every part of the sandbox. Kubernetes objects are held
// as Poco::JSON::Object::Ptr; a Poco::Dynamic::Var holds any JSON value (Object::Ptr,
// Array::Ptr, std::string, Int64/UInt64/double, bool, or empty for null).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include "sandbox/api_error.h"

namespace sandbox::json {

using Object = Poco::JSON::Object;
using Array = Poco::JSON::Array;
using ObjectPtr = Poco::JSON::Object::Ptr;
using ArrayPtr = Poco::JSON::Array::Ptr;
using Var = Poco::Dynamic::Var;

// Parses text; a syntax error is a 400 BadRequest naming what was wrong.
Result<Var> Parse(std::string_view text);
// Parses text that must be a JSON object.
Result<ObjectPtr> ParseObject(std::string_view text);
// Compact JSON text.
std::string Stringify(const Var& value);

// A deep copy: nothing is shared with the source afterwards.
Var DeepCopy(const Var& value);
ObjectPtr DeepCopy(const ObjectPtr& object);

// Structural equality (numbers compare by value: 1 == 1.0).
bool Equal(const Var& a, const Var& b);

bool IsObject(const Var& v);
bool IsArray(const Var& v);
bool IsString(const Var& v);
bool IsNull(const Var& v);  // empty Var
bool IsBool(const Var& v);
bool IsInteger(const Var& v);  // integral, or a double with no fractional part
bool IsNumber(const Var& v);
ObjectPtr AsObject(const Var& v);  // null if not an object
ArrayPtr AsArray(const Var& v);    // null if not an array

// Dotted-path lookups ("metadata.labels"). Missing or wrong-typed gives nullopt / null.
std::optional<std::string> GetString(const ObjectPtr& obj, std::string_view path);
std::optional<int64_t> GetInt(const ObjectPtr& obj, std::string_view path);
std::optional<bool> GetBool(const ObjectPtr& obj, std::string_view path);
ObjectPtr GetObject(const ObjectPtr& obj, std::string_view path);
ArrayPtr GetArray(const ObjectPtr& obj, std::string_view path);
// Returns the object at path, creating empty objects along the way (replacing non-objects).
ObjectPtr EnsureObject(const ObjectPtr& obj, std::string_view path);

}  // namespace sandbox::json

#include "sandbox/schema_validator.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <utility>

#include <Poco/Exception.h>
#include <Poco/RegularExpression.h>

#include "common/quote.h"

namespace sandbox {
namespace {

using json::ArrayPtr;
using json::ObjectPtr;
using json::Var;

// Messages follow k8s.io/kube-openapi/pkg/validation/errors as converted into field errors by
// apiextensions-apiserver (kubeOpenAPIErrorToFieldError), so clients see the same text.
constexpr const char* kRequired = "FieldValueRequired";
constexpr const char* kInvalid = "FieldValueInvalid";
constexpr const char* kTypeInvalid = "FieldValueTypeInvalid";
constexpr const char* kNotSupported = "FieldValueNotSupported";
constexpr const char* kTooLong = "FieldValueTooLong";
constexpr const char* kTooMany = "FieldValueTooMany";
// Composite (oneOf/anyOf/allOf/not) errors carry no path in the apiserver: field.Path(nil).
constexpr const char* kNoPath = "<nil>";
// Strings longer than this are not matched against `pattern`: PCRE backtracking recurses per
// character and would overflow the stack on hostile input.
constexpr size_t kMaxPatternInput = 4096;
constexpr int kMaxDepth = 128;

std::string Child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// Kubernetes quotes values in its messages as Go's strconv.Quote does.
std::string Quote(const std::string& s) { return canaryctl::GoQuote(s); }

// Go's %v of a float64: shortest digits, exponent form below 1e-4 and from 1e+06.
std::string GoFloat(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  if (ec != std::errc()) return std::to_string(d);
  std::string sci(buf, end);  // e.g. "-1.2345e+06"
  const size_t e = sci.find('e');
  const int exp = std::stoi(sci.substr(e + 1));
  if (exp < -4 || exp >= 6) {
    std::string mantissa = sci.substr(0, e);
    const char sign = exp < 0 ? '-' : '+';
    const int a = std::abs(exp);
    return mantissa + "e" + sign + (a < 10 ? "0" : "") + std::to_string(a);
  }
  auto [fend, fec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  if (fec != std::errc()) return sci;
  return std::string(buf, fend);
}

// A value as field.Error renders it in "Invalid value: %v".
std::string Render(const Var& v) {
  if (json::IsNull(v)) return "\"null\"";
  if (json::IsString(v)) return Quote(v.convert<std::string>());
  if (json::IsBool(v)) return v.extract<bool>() ? "true" : "false";
  if (json::IsNumber(v)) {
    if (v.isInteger()) return v.convert<std::string>();
    return GoFloat(v.convert<double>());
  }
  return json::Stringify(v);
}

// The JSON type name kube-openapi derives from the Go value.
std::string TypeName(const Var& v) {
  if (json::IsNull(v)) return "null";
  if (json::IsString(v)) return "string";
  if (json::IsBool(v)) return "boolean";
  if (json::IsNumber(v)) return v.isInteger() ? "integer" : "number";
  if (json::IsObject(v)) return "object";
  if (json::IsArray(v)) return "array";
  return "unknown";
}

bool Flag(const ObjectPtr& schema, const char* key) {
  if (!schema || !schema->has(key)) return false;
  const Var v = schema->get(key);
  return json::IsBool(v) && v.extract<bool>();
}

std::optional<double> Number(const ObjectPtr& schema, const char* key) {
  if (!schema || !schema->has(key)) return std::nullopt;
  const Var v = schema->get(key);
  if (!json::IsNumber(v)) return std::nullopt;
  return v.convert<double>();
}

std::string Bound(double d) {
  if (std::floor(d) == d && std::fabs(d) < 9.2e18) return std::to_string(static_cast<int64_t>(d));
  return GoFloat(d);
}

// Counts runes, as Go's validation does for minLength/maxLength.
size_t RuneCount(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xc0) != 0x80) ++n;
  }
  return n;
}

class Walker {
 public:
  Walker(ValidationResult* result, bool structural, bool prune)
      : result_(result), structural_(structural), prune_(prune) {}

  void Validate(const ObjectPtr& schema, const Var& value, const std::string& path, int depth) {
    if (!schema) return;
    if (depth > kMaxDepth) {
      AddInvalid(path, value, path + " in body is nested too deeply");
      return;
    }
    if (json::IsNull(value)) {
      if (Flag(schema, "nullable")) return;
      const std::string types = Types(schema);
      if (!types.empty()) {
        AddTypeInvalid(path, "null", types);
        return;
      }
    } else if (!CheckType(schema, value, path)) {
      return;
    }
    CheckEnum(schema, value, path);
    if (json::IsString(value)) CheckString(schema, value.convert<std::string>(), path);
    if (json::IsNumber(value)) CheckNumber(schema, value, path);
    if (ArrayPtr array = json::AsArray(value)) CheckArray(schema, array, path, depth);
    if (ObjectPtr object = json::AsObject(value)) CheckObject(schema, object, path, depth);
    CheckComposition(schema, value, path, depth);
  }

  // Root: apiVersion, kind and metadata belong to the apiserver, not to the CRD's schema.
  void ValidateRoot(const ObjectPtr& schema, const ObjectPtr& object) {
    root_ = true;
    Validate(schema, object, "", 0);
  }

 private:
  void Add(std::string reason, std::string message, std::string field) {
    result_->causes.push_back({std::move(reason), std::move(message), std::move(field)});
  }
  void AddInvalid(const std::string& path, const Var& value, const std::string& detail) {
    Add(kInvalid, "Invalid value: " + Render(value) + ": " + detail, path);
  }
  void AddTypeInvalid(const std::string& path, const std::string& actual,
                      const std::string& expected) {
    Add(kTypeInvalid,
        "Invalid value: " + Quote(actual) + ": " + path + " in body must be of type " + expected +
            ": " + Quote(actual),
        path);
  }

  // "integer,string" for int-or-string nodes, as the apiserver converts them; "" when untyped.
  static std::string Types(const ObjectPtr& schema) {
    if (Flag(schema, "x-kubernetes-int-or-string")) return "integer,string";
    if (schema->has("type") && json::IsString(schema->get("type"))) {
      return schema->get("type").convert<std::string>();
    }
    return "";
  }

  bool CheckType(const ObjectPtr& schema, const Var& value, const std::string& path) {
    const std::string types = Types(schema);
    if (types.empty()) return true;
    const std::string actual = TypeName(value);
    bool ok = false;
    size_t start = 0;
    while (start <= types.size()) {
      size_t comma = types.find(',', start);
      if (comma == std::string::npos) comma = types.size();
      const std::string t = types.substr(start, comma - start);
      if (t == actual) ok = true;
      // An integral float (50.0) is an integer; any integer is a number.
      if (t == "integer" && actual == "number" && json::IsInteger(value)) ok = true;
      if (t == "number" && actual == "integer") ok = true;
      start = comma + 1;
    }
    if (!ok) AddTypeInvalid(path, actual, types);
    return ok;
  }

  void CheckEnum(const ObjectPtr& schema, const Var& value, const std::string& path) {
    ArrayPtr values = json::GetArray(schema, "enum");
    if (!values) return;
    std::string supported;
    for (size_t i = 0; i < values->size(); ++i) {
      const Var allowed = values->get(i);
      if (json::Equal(allowed, value)) return;
      const std::string text =
          json::IsString(allowed) ? allowed.convert<std::string>() : json::Stringify(allowed);
      supported += (i == 0 ? "" : ", ") + Quote(text);
    }
    Add(kNotSupported, "Unsupported value: " + Render(value) + ": supported values: " + supported,
        path);
  }

  void CheckString(const ObjectPtr& schema, const std::string& s, const std::string& path) {
    const size_t runes = RuneCount(s);
    if (auto max = Number(schema, "maxLength"); max && static_cast<double>(runes) > *max) {
      Add(kTooLong, "Too long: may not be more than " + Bound(*max) + " bytes", path);
    }
    if (auto min = Number(schema, "minLength"); min && static_cast<double>(runes) < *min) {
      AddInvalid(path, s, path + " in body should be at least " + Bound(*min) + " chars long");
    }
    if (auto pattern = json::GetString(schema, "pattern");
        pattern && s.size() <= kMaxPatternInput) {
      try {
        // PCRE rather than std::regex: it is closer to Go's RE2 syntax, bounds backtracking
        // with a match limit, and GCC 12 warns (-Werror) inside <regex> under sanitizers.
        const Poco::RegularExpression re(*pattern, Poco::RegularExpression::RE_UTF8);
        Poco::RegularExpression::Match match;
        if (re.match(s, 0, match) == 0) {
          AddInvalid(path, s, path + " in body should match '" + *pattern + "'");
        }
      } catch (const Poco::Exception&) {
        // The apiserver rejects CRDs with bad patterns; one we cannot use constrains nothing.
      }
    }
  }

  void CheckNumber(const ObjectPtr& schema, const Var& value, const std::string& path) {
    const double d = value.convert<double>();
    if (auto max = Number(schema, "maximum")) {
      const bool exclusive = Flag(schema, "exclusiveMaximum");
      if (exclusive ? d >= *max : d > *max) {
        AddInvalid(path, value,
                   path + " in body should be less than " + (exclusive ? "" : "or equal to ") +
                       Bound(*max));
      }
    }
    if (auto min = Number(schema, "minimum")) {
      const bool exclusive = Flag(schema, "exclusiveMinimum");
      if (exclusive ? d <= *min : d < *min) {
        AddInvalid(path, value,
                   path + " in body should be greater than " + (exclusive ? "" : "or equal to ") +
                       Bound(*min));
      }
    }
    if (auto factor = Number(schema, "multipleOf"); factor && *factor > 0) {
      const double q = d / *factor;
      if (std::fabs(q - std::round(q)) > 1e-9) {
        AddInvalid(path, value, path + " in body should be a multiple of " + Bound(*factor));
      }
    }
  }

  void CheckArray(const ObjectPtr& schema, const ArrayPtr& array, const std::string& path,
                  int depth) {
    const auto size = static_cast<int64_t>(array->size());
    if (auto max = Number(schema, "maxItems"); max && static_cast<double>(size) > *max) {
      Add(kTooMany,
          "Too many: " + std::to_string(size) + ": must have at most " + Bound(*max) + " items",
          path);
    }
    if (auto min = Number(schema, "minItems"); min && static_cast<double>(size) < *min) {
      AddInvalid(path, Var(static_cast<Poco::Int64>(size)),
                 path + " in body should have at least " + Bound(*min) + " items");
    }
    ObjectPtr items = json::GetObject(schema, "items");
    if (!items) return;
    for (size_t i = 0; i < array->size(); ++i) {
      Validate(items, array->get(i), Index(path, i), depth + 1);
    }
  }

  void CheckObject(const ObjectPtr& schema, ObjectPtr object, const std::string& path, int depth) {
    const bool at_root = root_ && path.empty();
    ObjectPtr properties = json::GetObject(schema, "properties");
    const Var additional =
        schema->has("additionalProperties") ? schema->get("additionalProperties") : Var();
    ObjectPtr additional_schema = json::AsObject(additional);
    const bool additional_allowed = json::IsBool(additional) && additional.extract<bool>();
    const bool preserve = Flag(schema, "x-kubernetes-preserve-unknown-fields");
    const bool embedded = Flag(schema, "x-kubernetes-embedded-resource");

    // Nulls of non-nullable fields are dropped before validation, as the apiserver prunes them.
    std::vector<std::string> keys;
    for (const auto& [key, val] : *object) keys.push_back(key);
    for (const std::string& key : keys) {
      const Var val = object->get(key);
      const std::string child = Child(path, key);
      if ((at_root || embedded) && (key == "apiVersion" || key == "kind" || key == "metadata")) {
        continue;
      }
      ObjectPtr property = properties ? json::GetObject(properties, key) : ObjectPtr();
      ObjectPtr sub = property ? property : additional_schema;
      if (sub) {
        if (json::IsNull(val) && !Flag(sub, "nullable")) {
          if (structural_ && prune_) object->remove(key);
          continue;
        }
        Validate(sub, val, child, depth + 1);
        continue;
      }
      if (preserve || additional_allowed || !structural_) continue;
      // A property of an oneOf branch is a value validation, never a declaration; only the
      // structural walk decides what is unknown.
      result_->unknown_fields.push_back(child);
      if (prune_) object->remove(key);
    }

    for (const std::string& name : StringList(schema, "required")) {
      ObjectPtr property = properties ? json::GetObject(properties, name) : ObjectPtr();
      const bool dropped_null = object->has(name) && json::IsNull(object->get(name)) &&
                                !(property && Flag(property, "nullable"));
      if (!object->has(name) || dropped_null) {
        Add(kRequired, "Required value", Child(path, name));
      }
    }
    const auto count = static_cast<int64_t>(object->size());
    if (auto max = Number(schema, "maxProperties"); max && static_cast<double>(count) > *max) {
      Add(kTooMany,
          "Too many: " + std::to_string(count) + ": must have at most " + Bound(*max) + " items",
          path);
    }
    if (auto min = Number(schema, "minProperties"); min && static_cast<double>(count) < *min) {
      AddInvalid(path, Var(static_cast<Poco::Int64>(count)),
                 path + " in body should have at least " + Bound(*min) + " properties");
    }
  }

  static std::vector<std::string> StringList(const ObjectPtr& schema, const char* key) {
    std::vector<std::string> out;
    ArrayPtr array = json::GetArray(schema, key);
    if (!array) return out;
    for (size_t i = 0; i < array->size(); ++i) {
      if (json::IsString(array->get(i))) out.push_back(array->get(i).convert<std::string>());
    }
    return out;
  }

  // Evaluates one branch as a value validation: no pruning, no unknown-field reports.
  ValidationResult Branch(const ObjectPtr& schema, const Var& value, const std::string& path,
                          int depth) const {
    ValidationResult branch;
    Walker walker(&branch, false, false);
    walker.Validate(schema, value, path, depth + 1);
    return branch;
  }

  void Composite(const std::string& message) {
    Add(kInvalid, "Invalid value: \"\": " + message, kNoPath);
  }

  void CheckComposition(const ObjectPtr& schema, const Var& value, const std::string& path,
                        int depth) {
    const std::string name = Quote(path);
    if (ArrayPtr all = json::GetArray(schema, "allOf")) {
      size_t valid = 0;
      std::vector<StatusCause> failures;
      for (size_t i = 0; i < all->size(); ++i) {
        ValidationResult r = Branch(json::AsObject(all->get(i)), value, path, depth);
        if (r.causes.empty()) ++valid;
        failures.insert(failures.end(), r.causes.begin(), r.causes.end());
      }
      if (valid != all->size()) {
        Composite(name + " must validate all the schemas (allOf)" +
                  (valid == 0 ? ". None validated" : ""));
        result_->causes.insert(result_->causes.end(), failures.begin(), failures.end());
      }
    }
    if (ArrayPtr any = json::GetArray(schema, "anyOf")) {
      bool ok = false;
      std::optional<ValidationResult> best;
      for (size_t i = 0; i < any->size() && !ok; ++i) {
        ValidationResult r = Branch(json::AsObject(any->get(i)), value, path, depth);
        if (r.causes.empty()) {
          ok = true;
        } else if (!best || r.causes.size() < best->causes.size()) {
          best = std::move(r);
        }
      }
      if (!ok) {
        Composite(name + " must validate at least one schema (anyOf)");
        if (best) {
          result_->causes.insert(result_->causes.end(), best->causes.begin(), best->causes.end());
        }
      }
    }
    if (ArrayPtr one = json::GetArray(schema, "oneOf")) {
      size_t valid = 0;
      std::optional<ValidationResult> best;
      for (size_t i = 0; i < one->size(); ++i) {
        ValidationResult r = Branch(json::AsObject(one->get(i)), value, path, depth);
        if (r.causes.empty()) {
          ++valid;
        } else if (!best || r.causes.size() < best->causes.size()) {
          best = std::move(r);
        }
      }
      if (valid != 1) {
        Composite(name + " must validate one and only one schema (oneOf). " +
                  (valid == 0 ? std::string("Found none valid")
                              : "Found " + std::to_string(valid) + " valid alternatives"));
        if (valid == 0 && best) {
          result_->causes.insert(result_->causes.end(), best->causes.begin(), best->causes.end());
        }
      }
    }
    if (ObjectPtr not_schema = json::GetObject(schema, "not")) {
      if (Branch(not_schema, value, path, depth).causes.empty()) {
        Composite(name + " must not validate the schema (not)");
      }
    }
  }

  ValidationResult* result_;
  bool structural_;
  bool prune_;
  bool root_ = false;
};

}  // namespace

SchemaValidator::SchemaValidator(json::ObjectPtr openapi_v3_schema)
    : schema_(std::move(openapi_v3_schema)) {}

ValidationResult SchemaValidator::Validate(const json::ObjectPtr& object,
                                           bool prune_unknown) const {
  ValidationResult result;
  if (!object) {
    result.causes.push_back({kInvalid, "Invalid value: \"null\": expected an object", ""});
    return result;
  }
  if (!schema_) return result;
  try {
    Walker walker(&result, true, prune_unknown);
    walker.ValidateRoot(schema_, object);
  } catch (const Poco::Exception& e) {
    result.causes.push_back({"InternalError", "schema validation failed: " + e.displayText(), ""});
  } catch (const std::exception& e) {
    result.causes.push_back(
        {"InternalError", std::string("schema validation failed: ") + e.what(), ""});
  }
  return result;
}

}  // namespace sandbox

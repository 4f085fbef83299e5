#include "sandbox/yaml_json.h"

#include <cstdlib>
#include <exception>
#include <string>

#include <yaml-cpp/yaml.h>

namespace sandbox {
namespace {

bool LooksInteger(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  return i < s.size() && s.find_first_not_of("0123456789", i) == std::string::npos;
}

bool LooksFloat(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && s.find_first_of("0123456789") != std::string::npos;
}

}  // namespace

// YAML 1.2 core schema: quoted scalars are strings; plain ones may be null, bool or numbers.
json::Var YamlToVar(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: {
      json::ArrayPtr out = new json::Array;
      for (const auto& item : node) out->add(YamlToVar(item));
      return out;
    }
    case YAML::NodeType::Map: {
      json::ObjectPtr out = new json::Object;
      for (const auto& kv : node) out->set(kv.first.as<std::string>(), YamlToVar(kv.second));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "!") return s;
      if (s == "null" || s == "Null" || s == "NULL" || s == "~" || s.empty()) return json::Var();
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
      if (LooksInteger(s)) {
        try {
          return static_cast<Poco::Int64>(std::stoll(s));
        } catch (const std::exception&) {
          return s;
        }
      }
      if (LooksFloat(s)) return std::strtod(s.c_str(), nullptr);
      return s;
    }
    default:
      return json::Var();
  }
}

Result<json::ObjectPtr> ParseYamlObject(const std::string& body) {
  size_t first = body.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && body[first] == '{') return json::ParseObject(body);
  try {
    YAML::Node node = YAML::Load(body);
    json::ObjectPtr obj = json::AsObject(YamlToVar(node));
    if (!obj) return ApiError::BadRequest("invalid body: expected a YAML or JSON object");
    return obj;
  } catch (const std::exception& e) {
    return ApiError::BadRequest(std::string("error converting YAML to JSON: ") + e.what());
  }
}

}  // namespace sandbox

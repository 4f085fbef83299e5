#include "checks/json_field.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>

#include <sstream>

namespace canaryctl::checks {

std::optional<Poco::Dynamic::Var> FollowJsonPath(Poco::Dynamic::Var node, const std::string& path) {
  std::istringstream segments(path);
  std::string key;
  while (std::getline(segments, key, '.')) {
    if (node.type() == typeid(Poco::JSON::Object::Ptr)) {
      auto object = node.extract<Poco::JSON::Object::Ptr>();
      if (!object->has(key)) return std::nullopt;
      node = object->get(key);
    } else if (node.type() == typeid(Poco::JSON::Array::Ptr)) {
      auto array = node.extract<Poco::JSON::Array::Ptr>();
      std::size_t index = 0;
      try {
        std::size_t used = 0;
        index = std::stoul(key, &used);
        if (used != key.size()) return std::nullopt;
      } catch (const std::exception&) {
        return std::nullopt;
      }
      if (index >= array->size()) return std::nullopt;
      node = array->get(static_cast<unsigned>(index));
    } else {
      return std::nullopt;
    }
  }
  return node;
}

std::string JsonText(const Poco::Dynamic::Var& value) {
  if (value.isEmpty()) return "null";
  if (value.type() == typeid(Poco::JSON::Object::Ptr) ||
      value.type() == typeid(Poco::JSON::Array::Ptr)) {
    std::ostringstream out;
    Poco::JSON::Stringifier::stringify(value, out);
    return out.str();
  }
  return value.toString();
}

}  // namespace canaryctl::checks

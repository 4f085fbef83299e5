#include "helm/helm_json.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

namespace canaryctl::helm {

namespace {

using Poco::JSON::Object;

Result<Poco::Dynamic::Var> Parse(const std::string& text, const char* command) {
  try {
    Poco::JSON::Parser parser;
    return parser.parse(text);
  } catch (const Poco::Exception& e) {
    std::string start = text.substr(0, 80);
    return ClusterError(std::string("helm ") + command + " printed invalid JSON (" +
                        e.displayText() + "), starting with: " + start);
  }
}

Error FieldError(const char* command, const std::string& field, const std::string& expected) {
  return ClusterError(std::string("helm ") + command + " -o json: field '" + field +
                      "' is missing or not " + expected);
}

Result<std::string> StringField(const Object::Ptr& obj, const std::string& key, const char* command,
                                const std::string& path) {
  if (!obj->has(key) || !obj->get(key).isString()) return FieldError(command, path, "a string");
  return obj->getValue<std::string>(key);
}

// Optional string: absent or null gives "" (helm 4 omits some empty fields).
std::string OptionalString(const Object::Ptr& obj, const std::string& key) {
  if (!obj->has(key) || !obj->get(key).isString()) return "";
  return obj->getValue<std::string>(key);
}

Result<int> IntField(const Object::Ptr& obj, const std::string& key, const char* command,
                     const std::string& path) {
  if (!obj->has(key) || !obj->get(key).isInteger()) return FieldError(command, path, "an integer");
  return obj->getValue<int>(key);
}

}  // namespace

Result<ReleaseStatus> ParseStatusJson(const std::string& text) {
  constexpr const char* kCmd = "status";
  auto root = Parse(text, kCmd);
  if (!root.ok()) return root.error();
  if (root.value().type() != typeid(Object::Ptr)) return FieldError(kCmd, "(root)", "an object");
  auto obj = root.value().extract<Object::Ptr>();
  ReleaseStatus s;
  auto name = StringField(obj, "name", kCmd, "name");
  if (!name.ok()) return name.error();
  s.name = name.value();
  s.ns = OptionalString(obj, "namespace");
  auto version = IntField(obj, "version", kCmd, "version");
  if (!version.ok()) return version.error();
  s.current.number = version.value();
  auto info = obj->getObject("info");
  if (!info) return FieldError(kCmd, "info", "an object");
  auto status = StringField(info, "status", kCmd, "info.status");
  if (!status.ok()) return status.error();
  s.current.status = status.value();
  s.current.description = OptionalString(info, "description");
  s.current.updated = OptionalString(info, "last_deployed");
  s.first_deployed = OptionalString(info, "first_deployed");
  return s;
}

Result<std::vector<Revision>> ParseHistoryJson(const std::string& text) {
  constexpr const char* kCmd = "history";
  auto root = Parse(text, kCmd);
  if (!root.ok()) return root.error();
  if (root.value().type() != typeid(Poco::JSON::Array::Ptr)) {
    return FieldError(kCmd, "(root)", "an array");
  }
  auto array = root.value().extract<Poco::JSON::Array::Ptr>();
  std::vector<Revision> out;
  for (size_t i = 0; i < array->size(); ++i) {
    std::string at = "[" + std::to_string(i) + "].";
    auto item = array->getObject(static_cast<unsigned>(i));
    if (!item) return FieldError(kCmd, "[" + std::to_string(i) + "]", "an object");
    Revision r;
    auto number = IntField(item, "revision", kCmd, at + "revision");
    if (!number.ok()) return number.error();
    r.number = number.value();
    auto status = StringField(item, "status", kCmd, at + "status");
    if (!status.ok()) return status.error();
    r.status = status.value();
    r.chart = OptionalString(item, "chart");
    r.app_version = OptionalString(item, "app_version");
    r.updated = OptionalString(item, "updated");
    r.description = OptionalString(item, "description");
    out.push_back(std::move(r));
  }
  return out;
}

Result<Poco::JSON::Object::Ptr> ParseValuesJson(const std::string& text) {
  constexpr const char* kCmd = "get values";
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text.compare(first, 4, "null") == 0 &&
      text.find_first_not_of(" \t\r\n", first + 4) == std::string::npos) {
    return Poco::JSON::Object::Ptr(new Object);
  }
  auto root = Parse(text, kCmd);
  if (!root.ok()) return root.error();
  if (root.value().isEmpty()) return Poco::JSON::Object::Ptr(new Object);
  if (root.value().type() != typeid(Object::Ptr)) return FieldError(kCmd, "(root)", "an object");
  return root.value().extract<Object::Ptr>();
}

}  // namespace canaryctl::helm

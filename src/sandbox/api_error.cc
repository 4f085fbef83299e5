#include "sandbox/api_error.h"

#include <Poco/JSON/Array.h>

namespace sandbox {

Poco::JSON::Object::Ptr ApiError::ToStatus() const {
  Poco::JSON::Object::Ptr status = new Poco::JSON::Object;
  status->set("kind", "Status");
  status->set("apiVersion", "v1");
  status->set("metadata", Poco::JSON::Object::Ptr(new Poco::JSON::Object));
  status->set("status", "Failure");
  status->set("message", message);
  status->set("reason", reason);
  status->set("code", code);
  if (!name.empty() || !kind.empty() || !causes.empty()) {
    Poco::JSON::Object::Ptr details = new Poco::JSON::Object;
    if (!name.empty()) details->set("name", name);
    if (!group.empty()) details->set("group", group);
    if (!kind.empty()) details->set("kind", kind);
    if (!causes.empty()) {
      Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
      for (const auto& c : causes) {
        Poco::JSON::Object::Ptr cause = new Poco::JSON::Object;
        cause->set("reason", c.reason);
        cause->set("message", c.message);
        cause->set("field", c.field);
        list->add(cause);
      }
      details->set("causes", list);
    }
    status->set("details", details);
  }
  return status;
}

namespace {
std::string Qualified(const std::string& group, const std::string& resource) {
  return group.empty() ? resource : resource + "." + group;
}
}  // namespace

ApiError ApiError::BadRequest(std::string message) {
  return ApiError{400, "BadRequest", std::move(message), "", "", "", {}};
}

ApiError ApiError::NotFound(const std::string& group, const std::string& resource,
                            const std::string& name) {
  return ApiError{404,   "NotFound", Qualified(group, resource) + " \"" + name + "\" not found",
                  group, resource,   name,
                  {}};
}

ApiError ApiError::AlreadyExists(const std::string& group, const std::string& resource,
                                 const std::string& name) {
  return ApiError{
      409,   "AlreadyExists", Qualified(group, resource) + " \"" + name + "\" already exists",
      group, resource,        name,
      {}};
}

ApiError ApiError::Conflict(const std::string& group, const std::string& resource,
                            const std::string& name, const std::string& why) {
  return ApiError{409,
                  "Conflict",
                  "Operation cannot be fulfilled on " + Qualified(group, resource) + " \"" + name +
                      "\": " + why,
                  group,
                  resource,
                  name,
                  {}};
}

ApiError ApiError::Invalid(const std::string& group, const std::string& kind,
                           const std::string& name, std::vector<StatusCause> causes) {
  std::string message =
      kind + (group.empty() ? "" : "." + group) + " \"" + name + "\" is invalid: ";
  for (size_t i = 0; i < causes.size(); ++i) {
    if (i) message += ", ";
    message += causes[i].field + ": " + causes[i].message;
  }
  return ApiError{422, "Invalid", message, group, kind, name, std::move(causes)};
}

ApiError ApiError::UnsupportedMediaType(const std::string& content_type) {
  return ApiError{415,
                  "UnsupportedMediaType",
                  "the body of the request was in an unknown format - accepted media types "
                  "include: application/json-patch+json, application/merge-patch+json, "
                  "application/apply-patch+yaml (got " +
                      content_type + ")",
                  "",
                  "",
                  "",
                  {}};
}

ApiError ApiError::Gone(std::string message) {
  return ApiError{410, "Expired", std::move(message), "", "", "", {}};
}

ApiError ApiError::Internal(std::string message) {
  return ApiError{500, "InternalError", std::move(message), "", "", "", {}};
}

}  // namespace sandbox

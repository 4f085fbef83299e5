// Errors as values for the sandbox: an ApiError becomes a Kubernetes `Status` object on the
// wire, so it carries exactly what clients read from one (code, reason, message, details).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <Poco/JSON/Object.h>

namespace sandbox {

struct StatusCause {
  std::string reason;   // e.g. "FieldValueRequired", "FieldValueInvalid", "FieldValueNotSupported"
  std::string message;  // human-readable
  std::string field;    // JSON-path-like, e.g. "spec.http[0].route[1].weight"
};

struct ApiError {
  int code = 500;      // HTTP status: 400, 404, 409, 410, 413, 415, 422, 500...
  std::string reason;  // BadRequest, NotFound, AlreadyExists, Conflict, Gone, Invalid,
                       // UnsupportedMediaType, RequestEntityTooLarge, InternalError...
  std::string message;
  std::string group;  // details.group
  std::string kind;   // details.kind (resource plural, as the apiserver reports it)
  std::string name;   // details.name
  std::vector<StatusCause> causes;

  // The `Status` object (apiVersion v1, kind Status, status Failure) clients parse.
  Poco::JSON::Object::Ptr ToStatus() const;

  static ApiError BadRequest(std::string message);
  static ApiError NotFound(const std::string& group, const std::string& resource,
                           const std::string& name);
  static ApiError AlreadyExists(const std::string& group, const std::string& resource,
                                const std::string& name);
  // The apiserver's optimistic-concurrency message, word for word, as clients match on it.
  static ApiError Conflict(const std::string& group, const std::string& resource,
                           const std::string& name, const std::string& why);
  static ApiError Invalid(const std::string& group, const std::string& kind,
                          const std::string& name, std::vector<StatusCause> causes);
  static ApiError UnsupportedMediaType(const std::string& content_type);
  static ApiError Gone(std::string message);
  static ApiError Internal(std::string message);
};

// Holds a value or an ApiError. Small on purpose: check ok(), then value() or error().
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(ApiError error) : v_(std::move(error)) {}  // NOLINT: implicit by design
  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const ApiError& error() const { return std::get<ApiError>(v_); }

 private:
  std::variant<T, ApiError> v_;
};

// For operations that return nothing on success.
struct Ok {};
using Status = Result<Ok>;

}  // namespace sandbox

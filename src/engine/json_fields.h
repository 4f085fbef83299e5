// Internal to the engine: strict reading of JSON that comes from the cluster (annotations).
// Every failure is a ClusterError naming the annotation and the field; nothing here throws.
#pragma once

#include <Poco/JSON/Object.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace canaryctl::engine {

// Seconds since the epoch, UTC; written as "YYYY-MM-DDTHH:MM:SSZ".
using Timestamp = std::chrono::sys_seconds;

std::string FormatTimestamp(Timestamp t);
// Accepts exactly "YYYY-MM-DDTHH:MM:SSZ" with a valid calendar date.
std::optional<Timestamp> ParseTimestamp(std::string_view text);

namespace json {

// Largest annotation text accepted (Kubernetes caps all annotations together at 256 KiB).
inline constexpr size_t kMaxDocumentBytes = 256 * 1024;
// Longest string accepted in any field.
inline constexpr size_t kMaxStringBytes = 4096;

bool IsValidUtf8(std::string_view text);

// Parses `text` as one JSON object; `what` names the document in errors ("state annotation
// canaryctl.io/state"). Rejects oversize, non-UTF-8, too deep (> 8 levels) and non-objects.
Result<Poco::JSON::Object::Ptr> ParseObject(std::string_view text, const std::string& what,
                                            const std::string& recovery);

// Field readers: `path` is the field's full name for the message ("stable.revision").
// Each returns an error (through `error`) when the field is missing, of the wrong type or out
// of range; the first error wins and later calls are no-ops.
class Reader {
 public:
  // Errors read "<what> is corrupt: field `<path>`: <problem>; <recovery>".
  Reader(std::string what, std::string recovery)
      : what_(std::move(what)), recovery_(std::move(recovery)) {}

  std::string String(const Poco::JSON::Object& obj, const std::string& key, const std::string& path,
                     bool allow_empty = true);
  int64_t Int(const Poco::JSON::Object& obj, const std::string& key, const std::string& path,
              int64_t min, int64_t max);
  Timestamp Time(const Poco::JSON::Object& obj, const std::string& key, const std::string& path);
  Poco::JSON::Object::Ptr Object(const Poco::JSON::Object& obj, const std::string& key,
                                 const std::string& path);
  Poco::JSON::Array::Ptr Array(const Poco::JSON::Object& obj, const std::string& key,
                               const std::string& path);
  // Rejects keys other than `known`, naming the first unknown one.
  void OnlyKeys(const Poco::JSON::Object& obj, const std::vector<std::string>& known,
                const std::string& path);
  void Fail(const std::string& path, const std::string& problem);

  bool ok() const { return !error_.has_value(); }
  const Error& error() const { return *error_; }

 private:
  std::string what_;
  std::string recovery_;
  std::optional<Error> error_;
};

}  // namespace json
}  // namespace canaryctl::engine

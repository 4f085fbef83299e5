#include "sandbox/request_log.h"

#include <cerrno>
#include <cstring>

#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Object.h>
#include <Poco/Timestamp.h>

#include "sandbox/json_util.h"

namespace sandbox {

Result<std::unique_ptr<RequestLog>> RequestLog::Open(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) {
    return ApiError::Internal("cannot open the request log " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<RequestLog>(new RequestLog(file));
}

RequestLog::~RequestLog() { std::fclose(file_); }

std::string RequestLog::Format(const RequestLogEntry& entry) {
  // Insertion order keeps the documented field order, which makes the file easy to read.
  Poco::JSON::Object line(Poco::JSON_PRESERVE_KEY_ORDER);
  line.set("time", Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y-%m-%dT%H:%M:%S.%iZ"));
  line.set("method", entry.method);
  line.set("path", entry.path);
  line.set("query", entry.query);
  line.set("status", entry.status);
  line.set("ms", entry.ms);
  line.set("userAgent", entry.user_agent);
  std::ostringstream out;
  line.stringify(out);
  return out.str();
}

void RequestLog::Write(const RequestLogEntry& entry) {
  const std::string line = Format(entry) + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

}  // namespace sandbox

// The request log (--request-log): one JSON object per line, appended and flushed per request.
#pragma once

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "sandbox/api_error.h"

namespace sandbox {

struct RequestLogEntry {
  std::string method;
  std::string path;   // without the query
  std::string query;  // without the '?'; "" when absent
  int status = 0;     // 0: the connection was dropped without a response
  double ms = 0;
  std::string user_agent;
};

class RequestLog {
 public:
  // Opens (creating or appending to) the file at path.
  static Result<std::unique_ptr<RequestLog>> Open(const std::string& path);
  ~RequestLog();

  // Appends {"time","method","path","query","status","ms","userAgent"} and flushes.
  // Thread-safe. time is the moment of the call, RFC 3339 UTC with milliseconds.
  void Write(const RequestLogEntry& entry);

  // The line Write appends for entry at the current time, without the newline.
  static std::string Format(const RequestLogEntry& entry);

  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;

 private:
  explicit RequestLog(std::FILE* file) : file_(file) {}
  std::mutex mu_;
  std::FILE* file_;
};

}  // namespace sandbox

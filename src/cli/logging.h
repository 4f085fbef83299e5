// canaryctl's log (shared/DESIGN.md §8): spdlog's default logger, writing one line per message
// to the given stream (stderr in the binary), shared with the GitLab section markers.
//
// Contract: every message passes through the Redactor before it is formatted, so secrets
// registered with it (even after the scope began) never reach the stream; each line is written
// and flushed at once, so lines and section markers keep their order without explicit flushes.
// Formats:
//   text  "14:03:07 info deploy: candidate installed"      (UTC time)
//   json  {"time":"2024-05-01T14:03:07.123Z","level":"info","message":"..."} (one per line)
// Levels: info, or debug with verbose.
#pragma once

#include <chrono>
#include <memory>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

#include "ci/redactor.h"
#include "cli/options.h"

namespace canaryctl::cli {

// One formatted line, newline included. `level` is spdlog's name: "info", "warning", ...
std::string FormatLogLine(OutputFormat format, std::chrono::system_clock::time_point time,
                          std::string_view level, std::string_view message);

// Makes a logger as described above the default one for its lifetime, and restores the
// previous default when it ends (the stream and redactor are borrowed and must outlive it).
// An ostream whose every complete line becomes one info message of the default logger (and
// so is redacted and formatted like any other): with --log-format json, GitLab section headers
// and helm's output must be JSON lines too. A last unterminated line is logged on destruction.
class LogLineStream : public std::ostream {
 public:
  LogLineStream();
  ~LogLineStream() override;

 private:
  class Buffer : public std::streambuf {
   public:
    ~Buffer() override;

   protected:
    int_type overflow(int_type c) override;
    std::streamsize xsputn(const char* s, std::streamsize n) override;

   private:
    void Emit();
    std::string line_;
  };
  Buffer buffer_;
};

class LoggingScope {
 public:
  LoggingScope(std::ostream& stream, OutputFormat format, bool verbose,
               const ci::Redactor& redactor);
  ~LoggingScope();
  LoggingScope(const LoggingScope&) = delete;
  LoggingScope& operator=(const LoggingScope&) = delete;

 private:
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace canaryctl::cli

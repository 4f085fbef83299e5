#include "cli/logging.h"

#include <Poco/JSON/Object.h>

#include <ctime>
#include <mutex>
#include <sstream>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

namespace canaryctl::cli {

namespace {

std::string FormatUtc(std::chrono::system_clock::time_point time, const char* format) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, format, &tm);
  return std::string(buf, n);
}

// Writes redacted, formatted lines to a borrowed stream; base_sink's mutex serializes them.
class StreamSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  StreamSink(std::ostream& stream, OutputFormat format, const ci::Redactor& redactor)
      : stream_(stream), format_(format), redactor_(redactor) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    // Redact first: an escaped secret would no longer match (ci/redactor.h).
    std::string text = redactor_.Redact(std::string_view(msg.payload.data(), msg.payload.size()));
    auto level = spdlog::level::to_string_view(msg.level);
    stream_ << FormatLogLine(format_, msg.time, std::string_view(level.data(), level.size()), text);
    stream_.flush();
  }
  void flush_() override { stream_.flush(); }

 private:
  std::ostream& stream_;
  OutputFormat format_;
  const ci::Redactor& redactor_;
};

}  // namespace

std::string FormatLogLine(OutputFormat format, std::chrono::system_clock::time_point time,
                          std::string_view level, std::string_view message) {
  if (format == OutputFormat::kText) {
    std::string line = FormatUtc(time, "%H:%M:%S");
    line.append(" ").append(level).append(" ").append(message).append("\n");
    return line;
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()) % 1000;
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03d", static_cast<int>(ms.count()));
  Poco::JSON::Object line(Poco::JSON_PRESERVE_KEY_ORDER);
  line.set("time", FormatUtc(time, "%Y-%m-%dT%H:%M:%S") + millis + "Z");
  line.set("level", std::string(level));
  line.set("message", std::string(message));
  std::ostringstream os;
  line.stringify(os);
  os << '\n';
  return os.str();
}

LogLineStream::LogLineStream() : std::ostream(nullptr) { rdbuf(&buffer_); }

LogLineStream::~LogLineStream() = default;

LogLineStream::Buffer::~Buffer() {
  if (!line_.empty()) Emit();
}

LogLineStream::Buffer::int_type LogLineStream::Buffer::overflow(int_type c) {
  if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
  char ch = traits_type::to_char_type(c);
  xsputn(&ch, 1);
  return c;
}

std::streamsize LogLineStream::Buffer::xsputn(const char* s, std::streamsize n) {
  for (std::streamsize i = 0; i < n; ++i) {
    if (s[i] == '\n') {
      Emit();
    } else {
      line_.push_back(s[i]);
    }
  }
  return n;
}

void LogLineStream::Buffer::Emit() {
  // Carriage returns and GitLab's erase-line sequences mean nothing in a JSON log.
  std::erase(line_, '\r');
  spdlog::info("{}", line_);
  line_.clear();
}

LoggingScope::LoggingScope(std::ostream& stream, OutputFormat format, bool verbose,
                           const ci::Redactor& redactor)
    : previous_(spdlog::default_logger()) {
  auto logger = std::make_shared<spdlog::logger>(
      "canaryctl", std::make_shared<StreamSink>(stream, format, redactor));
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

LoggingScope::~LoggingScope() { spdlog::set_default_logger(previous_); }

}  // namespace canaryctl::cli

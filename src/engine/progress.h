// A line of progress every few seconds while the engine waits for something slow (helm --wait,
// generated load), so a CI job log shows it is alive: what is awaited, elapsed and remaining
// time, and the latest numbers. Lines go to spdlog at info.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace canaryctl::engine {

// "4m05s", "12s", "850ms": compact durations for progress lines.
std::string FormatElapsed(std::chrono::milliseconds d);

class ProgressTicker {
 public:
  // Logs "<what>: <elapsed> elapsed, <left> left[; <detail()>]" every `every` until
  // destroyed; limit 0 leaves out the remaining time. detail runs on the ticker's thread.
  ProgressTicker(std::string what, std::chrono::milliseconds limit,
                 std::function<std::string()> detail = {},
                 std::chrono::milliseconds every = std::chrono::seconds(5));
  ~ProgressTicker();
  ProgressTicker(const ProgressTicker&) = delete;
  ProgressTicker& operator=(const ProgressTicker&) = delete;

  // The line it would log now (also what the ticker logs).
  std::string Line() const;

 private:
  std::string what_;
  std::chrono::milliseconds limit_;
  std::function<std::string()> detail_;
  std::chrono::steady_clock::time_point started_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace canaryctl::engine

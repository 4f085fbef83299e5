#include "engine/progress.h"

#include <cstdio>

#include <spdlog/spdlog.h>

namespace canaryctl::engine {

std::string FormatElapsed(std::chrono::milliseconds d) {
  using namespace std::chrono;
  if (d < seconds(1)) return std::to_string(d.count()) + "ms";
  const auto s = duration_cast<seconds>(d).count();
  if (s < 60) return std::to_string(s) + "s";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                static_cast<long long>(s % 60));
  return buf;
}

ProgressTicker::ProgressTicker(std::string what, std::chrono::milliseconds limit,
                               std::function<std::string()> detail, std::chrono::milliseconds every)
    : what_(std::move(what)),
      limit_(limit),
      detail_(std::move(detail)),
      started_(std::chrono::steady_clock::now()) {
  thread_ = std::thread([this, every] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, every, [this] { return stop_; })) {
      lock.unlock();
      spdlog::info("{}", Line());
      lock.lock();
    }
  });
}

ProgressTicker::~ProgressTicker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::string ProgressTicker::Line() const {
  using namespace std::chrono;
  const auto elapsed = duration_cast<milliseconds>(steady_clock::now() - started_);
  std::string line = what_ + ": " + FormatElapsed(elapsed) + " elapsed";
  if (limit_.count() > 0) {
    line += ", " + FormatElapsed(std::max(milliseconds(0), limit_ - elapsed)) + " left";
  }
  if (detail_) {
    if (std::string d = detail_(); !d.empty()) line += "; " + d;
  }
  return line;
}

}  // namespace canaryctl::engine

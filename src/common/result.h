// Errors as values for canaryctl. Each error carries the kind that decides the process's exit
// code (shared/DESIGN.md §4) and a message that names the file, line, key or object at fault.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace canaryctl {

enum class ErrorKind {
  kCheckFailed,     // exit 1: checks failed (traffic restored to stable when auto rollback)
  kConfig,          // exit 2: usage or configuration error; nothing was changed
  kCluster,         // exit 3: cluster, API or helm error
  kLocked,          // exit 4: another rollout holds the lock
  kRollbackFailed,  // exit 5: traffic may still reach the candidate
  kInterrupted,     // exit 130: SIGINT/SIGTERM after leaving a consistent state
};

int ExitCode(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::kCluster;
  std::string message;
};

inline Error ConfigError(std::string message) { return {ErrorKind::kConfig, std::move(message)}; }
inline Error ClusterError(std::string message) { return {ErrorKind::kCluster, std::move(message)}; }

// Holds a value or an Error: check ok(), then value() or error().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design
  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const Error& error() const { return std::get<Error>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Done {};
using Status = Result<Done>;

}  // namespace canaryctl

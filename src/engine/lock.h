// The rollout lock: the annotation `canaryctl.io/lock` on the VirtualService (shared/DESIGN.md
// §3). One pipeline at a time may change an app's rollout; the lock is written in the same
// guarded PATCH as the state, so two jobs cannot both believe they hold it.
//
// Everything here is a pure decision on (current lock, me, now, ttl, force); the caller does the
// reading and writing. A lock expires at `expires` exactly (now >= expires).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "engine/json_fields.h"

namespace canaryctl::engine {

inline constexpr char kLockAnnotation[] = "canaryctl.io/lock";

struct Lock {
  std::string pipeline_id;
  std::string job_url;
  std::string holder;  // who runs the job (GITLAB_USER_LOGIN, or user@host locally)
  Timestamp acquired{};
  Timestamp expires{};
  bool operator==(const Lock&) const = default;
};

// Who asks for the lock. Two claims are the same pipeline when both have the same non-empty
// pipeline id (a retried job renews); without pipeline ids (local runs), when the holders match.
struct LockClaim {
  std::string pipeline_id;
  std::string job_url;
  std::string holder;
};

bool SamePipeline(const Lock& lock, const LockClaim& claim);

enum class LockOutcome {
  kAcquired,          // no lock: write `lock`
  kRenewed,           // held by the same pipeline: write `lock` (new job URL, new expiry)
  kTakenOverExpired,  // held by another pipeline, expired: write `lock`, log `message`
  kTakenOverForced,   // held by another pipeline, unexpired, --force: write `lock`, warn
  kHeld,              // held by another pipeline: change nothing, fail with exit 4
};

struct LockDecision {
  LockOutcome outcome = LockOutcome::kHeld;
  Lock lock;            // the lock to write; for kHeld, the current holder's lock
  std::string message;  // one line for the log (and for kHeld, the error message)
  bool granted() const { return outcome != LockOutcome::kHeld; }
  // For kHeld: the kLocked Error carrying `message`.
  Error ToError() const { return {ErrorKind::kLocked, message}; }
};

LockDecision DecideAcquire(std::string_view app, const std::optional<Lock>& current,
                           const LockClaim& me, Timestamp now, std::chrono::seconds ttl,
                           bool force);

enum class ReleaseOutcome {
  kRelease,     // held by me: remove the annotation
  kNotHeld,     // no lock: nothing to do
  kHeldByOther  // held by another pipeline: leave it alone
};

struct ReleaseDecision {
  ReleaseOutcome outcome = ReleaseOutcome::kNotHeld;
  std::string message;
};

// Only the holder releases; an expired lock held by another pipeline is left for that pipeline
// or a taker-over (removing it would hide who held it).
ReleaseDecision DecideRelease(std::string_view app, const std::optional<Lock>& current,
                              const LockClaim& me);

Result<Lock> ParseLock(std::string_view json);
std::string SerializeLock(const Lock& lock);

}  // namespace canaryctl::engine

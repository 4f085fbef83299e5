#include "engine/lock.h"

#include <Poco/JSON/Object.h>

#include <sstream>

namespace canaryctl::engine {
namespace {

constexpr char kWhat[] = "lock annotation canaryctl.io/lock on the VirtualService";
constexpr char kRecovery[] =
    "to recover, check that no other pipeline is rolling out this app, then remove the "
    "annotation with `kubectl annotate virtualservice NAME canaryctl.io/lock-` or rerun with "
    "--force";

std::string Describe(const Lock& lock) {
  std::string who = lock.pipeline_id.empty() ? "a local run" : "pipeline " + lock.pipeline_id;
  if (!lock.job_url.empty()) who += " (" + lock.job_url + ")";
  if (!lock.holder.empty()) who += " by " + lock.holder;
  return who;
}

Lock NewLock(const LockClaim& me, Timestamp now, std::chrono::seconds ttl) {
  return {me.pipeline_id, me.job_url, me.holder, now, now + ttl};
}

}  // namespace

bool SamePipeline(const Lock& lock, const LockClaim& claim) {
  if (!lock.pipeline_id.empty() || !claim.pipeline_id.empty()) {
    return lock.pipeline_id == claim.pipeline_id;
  }
  return lock.holder == claim.holder;
}

LockDecision DecideAcquire(std::string_view app, const std::optional<Lock>& current,
                           const LockClaim& me, Timestamp now, std::chrono::seconds ttl,
                           bool force) {
  const std::string a(app);
  if (!current) {
    return {LockOutcome::kAcquired, NewLock(me, now, ttl),
            "acquired the rollout lock of " + a + " until " + FormatTimestamp(now + ttl)};
  }
  if (SamePipeline(*current, me)) {
    Lock renewed = NewLock(me, now, ttl);
    renewed.acquired = current->acquired;  // the pipeline has held it since then
    return {LockOutcome::kRenewed, renewed,
            "renewed the rollout lock of " + a + " until " + FormatTimestamp(now + ttl)};
  }
  if (now >= current->expires) {
    return {LockOutcome::kTakenOverExpired, NewLock(me, now, ttl),
            "took over the rollout lock of " + a + " held by " + Describe(*current) +
                ", which expired at " + FormatTimestamp(current->expires)};
  }
  if (force) {
    return {LockOutcome::kTakenOverForced, NewLock(me, now, ttl),
            "--force: took over the rollout lock of " + a + " held by " + Describe(*current) +
                " until " + FormatTimestamp(current->expires) +
                "; that pipeline may still be changing the rollout"};
  }
  return {LockOutcome::kHeld, *current,
          "rollout of " + a + " is locked by " + Describe(*current) + " until " +
              FormatTimestamp(current->expires) + "; rerun later or use --force"};
}

ReleaseDecision DecideRelease(std::string_view app, const std::optional<Lock>& current,
                              const LockClaim& me) {
  const std::string a(app);
  if (!current) return {ReleaseOutcome::kNotHeld, "the rollout lock of " + a + " is not held"};
  if (!SamePipeline(*current, me)) {
    return {ReleaseOutcome::kHeldByOther, "the rollout lock of " + a + " is held by " +
                                              Describe(*current) + "; leaving it in place"};
  }
  return {ReleaseOutcome::kRelease, "released the rollout lock of " + a};
}

Result<Lock> ParseLock(std::string_view text) {
  auto root_or = json::ParseObject(text, kWhat, kRecovery);
  if (!root_or.ok()) return root_or.error();
  const Poco::JSON::Object& root = *root_or.value();
  json::Reader r(kWhat, kRecovery);
  r.OnlyKeys(root, {"pipelineId", "jobUrl", "holder", "acquired", "expires"}, "");
  Lock lock;
  lock.pipeline_id = r.String(root, "pipelineId", "pipelineId");
  lock.job_url = r.String(root, "jobUrl", "jobUrl");
  lock.holder = r.String(root, "holder", "holder");
  lock.acquired = r.Time(root, "acquired", "acquired");
  lock.expires = r.Time(root, "expires", "expires");
  if (r.ok() && lock.expires < lock.acquired) r.Fail("expires", "is before acquired");
  if (!r.ok()) return r.error();
  return lock;
}

std::string SerializeLock(const Lock& lock) {
  Poco::JSON::Object root(Poco::JSON_PRESERVE_KEY_ORDER);
  root.set("pipelineId", lock.pipeline_id);
  root.set("jobUrl", lock.job_url);
  root.set("holder", lock.holder);
  root.set("acquired", FormatTimestamp(lock.acquired));
  root.set("expires", FormatTimestamp(lock.expires));
  std::ostringstream out;
  root.stringify(out);
  return out.str();
}

}  // namespace canaryctl::engine

#include "engine/lock.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixtures.h"

namespace canaryctl::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::T;

constexpr std::chrono::seconds kTtl{3600};

const LockClaim kMe{"200", "https://gitlab.example.com/team/demoapp/-/jobs/900", "bob"};

Lock HeldBy123(Timestamp expires) {
  return {"123", "https://gitlab.example.com/team/demoapp/-/jobs/456", "alice", T(0), expires};
}

TEST(LockTest, FreeLockIsAcquired) {
  const auto d = DecideAcquire("demoapp", std::nullopt, kMe, T(100), kTtl, /*force=*/false);
  EXPECT_EQ(d.outcome, LockOutcome::kAcquired);
  EXPECT_TRUE(d.granted());
  EXPECT_EQ(d.lock, (Lock{"200", kMe.job_url, "bob", T(100), T(100) + kTtl}));
}

TEST(LockTest, SamePipelineRenewsKeepingWhenItFirstAcquired) {
  const Lock mine{"200", "https://gitlab.example.com/team/demoapp/-/jobs/800", "bob", T(5), T(50)};
  // Renewal works before and after expiry: a retried job of the same pipeline keeps the lock.
  for (Timestamp now : {T(10), T(50), T(5000)}) {
    const auto d = DecideAcquire("demoapp", mine, kMe, now, kTtl, false);
    EXPECT_EQ(d.outcome, LockOutcome::kRenewed);
    EXPECT_EQ(d.lock.acquired, T(5));
    EXPECT_EQ(d.lock.expires, now + kTtl);
    EXPECT_EQ(d.lock.job_url, kMe.job_url);  // the newest job of the pipeline
  }
}

TEST(LockTest, AnotherPipelineHoldsItUntilExactlyExpires) {
  const Lock other = HeldBy123(T(1000));
  const auto held = DecideAcquire("demoapp", other, kMe, T(999), kTtl, false);
  EXPECT_EQ(held.outcome, LockOutcome::kHeld);
  EXPECT_FALSE(held.granted());
  EXPECT_EQ(held.lock, other);
  EXPECT_EQ(held.message,
            "rollout of demoapp is locked by pipeline 123 "
            "(https://gitlab.example.com/team/demoapp/-/jobs/456) by alice until "
            "2026-03-01T12:16:40Z; rerun later or use --force");
  EXPECT_EQ(held.ToError().kind, ErrorKind::kLocked);
  EXPECT_EQ(ExitCode(held.ToError().kind), 4);

  const auto expired = DecideAcquire("demoapp", other, kMe, T(1000), kTtl, false);
  EXPECT_EQ(expired.outcome, LockOutcome::kTakenOverExpired);
  EXPECT_EQ(expired.lock, (Lock{"200", kMe.job_url, "bob", T(1000), T(1000) + kTtl}));
  EXPECT_THAT(expired.message, HasSubstr("held by pipeline 123 "
                                         "(https://gitlab.example.com/team/demoapp/-/jobs/456)"));
  EXPECT_THAT(expired.message, HasSubstr("expired at 2026-03-01T12:16:40Z"));
}

TEST(LockTest, ForceTakesOverAnUnexpiredLockAndSaysSo) {
  const auto d = DecideAcquire("demoapp", HeldBy123(T(1000)), kMe, T(10), kTtl, /*force=*/true);
  EXPECT_EQ(d.outcome, LockOutcome::kTakenOverForced);
  EXPECT_EQ(d.lock.pipeline_id, "200");
  EXPECT_EQ(d.lock.expires, T(10) + kTtl);
  EXPECT_THAT(d.message, StartsWith("--force: took over the rollout lock of demoapp held by "
                                    "pipeline 123"));
  // Force changes nothing where no one else holds the lock.
  EXPECT_EQ(DecideAcquire("demoapp", std::nullopt, kMe, T(10), kTtl, true).outcome,
            LockOutcome::kAcquired);
  EXPECT_EQ(
      DecideAcquire("demoapp", Lock{"200", "", "bob", T(0), T(99)}, kMe, T(10), kTtl, true).outcome,
      LockOutcome::kRenewed);
  // An expired lock is an ordinary takeover, forced or not.
  EXPECT_EQ(DecideAcquire("demoapp", HeldBy123(T(5)), kMe, T(10), kTtl, true).outcome,
            LockOutcome::kTakenOverExpired);
}

TEST(LockTest, LocalRunsWithoutPipelineIdsAreToldApartByHolder) {
  const Lock local{"", "", "alice@laptop", T(0), T(1000)};
  EXPECT_EQ(DecideAcquire("demoapp", local, {"", "", "alice@laptop"}, T(1), kTtl, false).outcome,
            LockOutcome::kRenewed);
  const auto other = DecideAcquire("demoapp", local, {"", "", "bob@desk"}, T(1), kTtl, false);
  EXPECT_EQ(other.outcome, LockOutcome::kHeld);
  EXPECT_THAT(other.message, HasSubstr("locked by a local run by alice@laptop"));
  // A pipeline is never the same as a local run, even with the same holder name.
  EXPECT_EQ(DecideAcquire("demoapp", local, {"7", "", "alice@laptop"}, T(1), kTtl, false).outcome,
            LockOutcome::kHeld);
}

TEST(LockTest, OnlyTheHolderReleases) {
  const Lock mine{"200", "", "bob", T(0), T(100)};
  EXPECT_EQ(DecideRelease("demoapp", mine, kMe).outcome, ReleaseOutcome::kRelease);
  EXPECT_EQ(DecideRelease("demoapp", std::nullopt, kMe).outcome, ReleaseOutcome::kNotHeld);
  const auto other = DecideRelease("demoapp", HeldBy123(T(100)), kMe);
  EXPECT_EQ(other.outcome, ReleaseOutcome::kHeldByOther);
  EXPECT_THAT(other.message, HasSubstr("pipeline 123"));
  // Even expired, another pipeline's lock stays until taken over: it records who held it.
  EXPECT_EQ(DecideRelease("demoapp", HeldBy123(T(1)), kMe).outcome, ReleaseOutcome::kHeldByOther);
}

TEST(LockTest, RoundTripsAndRejectsCorruptAnnotations) {
  const Lock lock = HeldBy123(T(3600));
  const std::string text = SerializeLock(lock);
  EXPECT_EQ(text,
            R"({"pipelineId":"123","jobUrl":"https://gitlab.example.com/team/demoapp/-/jobs/456",)"
            R"("holder":"alice","acquired":"2026-03-01T12:00:00Z",)"
            R"("expires":"2026-03-01T13:00:00Z"})");
  auto parsed = ParseLock(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value(), lock);

  struct Bad {
    std::string text;
    const char* expected;
  };
  const std::vector<Bad> cases = {
      {"", "it is empty"},
      {"locked", "expected a JSON object"},
      {R"({"pipelineId":"1","jobUrl":"","holder":"","acquired":"2026-03-01T12:00:00Z"})",
       "field `expires`: missing"},
      {R"({"pipelineId":1,"jobUrl":"","holder":"","acquired":"2026-03-01T12:00:00Z",)"
       R"("expires":"2026-03-01T12:00:00Z"})",
       "field `pipelineId`: expected a string"},
      {R"({"pipelineId":"1","jobUrl":"","holder":"","acquired":"2026-03-01T12:00:00Z",)"
       R"("expires":"2026-03-01T11:00:00Z"})",
       "field `expires`: is before acquired"},
      {R"({"pipelineId":"1","jobUrl":"","holder":"","acquired":"2026-03-01T12:00:00Z",)"
       R"("expires":"2026-03-01T12:00:00Z","ttl":5})",
       "field `ttl`: unknown field"},
      {"{\"pipelineId\":\"\xfe\"}", "not valid UTF-8"},
  };
  for (const auto& c : cases) {
    auto r = ParseLock(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().kind, ErrorKind::kCluster);
    EXPECT_THAT(r.error().message,
                StartsWith("lock annotation canaryctl.io/lock on the VirtualService is corrupt"));
    EXPECT_THAT(r.error().message, HasSubstr(c.expected)) << c.text;
    EXPECT_THAT(r.error().message, HasSubstr("--force")) << c.text;
  }
  for (size_t n = 0; n < text.size(); ++n) EXPECT_FALSE(ParseLock(text.substr(0, n)).ok());
}

}  // namespace
}  // namespace canaryctl::engine

// Shared fixtures for the engine's unit tests: states in each phase, a fixed clock.
#pragma once

#include <chrono>
#include <string>

#include "engine/state.h"

namespace canaryctl::engine::testing {

inline Timestamp T(int seconds_after) {
  // 2026-03-01T12:00:00Z
  return Timestamp{std::chrono::seconds{1772366400 + seconds_after}};
}

inline Release V(const std::string& version, int revision = 1) {
  return {"helm-chart/demoapp", version, revision, "c0ffee" + version, ""};
}

// A state of `strategy` in `phase` with the candidate at `candidate_weight` on record.
inline RolloutState StateIn(Strategy strategy, Phase phase, int candidate_weight = 0) {
  RolloutState s = InitialState("demoapp", strategy, T(0));
  s.phase = phase;
  s.stable = V("1.0.0", 3);
  if (phase != Phase::kIdle) s.candidate = V("2.0.0", 1);
  s.current = CandidateAt(candidate_weight);
  s.target = s.current;
  s.pipeline_id = "123";
  s.job_url = "https://gitlab.example.com/team/demoapp/-/jobs/456";
  s.triggered_by = "alice";
  s.updated_at = T(10);
  return s;
}

}  // namespace canaryctl::engine::testing

// The rollout's state: the JSON in the annotation `canaryctl.io/state` on the VirtualService
// (shared/DESIGN.md §3). It is written together with the weights in one guarded PATCH, so it is
// the single record of where a rollout stands; any job can resume or roll back from it.
//
// The text comes from the cluster, so ParseState trusts nothing: oversize, non-UTF-8, deep,
// mistyped, out-of-range or inconsistent input is a kCluster Error naming the field and saying
// how to recover; it never throws or crashes. SerializeState is deterministic (fixed key order)
// and ParseState(SerializeState(s)) == s for every state that passes Validate.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "engine/json_fields.h"

namespace canaryctl::engine {

inline constexpr int kStateSchemaVersion = 1;
inline constexpr size_t kMaxHistory = 50;
inline constexpr char kStateAnnotation[] = "canaryctl.io/state";

enum class Strategy { kHybrid, kCanary, kBlueGreen };
std::string_view StrategyName(Strategy s);  // "hybrid", "canary", "blue-green"
std::optional<Strategy> ParseStrategy(std::string_view name);

// Where a rollout stands. "-ing" phases are written before slow work (helm, checks) so that a
// crash leaves a record of the intent; the "-ed" phases when that work has succeeded.
enum class Phase {
  kIdle,         // no candidate
  kDeployed,     // candidate installed, at 0%
  kTesting,      // candidate at 0%, checks run (or running) against it
  kShifting,     // weights moved to a step; checks at that step not yet passed
  kShifted,      // checks at the step passed
  kPromoting,    // stable being replaced by the candidate
  kPromoted,     // stable runs the candidate's version; all traffic on stable
  kRollingBack,  // stable=100 written; candidate being rolled back or removed
  kRolledBack,   // all traffic on stable, rollout over
  kFailed,       // a command failed and traffic was left where it was
};
std::string_view PhaseName(Phase p);  // "idle", ..., "rolling-back", "rolled-back", "failed"
std::optional<Phase> ParsePhase(std::string_view name);

// Blue-green only: the slot that serves production ("live"); the other one is idle and is where
// the next candidate goes.
enum class Slot { kNone, kBlue, kGreen };
std::string_view SlotName(Slot s);  // "", "blue", "green"
Slot OtherSlot(Slot s);             // blue <-> green; kNone -> kNone

// Traffic split between the stable and the candidate destinations; always sums to 100.
struct Weights {
  int stable = 100;
  int candidate = 0;
  bool operator==(const Weights&) const = default;
};
inline constexpr Weights kAllStable{100, 0};
// Weights with the candidate at `candidate` percent.
inline constexpr Weights CandidateAt(int candidate) { return {100 - candidate, candidate}; }
std::string FormatWeights(Weights w);  // "70/30" (stable/candidate)

// A Helm release as the state records it. revision 0 means "not installed".
struct Release {
  std::string chart;
  std::string version;
  int revision = 0;
  std::string commit;
  // What was installed (engine/release_digest.h): the same digest means the same chart,
  // values and --set values. Optional in the annotation.
  std::string digest;
  bool operator==(const Release&) const = default;
};

struct HistoryEntry {
  Timestamp time{};
  Phase from = Phase::kIdle;
  Phase to = Phase::kIdle;
  Weights weights;  // weights written with this transition
  std::string job_url;
  std::string message;
  bool operator==(const HistoryEntry&) const = default;
};

struct RolloutState {
  int schema_version = kStateSchemaVersion;
  std::string app;
  Strategy strategy = Strategy::kHybrid;
  Phase phase = Phase::kIdle;
  int step_index = 0;  // index in Plan::steps reached (or aimed at); -1 off the plan
  Weights target;      // where the current command is taking the weights
  Weights current;     // the weights written to the route with this state
  Release stable;
  Release candidate;
  Slot live_slot = Slot::kNone;  // blue-green: kBlue or kGreen; other strategies: kNone
  std::string pipeline_id;
  std::string job_url;
  std::string triggered_by;
  Timestamp started_at{};
  Timestamp updated_at{};
  std::vector<HistoryEntry> history;  // oldest first, at most kMaxHistory
  bool operator==(const RolloutState&) const = default;
};

// The state of an app that has never been rolled out: idle, all traffic on stable.
RolloutState InitialState(std::string app, Strategy strategy, Timestamp now);

// Consistency rules beyond types (weights sum to 100, blue-green has a live slot, history
// bound, ...). Returns the first violation as a kCluster Error naming the field.
Status Validate(const RolloutState& state);

Result<RolloutState> ParseState(std::string_view json);
std::string SerializeState(const RolloutState& state);

}  // namespace canaryctl::engine

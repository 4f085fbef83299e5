// The traffic split between the stable and the candidate release, in the spirit of Flagger's
// three-verb router: Reconcile() makes sure the route exists, Weights() reads it, SetWeights()
// writes it. The rollout's state and lock travel with the weights (shared/DESIGN.md §3): one
// request writes all three, guarded by the resourceVersion the caller read, so a concurrent
// writer is detected (kConflict) instead of overwritten.
#pragma once

#include <map>
#include <string>

#include "common/result.h"

namespace canaryctl::traffic {

inline constexpr char kStateAnnotation[] = "canaryctl.io/state";
inline constexpr char kLockAnnotation[] = "canaryctl.io/lock";

// What Weights() reads: the split, and what the caller needs to write it back safely.
struct TrafficState {
  bool exists = true;  // false: the VirtualService is not there yet (the rest are defaults)
  int stable = 100;
  int candidate = 0;
  std::string resource_version;                    // precondition for SetWeights
  std::map<std::string, std::string> annotations;  // all of them, canaryctl's included
  bool test_route = false;                         // the header route to the candidate exists
};

// One write: weights (integers 0..100 summing to 100) and both annotations. An empty
// state_json or lock_json removes that annotation (e.g. releasing the lock).
struct WeightUpdate {
  int stable = 100;
  int candidate = 0;
  std::string state_json;
  std::string lock_json;
  std::string expected_resource_version;  // from Weights(); required
  bool remove_test_route = false;         // promote/rollback: drop it in the same request
};

enum class WriteOutcome {
  kWritten,    // the object changed
  kUnchanged,  // it already was as asked; no request was sent
  kConflict,   // someone else wrote since expected_resource_version: re-read, re-decide
};

struct WriteResult {
  WriteOutcome outcome = WriteOutcome::kUnchanged;
  std::string resource_version;  // the object's resourceVersion after the call (if known)
};

// What SetWeights would send, for `plan` and `--dry-run`.
struct WeightPlan {
  std::string patch;     // the JSON patch document (empty when nothing would change)
  std::string diff;      // human-readable: "- host weight 100" / "+ host weight 70"
  bool creates = false;  // the object does not exist yet and Reconcile() would create it
};

class Router {
 public:
  virtual ~Router() = default;
  // Makes sure the object and the managed route exist, holding the candidate destination
  // (added at weight 0 when only the stable one is there). Errors name the object and what
  // was looked for; nothing is changed when the object is invalid or ambiguous.
  virtual Status Reconcile() = 0;
  // An absent VirtualService is not an error here: exists is false (deploy creates it).
  virtual Result<TrafficState> Weights() = 0;
  virtual Result<WriteResult> SetWeights(const WeightUpdate& update) = 0;
  // The patch and diff SetWeights(update) would send now; sends nothing.
  virtual Result<WeightPlan> PlanWeights(const WeightUpdate& update) = 0;
  // Adds (present) or removes the header-match route sending marked requests to the
  // candidate; a no-op when it already is as asked.
  virtual Result<WriteResult> SetTestRoute(bool present) = 0;
};

}  // namespace canaryctl::traffic

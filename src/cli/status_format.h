// What `canaryctl status` prints: an engine::StatusView as aligned "key: value" text for people,
// or as one JSON object for scripts.
//
// JSON contract (keys are stable; absent facts are null, never missing):
//   app, strategy, virtualService, liveSlot (blue-green's live slot, else null),
//   route {exists, stable, candidate, testRoute}   the weights on the route now,
//   phase ("idle" when never rolled out), stepIndex, target {stable, candidate},
//   releases {stable, candidate}: helm's view, each {namespace, release, installed, revision,
//     chart, appVersion, status, updated} (the last five null when not installed),
//   recorded: the state's record or null: {stable, candidate} each {chart, version, revision,
//     commit}, and pipelineId, jobUrl, triggeredBy, startedAt, updatedAt,
//   lock {pipelineId, jobUrl, holder, acquired, expires, expired} or null,
//   history: the last 10 transitions, oldest first, each {time, from, to, stable, candidate,
//     jobUrl, message}.
// Times are "YYYY-MM-DDTHH:MM:SSZ". Both formats end with a newline. Neither redacts: the
// caller passes the text through its Redactor.
#pragma once

#include <string>

#include "engine/rollout.h"

namespace canaryctl::cli {

// Transitions shown by both formats.
inline constexpr size_t kStatusHistory = 10;

std::string FormatStatusText(const engine::StatusView& view);
std::string FormatStatusJson(const engine::StatusView& view);

}  // namespace canaryctl::cli

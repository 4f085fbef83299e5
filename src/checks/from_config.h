// The checks that rollout.yaml's `checks:` list describes (shared/DESIGN.md §5), built from a
// loaded config::RolloutSpec: each config::CheckSpec becomes one HttpCheck or CommandCheck with
// the same name, in the file's order.
//
// Mapping of the http keys: url, method, headers (in key order), body, timeout, retries,
// retryDelay, requests, insecure and caFile as they are; expect.status N accepts exactly N (not
// the HttpCheck default "any 2xx"); expect.body.contains/matches, expect.json {path, equals}
// and expect.maxLatency become body_contains, body_matches, json_field_equals and max_latency.
// No proxy is set: that is the caller's decision. Command checks keep argv, env and timeout and
// run in the current directory.
//
// A RolloutSpec from config::LoadRolloutSpec always passes ValidateChecks. For one that does not
// (built by hand), MakeChecks still returns one check per entry, in order: an entry that cannot
// be built becomes a check whose every run fails with the reason, so a broken check can never
// be skipped silently, and nothing throws.
#pragma once

#include <atomic>

#include <memory>
#include <vector>

#include "checks/check.h"
#include "checks/command_check.h"
#include "checks/http_check.h"
#include "common/result.h"
#include "config/rollout_spec.h"

namespace canaryctl::checks {

// The HttpCheck spec for `check`; a kConfig Error (naming the check) when it has no `http`
// part or its expected status is not a status code.
Result<HttpCheckSpec> HttpCheckSpecFromConfig(const config::CheckSpec& check);

// The CommandCheck spec for `check`; a kConfig Error (naming the check) when it has no
// `command` part.
Result<CommandCheckSpec> CommandCheckSpecFromConfig(const config::CheckSpec& check);

// Every check of spec.checks, in order (see above for entries that cannot be built).
// `cancel` (optional) is given to command checks (CommandCheckSpec::cancel).
std::vector<std::unique_ptr<Check>> MakeChecks(const config::RolloutSpec& spec,
                                               const std::atomic<bool>* cancel = nullptr);

// The first reason why spec.checks cannot all be built and run as written, as a kConfig Error
// naming the check: a duplicate or empty name, neither or both of http and command, and what
// ValidateHttpCheckSpec finds; for commands, an empty argv or a non-positive timeout.
Status ValidateChecks(const config::RolloutSpec& spec);

}  // namespace canaryctl::checks

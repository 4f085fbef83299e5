// Loading rollout.yaml into a RolloutSpec (shared/DESIGN.md §5).
//
// Order: parse the YAML; expand ${VAR} / ${VAR:-default} / $$ in every scalar from `env`
// (config/expand.h), before any type check; decode, reporting unknown keys (with the closest
// known key), duplicate keys and wrong types; apply CANARYCTL_* variables from `env`, then
// `overrides` (config/overrides.h); fill defaults; then check the rules:
//   - required: app, helm.chart, stable.namespace, and candidate.namespace for hybrid;
//   - app, namespaces, releases (at most 53 characters, Helm's limit), services and subsets are
//     DNS-1123 labels; the VirtualService name and the workloads are DNS-1123 subdomains;
//   - traffic.steps: integers in 0..100, strictly increasing, ending at 100 (so 0 only first);
//     blue-green: exactly [0, 100]; canary: both releases in one namespace;
//     the candidate is never the stable release itself;
//   - checks: unique names, exactly one of http and command, http URLs with http(s) scheme and
//     host (Poco::URI), known methods, status 100..599, retries 0..100, requests 1..1000, a
//     non-empty caFile, expect.body.matches a valid ECMAScript regex, expect.json with both
//     path (dotted, no empty segment) and equals;
//   - analysis: a prometheus URL, window >= interval, passes and failures in 1..100, at least
//     one metric or a comparison; metrics: unique names, min or max (min <= max), a query unless
//     built in, and only known {{placeholders}} in queries (QueryPlaceholders()); comparison:
//     falseRollbackRate, missedRegressionRate and minErrorRate in (0, 0.5), tolerance > 1;
//   - load: an http(s) URL with a host, a known method, rate > 0, concurrency 1..256; split:
//     exactly one of header (a header name) and json (dotted path), a non-empty candidate,
//     confidence in (0.5, 1);
//   - durations positive (except http retryDelay, >= 0).
// Every problem is reported, each on its own line, as
//   rollout.yaml:12:10: traffic.steps[2]: 50 must be greater than the previous step 60
// (an override names its variable or flag instead of file:line:column), in an Error of kind
// ErrorKind::kConfig. Nothing here touches the cluster or the process environment.
//
// Defaults: strategy hybrid; helm.timeout 5m; releases = app (canary: candidate app-canary;
// blue-green: app-blue and app-green); candidate.namespace = stable.namespace except for hybrid;
// services = their release; virtualService {namespace: stable.namespace, name: app};
// steps [0, 30, 60, 100] (blue-green [0, 100]); http checks GET, no body, expect status 200,
// timeout 10s, retries 0, retryDelay 1s, requests 1, insecure false; command checks timeout 5m;
// workloads = their service; analysis interval 30s, window 2m, passes 1, failures 1;
// comparison {falseRollbackRate: 0.01, missedRegressionRate: 0.05, tolerance: 2,
// minErrorRate: 0.005}; load GET, rate 20, concurrency 4, duration 30s, timeout 5s, split
// confidence 0.999; rollback {auto: true, candidate: keep}; reports.dir
// canaryctl-reports; lock.ttl 1h.
#pragma once

#include <string>

#include "common/result.h"
#include "config/overrides.h"
#include "config/rollout_spec.h"

namespace canaryctl::config {

// `file_name` is only used in messages.
Result<RolloutSpec> ParseRolloutSpec(const std::string& yaml_text, const std::string& file_name,
                                     const Environment& env, const Overrides& overrides = {});

// Reads `path` (an unreadable file is a kConfig error naming it) and parses it.
Result<RolloutSpec> LoadRolloutSpec(const std::string& path, const Environment& env,
                                    const Overrides& overrides = {});

// The process's environment, for the CLI to pass in.
Environment ProcessEnvironment();

}  // namespace canaryctl::config

// RolloutSpec: the effective configuration of one application's rollout, as read from
// rollout.yaml (shared/DESIGN.md §5) after ${VAR} expansion, CANARYCTL_* variables and flags.
// A RolloutSpec returned by LoadRolloutSpec/ParseRolloutSpec (config/loader.h) is complete and
// valid: defaults are filled in and every rule of config/loader.h holds, so consumers need not
// re-check weights, names or URLs.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/duration.h"

namespace canaryctl::config {

// Variables for ${VAR} expansion and CANARYCTL_* overrides. Passed in by the caller (the CLI
// reads the process environment), so that loading is hermetic in tests.
using Environment = std::map<std::string, std::string>;

enum class Strategy { kHybrid, kCanary, kBlueGreen };
enum class CandidateAfterRollback { kKeep, kRollback, kUninstall };

const char* StrategyName(Strategy s);                       // "hybrid", "canary", "blue-green"
const char* CandidateActionName(CandidateAfterRollback a);  // "keep", "rollback", "uninstall"

struct HelmSpec {
  std::string chart;                           // path, repo/chart, or oci:// reference
  std::optional<std::string> version;          // --version
  std::optional<std::string> repo;             // --repo
  std::vector<std::string> values;             // -f files, in order
  std::map<std::string, std::string> set;      // --set key=value
  Duration timeout = Duration(5 * 60 * 1000);  // --timeout for --wait
};

// One release of the chart: where it lives and the Service that receives its traffic.
struct ReleaseSpec {
  std::string namespace_name;
  std::string release;
  std::string service;  // defaults to the release name
  // The Deployment serving it: Istio's `destination_workload` label in analysis queries.
  // Defaults to the service name (DNS-1123 subdomain).
  std::string workload;
};

struct VirtualServiceSpec {
  std::string namespace_name;  // defaults to stable.namespace
  std::string name;            // defaults to app
  bool create = false;         // create it when absent (then hosts must be given)
  std::vector<std::string> gateways;
  std::vector<std::string> hosts;
};

// Header match that sends marked requests to the candidate while its weight is 0.
struct TestRouteSpec {
  std::string header;
  std::string value;
};

// Istio subsets of the two destinations, when both releases share a host.
struct SubsetSpec {
  std::string stable;
  std::string candidate;
};

struct TrafficSpec {
  VirtualServiceSpec virtual_service;
  std::vector<int> steps;  // strictly increasing, within 0..100, ending at 100
  std::optional<TestRouteSpec> test_route;
  std::optional<int> port;  // destination port, 1..65535
  std::optional<SubsetSpec> subset;
};

// A JSON field of the response body and the text it must equal (see checks/http_check.h for
// how values compare: strings as is, numbers and booleans as JSON writes them).
struct JsonExpectation {
  std::string path;  // dotted: "status", "checks.0.state"; no empty segment
  std::string equals;
};

// What every response must satisfy.
struct HttpExpectation {
  int status = 200;                          // exactly this status, 100..599
  std::optional<std::string> body_contains;  // substring of the body
  std::optional<std::string> body_matches;   // ECMAScript regex found in the body; compiles
  std::optional<JsonExpectation> json;
  std::optional<Duration> max_latency;  // positive: request sent to body received
};

struct HttpCheckSpec {
  std::string url;  // http:// or https:// with a host
  std::string method = "GET";
  std::map<std::string, std::string> headers;
  std::string body;  // request body; empty: none (POST/PUT/PATCH still send Content-Length 0)
  HttpExpectation expect;
  Duration timeout = Duration(10 * 1000);  // per request
  int retries = 0;                         // 0..100 extra attempts after a failed one
  Duration retry_delay = Duration(1000);   // between attempts; may be 0
  int requests = 1;       // 1..1000: requests per attempt, in sequence; every one must pass
  bool insecure = false;  // skip TLS verification
  std::string ca_file;    // extra CA bundle (PEM); empty (never given so): system CAs only
};

struct CommandCheckSpec {
  std::vector<std::string> argv;  // never empty; run without a shell
  Duration timeout = Duration(5 * 60 * 1000);
  std::map<std::string, std::string> env;
};

// Exactly one of http and command is set.
struct CheckSpec {
  std::string name;  // unique among checks
  std::optional<HttpCheckSpec> http;
  std::optional<CommandCheckSpec> command;
};

// At least one of min and max is set; min <= max when both are.
struct MetricSpec {
  std::string name;  // unique among metrics
  std::optional<double> min;
  std::optional<double> max;
  std::optional<std::string> query;  // PromQL; required unless name is a built-in metric
};

// analysis.comparison: the sequential test of the candidate's error rate against the stable's
// (analysis/sequential_test.h documents the test). Rates are in 0..1 (exclusive).
struct ComparisonSpec {
  double false_rollback_rate = 0.01;     // alpha: P(fail | candidate as good as stable); < 0.5
  double missed_regression_rate = 0.05;  // beta: P(pass | candidate at the regression); < 0.5
  // The regression to detect: the candidate's error rate at tolerance x the stable's; > 1.
  double tolerance = 2.0;
  // The stable's error rate is taken as at least this (a stable without errors still gives the
  // test a rate to compare with); in (0, 0.5).
  double min_error_rate = 0.005;
};

// At least one metric, or a comparison.
struct AnalysisSpec {
  std::string prometheus_url;                 // http:// or https:// with a host
  Duration interval = Duration(30 * 1000);    // between measurements; the PromQL rate range
  Duration window = Duration(2 * 60 * 1000);  // longest a step is judged; >= interval
  int passes = 1;    // 1..100: consecutive passing measurements for a metric to pass
  int failures = 1;  // 1..100: consecutive failing measurements for a metric to fail
  std::vector<MetricSpec> metrics;
  std::optional<ComparisonSpec> comparison;
};

// load.split: how one answer says which side served it.
struct SplitSpec {
  std::optional<std::string> header;  // a response header's value, or
  std::optional<std::string> json;    // a dotted field of the JSON body (as JsonExpectation)
  std::string candidate;              // the value that marks the candidate's answers
  double confidence = 0.999;          // of the binomial interval; in (0.5, 1)
};

// load: traffic canaryctl generates itself during each step (Flagger's load tester).
struct LoadSpec {
  std::string url;  // http:// or https:// with a host
  std::string method = "GET";
  std::map<std::string, std::string> headers;
  double rate = 20;                         // requests per second, all workers together; > 0
  int concurrency = 4;                      // 1..256 workers
  Duration duration = Duration(30 * 1000);  // at least this long per step; > 0
  Duration timeout = Duration(5 * 1000);    // per request
  std::optional<SplitSpec> split;           // absent: no traffic-split check
};

struct RollbackSpec {
  bool automatic = true;
  CandidateAfterRollback candidate = CandidateAfterRollback::kKeep;
};

struct RolloutSpec {
  std::string app;  // DNS-1123 label
  Strategy strategy = Strategy::kHybrid;
  HelmSpec helm;
  ReleaseSpec stable;
  ReleaseSpec candidate;
  TrafficSpec traffic;
  std::vector<CheckSpec> checks;
  std::optional<AnalysisSpec> analysis;
  std::optional<LoadSpec> load;
  RollbackSpec rollback;
  std::string reports_dir = "canaryctl-reports";
  Duration lock_ttl = Duration(60 * 60 * 1000);
  // As written under `secrets:` (after expansion): environment variable names or literal values.
  std::vector<std::string> secrets;
  // What must never be logged: the literal entries and the values of the named variables.
  // Never empty strings.
  std::vector<std::string> secret_values;
};

// Metrics that need no query: canaryctl knows their PromQL (Istio's standard metrics).
bool IsBuiltinMetric(const std::string& name);

// The placeholders a custom metric's query may use, each written {{name}} (no spaces), which
// analysis fills in: namespace, workload, service (the candidate's, or prod's at promote),
// interval (analysis.interval, the rate range), stable_namespace, stable_workload,
// stable_service.
const std::vector<std::string>& QueryPlaceholders();

// Replaces every occurrence of a secret value in text with "<redacted>".
std::string Redact(const RolloutSpec& spec, std::string text);

}  // namespace canaryctl::config

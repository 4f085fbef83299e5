// Prints issue 6's performance table, every figure measured in one run against one sandbox
// (tools/k8s-1.34: helm 4 and kubectl) set up as the article does: the Istio CRDs, examples/demoapp
// v1 in prod, the Gateway and the VirtualService. Rows:
//   1. `canaryctl shift` against `kubectl patch` of the same weights, whole processes, interleaved;
//   2. the rollback latency after a failing check (rollout.json's rollback_ms);
//   3. canaryctl's own time across deploy, test, shift 30/60/100 and promote as scripts/demo
//      plays them (examples/rollout/demo.yaml: checks, load through the sandbox's gateway, the
//      analysis from a real Prometheus), minus the time inside helm (a wrapper script records
//      each helm call) and the judging (each step's duration_ms in rollout.json);
//   4. the start-up of `canaryctl version` and `canaryctl plan`;
//   5. the runtime closure's size, quoted from bench_image_closure.
// Figures only: it never fails on a missed target. Exits non-zero only when it cannot measure.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "common/environment.h"
#include "prometheus_fixture.h"
#include "sandbox_fixture.h"

namespace {

namespace fs = std::filesystem;
using canaryctl::integration::Clients;
using canaryctl::integration::CommandResult;
using canaryctl::integration::RunOptions;
using canaryctl::integration::RunProcess;
using canaryctl::integration::Sandbox;
using canaryctl::integration::SandboxOptions;
using canaryctl::integration::SourcePath;
using canaryctl::integration::TempDir;
using canaryctl::integration::ToolSet;
using canaryctl::integration::ToolSets;
using Clock = std::chrono::steady_clock;

// Times each helm call from inside the wrapper: bash's clock needs no extra process, so only the
// wrapper's own start (measured separately) is left on canaryctl's side.
constexpr char kHelmWrapper[] = R"(#!/bin/bash
start=$EPOCHREALTIME
"$PERF_HELM_REAL" "$@"
code=$?
end=$EPOCHREALTIME
printf '%s %s %s\n' "$start" "$end" "$1" >> "$PERF_HELM_LOG"
exit $code
)";

// The article's VirtualService under the same name in another namespace, for kubectl's side:
// patching canaryctl's own route by hand would make canaryctl see hand-changed weights and drop
// its test route (a merge patch replaces spec.http whole).
constexpr char kTwinNamespace[] = "kubectl-twin";
constexpr char kTwinVirtualService[] = R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: demoapp
  namespace: kubectl-twin
spec:
  hosts: ["*"]
  gateways: [app-gateway]
  http:
  - route:
    - destination: {host: flaskapp.prod.svc.cluster.local}
      weight: 100
    - destination: {host: flaskapp.stage.svc.cluster.local}
      weight: 0
)";

struct Options {
  int runs = 30;                          // rows 1 and 4
  int rollbacks = 40;                     // row 2
  std::string canaryctl = CANARYCTL_BIN;  // the binary measured (e.g. another build's)
};

// Nearest-rank percentile.
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t r = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(r, 1, v.size()) - 1];
}

std::string Fixed(double v, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, v);
  return text;
}

bool Check(const CommandResult& r) {
  if (r.ok()) return true;
  std::fprintf(stderr, "%s\n", r.Describe().c_str());
  return false;
}

// A process run and its wall time from spawn to exit, in fractional ms (CommandResult's elapsed
// is whole ms, too coarse for a start-up of a few ms).
struct Timed {
  CommandResult result;
  double ms = 0;
};

// Runs exe the way a shell or `perf stat` starts a command, and times it from spawn to exit:
// posix_spawn (vfork: no copy of this process's memory, no sweep over its descriptors), stdin
// from /dev/null, stdout and stderr into files under out_dir, then waits on a pidfd (killed after
// timeout). RunProcess (Poco::Process::launch, which closes every descriptor up to the limit in
// the child, plus pipes and reader threads) costs ~8 ms by itself: the same on both sides of a
// comparison, but most of a 10 ms start-up.
Timed SpawnTimed(const std::string& exe, const std::vector<std::string>& args,
                 const RunOptions& options, const std::string& out_dir,
                 std::chrono::milliseconds timeout = std::chrono::seconds(240)) {
  canaryctl::Environment env = canaryctl::ProcessEnvironment();
  for (const auto& [k, v] : options.env) env[k] = v;
  std::vector<std::string> env_strings = canaryctl::EnvironmentStrings(env), argv_strings = {exe};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv = canaryctl::CStrings(argv_strings),
                     envp = canaryctl::CStrings(env_strings);
  const std::string out_path = out_dir + "/spawn.out", err_path = out_dir + "/spawn.err";

  Timed t;
  t.result.command = exe;
  for (const auto& a : args) t.result.command += " " + a;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());
  pid_t pid = 0;
  const auto start = Clock::now();
  const int spawned = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    t.result.err = "could not run: " + std::string(std::strerror(spawned));
    return t;
  }
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) == 0) {
      t.result.timed_out = true;
      ::kill(pid, SIGKILL);
    }
    ::close(pidfd);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  t.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  t.result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 256 + WTERMSIG(status);
  t.result.out = canaryctl::integration::ReadFile(out_path);
  t.result.err = canaryctl::integration::ReadFile(err_path);
  return t;
}

// The helm calls the wrapper logged since the last call of Take().
class HelmLog {
 public:
  explicit HelmLog(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }
  struct Span {
    int calls = 0;
    double ms = 0;
    std::string verbs;  // "upgrade status ..."
  };
  Span Take() {
    Span span;
    std::ifstream in(path_);
    std::string line;
    size_t n = 0;
    while (std::getline(in, line)) {
      if (n++ < seen_) continue;
      // EPOCHREALTIME uses the locale's decimal separator.
      std::replace(line.begin(), line.end(), ',', '.');
      std::istringstream fields(line);
      double start = 0, end = 0;
      std::string verb;
      fields >> start >> end >> verb;
      ++span.calls;
      span.ms += (end - start) * 1000.0;
      span.verbs += (span.verbs.empty() ? "" : " ") + verb;
    }
    seen_ = n;
    return span;
  }

 private:
  std::string path_;
  size_t seen_ = 0;
};

std::string WeightsPatch(int candidate) {
  return R"({"spec":{"http":[{"route":[{"destination":{"host":"flaskapp.prod.svc.cluster.local"},"weight":)" +
         std::to_string(100 - candidate) +
         R"(},{"destination":{"host":"flaskapp.stage.svc.cluster.local"},"weight":)" +
         std::to_string(candidate) + "}]}]}}";
}

struct Row {
  std::string what, measured, target, met;
};

std::string Met(bool met) { return met ? "yes" : "no"; }

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"issue 6's performance table, measured against one sandbox"};
  app.add_option("--runs", o.runs,
                 "interleaved canaryctl shift / kubectl patch runs, and runs each of canaryctl "
                 "version and plan")
      ->check(CLI::Range(2, 100000))
      ->capture_default_str();
  app.add_option("--rollbacks", o.rollbacks, "failing shifts for the rollback latency")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--canaryctl", o.canaryctl, "the canaryctl binary to measure")
      ->check(CLI::ExistingFile)
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const ToolSet& tools = ToolSets().back();
  if (auto present = canaryctl::integration::ToolSetPresent(tools); !present) {
    std::fprintf(stderr, "%s\n", present.message());
    return 1;
  }
  SandboxOptions sandbox_options;
  sandbox_options.gateway = true;  // row 3's load reaches the workloads through it
  Sandbox sandbox(sandbox_options);
  if (auto started = sandbox.Start(); !started) {
    std::fprintf(stderr, "%s\n", started.message());
    return 1;
  }
  Clients clients(tools, sandbox.kubeconfig());
  const TempDir work("canaryctl-perf");
  if (!Check(clients.Kubectl({"apply", "-f", SourcePath("examples/istio/crds/")})) ||
      !Check(clients.Helm(canaryctl::integration::DemoAppUpgradeArgs("prod", "v1"))) ||
      !Check(clients.Kubectl({"apply", "-f", SourcePath("examples/istio/gateway.yaml"), "-f",
                              SourcePath("examples/istio/virtualservice.yaml")}))) {
    return 1;
  }

  const std::string wrapper = work.Write("helm-timed", kHelmWrapper);
  fs::permissions(wrapper, fs::perms::owner_all);
  HelmLog helm_log(work.path() + "/helm-times.log");

  // Three configurations of one rollout, as test/integration/cli's Config() writes it: the
  // article's flow with a command check; no checks, so a shift is canaryctl's work alone; and a
  // check that fails, for the rollback.
  const std::string reports = work.path() + "/reports";
  auto config = [&](const std::string& name, const std::string& checks) {
    const std::string yaml =
        "app: demoapp\nstrategy: hybrid\n"
        "helm:\n  chart: " +
        SourcePath("examples/demoapp") + "\n  values: [" +
        SourcePath("examples/demoapp/values.yaml") +
        "]\n  set: {deployment.tag: \"${TAG}\"}\n  timeout: 60s\n"
        "stable: {namespace: prod, release: demoapp, service: flaskapp}\n"
        "candidate: {namespace: stage, release: demoapp, service: flaskapp}\n"
        "traffic:\n  virtualService: {namespace: prod, name: demoapp, create: true, gateways: "
        "[app-gateway], hosts: [\"*\"]}\n"
        "  steps: [0, 30, 60, 100]\n  testRoute: {header: x-canary, value: always}\n" +
        checks + "reports: {dir: " + reports + "}\n";
    return work.Write(name, yaml);
  };
  // Row 3 plays scripts/demo's configuration: every step judged by an http check, 8 s of load
  // through the gateway and its split, and the analysis from a real Prometheus.
  std::string demo_yaml =
      canaryctl::integration::ReadFile(SourcePath("examples/rollout/demo.yaml"));
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {" examples/", " " + SourcePath("examples/")},
           {"[examples/", "[" + SourcePath("examples/")},
           {".demo/reports", reports}}) {
    for (size_t at = demo_yaml.find(from); at != std::string::npos;
         at = demo_yaml.find(from, at + to.size())) {
      demo_yaml.replace(at, from.size(), to);
    }
  }
  const std::string flow_config = work.Write("demo.yaml", demo_yaml);
  canaryctl::integration::Prometheus prometheus({"127.0.0.1:" + std::to_string(sandbox.port())},
                                                "/metrics", std::chrono::seconds(1));
  if (auto started = prometheus.Start(); !started) {
    std::fprintf(stderr, "%s\n", started.message());
    return 1;
  }
  const std::string bare_config = config("bare.yaml", "");
  const std::string failing_config =
      config("failing.yaml", "checks:\n  - {name: gate, command: [\"/bin/false\"]}\n");

  RunOptions run_options;
  run_options.env = canaryctl::integration::PrivateClientEnv(clients.home(), sandbox.kubeconfig());
  run_options.env["HELM_BIN"] = wrapper;
  run_options.env["PERF_HELM_REAL"] = tools.helm;
  run_options.env["PERF_HELM_LOG"] = helm_log.path();
  run_options.env["GITLAB_CI"] = "true";
  run_options.env["CI"] = "true";
  run_options.env["CI_PIPELINE_ID"] = "4242";
  run_options.env["CI_JOB_URL"] = "https://gitlab.example.com/team/demoapp/-/jobs/42427";
  run_options.env["CI_PROJECT_DIR"] = work.path();
  run_options.env["GITLAB_USER_LOGIN"] = "alice";
  run_options.env["TAG"] = "v2";
  run_options.cwd = work.path();
  run_options.timeout = std::chrono::seconds(240);
  RunOptions kubectl_options;  // as Clients runs kubectl
  kubectl_options.env =
      canaryctl::integration::PrivateClientEnv(clients.home(), sandbox.kubeconfig());
  kubectl_options.cwd = work.path();
  auto canaryctl = [&](const std::string& cfg, std::vector<std::string> args) {
    std::vector<std::string> full = {"--config", cfg, "--kubeconfig", sandbox.kubeconfig()};
    full.insert(full.end(), args.begin(), args.end());
    return SpawnTimed(o.canaryctl, full, run_options, work.path());
  };
  auto rollout_json = [&] {
    return canaryctl::integration::ParseJson(
        canaryctl::integration::ReadFile(reports + "/rollout.json"));
  };

  std::vector<Row> rows;

  // Row 3 first, on a fresh rollout: the article's flow command by command, as scripts/demo
  // runs it (checks and load through the gateway, Prometheus reached directly).
  RunOptions flow_options = run_options;
  flow_options.env["DEMO_TAG"] = "v2";
  flow_options.env["DEMO_PROMETHEUS"] = prometheus.url();
  flow_options.env["HTTP_PROXY"] = sandbox.gateway_url();
  flow_options.env["NO_PROXY"] = "127.0.0.1";
  double flow_ms = 0, flow_helm_ms = 0, flow_judging_ms = 0;
  int flow_helm_calls = 0;
  std::string flow_detail;
  const std::vector<std::vector<std::string>> flow = {
      {"deploy"}, {"test"}, {"shift", "30"}, {"shift", "60"}, {"shift", "100"}, {"promote"}};
  helm_log.Take();
  for (const auto& args : flow) {
    std::vector<std::string> full = {"--config", flow_config, "--kubeconfig", sandbox.kubeconfig()};
    full.insert(full.end(), args.begin(), args.end());
    Timed t = SpawnTimed(o.canaryctl, full, flow_options, work.path());
    if (!Check(t.result)) return 1;
    const HelmLog::Span helm = helm_log.Take();
    // The judging: checks, load and analysis with its waits, each step's duration_ms.
    double judging = 0;
    const auto record = rollout_json();
    for (size_t i = 0; i < canaryctl::integration::Len(record, "/steps").value_or(0); ++i) {
      judging += static_cast<double>(
          canaryctl::integration::Int(record, "/steps/" + std::to_string(i) + "/duration_ms")
              .value_or(0));
    }
    flow_ms += t.ms;
    flow_helm_ms += helm.ms;
    flow_helm_calls += helm.calls;
    flow_judging_ms += judging;
    std::string name = args[0] + (args.size() > 1 ? " " + args[1] : "");
    flow_detail += "  " + name + ": " + Fixed(t.ms, 1) + " ms, helm " + Fixed(helm.ms, 1) +
                   " ms (" + std::to_string(helm.calls) + " calls: " + helm.verbs + "), judging " +
                   Fixed(judging, 0) + " ms, canaryctl " + Fixed(t.ms - helm.ms - judging, 1) +
                   " ms\n";
  }
  // The wrapper's own start (bash, before its clock starts) lands on canaryctl's side.
  std::vector<double> wrapper_ms;
  {
    RunOptions w = run_options;
    w.env["PERF_HELM_REAL"] = "/bin/true";
    w.env["PERF_HELM_LOG"] = work.path() + "/wrapper-cost.log";
    for (int i = 0; i < 20; ++i) {
      Timed t = SpawnTimed(wrapper, {"version"}, w, work.path());
      if (!Check(t.result)) return 1;
      wrapper_ms.push_back(t.ms);
    }
  }
  const double wrapper_cost = Percentile(wrapper_ms, 0.5);
  const double overhead = flow_ms - flow_helm_ms - flow_judging_ms;
  const double overhead_pct = 100.0 * overhead / flow_ms;
  const double overhead_net = overhead - flow_helm_calls * wrapper_cost;

  // kubectl's twin, only now: the gateway would serve its hosts ("*") too, and row 3's load
  // must follow canaryctl's route alone.
  if (!Check(clients.Kubectl({"create", "namespace", kTwinNamespace})) ||
      !Check(clients.Kubectl({"apply", "-f", work.Write("twin.yaml", kTwinVirtualService)}))) {
    return 1;
  }
  // A new rollout for rows 1 and 4, shifted to 30%; no checks, so a shift is canaryctl alone.
  for (const auto& args : std::vector<std::vector<std::string>>{{"deploy"}, {"test"}}) {
    if (!Check(canaryctl(bare_config, args).result)) return 1;
  }

  // Row 1, interleaved so that any drift of the machine hits both sides alike.
  // canaryctl runs helm even for a shift; its share is reported beside the whole.
  std::vector<double> shift_ms, patch_ms, shift_helm_ms;
  std::string shift_helm_verbs;
  helm_log.Take();
  for (int i = -2; i < o.runs; ++i) {  // two untimed rounds first
    const int weight = (i % 2 == 0) ? 30 : 60;
    Timed s = canaryctl(bare_config, {"shift", std::to_string(weight)});
    if (!Check(s.result)) return 1;
    const HelmLog::Span helm = helm_log.Take();
    shift_helm_verbs = helm.verbs;
    Timed k = SpawnTimed(tools.kubectl,
                         {"patch", "virtualservice", "demoapp", "-n", kTwinNamespace, "--type",
                          "merge", "-p", WeightsPatch(weight)},
                         kubectl_options, work.path());
    if (!Check(k.result)) return 1;
    if (i >= 0) {
      shift_ms.push_back(s.ms);
      patch_ms.push_back(k.ms);
      shift_helm_ms.push_back(helm.ms);
    }
  }
  const double ratio = Percentile(patch_ms, 0.5) / Percentile(shift_ms, 0.5);

  // Row 4, in the same state (shifted to 30% or 60%).
  // The harness's own floor: the same spawn, pipes and wait around /bin/true.
  std::vector<double> floor_ms;
  for (int i = -2; i < o.runs; ++i) {
    Timed t = SpawnTimed("/bin/true", {}, run_options, work.path());
    if (!Check(t.result)) return 1;
    if (i >= 0) floor_ms.push_back(t.ms);
  }
  const double floor_p50 = Percentile(floor_ms, 0.5);
  std::vector<double> version_ms, plan_ms, plan_helm_ms;
  std::string plan_helm_verbs;
  for (int i = -2; i < o.runs; ++i) {
    Timed v = SpawnTimed(o.canaryctl, {"version"}, run_options, work.path());
    if (!Check(v.result)) return 1;
    helm_log.Take();
    Timed p = canaryctl(bare_config, {"plan"});
    if (!Check(p.result)) return 1;
    const HelmLog::Span helm = helm_log.Take();
    plan_helm_verbs = helm.verbs;
    if (i >= 0) {
      version_ms.push_back(v.ms);
      plan_ms.push_back(p.ms);
      plan_helm_ms.push_back(helm.ms);
    }
  }

  // Row 2: from rolled-back the cheapest way back to a shift is deploy (helm --wait again) and a
  // shift --skip-steps past the test; the failing check then rolls back.
  if (!Check(canaryctl(bare_config, {"rollback"}).result)) return 1;
  std::vector<double> rollback_ms;
  for (int i = 0; i < o.rollbacks; ++i) {
    if (!Check(canaryctl(failing_config, {"deploy"}).result)) return 1;
    Timed s = canaryctl(failing_config, {"shift", "30", "--skip-steps"});
    if (s.result.exit_code != 1) {
      std::fprintf(stderr, "expected exit 1 (rolled back): %s\n", s.result.Describe().c_str());
      return 1;
    }
    const auto ms = canaryctl::integration::Int(rollout_json(), "/rollback_ms");
    if (!ms) {
      std::fprintf(stderr, "no rollback_ms in %s/rollout.json\n", reports.c_str());
      return 1;
    }
    rollback_ms.push_back(static_cast<double>(*ms));
  }

  // Row 5: bench_image_closure's figures, quoted rather than computed twice.
  CommandResult closure = RunProcess(CANARYCTL_IMAGE_CLOSURE_BIN, {});
  if (!Check(closure)) return 1;
  std::map<std::string, std::string> sizes;  // "canaryctl", "helm", "kubectl" -> "17.99 MiB"
  {
    std::istringstream lines(closure.out);
    std::string line, block;
    while (std::getline(lines, line)) {
      if (!line.empty() && line[0] != ' ') block = line.substr(0, line.find(' '));
      std::istringstream fields(line);
      std::string first, second, number, unit;
      fields >> first;
      if (first == "total" && block == "canaryctl") {
        fields >> number >> unit;
        sizes["canaryctl"] = number + " " + unit;
        sizes["libraries"] =
            line.substr(line.find('(') + 1, line.find(' ', line.find('(')) - line.find('(') - 1);
      } else if (first == "helm" || first == "kubectl") {
        fields >> second >> number >> unit;
        sizes[first] = number + " " + unit;
      }
    }
  }
  if (sizes.size() != 4) {
    std::fprintf(stderr, "unexpected output of bench_image_closure:\n%s\n", closure.out.c_str());
    return 1;
  }

  if (auto stopped = sandbox.Stop(); !stopped) {
    std::fprintf(stderr, "%s\n", stopped.message());
    return 1;
  }

  const double shift_p50 = Percentile(shift_ms, 0.5), patch_p50 = Percentile(patch_ms, 0.5);
  auto helm_part = [](const std::string& verbs, const std::vector<double>& ms) {
    return verbs.empty()
               ? std::string("no helm call")
               : "of it inside helm (" + verbs + ") " + Fixed(Percentile(ms, 0.5), 1) + " ms";
  };
  rows.push_back(
      {"1. `canaryctl shift` (no checks, alternating 30/60) vs `kubectl patch --type "
       "merge` of the same weights, whole processes, " +
           std::to_string(o.runs) + " interleaved runs each",
       "canaryctl " + Fixed(shift_p50, 1) + " ms (p90 " + Fixed(Percentile(shift_ms, 0.9), 1) +
           "; " + helm_part(shift_helm_verbs, shift_helm_ms) + "), kubectl " + Fixed(patch_p50, 1) +
           " ms (p90 " + Fixed(Percentile(patch_ms, 0.9), 1) + "): kubectl/canaryctl " +
           Fixed(ratio, 2) + "x",
       "canaryctl >= 10x faster", Met(ratio >= 10)});
  const double rb50 = Percentile(rollback_ms, 0.5), rb99 = Percentile(rollback_ms, 0.99);
  rows.push_back(
      {"2. rollback: failing command check to 100/0 written (`rollback_ms`, whole ms), " +
           std::to_string(o.rollbacks) + " failing shifts",
       "p50 " + Fixed(rb50, 0) + " ms, p99 " + Fixed(rb99, 0) + " ms", "< 50 ms",
       Met(rb50 < 50 && rb99 < 50)});
  rows.push_back(
      {"3. canaryctl's own time across the demo's flow (deploy, test, shift 30/60/100, "
       "promote; each step judged by an http check, 8 s of load and the analysis): wall time "
       "minus " +
           std::to_string(flow_helm_calls) + " helm calls (" + Fixed(flow_helm_ms, 0) +
           " ms) and the judging (" + Fixed(flow_judging_ms, 0) +
           " ms: checks, load, analysis and its waits)",
       Fixed(overhead, 0) + " ms of " + Fixed(flow_ms, 0) + " ms: " + Fixed(overhead_pct, 1) +
           "% (" + Fixed(overhead_net, 0) + " ms, " + Fixed(100.0 * overhead_net / flow_ms, 1) +
           "%, less the helm wrapper's start, " + Fixed(wrapper_cost, 1) + " ms a call)",
       "< 1% of the flow", Met(overhead_pct < 1.0)});
  const double version_p50 = Percentile(version_ms, 0.5), plan_p50 = Percentile(plan_ms, 0.5);
  rows.push_back({"4. `canaryctl version`, " + std::to_string(o.runs) + " runs",
                  Fixed(version_p50, 1) + " ms (p90 " + Fixed(Percentile(version_ms, 0.9), 1) +
                      "; spawning /bin/true the same way: " + Fixed(floor_p50, 1) + " ms)",
                  "< 10 ms", Met(version_p50 < 10)});
  rows.push_back({"4. `canaryctl plan` (reads the VirtualService and helm's view), " +
                      std::to_string(o.runs) + " runs",
                  Fixed(plan_p50, 1) + " ms (p90 " + Fixed(Percentile(plan_ms, 0.9), 1) + "; " +
                      helm_part(plan_helm_verbs, plan_helm_ms) + ")",
                  "< 30 ms", Met(plan_p50 < 30)});
  rows.push_back({"5. runtime closure: canaryctl stripped + its " + sizes["libraries"] +
                      " libraries beyond debian:bookworm-slim (bench_image_closure)",
                  sizes["canaryctl"] + "; helm " + sizes["helm"] + ", kubectl " + sizes["kubectl"] +
                      " (static)",
                  "shown beside helm and kubectl", "-"});

  std::printf("Performance table: one canaryctl-sandbox, %s (helm %d + kubectl), %u CPUs\n\n",
              tools.name.c_str(), tools.helm_major, std::thread::hardware_concurrency());
  std::printf("| what | measured | target | met |\n|---|---|---|---|\n");
  for (const Row& r : rows) {
    std::printf("| %s | %s | %s | %s |\n", r.what.c_str(), r.measured.c_str(), r.target.c_str(),
                r.met.c_str());
  }
  std::printf(
      "\nTimes are wall time from posix_spawn to exit, medians unless marked; met is judged on\n"
      "the median (both for the rollback; p99 of %d runs is their maximum). canaryctl shift\n"
      "reads the VirtualService, checks the lock and the state, writes weights, state and lock\n"
      "in one guarded PATCH (with nothing to judge, the step's begin and end together), and\n"
      "writes its seven reports; kubectl patches a twin VirtualService (demoapp in %s, no\n"
      "state) so neither disturbs the other. helm's time is what a wrapper (HELM_BIN) measured\n"
      "around it.\n",
      o.rollbacks, kTwinNamespace);
  std::printf("\nThe flow, command by command:\n%s", flow_detail.c_str());
  return 0;
}

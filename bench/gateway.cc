// Prints the throughput and latency of the sandbox's gateway against one workload reached
// directly: Debian's wrk runs for a few seconds against a workload of examples/demoapp (v1 in
// prod, v2 in stage, the VirtualService of examples/istio sending 100% to prod) and against the
// gateway, at 1 connection and at --connections (32), and the gateway's added latency (p50, p99)
// is the difference. Figures only: it never asserts. Exits non-zero only when it could not
// measure (setup failed, wrk missing or errors in its run).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <Poco/Dynamic/Var.h>

#include <CLI/CLI.hpp>

#include "sandbox_fixture.h"

namespace {

using canaryctl::integration::Clients;
using canaryctl::integration::CommandResult;
using canaryctl::integration::HttpResult;
using canaryctl::integration::RunOptions;
using canaryctl::integration::RunProcess;
using canaryctl::integration::Sandbox;
using canaryctl::integration::SandboxOptions;
using canaryctl::integration::SourcePath;
using canaryctl::integration::ToolSet;
using canaryctl::integration::ToolSets;

constexpr const char* kWrk = "/usr/bin/wrk";

struct Options {
  int duration_s = 5;
  int connections = 32;
};

struct WrkResult {
  bool ok = false;
  double requests_per_s = 0;
  double p50_ms = 0, p99_ms = 0;
  std::string problem;  // when !ok
};

double ToMs(const std::string& number, const std::string& unit) {
  const double v = std::atof(number.c_str());
  if (unit == "us") return v / 1000.0;
  if (unit == "s") return v * 1000.0;
  if (unit == "m") return v * 60000.0;
  return v;
}

WrkResult RunWrk(const std::string& url, int connections, int duration_s) {
  WrkResult result;
  const int threads = std::min(connections, 2);
  RunOptions options;
  options.timeout = std::chrono::seconds(duration_s + 30);
  CommandResult r = RunProcess(kWrk,
                               {"-t", std::to_string(threads), "-c", std::to_string(connections),
                                "-d", std::to_string(duration_s) + "s", "--latency", url},
                               options);
  if (!r.ok()) {
    result.problem = r.Describe();
    return result;
  }
  std::smatch m;
  const std::regex rps(R"(Requests/sec:\s+([0-9.]+))");
  const std::regex p50(R"(\n\s+50%\s+([0-9.]+)(us|ms|s|m)\b)");
  const std::regex p99(R"(\n\s+99%\s+([0-9.]+)(us|ms|s|m)\b)");
  const std::regex bad(R"((Non-2xx or 3xx responses|Socket errors):[^\n]*)");
  if (std::regex_search(r.out, m, bad)) {
    result.problem = url + ": " + m[0].str() + "\n" + r.out;
    return result;
  }
  if (!std::regex_search(r.out, m, rps)) {
    result.problem = "no Requests/sec in wrk's output:\n" + r.out;
    return result;
  }
  result.requests_per_s = std::atof(m[1].str().c_str());
  if (!std::regex_search(r.out, m, p50)) {
    result.problem = "no latency distribution in wrk's output:\n" + r.out;
    return result;
  }
  result.p50_ms = ToMs(m[1].str(), m[2].str());
  if (!std::regex_search(r.out, m, p99)) {
    result.problem = "no 99% latency in wrk's output:\n" + r.out;
    return result;
  }
  result.p99_ms = ToMs(m[1].str(), m[2].str());
  result.ok = true;
  return result;
}

bool Check(const CommandResult& r) {
  if (r.ok()) return true;
  std::fprintf(stderr, "%s\n", r.Describe().c_str());
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "wrk against one workload of examples/demoapp and through the sandbox's gateway, at 1 "
      "connection and at --connections"};
  app.add_option("--duration", o.duration_s, "seconds per run")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--connections", o.connections, "connections of the second pair of runs")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!std::ifstream(kWrk)) {
    std::fprintf(stderr, "%s is missing: run scripts/setup (Debian package wrk)\n", kWrk);
    return 1;
  }
  const ToolSet& tools = ToolSets().back();
  if (auto present = canaryctl::integration::ToolSetPresent(tools); !present) {
    std::fprintf(stderr, "%s\n", present.message());
    return 1;
  }

  SandboxOptions sandbox_options;
  sandbox_options.gateway = true;
  Sandbox sandbox(sandbox_options);
  if (auto started = sandbox.Start(); !started) {
    std::fprintf(stderr, "%s\n", started.message());
    return 1;
  }
  Clients clients(tools, sandbox.kubeconfig());
  auto install = [&](const std::string& ns, const std::string& tag) {
    return Check(clients.Helm({"upgrade", "--install", "demoapp", SourcePath("examples/demoapp"),
                               "-n", ns, "--create-namespace", "--wait", "--timeout", "60s",
                               "--set", "deployment.tag=" + tag}));
  };
  if (!Check(clients.Kubectl({"apply", "-f", SourcePath("examples/istio/crds/")})) ||
      !install("prod", "v1") || !install("stage", "v2") ||
      !Check(clients.Kubectl({"apply", "-f", SourcePath("examples/istio/gateway.yaml"), "-f",
                              SourcePath("examples/istio/virtualservice.yaml")}))) {
    return 1;
  }
  HttpResult workloads = sandbox.Http("GET", "/sandbox/workloads");
  Poco::Dynamic::Var list = canaryctl::integration::ParseJson(workloads.body);
  std::string direct;
  int prod_workloads = 0;
  for (size_t i = 0; i < canaryctl::integration::Len(list, "/items").value_or(0); ++i) {
    const std::string item = "/items/" + std::to_string(i);
    if (canaryctl::integration::Str(list, item + "/namespace") != "prod") continue;
    ++prod_workloads;
    if (direct.empty()) direct = canaryctl::integration::Str(list, item + "/url").value_or("");
  }
  if (direct.empty()) {
    std::fprintf(stderr, "no workload in prod: %d %s\n", workloads.status, workloads.body.c_str());
    return 1;
  }
  const std::string gateway = sandbox.gateway_url() + "/";
  direct += "/";

  std::printf(
      "canaryctl-sandbox gateway: wrk --latency for %d s per run over loopback, %u CPUs\n"
      "  direct:  one workload of prod (%s)\n"
      "  gateway: %s -> VirtualService demoapp (100%% to prod: %d workloads, round-robin)\n\n",
      o.duration_s, std::thread::hardware_concurrency(), direct.c_str(), gateway.c_str(),
      prod_workloads);
  std::printf("%-22s %6s %11s %9s %9s\n", "target", "conns", "requests/s", "p50 ms", "p99 ms");
  std::vector<int> levels = {1};
  if (o.connections != 1) levels.push_back(o.connections);
  std::vector<std::pair<WrkResult, WrkResult>> results;
  for (int c : levels) {
    WrkResult d = RunWrk(direct, c, o.duration_s);
    WrkResult g = RunWrk(gateway, c, o.duration_s);
    for (const WrkResult* r : {&d, &g}) {
      if (!r->ok) {
        std::fprintf(stderr, "%s\n", r->problem.c_str());
        return 1;
      }
    }
    std::printf("%-22s %6d %11.0f %9.3f %9.3f\n", "workload (direct)", c, d.requests_per_s,
                d.p50_ms, d.p99_ms);
    std::printf("%-22s %6d %11.0f %9.3f %9.3f\n", "gateway -> workload", c, g.requests_per_s,
                g.p50_ms, g.p99_ms);
    results.emplace_back(d, g);
  }
  std::printf("\ngateway's added latency (gateway minus direct)\n");
  for (size_t i = 0; i < levels.size(); ++i) {
    const auto& [d, g] = results[i];
    std::printf("  %3d connection%s: p50 %+.3f ms, p99 %+.3f ms; throughput %.0f%% of direct\n",
                levels[i], levels[i] == 1 ? " " : "s", g.p50_ms - d.p50_ms, g.p99_ms - d.p99_ms,
                100.0 * g.requests_per_s / d.requests_per_s);
  }

  if (auto stopped = sandbox.Stop(); !stopped) {
    std::fprintf(stderr, "%s\n", stopped.message());
    return 1;
  }
  return 0;
}

// Prints the sandbox's API latency on a VirtualService (1,000 sequential GETs and 1,000
// sequential merge-PATCHes over one keep-alive connection: p50, p99, max) and the wall time of
// `helm upgrade --install --wait` of examples/demoapp with helm 3 and helm 4. Figures only: it
// never asserts on timing. Exits non-zero only when it could not measure (a request failed).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <CLI/CLI.hpp>

#include "sandbox_fixture.h"

namespace {

using canaryctl::integration::Clients;
using canaryctl::integration::CommandResult;
using canaryctl::integration::Sandbox;
using canaryctl::integration::SandboxOptions;
using canaryctl::integration::SourcePath;
using canaryctl::integration::ToolSet;
using canaryctl::integration::ToolSets;
using Clock = std::chrono::steady_clock;

constexpr double kTargetP99Ms = 2.0;
constexpr const char* kVsPath =
    "/apis/networking.istio.io/v1/namespaces/prod/virtualservices/demoapp";

struct Options {
  int requests = 1000;
  int warmup = 20;
  int ready_delay_ms = 100;
};

struct Stats {
  double p50 = 0, p99 = 0, max = 0;
};

Stats Summarize(std::vector<double> ms) {
  Stats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  // Nearest-rank percentiles.
  auto rank = [&](double p) {
    size_t r = static_cast<size_t>(std::ceil(p * static_cast<double>(ms.size())));
    return ms[std::clamp<size_t>(r, 1, ms.size()) - 1];
  };
  s.p50 = rank(0.50);
  s.p99 = rank(0.99);
  s.max = ms.back();
  return s;
}

// One request on the shared session; the body is read in full. Returns the status (0 on a
// transport error, with *error set).
int Send(Poco::Net::HTTPClientSession& session, const std::string& method, const std::string& body,
         const std::string& content_type, std::string* error) {
  try {
    Poco::Net::HTTPRequest request(method, kVsPath, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setKeepAlive(true);
    request.set("Accept", "application/json");
    if (!body.empty()) {
      request.setContentType(content_type);
      request.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    std::string text;
    Poco::StreamCopier::copyToString(in, text);
    if (response.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) *error = text;
    return static_cast<int>(response.getStatus());
  } catch (const Poco::Exception& e) {
    *error = e.displayText();
    return 0;
  }
}

std::string WeightsPatch(int prod) {
  return R"({"spec":{"http":[{"route":[{"destination":{"host":"flaskapp.prod.svc.cluster.local"},"weight":)" +
         std::to_string(prod) +
         R"(},{"destination":{"host":"flaskapp.stage.svc.cluster.local"},"weight":)" +
         std::to_string(100 - prod) + "}]}]}}";
}

// Times `requests` sequential requests (after `warmup` untimed ones); false if any failed.
bool Measure(Poco::Net::HTTPClientSession& session, const std::string& method, const Options& o,
             std::vector<double>* ms) {
  for (int i = 0; i < o.warmup + o.requests; ++i) {
    const std::string body = method == "PATCH" ? WeightsPatch(i % 2 == 0 ? 70 : 100) : "";
    std::string error;
    const auto start = Clock::now();
    int status = Send(session, method, body, "application/merge-patch+json", &error);
    const auto end = Clock::now();
    if (status != 200) {
      std::fprintf(stderr, "%s %s failed: %d %s\n", method.c_str(), kVsPath, status, error.c_str());
      return false;
    }
    if (i >= o.warmup)
      ms->push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  return true;
}

bool Check(const CommandResult& r) {
  if (r.ok()) return true;
  std::fprintf(stderr, "%s\n", r.Describe().c_str());
  return false;
}

std::string HelmVersion(const Clients& clients) {
  CommandResult r = clients.Helm({"version", "--template", "{{.Version}}"});
  return r.ok() ? r.out : "helm " + std::to_string(clients.tools().helm_major);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "sequential GETs and merge-PATCHes of a VirtualService, and helm upgrade --install --wait "
      "of examples/demoapp with helm 3 and 4"};
  app.add_option("--requests", o.requests, "timed requests of each kind")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_option("--warmup", o.warmup, "untimed requests first")
      ->check(CLI::Range(0, 10000000))
      ->capture_default_str();
  app.add_option("--ready-delay-ms", o.ready_delay_ms,
                 "how long the sandbox's pods take to be ready")
      ->check(CLI::Range(0, 600000))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  for (const ToolSet& tools : ToolSets()) {
    if (auto present = canaryctl::integration::ToolSetPresent(tools); !present) {
      std::fprintf(stderr, "%s\n", present.message());
      return 1;
    }
  }

  Sandbox sandbox(SandboxOptions{.ready_delay_ms = o.ready_delay_ms});
  if (auto started = sandbox.Start(); !started) {
    std::fprintf(stderr, "%s\n", started.message());
    return 1;
  }
  const ToolSet& newest = ToolSets().back();
  Clients setup(newest, sandbox.kubeconfig());
  if (!Check(
          setup.Kubectl({"apply", "-f", SourcePath("examples/istio/crds/virtualservice.yaml")})) ||
      !Check(setup.Kubectl({"wait", "--for=condition=Established", "--timeout=20s",
                            "crd/virtualservices.networking.istio.io"})) ||
      !Check(setup.Kubectl({"create", "namespace", "prod"})) ||
      !Check(setup.Kubectl({"create", "-f", SourcePath("examples/istio/virtualservice.yaml")}))) {
    return 1;
  }

  Poco::Net::HTTPClientSession session(sandbox.host(), static_cast<Poco::UInt16>(sandbox.port()));
  session.setKeepAlive(true);
  session.setTimeout(Poco::Timespan(10, 0));
  std::vector<double> get_ms, patch_ms;
  if (!Measure(session, "GET", o, &get_ms) || !Measure(session, "PATCH", o, &patch_ms)) return 1;

  std::printf(
      "canaryctl-sandbox API latency: %d sequential requests each on one keep-alive\n"
      "HTTP/1.1 connection over loopback, after %d untimed; %s\n\n",
      o.requests, o.warmup, kVsPath);
  std::printf("%-30s %9s %9s %9s   %s\n", "request", "p50 ms", "p99 ms", "max ms", "target");
  auto row = [](const char* name, const std::vector<double>& ms) {
    Stats s = Summarize(ms);
    std::printf("%-30s %9.3f %9.3f %9.3f   p99 < %.0f ms (%s)\n", name, s.p50, s.p99, s.max,
                kTargetP99Ms, s.p99 < kTargetP99Ms ? "met" : "not met");
  };
  row("GET", get_ms);
  row("merge-PATCH (weights)", patch_ms);

  std::printf(
      "\nhelm upgrade --install demoapp examples/demoapp --wait (fresh client caches, "
      "pods ready after %d ms)\n\n",
      o.ready_delay_ms);
  std::printf("%-30s %9s\n", "client", "wall s");
  for (const ToolSet& tools : ToolSets()) {
    Clients clients(tools, sandbox.kubeconfig());
    const std::string ns = "bench-helm" + std::to_string(tools.helm_major);
    const std::string version = HelmVersion(clients);
    CommandResult r = clients.Helm({"upgrade", "--install", "demoapp",
                                    SourcePath("examples/demoapp"), "-n", ns, "--create-namespace",
                                    "--wait", "--timeout", "60s", "--set", "deployment.tag=v1"});
    if (!Check(r)) return 1;
    std::printf("%-30s %9.2f\n", ("helm " + version + " (" + tools.name + ")").c_str(),
                static_cast<double>(r.elapsed.count()) / 1000.0);
  }

  if (auto stopped = sandbox.Stop(); !stopped) {
    std::fprintf(stderr, "%s\n", stopped.message());
    return 1;
  }
  return 0;
}

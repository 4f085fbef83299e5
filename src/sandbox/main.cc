// canaryctl-sandbox: a local Kubernetes-API-compatible cluster for demos and tests.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "sandbox/server.h"

namespace {

constexpr const char* kVersion = "0.1.0";

int Serve(const sandbox::ServerOptions& options) {
  // Block the stop signals in every thread (threads inherit the mask), so only sigwait below
  // sees them; SIGPIPE is blocked as well since a vanished client must not kill the process.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigset_t blocked = signals;
  sigaddset(&blocked, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);

  auto server = sandbox::Server::Start(options);
  if (!server.ok()) {
    spdlog::error("cannot start: {}", server.error().message);
    return 1;
  }
  // The ready line; scripts and tests read the addresses from it.
  std::cout << "canaryctl-sandbox: serving on " << server.value()->url() << " (kubeconfig "
            << (options.kubeconfig_path.empty() ? "none" : options.kubeconfig_path) << ", data "
            << options.data_dir << ")";
  if (!server.value()->gateway_url().empty()) {
    std::cout << ", gateway " << server.value()->gateway_url();
  }
  std::cout << std::endl;

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("signal {}: shutting down", signal_number);
  // The store makes every write durable before answering, so cutting a slow shutdown short
  // loses nothing; the contract is to exit within a second.
  std::thread watchdog([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(900));
    spdlog::warn("shutdown took too long; exiting now");
    std::fflush(nullptr);
    std::_Exit(0);
  });
  watchdog.detach();
  server.value()->Stop();
  server.value().reset();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("canaryctl-sandbox"));

  CLI::App app{"canaryctl-sandbox: a local Kubernetes-API-compatible cluster"};
  app.require_subcommand(1);
  sandbox::ServerOptions options;
  int64_t ready_delay_ms = 300;
  int64_t job_duration_ms = 300;
  std::string log_level = "info";

  CLI::App* serve = app.add_subcommand("serve", "serve the API in the foreground");
  serve->add_option("--listen", options.listen, "host:port to listen on (port 0: a free one)")
      ->required();
  serve->add_option("--data", options.data_dir, "directory holding the cluster's state")
      ->required();
  serve->add_option("--kubeconfig", options.kubeconfig_path, "kubeconfig to write once serving")
      ->required();
  serve->add_flag("--tls", options.tls, "serve HTTPS with client certificate auth");
  serve->add_option("--token", options.token,
                    "also accept (with --tls) or require (without) 'Authorization: Bearer TOKEN'");
  serve->add_option("--ready-delay-ms", ready_delay_ms, "pod created -> Ready")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  serve->add_option("--job-duration-ms", job_duration_ms, "job pod Ready -> Succeeded")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  serve->add_option("--request-log", options.request_log_path,
                    "append one JSON line per request to this file");
  serve->add_option("--max-body-bytes", options.max_body_bytes, "larger request bodies get 413")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve->add_option("--threads", options.threads, "connection threads (each watch holds one)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  serve->add_option("--gateway", options.gateway_listen,
                    "host:port of the Istio-like ingress gateway (port 0: a free one)");
  serve
      ->add_option("--gateway-threads", options.gateway_threads,
                   "the gateway's connection threads (each open connection holds one)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  serve->add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

  CLI::App* version = app.add_subcommand("version", "print the version");

  CLI11_PARSE(app, argc, argv);

  if (version->parsed()) {
    std::cout << "canaryctl-sandbox " << kVersion << std::endl;
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(log_level));
  options.ready_delay = std::chrono::milliseconds(ready_delay_ms);
  options.job_duration = std::chrono::milliseconds(job_duration_ms);
  return Serve(options);
}

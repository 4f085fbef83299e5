#include "sandbox/pod_workloads.h"

#include <condition_variable>
#include <random>
#include <sstream>

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/NullStream.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>
#include <spdlog/spdlog.h>

#include "sandbox/serve_factory.h"

namespace sandbox {
namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

double Uniform01() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

}  // namespace

struct WorkloadHost::Workload {
  WorkloadHost* host = nullptr;
  std::string uid;
  std::string resource_version;
  uint16_t port = 0;
  std::unique_ptr<Poco::ThreadPool> pool;
  std::unique_ptr<Poco::Net::HTTPServer> http;

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::shared_ptr<const PodIdentity> identity;

  std::shared_ptr<const PodIdentity> Identity() const {
    std::lock_guard lock(mu);
    return identity;
  }
  void SetIdentity(PodIdentity id) {
    std::lock_guard lock(mu);
    identity = std::make_shared<const PodIdentity>(std::move(id));
  }
  // Sleeps for ms unless the workload stops first.
  void Delay(int ms) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping; });
  }
  void Stop() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    cv.notify_all();
    try {
      if (http) http->stopAll(true);
    } catch (const Poco::Exception& e) {
      spdlog::debug("workload {}: stop: {}", uid, e.displayText());
    }
    if (pool) pool->joinAll();
    http.reset();
    pool.reset();
  }

  void Serve(HTTPServerRequest& request, HTTPServerResponse& response);
};

void WorkloadHost::Workload::Serve(HTTPServerRequest& request, HTTPServerResponse& response) {
  const auto start = std::chrono::steady_clock::now();
  {
    Poco::NullOutputStream sink;
    Poco::StreamCopier::copyStream(request.stream(), sink);
  }
  const std::shared_ptr<const PodIdentity> id = Identity();
  if (id->latency_ms > 0) Delay(id->latency_ms);
  const bool fail = id->error_rate > 0 && Uniform01() < id->error_rate;
  const int code = fail ? 500 : 200;

  Poco::JSON::Object answer(Poco::JSON_PRESERVE_KEY_ORDER);
  answer.set("app", id->app);
  answer.set("version", id->version);
  answer.set("pod", id->pod);
  answer.set("namespace", id->ns);
  if (fail) answer.set("error", "injected fault (FAULT_ERROR_RATE)");
  std::ostringstream json;
  answer.stringify(json);
  const std::string body = json.str() + "\n";
  // Counted before the answer goes out: a client that reads /metrics once answered sees it.
  RequestLabels labels;
  labels.reporter = "destination";
  labels.source_workload = request.get(kSourceWorkloadHeader, "unknown");
  labels.source_workload_namespace = request.get(kSourceNamespaceHeader, "unknown");
  labels.destination_service = request.get(kDestinationServiceHeader, "");
  if (labels.destination_service.empty()) {
    std::shared_ptr<ServiceLookup> lookup;
    {
      std::lock_guard lock(host->lookup_mu_);
      lookup = host->lookup_;
    }
    if (lookup && *lookup) labels.destination_service = (*lookup)(id->ns, id->pod);
  }
  if (auto parsed = ParseClusterLocal(labels.destination_service)) {
    labels.destination_service_name = parsed->first;
    labels.destination_service_namespace = parsed->second;
  }
  labels.destination_workload = id->workload;
  labels.destination_workload_namespace = id->ns;
  labels.destination_app = id->app;
  labels.destination_version = id->version;
  labels.response_code = code;
  labels.response_flags = "-";
  host->metrics_.Record(
      labels,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  response.setStatusAndReason(static_cast<HTTPResponse::HTTPStatus>(code));
  response.setContentType("application/json");
  response.set("X-App", id->app);
  response.set("X-Version", id->version);
  response.set("X-Pod", id->pod);
  response.set("X-Namespace", id->ns);
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  try {
    response.sendBuffer(body.data(), body.size());
  } catch (const Poco::Exception&) {
    // The client went away; the request was counted all the same, as a proxy counts it.
  }
}

WorkloadHost::WorkloadHost(IstioMetrics& metrics, WorkloadHostOptions options)
    : metrics_(metrics), options_(options) {}

WorkloadHost::~WorkloadHost() { StopAll(); }

void WorkloadHost::SetServiceLookup(ServiceLookup lookup) {
  std::lock_guard lock(lookup_mu_);
  lookup_ = std::make_shared<ServiceLookup>(std::move(lookup));
}

bool WorkloadHost::Run(const json::ObjectPtr& pod) {
  const std::string uid = json::GetString(pod, "metadata.uid").value_or("");
  if (uid.empty()) return false;
  const std::string rv = json::GetString(pod, "metadata.resourceVersion").value_or("");
  std::lock_guard lock(mu_);
  if (auto it = workloads_.find(uid); it != workloads_.end()) {
    if (it->second->resource_version != rv) {
      it->second->SetIdentity(IdentityOf(pod));
      it->second->resource_version = rv;
    }
    return true;
  }
  auto w = std::make_shared<Workload>();
  w->host = this;
  w->uid = uid;
  w->resource_version = rv;
  w->SetIdentity(IdentityOf(pod));
  try {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0), 256);
    w->port = socket.address().port();
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(options_.threads);
    params->setMaxQueued(256);
    params->setKeepAlive(true);
    params->setMaxKeepAliveRequests(0);
    params->setKeepAliveTimeout(Poco::Timespan(options_.keep_alive.count(), 0));
    params->setServerName("canaryctl-sandbox-workload");
    params->setThreadIdleTime(Poco::Timespan(10, 0));
    // Small stacks: a handler only formats a short answer.
    w->pool = std::make_unique<Poco::ThreadPool>(1, options_.threads + 1, 10, 256 * 1024);
    w->http = std::make_unique<Poco::Net::HTTPServer>(new ServeFactory<WorkloadHost::Workload>(*w),
                                                      *w->pool, socket, params);
    w->http->start();
  } catch (const Poco::Exception& e) {
    spdlog::warn("pod {}: cannot start its workload: {}", uid, e.displayText());
    return false;
  }
  const auto id = w->Identity();
  spdlog::debug("workload of pod {}/{} ({} {}) on 127.0.0.1:{}", id->ns, id->pod, id->app,
                id->version, w->port);
  workloads_.emplace(uid, std::move(w));
  ++generation_;
  return true;
}

void WorkloadHost::Retain(const std::set<std::string>& running_uids) {
  std::vector<std::shared_ptr<Workload>> gone;
  {
    std::lock_guard lock(mu_);
    for (auto it = workloads_.begin(); it != workloads_.end();) {
      if (running_uids.count(it->first)) {
        ++it;
      } else {
        gone.push_back(std::move(it->second));
        it = workloads_.erase(it);
      }
    }
    if (!gone.empty()) ++generation_;
  }
  if (!gone.empty()) StopInBackground(std::move(gone));
}

void WorkloadHost::StopInBackground(std::vector<std::shared_ptr<Workload>> workloads) {
  JoinFinishedStoppers(false);
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread thread([workloads = std::move(workloads), done] {
    // In parallel: each server takes up to a quarter second to notice it should stop.
    std::vector<std::thread> each;
    for (const auto& w : workloads) {
      spdlog::debug("stopping the workload of pod {} (port {})", w->uid, w->port);
      each.emplace_back([w] { w->Stop(); });
    }
    for (auto& t : each) t.join();
    done->store(true);
  });
  std::lock_guard lock(stoppers_mu_);
  stoppers_.push_back(Stopper{std::move(thread), done});
}

void WorkloadHost::JoinFinishedStoppers(bool all) {
  std::vector<Stopper> finished;
  {
    std::lock_guard lock(stoppers_mu_);
    for (auto it = stoppers_.begin(); it != stoppers_.end();) {
      if (all || it->done->load()) {
        finished.push_back(std::move(*it));
        it = stoppers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& s : finished) {
    if (s.thread.joinable()) s.thread.join();
  }
}

void WorkloadHost::StopAll() {
  std::vector<std::shared_ptr<Workload>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [uid, w] : workloads_) all.push_back(std::move(w));
    workloads_.clear();
    if (!all.empty()) ++generation_;
  }
  if (!all.empty()) StopInBackground(std::move(all));
  JoinFinishedStoppers(true);
}

uint16_t WorkloadHost::PortOf(const std::string& uid) const {
  std::lock_guard lock(mu_);
  auto it = workloads_.find(uid);
  return it == workloads_.end() ? 0 : it->second->port;
}

std::vector<WorkloadHost::Info> WorkloadHost::List() const {
  std::vector<Info> out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [uid, w] : workloads_) out.push_back(Info{uid, w->port, *w->Identity()});
  }
  std::sort(out.begin(), out.end(), [](const Info& a, const Info& b) {
    return std::tie(a.identity.ns, a.identity.pod) < std::tie(b.identity.ns, b.identity.pod);
  });
  return out;
}

}  // namespace sandbox

#include "sandbox/server.h"

#include <signal.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/NullStream.h>
#include <Poco/NumberParser.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>
#include <spdlog/spdlog.h>

#include "sandbox/api_handler.h"
#include "sandbox/certificates.h"
#include "sandbox/controllers.h"
#include "sandbox/faults.h"
#include "sandbox/gateway.h"
#include "sandbox/istio_metrics.h"
#include "sandbox/kubeconfig.h"
#include "sandbox/mesh.h"
#include "sandbox/pod_workloads.h"
#include "sandbox/request_log.h"
#include "sandbox/resource_registry.h"
#include "sandbox/serve_factory.h"
#include "sandbox/store.h"

namespace sandbox {
namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

constexpr size_t kMaxAdminBody = 64 * 1024;

void SendJson(HTTPServerResponse& response, int code, const json::Var& body) {
  const std::string text = json::Stringify(body);
  response.setStatusAndReason(static_cast<HTTPResponse::HTTPStatus>(code));
  response.setContentType("application/json");
  response.setContentLength(static_cast<std::streamsize>(text.size()));
  response.sendBuffer(text.data(), text.size());
}

void SendError(HTTPServerResponse& response, const ApiError& error) {
  SendJson(response, error.code, error.ToStatus());
}

ApiError MakeError(int code, std::string message) {
  ApiError error;
  error.code = code;
  error.reason = FaultInjector::ReasonForCode(code);
  error.message = std::move(message);
  return error;
}

// Reads at most limit bytes of the body; nullopt if it is longer.
std::optional<std::string> ReadBody(HTTPServerRequest& request, size_t limit) {
  std::string body;
  std::istream& in = request.stream();
  char buffer[8192];
  while (in) {
    in.read(buffer, sizeof buffer);
    body.append(buffer, static_cast<size_t>(in.gcount()));
    if (body.size() > limit) return std::nullopt;
  }
  return body;
}

// Thrown to make Poco's connection loop close the connection without writing a response.
class DroppedConnection : public Poco::Net::ConnectionAbortedException {
 public:
  DroppedConnection() : Poco::Net::ConnectionAbortedException("fault: connection dropped") {}
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  std::string host;
  uint16_t port = 0;
  std::unique_ptr<Store> store;
  std::unique_ptr<IstioMetrics> metrics;
  std::unique_ptr<WorkloadHost> workloads;
  std::unique_ptr<Mesh> mesh;
  std::unique_ptr<Gateway> gateway;
  std::unique_ptr<ResourceRegistry> registry;
  std::unique_ptr<ApiHandler> api;
  std::unique_ptr<ControllerManager> controllers;
  std::unique_ptr<RequestLog> request_log;
  FaultInjector faults;
  std::optional<Pki> pki;
  std::unique_ptr<Poco::ThreadPool> pool;
  std::unique_ptr<Poco::Net::HTTPServer> http;

  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;
  bool stopped = false;

  std::string Url() const {
    return std::string(options.tls ? "https" : "http") + "://" + host + ":" + std::to_string(port);
  }

  // Sleeps for ms unless the server stops first.
  void Delay(int ms) {
    std::unique_lock<std::mutex> lock(stop_mu);
    stop_cv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping; });
  }

  void Serve(HTTPServerRequest& request, HTTPServerResponse& response);
  void ServeAdmin(HTTPServerRequest& request, HTTPServerResponse& response,
                  const std::string& path);
  void ServeMetrics(HTTPServerRequest& request, HTTPServerResponse& response);
  void Drop(HTTPServerRequest& request);
  // The handler boundary: logs what escaped and answers 500 if nothing was sent yet.
  void Fail(HTTPServerRequest& request, HTTPServerResponse& response, const std::string& what);
  static bool HasClientCertificate(HTTPServerRequest& request);
  bool HasValidBearerToken(const HTTPServerRequest& request) const;
  // Whether the request may proceed; when not, the 401 message to answer with.
  std::optional<std::string> Unauthenticated(HTTPServerRequest& request) const;
};

bool Server::Impl::HasClientCertificate(HTTPServerRequest& request) {
  auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request);
  if (impl == nullptr) return false;
  try {
    // The context verifies a certificate the client sends during the handshake and fails the
    // handshake on a bad one, so a certificate present here is a verified one.
    Poco::Net::SecureStreamSocket socket(impl->socket());
    return socket.havePeerCertificate();
  } catch (const Poco::Exception&) {
    return false;
  }
}

bool Server::Impl::HasValidBearerToken(const HTTPServerRequest& request) const {
  if (options.token.empty()) return false;
  const std::string header = request.get("Authorization", "");
  const std::string prefix = "Bearer ";
  if (header.size() != prefix.size() + options.token.size() || header.rfind(prefix, 0) != 0) {
    return false;
  }
  // Compares every byte so the time taken does not tell how much of a guess was right.
  unsigned char diff = 0;
  for (size_t i = 0; i < options.token.size(); ++i) {
    diff |= static_cast<unsigned char>(header[prefix.size() + i] ^ options.token[i]);
  }
  return diff == 0;
}

std::optional<std::string> Server::Impl::Unauthenticated(HTTPServerRequest& request) const {
  if (!options.tls && options.token.empty()) return std::nullopt;
  if (HasValidBearerToken(request)) return std::nullopt;
  if (options.tls && HasClientCertificate(request)) return std::nullopt;
  if (options.tls && !options.token.empty()) {
    return "Unauthorized: a client certificate signed by the sandbox CA or a valid bearer "
           "token is required";
  }
  if (options.tls) {
    return "Unauthorized: a client certificate signed by the sandbox CA is required";
  }
  return "Unauthorized: a valid bearer token is required";
}

void Server::Impl::Drop(HTTPServerRequest& request) {
  auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request);
  if (impl != nullptr) {
    try {
      impl->socket().shutdown();
    } catch (const Poco::Exception&) {
      // Already gone: nothing left to drop.
    }
  }
  throw DroppedConnection();
}

void Server::Impl::Serve(HTTPServerRequest& request, HTTPServerResponse& response) {
  const auto start = std::chrono::steady_clock::now();
  const std::string& uri = request.getURI();
  const size_t q = uri.find('?');
  RequestLogEntry entry;
  entry.method = request.getMethod();
  entry.path = uri.substr(0, q);
  entry.query = q == std::string::npos ? "" : uri.substr(q + 1);
  entry.user_agent = request.get("User-Agent", "");
  bool dropped = false;
  auto log = [&] {
    entry.status = dropped ? 0 : static_cast<int>(response.getStatus());
    entry.ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    entry.ms = static_cast<double>(static_cast<int64_t>(entry.ms * 1000)) / 1000;
    if (request_log) request_log->Write(entry);
    spdlog::debug("{} {} -> {} ({:.3f} ms)", entry.method, uri, entry.status, entry.ms);
  };
  try {
    if (entry.path == "/metrics") {
      // A scrape endpoint: open to Prometheus without credentials, never faulted.
      ServeMetrics(request, response);
    } else if (auto refusal = Unauthenticated(request)) {
      SendError(response, MakeError(401, *refusal));
    } else if (entry.path == "/sandbox" || entry.path.rfind("/sandbox/", 0) == 0) {
      ServeAdmin(request, response, entry.path);
    } else if (auto fault = faults.Match(entry.method, entry.path, entry.user_agent)) {
      spdlog::info("fault rule {} fires on {} {}", fault->rule_id, entry.method, entry.path);
      if (fault->delay_ms > 0) Delay(fault->delay_ms);
      if (fault->drop) {
        dropped = true;
        Drop(request);
      }
      if (fault->status != 0) {
        // Read the request body the answer refuses, as an API server does: left unread on a
        // keep-alive connection, it would be parsed as the client's next request (its retry).
        Poco::NullOutputStream discard;
        Poco::StreamCopier::copyStream(request.stream(), discard);
        ApiError error = MakeError(
            fault->status, fault->message.empty()
                               ? "injected fault (rule " + std::to_string(fault->rule_id) + ")"
                               : fault->message);
        if (fault->status == 429) response.set("Retry-After", "1");
        SendError(response, error);
      } else {
        api->Handle(request, response);
      }
    } else {
      api->Handle(request, response);
    }
  } catch (const DroppedConnection&) {
    log();
    throw;  // Poco's connection loop closes the connection without a response
  } catch (const Poco::Exception& e) {
    Fail(request, response, e.displayText());
  } catch (const std::exception& e) {
    Fail(request, response, e.what());
  } catch (...) {
    Fail(request, response, "unknown exception");
  }
  log();
}

void Server::Impl::Fail(HTTPServerRequest& request, HTTPServerResponse& response,
                        const std::string& what) {
  if (response.sent()) {
    // Mostly a client that went away mid-response (a closed watch): nothing to answer.
    spdlog::debug("{} {}: ended early: {}", request.getMethod(), request.getURI(), what);
    return;
  }
  spdlog::error("{} {}: unhandled error: {}", request.getMethod(), request.getURI(), what);
  try {
    SendError(response, ApiError::Internal("internal error: " + what));
  } catch (...) {
    // The client is gone; nothing more to tell it.
  }
}

void Server::Impl::ServeMetrics(HTTPServerRequest& request, HTTPServerResponse& response) {
  const std::string& method = request.getMethod();
  if (method != "GET" && method != "HEAD") {
    return SendError(response, MakeError(405, "use GET on /metrics"));
  }
  const std::string text = metrics->Render();
  response.setStatus(HTTPResponse::HTTP_OK);
  response.setContentType(IstioMetrics::kContentType);
  response.setContentLength(static_cast<std::streamsize>(text.size()));
  response.sendBuffer(text.data(), text.size());
}

void Server::Impl::ServeAdmin(HTTPServerRequest& request, HTTPServerResponse& response,
                              const std::string& path) {
  const std::string& method = request.getMethod();
  if (path == "/sandbox/workloads") {
    if (method != "GET") return SendError(response, MakeError(405, "use GET"));
    json::ArrayPtr items = new json::Array;
    for (const WorkloadHost::Info& w : workloads->List()) {
      json::ObjectPtr item = new json::Object;
      item->set("namespace", w.identity.ns);
      item->set("pod", w.identity.pod);
      item->set("uid", w.uid);
      item->set("port", static_cast<int>(w.port));
      item->set("url", "http://127.0.0.1:" + std::to_string(w.port));
      item->set("app", w.identity.app);
      item->set("version", w.identity.version);
      item->set("workload", w.identity.workload);
      item->set("errorRate", w.identity.error_rate);
      item->set("latencyMs", w.identity.latency_ms);
      items->add(item);
    }
    json::ObjectPtr out = new json::Object;
    out->set("items", items);
    return SendJson(response, 200, out);
  }
  if (path == "/sandbox/health") {
    if (method != "GET") return SendError(response, MakeError(405, "use GET"));
    json::ObjectPtr out = new json::Object;
    out->set("status", "ok");
    out->set("resourceVersion", store->CurrentResourceVersion());
    return SendJson(response, 200, out);
  }
  if (path == "/sandbox/faults") {
    if (method == "GET") {
      json::ObjectPtr out = new json::Object;
      out->set("items", faults.List());
      return SendJson(response, 200, out);
    }
    if (method == "DELETE") {
      faults.Clear();
      json::ObjectPtr out = new json::Object;
      out->set("items", json::ArrayPtr(new json::Array));
      return SendJson(response, 200, out);
    }
    if (method == "POST") {
      auto body = ReadBody(request, kMaxAdminBody);
      if (!body) return SendError(response, MakeError(413, "fault rule body too large"));
      auto rule = faults.AddJson(*body);
      if (!rule.ok()) return SendError(response, rule.error());
      spdlog::info("fault rule added: {}", json::Stringify(rule.value()));
      return SendJson(response, 201, rule.value());
    }
    return SendError(response, MakeError(405, "use GET, POST or DELETE on /sandbox/faults"));
  }
  const std::string prefix = "/sandbox/faults/";
  if (path.rfind(prefix, 0) == 0) {
    if (method != "DELETE") return SendError(response, MakeError(405, "use DELETE"));
    int64_t id = 0;
    if (!Poco::NumberParser::tryParse64(path.substr(prefix.size()), id) || !faults.Remove(id)) {
      return SendError(response, MakeError(404, "no fault rule " + path.substr(prefix.size())));
    }
    json::ObjectPtr out = new json::Object;
    out->set("id", id);
    out->set("deleted", true);
    return SendJson(response, 200, out);
  }
  SendError(response,
            MakeError(404, "unknown sandbox endpoint " + path +
                               " (known: /sandbox/health, /sandbox/faults, /sandbox/workloads)"));
}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  // A client that goes away mid-response must cost an error return, not the process.
  ::signal(SIGPIPE, SIG_IGN);
  if (options.data_dir.empty()) return ApiError::BadRequest("--data is required");
  if (options.threads < 1) return ApiError::BadRequest("--threads must be at least 1");

  std::unique_ptr<Server> server(new Server);
  server->impl_ = std::make_unique<Impl>();
  Impl& impl = *server->impl_;
  impl.options = options;

  Poco::Net::SocketAddress address;
  try {
    address = Poco::Net::SocketAddress(options.listen);
  } catch (const Poco::Exception& e) {
    return ApiError::BadRequest("bad --listen " + options.listen + ": " + e.displayText());
  }
  impl.host = address.host().toString();
  if (address.host().isWildcard()) impl.host = "127.0.0.1";

  if (!options.request_log_path.empty()) {
    auto log = RequestLog::Open(options.request_log_path);
    if (!log.ok()) return log.error();
    impl.request_log = std::move(log).value();
  }

  auto store = Store::Open(options.data_dir);
  if (!store.ok()) return store.error();
  impl.store = std::move(store).value();

  Poco::Net::Context::Ptr context;
  if (options.tls) {
    auto pki = LoadOrCreatePki(options.data_dir);
    if (!pki.ok()) return pki.error();
    impl.pki = pki.value();
    try {
      Poco::Net::initializeSSL();
      Poco::Net::Context::Params params;
      params.privateKeyFile = impl.pki->server_key_file;
      params.certificateFile = impl.pki->server_cert_file;
      params.caLocation = impl.pki->ca_cert_file;
      // Ask for a client certificate but let the handshake succeed without one, so a request
      // without it gets a proper 401 rather than a TLS alert.
      params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
      params.loadDefaultCAs = false;
      params.cipherList = "HIGH:!aNULL:!MD5:!RC4";
      context = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
      context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
      // Resumed sessions with client verification need a session id context.
      context->enableSessionCache(true, "canaryctl-sandbox");
    } catch (const Poco::Exception& e) {
      return ApiError::Internal("TLS setup failed: " + e.displayText());
    }
  }

  impl.registry = std::make_unique<ResourceRegistry>(*impl.store);
  ApiHandlerOptions api_options;
  api_options.max_body_bytes = options.max_body_bytes;
  impl.api = std::make_unique<ApiHandler>(*impl.store, *impl.registry, api_options);
  impl.metrics = std::make_unique<IstioMetrics>();
  impl.workloads = std::make_unique<WorkloadHost>(*impl.metrics);
  impl.mesh = std::make_unique<Mesh>(*impl.store, *impl.workloads);
  impl.workloads->SetServiceLookup(
      [mesh = impl.mesh.get()](const std::string& ns, const std::string& pod) {
        return mesh->ServiceOf(ns, pod);
      });
  ControllerOptions controller_options;
  controller_options.ready_delay = options.ready_delay;
  controller_options.job_duration = options.job_duration;
  controller_options.runtime = impl.workloads.get();
  impl.controllers = std::make_unique<ControllerManager>(*impl.store, controller_options);
  // One round now, so Pods that were Ready before a restart are served again before anyone can
  // read the kubeconfig or reach the gateway.
  impl.controllers->ReconcileOnce(std::chrono::steady_clock::now());
  impl.controllers->Start();

  if (!options.gateway_listen.empty()) {
    GatewayOptions gateway_options;
    gateway_options.listen = options.gateway_listen;
    gateway_options.threads = options.gateway_threads;
    auto gateway = Gateway::Start(gateway_options, *impl.mesh, *impl.metrics);
    if (!gateway.ok()) {
      impl.controllers->Stop();
      impl.workloads->StopAll();
      return gateway.error();
    }
    impl.gateway = std::move(gateway).value();
  }

  try {
    Poco::Net::ServerSocket socket;
    if (options.tls) {
      socket = Poco::Net::SecureServerSocket(address, 256, context);
    } else {
      socket = Poco::Net::ServerSocket(address, 256);
    }
    impl.port = socket.address().port();
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(options.threads);
    params->setMaxQueued(1024);
    params->setKeepAlive(true);
    params->setMaxKeepAliveRequests(0);  // unlimited
    params->setKeepAliveTimeout(Poco::Timespan(60, 0));
    params->setServerName("canaryctl-sandbox");
    impl.pool = std::make_unique<Poco::ThreadPool>(2, options.threads + 2);
    impl.http = std::make_unique<Poco::Net::HTTPServer>(new ServeFactory<Server::Impl>(impl),
                                                        *impl.pool, socket, params);
    impl.http->start();
  } catch (const Poco::Exception& e) {
    impl.controllers->Stop();
    if (impl.gateway) impl.gateway->Stop();
    impl.workloads->StopAll();
    return ApiError::Internal("cannot listen on " + options.listen + ": " + e.displayText());
  }

  if (!options.kubeconfig_path.empty()) {
    std::optional<KubeconfigTls> tls;
    if (impl.pki)
      tls = KubeconfigTls{impl.pki->ca_pem, impl.pki->client_cert_pem, impl.pki->client_key_pem};
    Status written = WriteKubeconfig(options.kubeconfig_path, impl.Url(), tls);
    if (!written.ok()) {
      server->Stop();
      return written.error();
    }
  }
  spdlog::info("serving on {} (data {}, {} threads)", impl.Url(), options.data_dir,
               options.threads);
  return server;
}

Server::~Server() { Stop(); }

uint16_t Server::port() const { return impl_->port; }

std::string Server::url() const { return impl_->Url(); }

uint16_t Server::gateway_port() const { return impl_->gateway ? impl_->gateway->port() : 0; }

std::string Server::gateway_url() const { return impl_->gateway ? impl_->gateway->url() : ""; }

void Server::Stop() {
  if (!impl_) return;
  Impl& impl = *impl_;
  {
    std::lock_guard<std::mutex> lock(impl.stop_mu);
    if (impl.stopped) return;
    impl.stopped = true;
    impl.stopping = true;
  }
  impl.stop_cv.notify_all();
  // No new workloads from here on. Then the gateway, the workloads and the API listener wind
  // down side by side: each Poco server takes up to a quarter second to notice, and a gateway
  // thread waiting for a slow workload returns once that workload stops.
  if (impl.controllers) impl.controllers->Stop();
  std::thread gateway_stopper([&impl] {
    if (impl.gateway) impl.gateway->Stop();
  });
  std::thread workloads_stopper([&impl] {
    if (impl.workloads) impl.workloads->StopAll();
  });
  if (impl.http) impl.http->stop();  // no new connections
  if (impl.api) impl.api->Shutdown();
  // Shuts down the open connections' sockets so idle keep-alive readers wake up.
  if (impl.http) impl.http->stopAll(true);
  if (impl.pool) impl.pool->joinAll();
  workloads_stopper.join();
  gateway_stopper.join();
  if (impl.http) spdlog::info("stopped");
}

}  // namespace sandbox

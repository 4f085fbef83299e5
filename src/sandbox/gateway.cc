#include "sandbox/gateway.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <random>
#include <set>
#include <unordered_map>
#include <vector>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>
#include <spdlog/spdlog.h>

#include "sandbox/pod_workloads.h"
#include "sandbox/serve_factory.h"

namespace sandbox {
namespace {

using Clock = std::chrono::steady_clock;
using Poco::Net::HTTPClientSession;
using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

constexpr char kGatewayWorkload[] = "istio-ingressgateway";
constexpr char kGatewayNamespace[] = "istio-system";
constexpr char kNoHealthyUpstream[] = "no healthy upstream";
constexpr char kConnectFailure[] =
    "upstream connect error or disconnect/reset before headers. reset reason: connection failure";
constexpr char kConnectionTermination[] =
    "upstream connect error or disconnect/reset before headers. reset reason: connection "
    "termination";
constexpr char kUpstreamTimeout[] = "upstream request timeout";

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool StartsWithNoCase(const std::string& s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1), and the ones the
// gateway sets itself.
bool Skipped(const std::string& lower_name) {
  static const std::set<std::string> kSkipped = {"connection",
                                                 "keep-alive",
                                                 "proxy-connection",
                                                 "proxy-authorization",
                                                 "proxy-authenticate",
                                                 "te",
                                                 "trailer",
                                                 "transfer-encoding",
                                                 "upgrade",
                                                 "content-length",
                                                 "expect"};
  return kSkipped.count(lower_name) > 0 || lower_name.rfind("x-sandbox-", 0) == 0;
}

uint64_t RandomBelow(uint64_t n) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng);
}

// Splits "host:port" / "[v6]:port" / "host".
void SplitAuthority(const std::string& authority, std::string& host, int& port) {
  host = authority;
  port = 0;
  size_t colon = std::string::npos;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close != std::string::npos) {
      host = authority.substr(1, close - 1);
      if (close + 1 < authority.size() && authority[close + 1] == ':') colon = close + 1;
    }
  } else {
    colon = authority.rfind(':');
    if (colon != std::string::npos) host = authority.substr(0, colon);
  }
  if (colon != std::string::npos) {
    try {
      port = std::stoi(authority.substr(colon + 1));
    } catch (const std::exception&) {
      port = 0;
    }
  }
  host = Lower(host);
}

struct Upstream {
  enum class Outcome { kOk, kConnectFailed, kTimeout, kReset } outcome = Outcome::kOk;
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

}  // namespace

struct Gateway::Impl {
  GatewayOptions options;
  Mesh* mesh = nullptr;
  IstioMetrics* metrics = nullptr;
  std::string host;
  uint16_t port = 0;
  std::unique_ptr<Poco::ThreadPool> pool;
  std::unique_ptr<Poco::Net::HTTPServer> http;
  std::mutex stop_mu;
  bool stopped = false;

  // Idle keep-alive connections to workloads, by port.
  std::mutex idle_mu;
  std::unordered_map<uint16_t, std::vector<std::unique_ptr<HTTPClientSession>>> idle;
  uint64_t idle_generation = 0;  // the snapshot generation idle was last pruned for

  void Serve(HTTPServerRequest& request, HTTPServerResponse& response);
  Upstream Forward(const MeshSnapshot& snapshot, uint16_t upstream_port, HTTPServerRequest& request,
                   const std::string& path, const std::string& authority,
                   const std::string& destination_service, const std::string& body,
                   std::chrono::milliseconds timeout);
  std::unique_ptr<HTTPClientSession> Take(const MeshSnapshot& snapshot, uint16_t port,
                                          bool& reused);
  void Give(uint16_t port, std::unique_ptr<HTTPClientSession> session);
};

namespace {

void SendText(HTTPServerResponse& response, int code, const std::string& text) {
  response.setStatusAndReason(static_cast<HTTPResponse::HTTPStatus>(code));
  response.set("server", "istio-envoy");
  if (!text.empty()) response.setContentType("text/plain");
  response.setContentLength(static_cast<std::streamsize>(text.size()));
  response.sendBuffer(text.data(), text.size());
}

}  // namespace

std::unique_ptr<HTTPClientSession> Gateway::Impl::Take(const MeshSnapshot& snapshot, uint16_t p,
                                                       bool& reused) {
  {
    std::lock_guard lock(idle_mu);
    if (idle_generation != snapshot.workloads_generation) {
      // Workloads came or went: drop the connections to ports no Pod serves any more.
      idle_generation = snapshot.workloads_generation;
      std::set<uint16_t> live;
      for (const MeshPod& pod : snapshot.pods) live.insert(pod.port);
      for (auto it = idle.begin(); it != idle.end();) {
        it = live.count(it->first) ? std::next(it) : idle.erase(it);
      }
    }
    auto it = idle.find(p);
    if (it != idle.end() && !it->second.empty()) {
      auto session = std::move(it->second.back());
      it->second.pop_back();
      reused = true;
      return session;
    }
  }
  reused = false;
  auto session = std::make_unique<HTTPClientSession>("127.0.0.1", p);
  session->setKeepAlive(true);
  // Shorter than the workloads' keep-alive (5 s), so a pooled connection is dropped here first.
  session->setKeepAliveTimeout(Poco::Timespan(2, 0));
  return session;
}

void Gateway::Impl::Give(uint16_t p, std::unique_ptr<HTTPClientSession> session) {
  std::lock_guard lock(idle_mu);
  auto& list = idle[p];
  if (list.size() < options.max_idle_per_upstream) list.push_back(std::move(session));
}

Upstream Gateway::Impl::Forward(const MeshSnapshot& snapshot, uint16_t upstream_port,
                                HTTPServerRequest& request, const std::string& path,
                                const std::string& authority,
                                const std::string& destination_service, const std::string& body,
                                std::chrono::milliseconds timeout) {
  Upstream result;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = false;
    std::unique_ptr<HTTPClientSession> session = Take(snapshot, upstream_port, reused);
    const auto to_timespan = [](std::chrono::milliseconds ms) {
      return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(ms.count()) * 1000);
    };
    session->setTimeout(to_timespan(options.connect_timeout), to_timespan(timeout),
                        to_timespan(timeout));
    Poco::Net::HTTPRequest out(request.getMethod(), path, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : request) {
      if (Skipped(Lower(name))) continue;
      out.add(name, value);
    }
    if (!authority.empty()) out.setHost(authority);
    const std::string client = request.clientAddress().host().toString();
    const std::string forwarded = request.get("X-Forwarded-For", "");
    out.set("X-Forwarded-For", forwarded.empty() ? client : forwarded + ", " + client);
    out.set("X-Forwarded-Proto", "http");
    out.set(kSourceWorkloadHeader, kGatewayWorkload);
    out.set(kSourceNamespaceHeader, kGatewayNamespace);
    out.set(kDestinationServiceHeader, destination_service);
    out.setKeepAlive(true);
    const std::string& method = request.getMethod();
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      out.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    bool sent = false;
    try {
      std::ostream& os = session->sendRequest(out);
      os.write(body.data(), static_cast<std::streamsize>(body.size()));
      os.flush();
      sent = true;
      HTTPResponse in;
      std::istream& is = session->receiveResponse(in);
      std::string text;
      Poco::StreamCopier::copyToString(is, text);
      result.outcome = Upstream::Outcome::kOk;
      result.status = static_cast<int>(in.getStatus());
      result.reason = in.getReason();
      result.headers.clear();
      for (const auto& [name, value] : in) {
        const std::string lower = Lower(name);
        if (Skipped(lower) || lower == "server" || lower == "date") continue;
        result.headers.emplace_back(name, value);
      }
      result.body = std::move(text);
      if (in.getKeepAlive() && session->connected()) Give(upstream_port, std::move(session));
      return result;
    } catch (const Poco::Net::ConnectionRefusedException&) {
      result.outcome = Upstream::Outcome::kConnectFailed;
      return result;
    } catch (const Poco::TimeoutException&) {
      result.outcome = sent ? Upstream::Outcome::kTimeout : Upstream::Outcome::kConnectFailed;
      if (sent) return result;
      if (!reused) return result;
    } catch (const Poco::Exception& e) {
      // A pooled connection the workload closed meanwhile: try once more on a fresh one.
      result.outcome = sent ? Upstream::Outcome::kReset : Upstream::Outcome::kConnectFailed;
      spdlog::debug("gateway: upstream 127.0.0.1:{} ({}): {}", upstream_port,
                    reused ? "reused connection" : "new connection", e.displayText());
      if (!reused) return result;
    }
  }
  return result;
}

void Gateway::Impl::Serve(HTTPServerRequest& request, HTTPServerResponse& response) {
  const auto start = Clock::now();
  RequestLabels labels;
  labels.reporter = "source";
  labels.source_workload = kGatewayWorkload;
  labels.source_workload_namespace = kGatewayNamespace;
  labels.response_flags = "-";
  auto record = [&](int code) {
    labels.response_code = code;
    metrics->Record(labels,
                    std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  };

  try {
    const std::string& method = request.getMethod();
    if (method == "CONNECT") {
      record(405);
      return SendText(response, 405, "CONNECT is not supported by the sandbox's gateway\n");
    }
    // Origin form ("/x?y", routed by Host) or absolute form ("http://host:port/x?y").
    std::string uri = request.getURI();
    std::string authority;
    std::string path = uri;
    for (std::string_view scheme : {"http://", "https://"}) {
      if (StartsWithNoCase(uri, scheme)) {
        const std::string rest = uri.substr(scheme.size());
        const size_t end = rest.find_first_of("/?#");
        authority = rest.substr(0, end);
        path = end == std::string::npos ? "/" : rest.substr(end);
        if (!path.empty() && path.front() != '/') path = "/" + path;
        break;
      }
    }
    if (authority.empty()) authority = request.getHost();
    if (const size_t hash = path.find('#'); hash != std::string::npos) path.resize(hash);

    MeshRequest r;
    r.method = method;
    SplitAuthority(authority, r.host, r.port);
    r.path = path;
    for (const auto& [name, value] : request) r.headers.emplace_back(Lower(name), value);

    const std::shared_ptr<const MeshSnapshot> snapshot = mesh->Current();
    const RouteChoice choice = RouteRequest(*snapshot, r, RandomBelow);
    if (!choice.found) {
      labels.response_flags = "NR";
      record(404);
      return SendText(response, 404, "");
    }
    labels.destination_service = choice.target.service;
    if (auto parsed = ParseClusterLocal(choice.target.service)) {
      labels.destination_service_name = parsed->first;
      labels.destination_service_namespace = parsed->second;
    }
    EndpointChoice endpoint;
    if (choice.zero_weights) {
      endpoint.response_flags = "UH";
    } else {
      endpoint = PickEndpoint(*snapshot, choice.target);
    }
    if (!endpoint.pod) {
      labels.response_flags = endpoint.response_flags;
      record(503);
      return SendText(response, 503, kNoHealthyUpstream);
    }

    std::string body;
    {
      std::istream& in = request.stream();
      char buffer[16384];
      while (in) {
        in.read(buffer, sizeof buffer);
        body.append(buffer, static_cast<size_t>(in.gcount()));
        if (body.size() > options.max_body_bytes) {
          record(413);
          response.setKeepAlive(false);
          return SendText(response, 413, "payload too large\n");
        }
      }
    }

    const std::chrono::milliseconds timeout = choice.timeout.value_or(options.default_timeout);
    const auto upstream_start = Clock::now();
    const MeshPod* pod = endpoint.pod;
    Upstream up = Forward(*snapshot, pod->port, request, path, authority, choice.target.service,
                          body, timeout);
    if (up.outcome == Upstream::Outcome::kConnectFailed) {
      // As Envoy's default retry policy does for connect failures: once more, another Pod.
      EndpointChoice again = PickEndpoint(*snapshot, choice.target);
      if (again.pod && again.pod != pod) {
        pod = again.pod;
        up = Forward(*snapshot, pod->port, request, path, authority, choice.target.service, body,
                     timeout);
      }
    }
    labels.destination_workload = pod->identity.workload;
    labels.destination_workload_namespace = pod->identity.ns;
    labels.destination_app = pod->identity.app;
    labels.destination_version = pod->identity.version;
    switch (up.outcome) {
      case Upstream::Outcome::kOk:
        break;
      case Upstream::Outcome::kConnectFailed:
        labels.response_flags = "UF";
        record(503);
        return SendText(response, 503, kConnectFailure);
      case Upstream::Outcome::kReset:
        labels.response_flags = "UC";
        record(503);
        return SendText(response, 503, kConnectionTermination);
      case Upstream::Outcome::kTimeout:
        labels.response_flags = "UT";
        record(504);
        return SendText(response, 504, kUpstreamTimeout);
    }
    const auto upstream_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - upstream_start);
    record(up.status);
    response.setStatusAndReason(static_cast<HTTPResponse::HTTPStatus>(up.status), up.reason);
    for (const auto& [name, value] : up.headers) response.add(name, value);
    response.set("x-envoy-upstream-service-time", std::to_string(upstream_ms.count()));
    response.set("server", "istio-envoy");
    response.setContentLength(static_cast<std::streamsize>(up.body.size()));
    response.sendBuffer(up.body.data(), up.body.size());
  } catch (const Poco::Exception& e) {
    spdlog::debug("gateway: {} {}: {}", request.getMethod(), request.getURI(), e.displayText());
    if (!response.sent()) {
      try {
        SendText(response, 500, "gateway error: " + e.displayText() + "\n");
      } catch (...) {
      }
    }
  } catch (const std::exception& e) {
    spdlog::warn("gateway: {} {}: {}", request.getMethod(), request.getURI(), e.what());
    if (!response.sent()) {
      try {
        SendText(response, 500, std::string("gateway error: ") + e.what() + "\n");
      } catch (...) {
      }
    }
  }
}

Result<std::unique_ptr<Gateway>> Gateway::Start(const GatewayOptions& options, Mesh& mesh,
                                                IstioMetrics& metrics) {
  if (options.threads < 1) return ApiError::BadRequest("gateway threads must be at least 1");
  std::unique_ptr<Gateway> gateway(new Gateway);
  gateway->impl_ = std::make_unique<Impl>();
  Impl& impl = *gateway->impl_;
  impl.options = options;
  impl.mesh = &mesh;
  impl.metrics = &metrics;
  Poco::Net::SocketAddress address;
  try {
    address = Poco::Net::SocketAddress(options.listen);
  } catch (const Poco::Exception& e) {
    return ApiError::BadRequest("bad --gateway " + options.listen + ": " + e.displayText());
  }
  impl.host = address.host().toString();
  if (address.host().isWildcard()) impl.host = "127.0.0.1";
  try {
    Poco::Net::ServerSocket socket(address, 1024);
    impl.port = socket.address().port();
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(options.threads);
    params->setMaxQueued(1024);
    params->setKeepAlive(true);
    params->setMaxKeepAliveRequests(0);
    params->setKeepAliveTimeout(Poco::Timespan(60, 0));
    params->setServerName("istio-envoy");
    impl.pool = std::make_unique<Poco::ThreadPool>(2, options.threads + 2);
    impl.http = std::make_unique<Poco::Net::HTTPServer>(new ServeFactory<Gateway::Impl>(impl),
                                                        *impl.pool, socket, params);
    impl.http->start();
  } catch (const Poco::Exception& e) {
    return ApiError::Internal("cannot listen on --gateway " + options.listen + ": " +
                              e.displayText());
  }
  spdlog::info("gateway on {} ({} threads)", gateway->url(), options.threads);
  return gateway;
}

Gateway::~Gateway() { Stop(); }

uint16_t Gateway::port() const { return impl_->port; }

std::string Gateway::url() const {
  return "http://" + impl_->host + ":" + std::to_string(impl_->port);
}

void Gateway::Stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->stop_mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  if (impl_->http) impl_->http->stopAll(true);
  if (impl_->pool) impl_->pool->joinAll();
  std::lock_guard lock(impl_->idle_mu);
  impl_->idle.clear();
}

}  // namespace sandbox

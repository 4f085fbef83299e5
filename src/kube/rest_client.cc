#include "kube/rest_client.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <thread>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/RejectCertificateHandler.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/NumberParser.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <spdlog/spdlog.h>

#ifndef CANARYCTL_VERSION
#define CANARYCTL_VERSION "0.0.0"
#endif

namespace canaryctl::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The TLS context for cluster, with the client certificate when cert_pem is not empty. The
// certificate and key go from memory straight into OpenSSL.
Result<Poco::Net::Context::Ptr> BuildContext(const ClusterConfig& cluster,
                                             const std::string& cert_pem,
                                             const std::string& key_pem,
                                             const std::string& cert_source) {
  Poco::Net::Context::Ptr context;
  try {
    Poco::Net::Context::Params params;
    params.verificationMode = cluster.insecure_skip_tls_verify ? Poco::Net::Context::VERIFY_NONE
                                                               : Poco::Net::Context::VERIFY_RELAXED;
    params.loadDefaultCAs = cluster.ca_pem.empty();
    params.cipherList = "HIGH:!aNULL:!MD5:!RC4";
    context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
    context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    // A bad certificate fails the request; never Poco's default (console) handler.
    context->setInvalidCertificateHandler(new Poco::Net::RejectCertificateHandler(false));
    if (cluster.insecure_skip_tls_verify) context->enableExtendedCertificateVerification(false);
  } catch (const Poco::Exception& e) {
    return ConfigError(cluster.source + ": cannot set up TLS: " + e.displayText());
  }
  SSL_CTX* ssl = context->sslContext();
  if (!cluster.ca_pem.empty()) {
    BioPtr bio = MemoryBio(cluster.ca_pem);
    X509_STORE* store = SSL_CTX_get_cert_store(ssl);
    int added = 0;
    while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      if (X509_STORE_add_cert(store, cert) == 1) ++added;
      X509_free(cert);
    }
    ERR_clear_error();
    if (added == 0) {
      return ConfigError(cluster.source + ": certificate-authority: no usable certificate in it");
    }
  }
  if (!cert_pem.empty()) {
    BioPtr cert_bio = MemoryBio(cert_pem);
    X509* cert = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr);
    if (cert == nullptr || SSL_CTX_use_certificate(ssl, cert) != 1) {
      if (cert != nullptr) X509_free(cert);
      ERR_clear_error();
      return ConfigError(cert_source + ": client-certificate: not a usable PEM certificate");
    }
    X509_free(cert);
    // The rest of the PEM, if any, is the chain to send along.
    while (X509* extra = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)) {
      if (SSL_CTX_add_extra_chain_cert(ssl, extra) != 1) X509_free(extra);
    }
    ERR_clear_error();
    BioPtr key_bio = MemoryBio(key_pem);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
    const bool used = key != nullptr && SSL_CTX_use_PrivateKey(ssl, key) == 1;
    if (key != nullptr) EVP_PKEY_free(key);
    if (!used) {
      ERR_clear_error();
      return ConfigError(cert_source + ": client-key: not a usable PEM private key");
    }
    if (SSL_CTX_check_private_key(ssl) != 1) {
      ERR_clear_error();
      return ConfigError(cert_source + ": client-key does not match client-certificate");
    }
  }
  return context;
}

std::optional<milliseconds> RetryAfter(const Response& response) {
  auto it = response.headers.find("retry-after");
  if (it == response.headers.end()) return std::nullopt;
  unsigned seconds = 0;
  if (!Poco::NumberParser::tryParseUnsigned(it->second, seconds)) return std::nullopt;
  return milliseconds(static_cast<int64_t>(seconds) * 1000);
}

void InitializeSslOnce() {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Net::initializeSSL(); });
}

}  // namespace

std::string DefaultUserAgent() { return std::string("canaryctl/") + CANARYCTL_VERSION; }

// The outcome of one try: a response, or an error and whether another try may help.
struct RestClient::Attempt {
  std::optional<Response> response;
  std::string error;
  bool retryable = false;  // for an error
  bool sent = false;       // the request may have reached the server
};

RestClient::RestClient(KubeConfig config, RestClientOptions options)
    : config_(std::move(config)), options_(std::move(options)), backoff_(options_.retry) {
  if (!options_.sleep) options_.sleep = [](milliseconds d) { std::this_thread::sleep_for(d); };
}

RestClient::~RestClient() = default;

Result<std::unique_ptr<RestClient>> RestClient::Create(const KubeConfig& config,
                                                       RestClientOptions options) {
  std::unique_ptr<RestClient> client(new RestClient(config, std::move(options)));
  try {
    Poco::URI uri(config.cluster.server);
    client->scheme_ = uri.getScheme();
    client->host_ = uri.getHost();
    client->port_ = uri.getPort();
    client->base_path_ = uri.getPath();
  } catch (const Poco::Exception& e) {
    return ConfigError(config.cluster.source + ".server: not a URL: " + e.displayText());
  }
  while (!client->base_path_.empty() && client->base_path_.back() == '/') {
    client->base_path_.pop_back();
  }
  if (client->scheme_ != "https" && client->scheme_ != "http") {
    return ConfigError(config.cluster.source + ".server: \"" + config.cluster.server +
                       "\" is neither http:// nor https://");
  }
  if (config.user.exec) {
    client->exec_ = std::make_unique<ExecCredentialProvider>(*config.user.exec, config.cluster,
                                                             client->options_.clock);
    // A plugin that cannot give a credential is a configuration error, found before any command
    // starts (and cached, so the first request does not run it again).
    if (auto credential = client->exec_->Get(); !credential.ok()) return credential.error();
  }
  if (client->scheme_ == "https") {
    InitializeSslOnce();
    if (config.cluster.insecure_skip_tls_verify) {
      spdlog::warn("{}: insecure-skip-tls-verify is set: the server's certificate is NOT verified",
                   config.cluster.source);
    }
  }
  // Checks the CA, certificate and key now, so a bad kubeconfig fails before any request.
  std::lock_guard<std::mutex> lock(client->mu_);
  Status connected =
      client->Connect(config.user.client_cert_pem, config.user.client_key_pem, config.user.source);
  if (!connected.ok()) return connected.error();
  return client;
}

int RestClient::last_attempts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_attempts_;
}

Status RestClient::Connect(const std::string& cert_pem, const std::string& key_pem,
                           const std::string& cert_source) {
  if (scheme_ == "http") {
    session_ = std::make_unique<Poco::Net::HTTPClientSession>(host_, port_);
  } else {
    if (!context_ || cert_pem != context_cert_pem_) {
      auto context = BuildContext(config_.cluster, cert_pem, key_pem, cert_source);
      if (!context.ok()) return context.error();
      context_ = context.value();
      context_cert_pem_ = cert_pem;
    }
    auto session = std::make_unique<Poco::Net::HTTPSClientSession>(host_, port_, context_);
    if (!config_.cluster.tls_server_name.empty()) {
      // The name checked against the server's certificate and sent as SNI.
      Poco::Net::SecureStreamSocket(session->socket())
          .setPeerHostName(config_.cluster.tls_server_name);
    }
    session_ = std::move(session);
  }
  session_->setKeepAlive(true);
  return Done{};
}

RestClient::Attempt RestClient::TryOnce(const Request& request, const std::string& token,
                                        milliseconds timeout) {
  Attempt attempt;
  Poco::URI target;
  target.setPath(base_path_ + request.path);
  for (const auto& [name, value] : request.query) target.addQueryParameter(name, value);
  Poco::Net::HTTPRequest http(request.method, target.getPathEtc(),
                              Poco::Net::HTTPMessage::HTTP_1_1);
  http.set("User-Agent", options_.user_agent);
  http.set("Accept", "application/json");
  if (!token.empty()) http.set("Authorization", "Bearer " + token);
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH") {
    http.setContentType(request.content_type.empty() ? "application/json" : request.content_type);
    http.setContentLength(static_cast<std::streamsize>(request.body.size()));
  }
  const Poco::Timespan span(static_cast<Poco::Timespan::TimeDiff>(timeout.count()) * 1000);
  session_->setTimeout(span, span, span);
  try {
    std::ostream& out = session_->sendRequest(http);
    attempt.sent = true;
    out << request.body;
    out.flush();
    Poco::Net::HTTPResponse http_response;
    std::istream& in = session_->receiveResponse(http_response);
    Response response;
    response.status = static_cast<int>(http_response.getStatus());
    for (const auto& [name, value] : http_response) {
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      response.headers[lower] = value;
    }
    Poco::StreamCopier::copyToString(in, response.body);
    if (!in.eof() && in.fail()) throw Poco::Net::NetException("response body cut short");
    attempt.response = std::move(response);
    return attempt;
  } catch (const Poco::Net::SSLConnectionUnexpectedlyClosedException& e) {
    attempt.error = e.displayText();
    attempt.retryable = true;
  } catch (const Poco::Net::SSLException& e) {
    // A certificate that does not verify, a refused client certificate: trying again cannot
    // help.
    attempt.error = "TLS: " + e.displayText();
    attempt.retryable = false;
    attempt.sent = false;
  } catch (const Poco::Net::ConnectionRefusedException& e) {
    attempt.error = e.displayText();
    attempt.retryable = true;
    attempt.sent = false;
  } catch (const Poco::Net::HostNotFoundException& e) {
    attempt.error = e.displayText();
    attempt.retryable = true;
    attempt.sent = false;
  } catch (const Poco::Exception& e) {
    attempt.error = e.displayText();
    attempt.retryable = true;
  } catch (const std::exception& e) {
    attempt.error = e.what();
    attempt.retryable = true;
  }
  // The connection is in an unknown state: the next try opens a fresh one.
  session_.reset();
  return attempt;
}

Result<Response> RestClient::Send(const Request& request) {
  std::lock_guard<std::mutex> lock(mu_);
  last_attempts_ = 0;
  const std::string what = request.method + " " + scheme_ + "://" + host_ + ":" +
                           std::to_string(port_) + base_path_ + request.path;
  if (request.method.empty() || request.path.empty() || request.path[0] != '/') {
    return ConfigError(what + ": a request needs a method and a path starting with '/'");
  }
  const RetryPolicy& policy = options_.retry;
  const auto deadline = steady_clock::now() + policy.deadline;
  bool reauthenticated = false;
  std::optional<Response> last_response;
  std::string last_error;
  std::string gave_up = std::to_string(policy.max_attempts) + " attempts made";
  for (int attempt = 1;; ++attempt) {
    std::string token = config_.user.token;
    std::string cert_pem = config_.user.client_cert_pem;
    std::string key_pem = config_.user.client_key_pem;
    if (exec_) {
      auto credential = exec_->Get();
      if (!credential.ok()) return credential.error();
      if (!credential.value().token.empty()) token = credential.value().token;
      if (!credential.value().client_cert_pem.empty()) {
        cert_pem = credential.value().client_cert_pem;
        key_pem = credential.value().client_key_pem;
      }
    }
    if (!session_ || (scheme_ == "https" && cert_pem != context_cert_pem_)) {
      Status connected = Connect(cert_pem, key_pem, config_.user.source + ".exec");
      if (!connected.ok()) return connected.error();
    }
    const auto remaining = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
    if (remaining.count() <= 0) {
      gave_up = "deadline of " + std::to_string(policy.deadline.count()) + " ms passed";
      break;
    }
    last_attempts_ = attempt;
    Attempt outcome = TryOnce(request, token, std::min(policy.attempt_timeout, remaining));
    std::optional<milliseconds> retry_after;
    if (outcome.response) {
      const int status = outcome.response->status;
      if (status == 401 && exec_ && !reauthenticated) {
        // The cached credential may have been revoked early: ask the plugin once more.
        reauthenticated = true;
        exec_->Invalidate();
        spdlog::debug("{} -> 401: running the exec plugin again", what);
        --attempt;
        continue;
      }
      if (!IsRetryableStatus(status)) return std::move(*outcome.response);
      retry_after = RetryAfter(*outcome.response);
      last_response = std::move(outcome.response);
      last_error.clear();
    } else {
      last_response.reset();
      last_error = outcome.error;
      if (!outcome.retryable) return ClusterError(what + ": " + outcome.error);
      if (outcome.sent && request.method == "POST" && !policy.retry_post_after_send) {
        return ClusterError(what + ": " + outcome.error +
                            " (not retried: the POST may have reached the server)");
      }
    }
    if (attempt >= policy.max_attempts) break;
    const milliseconds wait = backoff_.Next(attempt, retry_after);
    if (steady_clock::now() + wait >= deadline) {
      gave_up = "the next try (in " + std::to_string(wait.count()) +
                " ms) would pass the deadline of " + std::to_string(policy.deadline.count()) +
                " ms";
      break;
    }
    spdlog::debug("{} -> {}: retrying in {} ms (attempt {} of {})", what,
                  last_response ? std::to_string(last_response->status) : last_error, wait.count(),
                  attempt + 1, policy.max_attempts);
    options_.sleep(wait);
  }
  if (last_response) return std::move(*last_response);
  return ClusterError(what + ": " + (last_error.empty() ? "no attempt made" : last_error) +
                      " (gave up: " + gave_up + ")");
}

}  // namespace canaryctl::kube

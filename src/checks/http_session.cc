#include "checks/http_session.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Timespan.h>

namespace canaryctl::checks {

std::unique_ptr<Poco::Net::HTTPClientSession> OpenHttpSession(const Poco::URI& uri,
                                                              const HttpSessionOptions& options) {
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  if (uri.getScheme() == "https") {
    Poco::Net::Context::Params params;
    // STRICT, not RELAXED: Poco skips the host name check for "localhost" unless strict, and
    // a port-forward to localhost is exactly where a wrong certificate must not pass.
    params.verificationMode =
        options.insecure ? Poco::Net::Context::VERIFY_NONE : Poco::Net::Context::VERIFY_STRICT;
    params.loadDefaultCAs = true;
    params.caLocation = options.ca_file;
    Poco::Net::Context::Ptr context =
        new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
    // Host name verification stays on unless explicitly insecure.
    context->enableExtendedCertificateVerification(!options.insecure);
    session =
        std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), context);
  } else {
    session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
  }
  if (options.proxy) {
    session->setProxy(options.proxy->host, static_cast<Poco::UInt16>(options.proxy->port));
    if (!options.proxy->username.empty()) {
      session->setProxyCredentials(options.proxy->username, options.proxy->password);
    }
  }
  session->setTimeout(Poco::Timespan(options.timeout.count() * 1000));
  return session;
}

}  // namespace canaryctl::checks

// Opening an HTTP(S) client session the way every outbound request of canaryctl does (checks,
// Prometheus queries): TLS verified strictly against the system CAs plus an optional CA file
// unless insecure, through an optional HTTP proxy (HTTPS via CONNECT), with one timeout for
// connecting, sending and receiving.
#pragma once

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/URI.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "checks/http_check.h"

namespace canaryctl::checks {

struct HttpSessionOptions {
  std::chrono::milliseconds timeout{10000};
  bool insecure = false;  // skip TLS verification, host name included
  std::string ca_file;    // extra CA bundle (PEM); empty: system CAs only
  std::optional<HttpProxy> proxy;
};

// uri's scheme must be http or https (https: an HTTPSClientSession). Throws Poco exceptions
// (e.g. an unreadable CA file), as the session's own calls do.
std::unique_ptr<Poco::Net::HTTPClientSession> OpenHttpSession(const Poco::URI& uri,
                                                              const HttpSessionOptions& options);

}  // namespace canaryctl::checks

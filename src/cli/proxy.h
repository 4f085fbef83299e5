// Which HTTP proxy a check's request goes through, from the environment, as curl decides it
// (shared/DESIGN.md §9: the sandbox's gateway is reached as a proxy for *.svc.cluster.local).
//
// Variables: http:// URLs use http_proxy, then HTTP_PROXY (curl ignores the upper-case one for
// CGI's sake; a CI job has no such concern); https:// URLs use https_proxy, then HTTPS_PROXY;
// both fall back to all_proxy, then ALL_PROXY. Empty values count as unset. no_proxy (then
// NO_PROXY) is a comma-separated list: "*" matches every host; otherwise an entry (leading dot
// and ":port" ignored, case-insensitive) matches the host itself and its subdomains.
// The proxy's URL may omit the scheme (http assumed) and the port (1080, as curl); user info
// becomes the proxy credentials. Only http:// proxies are supported: another scheme is a kConfig
// error naming the variable (never its credentials).
#pragma once

#include <optional>
#include <string>

#include "checks/http_check.h"
#include "common/result.h"
#include "config/rollout_spec.h"

namespace canaryctl::cli {

// nullopt: connect directly.
Result<std::optional<checks::HttpProxy>> ProxyFor(const std::string& url,
                                                  const config::Environment& env);

}  // namespace canaryctl::cli

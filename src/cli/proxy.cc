#include "cli/proxy.h"

#include <Poco/Exception.h>
#include <Poco/String.h>
#include <Poco/StringTokenizer.h>
#include <Poco/URI.h>

#include <algorithm>
#include <initializer_list>
#include <utility>

namespace canaryctl::cli {

namespace {

constexpr unsigned short kDefaultProxyPort = 1080;

// The first of `names` set to a non-empty value: {name, value}, or nullopt.
std::optional<std::pair<std::string, std::string>> FirstSet(
    const config::Environment& env, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    auto it = env.find(name);
    if (it != env.end() && !it->second.empty()) return std::make_pair(it->first, it->second);
  }
  return std::nullopt;
}

bool Bypassed(const std::string& host, const std::string& no_proxy) {
  const std::string h = Poco::toLower(host);
  Poco::StringTokenizer entries(
      no_proxy, ",", Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
  for (std::string entry : entries) {
    if (entry == "*") return true;
    entry = Poco::toLower(entry);
    // "[::1]:8080" and "host:8080": the port plays no part.
    if (entry.front() == '[') {
      size_t close = entry.find(']');
      entry = entry.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
      entry.resize(entry.find(':'));
    }
    while (!entry.empty() && entry.front() == '.') entry.erase(0, 1);
    if (entry.empty()) continue;
    if (h == entry) return true;
    if (h.size() > entry.size() && h.compare(h.size() - entry.size(), entry.size(), entry) == 0 &&
        h[h.size() - entry.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<std::optional<checks::HttpProxy>> ProxyFor(const std::string& url,
                                                  const config::Environment& env) {
  Poco::URI target;
  try {
    target = Poco::URI(url);
  } catch (const Poco::Exception&) {
    return std::optional<checks::HttpProxy>();  // the check itself reports the bad URL
  }
  const std::string scheme = Poco::toLower(target.getScheme());
  std::optional<std::pair<std::string, std::string>> proxy;
  if (scheme == "http") {
    proxy = FirstSet(env, {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"});
  } else if (scheme == "https") {
    proxy = FirstSet(env, {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"});
  }
  if (!proxy) return std::optional<checks::HttpProxy>();
  if (auto no_proxy = FirstSet(env, {"no_proxy", "NO_PROXY"});
      no_proxy && Bypassed(target.getHost(), no_proxy->second)) {
    return std::optional<checks::HttpProxy>();
  }

  const auto& [name, value] = *proxy;
  std::string text = value.find("://") == std::string::npos ? "http://" + value : value;
  Poco::URI uri;
  try {
    uri = Poco::URI(text);
  } catch (const Poco::Exception&) {
    return ConfigError(name + ": not a proxy URL");
  }
  if (Poco::toLower(uri.getScheme()) != "http") {
    return ConfigError(name + ": only http:// proxies are supported, not " + uri.getScheme() +
                       "://");
  }
  if (uri.getHost().empty()) return ConfigError(name + ": the proxy URL has no host");
  checks::HttpProxy result;
  result.host = uri.getHost();
  result.port = uri.getSpecifiedPort() != 0 ? uri.getSpecifiedPort() : kDefaultProxyPort;
  const std::string& info = uri.getUserInfo();
  auto colon = info.find(':');
  std::string user = info.substr(0, colon);
  std::string password = colon == std::string::npos ? "" : info.substr(colon + 1);
  Poco::URI::decode(user, result.username);
  Poco::URI::decode(password, result.password);
  return std::optional<checks::HttpProxy>(result);
}

}  // namespace canaryctl::cli

#include "cli/proxy.h"

#include <gtest/gtest.h>

namespace canaryctl::cli {
namespace {

std::optional<checks::HttpProxy> Must(const std::string& url, const config::Environment& env) {
  auto proxy = ProxyFor(url, env);
  EXPECT_TRUE(proxy.ok()) << (proxy.ok() ? "" : proxy.error().message);
  return proxy.ok() ? proxy.value() : std::nullopt;
}

TEST(ProxyFor, NoVariablesMeansDirect) {
  EXPECT_FALSE(Must("http://flaskapp.stage.svc.cluster.local/health", {}));
  EXPECT_FALSE(Must("http://flaskapp.stage.svc.cluster.local/health", {{"HTTP_PROXY", ""}}));
}

TEST(ProxyFor, HttpUsesHttpProxy) {
  auto p = Must("http://flaskapp.stage.svc.cluster.local/health",
                {{"HTTP_PROXY", "http://127.0.0.1:18080"}});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->host, "127.0.0.1");
  EXPECT_EQ(p->port, 18080);
  EXPECT_EQ(p->username, "");
}

TEST(ProxyFor, LowerCaseWinsAndSchemeSelects) {
  config::Environment env = {
      {"http_proxy", "lower:1111"}, {"HTTP_PROXY", "upper:2222"}, {"HTTPS_PROXY", "secure:3333"}};
  auto http = Must("http://a.example/", env);
  ASSERT_TRUE(http);
  EXPECT_EQ(http->host, "lower");
  EXPECT_EQ(http->port, 1111);
  auto https = Must("https://a.example/", env);
  ASSERT_TRUE(https);
  EXPECT_EQ(https->host, "secure");
  EXPECT_EQ(https->port, 3333);
}

TEST(ProxyFor, AllProxyFallbackAndDefaultPort) {
  auto p = Must("https://a.example/", {{"ALL_PROXY", "http://proxy.corp"}});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->host, "proxy.corp");
  EXPECT_EQ(p->port, 1080);
}

TEST(ProxyFor, Credentials) {
  auto p = Must("http://a.example/", {{"HTTP_PROXY", "http://bob:p%40ss%3Aword@proxy:3128"}});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->username, "bob");
  EXPECT_EQ(p->password, "p@ss:word");
  EXPECT_EQ(p->port, 3128);
}

TEST(ProxyFor, NoProxy) {
  config::Environment env = {{"HTTP_PROXY", "proxy:3128"},
                             {"NO_PROXY", "localhost, .internal.example ,10.0.0.1,svc:8080"}};
  EXPECT_FALSE(Must("http://localhost:8080/", env));
  EXPECT_FALSE(Must("http://internal.example/", env));
  EXPECT_FALSE(Must("http://api.internal.example/", env));
  EXPECT_FALSE(Must("http://10.0.0.1/", env));
  EXPECT_FALSE(Must("http://SVC/", env));
  EXPECT_TRUE(Must("http://notinternal.example/", env));
  EXPECT_TRUE(Must("http://flaskapp.stage.svc.cluster.local/", env));
  EXPECT_FALSE(Must("http://anything/", {{"HTTP_PROXY", "proxy:3128"}, {"no_proxy", "*"}}));
}

TEST(ProxyFor, UnsupportedSchemeIsAConfigErrorWithoutCredentials) {
  auto p = ProxyFor("http://a.example/", {{"ALL_PROXY", "socks5://user:topsecret@proxy:1080"}});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().kind, ErrorKind::kConfig);
  EXPECT_NE(p.error().message.find("ALL_PROXY"), std::string::npos);
  EXPECT_EQ(p.error().message.find("topsecret"), std::string::npos);
}

}  // namespace
}  // namespace canaryctl::cli

#include "kube/rest_client.h"

#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/api.h"
#include "test_support.h"

namespace canaryctl::kube {
namespace {

using std::chrono::milliseconds;
using testing::Answer;
using ::testing::HasSubstr;
using testing::ScriptedServer;
using testing::TempDir;

KubeConfig ConfigFor(const std::string& server, const std::string& token = "") {
  KubeConfig config;
  config.cluster.server = server;
  config.cluster.source = "/k: clusters[0].cluster";
  config.user.token = token;
  config.user.source = "/k: users[0].user";
  return config;
}

// Fast, deterministic retries; the waits are recorded instead of slept when `waits` is given.
RestClientOptions FastOptions(std::vector<milliseconds>* waits = nullptr) {
  RestClientOptions options;
  options.retry.max_attempts = 5;
  options.retry.initial_backoff = milliseconds(4);
  options.retry.max_backoff = milliseconds(20);
  options.retry.deadline = milliseconds(20000);
  options.retry.seed = 42;
  if (waits != nullptr) options.sleep = [waits](milliseconds wait) { waits->push_back(wait); };
  return options;
}

std::unique_ptr<RestClient> MakeClient(const KubeConfig& config, RestClientOptions options) {
  auto client = RestClient::Create(config, std::move(options));
  EXPECT_TRUE(client.ok()) << client.error().message;
  return client.ok() ? std::move(client).value() : nullptr;
}

Request Get(const std::string& path) {
  Request request;
  request.method = "GET";
  request.path = path;
  return request;
}

TEST(RestClientTest, SendsTokenUserAgentQueryAndBody) {
  ScriptedServer server({}, Answer{201, "{\"ok\":true}"});
  auto client = MakeClient(ConfigFor(server.url() + "/prefix/", "s3cr3t"), FastOptions());
  Request request;
  request.method = "PATCH";
  request.path = "/api/v1/namespaces/prod/configmaps/x";
  request.query = {{"fieldManager", "canaryctl"}, {"labelSelector", "app=a,b in (c)"}};
  request.body = "{\"data\":{}}";
  request.content_type = "application/merge-patch+json";
  auto response = client->Send(request);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response.value().status, 201);
  EXPECT_EQ(response.value().body, "{\"ok\":true}");
  EXPECT_EQ(response.value().headers.at("content-type"), "application/json");
  ASSERT_EQ(server.requests(), 1);
  const auto got = server.received()[0];
  EXPECT_EQ(got.method, "PATCH");
  EXPECT_EQ(got.uri.substr(0, got.uri.find('?')), "/prefix/api/v1/namespaces/prod/configmaps/x");
  EXPECT_THAT(got.uri, HasSubstr("fieldManager=canaryctl"));
  EXPECT_THAT(got.uri, HasSubstr("labelSelector=app%3Da%2Cb%20in%20%28c%29"));
  EXPECT_EQ(got.body, request.body);
  EXPECT_EQ(got.content_type, "application/merge-patch+json");
  EXPECT_EQ(got.authorization, "Bearer s3cr3t");
  EXPECT_EQ(got.user_agent, DefaultUserAgent());
  EXPECT_THAT(got.user_agent, ::testing::StartsWith("canaryctl/"));
}

TEST(RestClientTest, RetriesServerErrorsThenSucceeds) {
  ScriptedServer server({{503}, {500}, {502}, {504}}, Answer{200, "{\"n\":1}"});
  std::vector<milliseconds> waits;
  auto client = MakeClient(ConfigFor(server.url()), FastOptions(&waits));
  auto response = client->Send(Get("/api"));
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response.value().status, 200);
  EXPECT_EQ(server.requests(), 5);
  EXPECT_EQ(client->last_attempts(), 5);
  ASSERT_EQ(waits.size(), 4u);
  // Full jitter: each wait is within [0, min(max, initial * 2^(n-1))].
  const int64_t caps[] = {4, 8, 16, 20};
  for (size_t i = 0; i < waits.size(); ++i) EXPECT_LE(waits[i].count(), caps[i]) << i;
}

TEST(RestClientTest, GivesUpAfterMaxAttemptsWithTheLastResponse) {
  ScriptedServer server({}, Answer{503, "{\"kind\":\"Status\",\"message\":\"busy\"}"});
  auto options = FastOptions();
  options.retry.max_attempts = 3;
  auto client = MakeClient(ConfigFor(server.url()), options);
  auto response = client->Send(Get("/api"));
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response.value().status, 503);
  EXPECT_EQ(server.requests(), 3);
}

TEST(RestClientTest, ClientErrorsAreNotRetried) {
  for (int status : {400, 401, 403, 404, 409, 422}) {
    ScriptedServer server({}, Answer{status, "{}"});
    auto client = MakeClient(ConfigFor(server.url()), FastOptions());
    auto response = client->Send(Get("/api"));
    ASSERT_TRUE(response.ok()) << response.error().message;
    EXPECT_EQ(response.value().status, status);
    EXPECT_EQ(server.requests(), 1) << status;
  }
}

TEST(RestClientTest, TooManyRequestsHonoursRetryAfter) {
  ScriptedServer server({{429, "{}", "2"}, {429, "{}", "1"}}, Answer{200});
  std::vector<milliseconds> waits;
  auto client = MakeClient(ConfigFor(server.url()), FastOptions(&waits));
  auto response = client->Send(Get("/api"));
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response.value().status, 200);
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(waits, (std::vector<milliseconds>{milliseconds(2000), milliseconds(1000)}));
}

TEST(RestClientTest, RetryAfterBeyondTheDeadlineStopsWithThe429) {
  ScriptedServer server({}, Answer{429, "{}", "60"});
  std::vector<milliseconds> waits;
  auto options = FastOptions(&waits);
  options.retry.deadline = milliseconds(5000);
  auto client = MakeClient(ConfigFor(server.url()), options);
  auto response = client->Send(Get("/api"));
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response.value().status, 429);
  EXPECT_EQ(server.requests(), 1);
  EXPECT_TRUE(waits.empty());
}

TEST(RestClientTest, DroppedConnectionsAreRetried) {
  ScriptedServer server({Answer{0, "", "", true}, Answer{0, "", "", true}}, Answer{200, "{}"});
  auto client = MakeClient(ConfigFor(server.url()), FastOptions());
  auto response = client->Send(Get("/api"));
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response.value().status, 200);
  EXPECT_EQ(server.requests(), 3);
}

TEST(RestClientTest, PostIsNotRetriedAfterSendWhenThePolicySaysSo) {
  Request post;
  post.method = "POST";
  post.path = "/api/v1/namespaces/prod/configmaps";
  post.body = "{}";
  {
    ScriptedServer server({Answer{0, "", "", true}}, Answer{201, "{}"});
    auto options = FastOptions();
    options.retry.retry_post_after_send = false;
    auto client = MakeClient(ConfigFor(server.url()), options);
    auto response = client->Send(post);
    ASSERT_FALSE(response.ok());
    EXPECT_EQ(response.error().kind, ErrorKind::kCluster);
    EXPECT_THAT(response.error().message, HasSubstr("not retried"));
    EXPECT_EQ(server.requests(), 1);
  }
  {
    ScriptedServer server({Answer{0, "", "", true}}, Answer{201, "{}"});
    auto client = MakeClient(ConfigFor(server.url()), FastOptions());
    auto response = client->Send(post);
    ASSERT_TRUE(response.ok()) << response.error().message;
    EXPECT_EQ(response.value().status, 201);
    EXPECT_EQ(server.requests(), 2) << "by default a POST is retried (409 on a repeat is handled)";
  }
}

TEST(RestClientTest, ConnectionRefusedEndsInAClusterErrorWithinTheDeadline) {
  uint16_t port = 0;
  {
    ScriptedServer server({});
    port = static_cast<uint16_t>(std::stoi(server.url().substr(server.url().rfind(':') + 1)));
  }
  auto options = FastOptions();
  options.retry.max_attempts = 1000;
  options.retry.deadline = milliseconds(300);
  auto client =
      MakeClient(ConfigFor("http://127.0.0.1:" + std::to_string(port), "tok-secret"), options);
  auto response = client->Send(Get("/api"));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().kind, ErrorKind::kCluster);
  EXPECT_THAT(response.error().message, HasSubstr("GET http://127.0.0.1:"));
  EXPECT_THAT(response.error().message, HasSubstr("deadline"));
  EXPECT_EQ(response.error().message.find("tok-secret"), std::string::npos);
  EXPECT_GT(client->last_attempts(), 1);
  EXPECT_LT(client->last_attempts(), 1000) << "the deadline, not the attempt count, ended it";
}

TEST(RestClientTest, KeepAliveReusesOneConnectionAcrossRequests) {
  ScriptedServer server({}, Answer{200, "{}"});
  auto client = MakeClient(ConfigFor(server.url()), FastOptions());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->Send(Get("/api")).ok());
  EXPECT_EQ(server.requests(), 3);
}

TEST(RestClientTest, BadPemInTheConfigIsAConfigErrorNamingTheKeyNotTheKey) {
  KubeConfig config = ConfigFor("https://127.0.0.1:1");
  config.user.client_cert_pem =
      "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
  config.user.client_key_pem =
      "-----BEGIN PRIVATE KEY-----\nU0VDUkVUS0VZ\n-----END PRIVATE KEY-----\n";
  auto client = RestClient::Create(config, FastOptions());
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().kind, ErrorKind::kConfig);
  EXPECT_THAT(client.error().message, HasSubstr("/k: users[0].user: client-certificate"));
  EXPECT_EQ(client.error().message.find("U0VDUkVUS0VZ"), std::string::npos);

  KubeConfig bad_ca = ConfigFor("https://127.0.0.1:1");
  bad_ca.cluster.ca_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  auto ca_client = RestClient::Create(bad_ca, FastOptions());
  ASSERT_FALSE(ca_client.ok());
  EXPECT_THAT(ca_client.error().message,
              HasSubstr("/k: clusters[0].cluster: certificate-authority"));
}

TEST(RestClientTest, ExecPluginTokenIsSentAndRefreshedOnceAfter401) {
  TempDir dir;
  // Each run prints a token numbered by how many times it ran.
  auto plugin = dir.Write(
      "plugin.sh", "#!/bin/sh\necho x >> \"" + dir.path() + "/runs\"\nn=$(wc -l < \"" + dir.path() +
                       "/runs\" | tr -d ' ')\n"
                       "echo \"{\\\"apiVersion\\\":\\\"client.authentication.k8s.io/v1\\\","
                       "\\\"kind\\\":\\\"ExecCredential\\\",\\\"status\\\":{\\\"token\\\":"
                       "\\\"exec-$n\\\"}}\"\n");
  ::chmod(plugin.c_str(), 0700);
  ScriptedServer server({Answer{200}, Answer{401}}, Answer{200});
  KubeConfig config = ConfigFor(server.url());
  ExecConfig exec;
  exec.api_version = "client.authentication.k8s.io/v1";
  exec.command = plugin;
  exec.source = "/k: users[0].user.exec";
  config.user.exec = exec;
  auto client = MakeClient(config, FastOptions());
  ASSERT_EQ(client->Send(Get("/a")).value().status, 200);
  ASSERT_EQ(client->Send(Get("/b")).value().status, 200);
  const auto got = server.received();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].authorization, "Bearer exec-1");
  EXPECT_EQ(got[1].authorization, "Bearer exec-1") << "cached between requests";
  EXPECT_EQ(got[2].authorization, "Bearer exec-2") << "re-run after the 401";
}

TEST(ApiTest, StatusBodyBecomesTheMessage) {
  Response response;
  response.status = 404;
  response.body =
      R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"virtualservices.networking.istio.io \"demoapp\" not found","reason":"NotFound","code":404})";
  EXPECT_EQ(ApiStatusMessage(response),
            "virtualservices.networking.istio.io \"demoapp\" not found (404)");
  Request request = Get("/apis/networking.istio.io/v1/namespaces/p/virtualservices/demoapp");
  Error error = ApiStatusError(request, response);
  EXPECT_EQ(error.kind, ErrorKind::kCluster);
  EXPECT_EQ(error.message, "GET " + request.path + ": " + ApiStatusMessage(response));

  Response plain;
  plain.status = 502;
  plain.body = "<html>bad gateway</html>";
  EXPECT_EQ(ApiStatusMessage(plain), "HTTP 502: <html>bad gateway</html>");
}

TEST(ApiTest, GetJsonReturnsTheObjectOrTheApiError) {
  ScriptedServer server(
      {Answer{200, "{\"kind\":\"Namespace\"}"},
       Answer{404, R"({"kind":"Status","message":"namespaces \"x\" not found","code":404})"},
       Answer{200, "[1,2]"}});
  auto client = MakeClient(ConfigFor(server.url()), FastOptions());
  auto ok = GetJson(*client, "/api/v1/namespaces/default");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok.value()->getValue<std::string>("kind"), "Namespace");
  auto missing = GetJson(*client, "/api/v1/namespaces/x");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "GET /api/v1/namespaces/x: namespaces \"x\" not found (404)");
  auto array = GetJson(*client, "/api/v1/namespaces/y");
  ASSERT_FALSE(array.ok());
  EXPECT_THAT(array.error().message, HasSubstr("not a JSON object"));
}

}  // namespace
}  // namespace canaryctl::kube

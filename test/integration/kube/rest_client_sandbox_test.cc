// kube::RestClient against canaryctl-sandbox: plain HTTP, TLS with the client certificate from
// the kubeconfig the sandbox writes, a wrong CA, a bearer token (--token), and retries through
// the sandbox's fault rules.
#include <csignal>
#include <filesystem>
#include <thread>

#include <Poco/Pipe.h>
#include <Poco/Process.h>
#include <gmock/gmock.h>

#include "kube/api.h"
#include "kube/kubeconfig.h"
#include "kube/rest_client.h"
#include "sandbox_fixture.h"

namespace canaryctl::integration {
namespace {

using kube::KubeConfig;
using kube::RestClient;
using ::testing::HasSubstr;

kube::RestClientOptions Options() {
  kube::RestClientOptions options;
  options.retry.initial_backoff = std::chrono::milliseconds(20);
  options.retry.max_backoff = std::chrono::milliseconds(200);
  options.retry.deadline = std::chrono::milliseconds(20000);
  options.retry.seed = 7;
  return options;
}

KubeConfig LoadOrFail(const std::string& kubeconfig) {
  auto config = kube::LoadKubeconfig({kubeconfig});
  EXPECT_TRUE(config.ok()) << config.error().message;
  return config.ok() ? config.value() : KubeConfig{};
}

std::unique_ptr<RestClient> ClientOrFail(const KubeConfig& config,
                                         kube::RestClientOptions options = Options()) {
  auto client = RestClient::Create(config, std::move(options));
  EXPECT_TRUE(client.ok()) << client.error().message;
  return client.ok() ? std::move(client).value() : nullptr;
}

kube::Request Get(const std::string& path) {
  kube::Request request;
  request.method = "GET";
  request.path = path;
  return request;
}

TEST(KubeRestClientSandboxTest, PlainHttpCreateGetAndNotFound) {
  Sandbox sandbox;
  ASSERT_TRUE(sandbox.Start());
  auto client = ClientOrFail(LoadOrFail(sandbox.kubeconfig()));
  ASSERT_TRUE(client);

  auto version = kube::GetJson(*client, "/version");
  ASSERT_TRUE(version.ok()) << version.error().message;
  EXPECT_TRUE(version.value()->has("gitVersion"));

  kube::Request create;
  create.method = "POST";
  create.path = "/api/v1/namespaces/default/configmaps";
  create.body = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kube-it"},)"
                R"("data":{"k":"v"}})";
  auto created = client->Send(create);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created.value().status, 201) << created.value().body;

  auto read = kube::GetJson(*client, "/api/v1/namespaces/default/configmaps/kube-it");
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read.value()->getObject("data")->getValue<std::string>("k"), "v");

  // The same create again: 409, returned as a response, not retried.
  auto again = client->Send(create);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again.value().status, 409);
  EXPECT_EQ(client->last_attempts(), 1);

  auto missing = kube::GetJson(*client, "/api/v1/namespaces/default/configmaps/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message,
            "GET /api/v1/namespaces/default/configmaps/nope: configmaps \"nope\" not found (404)");
}

TEST(KubeRestClientSandboxTest, TlsWithTheKubeconfigClientCertificate) {
  Sandbox sandbox(SandboxOptions{.tls = true});
  ASSERT_TRUE(sandbox.Start());
  KubeConfig config = LoadOrFail(sandbox.kubeconfig());
  ASSERT_THAT(config.cluster.server, ::testing::StartsWith("https://"));
  ASSERT_FALSE(config.user.client_cert_pem.empty());
  auto client = ClientOrFail(config);
  ASSERT_TRUE(client);
  auto version = kube::GetJson(*client, "/version");
  ASSERT_TRUE(version.ok()) << version.error().message;

  // The server's certificate names localhost: that works as tls-server-name, another does not.
  KubeConfig named = config;
  named.cluster.tls_server_name = "localhost";
  auto named_client = ClientOrFail(named);
  ASSERT_TRUE(named_client);
  EXPECT_TRUE(named_client->Send(Get("/version")).ok());
  KubeConfig misnamed = config;
  misnamed.cluster.tls_server_name = "wrong.example";
  auto misnamed_client = ClientOrFail(misnamed);
  ASSERT_TRUE(misnamed_client);
  auto refused = misnamed_client->Send(Get("/version"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kCluster);
  EXPECT_THAT(refused.error().message, HasSubstr("TLS")) << refused.error().message;
  EXPECT_EQ(misnamed_client->last_attempts(), 1);

  // Without the client certificate, the sandbox answers 401.
  KubeConfig anonymous = config;
  anonymous.user = {};
  auto anonymous_client = ClientOrFail(anonymous);
  ASSERT_TRUE(anonymous_client);
  auto unauthorized = anonymous_client->Send(Get("/version"));
  ASSERT_TRUE(unauthorized.ok()) << unauthorized.error().message;
  EXPECT_EQ(unauthorized.value().status, 401);
}

TEST(KubeRestClientSandboxTest, WrongCaIsRefusedAndNotRetried) {
  Sandbox sandbox(SandboxOptions{.tls = true});
  Sandbox other(SandboxOptions{.tls = true});
  ASSERT_TRUE(sandbox.Start());
  ASSERT_TRUE(other.Start());
  KubeConfig config = LoadOrFail(sandbox.kubeconfig());
  config.cluster.ca_pem = LoadOrFail(other.kubeconfig()).cluster.ca_pem;
  ASSERT_FALSE(config.cluster.ca_pem.empty());
  auto client = ClientOrFail(config);
  ASSERT_TRUE(client);
  auto response = client->Send(Get("/version"));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().kind, ErrorKind::kCluster);
  EXPECT_THAT(response.error().message, HasSubstr("TLS"));
  EXPECT_EQ(client->last_attempts(), 1) << "a certificate that does not verify is final";
  EXPECT_EQ(response.error().message.find("PRIVATE KEY"), std::string::npos);

  // insecure-skip-tls-verify accepts it, and only because it is set.
  config.cluster.ca_pem.clear();
  config.cluster.insecure_skip_tls_verify = true;
  auto insecure = ClientOrFail(config);
  ASSERT_TRUE(insecure);
  auto accepted = insecure->Send(Get("/version"));
  ASSERT_TRUE(accepted.ok()) << accepted.error().message;
  EXPECT_EQ(accepted.value().status, 200);
}

// A sandbox started with --token, which the fixture does not offer.
class TokenSandbox {
 public:
  TokenSandbox(const std::string& token, bool tls) {
    kubeconfig_ = dir_.path() + "/kubeconfig";
    std::vector<std::string> args = {
        "serve",        "--listen",  "127.0.0.1:0", "--data", dir_.path() + "/data",
        "--kubeconfig", kubeconfig_, "--token",     token};
    if (tls) args.push_back("--tls");
    // Through setpriv (util-linux) the server gets SIGKILL if this test process dies first.
    std::string exe = SandboxBinary();
    if (std::filesystem::exists("/usr/bin/setpriv")) {
      args.insert(args.begin(), {"--pdeathsig", "KILL", "--", exe});
      exe = "/usr/bin/setpriv";
    }
    Poco::Pipe in;
    Poco::Pipe out;
    Poco::Pipe err;
    process_.emplace(Poco::Process::launch(exe, args, dir_.path(), &in, &out, &err,
                                           std::map<std::string, std::string>{}));
    in.close();
    for (Poco::Pipe pipe : {out, err}) {
      readers_.emplace_back([pipe]() mutable {
        char buf[4096];
        try {
          while (pipe.readBytes(buf, sizeof buf) > 0) {
          }
        } catch (const Poco::Exception&) {
        }
      });
    }
  }
  ~TokenSandbox() {
    if (process_) {
      Poco::Process::requestTermination(process_->id());
      process_->wait();
    }
    for (auto& reader : readers_) reader.join();
  }
  bool WaitReady() {
    return WaitFor([&] { return std::filesystem::exists(kubeconfig_); }, 20s);
  }
  const std::string& kubeconfig() const { return kubeconfig_; }

 private:
  TempDir dir_{"kube-token"};
  std::string kubeconfig_;
  std::optional<Poco::ProcessHandle> process_;
  std::vector<std::thread> readers_;
};

TEST(KubeRestClientSandboxTest, BearerTokenOnPlainHttp) {
  TokenSandbox sandbox("it-token-123", /*tls=*/false);
  ASSERT_TRUE(sandbox.WaitReady());
  KubeConfig config = LoadOrFail(sandbox.kubeconfig());
  auto anonymous = ClientOrFail(config);
  ASSERT_TRUE(anonymous);
  auto refused = anonymous->Send(Get("/version"));
  ASSERT_TRUE(refused.ok()) << refused.error().message;
  EXPECT_EQ(refused.value().status, 401);

  config.user.token = "it-token-123";
  auto client = ClientOrFail(config);
  ASSERT_TRUE(client);
  auto version = kube::GetJson(*client, "/version");
  ASSERT_TRUE(version.ok()) << version.error().message;
}

TEST(KubeRestClientSandboxTest, BearerTokenInsteadOfClientCertificateOverTls) {
  TokenSandbox sandbox("it-token-456", /*tls=*/true);
  ASSERT_TRUE(sandbox.WaitReady());
  KubeConfig config = LoadOrFail(sandbox.kubeconfig());
  config.user = {};
  config.user.token = "it-token-456";
  auto client = ClientOrFail(config);
  ASSERT_TRUE(client);
  auto version = client->Send(Get("/version"));
  ASSERT_TRUE(version.ok()) << version.error().message;
  EXPECT_EQ(version.value().status, 200);

  config.user.token = "wrong-token";
  auto wrong = ClientOrFail(config);
  ASSERT_TRUE(wrong);
  auto refused = wrong->Send(Get("/version"));
  ASSERT_TRUE(refused.ok()) << refused.error().message;
  EXPECT_EQ(refused.value().status, 401);
  EXPECT_EQ(refused.value().body.find("wrong-token"), std::string::npos);
}

TEST(KubeRestClientSandboxTest, TwoInjected503sThenSuccessOnTheThirdAttempt) {
  Sandbox sandbox;
  ASSERT_TRUE(sandbox.Start());
  HttpResult rule = sandbox.Http(
      "POST", "/sandbox/faults",
      R"({"method":"GET","path":"/api/v1/namespaces/default","count":2,"status":503})");
  ASSERT_EQ(rule.status, 201) << rule.body << rule.error;
  auto client = ClientOrFail(LoadOrFail(sandbox.kubeconfig()));
  ASSERT_TRUE(client);
  auto ns = kube::GetJson(*client, "/api/v1/namespaces/default");
  ASSERT_TRUE(ns.ok()) << ns.error().message;
  EXPECT_EQ(ns.value()->getObject("metadata")->getValue<std::string>("name"), "default");
  EXPECT_EQ(client->last_attempts(), 3);
  Poco::Dynamic::Var rules = ParseJson(sandbox.Http("GET", "/sandbox/faults").body);
  EXPECT_EQ(Int(rules, "/items/0/fired"), 2);
}

TEST(KubeRestClientSandboxTest, DroppedConnectionIsRetried) {
  Sandbox sandbox;
  ASSERT_TRUE(sandbox.Start());
  HttpResult rule =
      sandbox.Http("POST", "/sandbox/faults", R"({"method":"GET","path":"/version","drop":true})");
  ASSERT_EQ(rule.status, 201) << rule.body << rule.error;
  auto client = ClientOrFail(LoadOrFail(sandbox.kubeconfig()));
  ASSERT_TRUE(client);
  auto version = client->Send(Get("/version"));
  ASSERT_TRUE(version.ok()) << version.error().message;
  EXPECT_EQ(version.value().status, 200);
  EXPECT_EQ(client->last_attempts(), 2);
}

}  // namespace
}  // namespace canaryctl::integration

#include "kube/exec_credential.h"

#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace canaryctl::kube {
namespace {

using std::chrono::system_clock;
using ::testing::HasSubstr;
using testing::TempDir;

// A plugin script: appends a line to `runs` on every run, records its args, env and
// KUBERNETES_EXEC_INFO, then prints `output` (or fails).
std::string WritePlugin(const TempDir& dir, const std::string& body) {
  auto path = dir.Write("plugin.sh", "#!/bin/sh\necho run >> \"" + dir.path() + "/runs\"\n" +
                                         "printf '%s\\n' \"$@\" > \"" + dir.path() + "/args\"\n" +
                                         "printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"" + dir.path() +
                                         "/info\"\n" + "printf '%s' \"$FOO\" > \"" + dir.path() +
                                         "/foo\"\n" + body);
  ::chmod(path.c_str(), 0700);
  return path;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

ExecConfig Exec(const std::string& command, const std::string& version = "v1") {
  ExecConfig exec;
  exec.api_version = "client.authentication.k8s.io/" + version;
  exec.command = command;
  exec.args = {"get-token", "a b", "$HOME;rm -rf /"};
  exec.env = {{"FOO", "bar baz"}};
  exec.source = "/k: users[0].user.exec";
  return exec;
}

ClusterConfig Cluster() {
  ClusterConfig cluster;
  cluster.server = "https://api.example:6443";
  return cluster;
}

TEST(ExecCredentialTest, RunsThePluginWithArgsEnvAndExecInfoAndParsesTheToken) {
  TempDir dir;
  auto plugin = WritePlugin(dir,
                            "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
                            "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"tok-1\"}}'\n");
  ExecConfig exec = Exec(plugin);
  exec.provide_cluster_info = true;
  ExecCredentialProvider provider(exec, Cluster());
  auto credential = provider.Get();
  ASSERT_TRUE(credential.ok()) << credential.error().message;
  EXPECT_EQ(credential.value().token, "tok-1");
  EXPECT_FALSE(credential.value().expiry);
  EXPECT_EQ(Slurp(dir.path() + "/args"), "get-token\na b\n$HOME;rm -rf /\n")
      << "arguments are passed verbatim, no shell in between";
  EXPECT_EQ(Slurp(dir.path() + "/foo"), "bar baz");
  const std::string info = Slurp(dir.path() + "/info");
  EXPECT_THAT(info, HasSubstr("\"kind\":\"ExecCredential\""));
  EXPECT_THAT(info, HasSubstr("\"apiVersion\":\"client.authentication.k8s.io/v1\""));
  EXPECT_THAT(info, HasSubstr("https://api.example:6443"));
  // Without an expiry the credential is cached: the plugin runs once.
  ASSERT_TRUE(provider.Get().ok());
  EXPECT_EQ(provider.runs(), 1);
  provider.Invalidate();
  ASSERT_TRUE(provider.Get().ok());
  EXPECT_EQ(provider.runs(), 2);
}

TEST(ExecCredentialTest, CachedUntilExpiry) {
  TempDir dir;
  auto plugin = WritePlugin(dir,
                            "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
                            "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t\","
                            "\"expirationTimestamp\":\"2030-01-01T10:00:00Z\"}}'\n");
  // 2030-01-01T10:00:00Z as seconds since the epoch.
  const system_clock::time_point expiry{std::chrono::seconds(1893492000)};
  system_clock::time_point now = expiry - std::chrono::minutes(5);
  ExecCredentialProvider provider(Exec(plugin, "v1beta1"), Cluster(), [&] { return now; });
  auto credential = provider.Get();
  ASSERT_TRUE(credential.ok()) << credential.error().message;
  ASSERT_TRUE(credential.value().expiry);
  EXPECT_EQ(*credential.value().expiry, expiry);
  now = expiry - std::chrono::seconds(1);
  ASSERT_TRUE(provider.Get().ok());
  EXPECT_EQ(provider.runs(), 1);
  now = expiry;
  ASSERT_TRUE(provider.Get().ok());
  EXPECT_EQ(provider.runs(), 2);
}

TEST(ExecCredentialTest, ClientCertificateFromThePlugin) {
  TempDir dir;
  auto plugin = WritePlugin(
      dir,
      "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
      "\"status\":{\"clientCertificateData\":\"CERT\",\"clientKeyData\":\"KEY\"}}'\n");
  ExecCredentialProvider provider(Exec(plugin), Cluster());
  auto credential = provider.Get();
  ASSERT_TRUE(credential.ok()) << credential.error().message;
  EXPECT_EQ(credential.value().client_cert_pem, "CERT");
  EXPECT_EQ(credential.value().client_key_pem, "KEY");
  EXPECT_EQ(credential.value().token, "");
}

TEST(ExecCredentialTest, FailureNamesTheCommandAndTheStderrTail) {
  TempDir dir;
  auto plugin = WritePlugin(dir,
                            "echo 'starting' >&2\necho 'login expired: run sso' >&2\n"
                            "echo '{\"status\":{\"token\":\"leaked\"}}'\nexit 3\n");
  ExecCredentialProvider provider(Exec(plugin), Cluster());
  auto credential = provider.Get();
  ASSERT_FALSE(credential.ok());
  EXPECT_EQ(credential.error().kind, ErrorKind::kConfig);
  EXPECT_THAT(credential.error().message, HasSubstr("/k: users[0].user.exec"));
  EXPECT_THAT(credential.error().message, HasSubstr(plugin));
  EXPECT_THAT(credential.error().message, HasSubstr("exit code 3"));
  EXPECT_THAT(credential.error().message, HasSubstr("login expired: run sso"));
  EXPECT_EQ(credential.error().message.find("leaked"), std::string::npos);
}

TEST(ExecCredentialTest, OutputThatIsNotACredentialIsRefusedWithoutQuotingIt) {
  TempDir dir;
  auto plugin = WritePlugin(dir, "echo 'secret-token-in-garbage'\n");
  auto credential = ExecCredentialProvider(Exec(plugin), Cluster()).Get();
  ASSERT_FALSE(credential.ok());
  EXPECT_THAT(credential.error().message, HasSubstr("not an ExecCredential"));
  EXPECT_EQ(credential.error().message.find("secret-token"), std::string::npos);

  TempDir other;
  auto wrong_version = WritePlugin(other,
                                   "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
                                   "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t\"}}'\n");
  auto mismatch = ExecCredentialProvider(Exec(wrong_version, "v1"), Cluster()).Get();
  ASSERT_FALSE(mismatch.ok());
  EXPECT_THAT(mismatch.error().message, HasSubstr("apiVersion"));
}

TEST(ExecCredentialTest, BareCommandIsFoundOnPath) {
  ExecConfig exec = Exec("sh");
  exec.args = {"-c",
               "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
               "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"from-path\"}}'"};
  auto credential = ExecCredentialProvider(exec, Cluster()).Get();
  ASSERT_TRUE(credential.ok()) << credential.error().message;
  EXPECT_EQ(credential.value().token, "from-path");
}

TEST(ExecCredentialTest, MissingCommandIsNamed) {
  auto credential = ExecCredentialProvider(Exec("/nonexistent/dir/plugin-xyz"), Cluster()).Get();
  ASSERT_FALSE(credential.ok());
  EXPECT_THAT(credential.error().message, HasSubstr("/nonexistent/dir/plugin-xyz"));
}

}  // namespace
}  // namespace canaryctl::kube

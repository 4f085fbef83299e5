#include "kube/kubeconfig.h"

#include <sstream>

#include <Poco/Base64Encoder.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace canaryctl::kube {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

const char kCa[] = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";
const char kCert[] = "-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n";
const char kKey[] = "-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n";

std::string Base64(const std::string& data) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder << data;
  encoder.close();
  return out.str();
}

// A kubeconfig with one cluster, user and context, each named `name`, plus extra YAML.
std::string Simple(const std::string& name, const std::string& server, const std::string& user_yaml,
                   const std::string& cluster_extra = "") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: " + name + "\nclusters:\n- name: " + name +
         "\n  cluster:\n    server: " + server + "\n" + cluster_extra + "users:\n- name: " + name +
         "\n  user:\n" + user_yaml + "contexts:\n- name: " + name +
         "\n  context:\n    cluster: " + name + "\n    user: " + name + "\n    namespace: ns-" +
         name + "\n";
}

Result<KubeConfig> Load(const std::string& file, const std::string& context = "") {
  return LoadKubeconfig({file}, context);
}

TEST(KubeconfigTest, TokenAndInlineCaData) {
  TempDir dir;
  auto file = dir.Write("config", Simple("a", "https://10.0.0.1:6443", "    token: s3cr3t\n",
                                         "    certificate-authority-data: " + Base64(kCa) +
                                             "\n    tls-server-name: api.internal\n"));
  auto config = Load(file);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config.value().context, "a");
  EXPECT_EQ(config.value().namespace_, "ns-a");
  EXPECT_EQ(config.value().cluster.server, "https://10.0.0.1:6443");
  EXPECT_EQ(config.value().cluster.ca_pem, kCa);
  EXPECT_EQ(config.value().cluster.tls_server_name, "api.internal");
  EXPECT_FALSE(config.value().cluster.insecure_skip_tls_verify);
  EXPECT_EQ(config.value().user.token, "s3cr3t");
  EXPECT_FALSE(config.value().user.exec);
}

TEST(KubeconfigTest, RelativeFilesResolveAgainstTheKubeconfigFolder) {
  TempDir dir;
  dir.Write("sub/pki/ca.crt", kCa);
  dir.Write("sub/pki/client.crt", kCert);
  dir.Write("sub/pki/client.key", kKey);
  dir.Write("sub/token", "file-token\n");
  auto file =
      dir.Write("sub/config", Simple("a", "https://h:1",
                                     "    client-certificate: pki/client.crt\n"
                                     "    client-key: pki/client.key\n    tokenFile: token\n",
                                     "    certificate-authority: pki/ca.crt\n"));
  auto config = Load(file);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config.value().cluster.ca_pem, kCa);
  EXPECT_EQ(config.value().user.client_cert_pem, kCert);
  EXPECT_EQ(config.value().user.client_key_pem, kKey);
  EXPECT_EQ(config.value().user.token, "file-token") << "trailing newline trimmed";
}

TEST(KubeconfigTest, InlineClientCertificateData) {
  TempDir dir;
  auto file = dir.Write("config", Simple("a", "https://h:1",
                                         "    client-certificate-data: " + Base64(kCert) +
                                             "\n    client-key-data: " + Base64(kKey) + "\n"));
  auto config = Load(file);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config.value().user.client_cert_pem, kCert);
  EXPECT_EQ(config.value().user.client_key_pem, kKey);
}

TEST(KubeconfigTest, BadBase64NamesFileAndKeyButNotTheValue) {
  TempDir dir;
  auto file = dir.Write("config", Simple("a", "https://h:1",
                                         "    client-certificate-data: " + Base64(kCert) +
                                             "\n    client-key-data: 'not*base64!secretvalue'\n"));
  auto config = Load(file);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().kind, ErrorKind::kConfig);
  EXPECT_EQ(config.error().message, file + ": users[0].user.client-key-data: not valid base64");
}

TEST(KubeconfigTest, Base64OfSomethingNotPemIsRefused) {
  TempDir dir;
  auto file =
      dir.Write("config", Simple("a", "https://h:1", "    token: t\n",
                                 "    certificate-authority-data: " + Base64("just text") + "\n"));
  auto config = Load(file);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message,
            file + ": clusters[0].cluster.certificate-authority-data: not PEM data");
}

TEST(KubeconfigTest, MissingReferencedFileNamesTheKeyAndThePath) {
  TempDir dir;
  auto file = dir.Write("config", Simple("a", "https://h:1", "    token: t\n",
                                         "    certificate-authority: nowhere/ca.crt\n"));
  auto config = Load(file);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.error().message,
              HasSubstr(file + ": clusters[0].cluster.certificate-authority: cannot read " +
                        dir.path() + "/nowhere/ca.crt"));
}

TEST(KubeconfigTest, CertificateWithoutKeyIsRefused) {
  TempDir dir;
  auto file = dir.Write(
      "config", Simple("a", "https://h:1", "    client-certificate-data: " + Base64(kCert) + "\n"));
  auto config = Load(file);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.error().message, HasSubstr(file + ": users[0].user.client-key"));
}

TEST(KubeconfigTest, BasicAuthIsRefusedClearlyWithoutEchoingThePassword) {
  TempDir dir;
  auto file = dir.Write("config",
                        Simple("a", "https://h:1", "    username: admin\n    password: hunter2\n"));
  auto config = Load(file);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().kind, ErrorKind::kConfig);
  EXPECT_THAT(config.error().message, HasSubstr(file + ": users[0].user.username"));
  EXPECT_THAT(config.error().message, HasSubstr("not supported"));
  EXPECT_EQ(config.error().message.find("hunter2"), std::string::npos);
}

TEST(KubeconfigTest, InsecureSkipTlsVerify) {
  TempDir dir;
  auto file = dir.Write("config", Simple("a", "https://h:1", "    token: t\n",
                                         "    insecure-skip-tls-verify: true\n"));
  auto config = Load(file);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_TRUE(config.value().cluster.insecure_skip_tls_verify);

  auto bad = dir.Write(
      "bad", Simple("a", "https://h:1", "    token: t\n", "    insecure-skip-tls-verify: maybe\n"));
  ASSERT_FALSE(Load(bad).ok());
  EXPECT_EQ(Load(bad).error().message,
            bad +
                ": clusters[0].cluster.insecure-skip-tls-verify: must be true or false, got "
                "\"maybe\"");

  auto both = dir.Write("both", Simple("a", "https://h:1", "    token: t\n",
                                       "    insecure-skip-tls-verify: true\n"
                                       "    certificate-authority-data: " +
                                           Base64(kCa) + "\n"));
  ASSERT_FALSE(Load(both).ok());
}

TEST(KubeconfigTest, ExecPlugin) {
  TempDir dir;
  auto file = dir.Write(
      "config", Simple("a", "https://h:1",
                       "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                       "      command: ./bin/plugin\n      args: [get-token, --cluster, x]\n"
                       "      env:\n      - name: FOO\n        value: bar\n"
                       "      provideClusterInfo: true\n      interactiveMode: Never\n"));
  auto config = Load(file);
  ASSERT_TRUE(config.ok()) << config.error().message;
  ASSERT_TRUE(config.value().user.exec);
  const ExecConfig& exec = *config.value().user.exec;
  EXPECT_EQ(exec.command, dir.path() + "/bin/plugin");
  EXPECT_EQ(exec.args, (std::vector<std::string>{"get-token", "--cluster", "x"}));
  ASSERT_EQ(exec.env.size(), 1u);
  EXPECT_EQ(exec.env[0], (std::pair<std::string, std::string>{"FOO", "bar"}));
  EXPECT_TRUE(exec.provide_cluster_info);
  EXPECT_EQ(exec.api_version, "client.authentication.k8s.io/v1");
}

TEST(KubeconfigTest, ExecBareCommandIsLeftForPath) {
  TempDir dir;
  auto file = dir.Write("config",
                        Simple("a", "https://h:1",
                               "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
                               "      command: aws\n"));
  auto config = Load(file);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config.value().user.exec->command, "aws");
}

TEST(KubeconfigTest, ExecWithUnknownApiVersionIsRefused) {
  TempDir dir;
  auto file = dir.Write(
      "config", Simple("a", "https://h:1",
                       "    exec:\n      apiVersion: client.authentication.k8s.io/v1alpha1\n"
                       "      command: aws\n"));
  auto config = Load(file);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.error().message, HasSubstr(file + ": users[0].user.exec.apiVersion"));
}

TEST(KubeconfigTest, ContextFlagOverridesCurrentContext) {
  TempDir dir;
  auto file = dir.Write("config",
                        "current-context: one\n"
                        "clusters:\n- name: c1\n  cluster: {server: 'https://one:1'}\n"
                        "- name: c2\n  cluster: {server: 'https://two:2'}\n"
                        "users:\n- name: u\n  user: {token: t}\n"
                        "contexts:\n- name: one\n  context: {cluster: c1, user: u}\n"
                        "- name: two\n  context: {cluster: c2, user: u}\n");
  EXPECT_EQ(Load(file).value().cluster.server, "https://one:1");
  EXPECT_EQ(Load(file, "two").value().cluster.server, "https://two:2");
  auto missing = Load(file, "three");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("no context named \"three\""));
  EXPECT_THAT(missing.error().message, HasSubstr("known: one, two"));
}

TEST(KubeconfigTest, ContextNamingAnUnknownClusterNamesTheKey) {
  TempDir dir;
  auto file = dir.Write("config",
                        "current-context: one\nclusters: []\nusers: []\n"
                        "contexts:\n- name: one\n  context: {cluster: gone}\n");
  auto config = Load(file);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.error().message,
              HasSubstr(file + ": contexts[0].context.cluster: no cluster named \"gone\""));
}

TEST(KubeconfigTest, NoCurrentContextAsksForOne) {
  TempDir dir;
  auto file = dir.Write("config", "clusters: []\n");
  auto config = Load(file);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.error().message, HasSubstr("--context"));
}

TEST(KubeconfigTest, InvalidYamlNamesTheLine) {
  TempDir dir;
  auto file = dir.Write("config", "clusters:\n- name: a\n  cluster: {server: [unclosed\n");
  auto config = Load(file);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.error().message, HasSubstr(file + ":"));
  EXPECT_THAT(config.error().message, HasSubstr("not valid YAML"));
  auto list = dir.Write("list", "clusters: {a: b}\n");
  ASSERT_FALSE(Load(list).ok());
  EXPECT_EQ(Load(list).error().message, list + ": clusters: must be a list");
}

TEST(KubeconfigTest, MergeFirstFileWinsPerNameAndForCurrentContext) {
  TempDir dir;
  // The first file sets no current-context and defines cluster "shared".
  auto first = dir.Write("first",
                         "clusters:\n- name: shared\n  cluster: {server: 'https://first:1'}\n"
                         "users:\n- name: u\n  user: {token: first-token}\n");
  auto second = dir.Write(
      "second",
      "current-context: ctx\n"
      "clusters:\n- name: shared\n  cluster: {server: 'https://second:2'}\n"
      "users:\n- name: u\n  user: {token: second-token}\n"
      "contexts:\n- name: ctx\n  context: {cluster: shared, user: u, namespace: from-second}\n");
  auto third = dir.Write("third",
                         "current-context: other\n"
                         "contexts:\n- name: ctx\n  context: {cluster: shared, namespace: x}\n"
                         "- name: other\n  context: {cluster: shared}\n");
  auto config = LoadKubeconfig({first, second, third});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config.value().context, "ctx") << "the first file that sets current-context wins";
  EXPECT_EQ(config.value().cluster.server, "https://first:1");
  EXPECT_EQ(config.value().user.token, "first-token");
  EXPECT_EQ(config.value().namespace_, "from-second");
  auto other = LoadKubeconfig({first, second, third}, "other");
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_EQ(other.value().user.token, "") << "a context without a user is anonymous";
}

TEST(KubeconfigTest, RelativePathsResolveAgainstTheFileThatNamesThem) {
  TempDir dir;
  dir.Write("b/ca.crt", kCa);
  auto a = dir.Write("a/config",
                     "current-context: x\n"
                     "contexts:\n- name: x\n  context: {cluster: c}\n");
  auto b = dir.Write("b/config",
                     "clusters:\n- name: c\n  cluster: {server: 'https://h:1', "
                     "certificate-authority: ca.crt}\n");
  auto config = LoadKubeconfig({a, b});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config.value().cluster.ca_pem, kCa);
}

TEST(KubeconfigTest, KubeconfigFilesFromTheEnvironment) {
  TempDir dir;
  auto a = dir.Write("a", "");
  auto b = dir.Write("b", "");
  auto files = KubeconfigFiles("", a + "::" + dir.path() + "/missing:" + b + ":" + a, "/home/x");
  ASSERT_TRUE(files.ok()) << files.error().message;
  EXPECT_EQ(files.value(), (std::vector<std::string>{a, b}));
  EXPECT_EQ(KubeconfigFiles("/explicit", a, "/home/x").value(),
            std::vector<std::string>{"/explicit"});
  EXPECT_EQ(KubeconfigFiles("", "", "/home/x").value(),
            std::vector<std::string>{"/home/x/.kube/config"});
  EXPECT_FALSE(KubeconfigFiles("", dir.path() + "/nope", "/home/x").ok());
}

TEST(KubeconfigTest, MissingFileIsAConfigError) {
  auto config = LoadKubeconfig({"/nonexistent/kubeconfig"});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().kind, ErrorKind::kConfig);
  EXPECT_THAT(config.error().message, HasSubstr("/nonexistent/kubeconfig"));
}

TEST(InClusterConfigTest, ReadsTheServiceAccount) {
  TempDir dir;
  const std::string sa = "var/run/secrets/kubernetes.io/serviceaccount/";
  dir.Write(sa + "token", "sa-token\n");
  dir.Write(sa + "ca.crt", kCa);
  dir.Write(sa + "namespace", "prod");
  std::map<std::string, std::string> env{{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                         {"KUBERNETES_SERVICE_PORT", "443"}};
  auto config = LoadInClusterConfig(env, dir.path());
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config.value().cluster.server, "https://10.96.0.1:443");
  EXPECT_EQ(config.value().cluster.ca_pem, kCa);
  EXPECT_EQ(config.value().user.token, "sa-token");
  EXPECT_EQ(config.value().namespace_, "prod");

  env["KUBERNETES_SERVICE_HOST"] = "fd00::1";
  EXPECT_EQ(LoadInClusterConfig(env, dir.path()).value().cluster.server, "https://[fd00::1]:443");
  EXPECT_FALSE(LoadInClusterConfig({}, dir.path()).ok());
  TempDir empty;
  auto missing = LoadInClusterConfig(env, empty.path());
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr(empty.path() + "/" + sa + "token"));
}

}  // namespace
}  // namespace canaryctl::kube

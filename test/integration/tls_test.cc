// --tls: HTTPS with the sandbox's own CA and client-certificate auth. The written kubeconfig
// works for kubectl and helm; without the client certificate the server answers 401; a
// kubeconfig trusting another CA refuses the server.
#include <yaml-cpp/yaml.h>

#include "sandbox_fixture.h"

namespace canaryctl::integration {
namespace {

using Poco::Dynamic::Var;

const char* const kCaKeys[] = {"certificate-authority-data", "certificate-authority"};
const char* const kClientKeys[] = {"client-certificate-data", "client-certificate",
                                   "client-key-data", "client-key"};

class TlsTest : public SandboxTest {
 protected:
  TlsTest() : SandboxTest(SandboxOptions{.tls = true}) {}

  // Writes an edited copy of the sandbox's kubeconfig into the scratch folder.
  std::string EditedKubeconfig(const std::string& name,
                               const std::function<void(YAML::Node&)>& edit) {
    YAML::Node config = YAML::LoadFile(sandbox_.kubeconfig());
    edit(config);
    YAML::Emitter out;
    out << config;
    return Write(name, out.c_str());
  }
};

TEST_P(TlsTest, ClientCertificateIsRequiredAndTheCaIsChecked) {
  EXPECT_EQ(sandbox_.server().rfind("https://", 0), 0u) << sandbox_.server();

  // The kubeconfig as written: kubectl and helm work.
  ASSERT_TRUE(Succeeded(Kubectl({"create", "namespace", "secure"})));
  EXPECT_EQ(Str(Get({"get", "namespace", "secure"}), "/status/phase"), "Active");
  ASSERT_TRUE(
      Succeeded(Helm({"upgrade", "--install", "demoapp", SourcePath("examples/demoapp"), "-n",
                      "secure", "--wait", "--timeout", "60s", "--set", "deployment.tag=v1"})));
  Var list = HelmJson(*clients_, {"list", "-A"});
  EXPECT_EQ(Str(list, "/0/status"), "deployed") << ToJson(list);

  // Without the client certificate: 401 Unauthorized. kubectl would prompt for a password when
  // a user has no credentials at all, so one kubeconfig carries a token the server does not
  // accept (it must still insist on the certificate); helm never prompts.
  auto without_cert = [](const std::string& token) {
    return [token](YAML::Node& config) {
      for (auto user : config["users"]) {
        for (const char* key : kClientKeys) user["user"].remove(key);
        if (!token.empty()) user["user"]["token"] = token;
      }
    };
  };
  Clients with_token(GetParam(), EditedKubeconfig("token.yaml", without_cert("not-a-cert")));
  CommandResult denied = with_token.Kubectl({"get", "namespaces", "-v=6"});
  EXPECT_TRUE(FailedWith(denied, "401 Unauthorized"));
  EXPECT_TRUE(FailedWith(denied, "You must be logged in to the server"));
  EXPECT_TRUE(FailedWith(with_token.Kubectl({"create", "namespace", "sneaky"}),
                         "You must be logged in to the server"));
  EXPECT_TRUE(FailedWith(Kubectl({"get", "namespace", "sneaky"}), "NotFound"));
  Clients anon(GetParam(), EditedKubeconfig("anonymous.yaml", without_cert("")));
  EXPECT_TRUE(FailedWith(anon.Helm({"list", "-A"}),
                         "the server has asked for the client to provide credentials"));

  // Trusting another sandbox's CA: the server's certificate is refused by the client.
  Sandbox other(SandboxOptions{.tls = true});
  ASSERT_TRUE(other.Start());
  YAML::Node other_config = YAML::LoadFile(other.kubeconfig());
  const std::string wrong_ca = EditedKubeconfig("wrong-ca.yaml", [&](YAML::Node& config) {
    for (auto cluster : config["clusters"]) {
      for (const char* key : kCaKeys) {
        cluster["cluster"].remove(key);
        YAML::Node theirs = other_config["clusters"][0]["cluster"][key];
        if (theirs) cluster["cluster"][key] = theirs.as<std::string>();
      }
    }
  });
  Clients mistrusting(GetParam(), wrong_ca);
  CommandResult refused = mistrusting.Kubectl({"get", "namespaces"});
  EXPECT_TRUE(FailedWith(refused, "certificate signed by unknown authority"));
  EXPECT_FALSE(mistrusting.Helm({"list", "-A"}).ok());

  // The other sandbox's own kubeconfig works against it: the CAs are really distinct.
  Clients other_clients(GetParam(), other.kubeconfig());
  EXPECT_TRUE(Succeeded(other_clients.Kubectl({"get", "namespaces"})));
}

TEST_P(TlsTest, KubeconfigKeepsWorkingAcrossARestart) {
  ASSERT_TRUE(Succeeded(Kubectl({"create", "namespace", "kept"})));
  YAML::Node old_config = YAML::LoadFile(sandbox_.kubeconfig());
  ASSERT_TRUE(sandbox_.Stop());
  ASSERT_TRUE(sandbox_.Start());
  // Same PKI after the restart: only the port may differ.
  YAML::Node new_config = YAML::LoadFile(sandbox_.kubeconfig());
  EXPECT_EQ(new_config["clusters"][0]["cluster"]["certificate-authority-data"].as<std::string>(""),
            old_config["clusters"][0]["cluster"]["certificate-authority-data"].as<std::string>(""));
  EXPECT_EQ(Str(Get({"get", "namespace", "kept"}), "/metadata/name"), "kept");
}

INSTANTIATE_TEST_SUITE_P(Tools, TlsTest, testing::ValuesIn(ToolSets()), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration

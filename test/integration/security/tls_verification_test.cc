// TLS verification of the cluster: a kubeconfig whose CA is another CA is refused (exit 3, the
// verification failure named, not one request reaching the API); without a CA the system's trust
// store does not know the sandbox's CA either; `insecure-skip-tls-verify: true` connects, and
// only when set, with a warning naming the cluster.
#include <filesystem>

#include "security_support.h"

namespace canaryctl::integration::security {
namespace {

namespace fs = std::filesystem;

class TlsVerificationTest : public TlsSandboxTest {};

TEST_P(TlsVerificationTest, WrongCaIsRefusedAndInsecureSkipWorksOnlyWhenSetWithAWarning) {
  // Another CA, made for the test: valid, self-signed, and unrelated to the sandbox's.
  fs::create_directories(work_->path() + "/in");
  const std::string other_key = work_->path() + "/in/other-ca.key";
  const std::string other_crt = work_->path() + "/in/other-ca.crt";
  ASSERT_TRUE(Succeeded(RunProcess(
      "/usr/bin/openssl", {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                           "-nodes", "-keyout", other_key, "-out", other_crt, "-days", "2", "-subj",
                           "/CN=another-ca", "-addext", "basicConstraints=critical,CA:TRUE"})));
  const std::string other_ca = ReadFile(other_crt);
  ASSERT_NE(other_ca.find("BEGIN CERTIFICATE"), std::string::npos);
  auto with_cluster = [](const std::function<void(YAML::Node)>& edit) {
    return [edit](YAML::Node& config) {
      for (auto cluster : config["clusters"]) edit(cluster["cluster"]);
    };
  };
  const std::string wrong_ca = TokenKubeconfig("wrong-ca", kToken, with_cluster([&](YAML::Node c) {
                                                 c.remove("certificate-authority-data");
                                                 c["certificate-authority"] = other_crt;
                                               }));
  const std::string no_ca = TokenKubeconfig(
      "no-ca", kToken, with_cluster([](YAML::Node c) { c.remove("certificate-authority-data"); }));
  const std::string explicitly_verified =
      TokenKubeconfig("verified", kToken, with_cluster([](YAML::Node c) {
                        c.remove("certificate-authority-data");
                        c["insecure-skip-tls-verify"] = false;
                      }));
  const std::string insecure = TokenKubeconfig("insecure", kToken, with_cluster([](YAML::Node c) {
                                                 c.remove("certificate-authority-data");
                                                 c["insecure-skip-tls-verify"] = true;
                                               }));
  const std::string config =
      work_->Write("in/rollout.yaml", MinimalRolloutYaml(work_->path() + "/reports"));

  for (const std::string& kubeconfig : {wrong_ca, no_ca, explicitly_verified}) {
    for (const auto& args : {std::vector<std::string>{"status"}, {"-v", "deploy"}}) {
      const size_t before = CanaryctlRequests();
      auto r = Run(config, kubeconfig, args);
      EXPECT_EQ(r.exit_code, 3) << r.Describe();
      EXPECT_NE(r.err.find("certificate verify failed"), std::string::npos) << r.Describe();
      EXPECT_EQ(r.err.find("insecure-skip-tls-verify"), std::string::npos) << r.Describe();
      // Nothing reached the API: the handshake failed before a request was sent.
      EXPECT_EQ(CanaryctlRequests(), before) << r.Describe();
    }
  }
  EXPECT_EQ(Get({"get", "namespaces"}).isEmpty(), false);
  EXPECT_EQ(Kubectl({"get", "namespace", "stage"}).exit_code, 1);  // deploy created nothing

  const size_t before = CanaryctlRequests();
  auto status = Run(config, insecure, {"status"});
  ASSERT_TRUE(Succeeded(status));
  EXPECT_GT(CanaryctlRequests(), before);
  EXPECT_NE(status.err.find("warning " + insecure +
                            ": clusters[0].cluster: insecure-skip-tls-verify is set: the "
                            "server's certificate is NOT verified"),
            std::string::npos)
      << status.err;
}

INSTANTIATE_TEST_SUITE_P(Tools, TlsVerificationTest, FirstToolSet(), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration::security

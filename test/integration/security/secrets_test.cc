// Secrets never reach a log or a report (DESIGN §8). A bearer token (the kubeconfig's user), a
// client key (the TLS sandbox's client certificate) and a `secrets:` value (in a helm value, an
// http check's header and URL, and a check's output) are all in play while every command runs,
// with and without -v, in text and JSON, succeeding and failing (a failing check, a failing
// http check, a helm failure, a configuration error, a refused token, a wrong CA). After each
// command its stdout and stderr, every file it left in the work folder (reports included) and
// the state it wrote to the cluster are searched for the token, the key (PEM body lines and
// base64 chunks of client-key-data) and the secret value.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "security_support.h"

namespace canaryctl::integration::security {
namespace {

namespace fs = std::filesystem;

constexpr char kSecret[] = "sectest-secret-b3d95e06a1";

// Prints the secret (as a careless test script would) and fails at FAIL_AT.
constexpr char kGate[] = R"(#!/bin/sh
echo "calling the API with $DEPLOY_TOKEN"
echo "token=$DEPLOY_TOKEN" >&2
if [ "$CANARYCTL_WEIGHT" = "${FAIL_AT:-none}" ]; then
  echo "the candidate fails at $CANARYCTL_WEIGHT%"
  exit 1
fi
)";

class SecretsTest : public TlsSandboxTest {
 protected:
  void SetUp() override {
    TlsSandboxTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(Succeeded(Helm({"upgrade", "--install", "demoapp", SourcePath("examples/demoapp"),
                                "--namespace", "prod", "--create-namespace", "--set",
                                "deployment.tag=v1", "--wait", "--timeout", "60s"})));
    gate_ = work_->Write("in/gate.sh", kGate);
    fs::permissions(gate_, fs::perms::owner_all);
  }

  std::string Config(const std::string& name, const std::string& chart,
                     const std::string& check_url) {
    return work_->Write(
        "in/" + name,
        "app: demoapp\n"
        "helm:\n  chart: " +
            chart +
            "\n  set: {deployment.tag: \"${TAG}\", db.password: \"${DEPLOY_TOKEN}\"}\n"
            "  timeout: 60s\n"
            "stable: {namespace: prod, release: demoapp, service: flaskapp}\n"
            "candidate: {namespace: stage, release: demoapp, service: flaskapp}\n"
            "traffic:\n  virtualService: {namespace: prod, name: demoapp, create: true, "
            "gateways: [app-gateway], hosts: [\"*\"]}\n  steps: [0, 50, 100]\n"
            "checks:\n  - {name: gate, command: [\"/bin/sh\", \"" +
            gate_ +
            "\"]}\n"
            "  - {name: api, http: {url: \"" +
            check_url +
            "\", headers: {Authorization: \"Bearer ${DEPLOY_TOKEN}\"}}}\n"
            "secrets: [DEPLOY_TOKEN]\n"
            "reports: {dir: " +
            work_->path() + "/reports}\n");
  }

  // Fails for each needle found in text, naming it and where.
  void Scan(const std::string& text, const std::string& where) {
    for (const auto& [what, needle] : needles_) {
      EXPECT_EQ(text.find(needle), std::string::npos) << what << " leaks in " << where;
    }
  }

  // The command's output, every file under the work folder but the inputs, and the state.
  void ScanAfter(const CommandResult& r, const std::string& label) {
    ++commands_;
    for (const std::string* stream : {&r.out, &r.err}) {
      Scan(*stream, label);
      lines_ += std::count(stream->begin(), stream->end(), '\n');
    }
    masked_ += r.err.find("[MASKED]") != std::string::npos;
    for (const auto& e : fs::recursive_directory_iterator(work_->path())) {
      if (!e.is_regular_file() || e.path().string().starts_with(work_->path() + "/in/")) continue;
      Scan(ReadFile(e.path().string()), label + ": " + e.path().string());
      ++files_;
    }
    auto vs = Kubectl({"get", "virtualservice", "demoapp", "-n", "prod", "-o", "json"});
    if (vs.ok()) Scan(vs.out, label + ": the VirtualService");
  }

  std::string gate_;
  std::vector<std::pair<std::string, std::string>> needles_;
  size_t commands_ = 0, lines_ = 0, files_ = 0, masked_ = 0;
};

TEST_P(SecretsTest, NoTokenKeyOrSecretValueInAnyLogLineOrFile) {
  RecordingServer api;
  const std::string cert_kc = Kubeconfig("cert-kubeconfig", [](YAML::Node&) {});
  const std::string token_kc = TokenKubeconfig("token-kubeconfig", kToken);
  // A revoked token that starts with the real one: if printed, the real one shows too.
  const std::string revoked_kc =
      TokenKubeconfig("revoked-kubeconfig", std::string(kToken) + "-revoked");
  const std::string wrong_ca_kc = Kubeconfig("wrong-ca-kubeconfig", [](YAML::Node& config) {
    for (auto cluster : config["clusters"]) {
      cluster["cluster"]["certificate-authority-data"] =
          config["users"][0]["user"]["client-certificate-data"];
    }
  });

  // The needles: the token, the secret, and the key as PEM lines and as base64 of the file.
  const std::string key_data =
      YAML::LoadFile(sandbox_.kubeconfig())["users"][0]["user"]["client-key-data"]
          .as<std::string>();
  ASSERT_GT(key_data.size(), 200u);
  needles_ = {{"the token", kToken}, {"the secret", kSecret}, {"a key header", "PRIVATE KEY"}};
  for (size_t at = 40; at + 32 < key_data.size(); at += 97) {
    needles_.emplace_back("client-key-data at " + std::to_string(at), key_data.substr(at, 32));
  }
  {
    auto r = RunProcess("/usr/bin/base64", {"-d", work_->Write("in/key.b64", key_data)});
    ASSERT_TRUE(Succeeded(r));
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.size() >= 32 && !line.starts_with("-----")) {
        needles_.emplace_back("a line of the key PEM", line);
      }
    }
  }
  ASSERT_GT(needles_.size(), 8u);

  const std::string ok = Config("rollout.yaml", SourcePath("examples/demoapp"),
                                api.url("/ok") + "?key=${DEPLOY_TOKEN}");
  const std::string failing_http = Config("failing-http.yaml", SourcePath("examples/demoapp"),
                                          api.url("/fail") + "?key=${DEPLOY_TOKEN}");
  fs::copy(SourcePath("examples/demoapp"), work_->path() + "/in/broken-chart",
           fs::copy_options::recursive);
  work_->Write("in/broken-chart/templates/broken.yaml", "kind: {{ .Values.nope.missing }}\n");
  const std::string broken_chart =
      Config("broken-chart.yaml", work_->path() + "/in/broken-chart", api.url("/ok"));
  // A configuration error that quotes the secret (in a URL canaryctl refuses).
  const std::string bad =
      Config("bad.yaml", SourcePath("examples/demoapp"), "ftp://deploy:${DEPLOY_TOKEN}@files/x");

  struct Step {
    std::string config, kubeconfig;
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    int exit_code;  // -1: any
  };
  const std::vector<Step> steps = {
      {ok, token_kc, {"deploy"}, {}, 0},
      {ok, cert_kc, {"-v", "deploy"}, {}, 0},
      {failing_http, cert_kc, {"-v", "test"}, {}, 1},
      {ok, token_kc, {"deploy"}, {}, 0},
      {failing_http, token_kc, {"test"}, {}, 1},
      {ok, token_kc, {"deploy"}, {}, 0},
      {ok, token_kc, {"test"}, {}, 0},
      {ok, cert_kc, {"-v", "--log-format", "json", "test"}, {}, 0},
      {ok, token_kc, {"status"}, {}, 0},
      {ok, cert_kc, {"-v", "status", "-o", "json"}, {}, 0},
      {ok, token_kc, {"plan"}, {}, 0},
      {ok, cert_kc, {"-v", "plan"}, {}, 0},
      {ok, cert_kc, {"-v", "shift", "50"}, {{"FAIL_AT", "50"}}, 1},
      {ok, token_kc, {"deploy"}, {}, 0},
      {ok, token_kc, {"test"}, {}, 0},
      {ok, token_kc, {"shift", "50"}, {{"FAIL_AT", "50"}}, 1},
      {ok, cert_kc, {"-v", "rollback"}, {}, 0},
      {ok, token_kc, {"rollback"}, {}, 0},
      {ok, cert_kc, {"-v", "run", "--pause", "0s"}, {}, 0},
      {ok, token_kc, {"promote"}, {}, 0},
      {ok, cert_kc, {"-v", "promote"}, {}, 0},
      {ok, token_kc, {"-v", "--dry-run", "run", "--pause", "0s"}, {{"TAG", "v3"}}, -1},
      {broken_chart, cert_kc, {"-v", "deploy"}, {{"TAG", "v3"}}, 3},
      {broken_chart, token_kc, {"deploy"}, {{"TAG", "v3"}}, 3},
      {bad, cert_kc, {"-v", "deploy"}, {}, 2},
      {bad, token_kc, {"deploy"}, {}, 2},
      {ok, revoked_kc, {"-v", "status"}, {}, 3},
      {ok, revoked_kc, {"deploy"}, {}, 3},
      {ok, wrong_ca_kc, {"-v", "status"}, {}, 3},
  };
  size_t verbose = 0;
  for (const Step& step : steps) {
    std::map<std::string, std::string> env = {{"DEPLOY_TOKEN", kSecret}, {"TAG", "v2"}};
    for (const auto& [k, v] : step.env) env[k] = v;
    auto r = Run(step.config, step.kubeconfig, step.args, env);
    std::string label = fs::path(step.config).filename().string() + " " +
                        fs::path(step.kubeconfig).filename().string();
    for (const auto& a : step.args) label += " " + a;
    if (step.exit_code >= 0) {
      EXPECT_EQ(r.exit_code, step.exit_code) << label << "\n" << r.Describe();
    }
    verbose += step.args[0] == "-v";
    ScanAfter(r, label);
  }
  // The secret was there to be masked: the gate printed it, and the log shows [MASKED].
  EXPECT_GT(masked_, 0u);
  // helm did receive it, and the http check sent it.
  auto values = HelmJson(*clients_, {"get", "values", "demoapp", "-n", "prod"});
  EXPECT_EQ(Str(values, "/db/password"), kSecret);
  ASSERT_FALSE(api.requests().empty());
  EXPECT_EQ(api.requests().back().Values("Authorization"),
            std::vector<std::string>{std::string("Bearer ") + kSecret});
  std::cout << "secrets: " << commands_ << " commands (" << verbose << " with -v), " << lines_
            << " log lines and " << files_ << " files scanned for " << needles_.size()
            << " needles (token, secret value, key lines and base64 chunks): "
            << (HasFailure() ? "LEAKS or failures" : "none found") << std::endl;
}

INSTANTIATE_TEST_SUITE_P(Tools, SecretsTest, FirstToolSet(), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration::security

// Unit tests of the pure parts of the helm driver: version parsing, binary resolution, the
// argument vectors for helm 3 and helm 4, redaction, error tails, and helm's JSON (real output
// of helm 3.18 and 4.1 against the sandbox, in data/).
#include <sys/stat.h>
#include <algorithm>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "helm/helm_args.h"
#include "helm/helm_json.h"
#include "helm/helm_version.h"

namespace canaryctl::helm {
namespace {

using Strings = std::vector<std::string>;
namespace fs = std::filesystem;

std::string ReadData(const std::string& name) {
  std::ifstream f(std::string(HELM_TEST_DATA) + "/" + name);
  EXPECT_TRUE(f.good()) << name;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

HelmVersion V(const std::string& text) {
  auto v = ParseHelmVersion(text);
  EXPECT_TRUE(v.ok()) << text;
  return v.ok() ? v.value() : HelmVersion{};
}

// ---------------------------------------------------------------------------------------------
// Versions and the binary.

TEST(HelmVersionTest, ParsesWhatHelmPrints) {
  HelmVersion v3 = V("v3.18.0");
  EXPECT_EQ(v3.major, 3);
  EXPECT_EQ(v3.minor, 18);
  EXPECT_EQ(v3.patch, 0);
  EXPECT_TRUE(v3.HasSetLiteral());
  HelmVersion v4 = V("v4.1.4+g1234abc\n");
  EXPECT_EQ(v4.major, 4);
  EXPECT_EQ(v4.minor, 1);
  EXPECT_EQ(v4.text, "v4.1.4+g1234abc");
  EXPECT_FALSE(V("v3.11.3").HasSetLiteral());
  EXPECT_TRUE(V("v3.12.0").HasSetLiteral());
}

TEST(HelmVersionTest, RejectsOtherText) {
  auto garbage = ParseHelmVersion("Client: &version.Version{}");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().kind, ErrorKind::kCluster);
  EXPECT_NE(garbage.error().message.find("Client: &version"), std::string::npos);
  auto helm2 = ParseHelmVersion("v2.17.0");
  ASSERT_FALSE(helm2.ok());
  EXPECT_NE(helm2.error().message.find("v2.17.0 is not supported"), std::string::npos);
}

class ResolveTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("helm-resolve-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "a");
    fs::create_directories(dir_ / "b");
    fs::create_directories(dir_ / "c");
    Touch(dir_ / "a" / "helm", 0644);  // not executable: skipped
    Touch(dir_ / "b" / "helm", 0755);
    Touch(dir_ / "c" / "helm", 0755);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static void Touch(const fs::path& p, mode_t mode) {
    std::ofstream(p) << "#!/bin/sh\n";
    ::chmod(p.c_str(), mode);
  }
  fs::path dir_;
};

TEST_F(ResolveTest, ExplicitThenEnvThenPath) {
  std::string b = (dir_ / "b" / "helm").string(), c = (dir_ / "c" / "helm").string();
  std::string path =
      (dir_ / "a").string() + ":" + (dir_ / "b").string() + ":" + (dir_ / "c").string();
  EXPECT_EQ(ResolveHelmBinary(c, b, path).value(), c);
  EXPECT_EQ(ResolveHelmBinary("", c, path).value(), c);
  EXPECT_EQ(ResolveHelmBinary("", std::nullopt, path).value(), b);
  EXPECT_EQ(ResolveHelmBinary("", std::string(""), path).value(), b);
}

TEST_F(ResolveTest, ErrorsNameTheSource) {
  std::string a = (dir_ / "a" / "helm").string();
  auto explicit_bad = ResolveHelmBinary(a, std::nullopt, std::nullopt);
  ASSERT_FALSE(explicit_bad.ok());
  EXPECT_EQ(explicit_bad.error().kind, ErrorKind::kConfig);
  EXPECT_NE(explicit_bad.error().message.find("--helm names '" + a + "'"), std::string::npos);
  auto env_bad = ResolveHelmBinary("", "/nonexistent/helm", std::nullopt);
  ASSERT_FALSE(env_bad.ok());
  EXPECT_NE(env_bad.error().message.find("HELM_BIN"), std::string::npos);
  auto none = ResolveHelmBinary("", std::nullopt, (dir_ / "a").string());
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("helm not found"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Argument vectors.

UpgradeRequest Request() {
  UpgradeRequest r;
  r.release = {"demoapp", "stage"};
  r.chart = "examples/demoapp";
  r.chart_version = "0.1.0";
  r.values_files = {"base.yaml", "stage.yaml"};
  r.set = {{"deployment.tag", "v2"}, {"db.password", "s3cr,et"}};
  r.set_typed = {{"deployment.replicas", "3"}};
  r.secrets = {"db.password"};
  r.timeout = std::chrono::minutes(5);
  r.wait = true;
  r.create_namespace = true;
  r.description = "pipeline 42 https://gitlab.example.com/g/p/-/jobs/7";
  return r;
}

const Connection kConn{"/tmp/kc", "ctx"};

TEST(UpgradeArgsTest, Helm3) {
  auto args = UpgradeArgs(V("v3.18.0"), kConn, Request());
  ASSERT_TRUE(args.ok()) << args.error().message;
  EXPECT_EQ(args.value(), (Strings{"upgrade",
                                   "--install",
                                   "demoapp",
                                   "examples/demoapp",
                                   "--namespace",
                                   "stage",
                                   "--version",
                                   "0.1.0",
                                   "--values",
                                   "base.yaml",
                                   "--values",
                                   "stage.yaml",
                                   "--set-literal",
                                   "db.password=s3cr,et",
                                   "--set-literal",
                                   "deployment.tag=v2",
                                   "--set",
                                   "deployment.replicas=3",
                                   "--create-namespace",
                                   "--wait",
                                   "--timeout",
                                   "300s",
                                   "--description",
                                   "pipeline 42 https://gitlab.example.com/g/p/-/jobs/7",
                                   "--kubeconfig",
                                   "/tmp/kc",
                                   "--kube-context",
                                   "ctx"}));
}

TEST(UpgradeArgsTest, Helm4WaitTakesAStrategy) {
  UpgradeRequest r = Request();
  auto args = UpgradeArgs(V("v4.1.4"), {}, r);
  ASSERT_TRUE(args.ok());
  const Strings& a = args.value();
  EXPECT_NE(std::find(a.begin(), a.end(), "--wait=watcher"), a.end());
  EXPECT_EQ(std::find(a.begin(), a.end(), "--wait"), a.end());
  // No connection flags when none are configured: helm's own KUBECONFIG and context apply.
  EXPECT_EQ(std::find(a.begin(), a.end(), "--kubeconfig"), a.end());
  EXPECT_EQ(std::find(a.begin(), a.end(), "--kube-context"), a.end());
  r.wait = false;
  r.create_namespace = false;
  r.description.clear();
  auto nowait = UpgradeArgs(V("v4.1.4"), {}, r);
  for (const auto& arg : nowait.value()) {
    EXPECT_EQ(arg.rfind("--wait", 0), std::string::npos) << arg;
    EXPECT_NE(arg, "--create-namespace");
    EXPECT_NE(arg, "--description");
  }
}

TEST(UpgradeArgsTest, OldHelm3EscapesSetString) {
  UpgradeRequest r = Request();
  r.set = {{"k", R"(a,b=c\d)"}};
  auto args = UpgradeArgs(V("v3.11.0"), {}, r);
  ASSERT_TRUE(args.ok());
  const Strings& a = args.value();
  auto it = std::find(a.begin(), a.end(), "--set-string");
  ASSERT_NE(it, a.end());
  EXPECT_EQ(*(it + 1), R"(k=a\,b=c\\d)");
  EXPECT_EQ(std::find(a.begin(), a.end(), "--set-literal"), a.end());
}

TEST(UpgradeArgsTest, HostileValueIsOneArgument) {
  UpgradeRequest r = Request();
  const std::string hostile = "a,b=c;$(touch /tmp/x)\nnewline";
  r.set = {{"hostile", hostile}};
  auto args = UpgradeArgs(V("v3.18.0"), {}, r);
  ASSERT_TRUE(args.ok());
  const Strings& a = args.value();
  EXPECT_NE(std::find(a.begin(), a.end(), "hostile=" + hostile), a.end());
}

TEST(UpgradeArgsTest, RejectsInputHelmWouldMisread) {
  auto check = [](UpgradeRequest r, const std::string& needle) {
    auto args = UpgradeArgs(V("v3.18.0"), {}, r);
    ASSERT_FALSE(args.ok()) << needle;
    EXPECT_EQ(args.error().kind, ErrorKind::kConfig);
    EXPECT_NE(args.error().message.find(needle), std::string::npos) << args.error().message;
  };
  UpgradeRequest r = Request();
  r.release.name = "--dry-run";
  check(r, "'--dry-run'");
  r = Request();
  r.release.name = "DemoApp";
  check(r, "'DemoApp'");
  r = Request();
  r.release.ns = "stage;rm";
  check(r, "namespace 'stage;rm'");
  r = Request();
  r.chart = "--post-renderer=/bin/evil";
  check(r, "chart '--post-renderer=/bin/evil'");
  r = Request();
  r.set = {{"a=b", "x"}};
  check(r, "key 'a=b'");
  r = Request();
  r.set_typed = {{"list", "1,2"}};
  check(r, "typed helm value 'list'");
  r = Request();
  r.timeout = std::chrono::seconds(0);
  check(r, "must be positive");
}

TEST(OtherArgsTest, RollbackUninstallQueries) {
  ReleaseRef rel{"demoapp", "prod"};
  EXPECT_EQ(RollbackArgs(V("v3.18.0"), kConn, rel, {1, true, std::chrono::seconds(90)}).value(),
            (Strings{"rollback", "demoapp", "1", "--namespace", "prod", "--wait", "--timeout",
                     "90s", "--kubeconfig", "/tmp/kc", "--kube-context", "ctx"}));
  EXPECT_EQ(RollbackArgs(V("v4.1.4"), {}, rel, {0, false, std::chrono::seconds(60)}).value(),
            (Strings{"rollback", "demoapp", "--namespace", "prod", "--timeout", "60s"}));
  EXPECT_FALSE(RollbackArgs(V("v4.1.4"), {}, rel, {-1, false, std::chrono::seconds(60)}).ok());
  EXPECT_EQ(UninstallArgs(V("v4.1.4"), {}, rel, {true, std::chrono::seconds(30)}).value(),
            (Strings{"uninstall", "demoapp", "--namespace", "prod", "--wait=watcher", "--timeout",
                     "30s"}));
  EXPECT_EQ(StatusArgs({}, rel).value(),
            (Strings{"status", "demoapp", "--namespace", "prod", "--output", "json"}));
  EXPECT_EQ(HistoryArgs({}, rel, 1).value(), (Strings{"history", "demoapp", "--namespace", "prod",
                                                      "--output", "json", "--max", "1"}));
  EXPECT_EQ(GetValuesArgs({}, rel).value(),
            (Strings{"get", "values", "demoapp", "--namespace", "prod", "--output", "json"}));
  EXPECT_FALSE(StatusArgs({}, {"demoapp", ""}).ok());
}

// ---------------------------------------------------------------------------------------------
// Display, redaction, tails.

TEST(DisplayTest, RedactsSecretSetValuesAndQuotes) {
  auto args = UpgradeArgs(V("v3.18.0"), {}, Request()).value();
  std::string shown = DisplayCommand("/usr/bin/helm", args, {"db.password"});
  EXPECT_EQ(shown.find("s3cr"), std::string::npos) << shown;
  EXPECT_NE(shown.find("--set-literal 'db.password=<redacted>'"), std::string::npos) << shown;
  EXPECT_NE(shown.find("--set-literal deployment.tag=v2"), std::string::npos) << shown;
  EXPECT_NE(shown.find("--description 'pipeline 42 https://gitlab.example.com/g/p/-/jobs/7'"),
            std::string::npos)
      << shown;
  EXPECT_EQ(shown.rfind("/usr/bin/helm upgrade --install demoapp", 0), 0u) << shown;
  // A key only redacts the value of a --set flag, not an argument that happens to look alike.
  EXPECT_EQ(DisplayCommand("helm", {"--description", "db.password=x"}, {"db.password"}),
            "helm --description db.password=x");
  EXPECT_EQ(DisplayCommand("helm", {"--set", "db.password=x"}, {"db.password"}),
            "helm --set 'db.password=<redacted>'");
  EXPECT_EQ(DisplayCommand("helm", {"it's"}, {}), R"(helm 'it'\''s')");
}

TEST(DisplayTest, RedactValuesEverywhere) {
  EXPECT_EQ(RedactValues("pw=hunter2 and hunter2hunter2", {"hunter2", ""}),
            "pw=<redacted> and <redacted><redacted>");
  EXPECT_EQ(RedactValues("nothing", {}), "nothing");
}

TEST(TailTest, LastLines) {
  std::string text;
  for (int i = 1; i <= 30; ++i) text += "line " + std::to_string(i) + "\n";
  std::string tail = TailLines(text, 20);
  EXPECT_EQ(tail.rfind("line 11\n", 0), 0u) << tail;
  EXPECT_EQ(tail.substr(tail.size() - 7), "line 30");
  EXPECT_EQ(std::count(tail.begin(), tail.end(), '\n'), 19);
  EXPECT_EQ(TailLines("one\ntwo", 5), "one\ntwo");
  EXPECT_EQ(TailLines("", 5), "");
}

// ---------------------------------------------------------------------------------------------
// helm's JSON.

class StatusJsonTest : public testing::TestWithParam<int> {};

TEST_P(StatusJsonTest, RealStatus) {
  const int major = GetParam();
  auto s = ParseStatusJson(ReadData("status-helm" + std::to_string(major) + ".json"));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s.value().name, "demoapp");
  EXPECT_EQ(s.value().ns, "cap" + std::to_string(major));
  EXPECT_EQ(s.value().current.number, 3);
  EXPECT_EQ(s.value().current.status, "deployed");
  EXPECT_EQ(s.value().current.description, "Rollback to 1");
  EXPECT_EQ(s.value().current.updated.rfind("2026-11-26T19:50:", 0), 0u);
  EXPECT_EQ(s.value().first_deployed.rfind("2026-11-26T19:50:", 0), 0u);
  EXPECT_NE(s.value().first_deployed, s.value().current.updated);
  EXPECT_FALSE(s.value().current.Pending());
}

TEST_P(StatusJsonTest, RealPendingUpgrade) {
  const std::string m = std::to_string(GetParam());
  auto s = ParseStatusJson(ReadData("status-pending-upgrade-helm" + m + ".json"));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s.value().current.number, 2);
  EXPECT_EQ(s.value().current.status, "pending-upgrade");
  EXPECT_TRUE(s.value().current.Pending());
}

TEST_P(StatusJsonTest, RealHistory) {
  const std::string m = std::to_string(GetParam());
  auto h = ParseHistoryJson(ReadData("history-helm" + m + ".json"));
  ASSERT_TRUE(h.ok()) << h.error().message;
  ASSERT_EQ(h.value().size(), 3u);
  const Revision& first = h.value()[0];
  EXPECT_EQ(first.number, 1);
  EXPECT_EQ(first.status, "superseded");
  EXPECT_EQ(first.chart, "demoapp-0.1.0");
  EXPECT_EQ(first.app_version, "v1");
  EXPECT_EQ(first.description, "pipeline 42 https://gitlab.example.com/g/p/-/jobs/7");
  EXPECT_EQ(h.value()[1].description, "Upgrade complete");
  EXPECT_EQ(h.value()[2].number, 3);
  EXPECT_EQ(h.value()[2].status, "deployed");

  auto pending = ParseHistoryJson(ReadData("history-pending-install-helm" + m + ".json"));
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending.value().size(), 1u);
  EXPECT_EQ(pending.value()[0].status, "pending-install");
  EXPECT_TRUE(pending.value()[0].Pending());
}

INSTANTIATE_TEST_SUITE_P(Helm, StatusJsonTest, testing::Values(3, 4),
                         [](const auto& info) { return "helm" + std::to_string(info.param); });

TEST(HelmJsonTest, ErrorsNameTheField) {
  auto bad = ParseHistoryJson(R"([{"revision":1,"status":"deployed"},{"status":"failed"}])");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::kCluster);
  EXPECT_NE(bad.error().message.find("'[1].revision'"), std::string::npos) << bad.error().message;
  auto not_json = ParseStatusJson("Error: something");
  ASSERT_FALSE(not_json.ok());
  EXPECT_NE(not_json.error().message.find("helm status printed invalid JSON"), std::string::npos);
  auto no_info = ParseStatusJson(R"({"name":"a","version":1})");
  ASSERT_FALSE(no_info.ok());
  EXPECT_NE(no_info.error().message.find("'info'"), std::string::npos);
  EXPECT_FALSE(ParseHistoryJson(R"({"revision":1})").ok());
}

TEST(HelmJsonTest, Values) {
  auto none = ParseValuesJson("null");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none.value()->size(), 0u);
  auto some = ParseValuesJson(R"({"deployment":{"tag":"v1"}})");
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(some.value()->getObject("deployment")->getValue<std::string>("tag"), "v1");
  EXPECT_FALSE(ParseValuesJson("[1]").ok());
}

TEST(UpgradeArgsTest, RepoIsPassedAfterTheVersionAndMustNotLookLikeAFlag) {
  UpgradeRequest r = Request();
  r.chart = "demoapp";
  r.repo = "https://charts.example.com";
  auto args = UpgradeArgs(V("v3.18.0"), kConn, r);
  ASSERT_TRUE(args.ok()) << args.error().message;
  auto it = std::find(args.value().begin(), args.value().end(), "--repo");
  ASSERT_NE(it, args.value().end());
  EXPECT_EQ(*(it + 1), "https://charts.example.com");
  r.repo = "--kubeconfig=/etc/other";
  auto bad = UpgradeArgs(V("v3.18.0"), kConn, r);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::kConfig);
  EXPECT_NE(bad.error().message.find("helm repo"), std::string::npos);
}

}  // namespace
}  // namespace canaryctl::helm

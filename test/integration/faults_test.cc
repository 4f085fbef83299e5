// Injected faults (POST/DELETE /sandbox/faults) as the real kubectl sees them: a failing n-th
// PATCH, a dropped connection, a delay; and the admin endpoint refusing a bad rule.
#include "sandbox_fixture.h"

namespace canaryctl::integration {
namespace {

using Poco::Dynamic::Var;

constexpr const char* kTargetPath = "^/api/v1/namespaces/faults/configmaps/target$";

class FaultsTest : public SandboxTest {
 protected:
  void SetUp() override {
    SandboxTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(Succeeded(Kubectl({"create", "namespace", "faults"})));
    ASSERT_TRUE(Succeeded(
        Kubectl({"create", "configmap", "target", "-n", "faults", "--from-literal=v=0"})));
  }

  void AddRule(const std::string& json) {
    HttpResult r = sandbox_.Http("POST", "/sandbox/faults", json);
    ASSERT_TRUE(r.status >= 200 && r.status < 300)
        << "POST /sandbox/faults " << json << " -> " << r.status << " " << r.body << r.error;
  }

  CommandResult PatchTo(const std::string& v) {
    return Kubectl({"patch", "configmap", "target", "-n", "faults", "--type", "merge", "-p",
                    R"({"data":{"v":")" + v + R"("}})"});
  }

  std::optional<std::string> Value() {
    return Str(Get({"get", "configmap", "target", "-n", "faults"}), "/data/v");
  }
};

TEST_P(FaultsTest, NthPatchFailsWith500ThenTheRuleIsSpent) {
  AddRule(std::string(R"({"method":"PATCH","path":")") + kTargetPath +
          R"(","nth":2,"count":1,"status":500})");
  ASSERT_TRUE(Succeeded(PatchTo("1")));  // the first match passes
  EXPECT_EQ(Value(), "1");

  CommandResult failed = PatchTo("2");  // the second fails
  EXPECT_TRUE(FailedWith(failed, "Error from server"));
  EXPECT_TRUE(FailedWith(failed, "InternalError"));
  EXPECT_EQ(Value(), "1");

  ASSERT_TRUE(Succeeded(PatchTo("3")));  // spent
  EXPECT_EQ(Value(), "3");

  // Other methods and paths were never affected.
  ASSERT_TRUE(
      Succeeded(Kubectl({"create", "configmap", "other", "-n", "faults", "--from-literal=v=x"})));
  ASSERT_TRUE(Succeeded(Kubectl({"patch", "configmap", "other", "-n", "faults", "--type", "merge",
                                 "-p", R"({"data":{"v":"y"}})"})));
}

TEST_P(FaultsTest, DroppedConnectionIsAnErrorForKubectl) {
  AddRule(std::string(R"({"method":"PATCH","path":")") + kTargetPath +
          R"(","nth":1,"count":1,"drop":true})");
  CommandResult dropped = PatchTo("1");
  EXPECT_FALSE(dropped.ok()) << dropped.Describe();
  EXPECT_FALSE(dropped.timed_out) << dropped.Describe();
  EXPECT_FALSE(dropped.err.empty()) << dropped.Describe();
  EXPECT_EQ(Value(), "0");
  ASSERT_TRUE(Succeeded(PatchTo("2")));
  EXPECT_EQ(Value(), "2");
}

TEST_P(FaultsTest, DelayThenClearAllRules) {
  AddRule(std::string(R"({"method":"GET","path":")") + kTargetPath +
          R"(","nth":1,"count":0,"delayMs":1500})");
  CommandResult slow = Kubectl({"get", "configmap", "target", "-n", "faults"});
  ASSERT_TRUE(Succeeded(slow));
  EXPECT_GE(slow.elapsed, 1500ms);
  CommandResult timed_out =
      Kubectl({"get", "configmap", "target", "-n", "faults", "--request-timeout=300ms"});
  EXPECT_FALSE(timed_out.ok()) << timed_out.Describe();

  // A 500 on every PATCH, on top of the delay; DELETE clears both.
  AddRule(R"({"method":"PATCH","path":".*/configmaps/.*","nth":1,"count":0,"status":503})");
  EXPECT_FALSE(PatchTo("1").ok());
  HttpResult cleared = sandbox_.Http("DELETE", "/sandbox/faults");
  ASSERT_TRUE(cleared.status >= 200 && cleared.status < 300)
      << cleared.status << " " << cleared.body << cleared.error;
  CommandResult fast = Kubectl({"get", "configmap", "target", "-n", "faults"});
  ASSERT_TRUE(Succeeded(fast));
  EXPECT_LT(fast.elapsed, 1500ms);
  ASSERT_TRUE(Succeeded(PatchTo("4")));
  EXPECT_EQ(Value(), "4");
}

TEST_P(FaultsTest, BadRulesAreRefused) {
  for (const std::string bad :
       {R"({"method":"PATCH","nth":0,"status":500})", R"({"path":"([unclosed","status":500})",
        R"({"status":"five hundred"})", R"({"status":500,"bogus":1})", R"(not json)"}) {
    HttpResult r = sandbox_.Http("POST", "/sandbox/faults", bad);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body << r.error;
  }
  // None of them took effect.
  ASSERT_TRUE(Succeeded(PatchTo("1")));
  EXPECT_EQ(Value(), "1");
}

INSTANTIATE_TEST_SUITE_P(Tools, FaultsTest, testing::ValuesIn(ToolSets()), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration

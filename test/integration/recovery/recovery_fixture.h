// The fixture of the fault tests (issue 6): a hybrid rollout of the demo chart deployed and
// tested at 0% by pipeline 100, canaryctl runs as any pipeline, and the invariants every fault
// scenario ends with (RolloutFixture::ExpectInvariants): the VirtualService exists, its managed
// route's weights are integers summing to 100 and equal either the weights before the command
// or its target, every field canaryctl does not manage is unchanged, and the state annotation
// parses and records those weights.
#pragma once

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "rollout_fixture.h"

namespace canaryctl::integration {

struct Split {
  int stable = 0;
  int candidate = 0;
  bool operator==(const Split&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Split& s) {
  return os << s.stable << "/" << s.candidate;
}

// What the scenarios have in common; each test file adds its own races.
class RecoveryTest : public RolloutFixture {
 protected:
  static std::string JobUrl(const std::string& pipeline) {
    return "https://gitlab.example.com/team/demoapp/-/jobs/" + pipeline + "7";
  }

  // canaryctl as a job of `pipeline` (not pipeline_: several pipelines run at once).
  CommandResult RunAs(const std::string& pipeline, std::vector<std::string> args,
                      std::map<std::string, std::string> env = {}) {
    env["CI_PIPELINE_ID"] = pipeline;
    env["CI_JOB_URL"] = JobUrl(pipeline);
    return Canaryctl(std::move(args), env);
  }

  // The user's VirtualService, then deploy and test at 0% by pipeline 100 (which keeps the
  // lock). `extra` is added to rollout.yaml, `check` (when set) to its checks.
  void Deployed(const std::string& extra = "", const std::string& check = "") {
    // No stable release is needed: shift runs no helm, and the checks do not reach it.
    ASSERT_TRUE(Succeeded(Kubectl({"create", "namespace", "prod"})));
    ASSERT_TRUE(Succeeded(Kubectl({"apply", "-f", Write("vs.yaml", kVirtualService)})));
    config_ = Config(kHybrid, extra);
    if (!check.empty()) InsertCheck(check);
    ASSERT_TRUE(Succeeded(RunAs("100", {"deploy"})));
    ASSERT_TRUE(Succeeded(RunAs("100", {"test"})));
  }

  // Adds a check to rollout.yaml, before the others.
  void InsertCheck(const std::string& line) {
    std::string yaml = ReadFile(config_);
    const std::string key = "checks:\n";
    yaml.insert(yaml.find(key) + key.size(), "  - " + line + "\n");
    config_ = work_->Write("rollout.yaml", yaml);
  }

  // The VirtualService as the API serves it now, read directly (a kubectl per read would make
  // the rounds of the races slow).
  Poco::Dynamic::Var VsNow() {
    const HttpResult r = sandbox_.Http("GET", kVirtualServicePath);
    EXPECT_EQ(r.status, 200) << r.error << r.body;
    return r.status == 200 ? ParseJson(r.body) : Poco::Dynamic::Var();
  }

  // RolloutFixture::ExpectInvariants for the hybrid rollout, as `holder` (the pipeline whose
  // lock is expected, if any); returns the managed route's weights it checked.
  Split ExpectRecoveryInvariants(Split before, Split target, const std::string& when,
                                 const std::string& holder = "100") {
    const std::string self = pipeline_;
    pipeline_ = holder;
    ExpectInvariants(kHybrid, {before.stable, before.candidate}, {target.stable, target.candidate},
                     when);
    pipeline_ = self;
    auto w = Weights(VsNow());
    return {w[Fqdn(kHybrid.stable_service, kHybrid.stable_ns)],
            w[Fqdn(kHybrid.candidate_service, kHybrid.candidate_ns)]};
  }

  // 409s the sandbox answered to canaryctl's PATCHes (its request log).
  size_t CanaryctlConflicts() {
    std::istringstream log(ReadFile(sandbox_.request_log_path()));
    size_t n = 0;
    for (std::string line; std::getline(log, line);) {
      if (line.find("\"userAgent\":\"canaryctl/") != std::string::npos &&
          line.find("\"method\":\"PATCH\"") != std::string::npos &&
          line.find("\"status\":409") != std::string::npos) {
        ++n;
      }
    }
    return n;
  }

  static Poco::Dynamic::Var StateOf(const Poco::Dynamic::Var& vs) {
    return ParseJson(Str(vs, "/metadata/annotations/canaryctl.io~1state").value_or(""));
  }
  static std::string LockPipeline(const Poco::Dynamic::Var& vs) {
    const auto text = Str(vs, "/metadata/annotations/canaryctl.io~1lock");
    return text ? Str(ParseJson(*text), "/pipelineId").value_or("?") : "";
  }
};

// The races need one set of clients only: they are between canaryctl processes and the sandbox.
inline std::vector<ToolSet> NewestTools() { return {ToolSets().back()}; }

}  // namespace canaryctl::integration

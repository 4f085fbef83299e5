// Proof under faults (issue 6), the fault matrix: for each of deploy, test, shift, promote and
// rollback, and for each API request that command makes, the sandbox fails exactly that request
// with a 500, a 409, a 429, a timeout or a dropped connection; then the invariants of
// RolloutFixture::ExpectInvariants must hold, the reports must say what happened, and the same
// command rerun without faults must converge to its target.
//
// Only canaryctl's own requests are faulted (fault rules match the user agent "^canaryctl/"):
// helm's requests are helm's retry logic, not ours, and helm failing as a whole is covered by
// helm_failure_test.cc. A timeout costs canaryctl's attempt timeout (10 s, not configurable), so
// timeouts are injected at a sample of each command's requests: its first read, its first
// write and its last request; every other kind at every request. The counts are printed.
// Numbers (hybrid, helm 3): deploy makes 12 requests, test, shift, promote and rollback 5 each,
// so 51 + 4 x 23 = 143 scenarios.
//
// The "before" state of each command is made once per test (the flow up to that command), saved
// as the VirtualService's JSON and put back before each scenario, so that each scenario starts
// from the same state and makes the same requests as the baseline run that numbered them.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>

#include "faults_fixture.h"

namespace canaryctl::integration {
namespace {

namespace fs = std::filesystem;

// canaryctl's attempt timeout (kube/retry_policy.h) plus a margin: the server answers later.
constexpr int kTimeoutDelayMs = 11000;

struct Fault {
  std::string name;
  std::string spec;  // the effect, as JSON members of the rule
};
const std::vector<Fault> kFaults = {
    {"500", R"("status":500)"}, {"409", R"("status":409)"},
    {"429", R"("status":429)"}, {"timeout", R"("delayMs":)" + std::to_string(kTimeoutDelayMs)},
    {"drop", R"("drop":true)"},
};

// Printed when the tests end: "fault matrix: 143 scenarios run (deploy 51, ...), 143 passed".
CommandTally* const kTally = static_cast<CommandTally*>(
    testing::AddGlobalTestEnvironment(new CommandTally("fault matrix", "scenarios run", "passed")));

struct RequestSeen {
  std::string method, path;
};

class FaultMatrixTest : public FaultsFixture {
 protected:
  void ClearFaults() {
    auto r = sandbox_.Http("DELETE", "/sandbox/faults");
    ASSERT_EQ(r.status / 100, 2) << r.error << r.body;
  }

  void AddFault(size_t nth, const Fault& fault) {
    const std::string rule = R"({"userAgent":"^canaryctl/","nth":)" + std::to_string(nth) +
                             R"(,"count":1,)" + fault.spec + "}";
    auto r = sandbox_.Http("POST", "/sandbox/faults", rule);
    ASSERT_EQ(r.status, 201) << rule << ": " << r.error << r.body;
  }

  // canaryctl's requests in the request log from line `from` on.
  std::vector<RequestSeen> CanaryctlRequestsSince(size_t from) {
    std::istringstream log(ReadFile(sandbox_.request_log_path()));
    std::vector<RequestSeen> out;
    static const std::regex kMethod(R"re("method":"([A-Z]+)")re");
    static const std::regex kPath(R"re("path":"([^"]*)")re");
    size_t n = 0;
    for (std::string line; std::getline(log, line);) {
      if (line.find("\"userAgent\":\"canaryctl/") == std::string::npos) continue;
      if (n++ < from) continue;
      std::smatch m, p;
      std::regex_search(line, m, kMethod);
      std::regex_search(line, p, kPath);
      out.push_back({m.size() > 1 ? m[1].str() : "?", p.size() > 1 ? p[1].str() : "?"});
    }
    return out;
  }

  // The matrix for one command from the saved state; `after_phase` is the phase it converges to.
  void Matrix(const std::string& name, const std::vector<std::string>& args,
              std::pair<int, int> before, std::pair<int, int> target,
              const std::string& after_phase, bool keeps_lock, size_t first = 1,
              size_t last = SIZE_MAX) {
    const std::string saved = SaveVs();
    ASSERT_FALSE(saved.empty());
    // Two baseline runs: the first may create what later runs find (namespaces, releases).
    std::vector<RequestSeen> baseline;
    for (int i = 0; i < 2; ++i) {
      RestoreVs(saved);
      const size_t from = CanaryctlRequests();
      auto r = Canaryctl(args);
      ASSERT_TRUE(Succeeded(r)) << "baseline " << name;
      baseline = CanaryctlRequestsSince(from);
    }
    ASSERT_FALSE(baseline.empty());
    std::set<size_t> timeout_at = {1, baseline.size()};
    for (size_t i = 0; i < baseline.size(); ++i) {
      if (baseline[i].method != "GET") {
        timeout_at.insert(i + 1);
        break;
      }
    }
    std::string numbered;
    for (size_t i = 0; i < baseline.size(); ++i) {
      numbered +=
          "  " + std::to_string(i + 1) + ": " + baseline[i].method + " " + baseline[i].path + "\n";
    }
    std::cout << name << ": " << baseline.size() << " requests\n" << numbered;

    int run = 0, passed = 0;
    std::map<int, int> exits;
    last = std::min(last, baseline.size());
    for (size_t nth = first; nth <= last; ++nth) {
      for (const Fault& fault : kFaults) {
        if (fault.name == "timeout" && !timeout_at.count(nth)) continue;
        const std::string when = name + ": " + fault.name + " at request " + std::to_string(nth) +
                                 " (" + baseline[nth - 1].method + " " + baseline[nth - 1].path +
                                 ")";
        SCOPED_TRACE(when);
        const int failures = FailureCount();
        ++run;
        RestoreVs(saved);
        fs::remove_all(work_->path() + "/reports");
        AddFault(nth, fault);
        auto faulted = Canaryctl(args);
        ++exits[faulted.exit_code];
        // A fault the client's retries absorb leaves no trace; the rest must be a documented
        // cluster error that names what failed.
        std::set<int> allowed = {0, 3};
        if (name == "rollback") allowed.insert(5);
        EXPECT_TRUE(allowed.count(faulted.exit_code)) << faulted.Describe();
        if (faulted.exit_code != 0) {
          std::string lower = faulted.err;
          std::transform(lower.begin(), lower.end(), lower.begin(),
                         [](unsigned char c) { return std::tolower(c); });
          const bool named = lower.find("injected fault") != std::string::npos ||
                             lower.find("409") != std::string::npos ||
                             lower.find("conflict") != std::string::npos ||
                             lower.find("timeout") != std::string::npos ||
                             lower.find("timed out") != std::string::npos ||
                             lower.find("connection") != std::string::npos;
          EXPECT_TRUE(named) << faulted.Describe();
        }
        ExpectInvariants(kHybrid, before, target, when);
        ExpectReportsSayWhatHappened(kHybrid, faulted.exit_code, when);
        ClearFaults();
        auto rerun = Canaryctl(args);
        EXPECT_TRUE(Succeeded(rerun)) << when;
        ExpectWeights(kHybrid, target.first, target.second, when + ", rerun");
        EXPECT_EQ(Str(State(), "/phase"), after_phase) << when;
        EXPECT_EQ(Locked(), keeps_lock) << when;
        ExpectInvariants(kHybrid, target, target, when + ", rerun");
        ExpectReportsSayWhatHappened(kHybrid, rerun.exit_code, when + ", rerun");
        if (FailureCount() == failures) ++passed;
      }
    }
    std::string exit_list;
    for (const auto& [code, n] : exits) {
      exit_list +=
          (exit_list.empty() ? "" : ", ") + std::to_string(n) + "x exit " + std::to_string(code);
    }
    size_t timeouts = 0;
    for (size_t t : timeout_at) timeouts += t >= first && t <= last;
    std::cout << "fault matrix " << name << ": " << run << " scenarios run, " << passed
              << " passed (requests " << first << "-" << last << " of " << baseline.size()
              << " x 4 kinds + " << timeouts << " timeouts; " << exit_list << ")" << std::endl;
    RecordProperty("scenarios_" + name, run);
    RecordProperty("passed_" + name, passed);
    kTally->Add(name, run, passed);
    EXPECT_EQ(passed, run);
  }
};

// deploy makes the most requests and runs helm in every scenario: two halves, run in parallel.
TEST_P(FaultMatrixTest, DeployFirstHalf) {
  Matrix("deploy", {"deploy"}, {100, 0}, {100, 0}, "deployed", true, 1, 6);
}

TEST_P(FaultMatrixTest, DeploySecondHalf) {
  Matrix("deploy", {"deploy"}, {100, 0}, {100, 0}, "deployed", true, 7);
}

TEST_P(FaultMatrixTest, Test) {
  Reach({{"deploy"}});
  Matrix("test", {"test"}, {100, 0}, {100, 0}, "testing", true);
}

TEST_P(FaultMatrixTest, Shift) {
  Reach({{"deploy"}, {"test"}});
  Matrix("shift", {"shift", "30"}, {100, 0}, {70, 30}, "shifted", true);
}

TEST_P(FaultMatrixTest, Promote) {
  Reach({{"deploy"}, {"test"}, {"--skip-steps", "shift", "100"}});
  Matrix("promote", {"promote"}, {0, 100}, {100, 0}, "promoted", false);
}

TEST_P(FaultMatrixTest, Rollback) {
  Reach({{"deploy"}, {"test"}, {"shift", "30"}});
  Matrix("rollback", {"rollback"}, {70, 30}, {100, 0}, "rolled-back", false);
}

// canaryctl's own requests do not depend on the helm version; helm 3 + kubectl 1.33 keeps the
// matrix within its time budget.
INSTANTIATE_TEST_SUITE_P(Tools, FaultMatrixTest, testing::Values(ToolSets().front()), ToolSetName);

}  // namespace
}  // namespace canaryctl::integration

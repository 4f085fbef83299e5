// What the fault tests share: the hybrid flow with the VirtualService that holds fields canaryctl
// must not touch, driven to the state before a command, saved, and put back before each
// scenario so that every scenario starts from the same state.
#pragma once

#include <iostream>
#include <map>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include "rollout_fixture.h"

namespace canaryctl::integration {

class FaultsFixture : public RolloutFixture {
 protected:
  void SetUp() override {
    RolloutFixture::SetUp();
    if (HasFatalFailure()) return;
    InstallStable(kHybrid);
    ASSERT_FALSE(HasFatalFailure());
    config_ = Config(kHybrid);
    ASSERT_TRUE(Succeeded(Kubectl({"apply", "-f", Write("vs.yaml", kVirtualService)})));
  }

  // Makes the flow reach the state before a command by running these commands.
  void Reach(const std::vector<std::vector<std::string>>& commands) {
    for (const auto& args : commands) ASSERT_TRUE(Succeeded(Canaryctl(args))) << args[0];
  }

  std::string SaveVs() {
    auto r = sandbox_.Http("GET", kVirtualServicePath);
    EXPECT_EQ(r.status, 200) << r.error << r.body;
    return r.body;
  }

  // Puts the saved VirtualService back (annotations, state and lock included), as of now.
  void RestoreVs(const std::string& saved) {
    const std::string rv =
        Str(ParseJson(sandbox_.Http("GET", kVirtualServicePath).body), "/metadata/resourceVersion")
            .value_or("");
    ASSERT_FALSE(rv.empty());
    static const std::regex kRv(R"("resourceVersion"\s*:\s*"[0-9]+")");
    const std::string body = std::regex_replace(saved, kRv, "\"resourceVersion\":\"" + rv + "\"",
                                                std::regex_constants::format_first_only);
    auto r = sandbox_.Http("PUT", kVirtualServicePath, body);
    ASSERT_EQ(r.status, 200) << r.error << r.body;
  }
};

// Per-command counts over the tests this process ran, printed as one closing line when the
// tests end: "<title>: <n> <unit> (deploy 12, shift 23, ...), <ok> <ok_word>".
class CommandTally : public testing::Environment {
 public:
  CommandTally(std::string title, std::string unit, std::string ok_word)
      : title_(std::move(title)), unit_(std::move(unit)), ok_word_(std::move(ok_word)) {}

  void Add(const std::string& command, int runs, int ok) {
    std::lock_guard<std::mutex> lock(mu_);
    runs_[command] += runs;
    ok_[command] += ok;
  }

  void TearDown() override {
    std::lock_guard<std::mutex> lock(mu_);
    int runs = 0, ok = 0;
    std::string per;
    for (const auto& [command, n] : runs_) {
      runs += n;
      ok += ok_[command];
      per += (per.empty() ? "" : ", ") + command + " " + std::to_string(n);
    }
    if (runs > 0) {
      std::cout << title_ << ": " << runs << " " << unit_ << " (" << per << "), " << ok << " "
                << ok_word_ << std::endl;
    }
  }

 private:
  const std::string title_, unit_, ok_word_;
  std::mutex mu_;
  std::map<std::string, int> runs_, ok_;
};

}  // namespace canaryctl::integration

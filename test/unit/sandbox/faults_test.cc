#include "sandbox/faults.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace sandbox {
namespace {

int64_t AddOk(FaultInjector& faults, const std::string& body) {
  auto rule = faults.AddJson(body);
  EXPECT_TRUE(rule.ok()) << body << ": " << (rule.ok() ? "" : rule.error().message);
  if (!rule.ok()) return 0;
  return rule.value()->getValue<int64_t>("id");
}

ApiError AddBad(FaultInjector& faults, const std::string& body) {
  auto rule = faults.AddJson(body);
  EXPECT_FALSE(rule.ok()) << body << " was accepted";
  return rule.ok() ? ApiError{} : rule.error();
}

json::ObjectPtr RuleById(const FaultInjector& faults, int64_t id) {
  json::ArrayPtr rules = faults.List();
  for (size_t i = 0; i < rules->size(); ++i) {
    json::ObjectPtr rule = rules->getObject(static_cast<unsigned>(i));
    if (rule->getValue<int64_t>("id") == id) return rule;
  }
  return nullptr;
}

// Which of the first n identical requests fired.
std::vector<bool> Fired(FaultInjector& faults, int n, const std::string& method = "GET",
                        const std::string& path = "/api/v1/namespaces") {
  std::vector<bool> out;
  for (int i = 0; i < n; ++i) out.push_back(faults.Match(method, path).has_value());
  return out;
}

TEST(FaultInjectorTest, NoRulesNeverFires) {
  FaultInjector faults;
  EXPECT_FALSE(faults.Match("GET", "/version").has_value());
  EXPECT_EQ(faults.List()->size(), 0u);
}

TEST(FaultInjectorTest, DefaultsFailTheNextMatchingRequestOnceWith500) {
  FaultInjector faults;
  AddOk(faults, "{}");
  auto first = faults.Match("GET", "/version");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 500);
  EXPECT_FALSE(first->drop);
  EXPECT_EQ(first->delay_ms, 0);
  EXPECT_FALSE(faults.Match("GET", "/version").has_value());
}

TEST(FaultInjectorTest, NthAndCountSelectAWindowOfMatchingRequests) {
  FaultInjector faults;
  int64_t id = AddOk(faults, R"({"nth": 3, "count": 2, "status": 503})");
  EXPECT_EQ(Fired(faults, 6), (std::vector<bool>{false, false, true, true, false, false}));
  json::ObjectPtr rule = RuleById(faults, id);
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->getValue<int64_t>("matched"), 6);
  EXPECT_EQ(rule->getValue<int64_t>("fired"), 2);
}

TEST(FaultInjectorTest, CountZeroFiresForeverFromNth) {
  FaultInjector faults;
  AddOk(faults, R"({"nth": 2, "count": 0})");
  EXPECT_EQ(Fired(faults, 5), (std::vector<bool>{false, true, true, true, true}));
}

TEST(FaultInjectorTest, MethodIsCaseInsensitiveAndOnlyMatchingRequestsCount) {
  FaultInjector faults;
  int64_t id = AddOk(faults, R"({"method": "patch", "nth": 2, "status": 409})");
  EXPECT_FALSE(faults.Match("GET", "/api").has_value());
  EXPECT_FALSE(faults.Match("PATCH", "/api").has_value());  // 1st PATCH
  EXPECT_FALSE(faults.Match("PUT", "/api").has_value());
  auto second = faults.Match("PATCH", "/apis/apps/v1");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, 409);
  EXPECT_EQ(second->rule_id, id);
  EXPECT_EQ(RuleById(faults, id)->getValue<int64_t>("matched"), 2);
  EXPECT_EQ(RuleById(faults, id)->getValue<std::string>("method"), "PATCH");
}

TEST(FaultInjectorTest, PathRegexMustMatchTheWholePath) {
  FaultInjector faults;
  AddOk(faults, R"({"path": "/api/v1/namespaces/[^/]+/secrets", "count": 0})");
  EXPECT_TRUE(faults.Match("GET", "/api/v1/namespaces/prod/secrets").has_value());
  EXPECT_FALSE(faults.Match("GET", "/api/v1/namespaces/prod/secrets/x").has_value());
  EXPECT_FALSE(faults.Match("GET", "/x/api/v1/namespaces/prod/secrets").has_value());
  EXPECT_FALSE(faults.Match("GET", "/api/v1/namespaces/a/b/secrets").has_value());
}

// Helm and canaryctl hit the same paths: a rule naming a user agent fails only that client's
// requests, and only they move its window.
TEST(FaultInjectorTest, UserAgentRegexSelectsOneClientAndOnlyItsRequestsCount) {
  FaultInjector faults;
  const int64_t id = AddOk(faults, R"({"userAgent": "^canaryctl/", "nth": 2})");
  const std::string path = "/apis/networking.istio.io/v1/namespaces/prod/virtualservices/demoapp";
  const std::string helm = "Helm/3.18.4";
  const std::string ours = "canaryctl/0.1.0";
  EXPECT_FALSE(faults.Match("GET", path, helm).has_value());
  EXPECT_FALSE(faults.Match("GET", path, ours).has_value());  // 1st of ours
  EXPECT_FALSE(faults.Match("GET", path, helm).has_value());
  EXPECT_FALSE(faults.Match("GET", path, "").has_value());                   // no agent: not ours
  EXPECT_FALSE(faults.Match("GET", path, "x canaryctl/0.1.0").has_value());  // anchored
  EXPECT_TRUE(faults.Match("PATCH", path, ours).has_value());                // 2nd of ours
  EXPECT_FALSE(faults.Match("GET", path, ours).has_value());
  json::ObjectPtr rule = RuleById(faults, id);
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->getValue<std::string>("userAgent"), "^canaryctl/");
  EXPECT_EQ(rule->getValue<int64_t>("matched"), 3);
  EXPECT_EQ(rule->getValue<int64_t>("fired"), 1);
  // A rule without userAgent matches every client, with or without one.
  AddOk(faults, R"({"count": 0})");
  EXPECT_TRUE(faults.Match("GET", path, helm).has_value());
  EXPECT_TRUE(faults.Match("GET", path).has_value());
}

TEST(FaultInjectorTest, ActionCarriesDelayDropAndMessage) {
  FaultInjector faults;
  AddOk(faults, R"({"delayMs": 250})");
  auto delay = faults.Match("GET", "/");
  ASSERT_TRUE(delay.has_value());
  EXPECT_EQ(delay->delay_ms, 250);
  EXPECT_EQ(delay->status, 0) << "a delay alone answers normally afterwards";
  EXPECT_FALSE(delay->drop);

  AddOk(faults, R"({"drop": true, "message": "gone fishing", "status": 502})");
  auto drop = faults.Match("GET", "/");
  ASSERT_TRUE(drop.has_value());
  EXPECT_TRUE(drop->drop);
  EXPECT_EQ(drop->status, 502);
  EXPECT_EQ(drop->message, "gone fishing");
}

TEST(FaultInjectorTest, OldestFiringRuleWinsAndShadowedRuleStillCounts) {
  FaultInjector faults;
  int64_t first = AddOk(faults, R"({"status": 500})");
  int64_t second = AddOk(faults, R"({"status": 429, "nth": 1, "count": 2})");
  EXPECT_LT(first, second);
  auto a = faults.Match("GET", "/");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->status, 500);
  EXPECT_EQ(a->rule_id, first);
  auto b = faults.Match("GET", "/");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->status, 429);
  EXPECT_EQ(b->rule_id, second);
  EXPECT_FALSE(faults.Match("GET", "/").has_value());
  EXPECT_EQ(RuleById(faults, second)->getValue<int64_t>("matched"), 3);
  EXPECT_EQ(RuleById(faults, second)->getValue<int64_t>("fired"), 1);
}

TEST(FaultInjectorTest, RemoveAndClear) {
  FaultInjector faults;
  int64_t a = AddOk(faults, R"({"path": "/a", "count": 0})");
  int64_t b = AddOk(faults, R"({"path": "/b", "count": 0})");
  EXPECT_NE(a, b);
  EXPECT_TRUE(faults.Remove(a));
  EXPECT_FALSE(faults.Remove(a));
  EXPECT_FALSE(faults.Remove(12345));
  EXPECT_FALSE(faults.Match("GET", "/a").has_value());
  EXPECT_TRUE(faults.Match("GET", "/b").has_value());
  faults.Clear();
  EXPECT_FALSE(faults.Match("GET", "/b").has_value());
  EXPECT_EQ(faults.List()->size(), 0u);
  // Ids are not reused after a clear, so a stale DELETE cannot hit a new rule.
  EXPECT_GT(AddOk(faults, "{}"), b);
}

TEST(FaultInjectorTest, ListShowsTheRuleAsAccepted) {
  FaultInjector faults;
  auto added = faults.AddJson(
      R"({"method": "DELETE", "path": "/x.*", "nth": 4, "count": 0, "status": 504,
          "delayMs": 10, "drop": false, "message": "m"})");
  ASSERT_TRUE(added.ok());
  json::ObjectPtr rule = RuleById(faults, added.value()->getValue<int64_t>("id"));
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->getValue<std::string>("method"), "DELETE");
  EXPECT_EQ(rule->getValue<std::string>("path"), "/x.*");
  EXPECT_EQ(rule->getValue<int64_t>("nth"), 4);
  EXPECT_EQ(rule->getValue<int64_t>("count"), 0);
  EXPECT_EQ(rule->getValue<int64_t>("status"), 504);
  EXPECT_EQ(rule->getValue<int64_t>("delayMs"), 10);
  EXPECT_EQ(rule->getValue<std::string>("message"), "m");
  EXPECT_EQ(rule->getValue<int64_t>("matched"), 0);
}

TEST(FaultInjectorTest, BadRulesAreRejectedWith400NamingTheProblem) {
  FaultInjector faults;
  struct Case {
    const char* body;
    const char* mentions;
  };
  const Case cases[] = {
      {R"({"path": "(unclosed"})", "regex"},
      {R"({"pth": "/api"})", "pth"},
      {R"({"status": 99})", "status"},
      {R"({"status": 600})", "status"},
      {R"({"status": "500"})", "status"},
      {R"({"status": 500.5})", "status"},
      {R"({"nth": 0})", "nth"},
      {R"({"count": -1})", "count"},
      {R"({"delayMs": -5})", "delayMs"},
      {R"({"drop": "yes"})", "drop"},
      {R"({"method": 5})", "method"},
      {R"({"path": ["/a"]})", "path"},
      {R"({"userAgent": "(canaryctl"})", "userAgent"},
      {R"({"userAgent": 7})", "userAgent"},
      {R"([1, 2])", ""},
      {R"({"status": )", ""},
  };
  for (const Case& c : cases) {
    ApiError error = AddBad(faults, c.body);
    EXPECT_EQ(error.code, 400) << c.body;
    EXPECT_EQ(error.reason, "BadRequest") << c.body;
    EXPECT_NE(error.message.find(c.mentions), std::string::npos)
        << c.body << " -> " << error.message;
  }
  EXPECT_EQ(faults.List()->size(), 0u) << "a rejected rule must not be kept";
}

TEST(FaultInjectorTest, StatusBoundariesAreAccepted) {
  FaultInjector faults;
  AddOk(faults, R"({"status": 100})");
  AddOk(faults, R"({"status": 599})");
  EXPECT_EQ(faults.List()->size(), 2u);
}

TEST(FaultInjectorTest, CountersAreExactUnderConcurrency) {
  FaultInjector faults;
  int64_t id = AddOk(faults, R"({"nth": 100, "count": 50})");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 1000;
  std::atomic<int> fired{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        if (faults.Match("GET", "/api")) ++fired;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fired.load(), 50);
  json::ObjectPtr rule = RuleById(faults, id);
  EXPECT_EQ(rule->getValue<int64_t>("matched"), kThreads * kPerThread);
  EXPECT_EQ(rule->getValue<int64_t>("fired"), 50);
}

TEST(FaultInjectorTest, ReasonForCode) {
  EXPECT_EQ(FaultInjector::ReasonForCode(500), "InternalError");
  EXPECT_EQ(FaultInjector::ReasonForCode(409), "Conflict");
  EXPECT_EQ(FaultInjector::ReasonForCode(429), "TooManyRequests");
  EXPECT_EQ(FaultInjector::ReasonForCode(503), "ServiceUnavailable");
  EXPECT_EQ(FaultInjector::ReasonForCode(504), "Timeout");
  EXPECT_EQ(FaultInjector::ReasonForCode(418), "Unknown");
}

}  // namespace
}  // namespace sandbox

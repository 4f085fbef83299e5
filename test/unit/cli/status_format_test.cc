#include "cli/status_format.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace canaryctl::cli {
namespace {

using engine::Phase;
using engine::StatusView;
using engine::Timestamp;

Timestamp At(int64_t seconds) { return Timestamp(std::chrono::seconds(seconds)); }
constexpr int64_t kNow = 1714572000;  // 2024-05-01T14:00:00Z

Poco::JSON::Object::Ptr ParseJson(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

StatusView BaseView() {
  StatusView v;
  v.app = "demoapp";
  v.strategy = "hybrid";
  v.virtual_service = "prod/demoapp";
  v.stable_release = "prod/demoapp";
  v.candidate_release = "stage/demoapp";
  return v;
}

helm::ReleaseStatus Release(const std::string& ns, int revision, const std::string& chart,
                            const std::string& app_version) {
  helm::ReleaseStatus r;
  r.name = "demoapp";
  r.ns = ns;
  r.current.number = revision;
  r.current.status = "deployed";
  r.current.chart = chart;
  r.current.app_version = app_version;
  r.current.updated = "2024-05-01T13:50:00Z";
  return r;
}

// Field by field: engine::Release grows optional fields.
engine::Release Recorded(const std::string& chart, const std::string& version, int revision,
                         const std::string& commit) {
  engine::Release r;
  r.chart = chart;
  r.version = version;
  r.revision = revision;
  r.commit = commit;
  return r;
}

StatusView NoState() {
  StatusView v = BaseView();
  v.route_exists = false;
  return v;
}

StatusView ShiftedAt30WithLock() {
  StatusView v = BaseView();
  v.route_exists = true;
  v.route = engine::CandidateAt(30);
  v.test_route = true;
  engine::RolloutState s = engine::InitialState("demoapp", engine::Strategy::kHybrid, At(kNow));
  s.phase = Phase::kShifted;
  s.step_index = 1;
  s.target = engine::CandidateAt(30);
  s.current = engine::CandidateAt(30);
  s.stable = Recorded("demoapp-0.1.0", "v1", 3, "1111111");
  s.candidate = Recorded("demoapp-0.2.0", "v2", 5, "2222222");
  s.pipeline_id = "4242";
  s.job_url = "https://gitlab.example/demo/-/jobs/77";
  s.triggered_by = "alice";
  s.updated_at = At(kNow + 600);
  // Twelve transitions: only the last ten are shown, oldest first.
  for (int i = 0; i < 12; ++i) {
    engine::HistoryEntry h;
    h.time = At(kNow + i * 60);
    h.from = Phase::kShifting;
    h.to = Phase::kShifted;
    h.weights = engine::CandidateAt(30);
    h.job_url = "https://gitlab.example/demo/-/jobs/" + std::to_string(60 + i);
    h.message = "transition " + std::to_string(i);
    s.history.push_back(h);
  }
  v.state = s;
  v.stable = Release("prod", 3, "demoapp-0.1.0", "v1");
  v.candidate = Release("stage", 5, "demoapp-0.2.0", "v2");
  engine::Lock lock;
  lock.pipeline_id = "4242";
  lock.job_url = "https://gitlab.example/demo/-/jobs/77";
  lock.holder = "alice";
  lock.acquired = At(kNow);
  lock.expires = At(kNow + 3600);
  v.lock = lock;
  return v;
}

StatusView RolledBack() {
  StatusView v = BaseView();
  v.route_exists = true;
  v.route = engine::kAllStable;
  engine::RolloutState s = engine::InitialState("demoapp", engine::Strategy::kHybrid, At(kNow));
  s.phase = Phase::kRolledBack;
  s.step_index = 0;
  s.target = engine::kAllStable;
  s.current = engine::kAllStable;
  s.stable = Recorded("demoapp-0.1.0", "v1", 3, "1111111");
  s.candidate = Recorded("demoapp-0.2.0", "v2", 5, "2222222");
  engine::HistoryEntry h;
  h.time = At(kNow + 60);
  h.from = Phase::kShifted;
  h.to = Phase::kRollingBack;
  h.weights = engine::kAllStable;
  h.message = "check health failed";
  s.history.push_back(h);
  h.time = At(kNow + 120);
  h.from = Phase::kRollingBack;
  h.to = Phase::kRolledBack;
  s.history.push_back(h);
  v.state = s;
  v.stable = Release("prod", 3, "demoapp-0.1.0", "v1");
  v.candidate = std::nullopt;  // rollback.candidate: uninstall
  return v;
}

// The value column of the aligned "key: value" lines (those before "history:").
void ExpectAligned(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  size_t column = std::string::npos;
  while (std::getline(in, line)) {
    if (line.rfind("  ", 0) == 0) continue;  // a history entry
    size_t colon = line.find(':');
    ASSERT_NE(colon, std::string::npos) << line;
    if (line.substr(0, colon) == "history" && colon + 1 == line.size()) continue;
    size_t value = line.find_first_not_of(' ', colon + 1);
    ASSERT_NE(value, std::string::npos) << line;
    if (column == std::string::npos) column = value;
    EXPECT_EQ(value, column) << "misaligned: " << line;
  }
}

TEST(StatusText, NoState) {
  std::string text = FormatStatusText(NoState());
  EXPECT_TRUE(Contains(text, "demoapp")) << text;
  EXPECT_TRUE(Contains(text, "hybrid")) << text;
  EXPECT_TRUE(Contains(text, "prod/demoapp")) << text;
  EXPECT_TRUE(Contains(text, "idle")) << text;
  EXPECT_TRUE(Contains(text, "not created yet")) << text;
  EXPECT_TRUE(Contains(text, "prod/demoapp: not installed")) << text;
  EXPECT_TRUE(Contains(text, "stage/demoapp: not installed")) << text;
  EXPECT_TRUE(Contains(text, "none")) << text;
  EXPECT_EQ(text.back(), '\n');
  ExpectAligned(text);
}

TEST(StatusText, ShiftedAt30WithLock) {
  std::string text = FormatStatusText(ShiftedAt30WithLock());
  EXPECT_TRUE(Contains(text, "shifted")) << text;
  EXPECT_TRUE(Contains(text, "stable 70%, candidate 30%")) << text;
  EXPECT_TRUE(Contains(text, "test route present")) << text;
  EXPECT_TRUE(Contains(text, "target 70/30")) << text;
  EXPECT_TRUE(Contains(text,
                       "prod/demoapp revision 3, chart demoapp-0.1.0, app version v1, "
                       "deployed"))
      << text;
  EXPECT_TRUE(Contains(text, "stage/demoapp revision 5, chart demoapp-0.2.0, app version v2"))
      << text;
  EXPECT_TRUE(Contains(text, "held by alice (pipeline 4242)")) << text;
  EXPECT_TRUE(Contains(text, "https://gitlab.example/demo/-/jobs/77")) << text;
  EXPECT_TRUE(Contains(text, "2024-05-01T15:00:00Z")) << text;  // the lock's expiry
  EXPECT_FALSE(Contains(text, "(expired)")) << text;
  EXPECT_TRUE(Contains(text, "commit 2222222")) << text;
  // The last ten transitions only.
  EXPECT_FALSE(Contains(text, "transition 1\n") || Contains(text, "transition 1 ")) << text;
  EXPECT_TRUE(Contains(text, "transition 2")) << text;
  EXPECT_TRUE(Contains(text, "transition 11")) << text;
  EXPECT_TRUE(Contains(text, "shifting -> shifted  70/30")) << text;
  ExpectAligned(text);
}

TEST(StatusText, ExpiredLockSaysSo) {
  StatusView v = ShiftedAt30WithLock();
  v.lock_expired = true;
  EXPECT_TRUE(Contains(FormatStatusText(v), "(expired)"));
}

TEST(StatusText, RolledBack) {
  std::string text = FormatStatusText(RolledBack());
  EXPECT_TRUE(Contains(text, "rolled-back")) << text;
  EXPECT_TRUE(Contains(text, "stable 100%, candidate 0%")) << text;
  EXPECT_TRUE(Contains(text, "stage/demoapp: not installed")) << text;
  EXPECT_TRUE(Contains(text, "check health failed")) << text;
  EXPECT_TRUE(Contains(text, "rolling-back -> rolled-back")) << text;
  ExpectAligned(text);
}

TEST(StatusJson, NoState) {
  auto root = ParseJson(FormatStatusJson(NoState()));
  EXPECT_EQ(root->getValue<std::string>("app"), "demoapp");
  EXPECT_EQ(root->getValue<std::string>("strategy"), "hybrid");
  EXPECT_EQ(root->getValue<std::string>("virtualService"), "prod/demoapp");
  auto route = root->getObject("route");
  ASSERT_TRUE(route);
  EXPECT_FALSE(route->getValue<bool>("exists"));
  EXPECT_EQ(route->getValue<int>("stable"), 100);
  EXPECT_EQ(route->getValue<int>("candidate"), 0);
  EXPECT_EQ(root->getValue<std::string>("phase"), "idle");
  for (const char* key : {"stepIndex", "target", "recorded", "lock", "liveSlot"}) {
    EXPECT_TRUE(root->has(key)) << key;
    EXPECT_TRUE(root->isNull(key)) << key;
  }
  auto releases = root->getObject("releases");
  ASSERT_TRUE(releases);
  auto stable = releases->getObject("stable");
  ASSERT_TRUE(stable);
  EXPECT_EQ(stable->getValue<std::string>("namespace"), "prod");
  EXPECT_EQ(stable->getValue<std::string>("release"), "demoapp");
  EXPECT_FALSE(stable->getValue<bool>("installed"));
  EXPECT_TRUE(stable->isNull("revision"));
  EXPECT_EQ(releases->getObject("candidate")->getValue<std::string>("namespace"), "stage");
  ASSERT_TRUE(root->getArray("history"));
  EXPECT_EQ(root->getArray("history")->size(), 0u);
}

TEST(StatusJson, ShiftedAt30WithLock) {
  auto root = ParseJson(FormatStatusJson(ShiftedAt30WithLock()));
  auto route = root->getObject("route");
  EXPECT_TRUE(route->getValue<bool>("exists"));
  EXPECT_EQ(route->getValue<int>("stable"), 70);
  EXPECT_EQ(route->getValue<int>("candidate"), 30);
  EXPECT_TRUE(route->getValue<bool>("testRoute"));
  EXPECT_EQ(root->getValue<std::string>("phase"), "shifted");
  EXPECT_EQ(root->getValue<int>("stepIndex"), 1);
  EXPECT_EQ(root->getObject("target")->getValue<int>("candidate"), 30);
  EXPECT_EQ(root->getObject("target")->getValue<int>("stable"), 70);

  auto candidate = root->getObject("releases")->getObject("candidate");
  EXPECT_TRUE(candidate->getValue<bool>("installed"));
  EXPECT_EQ(candidate->getValue<int>("revision"), 5);
  EXPECT_EQ(candidate->getValue<std::string>("chart"), "demoapp-0.2.0");
  EXPECT_EQ(candidate->getValue<std::string>("appVersion"), "v2");
  EXPECT_EQ(candidate->getValue<std::string>("status"), "deployed");

  auto recorded = root->getObject("recorded");
  ASSERT_TRUE(recorded);
  for (const char* key : {"chart", "version", "revision", "commit"}) {
    EXPECT_TRUE(recorded->getObject("stable")->has(key)) << key;
  }
  EXPECT_EQ(recorded->getObject("candidate")->getValue<std::string>("commit"), "2222222");
  EXPECT_EQ(recorded->getObject("stable")->getValue<int>("revision"), 3);
  EXPECT_EQ(recorded->getValue<std::string>("jobUrl"), "https://gitlab.example/demo/-/jobs/77");

  auto lock = root->getObject("lock");
  ASSERT_TRUE(lock);
  EXPECT_EQ(lock->getValue<std::string>("pipelineId"), "4242");
  EXPECT_EQ(lock->getValue<std::string>("jobUrl"), "https://gitlab.example/demo/-/jobs/77");
  EXPECT_EQ(lock->getValue<std::string>("holder"), "alice");
  EXPECT_EQ(lock->getValue<std::string>("expires"), "2024-05-01T15:00:00Z");
  EXPECT_FALSE(lock->getValue<bool>("expired"));

  auto history = root->getArray("history");
  ASSERT_EQ(history->size(), kStatusHistory);
  auto first = history->getObject(0);
  EXPECT_EQ(first->getValue<std::string>("message"), "transition 2");
  EXPECT_EQ(first->getValue<std::string>("time"), "2024-05-01T14:02:00Z");
  EXPECT_EQ(first->getValue<std::string>("from"), "shifting");
  EXPECT_EQ(first->getValue<std::string>("to"), "shifted");
  EXPECT_EQ(first->getValue<int>("stable"), 70);
  EXPECT_EQ(first->getValue<int>("candidate"), 30);
  EXPECT_EQ(first->getValue<std::string>("jobUrl"), "https://gitlab.example/demo/-/jobs/62");
  EXPECT_EQ(history->getObject(9)->getValue<std::string>("message"), "transition 11");
}

TEST(StatusJson, RolledBack) {
  auto root = ParseJson(FormatStatusJson(RolledBack()));
  EXPECT_EQ(root->getValue<std::string>("phase"), "rolled-back");
  EXPECT_EQ(root->getObject("route")->getValue<int>("stable"), 100);
  EXPECT_TRUE(root->isNull("lock"));
  EXPECT_FALSE(root->getObject("releases")->getObject("candidate")->getValue<bool>("installed"));
  EXPECT_TRUE(root->getObject("releases")->getObject("stable")->getValue<bool>("installed"));
  auto history = root->getArray("history");
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ(history->getObject(1)->getValue<std::string>("to"), "rolled-back");
  EXPECT_EQ(history->getObject(0)->getValue<std::string>("message"), "check health failed");
}

TEST(StatusJson, StableKeyOrder) {
  std::string json = FormatStatusJson(ShiftedAt30WithLock());
  std::vector<size_t> at;
  for (const char* key :
       {"\"app\"", "\"strategy\"", "\"virtualService\"", "\"route\"", "\"phase\"", "\"stepIndex\"",
        "\"target\"", "\"releases\"", "\"recorded\"", "\"lock\"", "\"history\""}) {
    at.push_back(json.find(key));
    ASSERT_NE(at.back(), std::string::npos) << key;
  }
  EXPECT_TRUE(std::is_sorted(at.begin(), at.end())) << json;
}

TEST(StatusJson, EscapesStrings) {
  StatusView v = RolledBack();
  v.state->history[0].message = "quote \" backslash \\ newline \n tab \t";
  auto root = ParseJson(FormatStatusJson(v));
  EXPECT_EQ(root->getArray("history")->getObject(0)->getValue<std::string>("message"),
            "quote \" backslash \\ newline \n tab \t");
}

}  // namespace
}  // namespace canaryctl::cli

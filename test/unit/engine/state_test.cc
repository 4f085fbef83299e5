#include "engine/state.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <sstream>

#include "fixtures.h"

namespace canaryctl::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::StateIn;
using testing::T;

RolloutState FullState() {
  RolloutState s = StateIn(Strategy::kHybrid, Phase::kShifted, 30);
  s.step_index = 1;
  s.triggered_by = "Zoë \"the deployer\" \\ <tab>\t<nl>\n";
  s.history.push_back({T(1), Phase::kIdle, Phase::kDeployed, {100, 0}, "https://j/1", "deployed"});
  s.history.push_back({T(2), Phase::kDeployed, Phase::kTesting, {100, 0}, "https://j/2", "ok ✓"});
  s.history.push_back({T(3), Phase::kTesting, Phase::kShifting, {70, 30}, "https://j/3", ""});
  s.history.push_back({T(4), Phase::kShifting, Phase::kShifted, {70, 30}, "https://j/3", "🚀"});
  return s;
}

TEST(StateTest, RoundTripsEveryField) {
  const RolloutState s = FullState();
  ASSERT_TRUE(Validate(s).ok());
  auto parsed = ParseState(SerializeState(s));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value(), s);
}

TEST(StateTest, RoundTripsEveryPhaseStrategyAndSlot) {
  for (Strategy strategy : {Strategy::kHybrid, Strategy::kCanary, Strategy::kBlueGreen}) {
    for (const char* name : {"idle", "deployed", "testing", "shifting", "shifted", "promoting",
                             "promoted", "rolling-back", "rolled-back", "failed"}) {
      RolloutState s = StateIn(strategy, *ParsePhase(name), 100);
      if (strategy == Strategy::kBlueGreen) s.live_slot = Slot::kGreen;
      s.step_index = -1;
      auto parsed = ParseState(SerializeState(s));
      ASSERT_TRUE(parsed.ok()) << parsed.error().message;
      EXPECT_EQ(parsed.value(), s) << name;
      EXPECT_EQ(PhaseName(parsed.value().phase), name);
    }
  }
}

TEST(StateTest, SerializesDeterministicallyInAFixedKeyOrder) {
  const std::string a = SerializeState(FullState());
  EXPECT_EQ(a, SerializeState(FullState()));
  EXPECT_EQ(SerializeState(ParseState(a).value()), a);
  EXPECT_THAT(a, StartsWith(R"({"schemaVersion":1,"app":"demoapp","strategy":"hybrid",)"
                            R"("phase":"shifted","stepIndex":1,)"
                            R"("targetWeights":{"stable":70,"candidate":30},)"));
  EXPECT_THAT(a, HasSubstr(R"("startedAt":"2026-03-01T12:00:00Z")"));
}

TEST(StateTest, TimestampsAreStrictUtc) {
  EXPECT_EQ(FormatTimestamp(T(0)), "2026-03-01T12:00:00Z");
  EXPECT_EQ(ParseTimestamp("2026-03-01T12:00:00Z"), T(0));
  EXPECT_EQ(ParseTimestamp("2024-02-29T23:59:59Z"),
            ParseTimestamp("2024-03-01T00:00:00Z").value() - std::chrono::seconds{1});
  for (const char* bad : {"", "2026-03-01", "2026-03-01T12:00:00", "2026-03-01T12:00:00+01:00",
                          "2026-02-29T12:00:00Z", "2026-13-01T12:00:00Z", "2026-03-01T24:00:00Z",
                          "2026-03-01T12:60:00Z", "2026-03-01 12:00:00Z", "2026-0a-01T12:00:00Z",
                          "2026-03-01T12:00:00.5Z"}) {
    EXPECT_FALSE(ParseTimestamp(bad).has_value()) << bad;
  }
}

// Serializes FullState, lets `edit` change the JSON tree, and parses the result.
Result<RolloutState> ParseEdited(const std::function<void(Poco::JSON::Object&)>& edit) {
  Poco::JSON::Parser parser;
  auto root = parser.parse(SerializeState(FullState())).extract<Poco::JSON::Object::Ptr>();
  edit(*root);
  std::ostringstream out;
  root->stringify(out);
  return ParseState(out.str());
}

Poco::JSON::Object& Sub(Poco::JSON::Object& o, const std::string& key) { return *o.getObject(key); }

struct BadCase {
  const char* name;
  std::function<void(Poco::JSON::Object&)> edit;
  const char* expected;  // substring of the message
};

TEST(StateTest, EveryParseErrorNamesTheFieldAndHowToRecover) {
  const std::vector<BadCase> cases = {
      {"newer schema", [](auto& o) { o.set("schemaVersion", 2); },
       "field `schemaVersion`: version 2 is not supported"},
      {"schema as string", [](auto& o) { o.set("schemaVersion", "1"); },
       "field `schemaVersion`: expected an integer"},
      {"no schema", [](auto& o) { o.remove("schemaVersion"); }, "field `schemaVersion`: missing"},
      {"no app", [](auto& o) { o.remove("app"); }, "field `app`: missing"},
      {"empty app", [](auto& o) { o.set("app", ""); }, "field `app`: must not be empty"},
      {"app as number", [](auto& o) { o.set("app", 7); }, "field `app`: expected a string"},
      {"unknown strategy", [](auto& o) { o.set("strategy", "linear"); },
       "field `strategy`: \"linear\" is not one of hybrid, canary, blue-green"},
      {"unknown phase", [](auto& o) { o.set("phase", "done"); },
       "field `phase`: \"done\" is not one of idle, deployed"},
      {"fractional step", [](auto& o) { o.set("stepIndex", 1.5); },
       "field `stepIndex`: expected an integer in -1..100"},
      {"boolean step", [](auto& o) { o.set("stepIndex", true); },
       "field `stepIndex`: expected an integer"},
      {"step too far", [](auto& o) { o.set("stepIndex", 101); },
       "field `stepIndex`: 101 is outside -1..100"},
      {"weights not 100", [](auto& o) { Sub(o, "targetWeights").set("stable", 50); },
       "field `targetWeights`: weights 50+30 must be 0..100 and sum to 100"},
      {"weight as string", [](auto& o) { Sub(o, "currentWeights").set("stable", "70"); },
       "field `currentWeights.stable`: expected an integer in 0..100"},
      {"weight too big", [](auto& o) { Sub(o, "currentWeights").set("candidate", 130); },
       "field `currentWeights.candidate`: 130 is outside 0..100"},
      {"weights not object", [](auto& o) { o.set("currentWeights", "70/30"); },
       "field `currentWeights`: expected an object"},
      {"extra weight", [](auto& o) { Sub(o, "currentWeights").set("mirror", 0); },
       "field `currentWeights.mirror`: unknown field"},
      {"negative revision", [](auto& o) { Sub(o, "stable").set("revision", -1); },
       "field `stable.revision`: -1 is outside"},
      {"no candidate", [](auto& o) { o.remove("candidate"); }, "field `candidate`: missing"},
      {"no chart", [](auto& o) { Sub(o, "candidate").remove("chart"); },
       "field `candidate.chart`: missing"},
      {"unknown slot", [](auto& o) { o.set("liveSlot", "red"); },
       "field `liveSlot`: \"red\" is not one of \"\", blue, green"},
      {"slot outside blue-green", [](auto& o) { o.set("liveSlot", "blue"); },
       "field `liveSlot`: must be \"\" for strategy hybrid"},
      {"blue-green without slot", [](auto& o) { o.set("strategy", "blue-green"); },
       "field `liveSlot`: strategy blue-green needs"},
      {"bad time", [](auto& o) { o.set("startedAt", "yesterday"); },
       "field `startedAt`: expected a UTC time like 2026-01-31T12:00:00Z, got \"yesterday\""},
      {"impossible date", [](auto& o) { o.set("updatedAt", "2026-02-30T00:00:00Z"); },
       "field `updatedAt`: expected a UTC time"},
      {"updated before started", [](auto& o) { o.set("updatedAt", "2020-01-01T00:00:00Z"); },
       "field `updatedAt`: is before startedAt"},
      {"unknown top-level field", [](auto& o) { o.set("owner", "bob"); },
       "field `owner`: unknown field"},
      {"history not array", [](auto& o) { o.set("history", "none"); },
       "field `history`: expected an array"},
      {"history entry not object",
       [](auto& o) { o.getArray("history")->set(1, Poco::Dynamic::Var(5)); },
       "field `history[1]`: expected an object"},
      {"history phase", [](auto& o) { o.getArray("history")->getObject(2)->set("to", "up"); },
       "field `history[2].to`: \"up\" is not one of"},
      {"history weights",
       [](auto& o) { o.getArray("history")->getObject(3)->getObject("weights")->set("stable", 0); },
       "field `history[3].weights`: weights 0+30"},
      {"history time", [](auto& o) { o.getArray("history")->getObject(0)->remove("time"); },
       "field `history[0].time`: missing"},
      {"history extra", [](auto& o) { o.getArray("history")->getObject(0)->set("who", "x"); },
       "field `history[0].who`: unknown field"},
      {"history too long",
       [](auto& o) {
         auto h = o.getArray("history");
         while (h->size() <= kMaxHistory) h->add(h->get(0));
       },
       "field `history`: 51 entries, more than 50"},
      {"huge string", [](auto& o) { o.set("jobUrl", std::string(5000, 'x')); },
       "field `jobUrl`: longer than 4096 bytes"},
  };
  for (const auto& c : cases) {
    auto r = ParseEdited(c.edit);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.error().kind, ErrorKind::kCluster) << c.name;
    EXPECT_THAT(r.error().message, HasSubstr(c.expected)) << c.name;
    EXPECT_THAT(r.error().message,
                StartsWith("state annotation canaryctl.io/state on the VirtualService is corrupt"))
        << c.name;
    EXPECT_THAT(r.error().message, HasSubstr("to recover")) << c.name;
  }
}

TEST(StateTest, HostileDocumentsAreErrorsNotCrashes) {
  const std::string valid = SerializeState(FullState());
  struct Hostile {
    const char* name;
    std::string text;
    const char* expected;
  };
  std::string invalid_utf8 = valid;
  invalid_utf8.replace(invalid_utf8.find("demoapp"), 1, "\xff");
  std::string overlong = valid;
  overlong.replace(overlong.find("demoapp"), 1, "\xc0\xaf");
  std::string nul = valid;
  nul.replace(nul.find("demoapp"), 1, std::string(1, '\0'));
  std::string surrogate = valid;
  surrogate.replace(surrogate.find("demoapp"), 1, "\\ud800");
  const std::vector<Hostile> cases = {
      {"empty", "", "it is empty"},
      {"not json", "phase=shifted", "expected a JSON object"},
      {"broken json", "{\"app\":", "invalid JSON"},
      {"array root", "[1,2,3]", "expected a JSON object"},
      {"string root", "\"state\"", "expected a JSON object"},
      {"null", "null", "expected a JSON object"},
      {"deep nesting", "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}",
       "invalid JSON"},
      {"deep objects",
       [] {
         std::string s;
         for (int i = 0; i < 5000; ++i) s += "{\"a\":";
         return s + "1" + std::string(5000, '}');
       }(),
       "invalid JSON"},
      {"oversize", "{\"app\":\"" + std::string(300 * 1024, 'a') + "\"}", "more than the 262144"},
      {"invalid utf-8", invalid_utf8, "not valid UTF-8"},
      {"overlong utf-8", overlong, "not valid UTF-8"},
      {"nul byte", nul, "corrupt"},
      {"lone surrogate escape", surrogate, "corrupt"},
      {"huge number", R"({"schemaVersion":99999999999999999999999999})", "corrupt"},
      {"exponent", R"({"schemaVersion":1e400})", "corrupt"},
      {"trailing garbage", valid + "}", "corrupt"},
  };
  for (const auto& c : cases) {
    auto r = ParseState(c.text);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.error().kind, ErrorKind::kCluster) << c.name;
    EXPECT_THAT(r.error().message, HasSubstr(c.expected)) << c.name;
  }
}

// Fuzz-like: every truncation and thousands of seeded random mutations of a valid state either
// parse into a state that passes Validate and round-trips, or give a kCluster error.
TEST(StateTest, TruncationsAndMutationsNeverCrash) {
  const std::string valid = SerializeState(FullState());
  auto check = [](const std::string& text) {
    auto r = ParseState(text);
    if (r.ok()) {
      ASSERT_TRUE(Validate(r.value()).ok());
      auto again = ParseState(SerializeState(r.value()));
      ASSERT_TRUE(again.ok()) << again.error().message;
      ASSERT_EQ(again.value(), r.value());
    } else {
      ASSERT_EQ(r.error().kind, ErrorKind::kCluster);
      ASSERT_FALSE(r.error().message.empty());
    }
  };
  for (size_t n = 0; n < valid.size(); ++n) {
    auto r = ParseState(valid.substr(0, n));
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
  }
  std::mt19937 rng(20260301);
  const std::string alphabet = "{}[]\",:0123456789-.eE \\tnulfrsa\x80\xff\xc3";
  int parsed_ok = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string text = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const size_t pos = rng() % text.size();
      switch (rng() % 4) {
        case 0:
          text[pos] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          text.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 2:
          text.erase(pos, 1 + rng() % 8);
          break;
        case 3:
          text.insert(pos, text.substr(rng() % text.size(), 1 + rng() % 16));
          break;
      }
    }
    check(text);
    if (ParseState(text).ok()) ++parsed_ok;
  }
  // Some mutations (a digit in a message, a letter in a URL) keep the state valid; the loop must
  // exercise both outcomes to mean anything.
  EXPECT_GT(parsed_ok, 0);
  EXPECT_LT(parsed_ok, 10000);
}

TEST(StateTest, ValidateCatchesInconsistentStatesBeforeTheyAreWritten) {
  RolloutState s = FullState();
  s.current = {60, 30};
  EXPECT_FALSE(Validate(s).ok());
  s = FullState();
  s.strategy = Strategy::kBlueGreen;
  EXPECT_THAT(Validate(s).error().message, HasSubstr("liveSlot"));
  s.live_slot = Slot::kBlue;
  EXPECT_TRUE(Validate(s).ok());
}

TEST(StateTest, NamesParseBack) {
  for (Strategy st : {Strategy::kHybrid, Strategy::kCanary, Strategy::kBlueGreen}) {
    EXPECT_EQ(ParseStrategy(StrategyName(st)), st);
  }
  EXPECT_FALSE(ParseStrategy("Hybrid").has_value());
  EXPECT_EQ(OtherSlot(Slot::kBlue), Slot::kGreen);
  EXPECT_EQ(OtherSlot(Slot::kGreen), Slot::kBlue);
  EXPECT_EQ(FormatWeights(CandidateAt(30)), "70/30");
}

}  // namespace
}  // namespace canaryctl::engine

#include "engine/state.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <array>
#include <sstream>
#include <utility>

namespace canaryctl::engine {
namespace {

constexpr char kWhat[] = "state annotation canaryctl.io/state on the VirtualService";
constexpr char kRecovery[] =
    "to recover, inspect it with `kubectl get virtualservice -o yaml`, then fix it or remove the "
    "annotation (canaryctl then starts from the weights on the route; `canaryctl rollback` "
    "restores stable=100)";

constexpr std::array<std::pair<Strategy, std::string_view>, 3> kStrategies{{
    {Strategy::kHybrid, "hybrid"},
    {Strategy::kCanary, "canary"},
    {Strategy::kBlueGreen, "blue-green"},
}};

constexpr std::array<std::pair<Phase, std::string_view>, 10> kPhases{{
    {Phase::kIdle, "idle"},
    {Phase::kDeployed, "deployed"},
    {Phase::kTesting, "testing"},
    {Phase::kShifting, "shifting"},
    {Phase::kShifted, "shifted"},
    {Phase::kPromoting, "promoting"},
    {Phase::kPromoted, "promoted"},
    {Phase::kRollingBack, "rolling-back"},
    {Phase::kRolledBack, "rolled-back"},
    {Phase::kFailed, "failed"},
}};

Error Corrupt(const std::string& field, const std::string& problem) {
  return ClusterError(std::string(kWhat) + " is corrupt: field `" + field + "`: " + problem + "; " +
                      kRecovery);
}

Status ValidateWeights(Weights w, const std::string& field) {
  if (w.stable < 0 || w.stable > 100 || w.candidate < 0 || w.candidate > 100 ||
      w.stable + w.candidate != 100) {
    return Corrupt(field, "weights " + std::to_string(w.stable) + "+" +
                              std::to_string(w.candidate) + " must be 0..100 and sum to 100");
  }
  return Done{};
}

Weights ReadWeights(json::Reader& r, const Poco::JSON::Object& parent, const std::string& key,
                    const std::string& path) {
  auto obj = r.Object(parent, key, path);
  if (!r.ok()) return {};
  r.OnlyKeys(*obj, {"stable", "candidate"}, path);
  Weights w;
  w.stable = static_cast<int>(r.Int(*obj, "stable", path + ".stable", 0, 100));
  w.candidate = static_cast<int>(r.Int(*obj, "candidate", path + ".candidate", 0, 100));
  return w;
}

Release ReadRelease(json::Reader& r, const Poco::JSON::Object& parent, const std::string& key) {
  auto obj = r.Object(parent, key, key);
  if (!r.ok()) return {};
  r.OnlyKeys(*obj, {"chart", "version", "revision", "commit", "digest"}, key);
  Release rel;
  rel.chart = r.String(*obj, "chart", key + ".chart");
  rel.version = r.String(*obj, "version", key + ".version");
  rel.revision = static_cast<int>(r.Int(*obj, "revision", key + ".revision", 0, 1 << 30));
  rel.commit = r.String(*obj, "commit", key + ".commit");
  if (obj->has("digest")) rel.digest = r.String(*obj, "digest", key + ".digest");
  return rel;
}

template <typename Enum, size_t N>
Enum ReadEnum(json::Reader& r, const Poco::JSON::Object& obj, const std::string& key,
              const std::string& path,
              const std::array<std::pair<Enum, std::string_view>, N>& names) {
  const std::string s = r.String(obj, key, path);
  if (!r.ok()) return names[0].first;
  for (const auto& [value, name] : names) {
    if (name == s) return value;
  }
  std::string expected;
  for (const auto& [value, name] : names) {
    expected += (expected.empty() ? "" : ", ") + (name.empty() ? "\"\"" : std::string(name));
  }
  const std::string shown = s.size() > 64 ? s.substr(0, 64) + "..." : s;
  r.Fail(path, "\"" + shown + "\" is not one of " + expected);
  return names[0].first;
}

Poco::JSON::Object::Ptr NewObject() {
  return new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
}

Poco::JSON::Object::Ptr WeightsJson(Weights w) {
  auto o = NewObject();
  o->set("stable", w.stable);
  o->set("candidate", w.candidate);
  return o;
}

Poco::JSON::Object::Ptr ReleaseJson(const Release& rel) {
  auto o = NewObject();
  o->set("chart", rel.chart);
  o->set("version", rel.version);
  o->set("revision", rel.revision);
  o->set("commit", rel.commit);
  if (!rel.digest.empty()) o->set("digest", rel.digest);
  return o;
}

}  // namespace

std::string_view StrategyName(Strategy s) {
  for (const auto& [value, name] : kStrategies) {
    if (value == s) return name;
  }
  return "?";
}

std::optional<Strategy> ParseStrategy(std::string_view n) {
  for (const auto& [value, name] : kStrategies) {
    if (name == n) return value;
  }
  return std::nullopt;
}

std::string_view PhaseName(Phase p) {
  for (const auto& [value, name] : kPhases) {
    if (value == p) return name;
  }
  return "?";
}

std::optional<Phase> ParsePhase(std::string_view n) {
  for (const auto& [value, name] : kPhases) {
    if (name == n) return value;
  }
  return std::nullopt;
}

std::string_view SlotName(Slot s) {
  switch (s) {
    case Slot::kBlue:
      return "blue";
    case Slot::kGreen:
      return "green";
    case Slot::kNone:
      break;
  }
  return "";
}

Slot OtherSlot(Slot s) {
  switch (s) {
    case Slot::kBlue:
      return Slot::kGreen;
    case Slot::kGreen:
      return Slot::kBlue;
    case Slot::kNone:
      break;
  }
  return Slot::kNone;
}

std::string FormatWeights(Weights w) {
  return std::to_string(w.stable) + "/" + std::to_string(w.candidate);
}

RolloutState InitialState(std::string app, Strategy strategy, Timestamp now) {
  RolloutState s;
  s.app = std::move(app);
  s.strategy = strategy;
  s.live_slot = strategy == Strategy::kBlueGreen ? Slot::kBlue : Slot::kNone;
  s.started_at = now;
  s.updated_at = now;
  return s;
}

Status Validate(const RolloutState& s) {
  if (s.schema_version != kStateSchemaVersion) {
    return Corrupt("schemaVersion", "version " + std::to_string(s.schema_version) +
                                        " is not supported (this canaryctl reads version " +
                                        std::to_string(kStateSchemaVersion) +
                                        "; a newer canaryctl may have written it)");
  }
  if (s.app.empty()) return Corrupt("app", "must not be empty");
  if (s.step_index < -1 || s.step_index > 100) {
    return Corrupt("stepIndex", std::to_string(s.step_index) + " is outside -1..100");
  }
  if (auto st = ValidateWeights(s.target, "targetWeights"); !st.ok()) return st;
  if (auto st = ValidateWeights(s.current, "currentWeights"); !st.ok()) return st;
  if (s.stable.revision < 0) return Corrupt("stable.revision", "must not be negative");
  if (s.candidate.revision < 0) return Corrupt("candidate.revision", "must not be negative");
  const bool blue_green = s.strategy == Strategy::kBlueGreen;
  if (blue_green && s.live_slot == Slot::kNone) {
    return Corrupt("liveSlot", "strategy blue-green needs \"blue\" or \"green\"");
  }
  if (!blue_green && s.live_slot != Slot::kNone) {
    return Corrupt("liveSlot",
                   "must be \"\" for strategy " + std::string(StrategyName(s.strategy)));
  }
  if (s.updated_at < s.started_at) return Corrupt("updatedAt", "is before startedAt");
  if (s.history.size() > kMaxHistory) {
    return Corrupt("history", std::to_string(s.history.size()) + " entries, more than " +
                                  std::to_string(kMaxHistory));
  }
  for (size_t i = 0; i < s.history.size(); ++i) {
    const std::string field = "history[" + std::to_string(i) + "].weights";
    if (auto st = ValidateWeights(s.history[i].weights, field); !st.ok()) return st;
  }
  return Done{};
}

Result<RolloutState> ParseState(std::string_view text) {
  auto root_or = json::ParseObject(text, kWhat, kRecovery);
  if (!root_or.ok()) return root_or.error();
  const Poco::JSON::Object& root = *root_or.value();
  json::Reader r(kWhat, kRecovery);
  RolloutState s;
  // The version decides how to read the rest, so it is checked before any other field.
  s.schema_version = static_cast<int>(r.Int(root, "schemaVersion", "schemaVersion", 0, 1 << 30));
  if (!r.ok()) return r.error();
  if (s.schema_version != kStateSchemaVersion) return Validate(s).error();
  r.OnlyKeys(root,
             {"schemaVersion", "app", "strategy", "phase", "stepIndex", "targetWeights",
              "currentWeights", "stable", "candidate", "liveSlot", "pipelineId", "jobUrl",
              "triggeredBy", "startedAt", "updatedAt", "history"},
             "");
  s.app = r.String(root, "app", "app", /*allow_empty=*/false);
  s.strategy = ReadEnum(r, root, "strategy", "strategy", kStrategies);
  s.phase = ReadEnum(r, root, "phase", "phase", kPhases);
  s.step_index = static_cast<int>(r.Int(root, "stepIndex", "stepIndex", -1, 100));
  s.target = ReadWeights(r, root, "targetWeights", "targetWeights");
  s.current = ReadWeights(r, root, "currentWeights", "currentWeights");
  s.stable = ReadRelease(r, root, "stable");
  s.candidate = ReadRelease(r, root, "candidate");
  static constexpr std::array<std::pair<Slot, std::string_view>, 3> kSlots{{
      {Slot::kNone, ""},
      {Slot::kBlue, "blue"},
      {Slot::kGreen, "green"},
  }};
  s.live_slot = ReadEnum(r, root, "liveSlot", "liveSlot", kSlots);
  s.pipeline_id = r.String(root, "pipelineId", "pipelineId");
  s.job_url = r.String(root, "jobUrl", "jobUrl");
  s.triggered_by = r.String(root, "triggeredBy", "triggeredBy");
  s.started_at = r.Time(root, "startedAt", "startedAt");
  s.updated_at = r.Time(root, "updatedAt", "updatedAt");
  auto history = r.Array(root, "history", "history");
  if (!r.ok()) return r.error();
  if (history->size() > kMaxHistory) {
    r.Fail("history",
           std::to_string(history->size()) + " entries, more than " + std::to_string(kMaxHistory));
    return r.error();
  }
  for (size_t i = 0; i < history->size() && r.ok(); ++i) {
    const std::string path = "history[" + std::to_string(i) + "]";
    const Poco::Dynamic::Var item = history->get(static_cast<unsigned>(i));
    if (item.type() != typeid(Poco::JSON::Object::Ptr) ||
        item.extract<Poco::JSON::Object::Ptr>().isNull()) {
      r.Fail(path, "expected an object");
      break;
    }
    const Poco::JSON::Object& h = *item.extract<Poco::JSON::Object::Ptr>();
    r.OnlyKeys(h, {"time", "from", "to", "weights", "jobUrl", "message"}, path);
    HistoryEntry e;
    e.time = r.Time(h, "time", path + ".time");
    e.from = ReadEnum(r, h, "from", path + ".from", kPhases);
    e.to = ReadEnum(r, h, "to", path + ".to", kPhases);
    e.weights = ReadWeights(r, h, "weights", path + ".weights");
    e.job_url = r.String(h, "jobUrl", path + ".jobUrl");
    e.message = r.String(h, "message", path + ".message");
    s.history.push_back(std::move(e));
  }
  if (!r.ok()) return r.error();
  if (auto st = Validate(s); !st.ok()) return st.error();
  return s;
}

std::string SerializeState(const RolloutState& s) {
  auto root = NewObject();
  root->set("schemaVersion", s.schema_version);
  root->set("app", s.app);
  root->set("strategy", std::string(StrategyName(s.strategy)));
  root->set("phase", std::string(PhaseName(s.phase)));
  root->set("stepIndex", s.step_index);
  root->set("targetWeights", WeightsJson(s.target));
  root->set("currentWeights", WeightsJson(s.current));
  root->set("stable", ReleaseJson(s.stable));
  root->set("candidate", ReleaseJson(s.candidate));
  root->set("liveSlot", std::string(SlotName(s.live_slot)));
  root->set("pipelineId", s.pipeline_id);
  root->set("jobUrl", s.job_url);
  root->set("triggeredBy", s.triggered_by);
  root->set("startedAt", FormatTimestamp(s.started_at));
  root->set("updatedAt", FormatTimestamp(s.updated_at));
  Poco::JSON::Array::Ptr history = new Poco::JSON::Array;
  for (const auto& e : s.history) {
    auto h = NewObject();
    h->set("time", FormatTimestamp(e.time));
    h->set("from", std::string(PhaseName(e.from)));
    h->set("to", std::string(PhaseName(e.to)));
    h->set("weights", WeightsJson(e.weights));
    h->set("jobUrl", e.job_url);
    h->set("message", e.message);
    history->add(h);
  }
  root->set("history", history);
  std::ostringstream out;
  root->stringify(out);
  return out.str();
}

}  // namespace canaryctl::engine

#include "cli/status_format.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <sstream>
#include <utility>
#include <vector>

namespace canaryctl::cli {

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

Object::Ptr NewObject() { return new Object(Poco::JSON_PRESERVE_KEY_ORDER); }

// "prod/demoapp" -> {"prod", "demoapp"}; the view names releases that way.
std::pair<std::string, std::string> SplitRef(const std::string& ref) {
  auto slash = ref.find('/');
  if (slash == std::string::npos) return {"", ref};
  return {ref.substr(0, slash), ref.substr(slash + 1)};
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

Object::Ptr WeightsJson(const engine::Weights& w) {
  Object::Ptr o = NewObject();
  o->set("stable", w.stable);
  o->set("candidate", w.candidate);
  return o;
}

Object::Ptr HelmReleaseJson(const std::string& ref,
                            const std::optional<helm::ReleaseStatus>& status) {
  Object::Ptr o = NewObject();
  auto [ns, name] = SplitRef(ref);
  o->set("namespace", status ? status->ns : ns);
  o->set("release", status ? status->name : name);
  o->set("installed", status.has_value());
  if (status) {
    o->set("revision", status->current.number);
    o->set("chart", status->current.chart);
    o->set("appVersion", status->current.app_version);
    o->set("status", status->current.status);
    o->set("updated", status->current.updated);
  } else {
    for (const char* key : {"revision", "chart", "appVersion", "status", "updated"}) {
      o->set(key, Poco::Dynamic::Var());
    }
  }
  return o;
}

Object::Ptr RecordedReleaseJson(const engine::Release& r) {
  Object::Ptr o = NewObject();
  o->set("chart", r.chart);
  o->set("version", r.version);
  o->set("revision", r.revision);
  o->set("commit", r.commit);
  return o;
}

// The tail of the history both formats show.
std::vector<engine::HistoryEntry> LastTransitions(const engine::StatusView& view) {
  if (!view.state) return {};
  const auto& h = view.state->history;
  size_t skip = h.size() > kStatusHistory ? h.size() - kStatusHistory : 0;
  return {h.begin() + static_cast<std::ptrdiff_t>(skip), h.end()};
}

std::string HelmReleaseText(const std::string& ref,
                            const std::optional<helm::ReleaseStatus>& status) {
  if (!status) return ref + ": not installed";
  std::string text = status->ns + "/" + status->name;
  text += " revision " + std::to_string(status->current.number);
  text += ", chart " + OrDash(status->current.chart);
  text += ", app version " + OrDash(status->current.app_version);
  text += ", " + OrDash(status->current.status);
  return text;
}

std::string RecordedText(const engine::Release& r) {
  if (r.revision == 0 && r.chart.empty()) return "none";
  std::string text = OrDash(r.chart);
  if (!r.version.empty()) text += " (app version " + r.version + ")";
  text += ", revision " + std::to_string(r.revision);
  if (!r.commit.empty()) text += ", commit " + r.commit;
  return text;
}

}  // namespace

std::string FormatStatusText(const engine::StatusView& view) {
  std::vector<std::pair<std::string, std::string>> rows;
  rows.emplace_back("app", view.app);
  rows.emplace_back("strategy", view.strategy);
  rows.emplace_back("virtual service", view.virtual_service);
  if (view.route_exists) {
    rows.emplace_back("route", "stable " + std::to_string(view.route.stable) + "%, candidate " +
                                   std::to_string(view.route.candidate) + "%" +
                                   (view.test_route ? ", test route present" : ""));
  } else {
    rows.emplace_back("route", "not created yet");
  }
  if (view.state) {
    const engine::RolloutState& s = *view.state;
    rows.emplace_back("phase", std::string(engine::PhaseName(s.phase)));
    rows.emplace_back("step", std::to_string(s.step_index) + ", target " +
                                  engine::FormatWeights(s.target) + " (stable/candidate)");
    if (s.live_slot != engine::Slot::kNone) {
      rows.emplace_back("live slot", std::string(engine::SlotName(s.live_slot)));
    }
  } else {
    rows.emplace_back("phase", "idle (never rolled out)");
  }
  rows.emplace_back("stable release", HelmReleaseText(view.stable_release, view.stable));
  rows.emplace_back("candidate release", HelmReleaseText(view.candidate_release, view.candidate));
  if (view.state) {
    const engine::RolloutState& s = *view.state;
    rows.emplace_back("recorded stable", RecordedText(s.stable));
    rows.emplace_back("recorded candidate", RecordedText(s.candidate));
    rows.emplace_back("last job", OrDash(s.job_url) + " (pipeline " + OrDash(s.pipeline_id) +
                                      ", by " + OrDash(s.triggered_by) + ", at " +
                                      engine::FormatTimestamp(s.updated_at) + ")");
  }
  if (view.lock) {
    rows.emplace_back("lock", "held by " + OrDash(view.lock->holder) + " (pipeline " +
                                  OrDash(view.lock->pipeline_id) + ")");
    rows.emplace_back("lock job", OrDash(view.lock->job_url));
    rows.emplace_back("lock expires", engine::FormatTimestamp(view.lock->expires) +
                                          (view.lock_expired ? " (expired)" : ""));
  } else {
    rows.emplace_back("lock", "none");
  }

  size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  std::string text;
  for (const auto& [key, value] : rows) {
    text += key + ":" + std::string(width - key.size() + 1, ' ') + value + "\n";
  }

  std::vector<engine::HistoryEntry> history = LastTransitions(view);
  if (history.empty()) {
    text += "history:" + std::string(width - 7 + 1, ' ') + "none\n";
  } else {
    text += "history:\n";
    for (const auto& h : history) {
      text += "  " + engine::FormatTimestamp(h.time) + "  " +
              std::string(engine::PhaseName(h.from)) + " -> " +
              std::string(engine::PhaseName(h.to)) + "  " + engine::FormatWeights(h.weights);
      if (!h.message.empty()) text += "  " + h.message;
      if (!h.job_url.empty()) text += "  " + h.job_url;
      text += "\n";
    }
  }
  return text;
}

std::string FormatStatusJson(const engine::StatusView& view) {
  const Poco::Dynamic::Var null;
  Object::Ptr root = NewObject();
  root->set("app", view.app);
  root->set("strategy", view.strategy);
  root->set("virtualService", view.virtual_service);
  if (view.state && view.state->live_slot != engine::Slot::kNone) {
    root->set("liveSlot", std::string(engine::SlotName(view.state->live_slot)));
  } else {
    root->set("liveSlot", null);
  }

  Object::Ptr route = NewObject();
  route->set("exists", view.route_exists);
  route->set("stable", view.route.stable);
  route->set("candidate", view.route.candidate);
  route->set("testRoute", view.test_route);
  root->set("route", route);

  if (view.state) {
    root->set("phase", std::string(engine::PhaseName(view.state->phase)));
    root->set("stepIndex", view.state->step_index);
    root->set("target", WeightsJson(view.state->target));
  } else {
    root->set("phase", std::string(engine::PhaseName(engine::Phase::kIdle)));
    root->set("stepIndex", null);
    root->set("target", null);
  }

  Object::Ptr releases = NewObject();
  releases->set("stable", HelmReleaseJson(view.stable_release, view.stable));
  releases->set("candidate", HelmReleaseJson(view.candidate_release, view.candidate));
  root->set("releases", releases);

  if (view.state) {
    const engine::RolloutState& s = *view.state;
    Object::Ptr recorded = NewObject();
    recorded->set("stable", RecordedReleaseJson(s.stable));
    recorded->set("candidate", RecordedReleaseJson(s.candidate));
    recorded->set("pipelineId", s.pipeline_id);
    recorded->set("jobUrl", s.job_url);
    recorded->set("triggeredBy", s.triggered_by);
    recorded->set("startedAt", engine::FormatTimestamp(s.started_at));
    recorded->set("updatedAt", engine::FormatTimestamp(s.updated_at));
    root->set("recorded", recorded);
  } else {
    root->set("recorded", null);
  }

  if (view.lock) {
    Object::Ptr lock = NewObject();
    lock->set("pipelineId", view.lock->pipeline_id);
    lock->set("jobUrl", view.lock->job_url);
    lock->set("holder", view.lock->holder);
    lock->set("acquired", engine::FormatTimestamp(view.lock->acquired));
    lock->set("expires", engine::FormatTimestamp(view.lock->expires));
    lock->set("expired", view.lock_expired);
    root->set("lock", lock);
  } else {
    root->set("lock", null);
  }

  Poco::JSON::Array::Ptr history = new Poco::JSON::Array();
  for (const auto& h : LastTransitions(view)) {
    Object::Ptr entry = NewObject();
    entry->set("time", engine::FormatTimestamp(h.time));
    entry->set("from", std::string(engine::PhaseName(h.from)));
    entry->set("to", std::string(engine::PhaseName(h.to)));
    entry->set("stable", h.weights.stable);
    entry->set("candidate", h.weights.candidate);
    entry->set("jobUrl", h.job_url);
    entry->set("message", h.message);
    history->add(entry);
  }
  root->set("history", history);

  std::ostringstream os;
  root->stringify(os, 2);
  os << '\n';
  return os.str();
}

}  // namespace canaryctl::cli

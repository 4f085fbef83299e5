#include "report/json_writer.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cmath>
#include <optional>
#include <sstream>

#include "report/atomic_file.h"
#include "report/junit_writer.h"
#include "report/text.h"

namespace canaryctl::report {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

Object::Ptr NewObject() { return new Object(Poco::JSON_PRESERVE_KEY_ORDER); }

// null for no value and for NaN and infinities, which JSON cannot hold.
Poco::Dynamic::Var Number(std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return {};
  return *v;
}

class Builder {
 public:
  explicit Builder(const ci::Redactor& redactor) : redactor_(redactor) {}
  std::string S(const std::string& s) const { return ToValidUtf8(redactor_.Redact(s)); }

  void Time(Object::Ptr o, const std::string& key, int64_t t) const {
    o->set(key, t);
    o->set(key + "_iso", t != 0 ? IsoTimeUtc(t) : std::string());
  }

  Object::Ptr Release(const ReleaseInfo& r) const {
    Object::Ptr o = NewObject();
    o->set("namespace", S(r.namespace_name));
    o->set("release", S(r.release));
    o->set("chart", S(r.chart));
    o->set("version", S(r.version));
    o->set("revision", r.revision);
    o->set("commit", S(r.commit));
    return o;
  }

 private:
  const ci::Redactor& redactor_;
};

}  // namespace

std::string RenderRolloutJson(const RolloutRecord& record, const ci::Redactor& redactor) {
  Builder b(redactor);
  Object::Ptr root = NewObject();
  root->set("app", b.S(record.app));
  root->set("strategy", b.S(record.strategy));
  root->set("phase", b.S(record.phase));
  root->set("outcome", std::string(OutcomeName(record.outcome)));
  root->set("message", b.S(record.message));
  b.Time(root, "started_at", record.started_at);
  b.Time(root, "finished_at", record.finished_at);
  root->set("rollback_ms",
            record.rollback_ms ? Poco::Dynamic::Var(*record.rollback_ms) : Poco::Dynamic::Var());
  WeightChange current = CurrentWeights(record);
  Object::Ptr weights = NewObject();
  weights->set("stable", current.stable);
  weights->set("candidate", current.candidate);
  root->set("weights", weights);
  root->set("stable", b.Release(record.stable));
  root->set("candidate", b.Release(record.candidate));

  Object::Ptr pipeline = NewObject();
  pipeline->set("id", b.S(record.pipeline.pipeline_id));
  pipeline->set("url", b.S(record.pipeline.pipeline_url));
  pipeline->set("job_id", b.S(record.pipeline.job_id));
  pipeline->set("job_name", b.S(record.pipeline.job_name));
  pipeline->set("job_url", b.S(record.pipeline.job_url));
  pipeline->set("user", b.S(record.pipeline.user));
  pipeline->set("ref", b.S(record.pipeline.ref));
  root->set("pipeline", pipeline);

  Array::Ptr steps = new Array;
  for (const StepRecord& step : record.steps) {
    Object::Ptr s = NewObject();
    s->set("phase", b.S(step.phase));
    s->set("weight", step.weight);
    b.Time(s, "started_at", step.started_at);
    b.Time(s, "finished_at", step.finished_at);
    s->set("duration_ms", static_cast<int64_t>(step.duration.count()));
    Array::Ptr checks = new Array;
    for (const CheckRecord& check : step.checks) {
      Object::Ptr c = NewObject();
      c->set("name", b.S(check.name));
      c->set("verdict", std::string(VerdictName(check.verdict)));
      c->set("message", b.S(check.message));
      c->set("duration_ms", static_cast<int64_t>(check.duration.count()));
      c->set("output", ToValidUtf8(KeepTail(redactor.Redact(check.output), kMaxOutputBytes)));
      checks->add(c);
    }
    s->set("checks", checks);
    Array::Ptr metrics = new Array;
    for (const MetricRecord& metric : step.metrics) {
      Object::Ptr m = NewObject();
      m->set("name", b.S(metric.name));
      m->set("unit", b.S(metric.unit));
      m->set("value", Number(metric.value));
      m->set("min", Number(metric.min));
      m->set("max", Number(metric.max));
      m->set("verdict", std::string(VerdictName(metric.verdict)));
      m->set("measurements", metric.measurements);
      m->set("message", b.S(metric.message));
      metrics->add(m);
    }
    s->set("metrics", metrics);
    if (step.load) {
      Object::Ptr l = NewObject();
      l->set("requests", step.load->requests);
      l->set("errors", step.load->errors);
      l->set("p99_ms", Number(step.load->p99_ms));
      Object::Ptr by_version = NewObject();
      for (const auto& [version, n] : step.load->by_version) by_version->set(b.S(version), n);
      l->set("by_version", by_version);
      s->set("load", l);
    } else {
      s->set("load", Poco::Dynamic::Var());
    }
    steps->add(s);
  }
  root->set("steps", steps);

  Array::Ptr history = new Array;
  for (const WeightChange& w : record.weights) {
    Object::Ptr h = NewObject();
    b.Time(h, "at", w.at);
    h->set("stable", w.stable);
    h->set("candidate", w.candidate);
    h->set("reason", b.S(w.reason));
    history->add(h);
  }
  root->set("weights_history", history);

  Array::Ptr changelog = new Array;
  for (const std::string& line : record.changelog) changelog->add(b.S(line));
  root->set("changelog", changelog);

  Object::Ptr env = NewObject();
  env->set("name", b.S(record.environment_name));
  env->set("url", b.S(record.environment_url));
  root->set("environment", env);
  Array::Ptr dashboards = new Array;
  for (const Link& link : record.dashboards) {
    Object::Ptr d = NewObject();
    d->set("label", b.S(link.label));
    d->set("url", b.S(link.url));
    dashboards->add(d);
  }
  root->set("dashboards", dashboards);

  std::ostringstream out;
  root->stringify(out, 2);
  out << "\n";
  return out.str();
}

Status WriteRolloutJson(const std::string& dir, const RolloutRecord& record,
                        const ci::Redactor& redactor) {
  return WriteFileAtomically(dir, kRolloutJsonFile, RenderRolloutJson(record, redactor));
}

}  // namespace canaryctl::report

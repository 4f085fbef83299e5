#include "config/to_yaml.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <sstream>

namespace canaryctl::config {
namespace {

class Writer {
 public:
  explicit Writer(const RolloutSpec& spec) : spec_(spec) {}

  // "$" doubles to "$$" so that the printed configuration loads back to the same values.
  std::string Text(const std::string& s) const {
    std::string out;
    for (char c : Redact(spec_, s)) {
      out += c;
      if (c == '$') out += '$';
    }
    return out;
  }

  void Key(const char* key) { out_ << YAML::Key << key << YAML::Value; }
  void Str(const char* key, const std::string& value) {
    Key(key);
    out_ << YAML::DoubleQuoted << Text(value);
  }
  // The shortest text that reads back to the same double ("0.999", not 0.99899999999999999).
  void Num(const char* key, double value) {
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    Key(key);
    out_ << std::string(buffer, ec == std::errc() ? end : buffer);
  }
  void Int(const char* key, int value) {
    Key(key);
    out_ << value;
  }
  void Dur(const char* key, Duration d) {
    Key(key);
    out_ << FormatDuration(d);
  }
  void List(const char* key, const std::vector<std::string>& values) {
    Key(key);
    out_ << YAML::Flow << YAML::BeginSeq;
    for (const std::string& v : values) out_ << YAML::DoubleQuoted << Text(v);
    out_ << YAML::EndSeq;
  }
  void Map(const char* key, const std::map<std::string, std::string>& values) {
    Key(key);
    if (values.empty()) out_ << YAML::Flow;
    out_ << YAML::BeginMap;
    for (const auto& [k, v] : values)
      out_ << YAML::Key << k << YAML::Value << YAML::DoubleQuoted << Text(v);
    out_ << YAML::EndMap;
  }
  // Defaults are printed, so the output shows what the check will do; optional keys only when
  // set (absent loads back the same as before).
  void Http(const HttpCheckSpec& h) {
    Key("http");
    out_ << YAML::BeginMap;
    Str("url", h.url);
    Str("method", h.method);
    Map("headers", h.headers);
    if (!h.body.empty()) Str("body", h.body);
    Key("expect");
    out_ << YAML::BeginMap;
    Key("status");
    out_ << h.expect.status;
    if (h.expect.body_contains || h.expect.body_matches) {
      Key("body");
      out_ << YAML::BeginMap;
      if (h.expect.body_contains) Str("contains", *h.expect.body_contains);
      if (h.expect.body_matches) Str("matches", *h.expect.body_matches);
      out_ << YAML::EndMap;
    }
    if (h.expect.json) {
      Key("json");
      out_ << YAML::BeginMap;
      Str("path", h.expect.json->path);
      Str("equals", h.expect.json->equals);
      out_ << YAML::EndMap;
    }
    if (h.expect.max_latency) Dur("maxLatency", *h.expect.max_latency);
    out_ << YAML::EndMap;
    Dur("timeout", h.timeout);
    Key("retries");
    out_ << h.retries;
    Dur("retryDelay", h.retry_delay);
    Key("requests");
    out_ << h.requests;
    Key("insecure");
    out_ << h.insecure;
    if (!h.ca_file.empty()) Str("caFile", h.ca_file);
    out_ << YAML::EndMap;
  }
  void Release(const char* key, const ReleaseSpec& r) {
    Key(key);
    out_ << YAML::BeginMap;
    Str("namespace", r.namespace_name);
    Str("release", r.release);
    Str("service", r.service);
    Str("workload", r.workload);
    out_ << YAML::EndMap;
  }

  std::string Write() {
    const RolloutSpec& s = spec_;
    out_ << YAML::BeginMap;
    Str("app", s.app);
    Key("strategy");
    out_ << StrategyName(s.strategy);

    Key("helm");
    out_ << YAML::BeginMap;
    Str("chart", s.helm.chart);
    if (s.helm.version) Str("version", *s.helm.version);
    if (s.helm.repo) Str("repo", *s.helm.repo);
    List("values", s.helm.values);
    Map("set", s.helm.set);
    Dur("timeout", s.helm.timeout);
    out_ << YAML::EndMap;

    Release("stable", s.stable);
    Release("candidate", s.candidate);

    Key("traffic");
    out_ << YAML::BeginMap;
    Key("virtualService");
    out_ << YAML::BeginMap;
    const VirtualServiceSpec& vs = s.traffic.virtual_service;
    Str("namespace", vs.namespace_name);
    Str("name", vs.name);
    Key("create");
    out_ << vs.create;
    List("gateways", vs.gateways);
    List("hosts", vs.hosts);
    out_ << YAML::EndMap;
    Key("steps");
    out_ << YAML::Flow << s.traffic.steps;
    if (s.traffic.test_route) {
      Key("testRoute");
      out_ << YAML::BeginMap;
      Str("header", s.traffic.test_route->header);
      Str("value", s.traffic.test_route->value);
      out_ << YAML::EndMap;
    }
    if (s.traffic.port) {
      Key("port");
      out_ << *s.traffic.port;
    }
    if (s.traffic.subset) {
      Key("subset");
      out_ << YAML::BeginMap;
      Str("stable", s.traffic.subset->stable);
      Str("candidate", s.traffic.subset->candidate);
      out_ << YAML::EndMap;
    }
    out_ << YAML::EndMap;

    Key("checks");
    out_ << YAML::BeginSeq;
    for (const CheckSpec& c : s.checks) {
      out_ << YAML::BeginMap;
      Str("name", c.name);
      if (c.http) Http(*c.http);
      if (c.command) {
        List("command", c.command->argv);
        Dur("timeout", c.command->timeout);
        Map("env", c.command->env);
      }
      out_ << YAML::EndMap;
    }
    out_ << YAML::EndSeq;

    if (s.analysis) {
      Key("analysis");
      out_ << YAML::BeginMap;
      Key("prometheus");
      out_ << YAML::BeginMap;
      Str("url", s.analysis->prometheus_url);
      out_ << YAML::EndMap;
      Dur("interval", s.analysis->interval);
      Dur("window", s.analysis->window);
      Int("passes", s.analysis->passes);
      Int("failures", s.analysis->failures);
      Key("metrics");
      out_ << YAML::BeginSeq;
      for (const MetricSpec& m : s.analysis->metrics) {
        out_ << YAML::BeginMap;
        Str("name", m.name);
        if (m.min) Num("min", *m.min);
        if (m.max) Num("max", *m.max);
        if (m.query) Str("query", *m.query);
        out_ << YAML::EndMap;
      }
      out_ << YAML::EndSeq;
      if (const auto& c = s.analysis->comparison) {
        Key("comparison");
        out_ << YAML::BeginMap;
        Num("falseRollbackRate", c->false_rollback_rate);
        Num("missedRegressionRate", c->missed_regression_rate);
        Num("tolerance", c->tolerance);
        Num("minErrorRate", c->min_error_rate);
        out_ << YAML::EndMap;
      }
      out_ << YAML::EndMap;
    }

    if (const auto& l = s.load) {
      Key("load");
      out_ << YAML::BeginMap;
      Str("url", l->url);
      Str("method", l->method);
      Map("headers", l->headers);
      Num("rate", l->rate);
      Int("concurrency", l->concurrency);
      Dur("duration", l->duration);
      Dur("timeout", l->timeout);
      if (l->split) {
        Key("split");
        out_ << YAML::BeginMap;
        if (l->split->header) Str("header", *l->split->header);
        if (l->split->json) Str("json", *l->split->json);
        Str("candidate", l->split->candidate);
        Num("confidence", l->split->confidence);
        out_ << YAML::EndMap;
      }
      out_ << YAML::EndMap;
    }

    Key("rollback");
    out_ << YAML::BeginMap;
    Key("auto");
    out_ << s.rollback.automatic;
    Key("candidate");
    out_ << CandidateActionName(s.rollback.candidate);
    out_ << YAML::EndMap;
    Key("reports");
    out_ << YAML::BeginMap;
    Str("dir", s.reports_dir);
    out_ << YAML::EndMap;
    Key("lock");
    out_ << YAML::BeginMap;
    Dur("ttl", s.lock_ttl);
    out_ << YAML::EndMap;

    // A literal secret prints redacted; a variable's name is not itself secret.
    std::vector<std::string> secrets;
    for (const std::string& entry : s.secrets) {
      const bool literal =
          std::find(s.secret_values.begin(), s.secret_values.end(), entry) != s.secret_values.end();
      secrets.push_back(literal ? "<redacted>" : entry);
    }
    Key("secrets");
    out_ << YAML::Flow << YAML::BeginSeq;
    for (const std::string& v : secrets) out_ << YAML::DoubleQuoted << v;
    out_ << YAML::EndSeq;
    out_ << YAML::EndMap;
    return std::string(out_.c_str()) + "\n";
  }

 private:
  const RolloutSpec& spec_;
  YAML::Emitter out_;
};

}  // namespace

std::string ToYaml(const RolloutSpec& spec) { return Writer(spec).Write(); }

}  // namespace canaryctl::config

#include "config/loader.h"

#include <yaml-cpp/yaml.h>

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "common/environment.h"
#include "common/quote.h"
#include "config/diagnostics.h"
#include "config/expand.h"
#include "config/yaml_reader.h"

namespace canaryctl::config {
namespace {

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// A value as messages show it: Go-quoted, so a newline or a control byte in it cannot start a
// line of its own in the log, and cut short when long, so a 100 KiB value is not printed whole.
std::string Quote(const std::string& s) {
  constexpr size_t kShown = 200;
  if (s.size() <= kShown) return GoQuote(s);
  size_t cut = kShown;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 start
  return GoQuote(s.substr(0, cut)) + "... (" + std::to_string(s.size()) + " bytes)";
}

// Whether text is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool ValidUtf8(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > text.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
      return false;
    }
    i += len;
  }
  return true;
}

bool HasControl(const std::string& text, bool allow_tab) {
  return std::any_of(text.begin(), text.end(), [allow_tab](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7f;
  });
}

std::string Number(double d) {
  std::ostringstream out;
  out << d;
  return out.str();
}

// ---------------------------------------------------------------------------------------------
// Decoding: the YAML tree into a RolloutSpec, as far as types allow.

class Decoder {
 public:
  Decoder(YamlReader* reader, Diagnostics* diag) : r_(reader), diag_(diag) {}

  void Decode(const YAML::Node& root, RolloutSpec* spec) {
    auto f = r_->Map(root, "",
                     {"app", "strategy", "helm", "stable", "candidate", "traffic", "checks",
                      "analysis", "load", "rollback", "reports", "lock", "secrets"});
    if (!f) return;
    r_->String(*f, "app", &spec->app);
    std::string strategy;
    if (r_->String(*f, "strategy", &strategy)) {
      if (auto s = ParseStrategy(strategy)) {
        spec->strategy = *s;
      } else {
        Bad("strategy", "expected one of hybrid, canary, blue-green, got " + Quote(strategy));
      }
    }
    if (f->Has("helm")) Helm(f->nodes.at("helm"), &spec->helm);
    if (f->Has("stable")) Release(f->nodes.at("stable"), "stable", &spec->stable);
    if (f->Has("candidate")) Release(f->nodes.at("candidate"), "candidate", &spec->candidate);
    if (f->Has("traffic")) Traffic(f->nodes.at("traffic"), &spec->traffic);
    if (f->Has("checks")) Checks(f->nodes.at("checks"), &spec->checks);
    if (f->Has("analysis")) Analysis(f->nodes.at("analysis"), &spec->analysis.emplace());
    if (f->Has("load")) Load(f->nodes.at("load"), &spec->load.emplace());
    if (f->Has("rollback")) Rollback(f->nodes.at("rollback"), &spec->rollback);
    if (f->Has("reports")) {
      if (auto g = r_->Map(f->nodes.at("reports"), "reports", {"dir"})) {
        r_->String(*g, "dir", &spec->reports_dir);
      }
    }
    if (f->Has("lock")) {
      if (auto g = r_->Map(f->nodes.at("lock"), "lock", {"ttl"}))
        r_->Dur(*g, "ttl", &spec->lock_ttl);
    }
    r_->StringList(*f, "secrets", &spec->secrets);
  }

 private:
  void Bad(const std::string& path, const std::string& message) {
    diag_->Error(path, message);
    diag_->MarkBroken(path);
  }

  void Helm(const YAML::Node& node, HelmSpec* helm) {
    auto f = r_->Map(node, "helm", {"chart", "version", "repo", "values", "set", "timeout"});
    if (!f) return;
    r_->String(*f, "chart", &helm->chart);
    r_->String(*f, "version", &helm->version);
    r_->String(*f, "repo", &helm->repo);
    r_->StringList(*f, "values", &helm->values);
    r_->StringMap(*f, "set", &helm->set);
    r_->Dur(*f, "timeout", &helm->timeout);
  }

  void Release(const YAML::Node& node, const std::string& path, ReleaseSpec* release) {
    auto f = r_->Map(node, path, {"namespace", "release", "service", "workload"});
    if (!f) return;
    r_->String(*f, "namespace", &release->namespace_name);
    r_->String(*f, "release", &release->release);
    r_->String(*f, "service", &release->service);
    r_->String(*f, "workload", &release->workload);
  }

  void Traffic(const YAML::Node& node, TrafficSpec* traffic) {
    auto f = r_->Map(node, "traffic", {"virtualService", "steps", "testRoute", "port", "subset"});
    if (!f) return;
    if (f->Has("virtualService")) {
      VirtualServiceSpec& vs = traffic->virtual_service;
      if (auto g = r_->Map(f->nodes.at("virtualService"), "traffic.virtualService",
                           {"namespace", "name", "create", "gateways", "hosts"})) {
        r_->String(*g, "namespace", &vs.namespace_name);
        r_->String(*g, "name", &vs.name);
        r_->Bool(*g, "create", &vs.create);
        r_->StringList(*g, "gateways", &vs.gateways);
        r_->StringList(*g, "hosts", &vs.hosts);
      }
    }
    r_->IntList(*f, "steps", &traffic->steps);
    if (f->Has("testRoute")) {
      TestRouteSpec& route = traffic->test_route.emplace();
      if (auto g = r_->Map(f->nodes.at("testRoute"), "traffic.testRoute", {"header", "value"})) {
        r_->String(*g, "header", &route.header);
        r_->String(*g, "value", &route.value);
      }
    }
    r_->Int(*f, "port", &traffic->port);
    if (f->Has("subset")) {
      SubsetSpec& subset = traffic->subset.emplace();
      if (auto g = r_->Map(f->nodes.at("subset"), "traffic.subset", {"stable", "candidate"})) {
        r_->String(*g, "stable", &subset.stable);
        r_->String(*g, "candidate", &subset.candidate);
      }
    }
  }

  void Checks(const YAML::Node& node, std::vector<CheckSpec>* checks) {
    auto items = r_->Seq(node, "checks");
    if (!items) return;
    for (size_t i = 0; i < items->size(); ++i) {
      const std::string path = Index("checks", i);
      CheckSpec& check = checks->emplace_back();
      auto f = r_->Map((*items)[i], path, {"name", "http", "command", "timeout", "env"});
      if (!f) continue;
      r_->String(*f, "name", &check.name);
      if (f->Has("http") == f->Has("command")) {
        Bad(path, "give exactly one of `http` and `command`");
        continue;
      }
      if (f->Has("http")) {
        for (const char* key : {"timeout", "env"}) {
          if (f->Has(key)) {
            Bad(ChildPath(path, key),
                std::string("only for command checks") +
                    (std::string(key) == "timeout" ? "; an http check's timeout goes under `http`"
                                                   : ""));
          }
        }
        Http(f->nodes.at("http"), ChildPath(path, "http"), &check.http.emplace());
      } else {
        CommandCheckSpec& command = check.command.emplace();
        const std::string argv_path = ChildPath(path, "command");
        if (f->nodes.at("command").IsScalar()) {
          // A string would need a shell to split it; canaryctl never runs one.
          Bad(argv_path,
              "expected a list of arguments such as [\"./tests/e2e.sh\", \"--fast\"], got a "
              "string");
        } else {
          r_->StringList(*f, "command", &command.argv);
        }
        r_->Dur(*f, "timeout", &command.timeout);
        r_->StringMap(*f, "env", &command.env);
      }
    }
  }

  void Http(const YAML::Node& node, const std::string& path, HttpCheckSpec* http) {
    auto f = r_->Map(node, path,
                     {"url", "method", "headers", "body", "expect", "timeout", "retries",
                      "retryDelay", "requests", "insecure", "caFile"});
    if (!f) return;
    r_->String(*f, "url", &http->url);
    r_->String(*f, "method", &http->method);
    r_->StringMap(*f, "headers", &http->headers);
    r_->String(*f, "body", &http->body);
    r_->Dur(*f, "timeout", &http->timeout);
    r_->Int(*f, "retries", &http->retries);
    r_->Dur(*f, "retryDelay", &http->retry_delay);
    r_->Int(*f, "requests", &http->requests);
    r_->Bool(*f, "insecure", &http->insecure);
    r_->String(*f, "caFile", &http->ca_file);
    if (f->Has("expect")) Expect(f->nodes.at("expect"), ChildPath(path, "expect"), &http->expect);
  }

  void Expect(const YAML::Node& node, const std::string& path, HttpExpectation* expect) {
    auto f = r_->Map(node, path, {"status", "body", "json", "maxLatency"});
    if (!f) return;
    r_->Int(*f, "status", &expect->status);
    if (f->Has("body")) {
      if (auto b = r_->Map(f->nodes.at("body"), ChildPath(path, "body"), {"contains", "matches"})) {
        r_->String(*b, "contains", &expect->body_contains);
        r_->String(*b, "matches", &expect->body_matches);
      }
    }
    if (f->Has("json")) {
      JsonExpectation& json = expect->json.emplace();
      if (auto j = r_->Map(f->nodes.at("json"), ChildPath(path, "json"), {"path", "equals"})) {
        r_->String(*j, "path", &json.path);
        r_->String(*j, "equals", &json.equals);
      }
    }
    Duration max_latency{};
    if (r_->Dur(*f, "maxLatency", &max_latency)) expect->max_latency = max_latency;
  }

  void Analysis(const YAML::Node& node, AnalysisSpec* analysis) {
    auto f = r_->Map(
        node, "analysis",
        {"prometheus", "interval", "window", "passes", "failures", "metrics", "comparison"});
    if (!f) return;
    if (f->Has("prometheus")) {
      if (auto g = r_->Map(f->nodes.at("prometheus"), "analysis.prometheus", {"url"})) {
        r_->String(*g, "url", &analysis->prometheus_url);
      }
    }
    r_->Dur(*f, "interval", &analysis->interval);
    r_->Dur(*f, "window", &analysis->window);
    r_->Int(*f, "passes", &analysis->passes);
    r_->Int(*f, "failures", &analysis->failures);
    if (f->Has("comparison")) {
      ComparisonSpec& c = analysis->comparison.emplace();
      if (auto g =
              r_->Map(f->nodes.at("comparison"), "analysis.comparison",
                      {"falseRollbackRate", "missedRegressionRate", "tolerance", "minErrorRate"})) {
        r_->Double(*g, "falseRollbackRate", &c.false_rollback_rate);
        r_->Double(*g, "missedRegressionRate", &c.missed_regression_rate);
        r_->Double(*g, "tolerance", &c.tolerance);
        r_->Double(*g, "minErrorRate", &c.min_error_rate);
      }
    }
    if (!f->Has("metrics")) return;
    auto items = r_->Seq(f->nodes.at("metrics"), "analysis.metrics");
    if (!items) return;
    for (size_t i = 0; i < items->size(); ++i) {
      MetricSpec& metric = analysis->metrics.emplace_back();
      auto g = r_->Map((*items)[i], Index("analysis.metrics", i), {"name", "min", "max", "query"});
      if (!g) continue;
      r_->String(*g, "name", &metric.name);
      r_->Double(*g, "min", &metric.min);
      r_->Double(*g, "max", &metric.max);
      r_->String(*g, "query", &metric.query);
    }
  }

  void Load(const YAML::Node& node, LoadSpec* load) {
    auto f = r_->Map(
        node, "load",
        {"url", "method", "headers", "rate", "concurrency", "duration", "timeout", "split"});
    if (!f) return;
    r_->String(*f, "url", &load->url);
    r_->String(*f, "method", &load->method);
    r_->StringMap(*f, "headers", &load->headers);
    r_->Double(*f, "rate", &load->rate);
    r_->Int(*f, "concurrency", &load->concurrency);
    r_->Dur(*f, "duration", &load->duration);
    r_->Dur(*f, "timeout", &load->timeout);
    if (!f->Has("split")) return;
    SplitSpec& split = load->split.emplace();
    if (auto g = r_->Map(f->nodes.at("split"), "load.split",
                         {"header", "json", "candidate", "confidence"})) {
      r_->String(*g, "header", &split.header);
      r_->String(*g, "json", &split.json);
      r_->String(*g, "candidate", &split.candidate);
      r_->Double(*g, "confidence", &split.confidence);
    }
  }

  void Rollback(const YAML::Node& node, RollbackSpec* rollback) {
    auto f = r_->Map(node, "rollback", {"auto", "candidate"});
    if (!f) return;
    r_->Bool(*f, "auto", &rollback->automatic);
    std::string action;
    if (r_->String(*f, "candidate", &action)) {
      if (auto a = ParseCandidateAction(action)) {
        rollback->candidate = *a;
      } else {
        Bad("rollback.candidate",
            "expected one of keep, rollback, uninstall, got " + Quote(action));
      }
    }
  }

  YamlReader* r_;
  Diagnostics* diag_;
};

// ---------------------------------------------------------------------------------------------
// Overrides: CANARYCTL_* variables, then flags.

void ApplyOverride(const OverrideKey& key, const std::string& value, const std::string& source,
                   RolloutSpec* spec, Diagnostics* diag) {
  Location where{source};
  if (!key.apply(spec, value)) {
    diag->ErrorAt(where, key.key, "expected " + key.expected + ", got " + Quote(value));
    return;
  }
  // Later rules point at the variable or flag, and an override repairs a broken file value.
  diag->SetLocation(key.key, where);
}

void ApplyOverrides(const Environment& env, const Overrides& overrides, RolloutSpec* spec,
                    Diagnostics* diag) {
  for (const OverrideKey& key : OverrideTable()) {
    auto it = env.find(key.variable);
    if (it != env.end()) ApplyOverride(key, it->second, key.variable, spec, diag);
  }
  for (const Override& o : overrides.entries) {
    const OverrideKey* key = FindOverrideKey(o.key);
    if (key == nullptr) {
      diag->ErrorAt(Location{o.source}, o.key, "cannot be overridden (not a known scalar key)");
      continue;
    }
    ApplyOverride(*key, o.value, o.source, spec, diag);
  }
}

// ---------------------------------------------------------------------------------------------
// Defaults and rules.

bool IsDnsLabel(const std::string& s, size_t max = 63) {
  static const std::regex kLabel("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  return !s.empty() && s.size() <= max && std::regex_match(s, kLabel);
}

bool IsDnsSubdomain(const std::string& s) {
  static const std::regex kSubdomain(
      "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  return !s.empty() && s.size() <= 253 && std::regex_match(s, kSubdomain);
}

// "a.b.0.c": segments separated by single dots, none empty.
bool IsDottedPath(const std::string& s) {
  return !s.empty() && s.front() != '.' && s.back() != '.' && s.find("..") == std::string::npos;
}

// Why `pattern` does not compile as an ECMAScript std::regex (the checks compile it the same
// way), in our words: the library's own texts differ between standard library versions.
std::optional<std::string> RegexProblem(const std::string& pattern) {
  namespace rc = std::regex_constants;
  try {
    std::regex compiled(pattern, rc::ECMAScript);
    return std::nullopt;
  } catch (const std::regex_error& e) {
    const rc::error_type code = e.code();
    // libstdc++ reports a leading *, + or ? (nothing to repeat) as a parenthesis error too.
    if (code == rc::error_paren)
      return "unbalanced parentheses, or *, + or ? with nothing before it";
    if (code == rc::error_brack) return "unbalanced brackets";
    if (code == rc::error_brace) return "unbalanced braces";
    if (code == rc::error_badbrace) return "invalid {n,m} repetition";
    if (code == rc::error_range) return "invalid character range";
    if (code == rc::error_escape) return "invalid escape";
    if (code == rc::error_badrepeat) return "a repetition (*, +, ?, {n}) with nothing to repeat";
    if (code == rc::error_ctype) return "invalid character class";
    if (code == rc::error_collate) return "invalid character class or collating element";
    if (code == rc::error_backref) return "invalid back reference";
    if (code == rc::error_complexity || code == rc::error_stack) return "too complex";
    return "not a valid regular expression";
  }
}

class Validator {
 public:
  Validator(RolloutSpec* spec, Diagnostics* diag) : s_(*spec), diag_(diag) {}

  void FillDefaults() {
    const std::string& app = s_.app;
    const bool bg = s_.strategy == Strategy::kBlueGreen;
    if (!Given("stable.release")) s_.stable.release = bg ? app + "-blue" : app;
    if (!Given("candidate.release")) {
      s_.candidate.release = s_.strategy == Strategy::kHybrid ? app
                             : bg                             ? app + "-green"
                                                              : app + "-canary";
    }
    if (!Given("stable.service")) s_.stable.service = s_.stable.release;
    if (!Given("candidate.service")) s_.candidate.service = s_.candidate.release;
    if (!Given("stable.workload")) s_.stable.workload = s_.stable.service;
    if (!Given("candidate.workload")) s_.candidate.workload = s_.candidate.service;
    if (s_.strategy != Strategy::kHybrid && !Given("candidate.namespace")) {
      s_.candidate.namespace_name = s_.stable.namespace_name;
    }
    VirtualServiceSpec& vs = s_.traffic.virtual_service;
    if (!Given("traffic.virtualService.namespace")) vs.namespace_name = s_.stable.namespace_name;
    if (!Given("traffic.virtualService.name")) vs.name = app;
    if (!Given("traffic.steps")) {
      s_.traffic.steps = bg ? std::vector<int>{0, 100} : std::vector<int>{0, 30, 60, 100};
    }
  }

  void Check() {
    Require("app", "the application's name");
    Label("app", s_.app);
    Require("helm.chart", "a chart path, repo/chart or oci:// reference");
    if (Usable("helm.chart") && s_.helm.chart.empty())
      Err("helm.chart", "expected a chart, got \"\"");
    Positive("helm.timeout", s_.helm.timeout);
    for (size_t i = 0; i < s_.helm.values.size(); ++i) {
      if (s_.helm.values[i].empty()) Err(Index("helm.values", i), "expected a file name, got \"\"");
    }
    HelmSet();
    Releases();
    Traffic();
    Checks();
    Analysis();
    Load();
    if (Usable("reports.dir") && s_.reports_dir.empty()) {
      Err("reports.dir", "expected a directory, got \"\"");
    }
    Positive("lock.ttl", s_.lock_ttl);
    for (size_t i = 0; i < s_.secrets.size(); ++i) {
      if (s_.secrets[i].empty()) Err(Index("secrets", i), "expected a name or a value, got \"\"");
    }
  }

 private:
  bool Given(const std::string& path) const { return diag_->Has(path); }
  bool Usable(const std::string& path) const { return diag_->Usable(path); }
  void Err(const std::string& path, const std::string& message) { diag_->Error(path, message); }

  void Require(const std::string& path, const std::string& what) {
    if (Given(path)) return;
    const std::string parent = ParentPath(path);
    if (!parent.empty() && !diag_->Usable(parent) && Given(parent)) return;  // already reported
    Err(path, "missing; expected " + what);
  }

  // A label rule on a key that is given (defaults derived from a bad key are not re-reported).
  void Label(const std::string& path, const std::string& value, size_t max = 63) {
    if (!Usable(path) || IsDnsLabel(value, max)) return;
    Err(path, Quote(value) + " is not a DNS-1123 label (lower-case letters, digits and '-', " +
                  "starting and ending with a letter or digit, at most " + std::to_string(max) +
                  " characters)");
  }

  // Given in the file or by an override, but its value (or its parent's) could not be decoded.
  bool Broken(const std::string& path) const { return Given(path) && !Usable(path); }

  void Subdomain(const std::string& path, const std::string& value) {
    if (!Usable(path) || IsDnsSubdomain(value)) return;
    Err(path,
        Quote(value) + " is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.')");
  }

  void IntRange(const std::string& path, int value, int lo, int hi) {
    if (Usable(path) && (value < lo || value > hi)) {
      Err(path, "expected " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " +
                    std::to_string(value));
    }
  }

  // lo < value < hi, for rates and probabilities.
  void OpenRange(const std::string& path, double value, double lo, double hi) {
    if (Usable(path) && !(value > lo && value < hi)) {
      Err(path, "expected a number between " + Number(lo) + " and " + Number(hi) +
                    " (both excluded), got " + Number(value));
    }
  }

  void Method(const std::string& path, const std::string& method) {
    static const std::set<std::string> kMethods = {"GET",   "HEAD",   "POST",   "PUT",
                                                   "PATCH", "DELETE", "OPTIONS"};
    if (Usable(path) && !kMethods.count(method)) {
      Err(path,
          "expected one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, got " + Quote(method));
    }
  }

  void DottedPath(const std::string& path, const std::string& value) {
    if (Usable(path) && !IsDottedPath(value)) {
      Err(path, Quote(value) +
                    " is not a dotted path such as status or checks.0.state (no empty segments)");
    }
  }

  void Positive(const std::string& path, Duration d) {
    if (Usable(path) && d.count() <= 0) Err(path, "expected a duration greater than 0");
  }

  void Url(const std::string& path, const std::string& url) {
    if (!Usable(path)) return;
    try {
      Poco::URI uri(url);
      if (uri.getScheme() != "http" && uri.getScheme() != "https") {
        Err(path, Quote(url) + " is not an http:// or https:// URL");
      } else if (uri.getHost().empty()) {
        Err(path, Quote(url) + " has no host");
      }
    } catch (const Poco::Exception& e) {
      Err(path, Quote(url) + " is not a valid URL (" + e.displayText() + ")");
    }
  }

  // Each helm.set entry goes to helm as one `--set-literal KEY=VALUE` argument: the key must be
  // one helm reads as a path (no '=' or ',', which it would split at; no leading '-', a flag),
  // and the value must arrive as written. Values are never echoed: they may be secrets.
  void HelmSet() {
    for (const auto& [key, value] : s_.helm.set) {
      const std::string path = ChildPath("helm.set", key);
      if (!Usable(path)) continue;
      if (key.empty() || key.front() == '-' || key.find_first_of("=, ") != std::string::npos ||
          HasControl(key, false)) {
        Err(path, Quote(key) +
                      " is not a helm value path (no '=', ',', spaces or control characters, "
                      "not starting with '-'; e.g. deployment.tag)");
      } else if (value.find('\0') != std::string::npos) {
        Err(path, "the value contains a NUL byte, which no program argument can carry");
      } else if (!ValidUtf8(value)) {
        Err(path,
            "the value is not valid UTF-8; helm keeps values as JSON text, which would replace "
            "those bytes (encode binary data, e.g. in base64)");
      }
    }
  }

  // Header names are RFC 9110 tokens; a value may not hold CR, LF or another control byte
  // (tab aside): a line break would end the header and start another one of the value's
  // choosing. Values are never echoed: they often carry tokens.
  void Headers(const std::string& path, const std::map<std::string, std::string>& headers) {
    static const std::regex kToken("[-!#$%&'*+.^_`|~0-9A-Za-z]+");
    for (const auto& [name, value] : headers) {
      const std::string child = ChildPath(path, name);
      if (!Usable(child)) continue;
      if (!std::regex_match(name, kToken)) {
        Err(child, Quote(name) + " is not an HTTP header name");
      } else if (HasControl(value, true)) {
        Err(child,
            "the value contains a line break or another control character, which would end "
            "the header (and could add others)");
      }
    }
  }

  void Releases() {
    Require("stable.namespace", "the namespace of the stable release");
    if (s_.strategy == Strategy::kHybrid) {
      Require("candidate.namespace", "the namespace of the candidate release (hybrid strategy)");
    }
    for (const char* side : {"stable", "candidate"}) {
      const ReleaseSpec& r = std::string(side) == "stable" ? s_.stable : s_.candidate;
      const std::string base = side;
      Label(base + ".namespace", r.namespace_name);
      Label(base + ".release", r.release, 53);  // Helm's limit on release names
      Label(base + ".service", r.service);
      Subdomain(base + ".workload", r.workload);
    }
    const bool same_namespace = s_.stable.namespace_name == s_.candidate.namespace_name;
    if (s_.strategy == Strategy::kCanary && !same_namespace && Given("candidate.namespace")) {
      Err("candidate.namespace", "strategy canary keeps both releases in one namespace: expected " +
                                     Quote(s_.stable.namespace_name) + " (stable.namespace), got " +
                                     Quote(s_.candidate.namespace_name));
    }
    if (same_namespace && s_.stable.release == s_.candidate.release &&
        !s_.stable.namespace_name.empty()) {
      Err("candidate.release", Quote(s_.candidate.release) + " in namespace " +
                                   Quote(s_.candidate.namespace_name) +
                                   " is the stable release itself; the candidate needs its own "
                                   "release or namespace");
    }
  }

  void Traffic() {
    const VirtualServiceSpec& vs = s_.traffic.virtual_service;
    Label("traffic.virtualService.namespace", vs.namespace_name);
    Subdomain("traffic.virtualService.name", vs.name);
    if (vs.create && vs.hosts.empty() && !diag_->Has("traffic.virtualService.hosts")) {
      Err("traffic.virtualService", "create: true needs `hosts` (e.g. [\"*\"]) to create it with");
    }
    for (size_t i = 0; i < vs.hosts.size(); ++i) {
      if (vs.hosts[i].empty())
        Err(Index("traffic.virtualService.hosts", i), "expected a host, got \"\"");
    }
    for (size_t i = 0; i < vs.gateways.size(); ++i) {
      const std::string& g = vs.gateways[i];
      const size_t slash = g.find('/');
      const bool ok = slash == std::string::npos
                          ? IsDnsSubdomain(g)
                          : IsDnsLabel(g.substr(0, slash)) && IsDnsSubdomain(g.substr(slash + 1));
      if (!ok) {
        Err(Index("traffic.virtualService.gateways", i),
            Quote(g) + " is not a gateway name (name or namespace/name, DNS-1123)");
      }
    }
    Steps();
    if (s_.traffic.test_route && Usable("traffic.testRoute")) {
      const TestRouteSpec& t = *s_.traffic.test_route;
      static const std::regex kHeader("[a-z0-9][-a-z0-9_]*");
      if (!Given("traffic.testRoute.header")) {
        Err("traffic.testRoute.header", "missing; expected a header name such as x-canary");
      } else if (Usable("traffic.testRoute.header") && !std::regex_match(t.header, kHeader)) {
        Err("traffic.testRoute.header",
            Quote(t.header) + " is not a lower-case header name (Istio matches lower-case names)");
      }
      if (!Given("traffic.testRoute.value")) {
        Err("traffic.testRoute.value", "missing; expected the header's value");
      } else if (Usable("traffic.testRoute.value") && t.value.empty()) {
        Err("traffic.testRoute.value", "expected a value, got \"\"");
      }
    }
    if (s_.traffic.port && Usable("traffic.port") &&
        (*s_.traffic.port < 1 || *s_.traffic.port > 65535)) {
      Err("traffic.port", std::to_string(*s_.traffic.port) + " is not a port (1..65535)");
    }
    if (s_.traffic.subset && Usable("traffic.subset")) {
      for (const char* side : {"stable", "candidate"}) {
        const std::string path = std::string("traffic.subset.") + side;
        if (!Given(path)) Err(path, "missing; expected the Istio subset name");
        Label(path, std::string(side) == "stable" ? s_.traffic.subset->stable
                                                  : s_.traffic.subset->candidate);
      }
    }
  }

  void Steps() {
    const std::string path = "traffic.steps";
    if (Given(path) && !Usable(path)) return;
    const std::vector<int>& steps = s_.traffic.steps;
    if (steps.empty()) {
      Err(path, "expected at least one step, ending at 100");
      return;
    }
    bool ordered = true;
    for (size_t i = 0; i < steps.size(); ++i) {
      const std::string at = Index(path, i);
      if (steps[i] < 0 || steps[i] > 100) {
        Err(at, std::to_string(steps[i]) + " is not a weight (0..100)");
        ordered = false;
      } else if (i > 0 && steps[i] <= steps[i - 1]) {
        Err(at, std::to_string(steps[i]) + " must be greater than the previous step " +
                    std::to_string(steps[i - 1]));
        ordered = false;
      }
    }
    if (ordered && steps.back() != 100) {
      Err(Index(path, steps.size() - 1),
          "the last step must be 100 (the candidate takes all the traffic), got " +
              std::to_string(steps.back()));
    }
    if (s_.strategy == Strategy::kBlueGreen && steps != std::vector<int>{0, 100}) {
      Err(path, "strategy blue-green switches all traffic at once: steps must be [0, 100]");
    }
  }

  void Checks() {
    std::map<std::string, size_t> seen;
    static const std::set<std::string> kMethods = {"GET",   "HEAD",   "POST",   "PUT",
                                                   "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < s_.checks.size(); ++i) {
      const CheckSpec& c = s_.checks[i];
      const std::string path = Index("checks", i);
      if (!Usable(path)) continue;
      const std::string name_path = ChildPath(path, "name");
      if (!Given(name_path)) {
        Err(name_path, "missing; expected the check's name");
      } else if (Usable(name_path)) {
        if (c.name.empty()) Err(name_path, "expected a name, got \"\"");
        auto [it, fresh] = seen.emplace(c.name, i);
        if (!fresh) {
          Err(name_path, "duplicate check name " + Quote(c.name) + " (also checks[" +
                             std::to_string(it->second) + "])");
        }
      }
      if (c.http && Usable(ChildPath(path, "http"))) {
        const std::string h = ChildPath(path, "http");
        if (!Given(ChildPath(h, "url")))
          Err(ChildPath(h, "url"), "missing; expected the URL to request");
        Url(ChildPath(h, "url"), c.http->url);
        Method(ChildPath(h, "method"), c.http->method);
        Headers(ChildPath(h, "headers"), c.http->headers);
        const int status = c.http->expect.status;
        if (Usable(ChildPath(h, "expect.status")) && (status < 100 || status > 599)) {
          Err(ChildPath(h, "expect.status"),
              std::to_string(status) + " is not an HTTP status (100..599)");
        }
        Positive(ChildPath(h, "timeout"), c.http->timeout);
        IntRange(ChildPath(h, "retries"), c.http->retries, 0, 100);
        IntRange(ChildPath(h, "requests"), c.http->requests, 1, 1000);
        if (Usable(ChildPath(h, "caFile")) && c.http->ca_file.empty()) {
          Err(ChildPath(h, "caFile"), "expected a CA bundle file (PEM), got \"\"");
        }
        Expectation(ChildPath(h, "expect"), c.http->expect);
      }
      if (c.command && Usable(ChildPath(path, "command"))) {
        if (c.command->argv.empty() || c.command->argv[0].empty()) {
          Err(ChildPath(path, "command"),
              "expected the program and its arguments, got an empty " +
                  std::string(c.command->argv.empty() ? "list" : "program"));
        }
        Positive(ChildPath(path, "timeout"), c.command->timeout);
      }
    }
  }

  void Expectation(const std::string& path, const HttpExpectation& e) {
    const std::string matches = ChildPath(path, "body.matches");
    if (e.body_matches && Usable(matches)) {
      if (auto problem = RegexProblem(*e.body_matches)) {
        Err(matches, "invalid regular expression " + Quote(*e.body_matches) + " (" + *problem +
                         "; ECMAScript syntax)");
      }
    }
    const std::string json = ChildPath(path, "json");
    if (e.json && Usable(json)) {
      const std::string json_path = ChildPath(json, "path");
      if (!Given(json_path)) {
        Err(json_path,
            "missing; expected a dotted path into the JSON body such as status or "
            "checks.0.state");
      } else {
        DottedPath(json_path, e.json->path);
      }
      if (!Given(ChildPath(json, "equals"))) {
        Err(ChildPath(json, "equals"), "missing; expected the value the field must have");
      }
    }
    if (e.max_latency) Positive(ChildPath(path, "maxLatency"), *e.max_latency);
  }

  void Analysis() {
    if (!s_.analysis || Broken("analysis")) return;
    const AnalysisSpec& a = *s_.analysis;
    Require("analysis.prometheus.url", "the Prometheus server's URL");
    Url("analysis.prometheus.url", a.prometheus_url);
    Positive("analysis.interval", a.interval);
    Positive("analysis.window", a.window);
    if (!Broken("analysis.interval") && !Broken("analysis.window") && a.interval.count() > 0 &&
        a.window < a.interval) {
      Err("analysis.window",
          FormatDuration(a.window) + (Given("analysis.window") ? "" : " (the default)") +
              " is shorter than analysis.interval " + FormatDuration(a.interval) +
              ": a step could end before its first measurement");
    }
    IntRange("analysis.passes", a.passes, 1, 100);
    IntRange("analysis.failures", a.failures, 1, 100);
    if (a.comparison && !Broken("analysis.comparison")) {
      const ComparisonSpec& c = *a.comparison;
      OpenRange("analysis.comparison.falseRollbackRate", c.false_rollback_rate, 0, 0.5);
      OpenRange("analysis.comparison.missedRegressionRate", c.missed_regression_rate, 0, 0.5);
      OpenRange("analysis.comparison.minErrorRate", c.min_error_rate, 0, 0.5);
      if (Usable("analysis.comparison.tolerance") && !(c.tolerance > 1)) {
        Err("analysis.comparison.tolerance",
            "expected a factor greater than 1 (the candidate's error rate that counts as a "
            "regression, relative to the stable's), got " +
                Number(c.tolerance));
      }
    }
    if (a.metrics.empty() && !a.comparison) {
      if (!Given("analysis.metrics")) {
        Err("analysis.metrics",
            "missing; expected at least one metric (e.g. request-success-rate) or a "
            "`comparison`");
      } else if (Usable("analysis.metrics")) {
        Err("analysis.metrics",
            "expected at least one metric (e.g. request-success-rate) or a `comparison`, got an "
            "empty list");
      }
    }
    std::map<std::string, size_t> seen;
    for (size_t i = 0; i < a.metrics.size(); ++i) {
      const MetricSpec& m = a.metrics[i];
      const std::string path = Index("analysis.metrics", i);
      if (!Usable(path)) continue;
      const std::string name_path = ChildPath(path, "name");
      if (!Given(name_path)) {
        Err(name_path, "missing; expected the metric's name");
      } else if (Usable(name_path)) {
        auto [it, fresh] = seen.emplace(m.name, i);
        if (!fresh) {
          Err(name_path, "duplicate metric name " + Quote(m.name) + " (also analysis.metrics[" +
                             std::to_string(it->second) + "])");
        }
        if (!m.query && !Given(ChildPath(path, "query")) && !IsBuiltinMetric(m.name)) {
          Err(path, Quote(m.name) +
                        " is not a built-in metric (request-success-rate, request-duration): "
                        "give its `query`");
        }
      }
      if (!Given(ChildPath(path, "min")) && !Given(ChildPath(path, "max"))) {
        Err(path, "give `min`, `max` or both: a metric without a bound can never fail");
      } else if (m.min && m.max && *m.min > *m.max) {
        Err(ChildPath(path, "max"),
            "the range is empty: max " + Number(*m.max) + " is below min " + Number(*m.min));
      }
      if (m.query) Placeholders(ChildPath(path, "query"), *m.query);
    }
  }

  // Every {{name}} of a query is one that analysis fills in (config::QueryPlaceholders()).
  void Placeholders(const std::string& path, const std::string& query) {
    if (!Usable(path)) return;
    const std::vector<std::string>& known = QueryPlaceholders();
    for (size_t open = query.find("{{"); open != std::string::npos;
         open = query.find("{{", open + 2)) {
      const size_t close = query.find("}}", open + 2);
      if (close == std::string::npos) break;  // not a placeholder; Prometheus will judge it
      const std::string name = query.substr(open + 2, close - open - 2);
      if (std::find(known.begin(), known.end(), name) != known.end()) continue;
      std::string expected;
      for (const std::string& k : known) expected += (expected.empty() ? "" : ", ") + k;
      std::string message = "unknown placeholder {{" + name + "}}";
      if (auto hint = ClosestMatch(name, known)) message += " (did you mean {{" + *hint + "}}?)";
      Err(path, message + "; expected one of " + expected + ", each written as {{name}}");
    }
  }

  void Load() {
    if (!s_.load || Broken("load")) return;
    const LoadSpec& l = *s_.load;
    Require("load.url", "the URL to send requests to");
    Url("load.url", l.url);
    Method("load.method", l.method);
    Headers("load.headers", l.headers);
    if (Usable("load.rate") && !(l.rate > 0)) {
      Err("load.rate", "expected requests per second greater than 0, got " + Number(l.rate));
    }
    IntRange("load.concurrency", l.concurrency, 1, 256);
    Positive("load.duration", l.duration);
    Positive("load.timeout", l.timeout);
    if (!l.split || Broken("load.split")) return;
    const SplitSpec& split = *l.split;
    if (split.header.has_value() == split.json.has_value()) {
      Err("load.split",
          "give exactly one of `header` (a response header naming the version) and `json` (a "
          "dotted field of the JSON body)");
    }
    static const std::regex kToken("[-!#$%&'*+.^_`|~0-9A-Za-z]+");
    if (split.header && Usable("load.split.header") && !std::regex_match(*split.header, kToken)) {
      Err("load.split.header", Quote(*split.header) + " is not an HTTP header name");
    }
    if (split.json) DottedPath("load.split.json", *split.json);
    if (!Given("load.split.candidate")) {
      Err("load.split.candidate",
          "missing; expected the value that marks the candidate's answers (e.g. its version)");
    } else if (Usable("load.split.candidate") && split.candidate.empty()) {
      Err("load.split.candidate", "expected a value, got \"\"");
    }
    OpenRange("load.split.confidence", split.confidence, 0.5, 1);
  }

  RolloutSpec& s_;
  Diagnostics* diag_;
};

void ResolveSecrets(const Environment& env, RolloutSpec* spec) {
  static const std::regex kName("[A-Za-z_][A-Za-z0-9_]*");
  std::set<std::string> values;
  for (const std::string& entry : spec->secrets) {
    auto it = env.find(entry);
    if (std::regex_match(entry, kName) && it != env.end()) {
      if (!it->second.empty()) values.insert(it->second);
    } else if (!entry.empty()) {
      values.insert(entry);
    }
  }
  spec->secret_values.assign(values.begin(), values.end());
  // Longest first, so that redacting one secret never leaves part of a longer one visible.
  std::stable_sort(spec->secret_values.begin(), spec->secret_values.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

}  // namespace

Result<RolloutSpec> ParseRolloutSpec(const std::string& yaml_text, const std::string& file_name,
                                     const Environment& env, const Overrides& overrides) {
  Diagnostics diag(Location{file_name + ":1:1", 0, 0});
  std::string shielded = yaml_text;
  if (!ShieldVariableBraces(&shielded)) {
    return ConfigError(file_name +
                       ": invalid YAML: control characters U+0001/U+0002 are not allowed");
  }
  YAML::Node root;
  try {
    root = YAML::Load(shielded);
  } catch (const YAML::Exception& e) {
    // yaml-cpp's marks are 0-based; its message carries its own position prefix.
    return ConfigError(file_name + ":" + std::to_string(e.mark.line + 1) + ":" +
                       std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
  }
  RolloutSpec spec;
  YamlReader reader(file_name, yaml_text, env, &diag);
  if (root.IsNull()) {
    diag.Error("", "the file is empty; expected a mapping with at least app, helm and stable");
    diag.MarkBroken("");
  } else {
    Decoder(&reader, &diag).Decode(root, &spec);
  }
  ApplyOverrides(env, overrides, &spec, &diag);
  if (diag.Usable("")) {
    Validator validator(&spec, &diag);
    validator.FillDefaults();
    validator.Check();
  }
  // Messages quote values, and a value may embed a secret (a URL with a password in it).
  ResolveSecrets(env, &spec);
  if (!diag.ok()) return ConfigError(Redact(spec, diag.Joined()));
  return spec;
}

Result<RolloutSpec> LoadRolloutSpec(const std::string& path, const Environment& env,
                                    const Overrides& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ConfigError(path + ": cannot read the configuration file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return ConfigError(path + ": cannot read the configuration file");
  return ParseRolloutSpec(text.str(), path, env, overrides);
}

Environment ProcessEnvironment() { return canaryctl::ProcessEnvironment(); }

}  // namespace canaryctl::config

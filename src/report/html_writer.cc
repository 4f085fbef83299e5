#include "report/html_writer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

#include "report/annotations_writer.h"
#include "report/atomic_file.h"
#include "report/text.h"

namespace canaryctl::report {
namespace {

// No '<' or '&' in here: the style element's text must stay valid XML character data.
constexpr std::string_view kStyle = R"css(
:root{--pass:#1a7f37;--fail:#cf222e;--inconclusive:#9a6700;--none:#6e7781;--weight:#0969da}
*{box-sizing:border-box}
body{margin:0;background:#f6f8fa;color:#1f2328;
  font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
main{max-width:1120px;margin:0 auto;padding:20px 24px 40px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px 18px;
  margin:16px 0}
h1{font-size:24px;margin:0 0 8px}
h2{font-size:18px;margin:4px 0 10px}
h3{font-size:15px;margin:14px 0 6px}
a{color:#0969da}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
pre{white-space:pre-wrap;word-break:break-all;background:#f6f8fa;padding:6px;margin:4px 0;
  max-height:240px;overflow:auto}
.message{font-size:15px;border-left:4px solid var(--none);padding:2px 10px;margin:8px 0}
.message.bad{border-color:var(--fail)}
dl.facts{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:2px 14px;
  margin:8px 0 0}
dl.facts dt{color:#57606a}
dl.facts dd{margin:0}
.badge,.outcome{display:inline-block;border-radius:10px;padding:0 8px;color:#fff;
  font-weight:600;font-size:12px;line-height:20px;background:var(--none)}
.outcome{font-size:14px;line-height:24px;padding:0 10px;vertical-align:middle}
.pass{--c:var(--pass)}.fail{--c:var(--fail)}.inconclusive{--c:var(--inconclusive)}
.none{--c:var(--none)}
.badge{background:var(--c)}
.outcome.succeeded{background:var(--pass)}
.outcome.failed,.outcome.rolled_back{background:var(--fail)}
.outcome.rollback_failed{background:#82071e}
.outcome.in_progress{background:var(--weight)}
.outcome.interrupted{background:var(--inconclusive)}
table{border-collapse:collapse;width:100%;margin:6px 0 10px}
th,td{border-bottom:1px solid #d8dee4;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.fail td:first-child{box-shadow:inset 3px 0 var(--fail)}
caption{text-align:left;color:#57606a;padding:2px 0}
.step{border-top:1px solid #d0d7de;padding-top:4px}
.step h3 small,.muted{color:#57606a;font-weight:400}
.empty{color:#57606a;font-style:italic}
svg{display:block;width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:#57606a}
svg .grid{stroke:#eaeef2;stroke-width:1}
svg .axis{stroke:#8c959f;stroke-width:1}
svg .weight{fill:none;stroke:var(--weight);stroke-width:2.5;stroke-linejoin:round}
svg .band{fill:var(--c);opacity:.10}
svg .marker{stroke:var(--c);stroke-width:1.5}
svg .step-label{fill:var(--c);font-weight:600}
svg .rollback{stroke:var(--fail);stroke-width:2;stroke-dasharray:6 3}
svg text.rollback-label{fill:var(--fail);font-weight:600}
svg .limit{stroke:var(--fail);stroke-width:1.5;stroke-dasharray:5 3}
svg text.limit-label{fill:var(--fail)}
svg .values{fill:none;stroke:#57606a;stroke-width:1.5}
svg .point{fill:var(--c);stroke:#fff;stroke-width:1}
svg text.value{fill:#1f2328;font-weight:600}
svg .point.nodata{fill:#fff;stroke:var(--none);stroke-width:1.5}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:12px}
.legend span{margin-right:14px;white-space:nowrap}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;
  vertical-align:-1px;background:var(--c)}
.swatch.weight{background:var(--weight)}
.swatch.rollback{background:var(--fail)}
footer{color:#57606a;font-size:12px;text-align:center}
)css";

// The check output kept in the HTML: enough for the reason, small enough for many steps.
constexpr size_t kMaxHtmlOutputBytes = 4096;

using Attrs = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// Writes XHTML-style markup: every attribute value and text escaped, void elements closed.
class Html {
 public:
  explicit Html(const ci::Redactor& redactor) : redactor_(redactor) {}

  // Outside text made safe to place: redacted first (a transformed secret would not match),
  // then valid XML characters. Open/Void/Text escape it.
  std::string Clean(std::string_view raw) const { return ToXmlText(redactor_.Redact(raw)); }
  // The same on one line, for attributes and table cells.
  std::string Line(std::string_view raw) const { return OneLine(Clean(raw)); }

  void Open(std::string_view tag, Attrs attrs = {}) {
    Tag(tag, attrs);
    out_ += '>';
  }
  void Void(std::string_view tag, Attrs attrs = {}) {
    Tag(tag, attrs);
    out_ += "/>";
  }
  // A line break after block elements keeps the file readable; never after inline ones,
  // where it would be rendered as a space.
  void Close(std::string_view tag) {
    out_ += "</";
    out_ += tag;
    out_ += '>';
    if (tag != "span" && tag != "a" && tag != "code" && tag != "small") out_ += '\n';
  }
  // Outside text: cleaned and escaped.
  void Text(std::string_view raw) { Escape(Line(raw)); }
  // canaryctl's own words and numbers: escaped only.
  void Own(std::string_view text) { Escape(text); }
  void Elem(std::string_view tag, Attrs attrs, std::string_view raw) {
    Open(tag, attrs);
    Text(raw);
    Close(tag);
  }
  void OwnElem(std::string_view tag, Attrs attrs, std::string_view text) {
    Open(tag, attrs);
    Own(text);
    Close(tag);
  }
  void Raw(std::string_view markup) { out_ += markup; }

  // A link when the redacted URL is an absolute http(s) one, plain text otherwise.
  void Link(std::string_view label, std::string_view raw_url) {
    std::string url = ToXmlText(redactor_.Redact(raw_url));
    if (!LinkableUrl(url)) {
      Text(label.empty() ? raw_url : label);
      return;
    }
    Open("a", {{"href", url}});
    Text(label.empty() ? raw_url : label);
    Close("a");
  }

  std::string Take() { return std::move(out_); }

 private:
  void Tag(std::string_view tag, Attrs attrs) {
    out_ += '<';
    out_ += tag;
    for (const auto& [name, value] : attrs) {
      out_ += ' ';
      out_ += name;
      out_ += "=\"";
      Escape(value);
      out_ += '"';
    }
  }
  void Escape(std::string_view text) {
    for (char c : text) {
      switch (c) {
        case '&':
          out_ += "&amp;";
          break;
        case '<':
          out_ += "&lt;";
          break;
        case '>':
          out_ += "&gt;";
          break;
        case '"':
          out_ += "&quot;";
          break;
        case '\'':
          out_ += "&#39;";
          break;
        default:
          out_ += c;
      }
    }
  }

  const ci::Redactor& redactor_;
  std::string out_;
};

std::string Px(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// "45s", "3m 50s", "2h 05m".
std::string HumanDuration(int64_t seconds) {
  char buf[48];
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(seconds));
  } else if (seconds < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm %02llds", static_cast<long long>(seconds / 60),
                  static_cast<long long>(seconds % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh %02lldm", static_cast<long long>(seconds / 3600),
                  static_cast<long long>(seconds % 3600 / 60));
  }
  return buf;
}

std::string Percent(int64_t part, int64_t whole) {
  if (whole <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * static_cast<double>(part) / whole);
  return buf;
}

// The worst verdict of a step (fail, then inconclusive, then pass); "none" when nothing was
// judged. Used as a CSS class.
const char* StepVerdictClass(const StepRecord& step) {
  bool any = false, inconclusive = false;
  auto see = [&](Verdict v) {
    any = true;
    inconclusive = inconclusive || v == Verdict::kInconclusive;
    return v == Verdict::kFail;
  };
  for (const CheckRecord& c : step.checks) {
    if (see(c.verdict)) return "fail";
  }
  for (const MetricRecord& m : step.metrics) {
    if (see(m.verdict)) return "fail";
  }
  if (!any) return "none";
  return inconclusive ? "inconclusive" : "pass";
}

std::string VerdictClass(Verdict v) { return std::string(VerdictName(v)); }

std::string WeightLabel(const StepRecord& step) {
  return (step.phase.empty() ? std::string("step") : step.phase) + " " +
         std::to_string(step.weight) + "%";
}

bool IsRollback(const WeightChange& w) { return w.reason.find("rollback") != std::string::npos; }

// ---- header ----

void Fact(Html& h, std::string_view name, std::string_view own_value) {
  h.OwnElem("dt", {}, name);
  h.OwnElem("dd", {}, own_value);
}

void Header(Html& h, const RolloutRecord& r) {
  h.Open("header");
  h.Open("h1");
  h.Own("Rollout of ");
  h.Text(r.app.empty() ? "(unnamed app)" : r.app);
  h.Own(" ");
  std::string outcome = OutcomeName(r.outcome);
  std::string words = outcome;
  std::replace(words.begin(), words.end(), '_', ' ');
  h.OwnElem("span", {{"class", "outcome " + outcome}, {"id", "outcome"}}, words);
  h.Close("h1");
  if (!r.message.empty()) {
    bool bad = r.outcome != Outcome::kSucceeded && r.outcome != Outcome::kInProgress;
    h.Elem("p", {{"class", bad ? "message bad" : "message"}}, r.message);
  }
  h.Open("dl", {{"class", "facts"}});
  Fact(h, "Strategy", h.Line(r.strategy.empty() ? "-" : r.strategy));
  Fact(h, "Phase", h.Line(r.phase.empty() ? "-" : r.phase));
  if (!r.pipeline.pipeline_id.empty() || !r.pipeline.pipeline_url.empty()) {
    h.OwnElem("dt", {}, "Pipeline");
    h.Open("dd");
    h.Link(r.pipeline.pipeline_id, r.pipeline.pipeline_url);
    h.Close("dd");
  }
  if (!r.pipeline.job_name.empty() || !r.pipeline.job_url.empty()) {
    h.OwnElem("dt", {}, "Job");
    h.Open("dd");
    h.Link(r.pipeline.job_name.empty() ? r.pipeline.job_id : r.pipeline.job_name,
           r.pipeline.job_url);
    h.Close("dd");
  }
  if (!r.pipeline.user.empty()) Fact(h, "Run by", h.Line(r.pipeline.user));
  if (!r.pipeline.ref.empty()) Fact(h, "Ref", h.Line(r.pipeline.ref));
  Fact(h, "Started", r.started_at != 0 ? IsoTimeUtc(r.started_at) : "-");
  Fact(h, "Finished", r.finished_at != 0 ? IsoTimeUtc(r.finished_at) : "not yet");
  if (r.started_at != 0 && r.finished_at >= r.started_at) {
    Fact(h, "Duration", HumanDuration(r.finished_at - r.started_at));
  }
  WeightChange w = CurrentWeights(r);
  Fact(h, "Traffic now",
       "stable " + std::to_string(w.stable) + "%, candidate " + std::to_string(w.candidate) + "%");
  if (r.rollback_ms) {
    Fact(h, "Rollback",
         "stable restored " + std::to_string(*r.rollback_ms) + " ms after the failing verdict");
  }
  h.Close("dl");
  h.Close("header");
}

// ---- timeline ----

constexpr double kTimelineW = 960, kTimelineH = 300;
constexpr double kTlLeft = 48, kTlRight = 20, kTlTop = 40, kTlBottom = 36;

struct TimeAxis {
  int64_t t0 = 0, t1 = 0;  // t1 > t0 when valid
  bool valid() const { return t1 > t0; }
  double X(int64_t t) const {
    double w = kTimelineW - kTlLeft - kTlRight;
    return kTlLeft + w * static_cast<double>(t - t0) / static_cast<double>(t1 - t0);
  }
};

double WeightY(int weight) {
  double hgt = kTimelineH - kTlTop - kTlBottom;
  return kTlTop + hgt * (100.0 - std::clamp(weight, 0, 100)) / 100.0;
}

TimeAxis MakeTimeAxis(const RolloutRecord& r) {
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
  auto add = [&](int64_t t) {
    if (t <= 0) return;
    lo = std::min(lo, t);
    hi = std::max(hi, t);
  };
  add(r.started_at);
  add(r.finished_at);
  for (const StepRecord& s : r.steps) {
    add(s.started_at);
    add(s.finished_at);
  }
  for (const WeightChange& w : r.weights) add(w.at);
  if (lo > hi) return {};
  // A single instant still gets a readable axis: one minute from it.
  return {lo, hi > lo ? hi : lo + 60};
}

int64_t TickStep(int64_t span) {
  static const int64_t kSteps[] = {1,     2,     5,     10,    15,     30,    60,
                                   120,   300,   600,   900,   1800,   3600,  7200,
                                   10800, 21600, 43200, 86400, 172800, 604800};
  for (int64_t s : kSteps) {
    if (span / s <= 8) return s;
  }
  return span / 8 + 1;
}

void TimeTicks(Html& h, const TimeAxis& axis) {
  int64_t step = TickStep(axis.t1 - axis.t0);
  bool days = axis.t1 - axis.t0 >= 86400;
  std::string y0 = Px(kTlTop), y1 = Px(kTimelineH - kTlBottom + 4);
  for (int64_t t = (axis.t0 + step - 1) / step * step; t <= axis.t1; t += step) {
    std::string x = Px(axis.X(t));
    h.Void("line", {{"class", "grid"}, {"x1", x}, {"x2", x}, {"y1", y0}, {"y2", y1}});
    std::string iso = IsoTimeUtc(t);  // 2026-11-26T19:50:27Z
    std::string label = days ? iso.substr(5, 5) + " " + iso.substr(11, 5) : iso.substr(11, 8);
    // Labels at the ends are kept inside the picture.
    double at = axis.X(t);
    const char* anchor = at > kTimelineW - kTlRight - 30 ? "end"
                         : at < kTlLeft + 30             ? "start"
                                                         : "middle";
    h.OwnElem("text", {{"x", x}, {"y", Px(kTimelineH - kTlBottom + 18)}, {"text-anchor", anchor}},
              label);
  }
}

// The candidate's weight as a step chart: flat until the next change, then a vertical jump.
std::string WeightPoints(const RolloutRecord& r, const TimeAxis& axis) {
  std::string points;
  auto point = [&](int64_t t, int weight) {
    if (!points.empty()) points += ' ';
    points += Px(axis.X(t)) + "," + Px(WeightY(weight));
  };
  int64_t last_t = 0;
  int last_w = 0;
  bool started = false;
  for (const WeightChange& w : r.weights) {
    if (w.at <= 0) continue;
    // History is oldest first; a clock step backwards must not draw the line backwards.
    int64_t t = started ? std::max(w.at, last_t) : w.at;
    if (started) point(t, last_w);
    point(t, w.candidate);
    last_t = t, last_w = w.candidate, started = true;
  }
  if (started && last_t < axis.t1) point(axis.t1, last_w);
  return points;
}

void Timeline(Html& h, const RolloutRecord& r) {
  h.Open("section", {{"class", "timeline"}, {"id", "timeline"}});
  h.OwnElem("h2", {}, "Traffic over time");
  h.Open("svg", {{"class", "timeline-chart"},
                 {"viewBox", "0 0 " + Px(kTimelineW) + " " + Px(kTimelineH)},
                 {"role", "img"},
                 {"aria-label", "candidate weight over time"}});
  std::string x0 = Px(kTlLeft), x1 = Px(kTimelineW - kTlRight);
  for (int w = 0; w <= 100; w += 25) {
    std::string y = Px(WeightY(w));
    h.Void("line",
           {{"class", w == 0 ? "axis" : "grid"}, {"x1", x0}, {"x2", x1}, {"y1", y}, {"y2", y}});
    h.OwnElem("text", {{"x", Px(kTlLeft - 6)}, {"y", Px(WeightY(w) + 4)}, {"text-anchor", "end"}},
              std::to_string(w) + "%");
  }
  TimeAxis axis = MakeTimeAxis(r);
  if (!axis.valid()) {
    h.OwnElem("text",
              {{"x", Px(kTimelineW / 2)}, {"y", Px(kTimelineH / 2)}, {"text-anchor", "middle"}},
              "No times recorded yet.");
    h.Close("svg");
    h.Close("section");
    return;
  }
  TimeTicks(h, axis);

  // Steps: a band over the time they ran, a marker where they started, a label when it fits.
  double label_end = 0;
  std::string top = Px(kTlTop - 4), bottom = Px(kTimelineH - kTlBottom);
  for (size_t i = 0; i < r.steps.size(); ++i) {
    const StepRecord& s = r.steps[i];
    if (s.started_at <= 0) continue;
    std::string cls = StepVerdictClass(s);
    std::string label = h.Line(WeightLabel(s));
    double x = axis.X(s.started_at);
    h.Open("g", {{"class", "step " + cls}});
    h.Open("title");
    h.Own(label + ": " + cls + ", started " + IsoTimeUtc(s.started_at));
    if (s.finished_at >= s.started_at) h.Own(", finished " + IsoTimeUtc(s.finished_at));
    h.Close("title");
    if (s.finished_at > s.started_at) {
      h.Void("rect", {{"class", "band"},
                      {"x", Px(x)},
                      {"y", Px(kTlTop)},
                      {"width", Px(std::max(axis.X(s.finished_at) - x, 1.0))},
                      {"height", Px(kTimelineH - kTlTop - kTlBottom)}});
    }
    h.Void("line",
           {{"class", "marker"}, {"x1", Px(x)}, {"x2", Px(x)}, {"y1", top}, {"y2", bottom}});
    // Labels that would overlap the previous one are left to the tooltip and the tables.
    double width = 6.5 * static_cast<double>(label.size()) + 6;
    if (x >= label_end && x + width <= kTimelineW) {
      h.OwnElem("text", {{"class", "step-label"}, {"x", Px(x + 3)}, {"y", Px(kTlTop - 10)}}, label);
      label_end = x + width;
    }
    h.Close("g");
  }

  std::string points = WeightPoints(r, axis);
  if (!points.empty()) h.Void("polyline", {{"class", "weight"}, {"points", points}});

  for (auto it = r.weights.rbegin(); it != r.weights.rend(); ++it) {
    if (!IsRollback(*it) || it->at <= 0) continue;
    std::string x = Px(axis.X(it->at));
    std::string label = "rollback";
    if (r.rollback_ms) label += ": stable restored in " + std::to_string(*r.rollback_ms) + " ms";
    h.Open("g", {{"class", "rollback-mark"}});
    h.OwnElem("title", {}, label + " at " + IsoTimeUtc(it->at));
    h.Void("line",
           {{"class", "rollback"}, {"x1", x}, {"x2", x}, {"y1", Px(kTlTop)}, {"y2", bottom}});
    bool left = axis.X(it->at) > kTimelineW - 260;
    h.OwnElem("text",
              {{"class", "rollback-label"},
               {"x", Px(axis.X(it->at) + (left ? -4 : 4))},
               {"y", Px(kTlTop + 14)},
               {"text-anchor", left ? "end" : "start"}},
              label);
    h.Close("g");
    break;  // the last rollback is the one this record is about
  }
  h.Close("svg");

  h.Open("p", {{"class", "legend"}});
  h.Raw(R"(<span><i class="swatch weight"></i>candidate weight</span>)"
        R"(<span class="pass"><i class="swatch"></i>step passed</span>)"
        R"(<span class="fail"><i class="swatch"></i>step failed</span>)"
        R"(<span class="inconclusive"><i class="swatch"></i>inconclusive</span>)"
        R"(<span class="none"><i class="swatch"></i>no verdict</span>)");
  if (r.rollback_ms || std::any_of(r.weights.begin(), r.weights.end(), IsRollback)) {
    h.Raw(R"(<span><i class="swatch rollback"></i>rollback</span>)");
  }
  h.Own(" Times in UTC, " + IsoTimeUtc(axis.t0) + " to " + IsoTimeUtc(axis.t1) + ".");
  h.Close("p");
  h.Close("section");
}

// ---- analysis charts ----

constexpr double kChartW = 480, kChartH = 220;
constexpr double kChLeft = 56, kChRight = 14, kChTop = 14, kChBottom = 40;

struct MetricPoint {
  const StepRecord* step;
  const MetricRecord* metric;
};

// The first finite min (or max) limit among the points.
bool FirstLimit(const std::vector<MetricPoint>& points, bool min, double* limit) {
  for (const MetricPoint& p : points) {
    const std::optional<double>& l = min ? p.metric->min : p.metric->max;
    if (l && std::isfinite(*l)) {
      *limit = *l;
      return true;
    }
  }
  return false;
}

// One metric across the steps: its value at each (a dot in the verdict's colour, joined by a
// line) and its configured limits as dashed lines.
void MetricChart(Html& h, const std::string& name, const std::string& title,
                 const std::vector<MetricPoint>& points) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  auto add = [&](std::optional<double> v) {
    if (!v || !std::isfinite(*v)) return;
    lo = std::min(lo, *v);
    hi = std::max(hi, *v);
  };
  std::string unit;
  for (const MetricPoint& p : points) {
    add(p.metric->value);
    add(p.metric->min);
    add(p.metric->max);
    if (unit.empty()) unit = p.metric->unit;
  }
  if (lo > hi) lo = 0, hi = 1;  // no number at all: an empty frame
  double pad = hi > lo ? (hi - lo) * 0.15 : std::max(1.0, std::fabs(hi) * 0.1);
  lo -= pad, hi += pad;
  double plot_w = kChartW - kChLeft - kChRight, plot_h = kChartH - kChTop - kChBottom;
  auto y_of = [&](double v) { return kChTop + plot_h * (hi - v) / (hi - lo); };
  auto x_of = [&](size_t i) {
    return kChLeft + plot_w * (static_cast<double>(i) + 0.5) / static_cast<double>(points.size());
  };

  h.Open("figure", {{"class", "metric"}});
  h.Open("figcaption");
  h.Text(title + (unit.empty() ? "" : " (" + unit + ")"));
  h.Close("figcaption");
  h.Open("svg", {{"class", "metric-chart"},
                 {"data-metric", name},
                 {"viewBox", "0 0 " + Px(kChartW) + " " + Px(kChartH)},
                 {"role", "img"},
                 {"aria-label", title}});
  std::string x0 = Px(kChLeft), x1 = Px(kChartW - kChRight);
  for (double v : {hi - pad, (hi + lo) / 2, lo + pad}) {
    std::string y = Px(y_of(v));
    h.Void("line", {{"class", "grid"}, {"x1", x0}, {"x2", x1}, {"y1", y}, {"y2", y}});
    h.OwnElem("text", {{"x", Px(kChLeft - 6)}, {"y", Px(y_of(v) + 4)}, {"text-anchor", "end"}},
              ValueText(v));
  }
  std::string base = Px(kChartH - kChBottom);
  h.Void("line", {{"class", "axis"}, {"x1", x0}, {"x2", x1}, {"y1", base}, {"y2", base}});

  // Limits are the configuration of the first step that has one; they rarely change.
  for (bool is_min : {true, false}) {
    double limit = 0;
    if (!FirstLimit(points, is_min, &limit)) continue;
    std::string bound = is_min ? "min" : "max";
    std::string y = Px(y_of(limit));
    h.Void("line", {{"class", "limit " + bound}, {"x1", x0}, {"x2", x1}, {"y1", y}, {"y2", y}});
    h.OwnElem("text",
              {{"class", "limit-label"},
               {"x", Px(kChartW - kChRight - 2)},
               {"y", Px(y_of(limit) - 4)},
               {"text-anchor", "end"}},
              bound + " " + ValueText(limit));
  }

  std::string line;
  for (size_t i = 0; i < points.size(); ++i) {
    const std::optional<double>& v = points[i].metric->value;
    if (!v || !std::isfinite(*v)) continue;
    if (!line.empty()) line += ' ';
    line += Px(x_of(i)) + "," + Px(y_of(*v));
  }
  if (!line.empty()) h.Void("polyline", {{"class", "values"}, {"points", line}});

  double spacing = plot_w / static_cast<double>(points.size());
  for (size_t i = 0; i < points.size(); ++i) {
    const MetricPoint& p = points[i];
    const std::optional<double>& v = p.metric->value;
    bool data = v && std::isfinite(*v);
    std::string step = h.Line(WeightLabel(*p.step));
    h.Open("g", {{"class", VerdictClass(p.metric->verdict)}});
    h.Open("title");
    h.Own(step + ": " + (v ? ValueText(*v) + " " : std::string("no data ")));
    h.Own(VerdictClass(p.metric->verdict));
    h.Close("title");
    h.Void("circle", {{"class", data ? "point" : "point nodata"},
                      {"cx", Px(x_of(i))},
                      {"cy", Px(data ? y_of(*v) : kChartH - kChBottom)},
                      {"r", spacing >= 8 ? "4" : "2"}});
    if (data && spacing >= 40) {
      h.OwnElem("text",
                {{"class", "value"},
                 {"x", Px(x_of(i))},
                 {"y", Px(y_of(*v) - 8)},
                 {"text-anchor", "middle"}},
                ValueText(*v));
    }
    if (spacing >= 48 || i == 0 || i + 1 == points.size()) {
      h.OwnElem(
          "text",
          {{"x", Px(x_of(i))}, {"y", Px(kChartH - kChBottom + 16)}, {"text-anchor", "middle"}},
          std::to_string(p.step->weight) + "%");
    }
    h.Close("g");
  }
  h.Close("svg");
  h.Close("figure");
}

void Analysis(Html& h, const RolloutRecord& r) {
  static const std::pair<const char*, const char*> kCharted[] = {
      {"request-success-rate", "Candidate's success rate per step"},
      {"request-duration", "Candidate's p99 latency per step"},
  };
  std::vector<std::pair<std::string, std::vector<MetricPoint>>> charts;
  for (const auto& [name, title] : kCharted) {
    std::vector<MetricPoint> points;
    for (const StepRecord& s : r.steps) {
      for (const MetricRecord& m : s.metrics) {
        if (m.name != name) continue;
        points.push_back({&s, &m});
        break;
      }
    }
    if (!points.empty()) charts.emplace_back(title, std::move(points));
  }
  if (charts.empty()) return;
  h.Open("section", {{"class", "analysis"}, {"id", "analysis"}});
  h.OwnElem("h2", {}, "Analysis");
  h.Open("div", {{"class", "charts"}});
  for (const auto& [title, points] : charts) MetricChart(h, points[0].metric->name, title, points);
  h.Close("div");
  h.Close("section");
}

// ---- steps ----

std::string Limits(const MetricRecord& m) {
  std::string s;
  if (m.min) s += "≥ " + ValueText(*m.min);
  if (m.max) s += (s.empty() ? "" : ", ") + std::string("≤ ") + ValueText(*m.max);
  return s.empty() ? "-" : s;
}

void Badge(Html& h, Verdict v) {
  h.OwnElem("span", {{"class", "badge " + VerdictClass(v)}}, VerdictClass(v));
}

// A row in the verdict's colour, starting with the name and the verdict's badge.
void OpenVerdictRow(Html& h, const std::string& name, Verdict v) {
  h.Open("tr", {{"class", VerdictClass(v)}});
  h.Elem("td", {}, name);
  h.Open("td");
  Badge(h, v);
  h.Close("td");
}

void ChecksTable(Html& h, const StepRecord& s) {
  if (s.checks.empty()) {
    h.OwnElem("p", {{"class", "empty"}}, "No checks ran.");
    return;
  }
  std::vector<std::string> names = UniqueCheckNames(s);
  h.Open("table", {{"class", "checks"}});
  h.Raw(
      "<thead><tr><th>check</th><th>verdict</th><th>message</th>"
      "<th class=\"num\">duration</th></tr></thead>\n");
  h.Open("tbody");
  for (size_t i = 0; i < s.checks.size(); ++i) {
    const CheckRecord& c = s.checks[i];
    OpenVerdictRow(h, names[i], c.verdict);
    h.Open("td");
    h.Text(c.message);
    if (c.attempts > 1) h.Own(" (" + std::to_string(c.attempts) + " attempts)");
    if (!c.output.empty()) {
      // Redact the whole output before cutting it, so a secret across the cut is still masked.
      h.Raw("<details><summary>output</summary><pre>");
      h.Own(KeepTail(h.Clean(c.output), kMaxHtmlOutputBytes));
      h.Raw("</pre></details>");
    }
    h.Close("td");
    h.OwnElem("td", {{"class", "num"}}, SecondsText(c.duration) + " s");
    h.Close("tr");
  }
  h.Close("tbody");
  h.Close("table");
}

void MetricsTable(Html& h, const StepRecord& s) {
  if (s.metrics.empty()) return;
  std::vector<std::string> names = UniqueMetricNames(s);
  h.Open("table", {{"class", "metrics"}});
  h.Raw(
      "<thead><tr><th>metric</th><th>verdict</th><th class=\"num\">value</th>"
      "<th>limits</th><th class=\"num\">measurements</th><th>message</th></tr></thead>\n");
  h.Open("tbody");
  for (size_t i = 0; i < s.metrics.size(); ++i) {
    const MetricRecord& m = s.metrics[i];
    std::string unit = h.Line(m.unit.empty() ? "" : " " + m.unit);
    OpenVerdictRow(h, names[i], m.verdict);
    h.OwnElem("td", {{"class", "num"}}, m.value ? ValueText(*m.value) + unit : "no data");
    h.OwnElem("td", {}, Limits(m) == "-" ? "-" : Limits(m) + unit);
    h.OwnElem("td", {{"class", "num"}}, std::to_string(m.measurements));
    h.Elem("td", {}, m.message);
    h.Close("tr");
  }
  h.Close("tbody");
  h.Close("table");
}

void LoadTable(Html& h, const RolloutRecord& r, const StepRecord& s) {
  if (!s.load) return;
  const LoadRecord& load = *s.load;
  h.Open("table", {{"class", "load"}});
  h.Open("caption");
  char p99[32];
  std::snprintf(p99, sizeof p99, "%.1f", load.p99_ms);
  h.Own("Generated load: " + std::to_string(load.requests) + " requests, " +
        std::to_string(load.errors) + " errors (" + Percent(load.errors, load.requests) +
        "), p99 " + p99 + " ms; candidate weight " + std::to_string(s.weight) + "%.");
  h.Close("caption");
  h.Raw(
      "<thead><tr><th>version</th><th class=\"num\">answers</th>"
      "<th class=\"num\">share</th></tr></thead>\n");
  h.Open("tbody");
  int64_t answered = 0;
  for (const auto& [version, n] : load.by_version) answered += n;
  for (const auto& [version, n] : load.by_version) {
    h.Open("tr");
    h.Open("td");
    h.Text(version.empty() ? "(unknown)" : version);
    if (!version.empty() && version == r.candidate.version) h.Own(" (candidate)");
    if (!version.empty() && version == r.stable.version) h.Own(" (stable)");
    h.Close("td");
    h.OwnElem("td", {{"class", "num"}}, std::to_string(n));
    h.OwnElem("td", {{"class", "num"}}, Percent(n, answered));
    h.Close("tr");
  }
  h.Close("tbody");
  h.Close("table");
}

void Steps(Html& h, const RolloutRecord& r) {
  h.Open("section", {{"class", "steps"}, {"id", "steps"}});
  h.OwnElem("h2", {}, "Steps");
  if (r.steps.empty()) h.OwnElem("p", {{"class", "empty"}}, "No steps ran.");
  for (size_t i = 0; i < r.steps.size(); ++i) {
    const StepRecord& s = r.steps[i];
    std::string cls = StepVerdictClass(s);
    h.Open("div", {{"class", "step " + cls}, {"id", "step-" + std::to_string(i)}});
    h.Open("h3");
    h.OwnElem("span", {{"class", "badge"}}, cls == "none" ? "no verdict" : cls);
    h.Own(" ");
    h.Text(WeightLabel(s));
    h.Open("small");
    if (s.started_at > 0) h.Own(" started " + IsoTimeUtc(s.started_at));
    if (s.started_at > 0 && s.finished_at >= s.started_at) {
      h.Own(", took " + HumanDuration(s.finished_at - s.started_at));
    }
    h.Close("small");
    h.Close("h3");
    ChecksTable(h, s);
    MetricsTable(h, s);
    LoadTable(h, r, s);
    h.Close("div");
  }
  h.Close("section");
}

// ---- releases, commits, links ----

void Changes(Html& h, const RolloutRecord& r) {
  h.Open("section", {{"class", "changes"}, {"id", "changes"}});
  h.OwnElem("h2", {}, "What changed");
  h.Open("table", {{"class", "releases"}});
  h.Raw("<thead><tr><th></th><th>stable</th><th>candidate</th></tr></thead>\n");
  h.Open("tbody");
  auto row = [&](const char* name, const std::string& s, const std::string& c) {
    h.Open("tr");
    h.OwnElem("th", {}, name);
    h.Elem("td", {}, s.empty() ? "-" : s);
    h.Elem("td", {}, c.empty() ? "-" : c);
    h.Close("tr");
  };
  auto release = [](const ReleaseInfo& i) {
    return i.namespace_name.empty() ? i.release : i.namespace_name + "/" + i.release;
  };
  auto rev = [](int n) { return n > 0 ? std::to_string(n) : std::string(); };
  row("release", release(r.stable), release(r.candidate));
  row("chart", r.stable.chart, r.candidate.chart);
  row("version", r.stable.version, r.candidate.version);
  row("revision", rev(r.stable.revision), rev(r.candidate.revision));
  row("commit", r.stable.commit, r.candidate.commit);
  h.Close("tbody");
  h.Close("table");

  h.OwnElem("h3", {}, "Commits");
  if (r.changelog.empty()) {
    h.OwnElem("p", {{"class", "empty"}}, "No commits recorded.");
  } else {
    h.Open("ul", {{"class", "changelog"}});
    for (const std::string& line : r.changelog) {
      // "abc1234 Subject": the hash in monospace.
      std::string clean = h.Line(line);
      size_t space = clean.find(' ');
      std::string hash = clean.substr(0, space);
      bool hex = hash.size() >= 7 && hash.size() <= 40 &&
                 hash.find_first_not_of("0123456789abcdef") == std::string::npos;
      h.Open("li");
      if (hex) {
        h.OwnElem("code", {}, hash);
        h.Own(space == std::string::npos ? "" : clean.substr(space));
      } else {
        h.Own(clean);
      }
      h.Close("li");
    }
    h.Close("ul");
  }
  h.Close("section");
}

void Links(Html& h, const RolloutRecord& r) {
  if (r.environment_url.empty() && r.dashboards.empty()) return;
  h.Open("section", {{"class", "links"}, {"id", "links"}});
  h.OwnElem("h2", {}, "Links");
  h.Open("ul");
  if (!r.environment_url.empty()) {
    h.Open("li");
    h.Own("Environment: ");
    h.Link(r.environment_name, r.environment_url);
    h.Close("li");
  }
  for (const Link& l : r.dashboards) {
    h.Open("li");
    h.Link(l.label, l.url);
    h.Close("li");
  }
  h.Close("ul");
  h.Close("section");
}

}  // namespace

std::string RenderHtmlReport(const RolloutRecord& record, const ci::Redactor& redactor) {
  Html h(redactor);
  h.Raw("<!DOCTYPE html>\n");
  h.Open("html", {{"lang", "en"}});
  h.Open("head");
  h.Void("meta", {{"charset", "utf-8"}});
  h.Void("meta", {{"name", "viewport"}, {"content", "width=device-width, initial-scale=1"}});
  h.Open("title");
  h.Own("canaryctl: ");
  h.Text(record.app);
  h.Own(std::string(" ") + OutcomeName(record.outcome));
  h.Close("title");
  h.Open("style");
  h.Raw(kStyle);
  h.Close("style");
  h.Close("head");
  h.Open("body");
  h.Open("main");
  Header(h, record);
  Timeline(h, record);
  Analysis(h, record);
  Steps(h, record);
  Changes(h, record);
  Links(h, record);
  h.OwnElem("footer", {}, "Written by canaryctl.");
  h.Close("main");
  h.Close("body");
  h.Close("html");
  return h.Take();
}

Status WriteHtmlReport(const std::string& dir, const RolloutRecord& record,
                       const ci::Redactor& redactor) {
  return WriteFileAtomically(dir, kHtmlReportFile, RenderHtmlReport(record, redactor));
}

}  // namespace canaryctl::report

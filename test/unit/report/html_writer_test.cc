#include "report/html_writer.h"

#include <Poco/DOM/AutoPtr.h>
#include <Poco/DOM/DOMParser.h>
#include <Poco/DOM/Document.h>
#include <Poco/DOM/Element.h>
#include <Poco/DOM/NamedNodeMap.h>
#include <Poco/SAX/SAXException.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <sstream>

#include "record_fixture.h"

namespace canaryctl::report {
namespace {

using Poco::XML::AutoPtr;
using Poco::XML::Element;
using Poco::XML::Node;

std::vector<std::pair<double, double>> Points(const std::string& attr) {
  std::vector<std::pair<double, double>> out;
  std::istringstream in(attr);
  for (std::string p; in >> p;) {
    size_t comma = p.find(',');
    out.emplace_back(std::stod(p.substr(0, comma)), std::stod(p.substr(comma + 1)));
  }
  return out;
}

double Num(Element* e, const std::string& attr) { return std::stod(e->getAttribute(attr)); }

// The report parsed as XML: every test asserts on elements, not on bytes. Every coordinate
// must be a finite number: a NaN would make a browser drop the shape.
class Dom {
 public:
  explicit Dom(const std::string& html) {
    Poco::XML::DOMParser parser;
    try {
      doc_ = parser.parseString(html);
    } catch (const Poco::Exception& e) {
      ADD_FAILURE() << "not well-formed XML: " << e.displayText() << "\n" << html.substr(0, 4000);
      return;
    }
    ExpectFiniteGeometry();
  }
  bool ok() const { return !doc_.isNull(); }

  // Elements named `tag` (any when empty) having every class in `classes`, under `root`.
  std::vector<Element*> Find(const std::string& tag, const std::string& classes = "",
                             Node* root = nullptr) const {
    std::vector<Element*> out;
    if (!ok()) return out;
    Walk(root != nullptr ? root : doc_->documentElement(), [&](Element* e) {
      if ((tag.empty() || e->tagName() == tag) && HasClasses(e, classes)) out.push_back(e);
    });
    return out;
  }
  Element* One(const std::string& tag, const std::string& classes = "",
               Node* root = nullptr) const {
    std::vector<Element*> all = Find(tag, classes, root);
    EXPECT_EQ(all.size(), 1u) << tag << "." << classes;
    return all.empty() ? nullptr : all[0];
  }
  Element* ById(const std::string& id) const {
    for (Element* e : Find("")) {
      if (e->getAttribute("id") == id) return e;
    }
    ADD_FAILURE() << "no element #" << id;
    return nullptr;
  }

  void ExpectFiniteGeometry() const {
    for (Element* e : Find("")) {
      for (const char* a : {"x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height"}) {
        if (!e->hasAttribute(a)) continue;
        double v = Num(e, a);
        EXPECT_TRUE(std::isfinite(v)) << e->tagName() << " " << a << "=" << e->getAttribute(a);
      }
      if (e->hasAttribute("points")) {
        for (const auto& [x, y] : Points(e->getAttribute("points"))) {
          EXPECT_TRUE(std::isfinite(x) && std::isfinite(y)) << e->getAttribute("points");
        }
      }
    }
  }

  template <typename F>
  static void Walk(Node* node, F f) {
    if (node->nodeType() == Node::ELEMENT_NODE) f(static_cast<Element*>(node));
    for (Node* c = node->firstChild(); c != nullptr; c = c->nextSibling()) Walk(c, f);
  }

  static bool HasClasses(Element* e, const std::string& classes) {
    std::set<std::string> have;
    std::istringstream in(e->getAttribute("class"));
    for (std::string c; in >> c;) have.insert(c);
    std::istringstream want(classes);
    for (std::string c; want >> c;) {
      if (have.count(c) == 0) return false;
    }
    return true;
  }

 private:
  AutoPtr<Poco::XML::Document> doc_;
};

std::string Html(const RolloutRecord& r, const ci::Redactor& redactor = ci::Redactor()) {
  return RenderHtmlReport(r, redactor);
}

TEST(HtmlReportTest, OneTableRowPerCheckAndMetricPerStep) {
  RolloutRecord r = testing::SampleRecord();
  Dom dom(Html(r));
  ASSERT_TRUE(dom.ok());
  for (size_t i = 0; i < r.steps.size(); ++i) {
    Element* step = dom.ById("step-" + std::to_string(i));
    ASSERT_NE(step, nullptr);
    std::vector<Element*> rows =
        dom.Find("tr", "", dom.One("tbody", "", dom.One("table", "checks", step)));
    ASSERT_EQ(rows.size(), r.steps[i].checks.size()) << i;
    for (size_t j = 0; j < rows.size(); ++j) {
      Element* name = dom.Find("td", "", rows[j])[0];
      EXPECT_EQ(name->innerText(), r.steps[i].checks[j].name);
      EXPECT_TRUE(Dom::HasClasses(rows[j], std::string(VerdictName(r.steps[i].checks[j].verdict))));
    }
  }
  // The shift step: its metrics with value, limits and verdict, and its load per version.
  Element* shift = dom.ById("step-1");
  std::vector<Element*> metric_rows =
      dom.Find("tr", "", dom.One("tbody", "", dom.One("table", "metrics", shift)));
  ASSERT_EQ(metric_rows.size(), 2u);
  std::vector<Element*> cells = dom.Find("td", "", metric_rows[0]);
  ASSERT_EQ(cells.size(), 6u);
  EXPECT_EQ(cells[0]->innerText(), "request-success-rate");
  EXPECT_EQ(cells[1]->innerText(), "fail");
  EXPECT_EQ(cells[2]->innerText(), "80.5 %");
  EXPECT_EQ(cells[3]->innerText(), "≥ 99 %");
  EXPECT_EQ(cells[4]->innerText(), "2");
  EXPECT_EQ(dom.Find("td", "", metric_rows[1])[3]->innerText(), "≤ 500 ms");
  std::vector<Element*> load_rows =
      dom.Find("tr", "", dom.One("tbody", "", dom.One("table", "load", shift)));
  ASSERT_EQ(load_rows.size(), 2u);
  EXPECT_EQ(dom.Find("td", "", load_rows[1])[0]->innerText(), "1.1.0 (candidate)");
  EXPECT_EQ(dom.Find("td", "", load_rows[1])[1]->innerText(), "90");
  EXPECT_EQ(dom.Find("td", "", load_rows[1])[2]->innerText(), "30.0%");
  // The test step had neither.
  Element* test = dom.ById("step-0");
  EXPECT_TRUE(dom.Find("table", "metrics", test).empty());
  EXPECT_TRUE(dom.Find("table", "load", test).empty());
}

TEST(HtmlReportTest, HeaderShowsOutcomeLinksAndTimes) {
  Dom dom(Html(testing::SampleRecord()));
  ASSERT_TRUE(dom.ok());
  Element* outcome = dom.ById("outcome");
  ASSERT_NE(outcome, nullptr);
  EXPECT_TRUE(Dom::HasClasses(outcome, "outcome rolled_back"));
  EXPECT_EQ(outcome->innerText(), "rolled back");
  std::string header = dom.One("header")->innerText();
  for (const char* want : {"health failed at 30%", "2023-11-14T22:13:20Z", "2023-11-14T22:17:10Z",
                           "3m 50s", "850 ms", "hybrid", "alice"}) {
    EXPECT_NE(header.find(want), std::string::npos) << want << " in " << header;
  }
  std::set<std::string> hrefs;
  for (Element* a : dom.Find("a")) hrefs.insert(a->getAttribute("href"));
  EXPECT_EQ(hrefs, (std::set<std::string>{"https://gitlab.example.com/g/demo/-/pipelines/1234",
                                          "https://gitlab.example.com/g/demo/-/jobs/99",
                                          "https://demo.example.com",
                                          "https://grafana.example.com/d/demo"}));
}

// The y of the 0% and 100% grid lines of the timeline, to turn the line's y back into weights.
std::pair<double, double> WeightScale(const Dom& dom, Element* svg) {
  std::vector<double> ys;
  for (Element* line : dom.Find("line", "", svg)) {
    if (Dom::HasClasses(line, "axis") || Dom::HasClasses(line, "grid")) {
      if (line->getAttribute("y1") == line->getAttribute("y2")) ys.push_back(Num(line, "y1"));
    }
  }
  EXPECT_GE(ys.size(), 2u);
  if (ys.size() < 2) return {0, 1};
  return {*std::max_element(ys.begin(), ys.end()), *std::min_element(ys.begin(), ys.end())};
}

TEST(HtmlReportTest, WeightLineIsAStepChartOfTheHistory) {
  RolloutRecord r = testing::SampleRecord();
  // deploy 0% at t0, 30% at t0+100, rollback to 0% at t0+200; the axis ends at t0+230.
  Dom dom(Html(r));
  ASSERT_TRUE(dom.ok());
  Element* svg = dom.One("svg", "timeline-chart");
  ASSERT_NE(svg, nullptr);
  auto [y0, y100] = WeightScale(dom, svg);
  auto points = Points(dom.One("polyline", "weight", svg)->getAttribute("points"));
  std::vector<int> weights;
  for (const auto& [x, y] : points)
    weights.push_back(static_cast<int>(std::lround(100 * (y0 - y) / (y0 - y100))));
  EXPECT_EQ(weights, (std::vector<int>{0, 0, 30, 30, 0, 0}));
  ASSERT_EQ(points.size(), 6u);
  // Vertical jumps (same x), flat runs (increasing x), times in proportion.
  EXPECT_DOUBLE_EQ(points[1].first, points[2].first);
  EXPECT_DOUBLE_EQ(points[3].first, points[4].first);
  EXPECT_LT(points[0].first, points[1].first);
  EXPECT_LT(points[4].first, points[5].first);
  double span = points[5].first - points[0].first;
  EXPECT_NEAR((points[1].first - points[0].first) / span, 100.0 / 230, 0.01);
  EXPECT_NEAR((points[3].first - points[0].first) / span, 200.0 / 230, 0.01);

  // The rollback line sits where the weight dropped back and says how long it took.
  Element* rollback = dom.One("g", "rollback-mark", svg);
  ASSERT_NE(rollback, nullptr);
  EXPECT_NEAR(Num(dom.One("line", "rollback", rollback), "x1"), points[3].first, 0.1);
  EXPECT_NE(rollback->innerText().find("850 ms"), std::string::npos) << rollback->innerText();

  // Step markers: in their verdict's colour, at their start, labelled with phase and weight.
  std::vector<Element*> steps = dom.Find("g", "step", svg);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_TRUE(Dom::HasClasses(steps[0], "pass"));
  EXPECT_TRUE(Dom::HasClasses(steps[1], "fail"));
  EXPECT_EQ(dom.One("text", "step-label", steps[1])->innerText(), "shift 30%");
  EXPECT_NEAR(Num(dom.One("line", "marker", steps[1]), "x1"), points[1].first, 0.1);
}

TEST(HtmlReportTest, NoRollbackMarkWithoutARollback) {
  RolloutRecord r = testing::SampleRecord();
  r.outcome = Outcome::kSucceeded;
  r.rollback_ms.reset();
  r.weights.back() = {1700000200, 0, 100, "promote"};
  Dom dom(Html(r));
  ASSERT_TRUE(dom.ok());
  EXPECT_TRUE(dom.Find("g", "rollback-mark").empty());
  EXPECT_EQ(dom.One("header")->innerText().find("Rollback"), std::string::npos);
}

TEST(HtmlReportTest, MetricChartsDrawEachStepAgainstTheLimit) {
  RolloutRecord r = testing::SampleRecord();
  // A healthy 60% step before the failing one, and a custom metric (table only).
  StepRecord good = testing::Step("shift", 60, 1700000150, 1700000160);
  good.metrics.push_back(
      {"request-success-rate", "%", 99.9, 99.0, std::nullopt, Verdict::kPass, 3, ""});
  good.metrics.push_back({"request-duration", "ms", std::nullopt, std::nullopt, 500.0,
                          Verdict::kInconclusive, 0, "no data"});
  good.metrics.push_back({"queue-depth", "", 7, std::nullopt, 10.0, Verdict::kPass, 1, ""});
  r.steps.push_back(good);
  Dom dom(Html(r));
  ASSERT_TRUE(dom.ok());
  std::vector<Element*> charts = dom.Find("svg", "metric-chart");
  ASSERT_EQ(charts.size(), 2u);
  EXPECT_EQ(charts[0]->getAttribute("data-metric"), "request-success-rate");
  EXPECT_EQ(charts[1]->getAttribute("data-metric"), "request-duration");

  Element* rate = charts[0];
  Element* min = dom.One("line", "limit min", rate);
  ASSERT_NE(min, nullptr);
  EXPECT_TRUE(dom.Find("line", "limit max", rate).empty());
  std::vector<Element*> dots = dom.Find("circle", "point", rate);
  ASSERT_EQ(dots.size(), 2u);
  // 80.5 is below the limit (larger y), 99.9 above it; colours follow the verdicts.
  EXPECT_GT(Num(dots[0], "cy"), Num(min, "y1"));
  EXPECT_LT(Num(dots[1], "cy"), Num(min, "y1"));
  EXPECT_TRUE(Dom::HasClasses(static_cast<Element*>(dots[0]->parentNode()), "fail"));
  EXPECT_TRUE(Dom::HasClasses(static_cast<Element*>(dots[1]->parentNode()), "pass"));
  EXPECT_EQ(Points(dom.One("polyline", "values", rate)->getAttribute("points")).size(), 2u);

  // A step without data is drawn as such, not as a zero.
  Element* latency = charts[1];
  EXPECT_EQ(dom.Find("circle", "nodata", latency).size(), 1u);
  EXPECT_EQ(Points(dom.One("polyline", "values", latency)->getAttribute("points")).size(), 1u);
  EXPECT_NE(dom.One("line", "limit max", latency), nullptr);

  std::vector<Element*> rows =
      dom.Find("tr", "", dom.One("tbody", "", dom.One("table", "metrics", dom.ById("step-2"))));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(dom.Find("td", "", rows[1])[2]->innerText(), "no data");
  EXPECT_EQ(dom.Find("td", "", rows[2])[0]->innerText(), "queue-depth");
  EXPECT_EQ(dom.Find("td", "", rows[2])[2]->innerText(), "7");
}

TEST(HtmlReportTest, NoExternalResourcesAndOnlyHttpLinks) {
  RolloutRecord r = testing::SampleRecord();
  r.dashboards.push_back({"js", "javascript:alert(1)"});
  r.dashboards.push_back({"data", "data:text/html,<script>alert(1)</script>"});
  r.dashboards.push_back({"quote", "https://x.example.com/\"onmouseover=\"alert(1)"});
  r.pipeline.job_url = "file:///etc/passwd";
  std::string html = Html(r);
  Dom dom(html);
  ASSERT_TRUE(dom.ok());
  for (const char* tag : {"script", "img", "link", "iframe", "object", "embed", "image", "use",
                          "foreignObject", "base", "form"}) {
    EXPECT_TRUE(dom.Find(tag).empty()) << tag;
  }
  for (Element* e : dom.Find("")) {
    AutoPtr<Poco::XML::NamedNodeMap> attrs = e->attributes();
    for (unsigned long i = 0; i < attrs->length(); ++i) {
      std::string name = attrs->item(i)->nodeName();
      std::string value = attrs->item(i)->nodeValue();
      EXPECT_NE(name.substr(0, 2), "on") << e->tagName() << " " << name;
      EXPECT_NE(name, "src") << e->tagName();
      EXPECT_NE(name, "style") << e->tagName();
      if (name == "href" || name == "xlink:href") {
        EXPECT_EQ(e->tagName(), "a");
        EXPECT_TRUE(value.rfind("https://", 0) == 0 || value.rfind("http://", 0) == 0) << value;
      }
    }
  }
  // The quote stayed inside the attribute; unsafe schemes are plain text.
  std::set<std::string> hrefs;
  for (Element* a : dom.Find("a")) hrefs.insert(a->getAttribute("href"));
  EXPECT_EQ(hrefs.count("https://x.example.com/\"onmouseover=\"alert(1)"), 1u);
  EXPECT_EQ(hrefs.size(), 4u);
  EXPECT_NE(dom.One("section", "links")->innerText().find("js"), std::string::npos);
  // The stylesheet loads nothing either.
  EXPECT_EQ(dom.One("style")->innerText().find("url("), std::string::npos);
  EXPECT_EQ(dom.One("style")->innerText().find("@import"), std::string::npos);
}

TEST(HtmlReportTest, HostileTextStaysText) {
  RolloutRecord r;
  r.app = "<b>app</b>";
  r.message = "</p><script>alert(1)</script> ]]> &amp; \x01\x7f \xff\xfe";
  StepRecord s = testing::Step("te<st", 0, 1700000000);
  s.checks.push_back({"<img src=x onerror=alert(1)>", Verdict::kFail, "'\"&<>",
                      std::chrono::milliseconds(5), "<!-- -->\n<![CDATA[x]]>\x02"});
  r.steps.push_back(s);
  r.changelog = {"abc1234 <a href=\"javascript:x\">x</a>", "<script>"};
  r.candidate.version = "\"><svg onload=alert(1)>";
  Dom dom(Html(r));
  ASSERT_TRUE(dom.ok());
  EXPECT_TRUE(dom.Find("script").empty());
  EXPECT_TRUE(dom.Find("img").empty());
  EXPECT_TRUE(dom.Find("b").empty());
  EXPECT_EQ(dom.Find("svg").size(), 1u);  // only the timeline
  EXPECT_NE(dom.One("h1")->innerText().find("<b>app</b>"), std::string::npos);
  EXPECT_EQ(dom.One("p", "message")->innerText(),
            "</p><script>alert(1)</script> ]]> &amp; \xEF\xBF\xBD\x7f \xEF\xBF\xBD\xEF\xBF\xBD");
  Element* row = dom.One("tr", "fail");
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(dom.Find("td", "", row)[0]->innerText(), "<img src=x onerror=alert(1)>");
  EXPECT_EQ(dom.Find("td", "", row)[2]->innerText().substr(0, 5), "'\"&<>");
  EXPECT_EQ(dom.One("pre", "", row)->innerText(), "<!-- -->\n<![CDATA[x]]>\xEF\xBF\xBD");
  std::vector<Element*> commits = dom.Find("li", "", dom.One("ul", "changelog"));
  ASSERT_EQ(commits.size(), 2u);
  EXPECT_EQ(dom.One("code", "", commits[0])->innerText(), "abc1234");
  EXPECT_EQ(commits[0]->innerText(), "abc1234 <a href=\"javascript:x\">x</a>");
  EXPECT_EQ(commits[1]->innerText(), "<script>");
}

TEST(HtmlReportTest, SecretsAreMaskedEverywhere) {
  const std::string secret = "glpat-SECRET42";
  RolloutRecord r = testing::SampleRecord();
  r.app = "app " + secret;
  r.message = "auth " + secret;
  r.steps[1].checks[0].name = "health " + secret;
  r.steps[1].checks[0].message = "token " + secret;
  r.steps[1].checks[0].output = std::string(10000, 'x') + "Bearer " + secret + "\n";
  r.steps[1].metrics[0].name = "m " + secret;
  r.steps[1].metrics[0].message = "q " + secret;
  r.steps[1].load->by_version[secret] = 1;
  r.steps[1].phase = "shift " + secret;
  r.changelog.push_back("abc Leak " + secret);
  r.dashboards.push_back({"d " + secret, "https://grafana.example.com/?k=" + secret});
  r.pipeline.job_url = "https://gitlab.example.com/jobs/1?t=" + secret;
  r.candidate.commit = secret;
  ci::Redactor redactor;
  redactor.Add(secret);
  std::string html = Html(r, redactor);
  EXPECT_EQ(html.find("SECRET42"), std::string::npos);
  EXPECT_NE(html.find("Bearer [MASKED]"), std::string::npos);
  Dom dom(html);
  EXPECT_TRUE(dom.ok());
}

TEST(HtmlReportTest, EmptyRecordRenders) {
  Dom dom(Html(RolloutRecord{}));
  ASSERT_TRUE(dom.ok());
  EXPECT_TRUE(dom.Find("polyline").empty());
  EXPECT_TRUE(dom.Find("table", "checks").empty());
  EXPECT_TRUE(dom.Find("svg", "metric-chart").empty());
  EXPECT_NE(dom.One("section", "steps")->innerText().find("No steps ran."), std::string::npos);
  EXPECT_NE(dom.One("svg", "timeline-chart")->innerText().find("No times recorded"),
            std::string::npos);
  EXPECT_TRUE(Dom::HasClasses(dom.ById("outcome"), "in_progress"));
}

TEST(HtmlReportTest, InProgressWithOneInstantRenders) {
  RolloutRecord r;
  r.app = "demo";
  r.started_at = 1700000000;  // everything at the same second, nothing finished
  r.steps.push_back(testing::Step("deploy", 0, 1700000000));
  r.weights = {{1700000000, 100, 0, "deploy"}};
  MetricRecord nan = testing::NanMetric("request-success-rate");
  nan.min = 99;
  r.steps[0].metrics.push_back(nan);
  Dom dom(Html(r));
  ASSERT_TRUE(dom.ok());
  EXPECT_EQ(dom.Find("polyline", "weight").size(), 1u);
  EXPECT_EQ(dom.Find("g", "step").size(), 1u);
  EXPECT_EQ(dom.Find("circle", "nodata").size(), 1u);
  EXPECT_NE(dom.One("header")->innerText().find("not yet"), std::string::npos);
}

TEST(HtmlReportTest, WeightsWithoutTimesAndOutOfOrderRender) {
  RolloutRecord r;
  r.weights = {{0, 100, 0, "deploy"}, {1700000100, 70, 30, "shift"}, {1700000050, 40, 60, "x"}};
  Dom dom(Html(r));
  ASSERT_TRUE(dom.ok());
  auto points = Points(dom.One("polyline", "weight")->getAttribute("points"));
  for (size_t i = 1; i < points.size(); ++i) EXPECT_GE(points[i].first, points[i - 1].first);
}

TEST(HtmlReportTest, ManyStepsRender) {
  RolloutRecord r;
  r.app = "big";
  for (int i = 0; i < 2000; ++i) {
    StepRecord s = testing::Step("shift", i % 101, 1700000000 + i * 10, 1700000000 + i * 10 + 9);
    s.checks.push_back({"health", i % 7 == 0 ? Verdict::kFail : Verdict::kPass, "", {}, ""});
    s.metrics.push_back(
        {"request-duration", "ms", 100.0 + i, std::nullopt, 500.0, Verdict::kPass, 1, ""});
    r.steps.push_back(s);
    r.weights.push_back({1700000000 + i * 10, 100 - i % 101, i % 101, "shift"});
  }
  Dom dom(Html(r));
  ASSERT_TRUE(dom.ok());
  EXPECT_EQ(dom.Find("table", "checks").size(), 2000u);
  EXPECT_EQ(dom.Find("g", "step").size(), 2000u);
  EXPECT_EQ(dom.Find("circle", "point").size(), 2000u);
  // Labels that would overlap are left out.
  EXPECT_LT(dom.Find("text", "step-label").size(), 200u);
}

TEST(HtmlReportTest, ReleasesAndCommits) {
  Dom dom(Html(testing::SampleRecord()));
  ASSERT_TRUE(dom.ok());
  std::vector<Element*> rows =
      dom.Find("tr", "", dom.One("tbody", "", dom.One("table", "releases")));
  ASSERT_EQ(rows.size(), 5u);
  std::vector<std::vector<std::string>> cells;
  for (Element* row : rows) {
    cells.emplace_back();
    for (Element* cell : dom.Find("", "", row)) {
      if (cell != row) cells.back().push_back(cell->innerText());
    }
  }
  EXPECT_EQ(cells,
            (std::vector<std::vector<std::string>>{{"release", "prod/demoapp", "stage/demoapp"},
                                                   {"chart", "demoapp-1.0.0", "demoapp-1.1.0"},
                                                   {"version", "1.0.0", "1.1.0"},
                                                   {"revision", "3", "2"},
                                                   {"commit", "aaaa1111", "bbbb2222"}}));
  std::vector<Element*> commits = dom.Find("li", "", dom.One("ul", "changelog"));
  ASSERT_EQ(commits.size(), 2u);
  EXPECT_EQ(commits[1]->innerText(), "ccc3333 Fix login");
}

TEST(HtmlReportTest, SameRecordSameBytes) {
  EXPECT_EQ(Html(testing::SampleRecord()), Html(testing::SampleRecord()));
}

}  // namespace
}  // namespace canaryctl::report

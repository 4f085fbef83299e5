// report.html in a real browser: the reports of two realistic rollouts (a promoted one and a
// rolled-back one) are written as the CLI writes them, rendered by Debian's headless Chromium
// through scripts/render-report, and the results checked: a PNG of the window's size that is
// mostly not background and shows the report's colours, and a DOM with the charts and rows.
#include <Poco/InflatingStream.h>
#include <Poco/Process.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "report/report_writer.h"

namespace canaryctl::report {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr uint32_t kWidth = 1200, kHeight = 1600;  // scripts/render-report's default window

std::optional<std::string> FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return std::nullopt;
}

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// ---- a PNG reader: just enough to look at Chromium's screenshots ----

struct Image {
  uint32_t width = 0, height = 0;
  int channels = 0;           // 3 (RGB) or 4 (RGBA), 8 bits each
  std::vector<uint8_t> data;  // rows top to bottom, unfiltered
  const uint8_t* Pixel(uint32_t x, uint32_t y) const {
    return &data[(static_cast<size_t>(y) * width + x) * channels];
  }
};

uint32_t BigEndian(const std::string& s, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(s[at + i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

// Fails the test (and returns nothing) unless `bytes` is a non-interlaced 8-bit RGB(A) PNG.
std::optional<Image> DecodePng(const std::string& bytes) {
  if (bytes.size() < 33 || bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0 ||
      bytes.compare(12, 4, "IHDR") != 0) {
    ADD_FAILURE() << "not a PNG (" << bytes.size() << " bytes)";
    return std::nullopt;
  }
  Image img;
  img.width = BigEndian(bytes, 16);
  img.height = BigEndian(bytes, 20);
  int depth = static_cast<uint8_t>(bytes[24]), type = static_cast<uint8_t>(bytes[25]);
  int interlace = static_cast<uint8_t>(bytes[28]);
  if (depth != 8 || (type != 2 && type != 6) || interlace != 0) {
    ADD_FAILURE() << "unexpected PNG format: depth " << depth << ", colour type " << type
                  << ", interlace " << interlace;
    return std::nullopt;
  }
  img.channels = type == 6 ? 4 : 3;
  std::string idat;
  for (size_t at = 8; at + 12 <= bytes.size();) {
    uint32_t length = BigEndian(bytes, at);
    std::string kind = bytes.substr(at + 4, 4);
    if (at + 12 + length > bytes.size()) break;
    if (kind == "IDAT") idat += bytes.substr(at + 8, length);
    if (kind == "IEND") break;
    at += 12 + length;
  }
  std::istringstream compressed(idat);
  Poco::InflatingInputStream inflater(compressed, Poco::InflatingStreamBuf::STREAM_ZLIB);
  std::string raw((std::istreambuf_iterator<char>(inflater)), std::istreambuf_iterator<char>());
  const size_t bpp = img.channels, stride = img.width * bpp;
  if (raw.size() != (stride + 1) * img.height) {
    ADD_FAILURE() << "PNG data has " << raw.size() << " bytes, want " << (stride + 1) * img.height;
    return std::nullopt;
  }
  img.data.resize(stride * img.height);
  std::vector<uint8_t> zero(stride, 0);
  for (uint32_t y = 0; y < img.height; ++y) {
    int filter = static_cast<uint8_t>(raw[y * (stride + 1)]);
    const uint8_t* in = reinterpret_cast<const uint8_t*>(raw.data()) + y * (stride + 1) + 1;
    uint8_t* out = &img.data[y * stride];
    const uint8_t* up = y == 0 ? zero.data() : out - stride;
    for (size_t i = 0; i < stride; ++i) {
      int a = i >= bpp ? out[i - bpp] : 0, b = up[i], c = i >= bpp ? up[i - bpp] : 0;
      int predictor = 0;
      switch (filter) {
        case 0:
          break;
        case 1:
          predictor = a;
          break;
        case 2:
          predictor = b;
          break;
        case 3:
          predictor = (a + b) / 2;
          break;
        case 4: {
          int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          ADD_FAILURE() << "bad PNG filter " << filter << " in row " << y;
          return std::nullopt;
      }
      out[i] = static_cast<uint8_t>(in[i] + predictor);
    }
  }
  return img;
}

bool Near(const uint8_t* px, uint32_t rgb, int tolerance = 6) {
  for (int i = 0; i < 3; ++i) {
    int want = static_cast<int>(rgb >> (16 - 8 * i) & 0xFF);
    if (std::abs(px[i] - want) > tolerance) return false;
  }
  return true;
}

size_t CountPixels(const Image& img, uint32_t rgb) {
  size_t n = 0;
  for (uint32_t y = 0; y < img.height; ++y) {
    for (uint32_t x = 0; x < img.width; ++x) n += Near(img.Pixel(x, y), rgb) ? 1 : 0;
  }
  return n;
}

// The longest horizontal run of pixels of colour `rgb`: a drawn line, not text or a badge.
uint32_t LongestRun(const Image& img, uint32_t rgb) {
  uint32_t longest = 0;
  for (uint32_t y = 0; y < img.height; ++y) {
    uint32_t run = 0;
    for (uint32_t x = 0; x < img.width; ++x) {
      run = Near(img.Pixel(x, y), rgb) ? run + 1 : 0;
      longest = std::max(longest, run);
    }
  }
  return longest;
}

// Pixels that are neither white (sections) nor the page's background: text, lines, fills.
double InkShare(const Image& img) {
  size_t background = CountPixels(img, 0xFFFFFF) + CountPixels(img, 0xF6F8FA);
  return 1.0 - static_cast<double>(background) / (static_cast<double>(img.width) * img.height);
}

// ---- the rollouts ----

constexpr int64_t kT0 = 1764180000;  // 2025-11-26T18:00:00Z

StepRecord Step(const std::string& phase, int weight, int64_t start, int64_t end, double rate,
                double p99, Verdict verdict) {
  StepRecord s;
  s.phase = phase;
  s.weight = weight;
  s.started_at = start;
  s.finished_at = end;
  Verdict pass = Verdict::kPass;
  s.checks.push_back({"health", pass, "status 200", milliseconds(35), "{\"status\":\"ok\"}"});
  s.checks.push_back({"e2e", pass, "", milliseconds(4200), "12 passed"});
  if (weight == 0) return s;
  s.checks.push_back({"traffic-split", pass, "observed candidate share within the interval",
                      milliseconds(60000), ""});
  s.checks.push_back({"request-success-rate", verdict == Verdict::kFail ? verdict : pass,
                      verdict == Verdict::kFail ? "below 99%" : "", milliseconds(60000), ""});
  s.checks.push_back({"request-duration", pass, "", milliseconds(60000), ""});
  s.metrics.push_back({"request-success-rate", "%", rate, 99.0, std::nullopt,
                       verdict == Verdict::kFail ? verdict : pass, 4, ""});
  s.metrics.push_back({"request-duration", "ms", p99, std::nullopt, 500.0, pass, 4, ""});
  LoadRecord load;
  load.requests = 1200;
  load.errors = static_cast<int64_t>(1200 * (100 - rate) / 100);
  load.p99_ms = p99;
  load.by_version = {{"v1", 1200 - 12 * weight}, {"v2", 12 * weight}};
  s.load = load;
  return s;
}

RolloutRecord Base() {
  RolloutRecord r;
  r.app = "demoapp";
  r.strategy = "hybrid";
  r.started_at = kT0;
  r.stable = {"prod", "demoapp", "demoapp-0.1.0", "v1", 4, "3f2a9c1d"};
  r.candidate = {"stage", "demoapp", "demoapp-0.1.0", "v2", 7, "8e41b7a0"};
  r.pipeline = {"4242",     "https://gitlab.example.com/demo/app/-/pipelines/4242", "99001",
                "shift-60", "https://gitlab.example.com/demo/app/-/jobs/99001",     "alice",
                "main"};
  r.changelog = {"8e41b7a Add the search page", "5c0d2e1 Cache the catalogue",
                 "77aa012 Fix <b>escaping</b> & \"quotes\" in titles"};
  r.dashboards = {{"Grafana", "https://grafana.example.com/d/demoapp"}};
  r.environment_name = "production";
  r.environment_url = "https://demo.example.com";
  return r;
}

RolloutRecord Promoted() {
  RolloutRecord r = Base();
  r.phase = "promote";
  r.outcome = Outcome::kSucceeded;
  r.finished_at = kT0 + 1500;
  r.steps = {Step("test", 0, kT0 + 60, kT0 + 120, 0, 0, Verdict::kPass),
             Step("shift", 30, kT0 + 300, kT0 + 600, 99.7, 180, Verdict::kPass),
             Step("shift", 60, kT0 + 700, kT0 + 1000, 99.8, 190, Verdict::kPass),
             Step("shift", 100, kT0 + 1100, kT0 + 1400, 99.9, 175, Verdict::kPass)};
  r.weights = {{kT0 + 50, 100, 0, "deploy"},
               {kT0 + 300, 70, 30, "shift 30"},
               {kT0 + 700, 40, 60, "shift 60"},
               {kT0 + 1100, 0, 100, "shift 100"},
               {kT0 + 1450, 100, 0, "promote"}};
  return r;
}

RolloutRecord RolledBack() {
  RolloutRecord r = Base();
  r.phase = "shift";
  r.outcome = Outcome::kRolledBack;
  r.message = "request-success-rate failed at 30%: 80.1% is below 99%";
  r.finished_at = kT0 + 420;
  r.steps = {Step("test", 0, kT0 + 60, kT0 + 120, 0, 0, Verdict::kPass),
             Step("shift", 30, kT0 + 300, kT0 + 400, 80.1, 210, Verdict::kFail)};
  r.weights = {{kT0 + 50, 100, 0, "deploy"},
               {kT0 + 300, 70, 30, "shift 30"},
               {kT0 + 401, 100, 0, "rollback"}};
  r.rollback_ms = 640;
  return r;
}

size_t Verdicts(const RolloutRecord& r) {
  size_t n = 0;
  for (const StepRecord& s : r.steps) n += s.checks.size() + s.metrics.size();
  return n;
}

class ReportRenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!FindOnPath("chromium")) {
      GTEST_SKIP() << "chromium is not installed: apt-get install chromium to run this test";
    }
    std::string tmpl = (fs::temp_directory_path() / "report_render.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  // scripts/render-report REPORT OUT: a screenshot for OUT.png, the DOM for OUT.html.
  int Render(const fs::path& report, const fs::path& out) {
    std::string script = std::string(CANARYCTL_SOURCE_DIR) + "/scripts/render-report";
    Poco::ProcessHandle handle =
        Poco::Process::launch(script, {report.string(), out.string()}, dir_.string());
    return handle.wait();
  }

  struct Rendered {
    Image png;
    std::string dom;
  };

  // Writes `record`'s reports as the CLI does, renders report.html to a screenshot and to a
  // DOM, and checks what any report must show: a PNG of the window's size, far from blank.
  void RenderReport(const RolloutRecord& record, Rendered* rendered) {
    size_t blank = BlankPngBytes();
    fs::path out = dir_ / record.app / OutcomeName(record.outcome);
    Status written = WriteReports(out.string(), record, ci::Redactor(), nullptr);
    ASSERT_TRUE(written.ok()) << written.error().message;
    ASSERT_TRUE(fs::exists(out / "report.html"));
    ASSERT_EQ(Render(out / "report.html", out / "report.png"), 0);
    std::string bytes = Read(out / "report.png");
    EXPECT_GT(bytes.size(), 4 * blank) << "screenshot barely bigger than a blank page's";
    std::optional<Image> png = DecodePng(bytes);
    ASSERT_TRUE(png.has_value());
    EXPECT_EQ(png->width, kWidth);
    EXPECT_EQ(png->height, kHeight);
    EXPECT_GT(InkShare(*png), 0.03);
    // The weight chart's SVG was drawn: its line is long and flat where the weight holds.
    EXPECT_GT(LongestRun(*png, 0x0969DA), 150u) << "no weight line in the screenshot";
    rendered->png = std::move(*png);
    ASSERT_EQ(Render(out / "report.html", out / "dom.html"), 0);
    rendered->dom = Read(out / "dom.html");
  }

  // A blank page rendered the same way: what "nothing drawn" looks like.
  size_t BlankPngBytes() {
    fs::path blank = dir_ / "blank.html";
    std::ofstream(blank) << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"/><title>blank"
                            "</title></head><body></body></html>\n";
    EXPECT_EQ(Render(blank, dir_ / "blank.png"), 0);
    std::string bytes = Read(dir_ / "blank.png");
    std::optional<Image> img = DecodePng(bytes);
    if (img) {
      EXPECT_LT(InkShare(*img), 0.001);
    }
    return bytes.size();
  }

  fs::path dir_;
};

TEST_F(ReportRenderTest, PromotedRolloutRenders) {
  RolloutRecord r = Promoted();
  Rendered out;
  ASSERT_NO_FATAL_FAILURE(RenderReport(r, &out));
  EXPECT_GT(CountPixels(out.png, 0x0969DA), 300u) << "the weight line and links are blue";
  EXPECT_GT(CountPixels(out.png, 0x1A7F37), 300u) << "pass badges and markers are green";

  const std::string& dom = out.dom;
  EXPECT_EQ(Count(dom, "<svg class=\"timeline-chart\""), 1u) << dom.substr(0, 2000);
  EXPECT_EQ(Count(dom, "<polyline class=\"weight\""), 1u);
  EXPECT_EQ(Count(dom, "<g class=\"step pass\""), 4u);
  EXPECT_EQ(Count(dom, "class=\"metric-chart\""), 2u);
  EXPECT_EQ(Count(dom, "<tr class=\"pass\">"), Verdicts(r));
  EXPECT_EQ(Count(dom, "rollback-mark"), 0u);
  EXPECT_NE(dom.find("Fix &lt;b&gt;escaping&lt;/b&gt; &amp; \"quotes\" in titles"),
            std::string::npos);
}

TEST_F(ReportRenderTest, RolledBackRolloutRenders) {
  RolloutRecord r = RolledBack();
  Rendered out;
  ASSERT_NO_FATAL_FAILURE(RenderReport(r, &out));
  EXPECT_GT(CountPixels(out.png, 0xCF222E), 300u)
      << "the outcome, fail badges and rollback are red";

  const std::string& dom = out.dom;
  EXPECT_EQ(Count(dom, "<polyline class=\"weight\""), 1u) << dom.substr(0, 2000);
  EXPECT_EQ(Count(dom, "<g class=\"rollback-mark\""), 1u);
  EXPECT_NE(dom.find("stable restored in 640 ms"), std::string::npos);
  EXPECT_EQ(Count(dom, "<g class=\"step fail\""), 1u);
  EXPECT_EQ(Count(dom, "<tr class=\"fail\">"), 2u);  // the check and the metric
  EXPECT_EQ(Count(dom, "<tr class=\"pass\">") + 2, Verdicts(r));
  EXPECT_EQ(Count(dom, "class=\"outcome rolled_back\""), 1u);
}

}  // namespace
}  // namespace canaryctl::report

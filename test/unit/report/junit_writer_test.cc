#include "report/junit_writer.h"

#include <Poco/AutoPtr.h>
#include <Poco/DOM/DOMParser.h>
#include <Poco/DOM/Document.h>
#include <Poco/DOM/Element.h>
#include <Poco/DOM/NodeList.h>
#include <gtest/gtest.h>

#include "record_fixture.h"

namespace canaryctl::report {
namespace {

using Poco::XML::Element;

Poco::AutoPtr<Poco::XML::Document> Parse(const std::string& xml) {
  Poco::XML::DOMParser parser;
  return parser.parseString(xml);  // throws on malformed XML
}

TEST(JUnitWriterTest, GoldenOutput) {
  ci::Redactor none;
  EXPECT_EQ(RenderJUnit(testing::SampleRecord(), none),
            R"(<?xml version="1.0" encoding="UTF-8"?>
<testsuites errors="0" failures="1" name="canaryctl demoapp" skipped="1" tests="4" time="2.870">
  <testsuite errors="0" failures="0" name="test/0" skipped="0" tests="2" time="2.620" timestamp="2023-11-14T22:13:20Z">
    <testcase classname="test/0" name="health" time="0.120">
      <system-out>ok</system-out>
    </testcase>
    <testcase classname="test/0" name="e2e" time="2.500"/>
  </testsuite>
  <testsuite errors="0" failures="1" name="shift/30" skipped="1" tests="2" time="0.250" timestamp="2023-11-14T22:15:00Z">
    <testcase classname="shift/30" name="health" time="0.250">
      <failure message="status 500, want 200" type="fail">status 500, want 200</failure>
      <system-out>HTTP 500</system-out>
    </testcase>
    <testcase classname="shift/30" name="latency" time="0.000">
      <skipped message="no data"/>
    </testcase>
  </testsuite>
</testsuites>
)");
}

TEST(JUnitWriterTest, HostileOutputStaysValidXml) {
  RolloutRecord r;
  r.app = "a<b>&\"c\"";
  StepRecord step = testing::Step("shift", 60);
  std::string hostile = std::string("before ]]> <x/> &amp; \nnext \x01\x08\x0b\x1f nul:") +
                        std::string(1, '\0') + " bad:\xff\xfe\xc3 overlong:\xc0\xaf surrogate:" +
                        "\xed\xa0\x80 ok:\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 fffe:\xef\xbf\xbe";
  step.checks.push_back({hostile, Verdict::kFail, hostile, std::chrono::milliseconds(5), hostile});
  r.steps.push_back(step);
  std::string xml = RenderJUnit(r, ci::Redactor());
  auto doc = Parse(xml);
  Element* tc = doc->documentElement()->getChildElement("testsuite")->getChildElement("testcase");
  ASSERT_NE(tc, nullptr);
  std::string out = tc->getChildElement("system-out")->innerText();
  EXPECT_NE(out.find("before ]]> <x/> &amp; "), std::string::npos);
  EXPECT_NE(out.find("ok:\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), std::string::npos);
  EXPECT_EQ(out.find('\x01'), std::string::npos);
  EXPECT_EQ(out.find('\0'), std::string::npos);
  EXPECT_EQ(out.find("\xef\xbf\xbe"), std::string::npos);
  // The message attribute is one line: a raw newline in an attribute is normalized away.
  EXPECT_EQ(tc->getChildElement("failure")->getAttribute("message").find('\n'), std::string::npos);
  EXPECT_EQ(doc->documentElement()->getAttribute("name"), "canaryctl a<b>&\"c\"");
  // No byte outside XML 1.0's Char production survives anywhere in the file.
  for (unsigned char c : xml) {
    EXPECT_FALSE(c < 0x20 && c != '\n' && c != '\t' && c != '\r') << static_cast<int>(c);
  }
}

TEST(JUnitWriterTest, StructureParsesBack) {
  auto doc = Parse(RenderJUnit(testing::SampleRecord(), ci::Redactor()));
  Element* root = doc->documentElement();
  EXPECT_EQ(root->nodeName(), "testsuites");
  Poco::AutoPtr<Poco::XML::NodeList> suites = root->getElementsByTagName("testsuite");
  ASSERT_EQ(suites->length(), 2u);
  Poco::AutoPtr<Poco::XML::NodeList> cases = root->getElementsByTagName("testcase");
  ASSERT_EQ(cases->length(), 4u);
  auto* failed = static_cast<Element*>(cases->item(2));
  EXPECT_EQ(failed->getAttribute("classname"), "shift/30");
  EXPECT_EQ(failed->getAttribute("name"), "health");
  EXPECT_NE(failed->getChildElement("failure"), nullptr);
  auto* skipped = static_cast<Element*>(cases->item(3));
  EXPECT_NE(skipped->getChildElement("skipped"), nullptr);
  EXPECT_EQ(skipped->getChildElement("failure"), nullptr);
  auto* passed = static_cast<Element*>(cases->item(0));
  EXPECT_EQ(passed->getChildElement("failure"), nullptr);
  EXPECT_EQ(passed->getChildElement("skipped"), nullptr);
}

TEST(JUnitWriterTest, DuplicateCheckNamesAreMadeUnique) {
  RolloutRecord r;
  StepRecord s = testing::Step("test", 0);
  s.checks.push_back({"e2e", Verdict::kPass, "", {}, ""});
  s.checks.push_back({"e2e", Verdict::kFail, "second", {}, ""});
  s.checks.push_back({"", Verdict::kPass, "", {}, ""});
  r.steps.push_back(s);
  auto doc = Parse(RenderJUnit(r, ci::Redactor()));
  Poco::AutoPtr<Poco::XML::NodeList> cases =
      doc->documentElement()->getElementsByTagName("testcase");
  ASSERT_EQ(cases->length(), 3u);
  EXPECT_EQ(static_cast<Element*>(cases->item(0))->getAttribute("name"), "e2e");
  EXPECT_EQ(static_cast<Element*>(cases->item(1))->getAttribute("name"), "e2e #2");
  EXPECT_EQ(static_cast<Element*>(cases->item(2))->getAttribute("name"), "check");
}

TEST(JUnitWriterTest, OutputIsCappedKeepingTheTail) {
  RolloutRecord r;
  StepRecord s = testing::Step("test", 0);
  std::string big(kMaxOutputBytes + 1000, 'x');
  big += "LAST LINE";
  s.checks.push_back({"c", Verdict::kFail, "m", {}, "FIRST LINE" + big});
  r.steps.push_back(s);
  auto doc = Parse(RenderJUnit(r, ci::Redactor()));
  std::string out = doc->documentElement()
                        ->getChildElement("testsuite")
                        ->getChildElement("testcase")
                        ->getChildElement("system-out")
                        ->innerText();
  EXPECT_LT(out.size(), kMaxOutputBytes + 100);
  EXPECT_NE(out.find("LAST LINE"), std::string::npos);
  EXPECT_EQ(out.find("FIRST LINE"), std::string::npos);
  EXPECT_NE(out.find("bytes cut"), std::string::npos);
}

TEST(JUnitWriterTest, SecretsAreRedactedBeforeEscaping) {
  RolloutRecord r;
  StepRecord s = testing::Step("test", 0);
  // The secret contains XML-special characters: escaping first would hide it from the redactor.
  const std::string secret = "p<a>ss&word";
  s.checks.push_back({"login " + secret, Verdict::kFail, "used " + secret, {}, "token=" + secret});
  r.steps.push_back(s);
  ci::Redactor redactor;
  redactor.Add(secret);
  std::string xml = RenderJUnit(r, redactor);
  EXPECT_EQ(xml.find("ss&amp;word"), std::string::npos) << xml;
  EXPECT_EQ(xml.find("ss&word"), std::string::npos);
  EXPECT_NE(xml.find("token=[MASKED]"), std::string::npos);
  EXPECT_NE(xml.find("name=\"login [MASKED]\""), std::string::npos);
}

}  // namespace
}  // namespace canaryctl::report

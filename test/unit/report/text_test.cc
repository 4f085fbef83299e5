#include "report/text.h"

#include <gtest/gtest.h>

namespace canaryctl::report {
namespace {

TEST(TextTest, ToValidUtf8ReplacesEachBadByte) {
  EXPECT_EQ(ToValidUtf8("ok \xc3\xa9"), "ok \xc3\xa9");
  EXPECT_EQ(ToValidUtf8("\xff"), "\xef\xbf\xbd");
  EXPECT_EQ(ToValidUtf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");                  // overlong '/'
  EXPECT_EQ(ToValidUtf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
  EXPECT_EQ(ToValidUtf8("a\xe2\x82"), "a\xef\xbf\xbd\xef\xbf\xbd");                // truncated
  EXPECT_EQ(ToValidUtf8("\xf4\x90\x80\x80"),
            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // above U+10FFFF
}

TEST(TextTest, ToXmlTextDropsForbiddenCodePoints) {
  EXPECT_EQ(ToXmlText("a\tb\nc\rd"), "a\tb\nc\rd");
  EXPECT_EQ(ToXmlText(std::string("\0\x1f\x0b", 3)), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(ToXmlText("\xef\xbf\xbe\xef\xbf\xbf"), "\xef\xbf\xbd\xef\xbf\xbd");  // U+FFFE/FFFF
  EXPECT_EQ(ToXmlText("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
}

TEST(TextTest, KeepTailNeverSplitsACharacter) {
  EXPECT_EQ(KeepTail("short", 10), "short");
  std::string s = "ab\xc3\xa9z";                          // 'é' spans bytes 2..3
  EXPECT_EQ(KeepTail(s, 2), "[... 4 bytes cut ...]\nz");  // would start mid-'é'
  EXPECT_EQ(KeepTail(s, 3), "[... 2 bytes cut ...]\n\xc3\xa9z");
}

TEST(TextTest, IsoTimeUtc) {
  EXPECT_EQ(IsoTimeUtc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(IsoTimeUtc(1700000000), "2023-11-14T22:13:20Z");
}

}  // namespace
}  // namespace canaryctl::report

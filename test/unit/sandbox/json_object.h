// JSON objects written inline in the sandbox's unit tests.
#pragma once

#include <string>

#include <gtest/gtest.h>

#include "sandbox/json_util.h"

namespace sandbox {

// Parses text, which a test writes and expects to be a JSON object: a parse error fails the
// test, and yields an empty object so that the test goes on to report what else differs.
inline json::ObjectPtr Obj(const std::string& text) {
  auto r = json::ParseObject(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? r.value() : json::ObjectPtr(new json::Object);
}

}  // namespace sandbox

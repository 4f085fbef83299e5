#include "sandbox/json_util.h"

#include <gtest/gtest.h>

namespace sandbox::json {
namespace {

Var P(const std::string& text) {
  auto r = Parse(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? r.value() : Var();
}

ObjectPtr O(const std::string& text) { return AsObject(P(text)); }

// Any JSON value, parsed as an array element: Poco's parser rejects a bare scalar at the top.
Var V(const std::string& text) {
  ArrayPtr a = AsArray(P("[" + text + "]"));
  return a && a->size() == 1 ? a->get(0) : Var();
}

TEST(JsonUtilTest, ParseAndParseObject) {
  EXPECT_TRUE(IsArray(P("[1,2]")));
  auto bad = Parse("{\"a\":");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, 400);
  auto not_object = ParseObject("[1]");
  ASSERT_FALSE(not_object.ok());
  EXPECT_EQ(not_object.error().code, 400);
  auto ok = ParseObject(R"({"a":{"b":[true,null,"s",1.5]}})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(Stringify(ok.value()), R"({"a":{"b":[true,null,"s",1.5]}})");
  EXPECT_EQ(Stringify(Var()), "null");
}

TEST(JsonUtilTest, EqualComparesNumbersByValue) {
  EXPECT_TRUE(Equal(V("1"), V("1.0")));
  EXPECT_TRUE(Equal(V("1.0"), V("1")));
  EXPECT_FALSE(Equal(V("1"), V("1.5")));
  EXPECT_TRUE(Equal(V("-3"), V("-3")));
  EXPECT_TRUE(Equal(V("18446744073709551615"), V("18446744073709551615")));
  EXPECT_FALSE(Equal(V("18446744073709551615"), V("-1")));
  EXPECT_TRUE(Equal(Var(int64_t{5}), Var(uint64_t{5})));
  EXPECT_TRUE(Equal(Var(5), Var(int64_t{5})));
}

TEST(JsonUtilTest, EqualDistinguishesTypes) {
  EXPECT_FALSE(Equal(V("1"), V("\"1\"")));
  EXPECT_FALSE(Equal(V("true"), V("1")));
  EXPECT_FALSE(Equal(V("0"), V("false")));
  EXPECT_FALSE(Equal(V("null"), V("0")));
  EXPECT_FALSE(Equal(V("null"), V("\"\"")));
  EXPECT_TRUE(Equal(V("null"), Var()));
  EXPECT_FALSE(Equal(V("{}"), V("[]")));
  EXPECT_FALSE(Equal(V("{}"), V("null")));
  EXPECT_TRUE(Equal(V("false"), V("false")));
  EXPECT_FALSE(Equal(V("false"), V("true")));
}

TEST(JsonUtilTest, EqualNested) {
  EXPECT_TRUE(Equal(V(R"({"a":[1,{"b":2.0}],"c":"x"})"), V(R"({"c":"x","a":[1.0,{"b":2}]})")));
  EXPECT_FALSE(Equal(V(R"({"a":[1,{"b":2}]})"), V(R"({"a":[1,{"b":3}]})")));
  EXPECT_FALSE(Equal(V(R"({"a":[1,2]})"), V(R"({"a":[2,1]})")));  // order matters in arrays
  EXPECT_FALSE(Equal(V(R"({"a":[1]})"), V(R"({"a":[1,1]})")));
  EXPECT_FALSE(Equal(V(R"({"a":1})"), V(R"({"a":1,"b":null})")));  // a null key still counts
  EXPECT_FALSE(Equal(V(R"({"a":1,"b":null})"), V(R"({"a":1})")));
  EXPECT_FALSE(Equal(V(R"({"a":1})"), V(R"({"b":1})")));
}

TEST(JsonUtilTest, DeepCopyIsIndependent) {
  ObjectPtr src = O(R"({"m":{"l":{"k":"v"}},"arr":[{"x":1},[2]],"s":"t"})");
  ObjectPtr copy = DeepCopy(src);
  ASSERT_TRUE(Equal(src, copy));
  EXPECT_NE(src.get(), copy.get());
  copy->getObject("m")->getObject("l")->set("k", "changed");
  copy->getArray("arr")->getObject(0)->set("x", 9);
  copy->getArray("arr")->getArray(1)->add(3);
  copy->set("s", "u");
  EXPECT_EQ(GetString(src, "m.l.k"), "v");
  EXPECT_EQ(src->getArray("arr")->getObject(0)->getValue<int>("x"), 1);
  EXPECT_EQ(src->getArray("arr")->getArray(1)->size(), 1u);
  EXPECT_EQ(GetString(src, "s"), "t");
  // And the other way round.
  src->getObject("m")->set("new", 1);
  EXPECT_FALSE(GetObject(copy, "m")->has("new"));
  // A Var copy of an array is deep too; null stays null.
  Var arr = P("[[1]]");
  Var arr_copy = DeepCopy(arr);
  AsArray(AsArray(arr_copy)->get(0))->add(2);
  EXPECT_EQ(AsArray(AsArray(arr)->get(0))->size(), 1u);
  EXPECT_TRUE(DeepCopy(ObjectPtr()).isNull());
  EXPECT_TRUE(IsNull(DeepCopy(Var())));
}

TEST(JsonUtilTest, TypePredicates) {
  EXPECT_TRUE(IsObject(V("{}")));
  EXPECT_FALSE(IsObject(V("[]")));
  EXPECT_TRUE(IsString(V("\"x\"")));
  EXPECT_TRUE(IsBool(V("true")));
  EXPECT_FALSE(IsNumber(V("true")));
  EXPECT_TRUE(IsNumber(V("1.5")));
  EXPECT_TRUE(IsInteger(V("2")));
  EXPECT_TRUE(IsInteger(V("2.0")));
  EXPECT_FALSE(IsInteger(V("2.5")));
  EXPECT_FALSE(IsInteger(V("\"2\"")));
  EXPECT_TRUE(IsNull(V("null")));
  EXPECT_FALSE(AsObject(V("[]")));
  EXPECT_FALSE(AsArray(V("{}")));
  EXPECT_TRUE(AsArray(V("[]")));
}

TEST(JsonUtilTest, PathGetters) {
  ObjectPtr o = O(R"({"metadata":{"name":"n","generation":3,"labels":{"a.b/c":"d"}},
      "spec":{"replicas":2.0,"paused":false,"list":[1]},"ratio":0.5,"str":"7"})");
  EXPECT_EQ(GetString(o, "metadata.name"), "n");
  EXPECT_EQ(GetInt(o, "metadata.generation"), 3);
  EXPECT_EQ(GetInt(o, "spec.replicas"), 2);  // integral double
  EXPECT_EQ(GetInt(o, "ratio"), std::nullopt);
  EXPECT_EQ(GetInt(o, "str"), std::nullopt);  // wrong type, no conversion
  EXPECT_EQ(GetBool(o, "spec.paused"), false);
  EXPECT_EQ(GetBool(o, "metadata.name"), std::nullopt);
  EXPECT_EQ(GetString(o, "metadata.generation"), std::nullopt);
  EXPECT_EQ(GetString(o, "metadata.missing"), std::nullopt);
  EXPECT_EQ(GetString(o, "metadata.name.deeper"), std::nullopt);  // through a string
  EXPECT_EQ(GetString(o, "nope.name"), std::nullopt);
  EXPECT_EQ(GetString(ObjectPtr(), "a"), std::nullopt);
  EXPECT_TRUE(GetObject(o, "metadata.labels"));
  EXPECT_FALSE(GetObject(o, "spec.list"));
  ASSERT_TRUE(GetArray(o, "spec.list"));
  EXPECT_EQ(GetArray(o, "spec.list")->size(), 1u);
  EXPECT_FALSE(GetArray(o, "spec"));
  // Keys with dots cannot be reached by path; a label key with a '/' can.
  EXPECT_EQ(GetString(GetObject(o, "metadata.labels"), "a.b/c"), std::nullopt);
  EXPECT_EQ(GetString(O(R"({"a/b":"x"})"), "a/b"), "x");
}

TEST(JsonUtilTest, GetterReturnsLiveObject) {
  ObjectPtr o = O(R"({"metadata":{"labels":{}}})");
  GetObject(o, "metadata.labels")->set("k", "v");
  EXPECT_EQ(GetString(o, "metadata.labels.k"), "v");
}

TEST(JsonUtilTest, EnsureObjectCreatesAndReplaces) {
  ObjectPtr o = O(R"({"a":{"keep":1},"s":"str"})");
  ObjectPtr b = EnsureObject(o, "a.b.c");
  ASSERT_TRUE(b);
  b->set("x", 1);
  EXPECT_EQ(GetInt(o, "a.b.c.x"), 1);
  EXPECT_EQ(GetInt(o, "a.keep"), 1);                               // existing siblings survive
  EXPECT_EQ(EnsureObject(o, "a").get(), GetObject(o, "a").get());  // existing object returned
  ObjectPtr s = EnsureObject(o, "s.t");
  ASSERT_TRUE(s);
  EXPECT_TRUE(GetObject(o, "s.t"));  // the string was replaced by an object
  ObjectPtr top = EnsureObject(o, "new");
  EXPECT_TRUE(top && top->size() == 0);
}

// An integral value outside int64 range is no int: Poco's convert<int64_t>() throws there, and
// that must not escape json_util (a client sending "replicas": 1e300 reaches GetInt).
TEST(JsonUtilTest, GetIntOutOfRangeIsNullopt) {
  EXPECT_EQ(GetInt(O(R"({"x":1e300})"), "x"), std::nullopt);
  EXPECT_EQ(GetInt(O(R"({"x":18446744073709551615})"), "x"), std::nullopt);
}

}  // namespace
}  // namespace sandbox::json

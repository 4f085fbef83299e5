#include "sandbox/selector.h"

#include <gtest/gtest.h>

#include "json_object.h"

namespace sandbox {
namespace {

LabelSelector MustParse(const std::string& text) {
  auto r = LabelSelector::Parse(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : LabelSelector();
}

bool Match(const std::string& selector, const std::string& labels_json) {
  return MustParse(selector).Matches(Obj(labels_json));
}

const char kLabels[] = R"({"app":"web","tier":"front","app.kubernetes.io/name":"shop","n":"7"})";

TEST(LabelSelectorTest, EmptyMatchesEverything) {
  auto sel = MustParse("");
  EXPECT_TRUE(sel.empty());
  EXPECT_TRUE(sel.Matches(Obj(kLabels)));
  EXPECT_TRUE(sel.Matches(nullptr));
  EXPECT_TRUE(MustParse("   ").empty());
}

TEST(LabelSelectorTest, Equality) {
  EXPECT_TRUE(Match("app=web", kLabels));
  EXPECT_TRUE(Match("app==web", kLabels));
  EXPECT_FALSE(Match("app=api", kLabels));
  EXPECT_FALSE(Match("missing=web", kLabels));
  EXPECT_TRUE(Match("app.kubernetes.io/name=shop", kLabels));
  EXPECT_TRUE(Match("  app = web ,  tier==front ", kLabels));
  EXPECT_FALSE(Match("app=web,tier=back", kLabels));  // all requirements must hold
  EXPECT_FALSE(MustParse("app=web").Matches(nullptr));
}

TEST(LabelSelectorTest, NotEqualsMatchesMissingKey) {
  EXPECT_FALSE(Match("app!=web", kLabels));
  EXPECT_TRUE(Match("app!=api", kLabels));
  EXPECT_TRUE(Match("missing!=x", kLabels));
  EXPECT_TRUE(MustParse("app!=web").Matches(nullptr));
}

TEST(LabelSelectorTest, EmptyValue) {
  EXPECT_TRUE(Match("e=", R"({"e":""})"));
  EXPECT_FALSE(Match("e=", R"({"e":"x"})"));
  EXPECT_FALSE(Match("e=", R"({})"));
  EXPECT_TRUE(Match("e in (a,)", R"({"e":""})"));
}

TEST(LabelSelectorTest, SetBased) {
  EXPECT_TRUE(Match("app in (api, web)", kLabels));
  EXPECT_TRUE(Match("app in(web)", kLabels));
  EXPECT_FALSE(Match("app in (api,db)", kLabels));
  EXPECT_FALSE(Match("missing in (a)", kLabels));
  EXPECT_FALSE(Match("app notin (web,api)", kLabels));
  EXPECT_TRUE(Match("app notin (api)", kLabels));
  EXPECT_TRUE(Match("missing notin (a,b)", kLabels));
  EXPECT_TRUE(Match("app in (web),tier notin (back),env!=prod", kLabels));
  auto sel = MustParse("x in (b, a, b)");
  ASSERT_EQ(sel.requirements().size(), 1u);
  EXPECT_EQ(sel.requirements()[0].op, LabelSelector::Op::kIn);
  EXPECT_EQ(sel.requirements()[0].values, (std::vector<std::string>{"a", "b"}));
}

TEST(LabelSelectorTest, ExistsAndDoesNotExist) {
  EXPECT_TRUE(Match("app", kLabels));
  EXPECT_FALSE(Match("missing", kLabels));
  EXPECT_TRUE(Match("!missing", kLabels));
  EXPECT_FALSE(Match("!app", kLabels));
  EXPECT_TRUE(Match("app,!missing, tier", kLabels));
  EXPECT_TRUE(Match("! missing", kLabels));
  EXPECT_TRUE(MustParse("!x").Matches(nullptr));
  EXPECT_FALSE(MustParse("x").Matches(nullptr));
  EXPECT_TRUE(Match("e", R"({"e":""})"));  // present with an empty value still exists
}

TEST(LabelSelectorTest, GreaterAndLessThan) {
  EXPECT_TRUE(Match("n>5", kLabels));
  EXPECT_FALSE(Match("n>7", kLabels));
  EXPECT_TRUE(Match("n<8", kLabels));
  EXPECT_FALSE(Match("app>1", kLabels));      // not an integer
  EXPECT_FALSE(Match("missing<9", kLabels));  // missing
}

TEST(LabelSelectorTest, InAndNotInAreKeywords) {
  // As upstream lexes them: a bare "in" is the operator, never a key; inside a word it is text.
  EXPECT_FALSE(LabelSelector::Parse("in=a").ok());
  EXPECT_FALSE(LabelSelector::Parse("x=notin").ok());
  EXPECT_TRUE(Match("x=inside", R"({"x":"inside"})"));
}

TEST(LabelSelectorTest, SyntaxErrorsAreBadRequestsNamingTheText) {
  for (const std::string& bad : std::vector<std::string>{
           "app=web=x", "app in web", "app in (web", "app in ()",    "app notin ()", "=web",
           "app=web,",  ",app",       "app web",     "app!",         "!app=web",     "app>x",
           "app<",      "a b=c",      "app=(x)",     "app in (a b)", "-bad=x",       "bad-=x",
           "app=-x",    "UPPER/x=1",  "a/b/c=1",     "k=a,,b",       "(x)"}) {
    auto r = LabelSelector::Parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, 400) << bad;
      EXPECT_EQ(r.error().reason, "BadRequest");
      EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
    }
  }
}

TEST(LabelSelectorTest, KeyAndValueLimits) {
  EXPECT_TRUE(LabelSelector::Parse("a.b-c_d=e.f-g_h").ok());
  EXPECT_TRUE(LabelSelector::Parse("example.com/k=v").ok());
  EXPECT_TRUE(LabelSelector::Parse("K=V").ok());
  EXPECT_TRUE(LabelSelector::Parse("k=" + std::string(63, 'v')).ok());
  EXPECT_FALSE(LabelSelector::Parse("k=" + std::string(64, 'v')).ok());
  EXPECT_TRUE(LabelSelector::Parse(std::string(63, 'k') + "=v").ok());
  EXPECT_FALSE(LabelSelector::Parse(std::string(64, 'k') + "=v").ok());
  EXPECT_FALSE(LabelSelector::Parse("k=_").ok());
  EXPECT_FALSE(LabelSelector::Parse("/k=v").ok());
}

TEST(LabelSelectorTest, FromObjectMatchLabelsAndExpressions) {
  auto r = LabelSelector::FromObject(Obj(R"({
      "matchLabels":{"app":"web"},
      "matchExpressions":[
        {"key":"tier","operator":"In","values":["front","edge"]},
        {"key":"env","operator":"NotIn","values":["prod"]},
        {"key":"app.kubernetes.io/name","operator":"Exists"},
        {"key":"legacy","operator":"DoesNotExist"}]})"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const LabelSelector& sel = r.value();
  EXPECT_EQ(sel.requirements().size(), 5u);
  EXPECT_TRUE(sel.Matches(Obj(kLabels)));
  EXPECT_FALSE(sel.Matches(Obj(R"({"app":"web","tier":"back","app.kubernetes.io/name":"x"})")));
  EXPECT_FALSE(sel.Matches(
      Obj(R"({"app":"web","tier":"front","app.kubernetes.io/name":"x","env":"prod"})")));
  EXPECT_FALSE(sel.Matches(Obj(R"({"app":"web","tier":"front","legacy":"1",
                                    "app.kubernetes.io/name":"x"})")));
  EXPECT_FALSE(sel.Matches(Obj(R"({"app":"web","tier":"front"})")));  // Exists fails
  EXPECT_FALSE(sel.Matches(nullptr));
}

TEST(LabelSelectorTest, FromObjectNullMatchesNothingEmptyMatchesAll) {
  auto none = LabelSelector::FromObject(nullptr);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.value().empty());
  EXPECT_FALSE(none.value().Matches(Obj(kLabels)));
  EXPECT_FALSE(none.value().Matches(nullptr));
  auto all = LabelSelector::FromObject(Obj("{}"));
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all.value().empty());
  EXPECT_TRUE(all.value().Matches(Obj(kLabels)));
  EXPECT_TRUE(all.value().Matches(nullptr));
}

TEST(LabelSelectorTest, FromObjectErrors) {
  for (const char* bad : {
           R"({"matchLabels":{"app":1}})",
           R"({"matchLabels":"app=web"})",
           R"({"matchLabels":{"bad key":"x"}})",
           R"({"matchExpressions":[{"key":"a","operator":"In"}]})",
           R"({"matchExpressions":[{"key":"a","operator":"In","values":[]}]})",
           R"({"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]})",
           R"({"matchExpressions":[{"key":"a","operator":"Equals","values":["x"]}]})",
           R"({"matchExpressions":[{"operator":"Exists"}]})",
           R"({"matchExpressions":[{"key":"a","operator":"In","values":[1]}]})",
           R"({"matchExpressions":{"key":"a"}})",
       }) {
    auto r = LabelSelector::FromObject(Obj(bad));
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, 400) << bad;
    }
  }
}

// ------------------------------------------------------------------------------------------

const char kPod[] = R"({"metadata":{"name":"p1","namespace":"ns1"},"spec":{"nodeName":"n1",
    "replicas":3,"hostNetwork":false},"status":{"phase":"Running"},"type":"kubernetes.io/tls"})";

bool FieldMatch(const std::string& selector, const char* object = kPod) {
  auto r = FieldSelector::Parse(selector);
  EXPECT_TRUE(r.ok()) << selector << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() && r.value().Matches(Obj(object));
}

TEST(FieldSelectorTest, Basics) {
  EXPECT_TRUE(FieldMatch(""));
  EXPECT_TRUE(FieldMatch("metadata.name=p1"));
  EXPECT_TRUE(FieldMatch("metadata.name==p1"));
  EXPECT_FALSE(FieldMatch("metadata.name=p2"));
  EXPECT_TRUE(FieldMatch("metadata.name!=p2"));
  EXPECT_FALSE(FieldMatch("metadata.name!=p1"));
  EXPECT_TRUE(FieldMatch("metadata.namespace=ns1,status.phase=Running"));
  EXPECT_FALSE(FieldMatch("metadata.namespace=ns1,status.phase=Pending"));
  EXPECT_TRUE(FieldMatch("type=kubernetes.io/tls"));
  EXPECT_TRUE(FieldMatch("spec.nodeName=n1"));
  EXPECT_TRUE(FieldMatch(" metadata.name =p1"));  // whitespace around the path
  EXPECT_FALSE(FieldMatch("metadata.name= p1"));  // but a value is taken as written
  EXPECT_TRUE(FieldMatch("metadata.name=p1,,status.phase=Running"));  // empty terms skipped
}

TEST(FieldSelectorTest, MissingFieldIsEmpty) {
  EXPECT_TRUE(FieldMatch("spec.missing="));
  EXPECT_FALSE(FieldMatch("spec.missing=x"));
  EXPECT_TRUE(FieldMatch("spec.missing!=x"));
  EXPECT_TRUE(FieldMatch("no.such.path="));
  EXPECT_FALSE(FieldMatch("spec.nodeName="));
}

TEST(FieldSelectorTest, NonStringScalars) {
  EXPECT_TRUE(FieldMatch("spec.replicas=3"));
  EXPECT_TRUE(FieldMatch("spec.hostNetwork=false"));
  EXPECT_TRUE(FieldMatch("spec=", kPod));  // an object is not a field value
}

TEST(FieldSelectorTest, Escapes) {
  const char obj[] = R"({"metadata":{"name":"a,b=c\\d"}})";
  EXPECT_TRUE(FieldMatch(R"(metadata.name=a\,b\=c\\d)", obj));
  EXPECT_FALSE(FieldMatch(R"(metadata.name=a)", obj));
}

TEST(FieldSelectorTest, Errors) {
  for (const char* bad : {"metadata.name", "=x", "a=b,c", R"(a=b\x)", R"(a=b\)"}) {
    auto r = FieldSelector::Parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, 400);
      EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
    }
  }
}

}  // namespace
}  // namespace sandbox

// Label and field selectors, as in list and watch query parameters.
//
// Label selector grammar (k8s.io/apimachinery/pkg/labels): requirements joined by ',':
//   key=value  key==value  key!=value  key in (a,b)  key notin (a,b)  key  !key
// Keys may carry a DNS prefix ("app.kubernetes.io/name"). Whitespace around tokens is
// allowed. An empty selector matches everything. `!=` and `notin` match objects without the
// key. Field selectors support metadata.name, metadata.namespace, and any dotted path to a
// string field (status.phase, type, spec.nodeName) with =, ==, !=.
#pragma once

#include <string>
#include <vector>

#include "sandbox/api_error.h"
#include "sandbox/json_util.h"

namespace sandbox {

class LabelSelector {
 public:
  // A syntax error is a 400 BadRequest naming the offending text.
  static Result<LabelSelector> Parse(const std::string& text);
  // From a metav1.LabelSelector object ({matchLabels, matchExpressions}), as in
  // Deployment.spec.selector. A null object matches nothing (as the apiserver treats it).
  static Result<LabelSelector> FromObject(const json::ObjectPtr& selector);
  bool Matches(const json::ObjectPtr& labels) const;  // labels may be null (= no labels)
  bool empty() const { return requirements_.empty() && !match_nothing_; }

  // kGreaterThan/kLessThan ("key>3", "key<3") compare integer label values, as upstream.
  enum class Op {
    kEquals,
    kNotEquals,
    kIn,
    kNotIn,
    kExists,
    kDoesNotExist,
    kGreaterThan,
    kLessThan
  };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  const std::vector<Requirement>& requirements() const { return requirements_; }

 private:
  std::vector<Requirement> requirements_;
  bool match_nothing_ = false;
};

class FieldSelector {
 public:
  static Result<FieldSelector> Parse(const std::string& text);
  bool Matches(const json::ObjectPtr& object) const;

 private:
  struct Term {
    std::string path;
    bool equals;
    std::string value;
  };
  std::vector<Term> terms_;
};

}  // namespace sandbox

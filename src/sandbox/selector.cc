#include "sandbox/selector.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

namespace sandbox {

namespace {

// ---------------------------------------------------------------------------------------------
// Label selector lexer, after k8s.io/apimachinery/pkg/labels/selector.go.

enum class Tok {
  kEnd,
  kIdentifier,
  kComma,
  kEquals,        // =
  kDoubleEquals,  // ==
  kNotEquals,     // !=
  kBang,          // !
  kIn,
  kNotIn,
  kOpenParen,
  kCloseParen,
  kGreater,
  kLess,
};

struct Token {
  Tok type;
  std::string text;
};

bool IsSpecial(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '<' || c == '>';
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::vector<Token> Lex(const std::string& s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (IsSpace(c)) {
      ++i;
      continue;
    }
    if (IsSpecial(c)) {
      if (c == '=' && i + 1 < s.size() && s[i + 1] == '=') {
        out.push_back({Tok::kDoubleEquals, "=="});
        i += 2;
      } else if (c == '!' && i + 1 < s.size() && s[i + 1] == '=') {
        out.push_back({Tok::kNotEquals, "!="});
        i += 2;
      } else {
        Tok t = c == '='   ? Tok::kEquals
                : c == '!' ? Tok::kBang
                : c == '(' ? Tok::kOpenParen
                : c == ')' ? Tok::kCloseParen
                : c == ',' ? Tok::kComma
                : c == '>' ? Tok::kGreater
                           : Tok::kLess;
        out.push_back({t, std::string(1, c)});
        ++i;
      }
      continue;
    }
    size_t start = i;
    while (i < s.size() && !IsSpace(s[i]) && !IsSpecial(s[i])) ++i;
    std::string word = s.substr(start, i - start);
    Tok t = word == "in" ? Tok::kIn : word == "notin" ? Tok::kNotIn : Tok::kIdentifier;
    out.push_back({t, std::move(word)});
  }
  out.push_back({Tok::kEnd, ""});
  return out;
}

std::string Describe(const Token& t) { return t.type == Tok::kEnd ? "EOS" : "'" + t.text + "'"; }

// A name segment: at most 63 of [A-Za-z0-9_.-], starting and ending alphanumeric.
bool IsQualifiedNamePart(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// A DNS subdomain: lowercase alphanumerics, '-' and '.', at most 253.
bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!ok(s.front()) || !ok(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return ok(c) || c == '-' || c == '.'; });
}

std::optional<std::string> CheckKey(const std::string& key) {
  size_t slash = key.find('/');
  std::string_view name = key;
  if (slash != std::string::npos) {
    if (!IsDnsSubdomain(std::string_view(key).substr(0, slash))) {
      return "invalid label key \"" + key + "\": prefix part must be a DNS subdomain";
    }
    name = std::string_view(key).substr(slash + 1);
  }
  if (!IsQualifiedNamePart(name)) {
    return "invalid label key \"" + key +
           "\": name part must consist of at most 63 alphanumeric characters, '-', '_' or '.', "
           "and must start and end with an alphanumeric character";
  }
  return std::nullopt;
}

std::optional<std::string> CheckValue(const std::string& value) {
  if (value.empty() || IsQualifiedNamePart(value)) return std::nullopt;
  return "invalid label value: \"" + value +
         "\": a valid label must be an empty string or consist of at most 63 alphanumeric "
         "characters, '-', '_' or '.', and must start and end with an alphanumeric character";
}

std::optional<int64_t> ToInt(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

class Parser {
 public:
  explicit Parser(const std::string& text) : text_(text), toks_(Lex(text)) {}

  Result<std::vector<LabelSelector::Requirement>> Parse() {
    std::vector<LabelSelector::Requirement> reqs;
    if (Peek().type == Tok::kEnd) return reqs;
    for (;;) {
      auto req = ParseRequirement();
      if (!req.ok()) return req.error();
      reqs.push_back(std::move(req).value());
      const Token& t = Next();
      if (t.type == Tok::kEnd) return reqs;
      if (t.type != Tok::kComma) return Fail("found " + Describe(t) + ", expected: ',' or EOS");
      if (Peek().type == Tok::kEnd) return Fail("found EOS, expected: identifier after ','");
    }
  }

 private:
  using Op = LabelSelector::Op;

  const Token& Peek() const { return toks_[pos_]; }
  const Token& Next() { return toks_[pos_ < toks_.size() - 1 ? pos_++ : pos_]; }

  ApiError Fail(const std::string& why) const {
    return ApiError::BadRequest("unable to parse requirement: " + why + " (in selector \"" + text_ +
                                "\")");
  }

  Result<LabelSelector::Requirement> ParseRequirement() {
    LabelSelector::Requirement req;
    bool negated = false;
    if (Peek().type == Tok::kBang) {
      Next();
      negated = true;
    }
    const Token& key = Next();
    if (key.type != Tok::kIdentifier) {
      return Fail("found " + Describe(key) + ", expected: identifier");
    }
    if (auto err = CheckKey(key.text)) return Fail(*err);
    req.key = key.text;
    if (negated) {
      req.op = Op::kDoesNotExist;
      return req;
    }
    Tok next = Peek().type;
    if (next == Tok::kEnd || next == Tok::kComma) {
      req.op = Op::kExists;
      return req;
    }
    const Token& op = Next();
    switch (op.type) {
      case Tok::kEquals:
      case Tok::kDoubleEquals:
      case Tok::kNotEquals: {
        req.op = op.type == Tok::kNotEquals ? Op::kNotEquals : Op::kEquals;
        // "k=" selects the empty value.
        std::string value;
        if (Peek().type == Tok::kIdentifier) {
          value = Next().text;
        } else if (Peek().type != Tok::kEnd && Peek().type != Tok::kComma) {
          return Fail("found " + Describe(Peek()) + ", expected: identifier");
        }
        if (auto err = CheckValue(value)) return Fail(*err);
        req.values.push_back(std::move(value));
        return req;
      }
      case Tok::kGreater:
      case Tok::kLess: {
        req.op = op.type == Tok::kGreater ? Op::kGreaterThan : Op::kLessThan;
        const Token& v = Next();
        if (v.type != Tok::kIdentifier || !ToInt(v.text)) {
          return Fail("found " + Describe(v) + ", expected: an integer for '" + op.text + "'");
        }
        req.values.push_back(v.text);
        return req;
      }
      case Tok::kIn:
      case Tok::kNotIn: {
        req.op = op.type == Tok::kIn ? Op::kIn : Op::kNotIn;
        const Token& open = Next();
        if (open.type != Tok::kOpenParen) {
          return Fail("found " + Describe(open) + ", expected: '('");
        }
        if (Peek().type == Tok::kCloseParen) {
          return Fail("for '" + op.text + "' operator, values set can't be empty");
        }
        // Values separated by ','; an empty slot ("(a,)") is the empty value, as upstream.
        for (;;) {
          std::string value;
          if (Peek().type == Tok::kIdentifier) value = Next().text;
          if (auto err = CheckValue(value)) return Fail(*err);
          req.values.push_back(std::move(value));
          const Token& sep = Next();
          if (sep.type == Tok::kCloseParen) break;
          if (sep.type != Tok::kComma) {
            return Fail("found " + Describe(sep) + ", expected: ',' or ')'");
          }
        }
        std::sort(req.values.begin(), req.values.end());
        req.values.erase(std::unique(req.values.begin(), req.values.end()), req.values.end());
        return req;
      }
      default:
        return Fail("found " + Describe(op) + ", expected: '=', '!=', '==', 'in', 'notin'");
    }
  }

  const std::string& text_;
  std::vector<Token> toks_;
  size_t pos_ = 0;
};

std::optional<std::string> LabelValue(const json::ObjectPtr& labels, const std::string& key) {
  if (!labels || !labels->has(key)) return std::nullopt;
  json::Var v = labels->get(key);
  if (json::IsString(v)) return v.extract<std::string>();
  if (json::IsNull(v)) return std::string();
  // Labels are strings; tolerate stored oddities instead of failing the match.
  return json::Stringify(v);
}

}  // namespace

Result<LabelSelector> LabelSelector::Parse(const std::string& text) {
  auto reqs = Parser(text).Parse();
  if (!reqs.ok()) return reqs.error();
  LabelSelector sel;
  sel.requirements_ = std::move(reqs).value();
  return sel;
}

Result<LabelSelector> LabelSelector::FromObject(const json::ObjectPtr& selector) {
  LabelSelector sel;
  if (!selector) {
    sel.match_nothing_ = true;
    return sel;
  }
  if (selector->has("matchLabels") && !json::IsNull(selector->get("matchLabels"))) {
    json::ObjectPtr labels = json::GetObject(selector, "matchLabels");
    if (!labels) return ApiError::BadRequest("selector.matchLabels must be an object");
    for (const auto& [key, val] : *labels) {
      if (!json::IsString(val)) {
        return ApiError::BadRequest("selector.matchLabels[" + key + "] must be a string");
      }
      if (auto err = CheckKey(key)) return ApiError::BadRequest(*err);
      std::string value = val.extract<std::string>();
      if (auto err = CheckValue(value)) return ApiError::BadRequest(*err);
      sel.requirements_.push_back({key, Op::kEquals, {value}});
    }
  }
  if (selector->has("matchExpressions") && !json::IsNull(selector->get("matchExpressions"))) {
    json::ArrayPtr exprs = json::GetArray(selector, "matchExpressions");
    if (!exprs) return ApiError::BadRequest("selector.matchExpressions must be an array");
    for (size_t i = 0; i < exprs->size(); ++i) {
      std::string where = "selector.matchExpressions[" + std::to_string(i) + "]";
      json::ObjectPtr expr = json::AsObject(exprs->get(i));
      if (!expr) return ApiError::BadRequest(where + " must be an object");
      std::string key = json::GetString(expr, "key").value_or("");
      if (auto err = CheckKey(key)) return ApiError::BadRequest(where + ": " + *err);
      std::string op = json::GetString(expr, "operator").value_or("");
      Requirement req{key, Op::kIn, {}};
      if (json::ArrayPtr values = json::GetArray(expr, "values")) {
        for (size_t j = 0; j < values->size(); ++j) {
          json::Var v = values->get(j);
          if (!json::IsString(v)) return ApiError::BadRequest(where + ".values must be strings");
          req.values.push_back(v.extract<std::string>());
        }
      }
      if (op == "In" || op == "NotIn") {
        req.op = op == "In" ? Op::kIn : Op::kNotIn;
        if (req.values.empty()) {
          return ApiError::BadRequest(where + ".values: must be specified when `operator` is " +
                                      op);
        }
        for (const auto& v : req.values) {
          if (auto err = CheckValue(v)) return ApiError::BadRequest(where + ": " + *err);
        }
      } else if (op == "Exists" || op == "DoesNotExist") {
        req.op = op == "Exists" ? Op::kExists : Op::kDoesNotExist;
        if (!req.values.empty()) {
          return ApiError::BadRequest(where + ".values: may not be specified when `operator` is " +
                                      op);
        }
      } else {
        return ApiError::BadRequest(where + ".operator: Unsupported value: \"" + op +
                                    "\": supported values: \"In\", \"NotIn\", \"Exists\", "
                                    "\"DoesNotExist\"");
      }
      sel.requirements_.push_back(std::move(req));
    }
  }
  return sel;
}

bool LabelSelector::Matches(const json::ObjectPtr& labels) const {
  if (match_nothing_) return false;
  for (const Requirement& r : requirements_) {
    std::optional<std::string> value = LabelValue(labels, r.key);
    auto in_values = [&] {
      return value && std::find(r.values.begin(), r.values.end(), *value) != r.values.end();
    };
    bool ok = false;
    switch (r.op) {
      case Op::kEquals:
      case Op::kIn:
        ok = in_values();
        break;
      case Op::kNotEquals:
      case Op::kNotIn:
        ok = !in_values();
        break;
      case Op::kExists:
        ok = value.has_value();
        break;
      case Op::kDoesNotExist:
        ok = !value.has_value();
        break;
      case Op::kGreaterThan:
      case Op::kLessThan: {
        std::optional<int64_t> have = value ? ToInt(*value) : std::nullopt;
        std::optional<int64_t> want = r.values.empty() ? std::nullopt : ToInt(r.values[0]);
        ok = have && want && (r.op == Op::kGreaterThan ? *have > *want : *have < *want);
        break;
      }
    }
    if (!ok) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Field selectors, after k8s.io/apimachinery/pkg/fields: "a=b,c!=d", with '\' escaping ',', '='
// and '\' in values.

namespace {

// Splits at unescaped `sep`, keeping escapes in the parts.
std::vector<std::string> SplitUnescaped(const std::string& s, char sep) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      parts.back() += s.substr(i, 2);
      ++i;
    } else if (s[i] == sep) {
      parts.emplace_back();
    } else {
      parts.back() += s[i];
    }
  }
  return parts;
}

std::optional<std::string> Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (i + 1 >= s.size()) return std::nullopt;
    char c = s[++i];
    if (c != '\\' && c != ',' && c != '=') return std::nullopt;
    out += c;
  }
  return out;
}

// The field's value as the apiserver's field set has it: a missing field is "".
std::string FieldValue(const json::ObjectPtr& obj, const std::string& path) {
  json::ObjectPtr cur = obj;
  size_t start = 0;
  for (;;) {
    if (!cur) return "";
    size_t dot = path.find('.', start);
    std::string key = path.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!cur->has(key)) return "";
    json::Var v = cur->get(key);
    if (dot == std::string::npos) {
      if (json::IsString(v)) return v.extract<std::string>();
      if (json::IsNull(v) || json::IsObject(v) || json::IsArray(v)) return "";
      return json::Stringify(v);  // numbers and booleans, as their JSON text
    }
    cur = json::AsObject(v);
    start = dot + 1;
  }
}

}  // namespace

Result<FieldSelector> FieldSelector::Parse(const std::string& text) {
  FieldSelector sel;
  std::string trimmed = text;
  auto not_space = [](char c) { return !IsSpace(c); };
  trimmed.erase(trimmed.begin(), std::find_if(trimmed.begin(), trimmed.end(), not_space));
  trimmed.erase(std::find_if(trimmed.rbegin(), trimmed.rend(), not_space).base(), trimmed.end());
  if (trimmed.empty()) return sel;
  for (const std::string& part : SplitUnescaped(trimmed, ',')) {
    if (part.empty()) continue;  // "a=b,,c=d", as upstream
    // The first unescaped operator splits path from value: "!=", then "==", then "=".
    size_t op_at = std::string::npos, op_len = 0;
    bool equals = true;
    for (size_t i = 0; i < part.size(); ++i) {
      if (part[i] == '\\') {
        ++i;
        continue;
      }
      if (part[i] == '!' && i + 1 < part.size() && part[i + 1] == '=') {
        op_at = i, op_len = 2, equals = false;
        break;
      }
      if (part[i] == '=') {
        op_at = i;
        op_len = i + 1 < part.size() && part[i + 1] == '=' ? 2 : 1;
        break;
      }
    }
    if (op_at == std::string::npos) {
      return ApiError::BadRequest("invalid selector: '" + text + "'; can't understand '" + part +
                                  "'");
    }
    std::string path = part.substr(0, op_at);
    path.erase(path.begin(), std::find_if(path.begin(), path.end(), not_space));
    path.erase(std::find_if(path.rbegin(), path.rend(), not_space).base(), path.end());
    auto value = Unescape(part.substr(op_at + op_len));
    if (path.empty() || !value || path.find('\\') != std::string::npos) {
      return ApiError::BadRequest("invalid selector: '" + text + "'; can't understand '" + part +
                                  "'");
    }
    sel.terms_.push_back({path, equals, *value});
  }
  return sel;
}

bool FieldSelector::Matches(const json::ObjectPtr& object) const {
  for (const Term& t : terms_) {
    if ((FieldValue(object, t.path) == t.value) != t.equals) return false;
  }
  return true;
}

}  // namespace sandbox

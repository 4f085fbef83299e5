#include "config/yaml_reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "common/quote.h"
#include "config/expand.h"

namespace canaryctl::config {
namespace {

const char* KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "a scalar";
  }
}

// Go-quoted: a control byte in a value cannot break the message's line.
std::string Quote(const std::string& s) { return GoQuote(s); }

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<int> ParseInt(const std::string& text) {
  int value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::optional<double> ParseDouble(const std::string& text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<bool> ParseBool(const std::string& text) {
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return std::nullopt;
}

std::optional<std::string> ClosestMatch(const std::string& word,
                                        const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const std::string& c : candidates) {
    // "automatic" for "auto": a longer or shorter spelling of the same word.
    const bool prefix =
        std::min(word.size(), c.size()) >= 3 && (word.rfind(c, 0) == 0 || c.rfind(word, 0) == 0);
    size_t d = prefix ? 1 : EditDistance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

Location YamlReader::At(const YAML::Mark& mark) const {
  if (mark.line < 0) return {file_ + ":1:1", 0, 0};
  return {file_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1),
          mark.line, mark.column};
}

std::optional<Fields> YamlReader::Map(const YAML::Node& node, const std::string& path,
                                      std::initializer_list<const char*> known) {
  if (!node.IsMap()) {
    diag_->Error(path, std::string("expected a mapping, got ") + KindName(node));
    diag_->MarkBroken(path);
    return std::nullopt;
  }
  std::vector<std::string> known_keys(known.begin(), known.end());
  Fields fields{path, {}};
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key_node = it->first;  // by value: it-> returns a temporary proxy
    if (!key_node.IsScalar()) {
      diag_->ErrorAt(At(key_node.Mark()), path, "keys must be plain strings");
      continue;
    }
    const std::string key = UnshieldVariableBraces(key_node.Scalar());
    const std::string child = ChildPath(path, key);
    if (std::find(known_keys.begin(), known_keys.end(), key) == known_keys.end()) {
      std::string message = "unknown key";
      if (auto hint = ClosestMatch(key, known_keys)) message += "; did you mean `" + *hint + "`?";
      diag_->ErrorAt(At(key_node.Mark()), child, message);
      continue;
    }
    if (fields.Has(key)) {
      diag_->ErrorAt(At(key_node.Mark()), child,
                     "duplicate key (first given at " + diag_->LocationOf(child).text + ")");
      continue;
    }
    const YAML::Node value = it->second;
    // An empty value ("key:") has no position of its own: point at the key instead.
    const bool has_mark = !value.IsNull() && value.Mark().line >= 0;
    diag_->SetLocation(child, At(has_mark ? value.Mark() : key_node.Mark()));
    fields.nodes[key] = value;
  }
  return fields;
}

std::optional<std::vector<YAML::Node>> YamlReader::Seq(const YAML::Node& node,
                                                       const std::string& path) {
  if (!node.IsSequence()) {
    diag_->Error(path, std::string("expected a list, got ") + KindName(node));
    diag_->MarkBroken(path);
    return std::nullopt;
  }
  std::vector<YAML::Node> items;
  for (size_t i = 0; i < node.size(); ++i) {
    items.push_back(node[i]);
    diag_->SetLocation(path + "[" + std::to_string(i) + "]", At(node[i].Mark()));
  }
  return items;
}

Location YamlReader::LocateVariable(const YAML::Node& node, size_t nth) const {
  // The nth "${" of the scalar, found in the source from the scalar's start: quoting and folding
  // never change "${", so this is where the user wrote it.
  size_t pos = node.Mark().pos >= 0 ? static_cast<size_t>(node.Mark().pos) : std::string::npos;
  for (size_t k = 0; pos != std::string::npos && k <= nth; ++k) {
    pos = source_.find("${", k == 0 ? pos : pos + 2);
  }
  if (pos == std::string::npos) return At(node.Mark());
  int line = 0, column = 0;
  for (size_t i = 0; i < pos; ++i) {
    if (source_[i] == '\n') {
      ++line;
      column = 0;
    } else {
      ++column;
    }
  }
  YAML::Mark mark;
  mark.pos = static_cast<int>(pos);
  mark.line = line;
  mark.column = column;
  return At(mark);
}

std::optional<std::string> YamlReader::Scalar(const YAML::Node& node, const std::string& path,
                                              const char* expected) {
  if (!node.IsScalar()) {
    diag_->Error(path, std::string("expected ") + expected + ", got " + KindName(node));
    diag_->MarkBroken(path);
    return std::nullopt;
  }
  const std::string raw = UnshieldVariableBraces(node.Scalar());
  Expansion expansion = ExpandVariables(raw, env_);
  if (expansion.errors.empty()) return expansion.text;
  for (const ExpansionError& e : expansion.errors) {
    size_t nth = 0;
    for (size_t p = raw.find("${"); p != std::string::npos && p < e.offset;
         p = raw.find("${", p + 2)) {
      ++nth;
    }
    diag_->ErrorAt(LocateVariable(node, nth), path, e.message);
  }
  diag_->MarkBroken(path);
  return std::nullopt;
}

namespace {

template <typename T, typename Parse>
bool ReadTyped(YamlReader* reader, Diagnostics* diag, const YAML::Node& node,
               const std::string& path, const char* expected, Parse parse, T* out) {
  auto text = reader->Scalar(node, path, expected);
  if (!text) return false;
  auto value = parse(*text);
  if (!value) {
    diag->Error(path, std::string("expected ") + expected + ", got " + Quote(*text));
    diag->MarkBroken(path);
    return false;
  }
  *out = *value;
  return true;
}

}  // namespace

bool YamlReader::String(const Fields& f, const char* key, std::string* out) {
  if (!f.Has(key)) return false;
  auto text = Scalar(f.nodes.at(key), ChildPath(f.path, key), "a string");
  if (!text) return false;
  *out = *text;
  return true;
}

bool YamlReader::String(const Fields& f, const char* key, std::optional<std::string>* out) {
  std::string value;
  if (!String(f, key, &value)) return false;
  *out = value;
  return true;
}

bool YamlReader::Int(const Fields& f, const char* key, int* out) {
  if (!f.Has(key)) return false;
  return ReadTyped(this, diag_, f.nodes.at(key), ChildPath(f.path, key), "an integer", ParseInt,
                   out);
}

bool YamlReader::Int(const Fields& f, const char* key, std::optional<int>* out) {
  int value = 0;
  if (!Int(f, key, &value)) return false;
  *out = value;
  return true;
}

bool YamlReader::Double(const Fields& f, const char* key, double* out) {
  if (!f.Has(key)) return false;
  return ReadTyped(this, diag_, f.nodes.at(key), ChildPath(f.path, key), "a number", ParseDouble,
                   out);
}

bool YamlReader::Double(const Fields& f, const char* key, std::optional<double>* out) {
  double value = 0;
  if (!Double(f, key, &value)) return false;
  *out = value;
  return true;
}

bool YamlReader::Bool(const Fields& f, const char* key, bool* out) {
  if (!f.Has(key)) return false;
  return ReadTyped(this, diag_, f.nodes.at(key), ChildPath(f.path, key), "true or false", ParseBool,
                   out);
}

bool YamlReader::Dur(const Fields& f, const char* key, Duration* out) {
  if (!f.Has(key)) return false;
  return ReadTyped(this, diag_, f.nodes.at(key), ChildPath(f.path, key),
                   "a duration such as \"30s\", \"5m\" or \"1h30m\"", ParseDuration, out);
}

bool YamlReader::StringList(const Fields& f, const char* key, std::vector<std::string>* out) {
  if (!f.Has(key)) return false;
  const std::string path = ChildPath(f.path, key);
  auto items = Seq(f.nodes.at(key), path);
  if (!items) return false;
  std::vector<std::string> values;
  bool ok = true;
  for (size_t i = 0; i < items->size(); ++i) {
    auto text = Scalar((*items)[i], path + "[" + std::to_string(i) + "]", "a string");
    if (text)
      values.push_back(*text);
    else
      ok = false;
  }
  if (!ok) {
    diag_->MarkBroken(path);
    return false;
  }
  *out = values;
  return true;
}

bool YamlReader::IntList(const Fields& f, const char* key, std::vector<int>* out) {
  if (!f.Has(key)) return false;
  const std::string path = ChildPath(f.path, key);
  auto items = Seq(f.nodes.at(key), path);
  if (!items) return false;
  std::vector<int> values;
  bool ok = true;
  for (size_t i = 0; i < items->size(); ++i) {
    int value = 0;
    if (ReadTyped(this, diag_, (*items)[i], path + "[" + std::to_string(i) + "]", "an integer",
                  ParseInt, &value)) {
      values.push_back(value);
    } else {
      ok = false;
    }
  }
  if (!ok) {
    diag_->MarkBroken(path);
    return false;
  }
  *out = values;
  return true;
}

bool YamlReader::StringMap(const Fields& f, const char* key,
                           std::map<std::string, std::string>* out) {
  if (!f.Has(key)) return false;
  const std::string path = ChildPath(f.path, key);
  const YAML::Node& node = f.nodes.at(key);
  if (!node.IsMap()) {
    diag_->Error(path, std::string("expected a mapping, got ") + KindName(node));
    diag_->MarkBroken(path);
    return false;
  }
  std::map<std::string, std::string> values;
  bool ok = true;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string name = UnshieldVariableBraces(it->first.Scalar());
    const std::string child = ChildPath(path, name);
    if (values.count(name)) {
      diag_->ErrorAt(At(it->first.Mark()), child, "duplicate key");
      ok = false;
      continue;
    }
    diag_->SetLocation(child, At(it->second.Mark()));
    auto text = Scalar(it->second, child, "a string");
    if (text)
      values[name] = *text;
    else
      ok = false;
  }
  if (!ok) {
    diag_->MarkBroken(path);
    return false;
  }
  *out = values;
  return true;
}

}  // namespace canaryctl::config

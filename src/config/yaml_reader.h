// Internal to config/: reads typed values out of a yaml-cpp tree, expanding ${VAR} in every
// scalar first, recording where each key path came from, and reporting every problem (unknown or
// duplicate keys, wrong types, undefined variables) to Diagnostics instead of stopping.
#pragma once

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "config/duration.h"
#include "config/rollout_spec.h"

namespace canaryctl::config {

// The known keys of one mapping that the file gives, with the mapping's key path.
struct Fields {
  std::string path;
  std::map<std::string, YAML::Node> nodes;
  bool Has(const std::string& key) const { return nodes.count(key) > 0; }
};

class YamlReader {
 public:
  YamlReader(std::string file_name, std::string source, const Environment& env,
             Diagnostics* diagnostics)
      : file_(std::move(file_name)), source_(std::move(source)), env_(env), diag_(diagnostics) {}

  Location At(const YAML::Mark& mark) const;

  // A mapping holding only `known` keys (else "unknown key", with the closest known key as a
  // suggestion). nullopt when node is not a mapping.
  std::optional<Fields> Map(const YAML::Node& node, const std::string& path,
                            std::initializer_list<const char*> known);
  // The elements of a sequence; nullopt (and an error) when node is not one.
  std::optional<std::vector<YAML::Node>> Seq(const YAML::Node& node, const std::string& path);

  // Each reads fields.nodes[key], if given, into *out and returns true; on a wrong type or an
  // undefined variable it reports the error, leaves *out alone and returns false.
  bool String(const Fields& f, const char* key, std::string* out);
  bool String(const Fields& f, const char* key, std::optional<std::string>* out);
  bool Int(const Fields& f, const char* key, int* out);
  bool Int(const Fields& f, const char* key, std::optional<int>* out);
  bool Double(const Fields& f, const char* key, double* out);
  bool Double(const Fields& f, const char* key, std::optional<double>* out);
  bool Bool(const Fields& f, const char* key, bool* out);
  bool Dur(const Fields& f, const char* key, Duration* out);
  bool StringList(const Fields& f, const char* key, std::vector<std::string>* out);
  bool IntList(const Fields& f, const char* key, std::vector<int>* out);
  bool StringMap(const Fields& f, const char* key, std::map<std::string, std::string>* out);

  // The expanded text of a scalar node at `path`; nullopt (and an error naming `expected`) when
  // the node is not a scalar or a variable is undefined.
  std::optional<std::string> Scalar(const YAML::Node& node, const std::string& path,
                                    const char* expected);

 private:
  Location LocateVariable(const YAML::Node& node, size_t nth) const;

  std::string file_;
  std::string source_;
  const Environment& env_;
  Diagnostics* diag_;
};

// Text-to-value conversions shared by the reader and the CANARYCTL_* overrides.
std::optional<int> ParseInt(const std::string& text);
std::optional<double> ParseDouble(const std::string& text);
std::optional<bool> ParseBool(const std::string& text);

// The candidate closest to `word` by edit distance, if close enough to be a likely typo.
std::optional<std::string> ClosestMatch(const std::string& word,
                                        const std::vector<std::string>& candidates);

}  // namespace canaryctl::config

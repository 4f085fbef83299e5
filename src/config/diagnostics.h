// Internal to config/: where each key path of the configuration came from, and the errors found
// so far. Every error is printed as "<where>: <key path>: <what was expected>", where <where> is
// file:line:column for the file, or the variable or flag that overrode the key.
#pragma once

#include <climits>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace canaryctl::config {

struct Location {
  std::string text;    // "rollout.yaml:12:10", "CANARYCTL_TRAFFIC_STEPS", "--reports"
  int line = INT_MAX;  // for ordering: file positions first, in file order, then overrides
  int column = 0;
};

// The parent of a key path: "traffic.steps[2]" -> "traffic.steps" -> "traffic" -> "".
std::string ParentPath(const std::string& path);
// "a" + "b" -> "a.b"; "" + "b" -> "b".
std::string ChildPath(const std::string& parent, const std::string& key);

class Diagnostics {
 public:
  explicit Diagnostics(Location root) { locations_[""] = std::move(root); }

  void SetLocation(const std::string& path, Location where) { locations_[path] = std::move(where); }
  // True when the key was given (in the file or by an override).
  bool Has(const std::string& path) const { return locations_.count(path) > 0; }
  // Where the key, or its nearest given ancestor, came from.
  const Location& LocationOf(const std::string& path) const;

  // A key whose value could not be decoded: rules about its value are not checked again.
  void MarkBroken(const std::string& path) { broken_.insert(path); }
  // Given, and neither it nor an ancestor is broken.
  bool Usable(const std::string& path) const;

  void Error(const std::string& path, const std::string& message);
  void ErrorAt(const Location& where, const std::string& path, const std::string& message);

  bool ok() const { return errors_.empty(); }
  // All errors, one a line, in file order (then overrides), without a trailing newline.
  std::string Joined() const;

 private:
  struct Entry {
    int line, column, sequence;
    std::string text;
  };
  std::map<std::string, Location> locations_;
  std::set<std::string> broken_;
  std::vector<Entry> errors_;
};

}  // namespace canaryctl::config

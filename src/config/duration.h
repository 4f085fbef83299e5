// Go-style durations ("500ms", "30s", "5m", "1h30m", "1.5h") as written in rollout.yaml.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace canaryctl::config {

using Duration = std::chrono::milliseconds;

// Parses a sequence of <number><unit> with units ms, s, m, h (fractions allowed, e.g. "1.5h");
// "0" alone is zero. Returns nullopt for anything else, including negative values and overflow.
std::optional<Duration> ParseDuration(std::string_view text);

// The shortest Go-style form that ParseDuration reads back to the same value: "1h30m", "500ms",
// "0s".
std::string FormatDuration(Duration d);

}  // namespace canaryctl::config

// Quoting text for the formats other programs read back.

// Go's strconv.Quote for ASCII and UTF-8 text: a double-quoted string with \" \\ \n \t \r and
// \xNN for other control bytes; other bytes (UTF-8 included) as they are. Kubernetes' error
// messages quote values this way, and PromQL string literals read the same escapes.
#pragma once

#include <string>
#include <string_view>

namespace canaryctl {

std::string GoQuote(std::string_view text);

// A label value of the Prometheus text exposition format (OpenMetrics too), without the
// quotes: backslash, double quote and newline escaped.
std::string EscapeLabelValue(std::string_view value);

}  // namespace canaryctl

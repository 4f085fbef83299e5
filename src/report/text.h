// Text sanitizing shared by the report writers. Check output and commit subjects come from
// outside; each format needs them valid for what GitLab parses.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace canaryctl::report {

// Decodes the code point starting at byte `i` of `s` into *cp; returns its length in bytes,
// or 0 when the sequence there is invalid, overlong, a surrogate or truncated.
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* cp);

// Valid UTF-8: each byte of an invalid, overlong, surrogate or truncated sequence becomes
// U+FFFD.
std::string ToValidUtf8(std::string_view text);

// Valid XML 1.0 character data: valid UTF-8 where every code point outside
// #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF] becomes U+FFFD.
std::string ToXmlText(std::string_view text);

// At most `max_bytes` bytes, keeping the end (the last lines of a log say why it failed),
// prefixed by a note of how much was cut. Never splits a UTF-8 sequence.
std::string KeepTail(std::string_view text, size_t max_bytes);

// CR, LF and TAB replaced by spaces: for single-line fields (attributes, table cells).
std::string OneLine(std::string_view text);

// "2026-11-26T19:50:27Z".
std::string IsoTimeUtc(int64_t unix_seconds);

// "2.500": a duration in seconds with millisecond precision, as JUnit and OpenMetrics want.
std::string SecondsText(std::chrono::milliseconds duration);

// A measured value with up to 6 significant digits ("99.5", "523.457", "1e+07"); "NaN",
// "+Inf" and "-Inf" for the non-finite ones (Prometheus returns them), valid in OpenMetrics.
std::string ValueText(double value);

}  // namespace canaryctl::report

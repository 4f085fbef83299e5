// Shared by the fuzz targets: a property check that aborts (so libFuzzer and the replay driver
// both report the input), and a splitter that turns one input into several strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

// Aborts with the property that failed: a wrong answer is as much a finding as a crash.
#define FUZZ_CHECK(cond, what)                                                                \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "%s:%d: property violated: %s (%s)\n", __FILE__, __LINE__, (what), \
                   #cond);                                                                    \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)

namespace canaryctl::fuzz {

// The input split on NUL bytes into at most `max_parts` strings (the last keeps the rest,
// NULs included); missing parts are empty. NUL is a cheap separator for the mutator to
// insert or remove, and seed files stay easy to write with printf.
inline std::vector<std::string> SplitInput(const uint8_t* data, size_t size, size_t max_parts) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  while (parts.size() + 1 < max_parts) {
    size_t nul = in.find('\0');
    if (nul == std::string_view::npos) break;
    parts.emplace_back(in.substr(0, nul));
    in.remove_prefix(nul + 1);
  }
  parts.emplace_back(in);
  parts.resize(max_parts);
  return parts;
}

}  // namespace canaryctl::fuzz

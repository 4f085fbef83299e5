// The canaryctl.io/state annotation (engine/state.h) comes from the cluster: any text is either
// a state that passes Validate and round-trips, or a kCluster error with a message.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/state.h"
#include "fuzz/fuzz_support.h"

using namespace canaryctl::engine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  auto state = ParseState(json);
  if (!state.ok()) {
    FUZZ_CHECK(state.error().kind == canaryctl::ErrorKind::kCluster,
               "a bad annotation is a cluster error");
    FUZZ_CHECK(!state.error().message.empty(), "an error says what is wrong");
    return 0;
  }
  FUZZ_CHECK(Validate(state.value()).ok(), "a parsed state is a valid state");
  const std::string text = SerializeState(state.value());
  auto again = ParseState(text);
  FUZZ_CHECK(again.ok(), "a serialized state parses");
  FUZZ_CHECK(again.value() == state.value(), "ParseState(SerializeState(s)) == s");
  FUZZ_CHECK(SerializeState(again.value()) == text, "serialization is deterministic");
  return 0;
}

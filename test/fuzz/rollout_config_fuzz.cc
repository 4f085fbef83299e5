// rollout.yaml loading (config/loader.h): any text is either a RolloutSpec or a kConfig error
// with a message; a loaded spec prints (ToYaml) to YAML that loads back to the same spec.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/loader.h"
#include "config/to_yaml.h"
#include "fuzz/fuzz_support.h"

using canaryctl::ErrorKind;
using canaryctl::config::Environment;
using canaryctl::config::ParseRolloutSpec;
using canaryctl::config::ToYaml;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Variables the seeds use, a secret among them; no CANARYCTL_* (they would override keys).
  static const Environment env = {{"CI_COMMIT_SHORT_SHA", "abc1234"},
                                  {"CI_ENVIRONMENT_URL", "https://demo.example.com"},
                                  {"APP", "demoapp"},
                                  {"TOKEN", "s3cr3t-token"}};
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto spec = ParseRolloutSpec(text, "rollout.yaml", env);
  if (!spec.ok()) {
    FUZZ_CHECK(spec.error().kind == ErrorKind::kConfig, "a bad file is a configuration error");
    FUZZ_CHECK(!spec.error().message.empty(), "an error says what is wrong");
    return 0;
  }
  // Secrets print as "<redacted>", which does not load back to the same value.
  if (!spec.value().secret_values.empty() || !spec.value().secrets.empty()) return 0;
  const std::string printed = ToYaml(spec.value());
  auto again = ParseRolloutSpec(printed, "printed.yaml", env);
  if (!again.ok()) std::fprintf(stderr, "%s\n", again.error().message.c_str());
  FUZZ_CHECK(again.ok(), "config print output loads");
  FUZZ_CHECK(ToYaml(again.value()) == printed, "config print output loads to the same spec");
  return 0;
}

// Finding the helm binary and knowing its version: the driver adapts its flags to helm 3 or 4
// (helm_args.h), so the version is detected once, when the driver is created.
#pragma once

#include <optional>
#include <string>

#include "common/result.h"

namespace canaryctl::helm {

struct HelmVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;
  std::string text;  // as helm printed it: "v3.18.0"

  // --set-literal exists since helm 3.12.
  bool HasSetLiteral() const { return major > 3 || (major == 3 && minor >= 12); }
};

// Parses the output of `helm version --template '{{.Version}}'` ("v3.18.0", "v4.1.4+gabc").
// Errors (kCluster) quote the text when it is not a helm 3 or 4 version.
Result<HelmVersion> ParseHelmVersion(const std::string& text);

// The helm binary to run: explicit_path (the CLI's --helm) when set, else helm_bin_env (the
// HELM_BIN variable) when set, else the first executable `helm` in path_env (PATH's value).
// A path that is not an executable file is a configuration error naming where it came from.
Result<std::string> ResolveHelmBinary(const std::string& explicit_path,
                                      const std::optional<std::string>& helm_bin_env,
                                      const std::optional<std::string>& path_env);

}  // namespace canaryctl::helm

// kubeconfig loading (kube/kubeconfig.h): any file is either a KubeConfig or a kConfig error
// that names the file. The input is the kubeconfig; it is written to a private directory so
// relative references (client-key: key.pem) resolve to files that do not exist.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz/fuzz_support.h"
#include "kube/kubeconfig.h"

namespace {

// A private directory for the process, removed at exit.
class TempDir {
 public:
  TempDir() {
    path_ = (std::filesystem::temp_directory_path() / "kubeconfig_fuzz.XXXXXX").string();
    if (mkdtemp(path_.data()) == nullptr) std::abort();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string KubeconfigPath() {
  static const TempDir dir;
  return dir.path() + "/config";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = KubeconfigPath();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) std::abort();
  }
  auto config = canaryctl::kube::LoadKubeconfig({path});
  if (!config.ok()) {
    FUZZ_CHECK(config.error().kind == canaryctl::ErrorKind::kConfig,
               "a bad kubeconfig is a configuration error");
    FUZZ_CHECK(config.error().message.find(path) != std::string::npos,
               "an error names the kubeconfig");
    return 0;
  }
  FUZZ_CHECK(!config.value().cluster.server.empty(), "a loaded context has a server");
  return 0;
}

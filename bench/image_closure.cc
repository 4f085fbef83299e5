// The container image's runtime closure: for canaryctl and canaryctl-sandbox, the stripped
// binary plus every shared library it loads that debian:bookworm-slim lacks (the runtime stage
// installs those), then both together as the image ships them, beside helm's and kubectl's
// sizes. Which libraries are beyond the base image is docker/runtime-closure.sh's answer, the
// same one test/docker holds the Dockerfile to. Sizes are of the files on this machine
// (bookworm, the image's release); apt's own metadata and the packages' docs are not counted.
#include <Poco/PipeStream.h>
#include <Poco/Process.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;

namespace {

struct Library {
  std::string soname;
  std::string package;
  fs::path file;  // the real file behind ldd's path (sonames are symlinks)
  std::uintmax_t bytes = 0;
};

// Runs a program and returns its standard output; throws when it exits non-zero.
std::string Run(const std::string& program, const std::vector<std::string>& args) {
  Poco::Pipe out;
  Poco::ProcessHandle handle = Poco::Process::launch(program, args, nullptr, &out, nullptr);
  Poco::PipeInputStream stream(out);
  std::ostringstream text;
  text << stream.rdbuf();
  if (int code = handle.wait(); code != 0) {
    throw std::runtime_error(program + " exited with " + std::to_string(code));
  }
  return text.str();
}

std::uintmax_t StrippedSize(const fs::path& binary, const fs::path& scratch) {
  const fs::path copy = scratch / binary.filename();
  fs::copy_file(binary, copy, fs::copy_options::overwrite_existing);
  Run("strip", {copy.string()});
  return fs::file_size(copy);
}

// The libraries beyond the base image, by real file (two sonames of one file count once).
std::map<fs::path, Library> ExtraLibraries(const fs::path& binary) {
  std::map<fs::path, Library> libraries;
  std::istringstream rows(Run(CANARYCTL_CLOSURE_SCRIPT, {"libs", binary.string()}));
  std::string line;
  while (std::getline(rows, line)) {
    std::vector<std::string> fields;
    std::istringstream split(line);
    for (std::string field; std::getline(split, field, '\t');) fields.push_back(field);
    if (fields.size() != 6)
      throw std::runtime_error("unexpected line from runtime-closure: " + line);
    if (fields[5] != "extra") continue;
    Library library{fields[1], fields[4], fs::canonical(fields[2])};
    library.bytes = fs::file_size(library.file);
    libraries.emplace(library.file, library);
  }
  return libraries;
}

std::string Mib(std::uintmax_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%8.2f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

void Row(const std::string& what, const std::string& package, std::uintmax_t bytes) {
  std::printf("  %-28s %-20s %s %12ju B\n", what.c_str(), package.c_str(), Mib(bytes).c_str(),
              bytes);
}

std::uintmax_t PrintClosure(const std::string& title, std::uintmax_t stripped,
                            const std::map<fs::path, Library>& libraries) {
  std::printf("%s\n", title.c_str());
  std::printf("  %-28s %-20s %12s %14s\n", "file", "package", "size", "bytes");
  Row("binaries (stripped)", "-", stripped);
  std::uintmax_t total = stripped;
  for (const auto& [file, library] : libraries) {
    Row(library.soname, library.package, library.bytes);
    total += library.bytes;
  }
  std::printf("  %-28s %-20s %s %12ju B   (%zu libraries)\n\n", "total", "", Mib(total).c_str(),
              total, libraries.size());
  return total;
}

}  // namespace

int main() {
  try {
    const fs::path scratch =
        fs::temp_directory_path() / ("image_closure." + std::to_string(::getpid()));
    fs::create_directories(scratch);
    const std::vector<fs::path> binaries = {CANARYCTL_BIN, CANARYCTL_SANDBOX_BIN};

    std::printf(
        "Runtime closure beyond debian:bookworm-slim (docker/Dockerfile's runtime stage)\n\n");
    std::uintmax_t image_stripped = 0;
    std::map<fs::path, Library> image_libraries;
    for (const fs::path& binary : binaries) {
      const std::uintmax_t stripped = StrippedSize(binary, scratch);
      const auto libraries = ExtraLibraries(binary);
      PrintClosure(binary.filename().string() + " (unstripped " + Mib(fs::file_size(binary)) + ")",
                   stripped, libraries);
      image_stripped += stripped;
      image_libraries.insert(libraries.begin(), libraries.end());
    }
    const std::uintmax_t ours =
        PrintClosure("both, as the image ships them (shared libraries counted once)",
                     image_stripped, image_libraries);
    fs::remove_all(scratch);

    std::printf("The pinned Go tools beside them (static binaries, no libraries)\n");
    std::uintmax_t tools = 0;
    for (const char* tool : {"helm", "kubectl"}) {
      const std::uintmax_t bytes = fs::file_size(fs::path(CANARYCTL_TOOLS_134) / tool);
      Row(tool, "tools/k8s-1.34", bytes);
      tools += bytes;
    }
    std::printf("  %-28s %-20s %s %12ju B\n\n", "total", "", Mib(tools).c_str(), tools);
    std::printf("Image payload beyond the base: %s (canaryctl closure %s + helm and kubectl %s)\n",
                Mib(ours + tools).c_str(), Mib(ours).c_str(), Mib(tools).c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_image_closure: %s\n", e.what());
    return 1;
  }
}

#include "report/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace canaryctl::report {
namespace {

Error WriteError(const std::string& path, const std::string& why) {
  // Reports are written after the cluster was touched: not a configuration error.
  return ClusterError("cannot write report " + path + ": " + why);
}

}  // namespace

Status WriteFileAtomically(const std::string& dir, const std::string& name,
                           std::string_view content) {
  std::filesystem::path directory(dir.empty() ? std::string(".") : dir);
  std::string path = (directory / name).string();
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec)
    return WriteError(path, "cannot create directory " + directory.string() + ": " + ec.message());
  std::string tmp = (directory / ("." + name + ".tmp-" + std::to_string(getpid()))).string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return WriteError(path, std::strerror(errno));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return WriteError(path, why);
    }
    done += static_cast<size_t>(n);
  }
  // No fsync: the rename alone is what readers on a running machine need, and a machine that
  // crashes loses the CI job with the files; an fsync per report cost a command ~10 ms.
  if (::close(fd) != 0) {
    std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return WriteError(path, why);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return WriteError(path, why);
  }
  return Done{};
}

}  // namespace canaryctl::report

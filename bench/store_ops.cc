// Prints the CPU time the sandbox's store spends per Get + Update of a 5 KiB object, with the
// write appended to the on-disk log, the work behind every merge-PATCH the API serves.
// Figures only: it asserts nothing.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "sandbox/store.h"

namespace {

std::chrono::nanoseconds ThreadCpuTime() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * (v.size() - 1))];
}

}  // namespace

int main() {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("bench_store_ops." + std::to_string(::getpid()));
  auto opened = sandbox::Store::Open(dir.string());
  if (!opened.ok()) {
    std::fprintf(stderr, "store: %s\n", opened.error().message.c_str());
    return 1;
  }
  auto& store = *opened.value();
  const sandbox::ResourceRef secrets{"", "secrets"};

  std::string data;
  for (int i = 0; i < 50; ++i) {
    data += std::string(i ? "," : "") + "\"k" + std::to_string(i) + "\":\"" +
            std::string(100, 'x') + "\"";
  }
  constexpr int kObjects = 200;
  for (int i = 0; i < kObjects; ++i) {
    auto obj = sandbox::json::ParseObject(R"({"apiVersion":"v1","kind":"Secret","metadata":)"
                                          R"({"name":"o)" +
                                          std::to_string(i) + R"("},"data":{)" + data + "}}")
                   .value();
    if (!store.Create(secrets, "ns", obj).ok()) return 1;
  }

  constexpr int kOps = 5000;
  std::vector<double> per_op_us;
  per_op_us.reserve(kOps);
  for (int i = 0; i < kOps; ++i) {
    const auto start = ThreadCpuTime();
    auto got = store.Get(secrets, "ns", "o" + std::to_string(i % kObjects));
    if (!got.ok()) return 1;
    got.value()->getObject("data")->set("k0", std::to_string(i));
    if (!store.Update(secrets, "ns", got.value()).ok()) return 1;
    per_op_us.push_back(std::chrono::duration<double, std::micro>(ThreadCpuTime() - start).count());
  }
  std::printf("store Get+Update of a 5 KiB Secret, %d ops, CPU time per op (logged to disk)\n",
              kOps);
  std::printf("%-30s %9s %9s %9s\n", "", "p50 us", "p99 us", "max us");
  std::printf("%-30s %9.1f %9.1f %9.1f\n", "Get+Update", Percentile(per_op_us, 0.5),
              Percentile(per_op_us, 0.99), Percentile(per_op_us, 1.0));
  opened.value().reset();
  fs::remove_all(dir);
  return 0;
}

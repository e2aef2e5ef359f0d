#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/commands.hpp"
#include "delta/build/patch_builder.hpp"

namespace oxide::cli {

Status RunDiff(const DiffArgs& a) {
  delta::DiffOptions opt;
  opt.level = a.level;
  opt.try_binary = !a.no_binary;
  opt.try_tensor = !a.no_tensor;
  opt.try_full = !a.no_full;
  opt.max_patch_version = a.max_patch_version;
  opt.threads = a.threads > 0 ? a.threads : static_cast<int>(std::thread::hardware_concurrency());
  if (opt.threads < 1) opt.threads = 1;
  auto t0 = std::chrono::steady_clock::now();
  OXIDE_ASSIGN_OR_RETURN(auto r, delta::BuildPatchFile(a.base, a.target, a.out, opt));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double pct = r.header.target_size ? 100.0 * static_cast<double>(r.patch_size) /
                                          static_cast<double>(r.header.target_size)
                                    : 0.0;
  std::printf("strategy: %s\npatch: %llu bytes (%.2f%% of the %llu-byte target)\ntime: %.2f s\n",
              std::string(delta::ToString(r.header.strategy)).c_str(),
              static_cast<unsigned long long>(r.patch_size), pct,
              static_cast<unsigned long long>(r.header.target_size), secs);
  std::printf("candidates: tensor=%llu coded-tensor=%llu binary=%llu full=%llu (0 = not built)\n",
              static_cast<unsigned long long>(r.tensor_candidate),
              static_cast<unsigned long long>(r.coded_candidate),
              static_cast<unsigned long long>(r.binary_candidate),
              static_cast<unsigned long long>(r.full_candidate));
  return Status::Ok();
}

}  // namespace oxide::cli

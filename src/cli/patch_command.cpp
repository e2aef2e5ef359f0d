#include <chrono>
#include <cstdio>

#include "cli/commands.hpp"
#include "delta/patch_applier.hpp"

namespace oxide::cli {

Status RunPatch(const PatchArgs& a) {
  auto t0 = std::chrono::steady_clock::now();
  OXIDE_ASSIGN_OR_RETURN(auto st, delta::ApplyPatchFile(a.base, a.patch, a.out));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("rebuilt %s: %llu bytes, sha256 %s (verified), %s strategy, %.2f s\n", a.out.c_str(),
              static_cast<unsigned long long>(st.header.target_size),
              ToHex(st.header.target_sha256).c_str(),
              std::string(delta::ToString(st.header.strategy)).c_str(), secs);
  return Status::Ok();
}

}  // namespace oxide::cli

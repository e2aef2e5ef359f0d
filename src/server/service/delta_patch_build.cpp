#include "server/service/delta_patch_build.hpp"

#include "delta/build/patch_builder.hpp"

namespace oxide::server {

PatchBuildFn MakeDeltaPatchBuilder(int threads) {
  return [threads](const std::string& base, const std::string& target,
                   const std::string& out) -> Result<BuiltPatch> {
    delta::DiffOptions options;
    options.threads = threads;
    OXIDE_ASSIGN_OR_RETURN(delta::DiffResult r, delta::BuildPatchFile(base, target, out, options));
    return BuiltPatch{std::string(delta::ToString(r.header.strategy))};
  };
}

}  // namespace oxide::server

#include "server/service/delta_patch_build.hpp"

#include "delta/build/patch_builder.hpp"

namespace oxide::server {

PatchBuildFn MakeDeltaPatchBuilder(int threads) {
  return [threads](const std::string& base, const std::string& target,
                   const std::string& out) -> Result<BuiltPatch> {
    delta::DiffOptions options;
    options.threads = threads;
    // Devices in the field read patch version 2 only, and agents do not yet say which versions
    // they read: version 3 (coded tensor) is served once that negotiation exists (issue #13).
    options.max_patch_version = 2;
    // Against the empty base a binary (--patch-from) candidate is the full one built twice.
    options.try_binary = !base.empty();
    OXIDE_ASSIGN_OR_RETURN(delta::DiffResult r, delta::BuildPatchFile(base, target, out, options));
    return BuiltPatch{std::string(delta::ToString(r.header.strategy))};
  };
}

}  // namespace oxide::server

#include "server/service/delta_patch_build.hpp"

#include "delta/build/patch_builder.hpp"

namespace oxide::server {

PatchBuildFn MakeDeltaPatchBuilder(int threads) {
  return [threads](const std::string& base, const std::string& target,
                   const std::string& out) -> Result<BuiltPatch> {
    delta::DiffOptions options;
    options.threads = threads;
    // Which format versions a job may use (docs/api.md, "Patch format versions"). A patch from
    // a real base is served to every client, agents that read version 2 only and send no
    // X-Oxide-Patch-Versions included, so it stays version 2. The patch from the empty base is
    // offered only to clients that list their versions, and only when its version byte is
    // listed: it may use version 3 (coded tensor), the compressed full download of issue #13.
    const bool from_empty = base.empty();
    options.max_patch_version = from_empty ? 3 : 2;
    // Against the empty base a binary (--patch-from) candidate is the full one built twice.
    options.try_binary = !from_empty;
    OXIDE_ASSIGN_OR_RETURN(delta::DiffResult r, delta::BuildPatchFile(base, target, out, options));
    return BuiltPatch{std::string(delta::ToString(r.header.strategy))};
  };
}

}  // namespace oxide::server

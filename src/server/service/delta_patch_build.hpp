#pragma once

#include "server/service/patch_worker.hpp"

namespace oxide::server {

// The production PatchBuildFn over delta::BuildPatchFile (verifies the round trip itself).
PatchBuildFn MakeDeltaPatchBuilder(int threads);

}  // namespace oxide::server

#pragma once

#include <nlohmann/json_fwd.hpp>

#include "cli/admin/admin_commands.hpp"

namespace oxide::cli::admin {

// After `model push` uploaded a.model a.version and read its meta: waits until no patch to it
// is `pending` (at most a.wait_seconds), following the event stream's patch.built/patch.failed
// and re-reading the meta only then; polls with backoff (0.5 s doubling to 5 s) when the server
// has no event stream. `meta` holds the last read. True when the wait ended with patches still
// pending.
Result<bool> WaitForPatches(const AdminArgs& a, AdminContext& ctx, nlohmann::json& meta);

}  // namespace oxide::cli::admin

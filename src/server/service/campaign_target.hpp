#pragma once

#include "base/result.hpp"
#include "store/records.hpp"

namespace oxide::server {

// A campaign's "target" (docs/api.md "Campaigns"): which devices it reaches, evaluated once at
// creation. Every entry must hold (AND), compared exactly. Inventory keys os, os_version, arch
// and agent_version name those fields; any other key names a custom attribute.

// kInvalidArgument: more than 64 entries in tags or inventory, an empty key, a key over 128 or
// a value over 512 characters (the tag limits), or the inventory key free_disk_bytes (a number
// that moves all the time is no target).
Status ValidateTarget(const store::CampaignTarget& target);

// Whether `device` (with its tags and last inventory) is reached by `target`. A device that has
// sent no inventory matches no inventory entry.
bool TargetMatches(const store::CampaignTarget& target, const store::DeviceRecord& device);

}  // namespace oxide::server

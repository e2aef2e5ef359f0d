#include "server/service/campaign_target.hpp"

#include <string>

namespace oxide::server {
namespace {

Status ValidateEntries(const std::map<std::string, std::string>& m, const char* what) {
  if (m.size() > 64) return InvalidArgument(std::string("at most 64 entries in target.") + what);
  for (const auto& [k, v] : m) {
    if (k.empty() || k.size() > 128 || v.size() > 512) {
      return InvalidArgument(std::string("target.") + what +
                             " keys must be 1-128 characters and values at most 512");
    }
  }
  return Status::Ok();
}

// The device's value for one inventory key, or nullptr when it has none.
const std::string* InventoryValue(const store::DeviceInventory& inv, const std::string& key) {
  if (inv.updated_at == 0) return nullptr;
  if (key == "os") return &inv.os;
  if (key == "os_version") return &inv.os_version;
  if (key == "arch") return &inv.arch;
  if (key == "agent_version") return &inv.agent_version;
  auto it = inv.attributes.find(key);
  return it == inv.attributes.end() ? nullptr : &it->second;
}

}  // namespace

Status ValidateTarget(const store::CampaignTarget& target) {
  OXIDE_RETURN_IF_ERROR(ValidateEntries(target.tags, "tags"));
  OXIDE_RETURN_IF_ERROR(ValidateEntries(target.inventory, "inventory"));
  if (target.inventory.count("free_disk_bytes") != 0) {
    return InvalidArgument("target.inventory cannot match free_disk_bytes");
  }
  return Status::Ok();
}

bool TargetMatches(const store::CampaignTarget& target, const store::DeviceRecord& device) {
  for (const auto& [k, v] : target.tags) {
    auto it = device.tags.find(k);
    if (it == device.tags.end() || it->second != v) return false;
  }
  for (const auto& [k, v] : target.inventory) {
    const std::string* have = InventoryValue(device.inventory, k);
    if (have == nullptr || *have != v) return false;
  }
  return true;
}

}  // namespace oxide::server

#include "server/service/campaign_target.hpp"

#include <string>

#include "server/service/campaign_service.hpp"

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

// Part of CampaignService, kept beside the matching it applies.
Result<std::vector<std::string>> CampaignService::Audience(const CreateCampaignRequest& req) {
  std::vector<std::string> ids;
  if (!req.fleet_id.empty()) {
    OXIDE_RETURN_IF_ERROR(store_.fleets().Get(req.fleet_id).status());
    OXIDE_ASSIGN_OR_RETURN(ids, store_.fleets().ListDevices(req.fleet_id));
    if (!req.target) return ids;
  }
  std::vector<store::DeviceRecord> candidates;
  if (req.fleet_id.empty()) {
    OXIDE_ASSIGN_OR_RETURN(candidates, store_.devices().List());
  } else {
    for (const auto& id : ids) {
      OXIDE_ASSIGN_OR_RETURN(auto d, store_.devices().Get(id));
      candidates.push_back(std::move(d));
    }
  }
  std::vector<std::string> out;
  for (const auto& d : candidates) {
    if (!TargetMatches(*req.target, d)) continue;
    if (req.fleet_id.empty()) {
      // "Every device" means the ones an operator registered or accepted: an enrollment
      // request still pending (anyone with a token can make one) or a rejected device never
      // heartbeats, and one in a canary wave or rolling batch would stall the campaign.
      OXIDE_ASSIGN_OR_RETURN(auto auth, store_.auth().GetDeviceAuth(d.id));
      if (auth && auth->state != store::DeviceAuthState::kAccepted) continue;
    }
    out.push_back(d.id);
  }
  // Evaluated once, now: a campaign that reaches nobody is a mistake in the target.
  if (out.empty()) return InvalidArgument("target matches no device");
  return out;
}

}  // namespace oxide::server

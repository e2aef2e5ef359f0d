#include "server/service/campaign_summary.hpp"

namespace oxide::server {

using store::DeviceRolloutState;

CampaignSummary SummarizeCampaign(const store::CampaignRecord& c,
                                  const std::vector<store::CampaignDeviceRecord>& devices) {
  CampaignSummary s;
  s.total = devices.size();
  for (const auto& d : devices) {
    switch (d.state) {
      case DeviceRolloutState::kWaiting:
        s.waiting++;
        break;
      case DeviceRolloutState::kPending:
        s.pending++;
        break;
      case DeviceRolloutState::kDownloading:
        s.downloading++;
        break;
      case DeviceRolloutState::kApplying:
        s.applying++;
        break;
      case DeviceRolloutState::kCompleted:
        s.completed++;
        break;
      case DeviceRolloutState::kFailed:
        s.failed++;
        break;
      case DeviceRolloutState::kRolledBack:
        s.rolled_back++;
        break;
      case DeviceRolloutState::kWithdrawn:
        s.withdrawn++;
        break;
      case DeviceRolloutState::kSuperseded:
        s.superseded++;
        break;
    }
  }
  s.bytes_served = c.bytes_served;
  s.bytes_full = c.bytes_full;
  s.bytes_saved = c.bytes_full > c.bytes_served ? c.bytes_full - c.bytes_served : 0;
  return s;
}

}  // namespace oxide::server

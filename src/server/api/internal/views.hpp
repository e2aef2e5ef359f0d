#pragma once

// JSON shapes shared by several route groups. Field names keep the reference API's names
// (docs/api.md) and add new ones beside them.

#include "server/api/internal/json_util.hpp"
#include "server/service/campaign_service.hpp"
#include "server/service/device_service.hpp"

namespace oxide::server::api {

Json DeviceJson(const DeviceView& v);
// DeviceJson plus the device's failure history (GET /devices/:id).
Json DeviceDetailJson(const DeviceView& v);
Json AttemptJson(const store::AttemptRecord& a);
Json AssignmentJson(const std::optional<store::AssignmentRecord>& a);
// Counts per rollout state plus bytes; `offline` needs the device service for liveness.
Json CampaignSummaryJson(const CampaignDetail& c);
Json CampaignListItemJson(const CampaignDetail& c);
Json CampaignDetailJson(const CampaignDetail& c, DeviceService& devices);

}  // namespace oxide::server::api

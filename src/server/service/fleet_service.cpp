#include "server/service/fleet_service.hpp"

#include "server/service/ids.hpp"

namespace oxide::server {

Status FleetService::Create(const std::string& id, const std::string& name,
                            const std::string& description,
                            const std::map<std::string, std::string>& tags) {
  OXIDE_RETURN_IF_ERROR(ValidateId("fleet id", id));
  if (name.empty() || name.size() > 256) {
    return InvalidArgument("field 'name' must be 1-256 characters");
  }
  if (description.size() > 4096) return InvalidArgument("field 'description' is too long");
  if (tags.size() > 64) return InvalidArgument("at most 64 tags");
  for (const auto& [k, v] : tags) {
    if (k.empty() || k.size() > 128 || v.size() > 512) {
      return InvalidArgument("tag keys must be 1-128 characters and values at most 512");
    }
  }
  return store_.fleets().Create(
      store::FleetRecord{id, name, clock_.UnixMillis(), description, tags});
}

Result<FleetView> FleetService::Get(const std::string& id) {
  OXIDE_RETURN_IF_ERROR(ValidateId("fleet id", id));
  FleetView v;
  OXIDE_ASSIGN_OR_RETURN(v.fleet, store_.fleets().Get(id));
  OXIDE_ASSIGN_OR_RETURN(v.device_ids, store_.fleets().ListDevices(id));
  return v;
}

Result<std::vector<FleetView>> FleetService::List() {
  OXIDE_ASSIGN_OR_RETURN(auto fleets, store_.fleets().List());
  std::vector<FleetView> out;
  for (auto& f : fleets) {
    FleetView v;
    OXIDE_ASSIGN_OR_RETURN(v.device_ids, store_.fleets().ListDevices(f.id));
    v.fleet = std::move(f);
    out.push_back(std::move(v));
  }
  return out;
}

Status FleetService::AddDevice(const std::string& fleet_id, const std::string& device_id) {
  OXIDE_RETURN_IF_ERROR(ValidateId("fleet id", fleet_id));
  OXIDE_RETURN_IF_ERROR(ValidateId("device id", device_id));
  return store_.fleets().AddDevice(fleet_id, device_id);
}

Status FleetService::RemoveDevice(const std::string& fleet_id, const std::string& device_id) {
  OXIDE_RETURN_IF_ERROR(ValidateId("fleet id", fleet_id));
  OXIDE_RETURN_IF_ERROR(ValidateId("device id", device_id));
  OXIDE_RETURN_IF_ERROR(store_.fleets().Get(fleet_id).status());
  return store_.fleets().RemoveDevice(fleet_id, device_id);
}

Result<FleetStatus> FleetService::StatusOf(const std::string& id) {
  OXIDE_ASSIGN_OR_RETURN(FleetView v, Get(id));
  FleetStatus s;
  s.fleet = v.fleet;
  for (const auto& did : v.device_ids) {
    auto d = devices_.Get(did);
    if (d.status().code() == ErrorCode::kNotFound) continue;  // deleted meanwhile
    OXIDE_RETURN_IF_ERROR(d.status());
    switch (d->liveness) {
      case Liveness::kOnline:
        ++s.online;
        break;
      case Liveness::kOffline:
        ++s.offline;
        break;
      case Liveness::kUnknown:
        ++s.unknown;
        break;
    }
    s.devices.push_back(std::move(d).value());
  }
  s.total = s.devices.size();
  return s;
}

}  // namespace oxide::server

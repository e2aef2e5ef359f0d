#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "server/service/device_service.hpp"
#include "store/store.hpp"

namespace oxide::server {

struct FleetView {
  store::FleetRecord fleet;
  std::vector<std::string> device_ids;  // in the order they were added
};

struct FleetStatus {
  store::FleetRecord fleet;
  uint64_t total = 0, online = 0, offline = 0, unknown = 0;
  std::vector<DeviceView> devices;
};

// Fleets and their membership. `store` and `devices` must outlive it.
class FleetService {
 public:
  FleetService(store::Store& store, const Clock& clock, DeviceService& devices)
      : store_(store), clock_(clock), devices_(devices) {}

  // kAlreadyExists when the id is taken (fleets are never silently overwritten).
  Status Create(const std::string& id, const std::string& name, const std::string& description = "",
                const std::map<std::string, std::string>& tags = {});
  Result<FleetView> Get(const std::string& id);
  Result<std::vector<FleetView>> List();
  Status AddDevice(const std::string& fleet_id, const std::string& device_id);
  Status RemoveDevice(const std::string& fleet_id, const std::string& device_id);
  Result<FleetStatus> StatusOf(const std::string& id);

 private:
  store::Store& store_;
  const Clock& clock_;
  DeviceService& devices_;
};

}  // namespace oxide::server

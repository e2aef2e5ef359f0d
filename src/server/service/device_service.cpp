#include "server/service/device_service.hpp"

#include "server/api/event_data.hpp"
#include "server/service/ids.hpp"

namespace oxide::server {
namespace {
constexpr size_t kHistoryLimit = 50;
}  // namespace

std::string_view ToString(Liveness l) {
  switch (l) {
    case Liveness::kOnline:
      return "online";
    case Liveness::kOffline:
      return "offline";
    case Liveness::kUnknown:
      break;
  }
  return "unknown";
}

Liveness LivenessAt(const store::DeviceRecord& d, store::TimeMs now,
                    store::TimeMs offline_after_ms) {
  if (d.last_seen == 0) return Liveness::kUnknown;
  return now - d.last_seen <= offline_after_ms ? Liveness::kOnline : Liveness::kOffline;
}

Result<bool> DeviceService::Register(const std::string& id, const std::string& name,
                                     const std::map<std::string, std::string>& tags) {
  OXIDE_RETURN_IF_ERROR(ValidateId("device id", id));
  if (name.empty() || name.size() > 256) {
    return InvalidArgument("field 'name' must be 1-256 characters");
  }
  if (tags.size() > 64) return InvalidArgument("at most 64 tags");
  for (const auto& [k, v] : tags) {
    if (k.empty() || k.size() > 128 || v.size() > 512) {
      return InvalidArgument("tag keys must be 1-128 characters and values at most 512");
    }
  }
  bool created = false;
  store::DeviceRecord d;
  if (Status tx = store_.InTransaction([&]() -> Status {
        auto existing = store_.devices().Get(id);
        if (existing.ok()) {
          existing->name = name;
          existing->tags = tags;
          return store_.devices().Update(*existing);
        }
        if (existing.status().code() != ErrorCode::kNotFound) return existing.status();
        d.id = id;
        d.name = name;
        d.tags = tags;
        d.created_at = clock_.UnixMillis();
        created = true;
        return store_.devices().Create(d);
      });
      !tx.ok())
    return tx;
  if (created && events_)
    events_->Publish(EventType::kDeviceChanged, api::DeviceChangedData(d, "registered", "unknown"));
  return created;
}

Liveness DeviceService::LivenessOf(const store::DeviceRecord& d) const {
  return LivenessAt(d, clock_.UnixMillis(), options_.offline_after_ms);
}

Result<DeviceView> DeviceService::Get(const std::string& id) {
  OXIDE_RETURN_IF_ERROR(ValidateId("device id", id));
  DeviceView v;
  OXIDE_ASSIGN_OR_RETURN(v.device, store_.devices().Get(id));
  v.liveness = LivenessOf(v.device);
  OXIDE_ASSIGN_OR_RETURN(v.assignment, store_.assignments().Get(id));
  OXIDE_ASSIGN_OR_RETURN(v.fleets, store_.fleets().FleetsOfDevice(id));
  OXIDE_ASSIGN_OR_RETURN(v.history, store_.attempts().ListForDevice(id, kHistoryLimit));
  return v;
}

Result<store::ClearanceRecord> DeviceService::ClearRefusal(const std::string& id,
                                                           const std::string& model_id,
                                                           const std::string& version) {
  OXIDE_RETURN_IF_ERROR(ValidateId("device id", id));
  OXIDE_RETURN_IF_ERROR(ValidateId("model_id", model_id));
  OXIDE_RETURN_IF_ERROR(ValidateId("version", version));
  store::ClearanceRecord out;
  if (Status tx = store_.InTransaction([&]() -> Status {
        OXIDE_RETURN_IF_ERROR(store_.devices().Get(id).status());
        OXIDE_ASSIGN_OR_RETURN(out, store_.clearances().Add(store::ClearanceRecord{
                                        0, id, model_id, version, clock_.UnixMillis()}));
        return Status::Ok();
      });
      !tx.ok())
    return tx;
  return out;
}

Result<std::vector<DeviceView>> DeviceService::List() {
  OXIDE_ASSIGN_OR_RETURN(auto devices, store_.devices().List());
  std::vector<DeviceView> out;
  out.reserve(devices.size());
  for (auto& d : devices) {
    DeviceView v;
    v.liveness = LivenessOf(d);
    OXIDE_ASSIGN_OR_RETURN(v.assignment, store_.assignments().Get(d.id));
    OXIDE_ASSIGN_OR_RETURN(v.fleets, store_.fleets().FleetsOfDevice(d.id));
    v.device = std::move(d);
    out.push_back(std::move(v));
  }
  return out;
}

Status DeviceService::Delete(const std::string& id) {
  OXIDE_RETURN_IF_ERROR(ValidateId("device id", id));
  EventScope events(events_);
  Status tx = store_.InTransaction([&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(auto d, store_.devices().Get(id));
    OXIDE_RETURN_IF_ERROR(store_.devices().Delete(id));
    if (events_)
      events_->Publish(EventType::kDeviceChanged,
                       api::DeviceChangedData(d, "removed", ToString(LivenessOf(d))));
    return campaigns_.OnDeviceDeleted(id);
  });
  if (!tx.ok()) return tx;
  events.Commit();
  return Status::Ok();
}

Result<uint64_t> DeviceService::CountOnline() {
  return store_.devices().CountSeenSince(clock_.UnixMillis() - options_.offline_after_ms);
}

}  // namespace oxide::server

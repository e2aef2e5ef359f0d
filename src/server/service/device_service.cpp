#include "server/service/device_service.hpp"

#include "server/auth/device_credential_cache.hpp"
#include "server/service/event_data.hpp"
#include "server/service/ids.hpp"

namespace oxide::server {
namespace {
constexpr size_t kHistoryLimit = 50;
constexpr size_t kMaxPage = 1000;

Status ValidateTags(const std::map<std::string, std::string>& tags) {
  if (tags.size() > 64) return InvalidArgument("at most 64 tags");
  for (const auto& [k, v] : tags) {
    if (k.empty() || k.size() > 128 || v.size() > 512) {
      return InvalidArgument("tag keys must be 1-128 characters and values at most 512");
    }
  }
  return Status::Ok();
}
}  // namespace

Result<bool> RecordInventory(store::Store& store, const store::DeviceRecord& device,
                             const protocol::Inventory& inventory, store::TimeMs now) {
  OXIDE_RETURN_IF_ERROR(protocol::ValidateInventory(inventory));
  store::DeviceInventory next;
  next.os = inventory.os;
  next.os_version = inventory.os_version;
  next.arch = inventory.arch;
  next.agent_version = inventory.agent_version;
  next.free_disk_bytes = inventory.free_disk_bytes;
  next.attributes = inventory.attributes;
  next.updated_at = device.inventory.updated_at;
  // A repeated inventory (another client, a re-sent heartbeat) writes nothing.
  if (device.inventory.updated_at != 0 && next == device.inventory) return false;
  next.updated_at = now;
  OXIDE_RETURN_IF_ERROR(store.devices().PutInventory(device.id, next));
  return true;  // the caller publishes device.changed "inventory"
}

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
  OXIDE_RETURN_IF_ERROR(ValidateTags(tags));
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
    events_->Publish(EventType::kDeviceChanged, DeviceChangedData(d, "registered", "unknown"));
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

Result<DevicePage> DeviceService::List(const DeviceFilter& f) {
  if (f.limit < 1 || f.limit > kMaxPage) {
    return InvalidArgument("limit must be between 1 and " + std::to_string(kMaxPage));
  }
  if (!f.fleet_id.empty()) OXIDE_RETURN_IF_ERROR(ValidateId("fleet", f.fleet_id));
  store::DeviceQuery q;
  q.after = f.after;
  q.limit = f.limit + 1;  // one more tells whether another page follows
  q.fleet_id = f.fleet_id;
  q.tags = f.tags;
  q.text = f.text;
  q.auth = f.auth;
  const store::TimeMs online_since = clock_.UnixMillis() - options_.offline_after_ms;
  if (f.liveness == Liveness::kUnknown) q.seen = store::DeviceQuery::Seen::kNever;
  if (f.liveness == Liveness::kOnline) q.seen = store::DeviceQuery::Seen::kAtOrAfter;
  if (f.liveness == Liveness::kOffline) q.seen = store::DeviceQuery::Seen::kBefore;
  q.seen_at = online_since;
  OXIDE_ASSIGN_OR_RETURN(auto devices, store_.devices().Query(q));
  DevicePage page;
  if (devices.size() > f.limit) {
    devices.resize(f.limit);
    page.next_after = devices.back().id;
  }
  for (auto& d : devices) {
    DeviceView v;
    v.liveness = LivenessOf(d);
    OXIDE_ASSIGN_OR_RETURN(v.assignment, store_.assignments().Get(d.id));
    OXIDE_ASSIGN_OR_RETURN(v.fleets, store_.fleets().FleetsOfDevice(d.id));
    v.device = std::move(d);
    page.devices.push_back(std::move(v));
  }
  return page;
}

Result<DeviceView> DeviceService::SetTags(const std::string& id,
                                          const std::map<std::string, std::string>& tags) {
  OXIDE_RETURN_IF_ERROR(ValidateId("device id", id));
  OXIDE_RETURN_IF_ERROR(ValidateTags(tags));
  EventScope events(events_);
  if (Status tx = store_.InTransaction([&]() -> Status {
        OXIDE_ASSIGN_OR_RETURN(auto d, store_.devices().Get(id));
        d.tags = tags;
        OXIDE_RETURN_IF_ERROR(store_.devices().Update(d));
        if (events_)
          events_->Publish(EventType::kDeviceChanged,
                           DeviceChangedData(d, "tags", ToString(LivenessOf(d))));
        return Status::Ok();
      });
      !tx.ok())
    return tx;
  events.Commit();
  return Get(id);
}

Status DeviceService::Delete(const std::string& id) {
  OXIDE_RETURN_IF_ERROR(ValidateId("device id", id));
  EventScope events(events_);
  Status tx = store_.InTransaction([&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(auto d, store_.devices().Get(id));
    OXIDE_RETURN_IF_ERROR(store_.devices().Delete(id));
    if (events_)
      events_->Publish(EventType::kDeviceChanged,
                       DeviceChangedData(d, "removed", ToString(LivenessOf(d))));
    return campaigns_.OnDeviceDeleted(id);
  });
  if (credentials_ != nullptr) credentials_->Invalidate(id);  // its credential went with it
  if (!tx.ok()) return tx;
  events.Commit();
  return Status::Ok();
}

Result<uint64_t> DeviceService::CountOnline() {
  return store_.devices().CountSeenSince(clock_.UnixMillis() - options_.offline_after_ms);
}

}  // namespace oxide::server

#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "protocol/inventory.hpp"
#include "server/service/campaign_service.hpp"
#include "server/service/events.hpp"
#include "server/service/options.hpp"
#include "store/store.hpp"

namespace oxide::server::auth {
class DeviceCredentialCache;
}  // namespace oxide::server::auth

namespace oxide::server {

// Liveness derived from the last heartbeat and --offline-after.
enum class Liveness : uint8_t { kUnknown = 0, kOnline = 1, kOffline = 2 };
std::string_view ToString(Liveness l);  // "unknown" (never seen), "online", "offline"
// The liveness of `d` at `now` (what LivenessOf says with the service's clock).
Liveness LivenessAt(const store::DeviceRecord& d, store::TimeMs now,
                    store::TimeMs offline_after_ms);

struct DeviceView {
  store::DeviceRecord device;
  Liveness liveness = Liveness::kUnknown;
  std::optional<store::AssignmentRecord> assignment;
  std::vector<std::string> fleets;  // in the order the device was added to them
  // Get() only: failed attempts (and fallbacks), newest first, bounded.
  std::vector<store::AttemptRecord> history;
};

// A filtered page of the device list (GET /api/v1/devices); every filter is optional (AND).
struct DeviceFilter {
  std::string after;  // ids greater than this
  size_t limit = 500;
  std::string fleet_id;
  std::vector<std::pair<std::string, std::string>> tags;  // key = value, each
  std::string text;                                       // substring of the id or the name
  std::optional<Liveness> liveness;
  store::DeviceQuery::Auth auth = store::DeviceQuery::Auth::kAny;
};

struct DevicePage {
  std::vector<DeviceView> devices;
  std::string next_after;  // the last id when more devices match, else ""
};

// Replaces the device's stored inventory with `inventory` when it differs (updated_at = now).
// Returns whether it changed; kInvalidArgument over the limits (protocol::ValidateInventory).
// Must run inside the heartbeat's store transaction.
Result<bool> RecordInventory(store::Store& store, const store::DeviceRecord& device,
                             const protocol::Inventory& inventory, store::TimeMs now);

// Device registry. Thread-safe (the store is). `store`, `clock` and `campaigns` must outlive it.
class DeviceService {
 public:
  DeviceService(store::Store& store, const Clock& clock, ServiceOptions options,
                CampaignService& campaigns)
      : store_(store), clock_(clock), options_(options), campaigns_(campaigns) {}

  // events: where device.changed events go (null: nowhere). Set before use.
  void SetEvents(EventBus* events) { events_ = events; }
  // The Authenticator's cache of accepted device credentials: a removed device is forgotten
  // there once the removal committed (null: none). Set before use.
  void SetCredentialCache(auth::DeviceCredentialCache* cache) { credentials_ = cache; }

  // Registers a device; re-registering an existing id updates name and tags and keeps its state
  // (agents re-register after a 404). Returns true when the device was created.
  // kInvalidArgument for a bad id or an empty/oversized name.
  Result<bool> Register(const std::string& id, const std::string& name,
                        const std::map<std::string, std::string>& tags);
  Result<DeviceView> Get(const std::string& id);
  Result<std::vector<DeviceView>> List();
  // kInvalidArgument for a bad fleet id or limit (1-1000).
  Result<DevicePage> List(const DeviceFilter& filter);
  // Replaces every tag of the device. kNotFound, kInvalidArgument (limits as Register).
  Result<DeviceView> SetTags(const std::string& id, const std::map<std::string, std::string>& tags);
  // Removes the device, its fleet memberships and its assignment, and in the same transaction
  // withdraws it from every campaign it had not finished (those campaigns then advance).
  Status Delete(const std::string& id);

  // Queues a clearance of the device's refusal of model@version; the agent gets it with its next
  // heartbeat replies until it acknowledges it. kNotFound for an unknown device.
  Result<store::ClearanceRecord> ClearRefusal(const std::string& id, const std::string& model_id,
                                              const std::string& version);

  Liveness LivenessOf(const store::DeviceRecord& d) const;
  Result<uint64_t> CountOnline();

 private:
  store::Store& store_;
  const Clock& clock_;
  ServiceOptions options_;
  CampaignService& campaigns_;
  EventBus* events_ = nullptr;
  auth::DeviceCredentialCache* credentials_ = nullptr;
};

}  // namespace oxide::server

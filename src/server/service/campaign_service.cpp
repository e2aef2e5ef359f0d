#include "server/service/campaign_service.hpp"

#include <algorithm>
#include <cstdio>
#include <random>

#include "server/service/ids.hpp"

namespace oxide::server {
namespace {

using store::DeviceRolloutState;

bool InFlight(DeviceRolloutState s) {
  return s == DeviceRolloutState::kPending || s == DeviceRolloutState::kDownloading ||
         s == DeviceRolloutState::kApplying;
}

bool RunsTarget(const store::DeviceRecord& d, const store::AssignmentRecord& a) {
  if (!d.current_sha256.empty()) return d.current_sha256 == a.sha256;
  return d.current_model == a.model_id && d.current_version == a.version;
}

}  // namespace

std::string CampaignService::NewId() {
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "c-%08x%08x", rd(), rd());
  return buf;
}

Result<CampaignDetail> CampaignService::Create(const CreateCampaignRequest& req) {
  OXIDE_RETURN_IF_ERROR(ValidateId("model_id", req.model_id));
  OXIDE_RETURN_IF_ERROR(ValidateId("model_version", req.version));
  OXIDE_RETURN_IF_ERROR(ValidateId("fleet_id", req.fleet_id));
  store::CampaignRecord c;
  OXIDE_ASSIGN_OR_RETURN(c.strategy, store::ParseCampaignStrategy(req.strategy));
  c.canary_percent = req.canary_percent.value_or(10);
  if (c.canary_percent < 1 || c.canary_percent > 100) {
    return InvalidArgument("canary_percent must be between 1 and 100");
  }
  c.batch_size = req.batch_size.value_or(5);
  if (c.batch_size < 1) return InvalidArgument("batch_size must be at least 1");
  c.failure_threshold_count = req.failure_threshold_count.value_or(0);
  c.failure_threshold_percent = req.failure_threshold_percent.value_or(0);
  if (c.failure_threshold_percent > 100) {
    return InvalidArgument("failure_threshold_percent must be between 0 and 100");
  }
  c.id = NewId();
  c.model_id = req.model_id;
  c.version = req.version;
  c.fleet_id = req.fleet_id;
  c.state = store::CampaignState::kRollingOut;
  c.created_at = c.updated_at = clock_.Now();
  if (Status tx = store_.InTransaction([&]() -> Status {
        OXIDE_ASSIGN_OR_RETURN(auto target, store_.models().Get(req.model_id, req.version));
        c.target_sha256 = target.sha256;
        c.target_size = target.size_bytes;
        OXIDE_RETURN_IF_ERROR(store_.fleets().Get(req.fleet_id).status());
        OXIDE_ASSIGN_OR_RETURN(auto members, store_.fleets().ListDevices(req.fleet_id));
        std::vector<store::CampaignDeviceRecord> devices;
        for (size_t i = 0; i < members.size(); ++i) {
          store::CampaignDeviceRecord d;
          d.campaign_id = c.id;
          d.device_id = members[i];
          d.ordinal = static_cast<int64_t>(i);
          d.updated_at = c.created_at;
          devices.push_back(std::move(d));
          // Prepare patches from what the fleet runs now, before anyone asks.
          auto dev = store_.devices().Get(members[i]);
          if (dev.ok() && !dev->current_sha256.empty()) {
            OXIDE_RETURN_IF_ERROR(
                models_.EnsurePatch(dev->current_sha256, c.target_sha256).status());
          }
        }
        OXIDE_RETURN_IF_ERROR(store_.campaigns().Create(c, devices).status());
        return Advance(c.id);
      });
      !tx.ok())
    return tx;
  return Get(c.id);
}

Result<CampaignDetail> CampaignService::Get(const std::string& id) {
  OXIDE_RETURN_IF_ERROR(ValidateId("campaign id", id));
  CampaignDetail d;
  OXIDE_ASSIGN_OR_RETURN(d.campaign, store_.campaigns().Get(id));
  OXIDE_ASSIGN_OR_RETURN(d.devices, store_.campaigns().ListDevices(id));
  return d;
}

Result<std::vector<CampaignDetail>> CampaignService::List() {
  OXIDE_ASSIGN_OR_RETURN(auto campaigns, store_.campaigns().List());
  std::vector<CampaignDetail> out;
  for (auto& c : campaigns) {
    CampaignDetail d;
    OXIDE_ASSIGN_OR_RETURN(d.devices, store_.campaigns().ListDevices(c.id));
    d.campaign = std::move(c);
    out.push_back(std::move(d));
  }
  return out;
}

Result<CampaignDetail> CampaignService::Act(const std::string& id, CampaignEvent event) {
  OXIDE_RETURN_IF_ERROR(ValidateId("campaign id", id));
  if (Status tx = store_.InTransaction([&]() -> Status {
        OXIDE_ASSIGN_OR_RETURN(auto c, store_.campaigns().Get(id));
        OXIDE_RETURN_IF_ERROR(Apply(c, event));
        if (event == CampaignEvent::kAbort) return Withdraw(c);
        if (event == CampaignEvent::kResume) return Advance(id);
        return Status::Ok();
      });
      !tx.ok())
    return tx;
  return Get(id);
}

Status CampaignService::Apply(store::CampaignRecord& c, CampaignEvent e) {
  OXIDE_ASSIGN_OR_RETURN(auto next, NextCampaignState(c.state, e));
  OXIDE_RETURN_IF_ERROR(store_.campaigns().UpdateState(c.id, next, clock_.Now()));
  c.state = next;
  return Status::Ok();
}

Status CampaignService::Advance(const std::string& id) {
  OXIDE_ASSIGN_OR_RETURN(auto c, store_.campaigns().Get(id));
  // Each step assigns at least one device or stops, so this terminates.
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(bool again, AdvanceStep(c));
    if (!again) return Status::Ok();
  }
}

Result<bool> CampaignService::AdvanceStep(store::CampaignRecord& c) {
  if (c.state != store::CampaignState::kRollingOut) return false;
  OXIDE_ASSIGN_OR_RETURN(auto devs, store_.campaigns().ListDevices(c.id));
  const uint64_t total = devs.size();
  const uint64_t failed = static_cast<uint64_t>(
      std::count_if(devs.begin(), devs.end(), [](const auto& d) { return IsFailure(d.state); }));
  if ((c.failure_threshold_count > 0 && failed >= c.failure_threshold_count) ||
      (c.failure_threshold_percent > 0 && failed > 0 &&
       failed * 100 >= uint64_t{c.failure_threshold_percent} * total)) {
    OXIDE_RETURN_IF_ERROR(Apply(c, CampaignEvent::kThresholdReached));
    return false;
  }
  std::vector<size_t> assign;
  auto waiting = [&](size_t i) { return devs[i].state == DeviceRolloutState::kWaiting; };
  switch (c.strategy) {
    case store::CampaignStrategy::kAllAtOnce:
      for (size_t i = 0; i < devs.size(); ++i) {
        if (waiting(i)) assign.push_back(i);
      }
      break;
    case store::CampaignStrategy::kCanary: {
      size_t wave =
          std::min<size_t>(devs.size(), std::max<size_t>(1, (total * c.canary_percent + 99) / 100));
      for (size_t i = 0; i < wave; ++i) {
        if (waiting(i)) assign.push_back(i);
      }
      if (!assign.empty()) break;
      bool wave_done = true, wave_healthy = true;
      for (size_t i = 0; i < wave; ++i) {
        wave_done = wave_done && IsTerminal(devs[i].state);
        wave_healthy = wave_healthy && !IsFailure(devs[i].state);
      }
      if (!wave_done) break;
      if (!wave_healthy) {
        OXIDE_RETURN_IF_ERROR(Apply(c, CampaignEvent::kThresholdReached));
        return false;
      }
      for (size_t i = wave; i < devs.size(); ++i) {
        if (waiting(i)) assign.push_back(i);
      }
      break;
    }
    case store::CampaignStrategy::kRolling: {
      bool in_flight =
          std::any_of(devs.begin(), devs.end(), [](const auto& d) { return InFlight(d.state); });
      if (in_flight) break;
      for (size_t i = 0; i < devs.size() && assign.size() < c.batch_size; ++i) {
        if (waiting(i)) assign.push_back(i);
      }
      break;
    }
  }
  for (size_t i : assign) OXIDE_RETURN_IF_ERROR(Assign(c, devs[i]));
  if (std::all_of(devs.begin(), devs.end(), [](const auto& d) { return IsTerminal(d.state); })) {
    OXIDE_RETURN_IF_ERROR(Apply(c, CampaignEvent::kAllDone));
    return false;
  }
  return !assign.empty();
}

Status CampaignService::Assign(const store::CampaignRecord& c, store::CampaignDeviceRecord& d) {
  d.updated_at = clock_.Now();
  auto dev = store_.devices().Get(d.device_id);
  if (dev.status().code() == ErrorCode::kNotFound) {
    d.state = DeviceRolloutState::kWithdrawn;
    d.error = "device was deleted";
    return store_.campaigns().UpdateDevice(d);
  }
  OXIDE_RETURN_IF_ERROR(dev.status());
  OXIDE_ASSIGN_OR_RETURN(auto current, store_.assignments().Get(d.device_id));
  if (current && current->campaign_id != c.id) {
    auto other = store_.campaigns().Get(current->campaign_id);
    if (other.ok() && other->seq > c.seq) {
      d.state = DeviceRolloutState::kSuperseded;
      d.error = "superseded by campaign " + other->id;
      return store_.campaigns().UpdateDevice(d);
    }
    if (other.ok()) {
      auto od = store_.campaigns().GetDevice(other->id, d.device_id);
      if (od.ok() && !IsTerminal(od->state)) {
        od->state = DeviceRolloutState::kSuperseded;
        od->error = "superseded by campaign " + c.id;
        od->updated_at = d.updated_at;
        OXIDE_RETURN_IF_ERROR(store_.campaigns().UpdateDevice(*od));
        OXIDE_RETURN_IF_ERROR(CompleteIfDone(other->id));
      }
    }
    d.previous = current;
  }
  store::AssignmentRecord a{d.device_id,     c.id,         c.model_id, c.version,
                            c.target_sha256, c.target_size};
  OXIDE_RETURN_IF_ERROR(store_.assignments().Put(a));
  d.state = RunsTarget(*dev, a) ? DeviceRolloutState::kCompleted : DeviceRolloutState::kPending;
  return store_.campaigns().UpdateDevice(d);
}

Status CampaignService::CompleteIfDone(const std::string& id) {
  OXIDE_ASSIGN_OR_RETURN(auto c, store_.campaigns().Get(id));
  if (c.state != store::CampaignState::kRollingOut) return Status::Ok();
  OXIDE_ASSIGN_OR_RETURN(auto devs, store_.campaigns().ListDevices(id));
  if (std::all_of(devs.begin(), devs.end(), [](const auto& d) { return IsTerminal(d.state); })) {
    return Apply(c, CampaignEvent::kAllDone);
  }
  return Status::Ok();
}

Status CampaignService::Withdraw(const store::CampaignRecord& c) {
  OXIDE_ASSIGN_OR_RETURN(auto devs, store_.campaigns().ListDevices(c.id));
  for (auto& d : devs) {
    if (d.state == DeviceRolloutState::kCompleted || d.state == DeviceRolloutState::kSuperseded ||
        d.state == DeviceRolloutState::kWithdrawn) {
      continue;
    }
    OXIDE_ASSIGN_OR_RETURN(auto current, store_.assignments().Get(d.device_id));
    if (current && current->campaign_id == c.id) {
      if (d.previous) {
        store::AssignmentRecord prev = *d.previous;
        prev.device_id = d.device_id;
        OXIDE_RETURN_IF_ERROR(store_.assignments().Put(prev));
      } else {
        OXIDE_RETURN_IF_ERROR(store_.assignments().Delete(d.device_id));
      }
    }
    if (!IsTerminal(d.state)) d.state = DeviceRolloutState::kWithdrawn;
    d.updated_at = clock_.Now();
    OXIDE_RETURN_IF_ERROR(store_.campaigns().UpdateDevice(d));
  }
  return Status::Ok();
}

Status CampaignService::OnHeartbeat(const store::DeviceRecord& device,
                                    const std::optional<protocol::UpdateProgress>& update) {
  OXIDE_ASSIGN_OR_RETURN(auto a, store_.assignments().Get(device.id));
  if (!a) return Status::Ok();
  auto found = store_.campaigns().GetDevice(a->campaign_id, device.id);
  if (found.status().code() == ErrorCode::kNotFound) return Status::Ok();
  OXIDE_RETURN_IF_ERROR(found.status());
  store::CampaignDeviceRecord d = std::move(found).value();
  if (d.state == DeviceRolloutState::kWithdrawn || d.state == DeviceRolloutState::kSuperseded ||
      d.state == DeviceRolloutState::kCompleted) {
    return Status::Ok();
  }
  const store::CampaignDeviceRecord before = d;
  if (RunsTarget(device, *a)) {
    d.state = DeviceRolloutState::kCompleted;
    d.error.clear();
  } else if (update && update->model_id == a->model_id && update->version == a->version) {
    switch (update->stage) {
      case protocol::UpdateStage::kIdle:
        break;
      case protocol::UpdateStage::kDownloading:
        d.state = DeviceRolloutState::kDownloading;
        break;
      case protocol::UpdateStage::kApplying:
        d.state = DeviceRolloutState::kApplying;
        break;
      case protocol::UpdateStage::kCompleted:
        d.state = DeviceRolloutState::kCompleted;
        break;
      case protocol::UpdateStage::kFailed:
        d.state = DeviceRolloutState::kFailed;
        break;
      case protocol::UpdateStage::kRolledBack:
        d.state = DeviceRolloutState::kRolledBack;
        break;
    }
    d.bytes_done = update->bytes_done;
    d.bytes_total = update->bytes_total;
    d.error = update->error.substr(0, 1024);
  }
  if (!IsTerminal(d.state) && !device.current_sha256.empty()) {
    // On-demand preparation for whatever base this device really has.
    auto existing = store_.patches().Get(device.current_sha256, a->sha256);
    if (existing.status().code() == ErrorCode::kNotFound) {
      OXIDE_RETURN_IF_ERROR(models_.EnsurePatch(device.current_sha256, a->sha256).status());
    }
  }
  if (d.state == before.state && d.bytes_done == before.bytes_done &&
      d.bytes_total == before.bytes_total && d.error == before.error) {
    return Status::Ok();
  }
  d.updated_at = clock_.Now();
  OXIDE_RETURN_IF_ERROR(store_.campaigns().UpdateDevice(d));
  return d.state == before.state ? Status::Ok() : Advance(d.campaign_id);
}

}  // namespace oxide::server

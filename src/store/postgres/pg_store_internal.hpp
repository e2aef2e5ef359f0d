#pragma once

// Private to store/postgres: the per-resource store classes over one shared Db (pool).

#include "store/postgres/pg_db.hpp"
#include "store/store.hpp"

namespace oxide::store::postgres::internal {

class PgDeviceStore final : public DeviceStore {
 public:
  explicit PgDeviceStore(Db& db) : db_(db) {}
  Status Create(const DeviceRecord& d) override;
  Result<DeviceRecord> Get(const std::string& id) override;
  Result<std::vector<DeviceRecord>> List() override;
  Status Update(const DeviceRecord& d) override;
  Status RecordHeartbeat(const DeviceRecord& d) override;
  Status Delete(const std::string& id) override;
  Status AddBytes(const std::string& id, uint64_t served, uint64_t full) override;
  Result<std::vector<DeviceRecord>> ListSeenBetween(TimeMs from, const std::string& after_id,
                                                    TimeMs to, size_t limit) override;
  Result<uint64_t> CountSeenSince(TimeMs since) override;
  Result<std::vector<std::string>> CurrentShasOfModel(const std::string& model_id) override;
  Status PutInventory(const std::string& id, const DeviceInventory& inventory) override;
  Result<std::vector<DeviceRecord>> Query(const DeviceQuery& q) override;

 private:
  Status WriteTags(const DeviceRecord& d);
  // Every row of a kDeviceSelect result (tags and attributes included).
  Result<std::vector<DeviceRecord>> ReadDevices(const Rows& rows);
  Db& db_;
};

class PgFleetStore final : public FleetStore {
 public:
  explicit PgFleetStore(Db& db) : db_(db) {}
  Status Create(const FleetRecord& f) override;
  Result<FleetRecord> Get(const std::string& id) override;
  Result<std::vector<FleetRecord>> List() override;
  Status AddDevice(const std::string& fleet_id, const std::string& device_id) override;
  Status RemoveDevice(const std::string& fleet_id, const std::string& device_id) override;
  Result<std::vector<std::string>> ListDevices(const std::string& fleet_id) override;
  Result<std::vector<std::string>> FleetsOfDevice(const std::string& device_id) override;

 private:
  Status ReadTags(std::vector<FleetRecord>* fleets);
  Db& db_;
};

class PgModelStore final : public ModelStore {
 public:
  explicit PgModelStore(Db& db) : db_(db) {}
  Result<ModelVersionRecord> Put(const ModelVersionRecord& v) override;
  Result<ModelVersionRecord> Get(const std::string& model_id, const std::string& version) override;
  Result<std::vector<ModelVersionRecord>> ListVersions(const std::string& model_id) override;
  Result<std::vector<std::string>> ListModelIds() override;
  Result<ModelVersionRecord> FindBySha(const std::string& sha256) override;
  Result<std::vector<std::string>> ListBlobShas() override;
  Status PutIndex(const TensorIndexRecord& r) override;
  Result<TensorIndexRecord> GetIndex(const std::string& sha256) override;

 private:
  Db& db_;
};

class PgPatchStore final : public PatchStore {
 public:
  explicit PgPatchStore(Db& db) : db_(db) {}
  Result<bool> Enqueue(const std::string& base_sha, const std::string& target_sha,
                       TimeMs now) override;
  Result<PatchRecord> Get(const std::string& base_sha, const std::string& target_sha) override;
  Result<std::optional<PatchRecord>> NextPending(TimeMs now) override;
  Status Update(const PatchRecord& p) override;
  Result<std::vector<PatchRecord>> ListForTarget(const std::string& target_sha) override;
  Result<std::vector<PatchRecord>> ListWithBlob() override;
  Result<std::optional<PatchRecord>> Claim(TimeMs now, const std::string& owner,
                                           int64_t lease_ms) override;
  Status UpdateLeased(const PatchRecord& p, const std::string& owner) override;
  Status RenewLease(const std::string& base_sha, const std::string& target_sha,
                    const std::string& owner, TimeMs until) override;
  Status ReleaseLease(const std::string& base_sha, const std::string& target_sha,
                      const std::string& owner) override;

 private:
  // The one UPDATE behind Update (owner null) and UpdateLeased (only while `*owner` holds the
  // lease): true when the row was written.
  Result<bool> WritePatch(const PatchRecord& p, const std::string* owner);

  Db& db_;
};

class PgAssignmentStore final : public AssignmentStore {
 public:
  explicit PgAssignmentStore(Db& db) : db_(db) {}
  Result<std::optional<AssignmentRecord>> Get(const std::string& device_id) override;
  Status Put(const AssignmentRecord& a) override;
  Status Delete(const std::string& device_id) override;

 private:
  Db& db_;
};

class PgCampaignStore final : public CampaignStore {
 public:
  explicit PgCampaignStore(Db& db) : db_(db) {}
  Result<CampaignRecord> Create(const CampaignRecord& c,
                                const std::vector<CampaignDeviceRecord>& devices) override;
  Result<CampaignRecord> Get(const std::string& id) override;
  Result<std::vector<CampaignRecord>> List() override;
  Status UpdateState(const std::string& id, CampaignState s, TimeMs now) override;
  Status AddBytes(const std::string& id, const std::string& device_id, uint64_t served,
                  uint64_t full) override;
  Result<std::vector<CampaignDeviceRecord>> ListDevices(const std::string& id) override;
  Result<CampaignDeviceRecord> GetDevice(const std::string& id,
                                         const std::string& device_id) override;
  Status UpdateDevice(const CampaignDeviceRecord& d) override;
  Result<std::vector<CampaignDeviceRecord>> ListForDevice(const std::string& device_id) override;
  Result<std::vector<CampaignRecord>> Query(const CampaignQuery& q) override;
  Status MarkApproved(const std::string& id, TimeMs at) override;

 private:
  Status WriteTarget(const CampaignRecord& c);
  Status ReadTargets(std::vector<CampaignRecord>* campaigns);
  Db& db_;
};

class PgAttemptStore final : public AttemptStore {
 public:
  explicit PgAttemptStore(Db& db) : db_(db) {}
  Result<bool> Add(const AttemptRecord& a) override;
  Result<std::vector<AttemptRecord>> ListForDevice(const std::string& device_id,
                                                   size_t limit) override;
  Result<std::vector<AttemptRecord>> ListForCampaign(const std::string& campaign_id,
                                                     size_t limit) override;
  Result<std::optional<AttemptRecord>> FirstFailureOfCampaign(
      const std::string& campaign_id) override;

 private:
  Result<std::vector<AttemptRecord>> Query(const std::string& where, const std::string& key,
                                           size_t limit, bool newest_first);
  Db& db_;
};

class PgClearanceStore final : public ClearanceStore {
 public:
  explicit PgClearanceStore(Db& db) : db_(db) {}
  Result<ClearanceRecord> Add(const ClearanceRecord& c) override;
  Result<std::vector<ClearanceRecord>> Pending(const std::string& device_id) override;
  Status Acknowledge(const std::string& device_id, const std::vector<int64_t>& ids) override;

 private:
  Db& db_;
};

class PgGoldenStore final : public GoldenStore {
 public:
  explicit PgGoldenStore(Db& db) : db_(db) {}
  Status Put(const GoldenRecord& g) override;
  Result<std::optional<GoldenRecord>> Get(const std::string& model_id,
                                          const std::string& version) override;
  Status Delete(const std::string& model_id, const std::string& version) override;
  Result<std::vector<std::string>> ListBlobShas() override;

 private:
  Db& db_;
};

class PgReleaseStore final : public ReleaseStore {
 public:
  explicit PgReleaseStore(Db& db) : db_(db) {}
  Status Put(const std::string& model_id, const std::string& version,
             const std::string& envelope_json, TimeMs now) override;
  Result<std::string> Get(const std::string& model_id, const std::string& version) override;
  Status AppendKeySet(uint64_t version, const std::string& envelope_json, TimeMs now) override;
  Result<std::vector<std::string>> ListKeySets() override;

 private:
  Db& db_;
};

class PgAuthStore final : public AuthStore {
 public:
  explicit PgAuthStore(Db& db) : db_(db) {}
  Status CreateOperatorToken(const OperatorTokenRecord& t) override;
  Result<OperatorTokenRecord> FindOperatorToken(const std::string& sha256) override;
  Result<std::vector<OperatorTokenRecord>> ListOperatorTokens() override;
  Status RevokeOperatorToken(const std::string& id, TimeMs at) override;
  Status TouchOperatorToken(const std::string& id, TimeMs at) override;
  Result<uint64_t> CountOperatorTokens() override;
  Status CreateEnrollmentToken(const EnrollmentTokenRecord& t) override;
  Result<EnrollmentTokenRecord> FindEnrollmentToken(const std::string& sha256) override;
  Result<std::vector<EnrollmentTokenRecord>> ListEnrollmentTokens(
      const std::string& fleet_id) override;
  Status RevokeEnrollmentToken(const std::string& fleet_id, const std::string& id,
                               TimeMs at) override;
  Result<std::optional<DeviceAuthRecord>> GetDeviceAuth(const std::string& device_id) override;
  Status PutDeviceAuth(const DeviceAuthRecord& r) override;

 private:
  Db& db_;
};

class PgAuditStore final : public AuditStore {
 public:
  explicit PgAuditStore(Db& db) : db_(db) {}
  Result<AuditRecord> Append(const AuditRecord& r) override;
  Result<std::vector<AuditRecord>> List(size_t limit) override;

 private:
  Db& db_;
};

class PgStatsStore final : public StatsStore {
 public:
  explicit PgStatsStore(Db& db) : db_(db) {}
  Status AddBandwidth(TimeMs at, uint64_t served, uint64_t full_equivalent) override;
  Result<std::vector<BandwidthRecord>> ListBandwidth(int64_t from_s, int64_t to_s) override;
  Result<uint64_t> CountDevices() override;
  Result<uint64_t> CountPendingPatches() override;
  Result<std::vector<std::pair<std::string, uint64_t>>> CountCampaignsByState() override;

 private:
  Db& db_;
};

class PgEventLogStore final : public EventLogStore {
 public:
  explicit PgEventLogStore(Db& db) : db_(db) {}
  Result<int64_t> Append(const std::string& type, const std::string& data, TimeMs at) override;
  Result<std::vector<int64_t>> AppendBatch(const std::vector<EventLogRecord>& events) override;
  Result<std::vector<EventLogRecord>> ListAfter(int64_t after, size_t limit) override;
  Result<int64_t> MinSeq() override;
  Status Trim(int64_t up_to) override;
  Result<std::string> DatabaseId() override;

 private:
  Db& db_;
};

}  // namespace oxide::store::postgres::internal

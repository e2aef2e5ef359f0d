#pragma once

// Private to store/sqlite: the per-resource store classes over one shared Db.

#include "store/sqlite/sqlite_db.hpp"
#include "store/store.hpp"

namespace oxide::store::sqlite::internal {

using Lock = std::lock_guard<std::recursive_mutex>;

class SqliteDeviceStore final : public DeviceStore {
 public:
  explicit SqliteDeviceStore(Db& db) : db_(db) {}
  Status Create(const DeviceRecord& d) override;
  Result<DeviceRecord> Get(const std::string& id) override;
  Result<DeviceRecord> GetWithoutTags(const std::string& id) override;
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
  Status ReadTags(DeviceRecord* d);
  Status ReadAttributes(DeviceRecord* d);  // inventory attributes, when it has an inventory
  // Every row of a kDeviceSelect statement; then, once it is done, their tags and attributes.
  Result<std::vector<DeviceRecord>> ReadDeviceRows(Stmt& q);
  Status ReadDetails(std::vector<DeviceRecord>* devices);
  Db& db_;
};

class SqliteFleetStore final : public FleetStore {
 public:
  explicit SqliteFleetStore(Db& db) : db_(db) {}
  Status Create(const FleetRecord& f) override;
  Result<FleetRecord> Get(const std::string& id) override;
  Result<std::vector<FleetRecord>> List() override;
  Status AddDevice(const std::string& fleet_id, const std::string& device_id) override;
  Status RemoveDevice(const std::string& fleet_id, const std::string& device_id) override;
  Result<std::vector<std::string>> ListDevices(const std::string& fleet_id) override;
  Result<std::vector<std::string>> FleetsOfDevice(const std::string& device_id) override;

 private:
  Status ReadTags(FleetRecord* f);
  Db& db_;
};

class SqliteModelStore final : public ModelStore {
 public:
  explicit SqliteModelStore(Db& db) : db_(db) {}
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

class SqlitePatchStore final : public PatchStore {
 public:
  explicit SqlitePatchStore(Db& db) : db_(db) {}
  Result<bool> Enqueue(const std::string& base_sha, const std::string& target_sha,
                       TimeMs now) override;
  Result<PatchRecord> Get(const std::string& base_sha, const std::string& target_sha) override;
  Result<std::optional<PatchRecord>> NextPending(TimeMs now) override;
  Status Update(const PatchRecord& p) override;
  Result<std::vector<PatchRecord>> ListForTarget(const std::string& target_sha) override;
  Result<std::vector<PatchRecord>> ListWithBlob() override;
  // Leases (sqlite_job_event_store.cpp).
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

class SqliteAssignmentStore final : public AssignmentStore {
 public:
  explicit SqliteAssignmentStore(Db& db) : db_(db) {}
  Result<std::optional<AssignmentRecord>> Get(const std::string& device_id) override;
  Status Put(const AssignmentRecord& a) override;
  Status Delete(const std::string& device_id) override;

 private:
  Db& db_;
};

class SqliteCampaignStore final : public CampaignStore {
 public:
  explicit SqliteCampaignStore(Db& db) : db_(db) {}
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
  Status ReadTarget(CampaignRecord* c);
  Db& db_;
};

class SqliteAttemptStore final : public AttemptStore {
 public:
  explicit SqliteAttemptStore(Db& db) : db_(db) {}
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

class SqliteClearanceStore final : public ClearanceStore {
 public:
  explicit SqliteClearanceStore(Db& db) : db_(db) {}
  Result<ClearanceRecord> Add(const ClearanceRecord& c) override;
  Result<std::vector<ClearanceRecord>> Pending(const std::string& device_id) override;
  Status Acknowledge(const std::string& device_id, const std::vector<int64_t>& ids) override;

 private:
  Db& db_;
};

class SqliteReleaseStore final : public ReleaseStore {
 public:
  explicit SqliteReleaseStore(Db& db) : db_(db) {}
  Status Put(const std::string& model_id, const std::string& version,
             const std::string& envelope_json, TimeMs now) override;
  Result<std::string> Get(const std::string& model_id, const std::string& version) override;
  Status AppendKeySet(uint64_t version, const std::string& envelope_json, TimeMs now) override;
  Result<std::vector<std::string>> ListKeySets() override;

 private:
  Db& db_;
};

class SqliteGoldenStore final : public GoldenStore {
 public:
  explicit SqliteGoldenStore(Db& db) : db_(db) {}
  Status Put(const GoldenRecord& g) override;
  Result<std::optional<GoldenRecord>> Get(const std::string& model_id,
                                          const std::string& version) override;
  Status Delete(const std::string& model_id, const std::string& version) override;
  Result<std::vector<std::string>> ListBlobShas() override;

 private:
  Db& db_;
};

class SqliteAuthStore final : public AuthStore {
 public:
  explicit SqliteAuthStore(Db& db) : db_(db) {}
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

class SqliteAuditStore final : public AuditStore {
 public:
  explicit SqliteAuditStore(Db& db) : db_(db) {}
  Result<AuditRecord> Append(const AuditRecord& r) override;
  Result<std::vector<AuditRecord>> List(size_t limit) override;

 private:
  Db& db_;
};

// ops (issue #10): migration 8.
class SqliteStatsStore final : public StatsStore {
 public:
  explicit SqliteStatsStore(Db& db) : db_(db) {}
  Status AddBandwidth(TimeMs at, uint64_t served, uint64_t full_equivalent) override;
  Result<std::vector<BandwidthRecord>> ListBandwidth(int64_t from_s, int64_t to_s) override;
  Result<uint64_t> CountDevices() override;
  Result<uint64_t> CountPendingPatches() override;
  Result<std::vector<std::pair<std::string, uint64_t>>> CountCampaignsByState() override;

 private:
  Db& db_;
};

// Replicas (issue #12): migration 9; sqlite_job_event_store.cpp.
class SqliteEventLogStore final : public EventLogStore {
 public:
  explicit SqliteEventLogStore(Db& db) : db_(db) {}
  Result<int64_t> Append(const std::string& type, const std::string& data, TimeMs at) override;
  Result<std::vector<int64_t>> AppendBatch(const std::vector<EventLogRecord>& events) override;
  Result<std::vector<EventLogRecord>> ListAfter(int64_t after, size_t limit) override;
  Result<int64_t> MinSeq() override;
  Status Trim(int64_t up_to) override;
  Result<std::string> DatabaseId() override;

 private:
  Db& db_;
};

}  // namespace oxide::store::sqlite::internal

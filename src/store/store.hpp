#pragma once

// Backend-neutral metadata store for the control plane. SQLite is the default backend
// (store/sqlite/); PostgreSQL will follow and must pass the same contract suite
// (store/store_contract_test.hpp).
//
// Conventions for every method:
//  - kNotFound when a named record does not exist, kAlreadyExists on a duplicate create,
//    kIo for backend failures. Ids are validated by the caller (services), not here.
//  - Lists are returned in a stable order documented per method.
//  - Implementations are thread-safe. InTransaction() runs `fn` atomically: all writes made by
//    `fn` on this store become visible together, or none if `fn` returns an error.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "store/records.hpp"

namespace oxide::store {

class DeviceStore {
 public:
  virtual ~DeviceStore() = default;
  virtual Status Create(const DeviceRecord& d) = 0;
  virtual Result<DeviceRecord> Get(const std::string& id) = 0;
  // Get, except that `tags` may be left empty (a backend that reads them separately skips
  // them): what a heartbeat needs, on its hot path. kNotFound for an unknown device.
  virtual Result<DeviceRecord> GetWithoutTags(const std::string& id) { return Get(id); }
  virtual Result<std::vector<DeviceRecord>> List() = 0;  // by id
  // Replaces name, tags, last_seen, reported_status, agent_version, current_*, platform_* and
  // last_result* (not bytes).
  virtual Status Update(const DeviceRecord& d) = 0;
  // What a heartbeat changes only: last_seen, reported_status, agent_version, current_*,
  // platform_* and last_result* (not name, tags or bytes). One statement per backend where
  // Update needs several (the tags). kNotFound for an unknown device.
  virtual Status RecordHeartbeat(const DeviceRecord& d) { return Update(d); }
  // Removes the device, its fleet memberships, its assignment and its credential (campaign
  // history stays).
  virtual Status Delete(const std::string& id) = 0;
  virtual Status AddBytes(const std::string& id, uint64_t served, uint64_t full) = 0;
  // Devices whose last heartbeat is at or after `since`.
  virtual Result<uint64_t> CountSeenSince(TimeMs since) = 0;
  // Distinct non-empty current_sha256 values reported by devices running `model_id`.
  virtual Result<std::vector<std::string>> CurrentShasOfModel(const std::string& model_id) = 0;

  // ---- targeting (issue #10) ----
  // Replaces the device's inventory as a whole (attributes included). kNotFound for an
  // unknown device.
  virtual Status PutInventory(const std::string& id, const DeviceInventory& inventory) = 0;
  // One page of devices matching `q`, by id.
  virtual Result<std::vector<DeviceRecord>> Query(const DeviceQuery& q) = 0;

  // ---- offline sweep (issue #10, events) ----
  // At most `limit` devices with `from` <= last_seen < `to`, ordered by (last_seen, id) and
  // after the key (`from`, `after_id`) ("" = from `from` included). Uses the last_seen index.
  virtual Result<std::vector<DeviceRecord>> ListSeenBetween(TimeMs from,
                                                            const std::string& after_id, TimeMs to,
                                                            size_t limit) = 0;
};

class FleetStore {
 public:
  virtual ~FleetStore() = default;
  virtual Status Create(const FleetRecord& f) = 0;
  virtual Result<FleetRecord> Get(const std::string& id) = 0;
  virtual Result<std::vector<FleetRecord>> List() = 0;  // by id
  // Idempotent; kNotFound when the fleet or the device does not exist.
  virtual Status AddDevice(const std::string& fleet_id, const std::string& device_id) = 0;
  // kNotFound when the device is not a member.
  virtual Status RemoveDevice(const std::string& fleet_id, const std::string& device_id) = 0;
  // Member ids in the order they were added.
  virtual Result<std::vector<std::string>> ListDevices(const std::string& fleet_id) = 0;
  // Fleets the device belongs to, in the order it was added to them.
  virtual Result<std::vector<std::string>> FleetsOfDevice(const std::string& device_id) = 0;
};

class ModelStore {
 public:
  virtual ~ModelStore() = default;
  // Inserts or replaces (model_id, version); assigns a new, larger seq either way.
  virtual Result<ModelVersionRecord> Put(const ModelVersionRecord& v) = 0;
  virtual Result<ModelVersionRecord> Get(const std::string& model_id,
                                         const std::string& version) = 0;
  // Versions of one model by seq (upload order); empty when the model is unknown.
  virtual Result<std::vector<ModelVersionRecord>> ListVersions(const std::string& model_id) = 0;
  virtual Result<std::vector<std::string>> ListModelIds() = 0;  // sorted
  // Any version (of any model) whose blob is `sha256`; kNotFound otherwise.
  virtual Result<ModelVersionRecord> FindBySha(const std::string& sha256) = 0;
  // Distinct blob names of every version (blob garbage collection).
  virtual Result<std::vector<std::string>> ListBlobShas() = 0;
  // Inserts or replaces the index of one blob.
  virtual Status PutIndex(const TensorIndexRecord& r) = 0;
  // kNotFound when no index was stored for `sha256`.
  virtual Result<TensorIndexRecord> GetIndex(const std::string& sha256) = 0;
};

class PatchStore {
 public:
  virtual ~PatchStore() = default;
  // Inserts a pending job; returns false (and changes nothing) when the pair already exists.
  virtual Result<bool> Enqueue(const std::string& base_sha, const std::string& target_sha,
                               TimeMs now) = 0;
  virtual Result<PatchRecord> Get(const std::string& base_sha, const std::string& target_sha) = 0;
  // The pending job to run next at `now`: fewest attempts first, then oldest; jobs whose
  // not_before is after `now` are skipped.
  virtual Result<std::optional<PatchRecord>> NextPending(TimeMs now) = 0;
  // Replaces state, result, error, updated_at, attempts and not_before. kNotFound when the pair
  // does not exist.
  virtual Status Update(const PatchRecord& p) = 0;
  virtual Result<std::vector<PatchRecord>> ListForTarget(const std::string& target_sha) = 0;
  // Every job that has a patch blob (patch_sha256 not empty), by seq.
  virtual Result<std::vector<PatchRecord>> ListWithBlob() = 0;
  // Atomically takes the job NextPending(now) would return, skipping jobs leased to anyone until
  // after `now`, and leases it to `owner` until now + lease_ms. Safe across processes sharing the
  // database (PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED; SQLite: one write transaction). nullopt:
  // none.
  virtual Result<std::optional<PatchRecord>> Claim(TimeMs now, const std::string& owner,
                                                   int64_t lease_ms) = 0;
  // Extends the lease to `until` if `owner` still holds it; kFailedPrecondition otherwise.
  virtual Status RenewLease(const std::string& base_sha, const std::string& target_sha,
                            const std::string& owner, TimeMs until) = 0;
  // Update, but only while `owner` holds the job's lease: kFailedPrecondition otherwise (the
  // lease ran out and another replica claimed the job, or it was reset meanwhile), kNotFound
  // when the pair does not exist. A builder writes with it so a stale result is refused.
  virtual Status UpdateLeased(const PatchRecord& p, const std::string& owner) = 0;
  // Clears the lease if `owner` holds it; no-op otherwise.
  virtual Status ReleaseLease(const std::string& base_sha, const std::string& target_sha,
                              const std::string& owner) = 0;
  // NextPending(now) also skips jobs whose lease_until > now.
};

class AssignmentStore {
 public:
  virtual ~AssignmentStore() = default;
  virtual Result<std::optional<AssignmentRecord>> Get(const std::string& device_id) = 0;
  virtual Status Put(const AssignmentRecord& a) = 0;        // insert or replace
  virtual Status Delete(const std::string& device_id) = 0;  // no-op when absent
};

class CampaignStore {
 public:
  virtual ~CampaignStore() = default;
  // Stores the campaign (seq assigned by the store) and its devices; returns it with seq set.
  virtual Result<CampaignRecord> Create(const CampaignRecord& c,
                                        const std::vector<CampaignDeviceRecord>& devices) = 0;
  virtual Result<CampaignRecord> Get(const std::string& id) = 0;
  virtual Result<std::vector<CampaignRecord>> List() = 0;  // by seq
  virtual Status UpdateState(const std::string& id, CampaignState s, TimeMs now) = 0;
  virtual Status AddBytes(const std::string& id, const std::string& device_id, uint64_t served,
                          uint64_t full) = 0;
  virtual Result<std::vector<CampaignDeviceRecord>> ListDevices(const std::string& id) = 0;
  virtual Result<CampaignDeviceRecord> GetDevice(const std::string& id,
                                                 const std::string& device_id) = 0;
  // Replaces state, progress, error, updated_at and previous of an existing entry.
  virtual Status UpdateDevice(const CampaignDeviceRecord& d) = 0;
  // Every campaign entry of one device, by campaign seq (oldest campaign first).
  virtual Result<std::vector<CampaignDeviceRecord>> ListForDevice(const std::string& device_id) = 0;

  // ---- targeting (issue #10) ----
  // One page of campaigns matching `q`, by seq. kNotFound when `q.after` names no campaign.
  virtual Result<std::vector<CampaignRecord>> Query(const CampaignQuery& q) = 0;
  // Records the operator's approval (approved_at). kNotFound for an unknown campaign.
  virtual Status MarkApproved(const std::string& id, TimeMs at) = 0;
};

// Failure history: append-only.
class AttemptStore {
 public:
  virtual ~AttemptStore() = default;
  // Appends the attempt (seq assigned by the store). Returns false (and stores nothing) when
  // a non-empty report_id was already stored for that device.
  virtual Result<bool> Add(const AttemptRecord& a) = 0;
  // Newest first, at most `limit`.
  virtual Result<std::vector<AttemptRecord>> ListForDevice(const std::string& device_id,
                                                           size_t limit) = 0;
  virtual Result<std::vector<AttemptRecord>> ListForCampaign(const std::string& campaign_id,
                                                             size_t limit) = 0;
  // The oldest attempt of the campaign that is not a fallback (its first cause), if any.
  virtual Result<std::optional<AttemptRecord>> FirstFailureOfCampaign(
      const std::string& campaign_id) = 0;
};

// Refusal clearances waiting for the device's acknowledgement.
class ClearanceStore {
 public:
  virtual ~ClearanceStore() = default;
  // Returns the record with its id. A pending clearance for the same device, model and version
  // is returned instead of adding a second one.
  virtual Result<ClearanceRecord> Add(const ClearanceRecord& c) = 0;
  virtual Result<std::vector<ClearanceRecord>> Pending(const std::string& device_id) = 0;  // by id
  // Removes the device's clearances with these ids (unknown ids are ignored).
  virtual Status Acknowledge(const std::string& device_id, const std::vector<int64_t>& ids) = 0;
};

// Signed release metadata (DSSE envelopes, docs/format/release-metadata.md) per model version,
// and the chain of release key sets. The store keeps the JSON text as uploaded; the services
// check it.
class ReleaseStore {
 public:
  virtual ~ReleaseStore() = default;
  // Inserts or replaces the envelope of one model version.
  virtual Status Put(const std::string& model_id, const std::string& version,
                     const std::string& envelope_json, TimeMs now) = 0;
  // kNotFound when the version has no signed release.
  virtual Result<std::string> Get(const std::string& model_id, const std::string& version) = 0;
  // Appends key set `version`; kAlreadyExists when that version is stored.
  virtual Status AppendKeySet(uint64_t version, const std::string& envelope_json, TimeMs now) = 0;
  // Every key set envelope, by version (oldest first); empty when none was uploaded.
  virtual Result<std::vector<std::string>> ListKeySets() = 0;
};

// Operator tokens, fleet enrollment tokens and device credentials. Secrets are never stored:
// only their SHA-256 (lower-case hex).
class AuthStore {
 public:
  virtual ~AuthStore() = default;
  // kAlreadyExists on a duplicate id or hash.
  virtual Status CreateOperatorToken(const OperatorTokenRecord& t) = 0;
  // The token (revoked or not) whose hash is `sha256`; kNotFound otherwise.
  virtual Result<OperatorTokenRecord> FindOperatorToken(const std::string& sha256) = 0;
  virtual Result<std::vector<OperatorTokenRecord>> ListOperatorTokens() = 0;  // by creation
  // Sets revoked_at (an already revoked token keeps its first time). kNotFound for an unknown id.
  virtual Status RevokeOperatorToken(const std::string& id, TimeMs at) = 0;
  virtual Status TouchOperatorToken(const std::string& id, TimeMs at) = 0;  // last_used
  virtual Result<uint64_t> CountOperatorTokens() = 0;                       // revoked ones included

  virtual Status CreateEnrollmentToken(const EnrollmentTokenRecord& t) = 0;
  virtual Result<EnrollmentTokenRecord> FindEnrollmentToken(const std::string& sha256) = 0;
  // Tokens of one fleet, by creation.
  virtual Result<std::vector<EnrollmentTokenRecord>> ListEnrollmentTokens(
      const std::string& fleet_id) = 0;
  // kNotFound unless the token exists and belongs to the fleet.
  virtual Status RevokeEnrollmentToken(const std::string& fleet_id, const std::string& id,
                                       TimeMs at) = 0;

  // nullopt when the device never enrolled nor was accepted/rejected (pending, no credential).
  virtual Result<std::optional<DeviceAuthRecord>> GetDeviceAuth(const std::string& device_id) = 0;
  virtual Status PutDeviceAuth(const DeviceAuthRecord& r) = 0;  // insert or replace
};

// The audit log: append-only.
class AuditStore {
 public:
  virtual ~AuditStore() = default;
  virtual Result<AuditRecord> Append(const AuditRecord& r) = 0;     // returns it with its id
  virtual Result<std::vector<AuditRecord>> List(size_t limit) = 0;  // newest first
};

// --- ops (issue #10): the bandwidth time series (migration 8) and the counts /metrics reads at
// scrape time (each one query, no row materialised).
struct BandwidthRecord {
  int64_t hour = 0;  // unix seconds of the UTC hour's start
  uint64_t bytes_served = 0;
  uint64_t bytes_full_equivalent = 0;
};

class StatsStore {
 public:
  virtual ~StatsStore() = default;
  // Adds to the hour that contains `at` (created at zero when absent).
  virtual Status AddBandwidth(TimeMs at, uint64_t served, uint64_t full_equivalent) = 0;
  // Hours with `from_s <= hour < to_s` that have bytes, by hour.
  virtual Result<std::vector<BandwidthRecord>> ListBandwidth(int64_t from_s, int64_t to_s) = 0;
  virtual Result<uint64_t> CountDevices() = 0;
  virtual Result<uint64_t> CountPendingPatches() = 0;
  // Campaign state name ("rolling_out", ...) → number of campaigns, by name.
  virtual Result<std::vector<std::pair<std::string, uint64_t>>> CountCampaignsByState() = 0;
};

struct EventLogRecord {
  int64_t seq = 0;   // assigned by the store; strictly increasing in COMMIT order
  std::string type;  // "device.changed", … (the SSE event name)
  std::string data;  // one line of JSON
  TimeMs at = 0;
};
class EventLogStore {
 public:
  virtual ~EventLogStore() = default;
  // Appends (its own transaction; never inside another). Appends are serialised so that a reader
  // that saw seq N never later finds a row with seq < N (PostgreSQL: pg_advisory_xact_lock before
  // the insert). Returns the seq.
  virtual Result<int64_t> Append(const std::string& type, const std::string& data, TimeMs at) = 0;
  // Appends `events` (type, data, at; their seq is ignored) in one transaction, in order, with
  // the same ordering guarantee as Append. Returns their seqs, strictly increasing, in the same
  // order. Empty: nothing is written.
  virtual Result<std::vector<int64_t>> AppendBatch(const std::vector<EventLogRecord>& events) = 0;
  // Rows with seq > after, by seq, at most `limit`.
  virtual Result<std::vector<EventLogRecord>> ListAfter(int64_t after, size_t limit) = 0;
  // Deletes rows with seq <= up_to (retention).
  virtual Status Trim(int64_t up_to) = 0;
  // The smallest seq still in the log (0 when it is empty): a reader whose last seq is below
  // MinSeq() - 1 may have missed trimmed rows.
  virtual Result<int64_t> MinSeq() = 0;
  // A random id chosen once when the database was created (the shared SSE stream_id).
  virtual Result<std::string> DatabaseId() = 0;
};

// Golden checks (issue #11): one golden file per model version, kept in the blob store by sha256.
// tolerance and latency_budget_ms are copies of the file's metadata, for the API.
struct GoldenRecord {
  std::string model_id;
  std::string version;
  std::string sha256;
  uint64_t size_bytes = 0;
  double tolerance = 1e-4;
  std::optional<double> latency_budget_ms;
  TimeMs uploaded_at = 0;
};

class GoldenStore {
 public:
  virtual ~GoldenStore() = default;
  // Inserts or replaces the golden file of (model_id, version).
  virtual Status Put(const GoldenRecord& g) = 0;
  // nullopt when the version has no golden file.
  virtual Result<std::optional<GoldenRecord>> Get(const std::string& model_id,
                                                  const std::string& version) = 0;
  // kNotFound when the version has no golden file.
  virtual Status Delete(const std::string& model_id, const std::string& version) = 0;
  // Distinct blob names of every golden file (blob garbage collection).
  virtual Result<std::vector<std::string>> ListBlobShas() = 0;
};

// The whole store. Sub-stores live as long as the Store.
class Store {
 public:
  virtual ~Store() = default;
  virtual DeviceStore& devices() = 0;
  virtual FleetStore& fleets() = 0;
  virtual ModelStore& models() = 0;
  virtual PatchStore& patches() = 0;
  virtual AssignmentStore& assignments() = 0;
  virtual CampaignStore& campaigns() = 0;
  virtual AttemptStore& attempts() = 0;
  virtual ClearanceStore& clearances() = 0;
  virtual ReleaseStore& releases() = 0;
  virtual AuthStore& auth() = 0;
  virtual AuditStore& audit() = 0;
  virtual StatsStore& stats() = 0;  // ops (issue #10)
  // Runs `fn` in one transaction (nested calls join the outer one). Commits when fn returns OK.
  // An exception from fn is rethrown after the transaction was rolled back (none stays open).
  virtual Status InTransaction(const std::function<Status()>& fn) = 0;
  virtual EventLogStore& event_log() = 0;
  // Runs fn as a savepoint of the current transaction (its writes are undone if it fails, the
  // enclosing transaction goes on). Outside any transaction it behaves like InTransaction.
  // An exception from fn is rethrown after fn's writes were undone.
  virtual Status InSavepoint(const std::function<Status()>& fn) = 0;
  virtual GoldenStore& golden() = 0;  // issue #11
};

}  // namespace oxide::store

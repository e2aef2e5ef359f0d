#pragma once

// Contract suite every Store backend must pass. A backend instantiates it with a factory type:
//
//   struct MyFactory { static std::unique_ptr<oxide::store::Store> Make(); };
//   INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreContract, ::testing::Types<MyFactory>);
//
// Make() returns a fresh, empty store (GTEST_SKIP() inside it when the backend is unavailable).

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>

#include "store/store.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::store {

template <class Factory>
class StoreContract : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = Factory::Make();
    if (store_ == nullptr) GTEST_SKIP() << "backend not available";
  }
  Store& s() { return *store_; }

  void AddDevice(const std::string& id) {
    DeviceRecord d;
    d.id = id;
    d.name = "name-" + id;
    d.created_at = 1000;
    ASSERT_OK(s().devices().Create(d));
  }
  CampaignRecord NewCampaign(const std::string& id) {
    CampaignRecord c;
    c.id = id;
    c.model_id = "m";
    c.version = "v2";
    c.target_sha256 = std::string(64, 'b');
    c.target_size = 42;
    c.fleet_id = "f";
    c.strategy = CampaignStrategy::kCanary;
    c.canary_percent = 25;
    c.created_at = c.updated_at = 5;
    return c;
  }

  std::unique_ptr<Store> store_;
};

TYPED_TEST_SUITE_P(StoreContract);

TYPED_TEST_P(StoreContract, DeviceRoundTripWithTags) {
  DeviceRecord d;
  d.id = "d1";
  d.name = "Device 1";
  d.tags = {{"site", "lyon"}, {"hw", "rpi4"}};
  d.created_at = 77;
  ASSERT_OK(this->s().devices().Create(d));
  auto got = this->s().devices().Get("d1");
  ASSERT_OK(got.status());
  EXPECT_EQ(got->name, "Device 1");
  EXPECT_EQ(got->tags, d.tags);
  EXPECT_EQ(got->created_at, 77);
  EXPECT_EQ(got->last_seen, 0);
}

TYPED_TEST_P(StoreContract, DuplicateDeviceIsAlreadyExists) {
  this->AddDevice("d1");
  DeviceRecord d;
  d.id = "d1";
  EXPECT_STATUS(this->s().devices().Create(d), ErrorCode::kAlreadyExists);
}

TYPED_TEST_P(StoreContract, UnknownDeviceIsNotFound) {
  EXPECT_STATUS(this->s().devices().Get("nope").status(), ErrorCode::kNotFound);
  EXPECT_STATUS(this->s().devices().Delete("nope"), ErrorCode::kNotFound);
  DeviceRecord d;
  d.id = "nope";
  EXPECT_STATUS(this->s().devices().Update(d), ErrorCode::kNotFound);
}

TYPED_TEST_P(StoreContract, DeviceUpdateAndBytes) {
  this->AddDevice("d1");
  auto d = *this->s().devices().Get("d1");
  d.last_seen = 500;
  d.current_model = "m";
  d.current_version = "v1";
  d.current_sha256 = std::string(64, 'a');
  d.tags = {{"k", "v"}};
  ASSERT_OK(this->s().devices().Update(d));
  ASSERT_OK(this->s().devices().AddBytes("d1", 10, 100));
  ASSERT_OK(this->s().devices().AddBytes("d1", 5, 50));
  auto got = *this->s().devices().Get("d1");
  EXPECT_EQ(got.last_seen, 500);
  EXPECT_EQ(got.current_version, "v1");
  EXPECT_EQ(got.tags, d.tags);
  EXPECT_EQ(got.bytes_served, 15u);
  EXPECT_EQ(got.bytes_full, 150u);
  EXPECT_EQ(*this->s().devices().CountSeenSince(400), 1u);
  EXPECT_EQ(*this->s().devices().CountSeenSince(501), 0u);
  EXPECT_EQ(*this->s().devices().CurrentShasOfModel("m"),
            std::vector<std::string>{d.current_sha256});
}

TYPED_TEST_P(StoreContract, RecordHeartbeatWritesOnlyTheHeartbeatColumns) {
  this->AddDevice("d1");
  auto d = *this->s().devices().Get("d1");
  d.tags = {{"k", "v"}};
  ASSERT_OK(this->s().devices().Update(d));
  d.name = "not written";
  d.tags = {{"other", "x"}};
  d.last_seen = 900;
  d.reported_status = "ok";
  d.agent_version = "a2";
  d.current_model = "m";
  d.current_version = "v2";
  d.platform_cpus = 4;
  d.last_result = UpdateResult::kFailed;
  d.last_result_error = "boom";
  ASSERT_OK(this->s().devices().RecordHeartbeat(d));
  auto got = *this->s().devices().Get("d1");
  EXPECT_EQ(got.last_seen, 900);
  EXPECT_EQ(got.reported_status, "ok");
  EXPECT_EQ(got.agent_version, "a2");
  EXPECT_EQ(got.current_version, "v2");
  EXPECT_EQ(got.platform_cpus, 4u);
  EXPECT_EQ(got.last_result, UpdateResult::kFailed);
  EXPECT_EQ(got.last_result_error, "boom");
  EXPECT_NE(got.name, "not written");
  EXPECT_EQ(got.tags, (std::map<std::string, std::string>{{"k", "v"}}));
  // The same model again (a backend may take a narrower path): the rest is still written.
  d.last_seen = 901;
  d.reported_status = "again";
  d.last_result = UpdateResult::kSuccess;
  ASSERT_OK(this->s().devices().RecordHeartbeat(d));
  got = *this->s().devices().Get("d1");
  EXPECT_EQ(got.last_seen, 901);
  EXPECT_EQ(got.reported_status, "again");
  EXPECT_EQ(got.last_result, UpdateResult::kSuccess);
  EXPECT_EQ(got.current_version, "v2");
  d.id = "nope";
  EXPECT_STATUS(this->s().devices().RecordHeartbeat(d), ErrorCode::kNotFound);
}

// The heartbeat's read: every column and the inventory (attributes included) as Get has them;
// only the tags may be missing.
TYPED_TEST_P(StoreContract, GetWithoutTagsReadsAllButTheTags) {
  this->AddDevice("d1");
  auto d = *this->s().devices().Get("d1");
  d.tags = {{"k", "v"}};
  d.current_model = "m";
  d.last_seen = 77;
  ASSERT_OK(this->s().devices().Update(d));
  DeviceInventory inv;
  inv.os = "linux";
  inv.attributes = {{"gpu", "none"}};
  inv.updated_at = 5;
  ASSERT_OK(this->s().devices().PutInventory("d1", inv));
  auto full = *this->s().devices().Get("d1");
  auto got = this->s().devices().GetWithoutTags("d1");
  ASSERT_OK(got.status());
  EXPECT_EQ(got->name, full.name);
  EXPECT_EQ(got->created_at, full.created_at);
  EXPECT_EQ(got->last_seen, 77);
  EXPECT_EQ(got->current_model, "m");
  EXPECT_EQ(got->inventory, full.inventory);
  EXPECT_EQ(got->inventory.attributes, inv.attributes);
  EXPECT_STATUS(this->s().devices().GetWithoutTags("nope").status(), ErrorCode::kNotFound);
}

TYPED_TEST_P(StoreContract, ListSeenBetweenPagesByLastSeenThenId) {
  for (auto [id, seen] : {std::pair{"a", 300}, {"b", 100}, {"c", 100}, {"d", 0}, {"e", 500}}) {
    this->AddDevice(id);
    auto d = *this->s().devices().Get(id);
    d.last_seen = seen;
    ASSERT_TRUE(this->s().devices().Update(d).ok());
  }
  auto ids = [](const std::vector<DeviceRecord>& v) {
    std::vector<std::string> out;
    for (const auto& d : v) out.push_back(d.id);
    return out;
  };
  auto& devs = this->s().devices();
  EXPECT_EQ(ids(*devs.ListSeenBetween(1, "", 500, 10)), (std::vector<std::string>{"b", "c", "a"}));
  EXPECT_EQ(ids(*devs.ListSeenBetween(1, "", 500, 2)), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(ids(*devs.ListSeenBetween(100, "b", 500, 10)), (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(ids(*devs.ListSeenBetween(100, "c", 300, 10)), std::vector<std::string>{});
  EXPECT_EQ(ids(*devs.ListSeenBetween(0, "", 1, 10)), std::vector<std::string>{"d"});
}

TYPED_TEST_P(StoreContract, DeviceListIsSortedById) {
  this->AddDevice("b");
  this->AddDevice("a");
  auto list = *this->s().devices().List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, "a");
  EXPECT_EQ(list[1].id, "b");
}

TYPED_TEST_P(StoreContract, FleetMembershipKeepsOrderAndDeleteCascades) {
  this->AddDevice("d2");
  this->AddDevice("d1");
  ASSERT_OK(this->s().fleets().Create(FleetRecord{"f", "Fleet", 1, "", {}}));
  EXPECT_STATUS(this->s().fleets().Create(FleetRecord{"f", "Again", 1, "", {}}),
                ErrorCode::kAlreadyExists);
  ASSERT_OK(this->s().fleets().AddDevice("f", "d2"));
  ASSERT_OK(this->s().fleets().AddDevice("f", "d1"));
  ASSERT_OK(this->s().fleets().AddDevice("f", "d2"));  // idempotent
  EXPECT_EQ(*this->s().fleets().ListDevices("f"), (std::vector<std::string>{"d2", "d1"}));
  EXPECT_STATUS(this->s().fleets().AddDevice("f", "zz"), ErrorCode::kNotFound);
  EXPECT_STATUS(this->s().fleets().AddDevice("nof", "d1"), ErrorCode::kNotFound);
  ASSERT_OK(this->s().devices().Delete("d2"));
  EXPECT_EQ(*this->s().fleets().ListDevices("f"), (std::vector<std::string>{"d1"}));
  ASSERT_OK(this->s().fleets().RemoveDevice("f", "d1"));
  EXPECT_STATUS(this->s().fleets().RemoveDevice("f", "d1"), ErrorCode::kNotFound);
}

TYPED_TEST_P(StoreContract, ModelVersionsKeepUploadOrderAndReuploadMovesToEnd) {
  auto& m = this->s().models();
  ModelVersionRecord v{"m", "v1", std::string(64, 'a'), 10, "onnx", 1, 0};
  ASSERT_OK(m.Put(v).status());
  v.version = "v2";
  v.sha256 = std::string(64, 'b');
  ASSERT_OK(m.Put(v).status());
  v.version = "v1";
  v.sha256 = std::string(64, 'c');
  auto re = m.Put(v);
  ASSERT_OK(re.status());
  auto list = *m.ListVersions("m");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].version, "v2");
  EXPECT_EQ(list[1].version, "v1");
  EXPECT_EQ(list[1].sha256, std::string(64, 'c'));
  EXPECT_LT(list[0].seq, list[1].seq);
  EXPECT_EQ(*m.ListModelIds(), std::vector<std::string>{"m"});
  EXPECT_EQ(m.FindBySha(std::string(64, 'b'))->version, "v2");
  EXPECT_STATUS(m.FindBySha(std::string(64, 'a')).status(), ErrorCode::kNotFound);
  EXPECT_STATUS(m.Get("m", "v9").status(), ErrorCode::kNotFound);
  EXPECT_TRUE(m.ListVersions("other")->empty());
}

// issue #11: a version's signature and its change, and a campaign's override, round-trip (and
// a re-upload replaces the signature with the new file's).
TYPED_TEST_P(StoreContract, SignaturesAndSignatureOverrideRoundTrip) {
  auto& m = this->s().models();
  ModelVersionRecord v{"m", "v1", std::string(64, 'a'), 10, "onnx", 1, 0};
  v.signature = R"({"inputs":[],"outputs":[]})";
  v.signature_change = "input 'x' removed\ninput 'y' added: F32 [1]";
  ASSERT_OK(m.Put(v).status());
  auto got = m.Get("m", "v1");
  ASSERT_OK(got.status());
  EXPECT_EQ(got->signature, v.signature);
  EXPECT_EQ(got->signature_change, v.signature_change);
  v.signature_change = "";
  ASSERT_OK(m.Put(v).status());
  EXPECT_EQ(m.ListVersions("m")->at(0).signature_change, "");

  auto& c = this->s().campaigns();
  CampaignRecord with = this->NewCampaign("c1");
  with.allow_signature_change = true;
  ASSERT_OK(c.Create(with, {}).status());
  ASSERT_OK(c.Create(this->NewCampaign("c2"), {}).status());
  EXPECT_TRUE(c.Get("c1")->allow_signature_change);
  EXPECT_FALSE(c.Get("c2")->allow_signature_change);
}

TYPED_TEST_P(StoreContract, BlobReferencesAndTensorIndexes) {
  auto& m = this->s().models();
  ASSERT_OK(m.Put({"m", "v1", std::string(64, 'a'), 10, "onnx", 1, 0}).status());
  ASSERT_OK(m.Put({"m", "v2", std::string(64, 'a'), 10, "onnx", 2, 0}).status());
  ASSERT_OK(m.Put({"n", "v1", std::string(64, 'b'), 10, "onnx", 3, 0}).status());
  EXPECT_EQ(*m.ListBlobShas(),
            (std::vector<std::string>{std::string(64, 'a'), std::string(64, 'b')}));
  EXPECT_STATUS(m.GetIndex(std::string(64, 'a')).status(), ErrorCode::kNotFound);
  const std::string bytes("\0\x01binary\xff", 9);
  ASSERT_OK(m.PutIndex({std::string(64, 'a'), "safetensors", 3, bytes}));
  auto got = m.GetIndex(std::string(64, 'a'));
  ASSERT_OK(got.status());
  EXPECT_EQ(got->format, "safetensors");
  EXPECT_EQ(got->tensor_count, 3u);
  EXPECT_EQ(got->data, bytes);
  auto& p = this->s().patches();
  ASSERT_TRUE(*p.Enqueue("a", "t", 1));
  ASSERT_TRUE(*p.Enqueue("b", "t", 2));
  EXPECT_TRUE(p.ListWithBlob()->empty());
  PatchRecord ready = *p.Get("b", "t");
  ready.state = PatchState::kReady;
  ready.patch_sha256 = std::string(64, 'c');
  ASSERT_OK(p.Update(ready));
  auto with_blob = *p.ListWithBlob();
  ASSERT_EQ(with_blob.size(), 1u);
  EXPECT_EQ(with_blob[0].base_sha256, "b");
}

TYPED_TEST_P(StoreContract, PatchQueueIsFifoAndEnqueueIsIdempotent) {
  auto& p = this->s().patches();
  EXPECT_TRUE(*p.Enqueue("a", "t", 1));
  EXPECT_TRUE(*p.Enqueue("b", "t", 2));
  EXPECT_FALSE(*p.Enqueue("a", "t", 3));
  auto next = *p.NextPending(10);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->base_sha256, "a");
  next->state = PatchState::kReady;
  next->patch_sha256 = "pp";
  next->patch_size = 9;
  next->strategy = "binary";
  ASSERT_OK(p.Update(*next));
  EXPECT_EQ(p.NextPending(10)->value().base_sha256, "b");
  auto got = *p.Get("a", "t");
  EXPECT_EQ(got.state, PatchState::kReady);
  EXPECT_EQ(got.patch_size, 9u);
  EXPECT_EQ(p.ListForTarget("t")->size(), 2u);
  EXPECT_STATUS(p.Get("x", "t").status(), ErrorCode::kNotFound);
  PatchRecord missing;
  missing.base_sha256 = "x";
  missing.target_sha256 = "y";
  EXPECT_STATUS(p.Update(missing), ErrorCode::kNotFound);
}

TYPED_TEST_P(StoreContract, PatchRetriesAreDeferredAndGoBehindFreshJobs) {
  auto& p = this->s().patches();
  ASSERT_TRUE(*p.Enqueue("a", "t", 1));
  ASSERT_TRUE(*p.Enqueue("b", "t", 2));
  auto a = *p.Get("a", "t");
  a.attempts = 1;
  a.not_before = 100;
  ASSERT_OK(p.Update(a));
  EXPECT_EQ(p.NextPending(50)->value().base_sha256, "b");  // fewer attempts first
  auto b = *p.Get("b", "t");
  b.state = PatchState::kFailed;
  ASSERT_OK(p.Update(b));
  EXPECT_FALSE(p.NextPending(99)->has_value());  // "a" is backing off
  auto next = *p.NextPending(100);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->attempts, 1u);
  EXPECT_EQ(next->not_before, 100);
}

TYPED_TEST_P(StoreContract, CampaignEntriesOfOneDeviceByCampaignSeq) {
  auto& c = this->s().campaigns();
  std::vector<CampaignDeviceRecord> devs(1);
  devs[0].device_id = "d1";
  ASSERT_OK(c.Create(this->NewCampaign("c2"), devs).status());
  ASSERT_OK(c.Create(this->NewCampaign("c1"), devs).status());
  ASSERT_OK(c.Create(this->NewCampaign("c3"), {}).status());
  auto list = *c.ListForDevice("d1");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].campaign_id, "c2");
  EXPECT_EQ(list[1].campaign_id, "c1");
  EXPECT_TRUE(c.ListForDevice("zz")->empty());
}

TYPED_TEST_P(StoreContract, AssignmentsPutReplaceDelete) {
  auto& a = this->s().assignments();
  EXPECT_FALSE(a.Get("d1")->has_value());
  ASSERT_OK(a.Put(AssignmentRecord{"d1", "c1", "m", "v1", "s1", 1}));
  ASSERT_OK(a.Put(AssignmentRecord{"d1", "c2", "m", "v2", "s2", 2}));
  EXPECT_EQ(a.Get("d1")->value().campaign_id, "c2");
  ASSERT_OK(a.Delete("d1"));
  ASSERT_OK(a.Delete("d1"));
  EXPECT_FALSE(a.Get("d1")->has_value());
}

TYPED_TEST_P(StoreContract, CampaignRoundTripDevicesAndBytes) {
  auto& c = this->s().campaigns();
  std::vector<CampaignDeviceRecord> devs(2);
  devs[0].device_id = "d1";
  devs[0].ordinal = 0;
  devs[1].device_id = "d2";
  devs[1].ordinal = 1;
  auto created = c.Create(this->NewCampaign("c1"), devs);
  ASSERT_OK(created.status());
  EXPECT_EQ(created->strategy, CampaignStrategy::kCanary);
  EXPECT_EQ(created->canary_percent, 25u);
  auto second = c.Create(this->NewCampaign("c2"), {});
  ASSERT_OK(second.status());
  EXPECT_GT(second->seq, created->seq);
  EXPECT_STATUS(c.Create(this->NewCampaign("c1"), {}).status(), ErrorCode::kAlreadyExists);

  auto d = *c.GetDevice("c1", "d2");
  d.state = DeviceRolloutState::kFailed;
  d.error = "boom";
  d.previous = AssignmentRecord{"d2", "c0", "m", "v1", "s1", 7};
  ASSERT_OK(c.UpdateDevice(d));
  ASSERT_OK(c.AddBytes("c1", "d2", 3, 30));
  ASSERT_OK(c.UpdateState("c1", CampaignState::kHalted, 9));
  auto list = *c.ListDevices("c1");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].state, DeviceRolloutState::kFailed);
  EXPECT_EQ(list[1].error, "boom");
  ASSERT_TRUE(list[1].previous.has_value());
  EXPECT_EQ(list[1].previous->size_bytes, 7u);
  EXPECT_EQ(list[1].bytes_served, 3u);
  EXPECT_FALSE(list[0].previous.has_value());
  auto got = *c.Get("c1");
  EXPECT_EQ(got.state, CampaignState::kHalted);
  EXPECT_EQ(got.bytes_full, 30u);
  EXPECT_EQ(c.List()->size(), 2u);
  EXPECT_STATUS(c.Get("zz").status(), ErrorCode::kNotFound);
  EXPECT_STATUS(c.GetDevice("c1", "zz").status(), ErrorCode::kNotFound);
  EXPECT_STATUS(c.UpdateState("zz", CampaignState::kPaused, 1), ErrorCode::kNotFound);
}

TYPED_TEST_P(StoreContract, DevicePlatformAndLastResultRoundTrip) {
  this->AddDevice("d1");
  auto d = *this->s().devices().Get("d1");
  EXPECT_EQ(d.last_result, UpdateResult::kNone);
  d.platform_os = "linux";
  d.platform_arch = "aarch64";
  d.platform_cpus = 4;
  d.last_result = UpdateResult::kFailed;
  d.last_result_error = "health check exited 1";
  ASSERT_OK(this->s().devices().Update(d));
  auto got = *this->s().devices().Get("d1");
  EXPECT_EQ(got.platform_os, "linux");
  EXPECT_EQ(got.platform_arch, "aarch64");
  EXPECT_EQ(got.platform_cpus, 4u);
  EXPECT_EQ(got.last_result, UpdateResult::kFailed);
  EXPECT_EQ(got.last_result_error, "health check exited 1");
  EXPECT_EQ(this->s().devices().List()->front().platform_arch, "aarch64");
}

TYPED_TEST_P(StoreContract, FleetKeepsDescriptionTagsAndDeviceFleets) {
  this->AddDevice("d1");
  FleetRecord f{"f2", "Fleet", 1, "north site", {{"site", "lyon"}, {"tier", "edge"}}};
  ASSERT_OK(this->s().fleets().Create(f));
  ASSERT_OK(this->s().fleets().Create(FleetRecord{"f1", "Other", 2, "", {}}));
  auto got = *this->s().fleets().Get("f2");
  EXPECT_EQ(got.description, "north site");
  EXPECT_EQ(got.tags, f.tags);
  EXPECT_EQ(this->s().fleets().List()->at(1).tags, f.tags);
  EXPECT_TRUE(this->s().fleets().FleetsOfDevice("d1")->empty());
  ASSERT_OK(this->s().fleets().AddDevice("f2", "d1"));
  ASSERT_OK(this->s().fleets().AddDevice("f1", "d1"));
  EXPECT_EQ(*this->s().fleets().FleetsOfDevice("d1"), (std::vector<std::string>{"f2", "f1"}));
}

TYPED_TEST_P(StoreContract, AttemptsAreKeptNewestFirstAndReportsStoredOnce) {
  auto& a = this->s().attempts();
  AttemptRecord r;
  r.device_id = "d1";
  r.report_id = "r1";
  r.campaign_id = "c1";
  r.model_id = "m";
  r.version = "v2";
  r.outcome = AttemptOutcome::kFallback;
  r.stage = AttemptStage::kPatch;
  r.error = "base mismatch";
  r.at = 10;
  EXPECT_TRUE(*a.Add(r));
  EXPECT_FALSE(*a.Add(r));  // the same report again (lost reply): stored once
  r.report_id = "r2";
  r.outcome = AttemptOutcome::kRolledBack;
  r.stage = AttemptStage::kHealthCheck;
  r.exit_status = 3;
  r.output = "tail";
  r.error = "first cause";
  r.at = 11;
  EXPECT_TRUE(*a.Add(r));
  r.report_id = "";  // reference agents: no id, never deduplicated
  r.exit_status.reset();
  r.error = "later";
  r.local = true;
  EXPECT_TRUE(*a.Add(r));
  EXPECT_TRUE(*a.Add(r));
  r.device_id = "d2";
  r.report_id = "r1";  // ids are per device
  EXPECT_TRUE(*a.Add(r));

  auto d1 = *a.ListForDevice("d1", 10);
  ASSERT_EQ(d1.size(), 4u);
  EXPECT_GT(d1[0].seq, d1[1].seq);
  EXPECT_EQ(d1[3].outcome, AttemptOutcome::kFallback);
  EXPECT_EQ(d1[2].error, "first cause");
  EXPECT_EQ(d1[2].exit_status, 3);
  EXPECT_EQ(d1[2].output, "tail");
  EXPECT_EQ(d1[2].stage, AttemptStage::kHealthCheck);
  EXPECT_FALSE(d1[0].exit_status.has_value());
  EXPECT_TRUE(d1[0].local);
  EXPECT_EQ(a.ListForDevice("d1", 2)->size(), 2u);
  EXPECT_EQ(a.ListForCampaign("c1", 10)->size(), 5u);
  EXPECT_TRUE(a.ListForCampaign("zz", 10)->empty());
  auto first = *a.FirstFailureOfCampaign("c1");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->error, "first cause");
  EXPECT_FALSE(a.FirstFailureOfCampaign("zz")->has_value());
}

TYPED_TEST_P(StoreContract, ClearancesArePendingUntilAcknowledged) {
  this->AddDevice("d1");
  auto& c = this->s().clearances();
  auto first = c.Add(ClearanceRecord{0, "d1", "m", "v2", 5});
  ASSERT_OK(first.status());
  auto again = c.Add(ClearanceRecord{0, "d1", "m", "v2", 6});
  EXPECT_EQ(again->id, first->id);  // one pending clearance per version
  auto other = *c.Add(ClearanceRecord{0, "d1", "m", "v3", 7});
  EXPECT_NE(other.id, first->id);
  auto pending = *c.Pending("d1");
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].version, "v2");
  EXPECT_EQ(pending[0].created_at, 5);
  ASSERT_OK(c.Acknowledge("other-device", {first->id}));
  EXPECT_EQ(c.Pending("d1")->size(), 2u);
  ASSERT_OK(c.Acknowledge("d1", {first->id, 9999}));
  pending = *c.Pending("d1");
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].version, "v3");
  ASSERT_OK(this->s().devices().Delete("d1"));
  EXPECT_TRUE(c.Pending("d1")->empty());
}

TYPED_TEST_P(StoreContract, FailedTransactionLeavesNothing) {
  Status st = this->s().InTransaction([&]() -> Status {
    DeviceRecord d;
    d.id = "tx";
    OXIDE_RETURN_IF_ERROR(this->s().devices().Create(d));
    OXIDE_RETURN_IF_ERROR(
        this->s().assignments().Put(AssignmentRecord{"tx", "c", "m", "v", "s", 1}));
    return Internal("boom");
  });
  EXPECT_STATUS(st, ErrorCode::kInternal);
  EXPECT_STATUS(this->s().devices().Get("tx").status(), ErrorCode::kNotFound);
  EXPECT_FALSE(this->s().assignments().Get("tx")->has_value());
  ASSERT_OK(this->s().InTransaction([&]() -> Status {
    DeviceRecord d;
    d.id = "tx";
    return this->s().devices().Create(d);
  }));
  EXPECT_OK(this->s().devices().Get("tx").status());
}

// An exception thrown inside a transaction (or one of its savepoints) goes on to the caller
// with the writes undone, and leaves no transaction open: the next one commits on its own.
TYPED_TEST_P(StoreContract, ExceptionInsideATransactionRollsItBackAndLeavesNoneOpen) {
  auto create = [&](const std::string& id) {
    DeviceRecord d;
    d.id = id;
    return this->s().devices().Create(d);
  };
  auto create_then_throw = [&](const std::string& id) -> Status {
    OXIDE_RETURN_IF_ERROR(create(id));
    throw std::runtime_error("boom");
  };
  EXPECT_THROW(static_cast<void>(this->s().InTransaction([&] { return create_then_throw("t1"); })),
               std::runtime_error);
  EXPECT_STATUS(this->s().devices().Get("t1").status(), ErrorCode::kNotFound);
  auto outer = [&]() -> Status {
    OXIDE_RETURN_IF_ERROR(create("kept"));
    try {
      static_cast<void>(this->s().InSavepoint([&] { return create_then_throw("t2"); }));
    } catch (const std::runtime_error&) {
      // the savepoint's writes are undone; this transaction goes on
    }
    EXPECT_STATUS(this->s().devices().Get("t2").status(), ErrorCode::kNotFound);
    EXPECT_OK(this->s().devices().Get("kept").status());
    throw std::runtime_error("outer");
  };
  EXPECT_THROW(static_cast<void>(this->s().InTransaction(outer)), std::runtime_error);
  EXPECT_STATUS(this->s().devices().Get("kept").status(), ErrorCode::kNotFound);
  ASSERT_OK(this->s().InTransaction([&] { return create("after"); }));
  EXPECT_OK(this->s().devices().Get("after").status());
  ASSERT_OK(this->s().InSavepoint([&] { return create("alone"); }));
  EXPECT_OK(this->s().devices().Get("alone").status());
}

TYPED_TEST_P(StoreContract, OperatorTokensAreFoundByHashAndRevokedOnce) {
  AuthStore& a = this->s().auth();
  EXPECT_EQ(*a.CountOperatorTokens(), 0u);
  OperatorTokenRecord t{"t1", "ci", OperatorRole::kViewer, std::string(64, 'a'), 10, 0, 0};
  ASSERT_OK(a.CreateOperatorToken(t));
  EXPECT_STATUS(a.CreateOperatorToken(t), ErrorCode::kAlreadyExists);
  OperatorTokenRecord other{"t2", "x", OperatorRole::kAdmin, std::string(64, 'a'), 11, 0, 0};
  EXPECT_STATUS(a.CreateOperatorToken(other), ErrorCode::kAlreadyExists);  // same hash
  other.sha256 = std::string(64, 'b');
  ASSERT_OK(a.CreateOperatorToken(other));
  auto found = a.FindOperatorToken(std::string(64, 'a'));
  ASSERT_OK(found.status());
  EXPECT_EQ(found->id, "t1");
  EXPECT_EQ(found->role, OperatorRole::kViewer);
  EXPECT_STATUS(a.FindOperatorToken(std::string(64, 'c')).status(), ErrorCode::kNotFound);
  ASSERT_OK(a.TouchOperatorToken("t1", 50));
  ASSERT_OK(a.RevokeOperatorToken("t1", 60));
  ASSERT_OK(a.RevokeOperatorToken("t1", 70));  // keeps the first time
  EXPECT_STATUS(a.RevokeOperatorToken("nope", 70), ErrorCode::kNotFound);
  auto list = a.ListOperatorTokens();
  ASSERT_OK(list.status());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "t1");
  EXPECT_EQ((*list)[0].revoked_at, 60);
  EXPECT_EQ((*list)[0].last_used, 50);
  EXPECT_EQ((*list)[1].revoked_at, 0);
  EXPECT_EQ(*a.CountOperatorTokens(), 2u);
}

TYPED_TEST_P(StoreContract, EnrollmentTokensBelongToOneFleet) {
  AuthStore& a = this->s().auth();
  ASSERT_OK(a.CreateEnrollmentToken({"e1", "f", std::string(64, 'e'), 5, 0}));
  ASSERT_OK(a.CreateEnrollmentToken({"e2", "g", std::string(64, 'f'), 6, 0}));
  EXPECT_EQ(a.FindEnrollmentToken(std::string(64, 'e'))->fleet_id, "f");
  EXPECT_EQ(a.ListEnrollmentTokens("f")->size(), 1u);
  EXPECT_STATUS(a.RevokeEnrollmentToken("g", "e1", 9), ErrorCode::kNotFound);
  ASSERT_OK(a.RevokeEnrollmentToken("f", "e1", 9));
  EXPECT_EQ(a.FindEnrollmentToken(std::string(64, 'e'))->revoked_at, 9);
}

TYPED_TEST_P(StoreContract, DeviceAuthIsReplacedAndDeletedWithTheDevice) {
  AuthStore& a = this->s().auth();
  this->AddDevice("d1");
  EXPECT_FALSE(a.GetDeviceAuth("d1")->has_value());
  ASSERT_OK(a.PutDeviceAuth({"d1", DeviceAuthState::kPending, std::string(64, 's'), 1}));
  ASSERT_OK(a.PutDeviceAuth({"d1", DeviceAuthState::kAccepted, std::string(64, 's'), 2}));
  auto got = a.GetDeviceAuth("d1");
  ASSERT_OK(got.status());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->state, DeviceAuthState::kAccepted);
  EXPECT_EQ((*got)->updated_at, 2);
  ASSERT_OK(this->s().devices().Delete("d1"));
  EXPECT_FALSE(a.GetDeviceAuth("d1")->has_value());
}

TYPED_TEST_P(StoreContract, AuditLogIsNewestFirstAndBounded) {
  AuditStore& log = this->s().audit();
  for (int i = 0; i < 3; ++i) {
    auto r = log.Append({0, 100 + i, "t1", "admin", "device.accept", "device/d" + std::to_string(i),
                         "127.0.0.1", "'; DROP TABLE audit_log; --"});
    ASSERT_OK(r.status());
    EXPECT_GT(r->id, 0);
  }
  auto list = log.List(2);
  ASSERT_OK(list.status());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].target, "device/d2");
  EXPECT_EQ((*list)[1].target, "device/d1");
  EXPECT_EQ((*list)[0].detail, "'; DROP TABLE audit_log; --");
  EXPECT_EQ((*list)[0].remote_address, "127.0.0.1");
}

// ops (issue #10): the bandwidth series (migration 8) and the scrape-time counts.
TYPED_TEST_P(StoreContract, BandwidthIsSummedPerUtcHourAndCountsAreCheap) {
  StatsStore& st = this->s().stats();
  const TimeMs hour = TimeMs{1'700'000'000 / 3600 * 3600} * 1000;  // an hour's start, in ms
  ASSERT_OK(st.AddBandwidth(hour, 10, 100));
  ASSERT_OK(st.AddBandwidth(hour + 3'599'999, 5, 50));  // same hour
  ASSERT_OK(st.AddBandwidth(hour + 3'600'000, 7, 7));   // next hour
  auto all = st.ListBandwidth(0, INT64_MAX);
  ASSERT_OK(all.status());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].hour, hour / 1000);
  EXPECT_EQ((*all)[0].bytes_served, 15u);
  EXPECT_EQ((*all)[0].bytes_full_equivalent, 150u);
  EXPECT_EQ((*all)[1].hour, hour / 1000 + 3600);
  EXPECT_EQ((*all)[1].bytes_served, 7u);
  auto second = st.ListBandwidth(hour / 1000 + 1, hour / 1000 + 3601);  // [from, to)
  ASSERT_OK(second.status());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].bytes_full_equivalent, 7u);
  // Written in a failed transaction: nothing stays.
  Status failed = this->s().InTransaction([&]() -> Status {
    OXIDE_RETURN_IF_ERROR(st.AddBandwidth(hour, 1000, 1000));
    return Internal("rolled back");
  });
  EXPECT_EQ(failed.code(), ErrorCode::kInternal);
  auto again = st.ListBandwidth(0, INT64_MAX);
  ASSERT_OK(again.status());
  EXPECT_EQ((*again)[0].bytes_served, 15u);

  EXPECT_EQ(*st.CountDevices(), 0u);
  this->AddDevice("d1");
  this->AddDevice("d2");
  EXPECT_EQ(*st.CountDevices(), 2u);
  EXPECT_EQ(*st.CountPendingPatches(), 0u);
  ASSERT_OK(this->s().patches().Enqueue(std::string(64, 'a'), std::string(64, 'b'), 1).status());
  EXPECT_EQ(*st.CountPendingPatches(), 1u);
  ASSERT_OK(this->s().campaigns().Create(this->NewCampaign("c1"), {}).status());
  ASSERT_OK(this->s().campaigns().Create(this->NewCampaign("c2"), {}).status());
  ASSERT_OK(this->s().campaigns().UpdateState("c2", CampaignState::kPaused, 5));
  auto states = st.CountCampaignsByState();
  ASSERT_OK(states.status());
  std::vector<std::pair<std::string, uint64_t>> want = {{"paused", 1}, {"rolling_out", 1}};
  EXPECT_EQ(*states, want);
}

REGISTER_TYPED_TEST_SUITE_P(
    StoreContract, DeviceRoundTripWithTags, ExceptionInsideATransactionRollsItBackAndLeavesNoneOpen,
    DuplicateDeviceIsAlreadyExists, UnknownDeviceIsNotFound, DeviceUpdateAndBytes,
    RecordHeartbeatWritesOnlyTheHeartbeatColumns, GetWithoutTagsReadsAllButTheTags,
    DeviceListIsSortedById, ListSeenBetweenPagesByLastSeenThenId,
    FleetMembershipKeepsOrderAndDeleteCascades, ModelVersionsKeepUploadOrderAndReuploadMovesToEnd,
    SignaturesAndSignatureOverrideRoundTrip, BlobReferencesAndTensorIndexes,
    PatchQueueIsFifoAndEnqueueIsIdempotent, PatchRetriesAreDeferredAndGoBehindFreshJobs,
    CampaignEntriesOfOneDeviceByCampaignSeq, AssignmentsPutReplaceDelete,
    CampaignRoundTripDevicesAndBytes, DevicePlatformAndLastResultRoundTrip,
    FleetKeepsDescriptionTagsAndDeviceFleets, AttemptsAreKeptNewestFirstAndReportsStoredOnce,
    ClearancesArePendingUntilAcknowledged, FailedTransactionLeavesNothing,
    OperatorTokensAreFoundByHashAndRevokedOnce, EnrollmentTokensBelongToOneFleet,
    DeviceAuthIsReplacedAndDeletedWithTheDevice, AuditLogIsNewestFirstAndBounded,
    BandwidthIsSummedPerUtcHourAndCountsAreCheap);

// ---- targeting (issue #10): inventory, list queries, campaign target and approval ----------

template <class Factory>
class StoreTargetingContract : public StoreContract<Factory> {
 protected:
  void AddTagged(const std::string& id, const std::string& name,
                 std::map<std::string, std::string> tags, TimeMs last_seen) {
    DeviceRecord d;
    d.id = id;
    d.name = name;
    d.tags = std::move(tags);
    ASSERT_OK(this->s().devices().Create(d));
    if (last_seen != 0) {
      auto got = this->s().devices().Get(id);
      ASSERT_OK(got.status());
      got->last_seen = last_seen;
      ASSERT_OK(this->s().devices().Update(*got));
    }
  }
  std::vector<std::string> Ids(const DeviceQuery& q) {
    auto list = this->s().devices().Query(q);
    EXPECT_OK(list.status());
    std::vector<std::string> out;
    if (!list.ok()) return out;
    for (const auto& d : *list) out.push_back(d.id);
    return out;
  }
};

TYPED_TEST_SUITE_P(StoreTargetingContract);

TYPED_TEST_P(StoreTargetingContract, InventoryRoundTripReplacesAndGoesWithTheDevice) {
  this->AddDevice("d1");
  EXPECT_EQ(this->s().devices().Get("d1")->inventory.updated_at, 0);
  DeviceInventory inv;
  inv.os = "linux";
  inv.os_version = "Debian 12";
  inv.arch = "aarch64";
  inv.agent_version = "oxide-agent/0.1";
  inv.free_disk_bytes = uint64_t{5} << 40;
  inv.attributes = {{"site", "lyon"}, {"rack", "3"}};
  inv.updated_at = 99;
  ASSERT_OK(this->s().devices().PutInventory("d1", inv));
  auto got = this->s().devices().Get("d1");
  ASSERT_OK(got.status());
  EXPECT_EQ(got->inventory, inv);
  EXPECT_EQ(this->s().devices().List()->at(0).inventory, inv);
  // A heartbeat's Update leaves the inventory alone.
  ASSERT_OK(this->s().devices().Update(*got));
  EXPECT_EQ(this->s().devices().Get("d1")->inventory, inv);
  DeviceInventory smaller;
  smaller.os = "linux";
  smaller.updated_at = 100;
  ASSERT_OK(this->s().devices().PutInventory("d1", smaller));
  EXPECT_EQ(this->s().devices().Get("d1")->inventory, smaller);
  EXPECT_STATUS(this->s().devices().PutInventory("nope", inv), ErrorCode::kNotFound);
  ASSERT_OK(this->s().devices().Delete("d1"));
  this->AddDevice("d1");
  EXPECT_EQ(this->s().devices().Get("d1")->inventory, DeviceInventory{});
}

TYPED_TEST_P(StoreTargetingContract, DeviceQueryPagesByIdAndFilters) {
  this->AddTagged("a", "Lobby cam", {{"site", "lyon"}}, 0);
  this->AddTagged("b", "Dock", {{"site", "lyon"}, {"hw", "rpi4"}}, 500);
  this->AddTagged("c", "Gate", {{"site", "paris"}}, 1500);
  this->AddTagged("d", "Roof CAM", {}, 2000);
  ASSERT_OK(this->s().fleets().Create(FleetRecord{"f", "F", 1, "", {}}));
  ASSERT_OK(this->s().fleets().AddDevice("f", "d"));
  ASSERT_OK(this->s().fleets().AddDevice("f", "b"));
  using V = std::vector<std::string>;
  DeviceQuery q;
  EXPECT_EQ(this->Ids(q), (V{"a", "b", "c", "d"}));
  q.limit = 2;
  EXPECT_EQ(this->Ids(q), (V{"a", "b"}));
  q.after = "b";
  EXPECT_EQ(this->Ids(q), (V{"c", "d"}));
  EXPECT_EQ(this->Ids(DeviceQuery{.fleet_id = "f"}), (V{"b", "d"}));
  EXPECT_EQ(this->Ids(DeviceQuery{.tags = {{"site", "lyon"}}}), (V{"a", "b"}));
  EXPECT_EQ(this->Ids(DeviceQuery{.tags = {{"site", "lyon"}, {"hw", "rpi4"}}}), (V{"b"}));
  EXPECT_EQ(this->Ids(DeviceQuery{.text = "cam"}), (V{"a", "d"}));  // name, any case
  EXPECT_EQ(this->Ids(DeviceQuery{.text = "'%"}), V{});
  EXPECT_EQ(this->Ids(DeviceQuery{.seen = DeviceQuery::Seen::kNever}), (V{"a"}));
  EXPECT_EQ(this->Ids(DeviceQuery{.seen = DeviceQuery::Seen::kAtOrAfter, .seen_at = 1500}),
            (V{"c", "d"}));
  EXPECT_EQ(this->Ids(DeviceQuery{.seen = DeviceQuery::Seen::kBefore, .seen_at = 1500}), (V{"b"}));
  ASSERT_OK(this->s().auth().PutDeviceAuth({"b", DeviceAuthState::kPending, "ab", 1}));
  ASSERT_OK(this->s().auth().PutDeviceAuth({"c", DeviceAuthState::kAccepted, "cd", 1}));
  ASSERT_OK(this->s().auth().PutDeviceAuth({"d", DeviceAuthState::kPending, "", 1}));
  EXPECT_EQ(this->Ids(DeviceQuery{.auth = DeviceQuery::Auth::kUnenrolled}), (V{"a", "d"}));
  EXPECT_EQ(this->Ids(DeviceQuery{.auth = DeviceQuery::Auth::kPending}), (V{"b"}));
  EXPECT_EQ(this->Ids(DeviceQuery{.auth = DeviceQuery::Auth::kAccepted}), (V{"c"}));
  EXPECT_EQ(this->Ids(DeviceQuery{.auth = DeviceQuery::Auth::kRejected}), V{});
  EXPECT_EQ(this->Ids(DeviceQuery{.fleet_id = "f", .tags = {{"site", "lyon"}}}), (V{"b"}));
}

TYPED_TEST_P(StoreTargetingContract, CampaignTargetApprovalAndQuery) {
  CampaignRecord c = this->NewCampaign("c1");
  c.fleet_id = "";
  c.target = CampaignTarget{{{"site", "lyon"}}, {{"arch", "aarch64"}, {"rack", "3"}}};
  c.require_approval = true;
  ASSERT_OK(this->s().campaigns().Create(c, {}).status());
  CampaignRecord plain = this->NewCampaign("c2");
  ASSERT_OK(this->s().campaigns().Create(plain, {}).status());
  CampaignRecord empty_target = this->NewCampaign("c3");
  empty_target.target = CampaignTarget{};
  ASSERT_OK(this->s().campaigns().Create(empty_target, {}).status());
  auto got = this->s().campaigns().Get("c1");
  ASSERT_OK(got.status());
  EXPECT_EQ(got->target, c.target);
  EXPECT_TRUE(got->require_approval);
  EXPECT_EQ(got->approved_at, 0);
  EXPECT_FALSE(this->s().campaigns().Get("c2")->target.has_value());
  EXPECT_EQ(this->s().campaigns().Get("c3")->target, CampaignTarget{});
  ASSERT_OK(this->s().campaigns().UpdateState("c1", CampaignState::kAwaitingApproval, 6));
  ASSERT_OK(this->s().campaigns().MarkApproved("c1", 7));
  EXPECT_EQ(this->s().campaigns().Get("c1")->approved_at, 7);
  EXPECT_EQ(this->s().campaigns().Get("c1")->state, CampaignState::kAwaitingApproval);
  EXPECT_STATUS(this->s().campaigns().MarkApproved("nope", 7), ErrorCode::kNotFound);
  auto ids = [&](const CampaignQuery& q) {
    std::vector<std::string> out;
    auto list = this->s().campaigns().Query(q);
    EXPECT_OK(list.status());
    if (!list.ok()) return out;
    for (const auto& r : *list) out.push_back(r.id);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids({}), (V{"c1", "c2", "c3"}));
  EXPECT_EQ(ids({.limit = 1}), (V{"c1"}));
  EXPECT_EQ(ids({.after = "c1", .limit = 1}), (V{"c2"}));
  EXPECT_EQ(ids({.after = "c2"}), (V{"c3"}));
  EXPECT_EQ(ids({.state = CampaignState::kAwaitingApproval}), (V{"c1"}));
  EXPECT_EQ(ids({.after = "c1", .state = CampaignState::kRollingOut}), (V{"c2", "c3"}));
  auto after_c1 = this->s().campaigns().Query({.after = "c1"});
  ASSERT_OK(after_c1.status());
  EXPECT_EQ(after_c1->at(1).target, CampaignTarget{});
  EXPECT_STATUS(this->s().campaigns().Query({.after = "nope"}).status(), ErrorCode::kNotFound);
}

REGISTER_TYPED_TEST_SUITE_P(StoreTargetingContract, InventoryRoundTripReplacesAndGoesWithTheDevice,
                            DeviceQueryPagesByIdAndFilters, CampaignTargetApprovalAndQuery);

// ---- replicas (issue #12): patch-job leases and the shared event log -----------------------

template <class Factory>
class StoreLeaseContract : public StoreContract<Factory> {
 protected:
  std::optional<PatchRecord> Claim(TimeMs now, const std::string& owner, int64_t lease_ms = 100) {
    auto got = this->s().patches().Claim(now, owner, lease_ms);
    EXPECT_OK(got.status());
    return got.ok() ? *got : std::nullopt;
  }
};

TYPED_TEST_SUITE_P(StoreLeaseContract);

TYPED_TEST_P(StoreLeaseContract, ClaimTakesJobsInQueueOrderAndSkipsLeasedOnes) {
  auto& p = this->s().patches();
  ASSERT_TRUE(*p.Enqueue("a", "t", 1));
  ASSERT_TRUE(*p.Enqueue("b", "t", 2));
  ASSERT_TRUE(*p.Enqueue("c", "t", 3));
  auto c = *p.Get("c", "t");
  c.attempts = 1;  // a retry goes behind fresh jobs, as in NextPending
  ASSERT_OK(p.Update(c));
  auto first = this->Claim(10, "r1");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->base_sha256, "a");
  EXPECT_EQ(first->lease_owner, "r1");
  EXPECT_EQ(first->lease_until, 110);
  auto second = this->Claim(10, "r2");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->base_sha256, "b");
  EXPECT_EQ(p.NextPending(10)->value().base_sha256, "c");  // leased jobs are skipped here too
  EXPECT_EQ(this->Claim(11, "r1")->base_sha256, "c");
  EXPECT_FALSE(this->Claim(12, "r3").has_value());
  EXPECT_FALSE(p.NextPending(12)->has_value());
  auto a = *p.Get("a", "t");
  EXPECT_EQ(a.lease_owner, "r1");
  EXPECT_EQ(a.lease_until, 110);
  EXPECT_EQ(a.state, PatchState::kPending);  // a lease is not a state change
}

TYPED_TEST_P(StoreLeaseContract, ExpiredLeaseLetsAnotherOwnerClaim) {
  auto& p = this->s().patches();
  ASSERT_TRUE(*p.Enqueue("a", "t", 1));
  ASSERT_EQ(this->Claim(10, "r1")->base_sha256, "a");
  EXPECT_FALSE(this->Claim(109, "r2").has_value());  // still r1's
  auto again = this->Claim(110, "r2", 50);           // r1 died: its lease ran out at 110
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->base_sha256, "a");
  EXPECT_EQ(again->lease_owner, "r2");
  EXPECT_EQ(again->lease_until, 160);
  EXPECT_EQ(p.Get("a", "t")->lease_owner, "r2");
}

TYPED_TEST_P(StoreLeaseContract, OnlyTheOwnerRenews) {
  auto& p = this->s().patches();
  ASSERT_TRUE(*p.Enqueue("a", "t", 1));
  ASSERT_TRUE(*p.Enqueue("b", "t", 2));
  ASSERT_TRUE(this->Claim(10, "r1").has_value());
  EXPECT_STATUS(p.RenewLease("a", "t", "r2", 500), ErrorCode::kFailedPrecondition);
  EXPECT_STATUS(p.RenewLease("b", "t", "r1", 500), ErrorCode::kFailedPrecondition);  // unleased
  EXPECT_STATUS(p.RenewLease("b", "t", "", 500), ErrorCode::kFailedPrecondition);
  EXPECT_STATUS(p.RenewLease("x", "t", "r1", 500), ErrorCode::kFailedPrecondition);  // unknown
  EXPECT_EQ(p.Get("a", "t")->lease_until, 110);
  ASSERT_OK(p.RenewLease("a", "t", "r1", 500));
  EXPECT_EQ(p.Get("a", "t")->lease_until, 500);
  EXPECT_EQ(this->Claim(200, "r2")->base_sha256, "b");  // "a" stays r1's past its first lease
  // Once another owner took an expired lease, the first one cannot get it back.
  ASSERT_TRUE(*p.Enqueue("c", "t", 3));
  ASSERT_EQ(this->Claim(600, "r3")->base_sha256, "a");
  EXPECT_STATUS(p.RenewLease("a", "t", "r1", 900), ErrorCode::kFailedPrecondition);
}

TYPED_TEST_P(StoreLeaseContract, ReleaseClearsOnlyTheOwnersLease) {
  auto& p = this->s().patches();
  ASSERT_TRUE(*p.Enqueue("a", "t", 1));
  ASSERT_TRUE(this->Claim(10, "r1").has_value());
  ASSERT_OK(p.ReleaseLease("a", "t", "r2"));  // not r2's: no-op
  EXPECT_EQ(p.Get("a", "t")->lease_owner, "r1");
  EXPECT_FALSE(this->Claim(20, "r2").has_value());
  ASSERT_OK(p.ReleaseLease("a", "t", "r1"));
  auto a = *p.Get("a", "t");
  EXPECT_EQ(a.lease_owner, "");
  EXPECT_EQ(a.lease_until, 0);
  EXPECT_EQ(this->Claim(20, "r2")->base_sha256, "a");  // free again at once
  ASSERT_OK(p.ReleaseLease("x", "t", "r2"));           // unknown job: no-op
}

TYPED_TEST_P(StoreLeaseContract, UpdateDoesNotTouchTheLease) {
  auto& p = this->s().patches();
  ASSERT_TRUE(*p.Enqueue("a", "t", 1));
  auto mine = this->Claim(10, "r1");
  ASSERT_TRUE(mine.has_value());
  mine->attempts = 1;
  mine->lease_owner = "someone-else";
  mine->lease_until = 999;
  ASSERT_OK(p.Update(*mine));
  auto a = *p.Get("a", "t");
  EXPECT_EQ(a.attempts, 1u);
  EXPECT_EQ(a.lease_owner, "r1");
  EXPECT_EQ(a.lease_until, 110);
  a.lease_owner.clear();
  a.lease_until = 0;
  a.state = PatchState::kReady;
  ASSERT_OK(p.Update(a));
  EXPECT_EQ(p.Get("a", "t")->lease_owner, "r1");
  EXPECT_FALSE(this->Claim(500, "r2").has_value());  // done jobs are never claimed
}

TYPED_TEST_P(StoreLeaseContract, UpdateLeasedWritesOnlyWhileTheOwnerHoldsTheLease) {
  auto& p = this->s().patches();
  ASSERT_TRUE(*p.Enqueue("a", "t", 1));
  auto mine = this->Claim(10, "r1");
  ASSERT_TRUE(mine.has_value());
  mine->state = PatchState::kReady;
  mine->patch_sha256 = "p1";
  mine->attempts = 1;
  EXPECT_STATUS(p.UpdateLeased(*mine, "r2"), ErrorCode::kFailedPrecondition);
  EXPECT_STATUS(p.UpdateLeased(*mine, ""), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(p.Get("a", "t")->state, PatchState::kPending);
  ASSERT_OK(p.UpdateLeased(*mine, "r1"));
  auto a = *p.Get("a", "t");
  EXPECT_EQ(a.state, PatchState::kReady);
  EXPECT_EQ(a.patch_sha256, "p1");
  EXPECT_EQ(a.attempts, 1u);
  EXPECT_EQ(a.lease_owner, "r1");  // the lease itself is untouched
  // Once released (or reset), the former holder's result is refused.
  ASSERT_OK(p.ReleaseLease("a", "t", "r1"));
  mine->state = PatchState::kFailed;
  EXPECT_STATUS(p.UpdateLeased(*mine, "r1"), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(p.Get("a", "t")->state, PatchState::kReady);
  PatchRecord missing = *mine;
  missing.base_sha256 = "x";
  EXPECT_STATUS(p.UpdateLeased(missing, "r1"), ErrorCode::kNotFound);
}

TYPED_TEST_P(StoreLeaseContract, EventLogAppendsInOrderListsAfterAndTrims) {
  auto& log = this->s().event_log();
  EXPECT_TRUE(log.ListAfter(0, 10)->empty());
  auto s1 = log.Append("device.changed", R"({"device_id":"d1"})", 100);
  auto s2 = log.Append("campaign.state", R"({"campaign_id":"c1"})", 101);
  auto s3 = log.Append("patch.built", "{}", 102);
  ASSERT_OK(s1.status());
  ASSERT_OK(s2.status());
  ASSERT_OK(s3.status());
  EXPECT_LT(*s1, *s2);
  EXPECT_LT(*s2, *s3);
  auto all = *log.ListAfter(0, 10);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].seq, *s1);
  EXPECT_EQ(all[0].type, "device.changed");
  EXPECT_EQ(all[0].data, R"({"device_id":"d1"})");
  EXPECT_EQ(all[0].at, 100);
  EXPECT_EQ(all[2].type, "patch.built");
  auto page = *log.ListAfter(*s1, 1);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].seq, *s2);
  ASSERT_OK(log.Trim(*s2));
  auto left = *log.ListAfter(0, 10);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].seq, *s3);
  ASSERT_OK(log.Trim(*s3));  // everything: the next seq still goes up
  auto s4 = log.Append("patch.failed", "{}", 103);
  ASSERT_OK(s4.status());
  EXPECT_GT(*s4, *s3);
}

TYPED_TEST_P(StoreLeaseContract, EventLogAppendsABatchInOrder) {
  auto& log = this->s().event_log();
  EXPECT_TRUE(log.AppendBatch({})->empty());
  EXPECT_TRUE(log.ListAfter(0, 10)->empty());
  auto s0 = log.Append("device.changed", "{}", 99);
  ASSERT_OK(s0.status());
  auto seqs = log.AppendBatch({EventLogRecord{0, "device.changed", R"({"n":1})", 100},
                               EventLogRecord{0, "campaign.state", R"({"n":2})", 101},
                               EventLogRecord{0, "patch.built", R"({"n":3})", 102}});
  ASSERT_OK(seqs.status());
  ASSERT_EQ(seqs->size(), 3u);
  EXPECT_GT((*seqs)[0], *s0);
  EXPECT_LT((*seqs)[0], (*seqs)[1]);
  EXPECT_LT((*seqs)[1], (*seqs)[2]);
  auto rows = *log.ListAfter(*s0, 10);
  ASSERT_EQ(rows.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(rows[i].seq, (*seqs)[i]);
  EXPECT_EQ(rows[1].type, "campaign.state");
  EXPECT_EQ(rows[1].data, R"({"n":2})");
  EXPECT_EQ(rows[2].at, 102);
  auto next = log.Append("patch.failed", "{}", 103);
  ASSERT_OK(next.status());
  EXPECT_GT(*next, (*seqs)[2]);
}

TYPED_TEST_P(StoreLeaseContract, EventLogMinSeqFollowsTrims) {
  auto& log = this->s().event_log();
  EXPECT_EQ(*log.MinSeq(), 0);
  auto s1 = *log.Append("device.changed", "{}", 1);
  auto s2 = *log.Append("device.changed", "{}", 2);
  EXPECT_EQ(*log.MinSeq(), s1);
  ASSERT_OK(log.Trim(s1));
  EXPECT_EQ(*log.MinSeq(), s2);
  ASSERT_OK(log.Trim(s2));
  EXPECT_EQ(*log.MinSeq(), 0);
}

TYPED_TEST_P(StoreLeaseContract, DatabaseIdIsFixedAndNotEmpty) {
  auto id = this->s().event_log().DatabaseId();
  ASSERT_OK(id.status());
  EXPECT_GE(id->size(), 16u);
  EXPECT_EQ(*this->s().event_log().DatabaseId(), *id);
}

// golden checks (issue #11): one golden file per version, replaced by a new upload, kept apart
// from the version row.
TYPED_TEST_P(StoreLeaseContract, GoldenFilesArePerVersionAndReplaceable) {
  GoldenStore& g = this->s().golden();
  auto none = g.Get("m", "1.0");
  ASSERT_OK(none.status());
  EXPECT_FALSE(none->has_value());
  GoldenRecord r;
  r.model_id = "m";
  r.version = "1.0";
  r.sha256 = std::string(64, 'a');
  r.size_bytes = 123;
  r.tolerance = 0.1;  // not exact in binary: must come back bit for bit
  r.latency_budget_ms = 25.5;
  r.uploaded_at = 7;
  ASSERT_OK(g.Put(r));
  GoldenRecord other = r;
  other.version = "2.0";
  other.latency_budget_ms.reset();
  ASSERT_OK(g.Put(other));
  auto got = g.Get("m", "1.0");
  ASSERT_OK(got.status());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->sha256, r.sha256);
  EXPECT_EQ((*got)->size_bytes, 123u);
  EXPECT_EQ((*got)->tolerance, 0.1);
  EXPECT_EQ((*got)->latency_budget_ms, 25.5);
  EXPECT_EQ((*got)->uploaded_at, 7);
  EXPECT_FALSE((*g.Get("m", "2.0"))->latency_budget_ms.has_value());
  r.sha256 = std::string(64, 'b');
  r.size_bytes = 5;
  ASSERT_OK(g.Put(r));  // a new upload replaces the old one
  EXPECT_EQ((*g.Get("m", "1.0"))->sha256, std::string(64, 'b'));
  EXPECT_EQ(*g.ListBlobShas(),
            (std::vector<std::string>{std::string(64, 'a'), std::string(64, 'b')}));
  ASSERT_OK(g.Delete("m", "1.0"));
  EXPECT_FALSE(g.Get("m", "1.0")->has_value());
  EXPECT_STATUS(g.Delete("m", "1.0"), ErrorCode::kNotFound);
  EXPECT_EQ(*g.ListBlobShas(), (std::vector<std::string>{std::string(64, 'a')}));
}

REGISTER_TYPED_TEST_SUITE_P(StoreLeaseContract, ClaimTakesJobsInQueueOrderAndSkipsLeasedOnes,
                            ExpiredLeaseLetsAnotherOwnerClaim, OnlyTheOwnerRenews,
                            ReleaseClearsOnlyTheOwnersLease, UpdateDoesNotTouchTheLease,
                            UpdateLeasedWritesOnlyWhileTheOwnerHoldsTheLease,
                            EventLogAppendsInOrderListsAfterAndTrims, EventLogAppendsABatchInOrder,
                            EventLogMinSeqFollowsTrims, DatabaseIdIsFixedAndNotEmpty,
                            GoldenFilesArePerVersionAndReplaceable);

}  // namespace oxide::store

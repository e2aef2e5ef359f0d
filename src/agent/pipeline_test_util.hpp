#pragma once
// Test-only fixture for the OTA pipeline: a model dir in a TempDir behind a PowerLossFileSystem,
// a FakeDownloader serving versions and patches, a FakeHealthChecker, a FakeClock.

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/testing/fake_downloader.hpp"
#include "agent/testing/fake_health_checker.hpp"
#include "agent/update_pipeline.hpp"
#include "base/file_util.hpp"
#include "base/posix_file_system.hpp"
#include "base/sha256.hpp"
#include "crypto/key_file.hpp"
#include "delta/build/patch_builder.hpp"
#include "testing/fake_clock.hpp"
#include "testing/power_loss_file_system.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::agent {

struct TestModel {
  std::string bytes;
  ModelRef ref;
};

class PipelineTest : public ::testing::Test {
 public:
  void TestBody() override {}  // also used as a plain fixture object by scenario runs

 public:
  // Model bytes: pseudo-random but compressible enough, deterministic per seed.
  static TestModel MakeModel(const std::string& version, uint32_t seed, size_t size = 48 << 10) {
    std::mt19937 rng(seed);
    std::string b(size, '\0');
    for (auto& c : b) c = static_cast<char>(rng() % 16);
    return {b, {version, ToHex(Sha256::Of(b)), b.size(), "c-" + version}};
  }
  // `base` with a few regions changed: a good patch candidate.
  static TestModel Modify(const TestModel& base, const std::string& version) {
    std::string b = base.bytes;
    for (size_t i = 100; i < b.size(); i += 4096) b[i] = static_cast<char>(b[i] + 1);
    return {b, {version, ToHex(Sha256::Of(b)), b.size(), "c-" + version}};
  }

  std::string Url(const std::string& version) const {
    return "http://cp/api/v1/models/m/versions/" + version + "/download";
  }
  void Publish(const TestModel& m) { dl.SetFull(Url(m.ref.version), m.bytes, m.ref.sha256); }
  void PublishPatch(const TestModel& from, const TestModel& to) {
    auto patch = delta::BuildPatch(from.bytes, to.bytes);
    ASSERT_TRUE(patch.ok()) << patch.status().ToString();
    dl.SetPatch(Url(to.ref.version), from.ref.sha256, patch->patch, to.ref.sha256);
  }

  PipelineOptions Options() {
    PipelineOptions o;
    o.control_plane = "http://cp";
    o.device_id = "dev1";
    o.model_dir = model_dir;
    o.state_dir = state_dir;
    o.sync_every_bytes = 4096;
    o.max_window_bytes = max_window_bytes;
    o.should_stop = [this] {
      if (stop_now && stop_now()) return true;
      return stop_in && pipeline && pipeline->record().state == *stop_in;
    };
    o.on_progress = [this](const UpdateRecord& r) {
      if (on_progress) on_progress(r);
    };
    o.recheck_assignment = [this](const UpdateRecord& r) {
      if (recheck) recheck(r);
    };
    o.free_disk_bytes = free_disk_bytes;
    o.fetch_golden = fetch_golden;
    o.at_rest_key = at_rest_key;
    return o;
  }
  // Opens (or re-opens, as after a restart) the pipeline of model "m".
  void OpenPipeline() {
    pipeline.reset();
    auto p = UpdatePipeline::Open("m", {fs, dl, health, clock}, Options());
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    pipeline = std::move(p).value();
    pipeline->set_transition_observer([this](const Transition& t) {
      taken.insert({t.from, t.event});
      states.push_back(t.to);
    });
  }
  // Assigns and runs to rest; returns Run()'s status.
  Status Assign(const TestModel& m) {
    auto d = pipeline->OnAssignment(m.ref);
    if (!d.ok()) return d.status();
    if (*d == AssignmentDecision::kSuperseded) {
      OXIDE_RETURN_IF_ERROR(pipeline->Run());
      d = pipeline->OnAssignment(m.ref);
      if (!d.ok()) return d.status();
    }
    return pipeline->Run();
  }
  // Runs until idle, resuming interrupted downloads (as the poll loop would).
  Status RunToIdle() {
    for (int i = 0; i < 1000; ++i) {
      Status st = pipeline->Run();
      if (st.code() != ErrorCode::kUnavailable) return st;
    }
    return Internal("did not settle");
  }
  std::string Active() const {
    auto s = ReadFileToString(model_dir + "/m");
    return s.ok() ? *s : std::string("<absent>");
  }
  // Puts `m` at the active path behind the agent's back (factory install, lost state file).
  void PlaceActive(const TestModel& m) {
    ASSERT_TRUE(posix.CreateDirs(model_dir).ok());
    ASSERT_TRUE(AtomicWriteFile(model_dir + "/m", m.bytes).ok());
  }
  bool Took(OtaState s, OtaEvent e) const { return taken.count({s, e}) > 0; }
  uint64_t max_window_bytes = uint64_t{128} << 20;           // PipelineOptions::max_window_bytes
  bool fetch_golden = false;                                 // PipelineOptions::fetch_golden
  std::shared_ptr<const crypto::EncryptionKey> at_rest_key;  // PipelineOptions::at_rest_key

  void InstallV1() {
    Publish(v1);
    OpenPipeline();
    ASSERT_TRUE(Assign(v1).ok());
    ASSERT_EQ(Active(), v1.bytes);
    taken.clear();
    states.clear();
  }

  ::oxide::testing::TempDir tmp;
  std::string model_dir = tmp.path() + "/models";
  std::string state_dir = model_dir + "/.oxide";
  PosixFileSystem posix;
  ::oxide::testing::PowerLossFileSystem fs{posix, tmp.path()};
  ::oxide::testing::FakeDownloader dl;
  ::oxide::testing::FakeHealthChecker health;
  ::oxide::testing::FakeClock clock{4};  // agent-loop tests: Run() ends after 4 sleeps
  std::unique_ptr<UpdatePipeline> pipeline;
  std::optional<OtaState> stop_in;
  std::function<bool()> stop_now;  // PipelineOptions hooks
  std::function<void(const UpdateRecord&)> on_progress;
  std::function<void(const UpdateRecord&)> recheck;
  std::function<Result<uint64_t>(const std::string&)> free_disk_bytes;  // empty: statvfs
  std::set<std::pair<OtaState, OtaEvent>> taken;
  std::vector<OtaState> states;
  TestModel v1 = MakeModel("v1", 1);
  TestModel v2 = Modify(v1, "v2");
  TestModel v3 = MakeModel("v3", 3);
};

}  // namespace oxide::agent

// Replays every committed fuzz input (seeds and crashes of all fuzzers, tests/fuzz/**) and every
// must-reject file through the patch applier, as fuzz_patch_apply does: whatever the bytes, the
// applier ends with a clean, expected error (or a verified target), never a crash or a hang.
// The indexers replay the same files in src/tensor/regression_test.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/file_util.hpp"
#include "delta/patch_applier.hpp"
#include "fuzz/patch_fuzz_base.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::delta {
namespace {

namespace fs = std::filesystem;

const fs::path kTests = fs::path(OXIDE_SOURCE_DIR) / "tests";
constexpr uint64_t kMaxOutput = 16u << 20;  // as in fuzz/fuzz_patch_apply.cpp

class CappedSink final : public ByteSink {
 public:
  Status Write(const uint8_t* data, size_t n) override {
    if (n > kMaxOutput - out.size()) return ResourceExhausted("replay output cap");
    out.append(reinterpret_cast<const char*>(data), n);
    return Status::Ok();
  }
  std::string out;
};

std::vector<fs::path> FilesUnder(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  return out;
}

// Feeds `data` in the fuzzer's growing chunks (1, 4, 13, 40, ...) or whole (`chunked` false).
Result<std::string> Replay(BaseSource* base, const std::string& data, bool chunked) {
  CappedSink sink;
  ApplyLimits limits;
  limits.max_window_bytes = 8u << 20;
  auto applier = PatchApplier::Create(base, &sink, limits);
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t chunk = chunked ? 1 : std::max<size_t>(data.size(), 1);
  for (size_t pos = 0; pos < data.size();) {
    size_t n = std::min(chunk, data.size() - pos);
    OXIDE_RETURN_IF_ERROR(applier->Feed(p + pos, n));
    pos += n;
    if (chunked) chunk = chunk * 3 + 1;
  }
  OXIDE_RETURN_IF_ERROR(applier->Finish().status());
  return sink.out;
}

bool Expected(const Status& s) {
  switch (s.code()) {
    case ErrorCode::kOk:
    case ErrorCode::kCorrupt:
    case ErrorCode::kUnsupported:
    case ErrorCode::kFailedPrecondition:
    case ErrorCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

TEST(PatchReplay, EveryCommittedInputEndsCleanly) {
  const std::string base_bytes = fuzz::PatchFuzzBase();
  auto base = BaseSource::FromMemory(base_bytes);
  std::vector<fs::path> files = FilesUnder(kTests / "fuzz");
  std::vector<fs::path> rejects = FilesUnder(kTests / "golden" / "must-reject");
  files.insert(files.end(), rejects.begin(), rejects.end());
  ASSERT_GT(files.size(), 20u);
  for (const fs::path& f : files) {
    SCOPED_TRACE(f.string());
    auto data = ReadFileToString(f.string());
    ASSERT_OK(data.status());
    for (bool chunked : {false, true}) {
      Status st = Replay(base.get(), *data, chunked).status();
      EXPECT_TRUE(Expected(st)) << st.ToString();
    }
  }
}

TEST(PatchReplay, PatchFuzzerSeedsStillRebuildTheirTarget) {
  const std::string base_bytes = fuzz::PatchFuzzBase();
  auto base = BaseSource::FromMemory(base_bytes);
  int seeds = 0;
  for (const fs::path& f : FilesUnder(kTests / "fuzz" / "fuzz_patch_apply")) {
    if (f.extension() != ".oxdl") continue;  // crash-* inputs need not apply
    SCOPED_TRACE(f.string());
    auto data = ReadFileToString(f.string());
    ASSERT_OK(data.status());
    for (bool chunked : {false, true}) {
      auto out = Replay(base.get(), *data, chunked);
      if (f.filename() == "coded.oxdl" && !out.ok() &&
          out.status().ToString().find("coded block") != std::string::npos) {
        // Its CODED payloads are the residual coder's own format: a coder that changed it
        // rejects them. Regenerate with fuzz_make_patch_seeds (fuzz/make_patch_seeds.cpp).
        ADD_FAILURE() << "coded.oxdl predates the residual coder's format; regenerate it: "
                      << out.status().ToString();
        continue;
      }
      ASSERT_OK(out.status());
      EXPECT_TRUE(*out == fuzz::PatchFuzzTarget());
    }
    ++seeds;
  }
  EXPECT_EQ(seeds, 4) << "tensor, binary, full and coded-tensor seeds";
}

}  // namespace
}  // namespace oxide::delta

// The streamed, multi-threaded build of large models (DiffOptions::stream_above,
// parallel_coded.hpp): same bytes for any thread count, round trips, long segments cut into
// work items, errors from the writer, and the fallback for pairs it does not serve.
#include "delta/build/parallel_coded.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "base/file_util.hpp"
#include "delta/build/apply_in_memory.hpp"
#include "delta/build/patch_builder.hpp"
#include "delta/patch_applier.hpp"
#include "tensor/tensor_index.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/safetensors_builder.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::delta {
namespace {

using tensor::DType;

// fp32 tensors, one over 2 MiB (three blocks); `finetune` != 0 moves every weight a little.
std::string Model(uint64_t finetune) {
  std::string big = testing::RandomNormalF32(600 * 1024, 1);
  std::string small = testing::RandomNormalF32(3000, 2);
  if (finetune != 0) {
    big = testing::FineTuneF32(big, finetune);
    small = testing::FineTuneF32(small, finetune + 1);
  }
  testing::SafetensorsBuilder b;
  b.AddTensor("big", DType::kF32, {600, 1024}, big);
  b.AddTensor("small", DType::kF32, {3000}, small);
  b.AddTensor("same", DType::kF32, {2048}, testing::RandomNormalF32(2048, 3));
  return b.Build();
}

class StreamedBuild : public ::testing::Test {
 protected:
  void SetUp() override {
    v1_ = Model(0);
    v2_ = Model(9);
    ASSERT_OK(AtomicWriteFile(Path("v1"), v1_));
    ASSERT_OK(AtomicWriteFile(Path("v2"), v2_));
  }
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }
  // Diffs v1 -> v2 into `name` with the streamed build forced on; returns the patch bytes.
  std::string Diff(const std::string& name, int threads, DiffResult* result = nullptr) {
    DiffOptions o;
    o.threads = threads;
    o.stream_above = 0;
    auto d = BuildPatchFile(Path("v1"), Path("v2"), Path(name), o);
    EXPECT_OK(d.status());
    if (!d.ok()) return {};
    if (result != nullptr) *result = *d;
    auto bytes = ReadFileToString(Path(name));
    EXPECT_OK(bytes.status());
    return bytes.ok() ? *bytes : std::string();
  }

  testing::TempDir dir_;
  std::string v1_, v2_;
};

TEST_F(StreamedBuild, WritesACodedTensorPatchThatRoundTrips) {
  DiffResult d;
  const std::string patch = Diff("p", 2, &d);
  EXPECT_EQ(d.header.strategy, Strategy::kCodedTensor);
  EXPECT_TRUE(d.patch.empty()) << "streamed: not held in memory";
  EXPECT_EQ(d.patch_size, patch.size());
  auto out = internal::ApplyInMemory(v1_, patch, 4096, {});
  ASSERT_OK(out.status());
  EXPECT_TRUE(*out == v2_);
  ASSERT_OK(ApplyPatchFile(Path("v1"), Path("p"), Path("out")).status());
}

TEST_F(StreamedBuild, BytesDoNotDependOnTheThreadCount) {
  const std::string one = Diff("p1", 1);
  ASSERT_FALSE(one.empty());
  EXPECT_TRUE(Diff("p2", 2) == one);
  EXPECT_TRUE(Diff("p5", 5) == one);
}

TEST_F(StreamedBuild, VersionTwoIsTheInMemoryTensorPatchByteForByte) {
  DiffOptions o;
  o.max_patch_version = 2;
  o.stream_above = 0;
  auto streamed = BuildPatchFile(Path("v1"), Path("v2"), Path("p"), o);
  ASSERT_OK(streamed.status());
  EXPECT_EQ(streamed->header.strategy, Strategy::kTensor);
  EXPECT_TRUE(streamed->patch.empty()) << "streamed: not held in memory";
  auto in_memory = BuildPatch(v1_, v2_, o);
  ASSERT_OK(in_memory.status());
  auto bytes = ReadFileToString(Path("p"));
  ASSERT_OK(bytes.status());
  EXPECT_TRUE(*bytes == in_memory->patch);
  EXPECT_EQ(streamed->patch_size, bytes->size());
}

TEST_F(StreamedBuild, FallsBackWhenTheFilesAreNotAModel) {
  std::string a(300000, 'a'), b = a;
  b[1000] = 'b';
  ASSERT_OK(AtomicWriteFile(Path("a"), a));
  ASSERT_OK(AtomicWriteFile(Path("b"), b));
  DiffOptions o;
  o.stream_above = 0;
  auto d = BuildPatchFile(Path("a"), Path("b"), Path("p"), o);
  ASSERT_OK(d.status());
  EXPECT_NE(d->header.strategy, Strategy::kCodedTensor);
  EXPECT_EQ(d->patch_size, d->patch.size());
}

// A large model's conv weights after BatchNorm folding (each output row times its own scale):
// the streamed build tries one transform a tensor, and adds transform 5 where a sample of rows
// says it pays.
TEST_F(StreamedBuild, TriesScaledRowsWhereASampleSaysTheyPay) {
  const int64_t rows = 512, cols = 1152;
  const std::string w = testing::RandomNormalF32(static_cast<size_t>(rows * cols), 21);
  std::string folded = w;
  for (int64_t i = 0; i < rows * cols; ++i) {
    float f;
    std::memcpy(&f, folded.data() + 4 * i, 4);
    f *= 0.7f + 0.001f * static_cast<float>(i / cols);
    std::memcpy(folded.data() + 4 * i, &f, 4);
  }
  auto model = [&](const std::string& weights) {
    testing::SafetensorsBuilder b;
    b.AddTensor("conv.weight", DType::kF32, {rows, 128, 3, 3}, weights);
    return b.Build();
  };
  v1_ = model(w);
  v2_ = model(folded);
  ASSERT_OK(AtomicWriteFile(Path("v1"), v1_));
  ASSERT_OK(AtomicWriteFile(Path("v2"), v2_));
  DiffResult d;
  const std::string patch = Diff("p", 2, &d);
  EXPECT_EQ(d.header.strategy, Strategy::kCodedTensor);
  auto out = internal::ApplyInMemory(v1_, patch, 4096, {});
  ASSERT_OK(out.status());
  EXPECT_TRUE(*out == v2_);
  // 589,824 weights: rounding noise of a bit or two each with scaled rows, ~20 bits without.
  EXPECT_LT(patch.size(), v2_.size() / 8) << patch.size();
}

// The body of v1 -> v2 from EncodeCodedBodyParallel directly, with `options`.
Status ParallelBody(const std::string& v1, const std::string& v2,
                    const internal::ParallelCodedOptions& options, std::string* body,
                    uint64_t* done_bytes, int fail_write_at = -1) {
  auto f = tensor::DetectFormat(v2);
  auto bi = tensor::IndexModel(v1, f);
  auto ti = tensor::IndexModel(v2, f);
  OXIDE_RETURN_IF_ERROR(bi.status());
  OXIDE_RETURN_IF_ERROR(ti.status());
  internal::PlanStats ps;
  auto segments = internal::PlanTensorPatch(v1, *bi, v2, *ti, &ps);
  int writes = 0;
  auto write = [&](std::string_view s) {
    if (writes++ == fail_write_at) return IoError("injected write failure");
    body->append(s);
    return Status::Ok();
  };
  auto done = [&](const internal::Segment& s) { *done_bytes += s.length; };
  internal::CodedEncodeStats st;
  return internal::EncodeCodedBodyParallel(v1, v2, segments, options, write, done, &st);
}

TEST(ParallelCoded, LongSegmentsAreCutIntoWorkItems) {
  const std::string v1 = Model(0), v2 = Model(4);
  internal::ParallelCodedOptions o;
  o.threads = 3;
  o.max_item_bytes = 1 << 20;  // the 2.4 MB tensor becomes three items
  o.max_pending = 0;
  std::string body;
  uint64_t done = 0;
  ASSERT_OK(ParallelBody(v1, v2, o, &body, &done));
  EXPECT_EQ(done, v2.size()) << "every target byte is reported written once";
  PatchHeader h;
  h.strategy = Strategy::kCodedTensor;
  h.base_size = v1.size();
  h.base_sha256 = Sha256::Of(v1);
  h.target_size = v2.size();
  h.target_sha256 = Sha256::Of(v2);
  h.body_size = body.size();
  auto out = internal::ApplyInMemory(v1, EncodePatchHeader(h) + body, 0, {});
  ASSERT_OK(out.status());
  EXPECT_TRUE(*out == v2);
}

TEST(ParallelCoded, AWriteErrorStopsEveryThread) {
  const std::string v1 = Model(0), v2 = Model(4);
  internal::ParallelCodedOptions o;
  o.threads = 2;
  o.max_item_bytes = 1 << 20;
  for (int at = 0; at < 3; ++at) {
    std::string body;
    uint64_t done = 0;
    EXPECT_STATUS(ParallelBody(v1, v2, o, &body, &done, at), ErrorCode::kIo) << "write " << at;
  }
}

}  // namespace
}  // namespace oxide::delta

// Round trips through the builder and the streaming applier, and every error path of applying.
#include "delta/build/patch_builder.hpp"

#include <gtest/gtest.h>

#include <random>

#include "base/file_util.hpp"
#include "delta/build/apply_in_memory.hpp"
#include "delta/patch_applier.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/safetensors_builder.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::delta {
namespace {

using internal::StringSink;
using tensor::DType;

Result<std::string> Apply(std::string_view base, std::string_view patch, size_t chunk = 0) {
  return internal::ApplyInMemory(base, patch, chunk);
}

std::string Mlp(uint64_t finetune_seed, size_t out_classes = 10, bool rename = false) {
  testing::OnnxBuilder b;
  std::string w1 = testing::RandomNormalF32(64 * 32, 1);
  std::string w2 = testing::RandomNormalF32(32 * out_classes, 2);
  if (finetune_seed != 0) w2 = testing::FineTuneF32(w2, finetune_seed);
  b.AddInitializer(rename ? "layer.0.weight" : "w1", DType::kF32, {64, 32}, w1);
  b.AddInitializer(rename ? "layer.1.weight" : "w2", DType::kF32,
                   {static_cast<int64_t>(out_classes), 32}, w2);
  b.AddConstantNode("shape", "shape_out", DType::kI64, {2}, testing::I64Bytes({1, 64}));
  return b.Build();
}

DiffOptions Only(Strategy s) {
  DiffOptions o;
  o.try_tensor = s == Strategy::kTensor;
  o.try_binary = s == Strategy::kBinary;
  o.try_full = s == Strategy::kFull;
  o.max_patch_version = 2;  // the version-2 strategies alone (coded_patch_test.cpp covers v3)
  return o;
}

TEST(PatchBuilder, FineTunedOnnxRoundTripsInAnyChunking) {
  std::string v1 = Mlp(0), v2 = Mlp(7);
  auto d = BuildPatch(v1, v2);
  ASSERT_OK(d.status());
  EXPECT_TRUE(d->header.strategy == Strategy::kTensor ||
              d->header.strategy == Strategy::kCodedTensor);
  EXPECT_LT(d->patch.size(), v2.size() / 2);
  for (size_t chunk : {0u, 1u, 3u, 4096u}) {
    auto out = Apply(v1, d->patch, chunk);
    ASSERT_OK(out.status());
    EXPECT_EQ(*out, v2) << "chunk " << chunk;
  }
}

TEST(PatchBuilder, EveryStrategyRoundTrips) {
  std::string v1 = testing::SampleSafetensors(1), v2 = testing::SampleSafetensors(1, 5);
  for (Strategy s : {Strategy::kTensor, Strategy::kBinary, Strategy::kFull}) {
    auto d = BuildPatch(v1, v2, Only(s));
    ASSERT_OK(d.status());
    EXPECT_EQ(d->header.strategy, s);
    auto out = Apply(v1, d->patch, 777);
    ASSERT_OK(out.status());
    EXPECT_EQ(*out, v2) << ToString(s);
  }
}

TEST(PatchBuilder, IdenticalFilesCostAlmostNothing) {
  std::string v1 = Mlp(0);
  auto d = BuildPatch(v1, v1);
  ASSERT_OK(d.status());
  EXPECT_LT(d->patch.size(), kPatchHeaderSize + 64);
  EXPECT_EQ(*Apply(v1, d->patch), v1);
}

TEST(PatchBuilder, ResizedRenamedAndUnknownInputsRoundTrip) {
  std::string base = Mlp(0);
  std::vector<std::string> targets = {Mlp(3, 11), Mlp(0, 10, true), Mlp(4, 9)};
  std::mt19937 rng(5);
  std::string noise(5000, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  targets.push_back(noise);
  targets.push_back("");
  for (const auto& t : targets) {
    auto d = BuildPatch(base, t);
    ASSERT_OK(d.status());
    auto out = Apply(base, d->patch, 100);
    ASSERT_OK(out.status());
    EXPECT_EQ(*out, t);
  }
  // An empty base is a model with no tensors: the tensor-aware candidates compete with the full
  // file (plane-grouped literals usually win on float weights).
  auto from_empty = BuildPatch("", Mlp(0));
  ASSERT_OK(from_empty.status());
  EXPECT_NE(from_empty->tensor_candidate, 0u);
  EXPECT_NE(from_empty->header.strategy, Strategy::kBinary);
  EXPECT_EQ(*Apply("", from_empty->patch), Mlp(0));
}

TEST(PatchBuilder, RenamedTensorsAreFoundByContent) {
  std::string base = Mlp(0), renamed = Mlp(0, 10, true);
  auto d = BuildPatch(base, renamed, Only(Strategy::kTensor));
  ASSERT_OK(d.status());
  EXPECT_LT(d->patch.size(), 400u) << "tensor bytes must be copied, not shipped";
}

class ApplyErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    v1 = Mlp(0);
    v2 = Mlp(9);
    auto d = BuildPatch(v1, v2, Only(Strategy::kTensor));
    ASSERT_OK(d.status());
    patch = d->patch;
  }
  std::string v1, v2, patch;
};

TEST_F(ApplyErrors, WrongBaseIsFailedPrecondition) {
  std::string other = v1;
  other[other.size() / 2] ^= 1;
  EXPECT_STATUS(Apply(other, patch).status(), ErrorCode::kFailedPrecondition);
  EXPECT_STATUS(Apply(v1 + "x", patch).status(), ErrorCode::kFailedPrecondition);
}

TEST_F(ApplyErrors, WrongBaseNamesTheBasesRealDigest) {
  std::string other = v1;
  other[other.size() / 2] ^= 1;
  Status st = Apply(other, patch).status();
  ASSERT_STATUS(st, ErrorCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("base SHA-256 " + ToHex(Sha256::Of(other))), std::string::npos)
      << st.message();
  EXPECT_EQ(st.message().find(ToHex(Sha256::Of(""))), std::string::npos)
      << "the digest of empty input means the hasher was finished twice";
}

TEST_F(ApplyErrors, EveryTruncationIsCorrupt) {
  for (size_t n = 0; n < patch.size(); n += (n < 200 ? 1 : 97)) {
    EXPECT_STATUS(Apply(v1, patch.substr(0, n)).status(), ErrorCode::kCorrupt) << "length " << n;
  }
}

TEST_F(ApplyErrors, TrailingBytesAreCorrupt) {
  EXPECT_STATUS(Apply(v1, patch + "z").status(), ErrorCode::kCorrupt);
}

TEST_F(ApplyErrors, FlippedBodyBytesNeverYieldATarget) {
  for (size_t i = kPatchHeaderSize; i < patch.size(); i += 13) {
    std::string bad = patch;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    auto st = Apply(v1, bad).status();
    EXPECT_TRUE(st.code() == ErrorCode::kCorrupt || st.code() == ErrorCode::kUnsupported)
        << "byte " << i << ": " << st.ToString();
  }
}

TEST_F(ApplyErrors, ApplyPatchFileLeavesNoOutputOnFailure) {
  testing::TempDir dir;
  ASSERT_OK(AtomicWriteFile(dir.File("base"), v1 + "!"));
  ASSERT_OK(AtomicWriteFile(dir.File("patch"), patch));
  EXPECT_STATUS(ApplyPatchFile(dir.File("base"), dir.File("patch"), dir.File("out")).status(),
                ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(ReadableFile::Open(dir.File("out")).ok());
  ASSERT_OK(AtomicWriteFile(dir.File("base"), v1));
  ASSERT_OK(ApplyPatchFile(dir.File("base"), dir.File("patch"), dir.File("out")).status());
  EXPECT_EQ(*ReadFileToString(dir.File("out")), v2);
}

TEST(ApplyLimits, TooSmallWindowIsResourceExhausted) {
  // Large enough that zstd cannot decode the frame in one shot into its output buffer.
  std::string v1 = testing::RandomNormalF32(200000, 1);
  std::string v2 = testing::FineTuneF32(v1, 2);
  auto d = BuildPatch(v1, v2, Only(Strategy::kBinary));
  ASSERT_OK(d.status());
  auto src = BaseSource::FromMemory(v1);
  StringSink sink;
  ApplyLimits limits;
  limits.max_window_bytes = 64 * 1024;
  auto applier = PatchApplier::Create(src.get(), &sink, limits);
  Status st = applier->Feed(reinterpret_cast<const uint8_t*>(d->patch.data()), d->patch.size());
  if (st.ok()) st = applier->Finish().status();
  EXPECT_STATUS(st, ErrorCode::kResourceExhausted);
}

// A base whose View() is counted: an encrypted base (agent/model_at_rest.hpp) decrypts the whole
// model into memory there, so a base the window cannot cover must be refused before View().
class CountingViewBase final : public BaseSource {
 public:
  explicit CountingViewBase(std::string_view bytes) : inner_(BaseSource::FromMemory(bytes)) {}
  uint64_t size() const override { return inner_->size(); }
  Status ReadAt(uint64_t offset, void* dst, size_t n) const override {
    return inner_->ReadAt(offset, dst, n);
  }
  Result<std::string_view> View() override {
    ++views;
    return inner_->View();
  }
  int views = 0;

 private:
  std::unique_ptr<BaseSource> inner_;
};

TEST(ApplyLimits, BinaryBaseLargerThanTheWindowIsRefusedBeforeItIsViewed) {
  std::string v1 = testing::RandomNormalF32(200000, 1);
  std::string v2 = testing::FineTuneF32(v1, 2);
  auto d = BuildPatch(v1, v2, Only(Strategy::kBinary));
  ASSERT_OK(d.status());
  CountingViewBase base(v1);
  StringSink sink;
  ApplyLimits limits;
  limits.max_window_bytes = v1.size() - 1;
  auto applier = PatchApplier::Create(&base, &sink, limits);
  Status st = applier->Feed(reinterpret_cast<const uint8_t*>(d->patch.data()), d->patch.size());
  EXPECT_STATUS(st, ErrorCode::kResourceExhausted);
  EXPECT_EQ(base.views, 0) << "the whole base was mapped or decrypted before the refusal";
}

}  // namespace
}  // namespace oxide::delta

namespace oxide::delta {
namespace {

TEST(PatchBuilder, ReorderedAndConcatenatedWeightsComeFromTheBase) {
  // A re-export: tensors renamed, re-ordered, and two of them concatenated into one, with a
  // different shape, so neither name, content nor shape matching can pair them.
  std::string a = testing::RandomNormalF32(4096, 11), b = testing::RandomNormalF32(4096, 12);
  std::string c = testing::RandomNormalF32(2048, 13);
  testing::SafetensorsBuilder v1;
  v1.AddTensor("a", DType::kF32, {64, 64}, a).AddTensor("b", DType::kF32, {64, 64}, b);
  v1.AddTensor("c", DType::kF32, {2048}, c);
  testing::SafetensorsBuilder v2;
  v2.AddTensor("fused", DType::kF32, {128, 64}, b + a).AddTensor("c2", DType::kF32, {32, 64}, c);
  std::string base = v1.Build(), target = v2.Build();
  auto d = BuildPatch(base, target, Only(Strategy::kTensor));
  ASSERT_OK(d.status());
  EXPECT_LT(d->patch.size(), 1000u) << "the fused tensor must be copied from the base";
  EXPECT_EQ(*Apply(base, d->patch, 333), target);
}

}  // namespace
}  // namespace oxide::delta

// Packed 4-bit weights (ONNX INT4/UINT4, TFLite INT4/UINT4) made in code, and a re-quantised
// release of them (30 % of the values one step up or down): the tensor plan codes each int4
// tensor as a DELTA against its base tensor (not a literal, not the whole-file fallback), and the
// patch rebuilds the target byte for byte, at well under the format-agnostic patch's size.
#include <gtest/gtest.h>

#include <cstdio>

#include "delta/build/apply_in_memory.hpp"
#include "delta/build/patch_builder.hpp"
#include "delta/build/tensor_encoder.hpp"
#include "delta/build/tensor_plan.hpp"
#include "delta/patch_format.hpp"
#include "tensor/tensor_index.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/packed_int4.hpp"
#include "testing/status_matchers.hpp"
#include "testing/tflite_builder.hpp"

namespace oxide::delta {
namespace {

using tensor::DType;
using testing::PackInt4;
using testing::RandomInt4;
using testing::RequantizeInt4;
using testing::TfliteBuilder;

constexpr int64_t kRows = 97, kCols = 683;  // an odd element count: the last byte is padded
constexpr int64_t kElements = kRows * kCols;

// The packed weights of tensor `seed`, re-quantised when `tuned`.
std::string Int4Weights(uint64_t seed, bool is_signed, bool tuned) {
  std::vector<int8_t> v = RandomInt4(static_cast<size_t>(kElements), seed, is_signed);
  return PackInt4(tuned ? RequantizeInt4(v, 100 + seed, is_signed) : v);
}

std::string Int4Onnx(bool tuned) {
  testing::OnnxBuilder b;
  b.AddInitializer("fc1.weight_q", DType::kI4, {kRows, kCols}, Int4Weights(1, true, tuned));
  b.AddInitializer("fc1.scale", DType::kF32, {kRows}, testing::RandomNormalF32(kRows, 2));
  b.AddInitializer("fc2.weight_q", DType::kU4, {kRows, kCols}, Int4Weights(3, false, tuned));
  return b.Build();
}

std::string Int4Tflite(bool tuned) {
  TfliteBuilder b;
  const uint32_t w1 = b.AddBuffer(Int4Weights(1, true, tuned));
  const uint32_t w2 = b.AddBuffer(Int4Weights(3, false, tuned));
  b.AddTensor("input", TfliteBuilder::kFloat32, {1, kCols}, 0);
  b.AddTensor("fc1/weights", TfliteBuilder::kInt4, {kRows, kCols}, w1);
  b.AddTensor("fc2/weights", TfliteBuilder::kUInt4, {kRows, kCols}, w2);
  return b.Build();
}

// Every int4 tensor of `target` is planned as one DELTA of its whole length against the base
// tensor of the same name, and written with a residual transform (XOR or SUB8), not as a literal.
void ExpectInt4TensorsDelta(const std::string& base, const std::string& target) {
  Result<tensor::TensorIndex> bi = tensor::IndexModel(base, tensor::DetectFormat(base));
  Result<tensor::TensorIndex> ti = tensor::IndexModel(target, tensor::DetectFormat(target));
  ASSERT_OK(bi.status());
  ASSERT_OK(ti.status());
  internal::PlanStats plan_stats;
  const std::vector<internal::Segment> plan =
      internal::PlanTensorPatch(base, *bi, target, *ti, &plan_stats);
  internal::TensorEncodeStats enc;
  ASSERT_OK(internal::EncodeTensorBody(base, target, plan, 3, &enc).status());
  ASSERT_EQ(enc.choices.size(), plan.size());
  size_t int4 = 0;
  for (const tensor::TensorInfo& t : ti->tensors) {
    if (!tensor::IsPacked4(t.dtype)) continue;
    ++int4;
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.length, static_cast<uint64_t>(kElements / 2 + 1));
    bool found = false;
    for (size_t i = 0; i < plan.size(); ++i) {
      if (plan[i].target_offset != t.offset) continue;
      found = true;
      EXPECT_EQ(plan[i].kind, internal::Segment::Kind::kDelta);
      EXPECT_EQ(plan[i].length, t.length);
      const uint8_t tr = enc.choices[i].transform;
      EXPECT_TRUE(tr == static_cast<uint8_t>(format::Transform::kXor) ||
                  tr == static_cast<uint8_t>(format::Transform::kSub8))
          << int{tr};
    }
    EXPECT_TRUE(found);
  }
  EXPECT_EQ(int4, 2u);
  EXPECT_EQ(plan_stats.matched_by_name, ti->tensors.size());
}

// The patch is tensor-aware, rebuilds the target (fed whole and in odd pieces), also as a
// version-2 patch, and is under `max_ratio` of the format-agnostic patch.
void ExpectRoundTrip(const std::string& v1, const std::string& v2, double max_ratio) {
  ASSERT_NE(v1, v2);
  ASSERT_EQ(v1.size(), v2.size());
  for (int version : {3, 2}) {
    SCOPED_TRACE(version);
    DiffOptions opt;
    opt.max_patch_version = version;
    Result<DiffResult> d = BuildPatch(v1, v2, opt);
    ASSERT_OK(d.status());
    EXPECT_TRUE(d->header.strategy == Strategy::kTensor ||
                d->header.strategy == Strategy::kCodedTensor);
    for (size_t chunk : {size_t{0}, size_t{7}, size_t{4096}}) {
      Result<std::string> out = internal::ApplyInMemory(v1, d->patch, chunk);
      ASSERT_OK(out.status());
      EXPECT_TRUE(*out == v2) << "chunk " << chunk;
    }
    DiffOptions binary_only;
    binary_only.try_tensor = false;
    binary_only.try_full = false;
    Result<DiffResult> b = BuildPatch(v1, v2, binary_only);
    ASSERT_OK(b.status());
    std::printf("int4 %s v%d: target %zu B, tensor patch %zu B, format-agnostic %zu B (%.2f)\n",
                std::string(tensor::ToString(tensor::DetectFormat(v2))).c_str(), version, v2.size(),
                d->patch.size(), b->patch.size(),
                static_cast<double>(d->patch.size()) / static_cast<double>(b->patch.size()));
    EXPECT_LT(static_cast<double>(d->patch.size()),
              max_ratio * static_cast<double>(b->patch.size()));
  }
}

TEST(Int4Patch, OnnxInt4AndUint4AreDeltaCoded) {
  ExpectInt4TensorsDelta(Int4Onnx(false), Int4Onnx(true));
}

TEST(Int4Patch, TfliteInt4AndUint4AreDeltaCoded) {
  ExpectInt4TensorsDelta(Int4Tflite(false), Int4Tflite(true));
}

TEST(Int4Patch, RequantisedOnnxRoundTrips) {
  ExpectRoundTrip(Int4Onnx(false), Int4Onnx(true), 0.6);
}

TEST(Int4Patch, RequantisedTfliteRoundTrips) {
  ExpectRoundTrip(Int4Tflite(false), Int4Tflite(true), 0.6);
}

}  // namespace
}  // namespace oxide::delta

// Patch format version 3 (coded tensor, docs/format/patch-v3.md): round trips of every element
// kind through the builder and the streaming applier, first installs against an empty base, and
// the must-reject table of the chunk layer. Correctness only: sizes depend on the codec.
#include <gtest/gtest.h>
#include <zstd.h>

#include <cstring>
#include <random>

#include "base/coding.hpp"
#include "base/file_util.hpp"
#include "codec/residual_coder.hpp"
#include "delta/build/apply_in_memory.hpp"
#include "delta/build/coded_encoder.hpp"
#include "delta/build/patch_builder.hpp"
#include "delta/build/tensor_plan.hpp"
#include "delta/build/zstd_encoder.hpp"
#include "delta/patch_applier.hpp"
#include "delta/patch_format.hpp"
#include "delta/transform.hpp"
#include "tensor/tensor_index.hpp"
#include "testing/gguf_builder.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/safetensors_builder.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::delta {
namespace {

using format::Chunk;
using tensor::DType;

Result<std::string> Apply(std::string_view base, std::string_view patch, size_t chunk = 0,
                          ApplyLimits limits = {}) {
  return internal::ApplyInMemory(base, patch, chunk, limits);
}

std::string V3Patch(std::string_view base, std::string_view target, const std::string& body) {
  PatchHeader h;
  h.strategy = Strategy::kCodedTensor;
  h.base_size = base.size();
  h.base_sha256 = Sha256::Of(base.data(), base.size());
  h.target_size = target.size();
  h.target_sha256 = Sha256::Of(target.data(), target.size());
  h.body_size = body.size();
  return EncodePatchHeader(h) + body;
}

// A coded-tensor patch of `target` against `base` with every tensor forced to `choice`.
std::string ForcedV3(std::string_view base, std::string_view target, internal::CodedChoice choice,
                     internal::CodedEncodeStats* st) {
  tensor::ModelFormat f = tensor::DetectFormat(target);
  tensor::TensorIndex bi;
  bi.format = f;
  if (!base.empty()) bi = *tensor::IndexModel(base, f);
  tensor::TensorIndex ti = *tensor::IndexModel(target, f);
  internal::PlanStats ps;
  auto segments = internal::PlanTensorPatch(base, bi, target, ti, &ps);
  auto body = internal::EncodeCodedBody(base, target, segments, 3, choice, nullptr, st);
  if (!body.ok()) {
    // Only kAuto may decline (no tensor smaller coded); the caller checks stats.
    EXPECT_EQ(choice, internal::CodedChoice::kAuto) << body.status().ToString();
    EXPECT_STATUS(body.status(), ErrorCode::kUnsupported);
    return std::string();
  }
  return V3Patch(base, target, *body);
}

std::string Bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() % 7);  // compressible, like quantised weights
  return s;
}

// A SafeTensors model holding one tensor of each element kind the codec models, one of them
// over 1 MiB (several blocks); `finetune` != 0 changes every tensor slightly.
std::string KindsModel(uint64_t finetune) {
  std::string f32 = testing::RandomNormalF32(300 * 1024, 1);  // 1.2 MB
  std::string half = testing::RandomNormalF32(8192, 2);
  std::string i8 = Bytes(20000, 3);
  if (finetune != 0) {
    f32 = testing::FineTuneF32(f32, finetune);
    half = testing::FineTuneF32(half, finetune + 1);
    for (size_t i = 0; i < i8.size(); i += 97) i8[i] = static_cast<char>(i8[i] + 1);
  }
  testing::SafetensorsBuilder b;
  b.AddTensor("emb", DType::kF32, {300, 1024}, f32);
  b.AddTensor("h16", DType::kF16, {8192}, testing::F32ToF16Bytes(half));
  b.AddTensor("hbf", DType::kBF16, {8192}, testing::F32ToBF16Bytes(half));
  b.AddTensor("q8", DType::kI8, {20000}, i8);
  b.AddTensor("tiny", DType::kF32, {4}, testing::RandomNormalF32(4, 9));
  return b.Build();
}

std::string OnnxModel(uint64_t finetune) {
  testing::OnnxBuilder b;
  std::string w1 = testing::RandomNormalF32(64 * 32, 1);
  std::string w2 = testing::RandomNormalF32(32 * 64, 2);
  if (finetune != 0) w2 = testing::FineTuneF32(w2, finetune);
  b.AddInitializer("w1", DType::kF32, {64, 32}, w1);
  b.AddInitializer("w2", DType::kF32, {32, 64}, w2);
  b.AddConstantNode("shape", "shape_out", DType::kI64, {2}, testing::I64Bytes({1, 64}));
  return b.Build();
}

void ExpectRoundTrip(const std::string& base, const std::string& target, const std::string& patch) {
  for (size_t chunk : {size_t{0}, size_t{1}, size_t{7}, size_t{4096}}) {
    auto out = Apply(base, patch, chunk);
    ASSERT_OK(out.status());
    EXPECT_TRUE(*out == target) << "chunk " << chunk;
  }
}

TEST(CodedPatch, EveryElementKindRoundTripsCoded) {
  const std::string v1 = KindsModel(0), v2 = KindsModel(7);
  internal::CodedEncodeStats st;
  std::string patch = ForcedV3(v1, v2, internal::CodedChoice::kAlwaysCoded, &st);
  EXPECT_EQ(patch[4], 3) << "version byte";
  EXPECT_EQ(patch[5], 3) << "strategy byte";
  EXPECT_EQ(st.coded_chunks, 4u) << "fp32, fp16, bf16 and int8 (the tiny tensor is unchanged)";
  EXPECT_GE(st.zstd_chunks, 1u) << "framing";
  ExpectRoundTrip(v1, v2, patch);
}

// BatchNorm folded into a conv's weights by an ONNX export: a fine-tune that moves the
// BatchNorm rescales every output channel (row) of the weight. Transform 5 predicts each row as
// base * scale, so the residual is rounding noise; the same bytes as one flat tensor (no rows)
// cannot use it.
std::string RescaledModel(bool rescale, bool flat) {
  const int64_t rows = 64, cols = 288;
  std::string w = testing::RandomNormalF32(static_cast<size_t>(rows * cols), 11);
  if (rescale) {
    for (int64_t r = 0; r < rows; ++r) {
      const float scale = 0.8f + 0.005f * static_cast<float>(r);
      for (int64_t k = 0; k < cols; ++k) {
        float f;
        std::memcpy(&f, w.data() + 4 * (r * cols + k), 4);
        f *= scale;
        if (k % 50 == 7) f += 1e-4f;  // a few weights also fine-tuned
        std::memcpy(w.data() + 4 * (r * cols + k), &f, 4);
      }
    }
  }
  testing::SafetensorsBuilder b;
  if (flat) {
    b.AddTensor("conv.weight", DType::kF32, {rows * cols}, w);
  } else {
    b.AddTensor("conv.weight", DType::kF32, {rows, 32, 3, 3}, w);
  }
  return b.Build();
}

TEST(CodedPatch, RescaledRowsCostRoundingNoise) {
  internal::CodedEncodeStats st2, st1;
  const std::string b2 = RescaledModel(false, false), t2 = RescaledModel(true, false);
  const std::string b1 = RescaledModel(false, true), t1 = RescaledModel(true, true);
  std::string rows = ForcedV3(b2, t2, internal::CodedChoice::kAuto, &st2);
  std::string flat = ForcedV3(b1, t1, internal::CodedChoice::kAuto, &st1);
  ASSERT_FALSE(rows.empty());
  ASSERT_FALSE(flat.empty());
  ExpectRoundTrip(b2, t2, rows);
  ExpectRoundTrip(b1, t1, flat);
  // 18,432 weights: about 20 bits each without rows, a bit or two with them.
  EXPECT_LT(rows.size() * 5, flat.size()) << rows.size() << " vs " << flat.size();
  // A corrupted scale changes the rebuilt bytes: the target digest must catch it.
  const size_t at = rows.find(std::string(1, static_cast<char>(format::kScaledSubOrd)) + '\x03');
  ASSERT_NE(at, std::string::npos) << "no CODED chunk with transform 5";
  ASSERT_EQ(rows[at + 2], 4) << "width";
  // After kind and width: payload length (2 bytes), row length 288 (2), first row, count, then
  // the scales.
  std::string bad = rows;
  bad[at + 3 + 2 + 2 + 1 + 1 + 2] ^= 0x40;
  EXPECT_STATUS(Apply(b2, bad).status(), ErrorCode::kCorrupt);
}

TEST(CodedPatch, ZstdOnlyAndMixedBodiesRoundTrip) {
  const std::string v1 = KindsModel(0), v2 = KindsModel(5);
  for (auto choice : {internal::CodedChoice::kNeverCoded, internal::CodedChoice::kAuto}) {
    internal::CodedEncodeStats st;
    std::string patch = ForcedV3(v1, v2, choice, &st);
    if (choice == internal::CodedChoice::kNeverCoded) {
      EXPECT_EQ(st.coded_chunks, 0u);
    }
    if (patch.empty()) continue;  // kAuto found no tensor worth coding (codec-dependent)
    ExpectRoundTrip(v1, v2, patch);
  }
  const std::string o1 = OnnxModel(0), o2 = OnnxModel(3);
  internal::CodedEncodeStats st;
  ExpectRoundTrip(o1, o2, ForcedV3(o1, o2, internal::CodedChoice::kAlwaysCoded, &st));
  EXPECT_EQ(st.coded_chunks, 1u) << "only w2 changed";
}

TEST(CodedPatch, BuilderKeepsTheSmallestAndHonoursMaxPatchVersion) {
  const std::string v1 = KindsModel(0), v2 = KindsModel(7);
  auto d = BuildPatch(v1, v2);
  ASSERT_OK(d.status());
  EXPECT_TRUE(d->header.strategy == Strategy::kTensor ||
              d->header.strategy == Strategy::kCodedTensor);
  uint64_t best = d->tensor_candidate;
  if (d->coded_candidate != 0) best = std::min(best, d->coded_candidate);
  EXPECT_EQ(d->patch.size(), best);
  ExpectRoundTrip(v1, v2, d->patch);

  DiffOptions v2_only;
  v2_only.max_patch_version = 2;
  auto old = BuildPatch(v1, v2, v2_only);
  ASSERT_OK(old.status());
  EXPECT_EQ(old->coded_candidate, 0u);
  EXPECT_NE(old->header.strategy, Strategy::kCodedTensor);
  EXPECT_EQ(old->patch[4], 2);
}

TEST(CodedPatch, EmptyBaseRebuildsEveryModel) {
  for (const std::string& model : {KindsModel(0), OnnxModel(0), testing::SampleGguf()}) {
    internal::CodedEncodeStats st;
    std::string forced = ForcedV3("", model, internal::CodedChoice::kAlwaysCoded, &st);
    EXPECT_GT(st.coded_chunks, 0u);
    ExpectRoundTrip("", model, forced);
    auto d = BuildPatch("", model);
    ASSERT_OK(d.status());
    EXPECT_NE(d->tensor_candidate, 0u) << "an empty base is a model with no tensors";
    ExpectRoundTrip("", model, d->patch);
  }
}

TEST(CodedPatch, EmptyBaseFileRoundTripsThroughTheFileApi) {
  testing::TempDir dir;
  const std::string model = KindsModel(0);
  ASSERT_OK(AtomicWriteFile(dir.path() + "/empty", ""));
  ASSERT_OK(AtomicWriteFile(dir.path() + "/model", model));
  auto d = BuildPatchFile(dir.path() + "/empty", dir.path() + "/model", dir.path() + "/p");
  ASSERT_OK(d.status());
  EXPECT_LT(d->patch.size(), model.size());
  ASSERT_OK(ApplyPatchFile(dir.path() + "/empty", dir.path() + "/p", dir.path() + "/out").status());
  auto out = ReadFileToString(dir.path() + "/out");
  ASSERT_OK(out.status());
  EXPECT_TRUE(*out == model);
}

// --- must-reject table of the chunk layer -------------------------------------------------

// A frame without the content checksum the format requires (zstd's simple API omits it).
size_t ZstdCompressNoChecksum(const std::string& src, char* dst, size_t cap) {
  return ZSTD_compress(dst, cap, src.data(), src.size(), 3);
}

std::string ZstdChunk(const std::string& records, bool checksum = true, int window_log = 0) {
  std::string frame;
  if (checksum) {
    internal::ZstdParams p;
    p.level = 3;
    p.window_log = window_log;
    auto enc = internal::ZstdEncoder::Create(p, {}, &frame);
    EXPECT_TRUE(enc.ok());
    EXPECT_TRUE((*enc)->Write(records.data(), records.size()).ok());
    EXPECT_TRUE((*enc)->Finish().ok());
  } else {
    frame.resize(ZSTD_COMPRESSBOUND(records.size()) + 64);
    frame.resize(ZstdCompressNoChecksum(records, frame.data(), frame.size()));
  }
  std::string c(1, static_cast<char>(Chunk::kZstd));
  PutVarint64(&c, frame.size());
  return c + frame;
}

std::string CopyRecord(uint64_t off, uint64_t len) {
  std::string r(1, static_cast<char>(format::Op::kCopy));
  PutVarint64(&r, off);
  PutVarint64(&r, len);
  return r;
}

std::string CodedHeader(uint64_t off, uint64_t len, uint8_t t, uint8_t kind, uint8_t width) {
  std::string c(1, static_cast<char>(Chunk::kCoded));
  PutVarint64(&c, off);
  PutVarint64(&c, len);
  c.push_back(static_cast<char>(t));
  c.push_back(static_cast<char>(kind));
  c.push_back(static_cast<char>(width));
  return c;
}

// One coded block of `residual` (with base bytes `base`, may be empty), length-prefixed.
std::string CodedBlock(const codec::BlockInfo& info, std::string_view residual,
                       std::string_view base) {
  std::string payload;
  codec::EncodeResidualBlock(info, reinterpret_cast<const uint8_t*>(residual.data()),
                             base.empty() ? nullptr : reinterpret_cast<const uint8_t*>(base.data()),
                             residual.size(), &payload);
  std::string out;
  PutVarint64(&out, payload.size());
  return out + payload;
}

struct Fixture {
  std::string base = Bytes(8192, 11);
  std::string literal = Bytes(1000, 12);
  std::string xored;  // target bytes of the XOR chunk over base[100, 2100)
  std::string target;
  std::string copy_chunk, literal_chunk, xor_chunk;

  Fixture() {
    std::string changed = base.substr(100, 2000);
    for (size_t i = 0; i < changed.size(); i += 13) changed[i] = static_cast<char>(changed[i] ^ 5);
    std::string residual(changed.size(), '\0');
    ForwardTransform(format::Transform::kXor, 1, reinterpret_cast<const uint8_t*>(changed.data()),
                     reinterpret_cast<const uint8_t*>(base.data()) + 100,
                     reinterpret_cast<uint8_t*>(residual.data()), residual.size());
    target = base.substr(0, 100) + literal + changed;
    copy_chunk = ZstdChunk(CopyRecord(0, 100));
    literal_chunk = CodedHeader(0, literal.size(), 0, 0, 1) +
                    CodedBlock({codec::ElementKind::kBytes, 1, 0}, literal, {});
    xor_chunk = CodedHeader(100, 2000, 1, 0, 1) +
                CodedBlock({codec::ElementKind::kBytes, 1, 1}, residual, base.substr(100, 2000));
  }
  std::string Good() const { return copy_chunk + literal_chunk + xor_chunk + End(); }
  static std::string End() { return std::string(1, static_cast<char>(Chunk::kEnd)); }
};

struct Reject {
  const char* name;
  std::string body;
  ErrorCode code;
  std::string message;  // substring of the error message
};

TEST(CodedPatch, MustRejectTable) {
  Fixture f;
  const std::string end = Fixture::End();
  ASSERT_OK(Apply(f.base, V3Patch(f.base, f.target, f.Good())).status());
  std::string good = f.Good();
  std::string huge_payload = CodedHeader(0, 1000, 0, 0, 1);
  PutVarint64(&huge_payload, format::kMaxCodedPayload + 1);
  std::string short_payload = CodedHeader(0, f.literal.size(), 0, 0, 1);
  PutVarint64(&short_payload, 3);
  short_payload += "abc";
  std::string bad_varint(1, static_cast<char>(Chunk::kZstd));
  bad_varint += std::string(10, '\xff');
  const std::string big_window_records = CopyRecord(0, 100);
  const std::vector<Reject> table = {
      {"truncated chunk", good.substr(0, f.copy_chunk.size() + 20), ErrorCode::kCorrupt,
       "truncated inside a chunk"},
      {"bad chunk tag", f.copy_chunk + std::string(1, '\x07'), ErrorCode::kUnsupported,
       "unknown chunk tag 7"},
      {"payload length over the bound", f.copy_chunk + huge_payload, ErrorCode::kCorrupt,
       "exceeds the format's bound"},
      {"payload the codec rejects", f.copy_chunk + short_payload + f.xor_chunk + end,
       ErrorCode::kCorrupt, "coded block"},
      {"coded range outside the base",
       f.copy_chunk + f.literal_chunk + CodedHeader(f.base.size() - 10, 2000, 1, 0, 1),
       ErrorCode::kCorrupt, "past the end of the base"},
      {"overlong output", f.copy_chunk + CodedHeader(0, f.target.size(), 0, 0, 1),
       ErrorCode::kCorrupt, "longer than the rest of the target"},
      {"overlong copy in a zstd chunk", ZstdChunk(CopyRecord(0, f.target.size() + 1)),
       ErrorCode::kCorrupt, "longer than the rest of the target"},
      {"literal with a base offset", f.copy_chunk + CodedHeader(5, 1000, 0, 0, 1),
       ErrorCode::kCorrupt, "names a base offset"},
      {"unknown transform", f.copy_chunk + CodedHeader(100, 2000, 6, 0, 1), ErrorCode::kUnsupported,
       "unknown transform"},
      {"scaled transform on bytes", f.copy_chunk + CodedHeader(100, 2000, 5, 0, 1),
       ErrorCode::kUnsupported, "fp32 only"},
      {"unknown element kind", f.copy_chunk + CodedHeader(0, 1000, 0, 9, 1),
       ErrorCode::kUnsupported, "unknown element kind"},
      {"width 3", f.copy_chunk + CodedHeader(0, 1000, 0, 0, 3), ErrorCode::kUnsupported, "width 3"},
      {"fp32 of width 2", f.copy_chunk + CodedHeader(0, 1000, 0, 3, 2), ErrorCode::kUnsupported,
       "width 2"},
      {"missing END", good.substr(0, good.size() - 1), ErrorCode::kCorrupt, "no END chunk"},
      {"END too early", f.copy_chunk + end, ErrorCode::kCorrupt, "ends after 100 of"},
      {"trailing bytes", good + "x", ErrorCode::kCorrupt, "after its END chunk"},
      {"zstd chunk without checksum", ZstdChunk(CopyRecord(0, 100), false), ErrorCode::kCorrupt,
       "no content checksum"},
      {"zstd chunk not a frame", std::string("\x01\x06garbag", 8), ErrorCode::kCorrupt,
       "not a zstd frame"},
      {"zstd chunk of length 0", std::string("\x01\x00", 2), ErrorCode::kCorrupt, "out of range"},
      {"zstd chunk length varint too long", bad_varint, ErrorCode::kCorrupt, "varint"},
      {"zstd chunk ending inside a record", ZstdChunk(CopyRecord(0, 100).substr(0, 2)),
       ErrorCode::kCorrupt, "inside a record"},
      {"END record inside a zstd chunk", ZstdChunk(CopyRecord(0, 100) + std::string(1, '\0')),
       ErrorCode::kCorrupt, "END record inside a zstd chunk"},
      {"zstd chunk with two frames",
       [&] {
         std::string c = ZstdChunk(CopyRecord(0, 50));
         std::string second = ZstdChunk(CopyRecord(50, 50));
         std::string frames = c.substr(2) + second.substr(2);
         std::string out(1, static_cast<char>(Chunk::kZstd));
         PutVarint64(&out, frames.size());
         return out + frames;
       }(),
       ErrorCode::kCorrupt, "after its frame"},
      {"zstd window over 2^23", ZstdChunk(big_window_records, true, 24), ErrorCode::kCorrupt,
       "window"},
  };
  for (const Reject& r : table) {
    std::string patch = V3Patch(f.base, f.target, r.body);
    for (size_t chunk : {size_t{0}, size_t{1}}) {
      Status st = Apply(f.base, patch, chunk).status();
      EXPECT_EQ(st.code(), r.code) << r.name << " (chunk " << chunk << "): " << st.ToString();
      EXPECT_NE(st.ToString().find(r.message), std::string::npos)
          << r.name << ": " << st.ToString();
    }
  }
  // A wrong base is reported in preference to any of these.
  std::string other = f.base;
  other[0] = static_cast<char>(other[0] ^ 1);
  Status st = Apply(other, V3Patch(f.base, f.target, table[1].body)).status();
  EXPECT_EQ(st.code(), ErrorCode::kFailedPrecondition) << st.ToString();
  // A device whose window limit is below 2^23 runs out of memory rather than calls it corrupt.
  ApplyLimits small;
  small.max_window_bytes = 1u << 20;
  st = Apply(f.base, V3Patch(f.base, f.target, table.back().body), 0, small).status();
  EXPECT_EQ(st.code(), ErrorCode::kResourceExhausted) << st.ToString();
}

TEST(CodedPatch, VersionAndStrategyMustAgree) {
  Fixture f;
  std::string patch = V3Patch(f.base, f.target, f.Good());
  auto poke = [](std::string p, size_t at, char v) {
    p[at] = v;
    Digest d = Sha256::Of(p.data(), kPatchHeaderSize - 4);
    std::memcpy(p.data() + kPatchHeaderSize - 4, d.data(), 4);
    return p;
  };
  EXPECT_STATUS(Apply(f.base, poke(patch, 4, 2)).status(), ErrorCode::kUnsupported);
  EXPECT_STATUS(Apply(f.base, poke(patch, 5, 1)).status(), ErrorCode::kUnsupported);
  EXPECT_STATUS(Apply(f.base, poke(patch, 4, 4)).status(), ErrorCode::kUnsupported);
  EXPECT_STATUS(Apply(f.base, poke(patch, 5, 4)).status(), ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace oxide::delta

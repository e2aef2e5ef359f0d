// Golden patches for every record type, transform, element width and layout of the tensor
// strategy (tests/golden/patch-v2/records/). Their base and target come from a deterministic
// generator whose output is pinned by SHA-256 in the MANIFEST; the patches are written by the
// real encoder with a forced (transform, width byte) per record, never edited by hand.
// Committed patches must keep applying: a format change gets a new version, never an edit.
// Regenerate only on purpose (see tests/golden/README.md):
//   OXIDE_REGEN_GOLDEN=1 oxide_delta_build_test --gtest_filter='Golden*'
#include <gtest/gtest.h>
#include <zstd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "base/coding.hpp"
#include "base/file_util.hpp"
#include "delta/build/tensor_encoder.hpp"
#include "delta/patch_applier.hpp"
#include "delta/transform.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::delta {
namespace {

using format::Transform;
using internal::Segment;
using Kind = Segment::Kind;

const std::string kDir = std::string(OXIDE_SOURCE_DIR) + "/tests/golden/patch-v2/records";

// --- Deterministic inputs (std::mt19937's raw output is fixed by the C++ standard) ---

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Small pair: COPY [0,64) | DELTA 1003 bytes from base 64 (a partial element at every width) |
// LITERAL 523 bytes | COPY 64 bytes from base 2000.
constexpr uint64_t kSmallDelta = 1003, kSmallLiteral = 523;
std::string SmallBase() { return RandomBytes(4096, 20261130); }
std::string SmallTarget() {
  std::string base = SmallBase(), t = base.substr(0, 64);
  std::mt19937 rng(7);
  for (uint64_t i = 0; i < kSmallDelta; ++i) {
    uint8_t b = static_cast<uint8_t>(base[64 + i]);
    t.push_back(static_cast<char>(i % 3 == 0 ? b + (rng() % 5) - 2 : b));  // small moves
  }
  t += RandomBytes(kSmallLiteral, 8);
  return t + base.substr(2000, 64);
}

// Multi-block pair: COPY 100 | DELTA of 2 MiB + 4099 bytes (three blocks) | LITERAL 1 MiB + 5.
constexpr uint64_t kBigDelta = (2u << 20) + 4099, kBigLiteral = (1u << 20) + 5;
std::string BigBase() { return RandomBytes(100 + kBigDelta + 1000, 99); }
std::string BigTarget() {
  std::string base = BigBase(), t = base.substr(0, 100 + kBigDelta);
  for (uint64_t e = 0; e < kBigDelta / 4; e += 61) t[100 + 4 * e] ^= 1;  // sparse small moves
  for (uint64_t i = 0; i < kBigLiteral; ++i) t.push_back(static_cast<char>((i * 7) % 251));
  return t;
}

// --- The cases ---

struct GoldenCase {
  std::string file;
  bool big;
  std::vector<Segment> segments;
};

uint8_t WidthByte(size_t w, bool bits) { return static_cast<uint8_t>(w | (bits ? 0x80 : 0)); }

Segment Copy(uint64_t to, uint64_t len, uint64_t from) {
  Segment s;
  s.kind = Kind::kCopy;
  s.target_offset = to;
  s.length = len;
  s.base_offset = from;
  return s;
}
Segment Forced(Kind kind, uint64_t to, uint64_t len, uint64_t from, uint8_t t, uint8_t wb) {
  Segment s = Copy(to, len, from);
  s.kind = kind;
  s.width = wb & 0x0f;
  s.forced_transform = t;
  s.forced_width_byte = wb;
  return s;
}

const char* TransformName(uint8_t t) {
  static const char* kNames[] = {"literal", "xor", "sub8", "subint", "subord"};
  return t <= format::kMaxTransform ? kNames[t] : "?";
}

std::vector<GoldenCase> Cases() {
  std::vector<GoldenCase> cases;
  for (uint8_t t = 1; t <= format::kMaxTransform; ++t) {
    for (size_t w : {1, 2, 4, 8}) {
      for (bool bits : {false, true}) {
        uint8_t wb = WidthByte(w, bits);
        std::ostringstream name;
        name << "delta-" << TransformName(t) << "-w" << w << (bits ? "-bit" : "-byte") << ".oxd";
        cases.push_back({name.str(),
                         false,
                         {Copy(0, 64, 0), Forced(Kind::kDelta, 64, kSmallDelta, 64, t, wb),
                          Forced(Kind::kLiteral, 64 + kSmallDelta, kSmallLiteral, 0, 0, wb),
                          Copy(64 + kSmallDelta + kSmallLiteral, 64, 2000)}});
      }
    }
  }
  cases.push_back(
      {"multiblock-subord-w4-bit.oxd",
       true,
       {Copy(0, 100, 0),
        Forced(Kind::kDelta, 100, kBigDelta, 100, static_cast<uint8_t>(Transform::kSubOrd),
               WidthByte(4, true)),
        Forced(Kind::kLiteral, 100 + kBigDelta, kBigLiteral, 0, 0, WidthByte(2, false))}});
  return cases;
}

// --- Reading a patch back, record by record ---

Result<std::string> DecompressBody(std::string_view body) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> d(ZSTD_createDCtx(), ZSTD_freeDCtx);
  std::string out;
  std::vector<char> buf(ZSTD_DStreamOutSize());
  ZSTD_inBuffer in{body.data(), body.size(), 0};
  size_t rc = 1;
  while (rc != 0) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    rc = ZSTD_decompressStream(d.get(), &o, &in);
    if (ZSTD_isError(rc)) return Corrupt(ZSTD_getErrorName(rc));
    out.append(buf.data(), o.pos);
    if (rc != 0 && in.pos == in.size && o.pos < o.size) return Corrupt("truncated frame");
  }
  return out;
}

// One line per record ("COPY", "DELTA subord w4 bit", "LITERAL w2 byte", "END").
std::vector<std::string> DescribeRecords(std::string_view stream) {
  std::vector<std::string> out;
  const auto* p = reinterpret_cast<const uint8_t*>(stream.data());
  const uint8_t* end = p + stream.size();
  auto layout = [](uint8_t wb) {
    return " w" + std::to_string(wb & 0x0f) + ((wb & kBitPlaneFlag) ? " bit" : " byte");
  };
  while (p < end) {
    uint8_t tag = *p++;
    uint64_t a = 0, len = 0;
    if (tag == 0) {
      out.push_back("END");
    } else if (tag == 1 && GetVarint64(&p, end, &a) && GetVarint64(&p, end, &len)) {
      out.push_back("COPY");
    } else if (tag == 2 && GetVarint64(&p, end, &a) && GetVarint64(&p, end, &len) && end - p >= 2 &&
               static_cast<uint64_t>(end - p - 2) >= len) {
      out.push_back(std::string("DELTA ") + TransformName(p[0]) + layout(p[1]));
      p += 2 + len;
    } else if (tag == 3 && GetVarint64(&p, end, &len) && end - p >= 1 &&
               static_cast<uint64_t>(end - p - 1) >= len) {
      out.push_back("LITERAL" + layout(p[0]));
      p += 1 + len;
    } else {
      out.push_back("BAD");
      break;
    }
  }
  return out;
}

std::vector<std::string> Expected(const GoldenCase& c) {
  std::vector<std::string> out;
  for (const Segment& s : c.segments) {
    std::string l = " w" + std::to_string(s.forced_width_byte & 0x0f) +
                    ((s.forced_width_byte & kBitPlaneFlag) ? " bit" : " byte");
    if (s.kind == Kind::kCopy) out.push_back("COPY");
    if (s.kind == Kind::kDelta)
      out.push_back(std::string("DELTA ") + TransformName(s.forced_transform) + l);
    if (s.kind == Kind::kLiteral) out.push_back("LITERAL" + l);
  }
  out.push_back("END");
  return out;
}

// MANIFEST lines: "<name> <sha256>"; "gen:" names are generator outputs, the rest files.
std::map<std::string, std::string> ReadManifest() {
  std::map<std::string, std::string> m;
  auto text = ReadFileToString(kDir + "/MANIFEST");
  if (!text.ok()) return m;
  std::istringstream in(*text);
  std::string name, sha;
  while (in >> name >> sha) {
    if (name[0] != '#') m[name] = sha;
  }
  return m;
}

std::string Hex(std::string_view s) { return ToHex(Sha256::Of(s)); }

TEST(GoldenRecords, RegenerateWhenAsked) {
  if (std::getenv("OXIDE_REGEN_GOLDEN") == nullptr) GTEST_SKIP() << "set OXIDE_REGEN_GOLDEN=1";
  std::filesystem::create_directories(kDir);
  const std::string inputs[2][2] = {{SmallBase(), SmallTarget()}, {BigBase(), BigTarget()}};
  std::string manifest =
      "# name sha256. gen:* are the generator's outputs (golden_records_test.cpp); the rest are\n"
      "# the committed patches. Written by OXIDE_REGEN_GOLDEN=1 only.\n";
  manifest += "gen:small-base " + Hex(inputs[0][0]) + "\ngen:small-target " + Hex(inputs[0][1]) +
              "\ngen:big-base " + Hex(inputs[1][0]) + "\ngen:big-target " + Hex(inputs[1][1]) +
              "\n";
  for (const GoldenCase& c : Cases()) {
    const std::string& base = inputs[c.big][0];
    const std::string& target = inputs[c.big][1];
    auto body = internal::EncodeTensorBody(base, target, c.segments, 19, nullptr);
    ASSERT_OK(body.status());
    PatchHeader h;
    h.strategy = Strategy::kTensor;
    h.base_size = base.size();
    h.base_sha256 = Sha256::Of(base);
    h.target_size = target.size();
    h.target_sha256 = Sha256::Of(target);
    h.body_size = body->size();
    std::string patch = EncodePatchHeader(h) + *body;
    ASSERT_OK(AtomicWriteFile(kDir + "/" + c.file, patch));
    manifest += c.file + " " + Hex(patch) + "\n";
  }
  ASSERT_OK(AtomicWriteFile(kDir + "/MANIFEST", manifest));
}

TEST(GoldenRecords, GeneratorStillProducesThePinnedInputs) {
  auto m = ReadManifest();
  EXPECT_EQ(m["gen:small-base"], Hex(SmallBase()));
  EXPECT_EQ(m["gen:small-target"], Hex(SmallTarget()));
  EXPECT_EQ(m["gen:big-base"], Hex(BigBase()));
  EXPECT_EQ(m["gen:big-target"], Hex(BigTarget()));
}

TEST(GoldenRecords, EveryTransformWidthAndLayoutIsCovered) {
  std::set<std::string> seen;
  for (const GoldenCase& c : Cases()) {
    for (const std::string& r : Expected(c)) seen.insert(r);
  }
  for (uint8_t t = 1; t <= format::kMaxTransform; ++t) {
    for (int w : {1, 2, 4, 8}) {
      for (const char* layout : {" byte", " bit"}) {
        std::string l = " w" + std::to_string(w) + layout;
        EXPECT_TRUE(seen.count(std::string("DELTA ") + TransformName(t) + l)) << int(t) << l;
        EXPECT_TRUE(seen.count("LITERAL" + l)) << l;
      }
    }
  }
  EXPECT_TRUE(seen.count("COPY"));
}

TEST(GoldenRecords, CommittedPatchesHoldTheirRecordsAndApplyByteExactly) {
  auto m = ReadManifest();
  const std::string inputs[2][2] = {{SmallBase(), SmallTarget()}, {BigBase(), BigTarget()}};
  testing::TempDir tmp;
  ASSERT_OK(AtomicWriteFile(tmp.File("small"), inputs[0][0]));
  ASSERT_OK(AtomicWriteFile(tmp.File("big"), inputs[1][0]));
  for (const GoldenCase& c : Cases()) {
    SCOPED_TRACE(c.file);
    auto patch = ReadFileToString(kDir + "/" + c.file);
    ASSERT_OK(patch.status());
    EXPECT_EQ(m[c.file], Hex(*patch)) << "a committed golden patch changed";
    auto h = ParsePatchHeader(*patch);
    ASSERT_OK(h.status());
    EXPECT_EQ(h->strategy, Strategy::kTensor);
    auto stream = DecompressBody(std::string_view(*patch).substr(kPatchHeaderSize));
    ASSERT_OK(stream.status());
    EXPECT_EQ(DescribeRecords(*stream), Expected(c));
    auto st =
        ApplyPatchFile(tmp.File(c.big ? "big" : "small"), kDir + "/" + c.file, tmp.File("out"));
    ASSERT_OK(st.status());
    EXPECT_TRUE(*ReadFileToString(tmp.File("out")) == inputs[c.big][1]) << "output differs";
  }
}

}  // namespace
}  // namespace oxide::delta

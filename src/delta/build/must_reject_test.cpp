// The must-reject corpus: one patch per error class under tests/golden/must-reject/, each with
// the exact error it must produce, listed in tests/golden/must-reject/MANIFEST
// (file, ErrorCode name, message substring). Every patch is applied to
// tests/golden/patch-v2/base.onnx with an 8 MiB decoder window limit, whole and in 1- and
// 7-byte chunks. The files derive from the committed golden patches; regenerate only on purpose:
//   OXIDE_REGEN_GOLDEN=1 oxide_delta_build_test --gtest_filter='MustReject*'
#include <gtest/gtest.h>
#include <zstd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#include "base/coding.hpp"
#include "base/file_util.hpp"
#include "delta/build/patch_builder.hpp"
#include "delta/build/zstd_encoder.hpp"
#include "delta/patch_applier.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::delta {
namespace {

namespace fs = std::filesystem;

const std::string kGolden = std::string(OXIDE_SOURCE_DIR) + "/tests/golden";
const std::string kRejectDir = kGolden + "/must-reject";
const std::string kBasePath = kGolden + "/patch-v2/base.onnx";
constexpr uint64_t kWindowLimit = 8u << 20;

struct RejectCase {
  const char* file;
  ErrorCode code;
  std::string message;  // substring of the error message
};

std::string Read(const std::string& path) {
  auto r = ReadFileToString(path);
  return r.ok() ? *r : std::string();
}

std::string WithHeader(PatchHeader h, const std::string& body) {
  h.body_size = body.size();
  return EncodePatchHeader(h) + body;
}

// A header with byte `at` set to `value` and the header check recomputed.
std::string PokeHeader(std::string patch, size_t at, char value) {
  patch[at] = value;
  Digest d = Sha256::Of(patch.data(), kPatchHeaderSize - 4);
  std::memcpy(patch.data() + kPatchHeaderSize - 4, d.data(), 4);
  return patch;
}

std::string Compressed(const std::string& stream, int window_log = 0, bool pledged = true) {
  std::string out;
  internal::ZstdParams p;
  p.level = 3;
  p.window_log = window_log;
  p.pledged_size = pledged ? stream.size() : 0;
  auto enc = internal::ZstdEncoder::Create(p, {}, &out);
  if (!enc.ok() || !(*enc)->Write(stream.data(), stream.size()).ok() || !(*enc)->Finish().ok()) {
    return "";
  }
  return out;
}

// The corpus: (file, expected error, how to make it from the golden base/target/patches).
struct Made {
  RejectCase expect;
  std::string bytes;
};

std::vector<Made> MakeCorpus() {
  const std::string base = Read(kGolden + "/patch-v2/base.onnx");
  const std::string target = Read(kGolden + "/patch-v2/target.onnx");
  const std::string tensor = Read(kGolden + "/patch-v2/tensor.oxd");
  const std::string base_hex = ToHex(Sha256::Of(base));
  PatchHeader h = *ParsePatchHeader(tensor);
  const std::string body = tensor.substr(kPatchHeaderSize);
  std::string copy_all;  // COPY the whole base (a valid record) for record-level cases
  copy_all.push_back(1);
  PutVarint64(&copy_all, 0);
  PutVarint64(&copy_all, 10);

  std::vector<Made> c;
  auto add = [&](const char* f, ErrorCode code, std::string msg, std::string bytes) {
    c.push_back({{f, code, std::move(msg)}, std::move(bytes)});
  };
  // Truncation.
  add("patch-truncated-header.oxd", ErrorCode::kCorrupt, "patch is shorter than its header",
      tensor.substr(0, 50));
  add("patch-truncated-body.oxd", ErrorCode::kCorrupt, "patch is truncated",
      tensor.substr(0, tensor.size() - 10));
  // Header.
  std::string bad_check = tensor;
  bad_check[50] ^= 0x01;  // target size field, check not recomputed
  add("patch-bad-header-check.oxd", ErrorCode::kCorrupt, "patch header checksum mismatch",
      bad_check);
  std::string bad_magic = tensor;
  bad_magic[0] = 'X';
  add("patch-bad-magic.oxd", ErrorCode::kCorrupt, "not an Oxide patch", bad_magic);
  add("patch-version-1.oxd", ErrorCode::kUnsupported, "patch format version 1",
      PokeHeader(tensor, 4, 1));
  add("patch-unknown-strategy.oxd", ErrorCode::kUnsupported, "unknown patch strategy 7",
      PokeHeader(tensor, 5, 7));
  add("patch-flags-set.oxd", ErrorCode::kUnsupported, "unknown patch flags 1",
      PokeHeader(tensor, 7, 1));
  // Records (tensor strategy instruction stream).
  add("patch-bad-record-tag.oxd", ErrorCode::kUnsupported, "unknown record type 9",
      WithHeader(h, Compressed(std::string(1, '\x09'))));
  std::string past_base(1, '\x01');
  PutVarint64(&past_base, base.size() - 4);
  PutVarint64(&past_base, 8);
  add("patch-bad-record-range.oxd", ErrorCode::kCorrupt,
      "copy record reads past the end of the base", WithHeader(h, Compressed(past_base)));
  std::string bad_transform(1, '\x02');
  PutVarint64(&bad_transform, 0);
  PutVarint64(&bad_transform, 8);
  bad_transform += "\x07\x04";
  add("patch-bad-record-transform.oxd", ErrorCode::kUnsupported, "unknown transform 7",
      WithHeader(h, Compressed(bad_transform)));
  add("patch-bad-record-early-end.oxd", ErrorCode::kCorrupt,
      "patch ends after 10 of " + std::to_string(target.size()) + " target bytes",
      WithHeader(h, Compressed(copy_all + std::string(1, '\0'))));
  // Wrong base: a real patch, built for another base of the same size.
  DiffOptions tensor_only;
  tensor_only.try_binary = tensor_only.try_full = false;
  auto other = BuildPatch(target, base, tensor_only);
  add("patch-wrong-base.oxd", ErrorCode::kFailedPrecondition,
      "base SHA-256 " + base_hex + " does not match the patch's base",
      other.ok() ? other->patch : "");
  PatchHeader bigger = h;
  bigger.base_size += 1;
  add("patch-wrong-base-size.oxd", ErrorCode::kFailedPrecondition,
      "base is " + std::to_string(base.size()) + " bytes, the patch expects " +
          std::to_string(base.size() + 1),
      WithHeader(bigger, body));
  // Decoder window over the limit: a full patch whose frame declares a 128 MiB window.
  PatchHeader full = h;
  full.strategy = Strategy::kFull;
  add("patch-window-over-limit.oxd", ErrorCode::kResourceExhausted,
      "patch needs a larger decoder window than allowed",
      WithHeader(full, Compressed(target, 27, /*pledged=*/false)));
  // Bad zstd frames.
  std::string bad_frame = tensor;
  bad_frame[kPatchHeaderSize] ^= 0x01;
  add("patch-bad-zstd-magic.oxd", ErrorCode::kCorrupt, "compressed body is not a zstd frame",
      bad_frame);
  std::string bad_sum = tensor;
  bad_sum.back() ^= 0x01;
  add("patch-bad-zstd-checksum.oxd", ErrorCode::kCorrupt,
      "compressed body: Restored data doesn't match checksum", bad_sum);
  std::string no_sum(ZSTD_compressBound(target.size()), '\0');
  no_sum.resize(ZSTD_compress(no_sum.data(), no_sum.size(), target.data(), target.size(), 3));
  add("patch-no-content-checksum.oxd", ErrorCode::kCorrupt,
      "compressed body has no content checksum", WithHeader(full, no_sum));
  // Trailing garbage, after the patch and inside the body.
  add("patch-trailing-garbage.oxd", ErrorCode::kCorrupt, "patch is longer than its header says",
      tensor + "garbage");
  add("patch-trailing-garbage-in-body.oxd", ErrorCode::kCorrupt,
      "bytes after the end of the compressed body", WithHeader(h, body + "garbage"));
  // A wrong target digest in a well-formed patch.
  PatchHeader lying = h;
  lying.target_sha256 = Sha256::Of("not the target");
  add("patch-target-mismatch.oxd", ErrorCode::kCorrupt, "rebuilt target does not match",
      WithHeader(lying, body));
  return c;
}

ErrorCode ParseCode(const std::string& s) {
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) {
    if (ToString(static_cast<ErrorCode>(i)) == s) return static_cast<ErrorCode>(i);
  }
  return ErrorCode::kOk;
}

// MANIFEST: "file<TAB>code<TAB>message substring" per line; '#' starts a comment line.
std::map<std::string, RejectCase> ReadManifest() {
  std::map<std::string, RejectCase> m;
  std::istringstream in(Read(kRejectDir + "/MANIFEST"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t a = line.find('\t'), b = line.find('\t', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string file = line.substr(0, a);
    m[file] = {nullptr, ParseCode(line.substr(a + 1, b - a - 1)), line.substr(b + 1)};
  }
  return m;
}

class DiscardSink final : public ByteSink {
 public:
  Status Write(const uint8_t*, size_t) override { return Status::Ok(); }
};

Status ApplyInChunks(const std::string& patch, size_t chunk) {
  auto base = BaseSource::FromFile(kBasePath);
  if (!base.ok()) return base.status();
  DiscardSink sink;
  ApplyLimits limits;
  limits.max_window_bytes = kWindowLimit;
  auto applier = PatchApplier::Create(base->get(), &sink, limits);
  size_t step = chunk == 0 ? std::max<size_t>(patch.size(), 1) : chunk;
  for (size_t off = 0; off < patch.size(); off += step) {
    size_t n = std::min(step, patch.size() - off);
    OXIDE_RETURN_IF_ERROR(applier->Feed(reinterpret_cast<const uint8_t*>(patch.data()) + off, n));
  }
  return applier->Finish().status();
}

TEST(MustReject, RegenerateWhenAsked) {
  if (std::getenv("OXIDE_REGEN_GOLDEN") == nullptr) GTEST_SKIP() << "set OXIDE_REGEN_GOLDEN=1";
  std::string manifest =
      "# Must-reject patches: file<TAB>error code<TAB>substring of the error message.\n"
      "# Each is applied to ../patch-v2/base.onnx with an 8 MiB decoder window limit\n"
      "# (src/delta/build/must_reject_test.cpp). Written by OXIDE_REGEN_GOLDEN=1 only.\n";
  for (const Made& m : MakeCorpus()) {
    ASSERT_FALSE(m.bytes.empty()) << m.expect.file;
    ASSERT_OK(AtomicWriteFile(kRejectDir + "/" + m.expect.file, m.bytes));
    manifest += std::string(m.expect.file) + "\t" + std::string(ToString(m.expect.code)) + "\t" +
                m.expect.message + "\n";
  }
  ASSERT_OK(AtomicWriteFile(kRejectDir + "/MANIFEST", manifest));
}

TEST(MustReject, EveryPatchFileIsListedInTheManifest) {
  auto m = ReadManifest();
  EXPECT_GE(m.size(), 7u);
  for (const auto& e : fs::directory_iterator(kRejectDir)) {
    std::string name = e.path().filename().string();
    if (name.rfind("patch-", 0) == 0) {
      EXPECT_TRUE(m.count(name)) << name << " not in MANIFEST";
    }
  }
  for (const Made& made : MakeCorpus()) EXPECT_TRUE(m.count(made.expect.file)) << made.expect.file;
}

TEST(MustReject, EachPatchFailsWithItsExactError) {
  for (const auto& [file, expect] : ReadManifest()) {
    std::string patch = Read(kRejectDir + "/" + file);
    ASSERT_FALSE(patch.empty()) << file;
    for (size_t chunk : {0, 1, 7}) {
      SCOPED_TRACE(file + " fed in chunks of " + std::to_string(chunk));
      Status st = ApplyInChunks(patch, chunk);
      EXPECT_STATUS(st, expect.code);
      EXPECT_NE(st.message().find(expect.message), std::string::npos) << st.ToString();
    }
  }
}

}  // namespace
}  // namespace oxide::delta

// libFuzzer harness: arbitrary bytes as a patch against a fixed base model. The input is fed in
// uneven chunks so the push parser's buffering across Feed() calls is exercised too. Both
// format versions are reached: version 2 (one zstd frame) and version 3 (the coded-tensor chunk
// sequence: ZSTD chunks, CODED blocks through the residual coder); tests/fuzz/fuzz_patch_apply
// holds a seed of each strategy.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "base/file_util.hpp"
#include "delta/patch_applier.hpp"
#include "patch_fuzz_base.hpp"

namespace {

// Target sizes come from the (untrusted) patch; the cap keeps a lying header from turning one
// input into minutes of output.
constexpr uint64_t kMaxOutput = 16u << 20;

class CappedSink : public oxide::delta::ByteSink {
 public:
  oxide::Status Write(const uint8_t* /*data*/, size_t n) override {
    written_ += n;
    if (written_ > kMaxOutput) return oxide::ResourceExhausted("fuzz output cap");
    return oxide::Status::Ok();
  }

 private:
  uint64_t written_ = 0;
};

oxide::delta::BaseSource* g_base = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // Written once per process (temp + rename, so parallel fuzzers never see a partial file).
  const std::string base = oxide::fuzz::PatchFuzzBase();
  if (!oxide::AtomicWriteFile(oxide::fuzz::kPatchFuzzBasePath, base).ok()) {
    std::fprintf(stderr, "cannot write %s\n", oxide::fuzz::kPatchFuzzBasePath);
    std::abort();
  }
  auto source = oxide::delta::BaseSource::FromFile(oxide::fuzz::kPatchFuzzBasePath);
  if (!source.ok()) {
    std::fprintf(stderr, "cannot open base: %s\n", source.status().ToString().c_str());
    std::abort();
  }
  g_base = std::move(source).value().release();  // lives for the whole process
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CappedSink sink;
  oxide::delta::ApplyLimits limits;
  limits.max_window_bytes = 8u << 20;
  std::unique_ptr<oxide::delta::PatchApplier> applier =
      oxide::delta::PatchApplier::Create(g_base, &sink, limits);
  size_t pos = 0;
  size_t chunk = 1;
  while (pos < size) {
    const size_t n = chunk < size - pos ? chunk : size - pos;
    if (!applier->Feed(data + pos, n).ok()) return 0;
    pos += n;
    chunk = chunk * 3 + 1;  // 1, 4, 13, 40, ... bytes
  }
  (void)applier->Finish();
  return 0;
}

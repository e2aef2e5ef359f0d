// Writes seed patches for fuzz_patch_apply (one per strategy, base -> fine-tuned target) into
// the directory given as argv[1]. The coded-tensor seed (version 3) has every tensor in a CODED
// chunk and the framing in ZSTD chunks, whatever the codec would choose; its payloads are the
// residual coder's, so regenerate it when the coder's format changes:
//   cmake --build build-fuzz --target fuzz_make_patch_seeds &&
//   build-fuzz/fuzz/fuzz_make_patch_seeds tests/fuzz/fuzz_patch_apply
#include <cstdio>
#include <string>

#include "base/file_util.hpp"
#include "delta/build/coded_encoder.hpp"
#include "delta/build/patch_builder.hpp"
#include "delta/build/tensor_plan.hpp"
#include "patch_fuzz_base.hpp"
#include "tensor/tensor_index.hpp"

namespace {

// A version-3 patch with every tensor of `target` coded (CodedChoice::kAlwaysCoded).
bool CodedSeed(const std::string& base, const std::string& target, std::string* patch) {
  const oxide::tensor::ModelFormat f = oxide::tensor::DetectFormat(target);
  auto bi = oxide::tensor::IndexModel(base, f);
  auto ti = oxide::tensor::IndexModel(target, f);
  if (!bi.ok() || !ti.ok()) return false;
  oxide::delta::internal::PlanStats ps;
  auto segments = oxide::delta::internal::PlanTensorPatch(base, *bi, target, *ti, &ps);
  oxide::delta::internal::CodedEncodeStats st;
  auto body = oxide::delta::internal::EncodeCodedBody(
      base, target, segments, 19, oxide::delta::internal::CodedChoice::kAlwaysCoded, nullptr, &st);
  if (!body.ok() || st.coded_chunks == 0) return false;
  oxide::delta::PatchHeader h;
  h.strategy = oxide::delta::Strategy::kCodedTensor;
  h.format_hint = static_cast<uint8_t>(f);
  h.base_size = base.size();
  h.base_sha256 = oxide::Sha256::Of(base.data(), base.size());
  h.target_size = target.size();
  h.target_sha256 = oxide::Sha256::Of(target.data(), target.size());
  h.body_size = body->size();
  *patch = oxide::delta::EncodePatchHeader(h) + *body;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::string base = oxide::fuzz::PatchFuzzBase();
  const std::string target = oxide::fuzz::PatchFuzzTarget();
  struct Variant {
    const char* name;
    bool tensor, binary, full;
  };
  const Variant variants[] = {
      {"tensor", true, false, false}, {"binary", false, true, false}, {"full", false, false, true}};
  for (const Variant& v : variants) {
    oxide::delta::DiffOptions options;
    options.threads = 1;
    options.max_patch_version = 2;  // the version-2 strategy seeds
    options.try_tensor = v.tensor;
    options.try_binary = v.binary;
    options.try_full = v.full;
    auto patch = oxide::delta::BuildPatch(base, target, options);
    if (!patch.ok()) {
      std::fprintf(stderr, "%s: %s\n", v.name, patch.status().ToString().c_str());
      return 1;
    }
    const std::string path = dir + "/" + v.name + ".oxdl";
    if (!oxide::AtomicWriteFile(path, patch->patch).ok()) return 1;
    std::printf("%s: %zu bytes\n", path.c_str(), patch->patch.size());
  }
  std::string coded;
  if (!CodedSeed(base, target, &coded)) {
    std::fprintf(stderr, "coded: cannot build the seed\n");
    return 1;
  }
  const std::string path = dir + "/coded.oxdl";
  if (!oxide::AtomicWriteFile(path, coded).ok()) return 1;
  std::printf("%s: %zu bytes\n", path.c_str(), coded.size());
  return 0;
}

// Writes seed patches for fuzz_patch_apply (one per strategy, base -> fine-tuned target) into
// the directory given as argv[1]:
//   cmake --build build-fuzz --target fuzz_make_patch_seeds &&
//   build-fuzz/fuzz/fuzz_make_patch_seeds tests/fuzz/fuzz_patch_apply
#include <cstdio>
#include <string>

#include "base/file_util.hpp"
#include "delta/build/patch_builder.hpp"
#include "patch_fuzz_base.hpp"

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
  return 0;
}

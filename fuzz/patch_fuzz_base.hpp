#pragma once

#include <string>

#include "testing/onnx_builder.hpp"

// The base model fuzz_patch_apply applies patches to, and make_patch_seeds diffs against: both
// must agree byte for byte, so it is defined once here.
namespace oxide::fuzz {

inline std::string PatchFuzzBase() { return oxide::testing::SampleOnnxModel(1); }
inline std::string PatchFuzzTarget() { return oxide::testing::SampleOnnxModel(1, 7); }
inline const char* kPatchFuzzBasePath = "/tmp/oxide_fuzz_patch_base.onnx";

}  // namespace oxide::fuzz

#include "inference/synthetic_inputs.hpp"

#include <gtest/gtest.h>

namespace oxide::inference {
namespace {

tensor::ModelSignature OneInput(std::vector<int64_t> dims,
                                tensor::DType dtype = tensor::DType::kF32) {
  tensor::ModelSignature sig;
  tensor::ValueInfo v;
  v.name = "x";
  v.dtype = dtype;
  v.has_shape = true;
  for (int64_t d : dims) {
    tensor::Dim dim;
    dim.size = d;
    v.dims.push_back(dim);
  }
  sig.inputs.push_back(v);
  return sig;
}

// The same 1 GiB bound as an input file (ReadTensorSetFile): a declared shape cannot make
// `oxide run --zeros` or the agent's check allocate gigabytes, or overflow n * width.
TEST(SyntheticInputs, RefusesInputsAboveOneGibWithoutOverflowing) {
  for (auto dims : {std::vector<int64_t>{(int64_t{1} << 61) + 1},  // n * 4 wraps around
                    std::vector<int64_t>{int64_t{1} << 31},        // 8 GiB of F32
                    std::vector<int64_t>{int64_t{1} << 32, int64_t{1} << 32}}) {
    auto r = ZeroInputs(OneInput(dims));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), ErrorCode::kResourceExhausted);
    EXPECT_NE(r.status().message().find("more than 1 GiB"), std::string::npos)
        << r.status().message();
  }
}

}  // namespace
}  // namespace oxide::inference

#include "inference/latency.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "inference/synthetic_inputs.hpp"

namespace oxide::inference {
namespace {

TEST(Latency, NearestRankPercentilesOverTheTimedRuns) {
  std::vector<double> ms;
  for (int i = 100; i >= 1; --i) ms.push_back(i);  // unsorted on purpose
  LatencyStats s = SummariseLatencies(ms);
  EXPECT_EQ(s.runs, 100u);
  EXPECT_EQ(s.p50_ms, 50);
  EXPECT_EQ(s.p95_ms, 95);
  EXPECT_EQ(s.p99_ms, 99);
  EXPECT_EQ(s.max_ms, 100);
  EXPECT_DOUBLE_EQ(s.mean_ms, 50.5);
  EXPECT_DOUBLE_EQ(s.throughput_per_s, 100 * 1000.0 / 5050.0);
}

TEST(Latency, OneRunIsEveryPercentileAndNoRunsIsZero) {
  LatencyStats one = SummariseLatencies({3.5});
  EXPECT_EQ(one.p50_ms, 3.5);
  EXPECT_EQ(one.p99_ms, 3.5);
  EXPECT_EQ(SummariseLatencies({}).runs, 0u);
}

tensor::ModelSignature Sig() {
  tensor::ModelSignature sig;
  tensor::ValueInfo x;
  x.name = "x";
  x.dtype = tensor::DType::kF32;
  x.has_shape = true;
  x.dims = {tensor::Dim{-1, "batch"}, tensor::Dim{4, ""}};
  sig.inputs.push_back(x);
  return sig;
}

TEST(SyntheticInputs, ZerosTakeSymbolicDimsAsOne) {
  auto z = ZeroInputs(Sig());
  ASSERT_TRUE(z.ok());
  ASSERT_EQ(z->tensors.size(), 1u);
  EXPECT_EQ(z->tensors[0].dims, (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(z->tensors[0].data, std::string(16, '\0'));
}

TEST(SyntheticInputs, RandomIsSeededAndWithinMinusOneToOne) {
  auto a = RandomInputs(Sig(), 7);
  auto b = RandomInputs(Sig(), 7);
  auto c = RandomInputs(Sig(), 8);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->tensors[0].data, b->tensors[0].data);
  EXPECT_NE(a->tensors[0].data, c->tensors[0].data);
  for (size_t i = 0; i < 4; ++i) {
    float f;
    std::memcpy(&f, a->tensors[0].data.data() + i * 4, 4);
    EXPECT_GE(f, -1.0f);
    EXPECT_LT(f, 1.0f);
  }
}

TEST(SyntheticInputs, RefusesAnInputWithoutAShape) {
  tensor::ModelSignature sig = Sig();
  sig.inputs[0].has_shape = false;
  auto z = ZeroInputs(sig);
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.status().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(z.status().message(), "input 'x' declares no shape");
}

}  // namespace
}  // namespace oxide::inference

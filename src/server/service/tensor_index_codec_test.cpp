#include "server/service/tensor_index_codec.hpp"

#include <gtest/gtest.h>

#include "testing/onnx_builder.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::server {
namespace {

TEST(TensorIndexCodec, RoundTripsARealIndex) {
  auto index = tensor::IndexOnnx(oxide::testing::SampleOnnxModel());
  ASSERT_OK(index.status());
  index->metadata.emplace_back("k", "v");
  auto back = DecodeTensorIndex(EncodeTensorIndex(*index));
  ASSERT_OK(back.status());
  EXPECT_EQ(back->format, index->format);
  ASSERT_EQ(back->tensors.size(), index->tensors.size());
  for (size_t i = 0; i < index->tensors.size(); ++i) {
    const auto &a = index->tensors[i], &b = back->tensors[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.dtype, b.dtype);
    EXPECT_EQ(a.dims, b.dims);
    EXPECT_EQ(a.storage, b.storage);
    EXPECT_EQ(a.offset, b.offset);
    EXPECT_EQ(a.length, b.length);
    EXPECT_EQ(a.external_location, b.external_location);
  }
  EXPECT_EQ(back->metadata, index->metadata);
}

// Every format the indexer produces is stored; a format byte past the newest one is corrupt.
TEST(TensorIndexCodec, StoresEveryIndexedFormat) {
  for (auto format : {tensor::ModelFormat::kOnnx, tensor::ModelFormat::kSafeTensors,
                      tensor::ModelFormat::kGguf, tensor::ModelFormat::kTflite}) {
    tensor::TensorIndex index;
    index.format = format;
    index.tensors.push_back({"w", tensor::DType::kF16, {4}, tensor::Storage::kRaw, 32, 8, ""});
    auto back = DecodeTensorIndex(EncodeTensorIndex(index));
    ASSERT_OK(back.status()) << tensor::ToString(format);
    EXPECT_EQ(back->format, format);
  }
  tensor::TensorIndex index;
  index.format = tensor::ModelFormat::kTflite;
  std::string data = EncodeTensorIndex(index);
  data[1] = static_cast<char>(static_cast<uint8_t>(tensor::ModelFormat::kTflite) + 1);
  EXPECT_STATUS(DecodeTensorIndex(data).status(), ErrorCode::kCorrupt);
}

// Every dtype is stored, the packed 4-bit ones (appended last) included; a dtype byte past the
// newest one is corrupt.
TEST(TensorIndexCodec, StoresEveryDType) {
  tensor::TensorIndex index;
  index.format = tensor::ModelFormat::kOnnx;
  for (int d = 0; d <= static_cast<int>(tensor::kLastDType); ++d) {
    index.tensors.push_back({"t" + std::to_string(d),
                             static_cast<tensor::DType>(d),
                             {3},
                             tensor::Storage::kRaw,
                             static_cast<uint64_t>(8 * d),
                             2,
                             ""});
  }
  auto back = DecodeTensorIndex(EncodeTensorIndex(index));
  ASSERT_OK(back.status());
  ASSERT_EQ(back->tensors.size(), index.tensors.size());
  EXPECT_EQ(back->tensors.back().dtype, tensor::DType::kU4);
  index.tensors.resize(1);
  index.tensors[0].name = "w";
  index.tensors[0].dtype = tensor::kLastDType;
  std::string data = EncodeTensorIndex(index);
  ASSERT_OK(DecodeTensorIndex(data).status());
  data[5] = static_cast<char>(static_cast<uint8_t>(tensor::kLastDType) + 1);  // after "w"
  EXPECT_STATUS(DecodeTensorIndex(data).status(), ErrorCode::kCorrupt);
}

TEST(TensorIndexCodec, EveryTruncationAndABadVersionAreCorrupt) {
  tensor::TensorIndex index;
  index.format = tensor::ModelFormat::kSafeTensors;
  index.tensors.push_back({"w", tensor::DType::kF32, {2, -1}, tensor::Storage::kRaw, 8, 8, ""});
  const std::string data = EncodeTensorIndex(index);
  EXPECT_EQ(DecodeTensorIndex(data)->tensors[0].dims, (std::vector<int64_t>{2, -1}));
  for (size_t n = 0; n < data.size(); ++n) {
    EXPECT_STATUS(DecodeTensorIndex(data.substr(0, n)).status(), ErrorCode::kCorrupt) << n;
  }
  std::string bad = data;
  bad[0] = 9;
  EXPECT_STATUS(DecodeTensorIndex(bad).status(), ErrorCode::kCorrupt);
  EXPECT_STATUS(DecodeTensorIndex(data + "x").status(), ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace oxide::server

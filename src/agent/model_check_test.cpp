// The built-in model check refuses a model that claims a format and does not parse in it (a
// truncated upload must never be installed), and keeps accepting files of no known format.
#include "agent/model_check.hpp"

#include <gtest/gtest.h>

#include "agent/health_check.hpp"
#include "agent/pipeline_test_util.hpp"
#include "base/file_util.hpp"
#include "base/sha256.hpp"
#include "tensor/tensor_index.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/safetensors_builder.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::agent {
namespace {

using tensor::DType;
using tensor::ModelFormat;

std::string OnnxModel() {
  ::oxide::testing::OnnxBuilder b;
  b.AddInitializer("w1", DType::kF32, {64, 64}, ::oxide::testing::RandomNormalF32(64 * 64, 1));
  b.AddInitializer("b1", DType::kF32, {64}, ::oxide::testing::RandomNormalF32(64, 2));
  return b.Build();
}

std::string SafetensorsModel() {
  ::oxide::testing::SafetensorsBuilder b;
  b.AddTensor("w1", DType::kF32, {64, 64}, ::oxide::testing::RandomNormalF32(64 * 64, 1));
  return b.Build();
}

class ModelCheck : public ::testing::Test {
 protected:
  // Writes `bytes` and checks it against its own SHA-256 and size: only the format can fail.
  Status Verify(const std::string& bytes) {
    std::string path = tmp.File("model");
    EXPECT_OK(AtomicWriteFile(path, bytes));
    return VerifyModelFile(path, ToHex(Sha256::Of(bytes)), bytes.size());
  }
  ::oxide::testing::TempDir tmp;
};

TEST_F(ModelCheck, WholeModelsPass) {
  EXPECT_OK(Verify(OnnxModel()));
  EXPECT_OK(Verify(SafetensorsModel()));
}

TEST_F(ModelCheck, OnnxCutByAThousandBytesFails) {
  std::string model = OnnxModel();
  ASSERT_GT(model.size(), 2000u);
  std::string cut = model.substr(0, model.size() - 1000);
  // The reason the check needs ClaimedFormat: detection alone calls the cut file "unknown".
  EXPECT_EQ(tensor::DetectFormat(cut), ModelFormat::kUnknown);
  EXPECT_EQ(tensor::ClaimedFormat(cut), ModelFormat::kOnnx);
  Status st = Verify(cut);
  EXPECT_STATUS(st, ErrorCode::kCorrupt);
  EXPECT_NE(st.message().find("does not parse as onnx"), std::string::npos) << st.ToString();
}

TEST_F(ModelCheck, SafetensorsWithABadHeaderFails) {
  std::string model = SafetensorsModel();
  std::string bad_json = model;
  bad_json[9] = '#';  // the header JSON: {#...
  EXPECT_STATUS(Verify(bad_json), ErrorCode::kCorrupt);
  std::string cut_header = model.substr(0, 20);  // header length points past the end
  EXPECT_EQ(tensor::ClaimedFormat(cut_header), ModelFormat::kSafeTensors);
  Status st = Verify(cut_header);
  EXPECT_STATUS(st, ErrorCode::kCorrupt);
  EXPECT_NE(st.message().find("safetensors"), std::string::npos) << st.ToString();
}

TEST_F(ModelCheck, FilesOfNoKnownFormatAreCheckedBySha256Only) {
  std::string opaque(5000, '\0');
  for (size_t i = 0; i < opaque.size(); ++i) opaque[i] = static_cast<char>((i * 131) % 251);
  EXPECT_EQ(tensor::ClaimedFormat(opaque), ModelFormat::kUnknown);
  EXPECT_OK(Verify(opaque));
  // ir_version-like first bytes alone claim nothing: the second field must be a ModelProto one.
  EXPECT_EQ(tensor::ClaimedFormat(std::string("\x08\x07\xff\xff", 4)), ModelFormat::kUnknown);
  EXPECT_OK(Verify(std::string("\x08\x07\xff\xff", 4)));
}

TEST_F(ModelCheck, BuiltinHealthCheckFailsATruncatedModel) {
  std::string model = OnnxModel();
  std::string cut = model.substr(0, model.size() - 1000);
  std::string path = tmp.File("active");
  ASSERT_OK(AtomicWriteFile(path, cut));
  BuiltinHealthChecker check;
  auto r = check.Check({path, "m", "v1", ToHex(Sha256::Of(cut)), cut.size()});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->healthy);
  EXPECT_NE(r->detail.find("does not parse"), std::string::npos) << r->detail;
}

// The server hands out a cut ONNX file whose SHA-256 it registered as is: the agent refuses it
// at verification, before the active model is touched.
TEST_F(PipelineTest, TruncatedOnnxIsNeverActivated) {
  std::string model = OnnxModel();
  std::string cut = model.substr(0, model.size() - 1000);
  TestModel bad{cut, {"v9", ToHex(Sha256::Of(cut)), cut.size(), "c-v9"}};
  InstallV1();
  Publish(bad);
  EXPECT_OK(Assign(bad));
  EXPECT_TRUE(Took(OtaState::kStaged, OtaEvent::kVerifyFailed));
  EXPECT_EQ(Active(), v1.bytes);
  EXPECT_NE(pipeline->record().last_error.find("does not parse as onnx"), std::string::npos)
      << pipeline->record().last_error;
}

}  // namespace
}  // namespace oxide::agent

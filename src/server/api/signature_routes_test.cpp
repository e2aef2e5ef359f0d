// ONNX uploads (issue #11): validation with the ONNX checker and shape inference (422, nothing
// stored), the signature per version and its change, and the campaign override (409 without).
#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include "base/sha256.hpp"
#include "inference/golden.hpp"
#include "server/api/internal/json_util.hpp"
#include "server/api/router.hpp"
#include "server/service/test_env.hpp"
#include "testing/onnx_builder.hpp"

namespace oxide::server::api {
namespace {

using oxide::testing::NodeProto;
using oxide::testing::OnnxBuilder;
using oxide::testing::ValueInfoProto;
using tensor::DType;

// y = op(x) with x and y of shape [1, width].
std::string UnaryModel(const std::string& op, const std::string& width) {
  OnnxBuilder b;
  b.AddNode(NodeProto("n0", op, {"x"}, {"y"}, {}));
  b.SetInputs({ValueInfoProto("x", DType::kF32, {"1", width})});
  b.SetOutputs({ValueInfoProto("y", DType::kF32, {"1", width})});
  return b.Build();
}

class SignatureRoutesTest : public ::testing::Test {
 protected:
  Response Call(Method m, const std::string& path, const std::string& body = "") {
    Request r;
    r.method = m;
    r.path = path;
    r.body = body;
    r.With("authorization", "Bearer " + env.admin_token);
    return env.router->Handle(r);
  }
  Response Upload(const std::string& version, const std::string& body) {
    return Call(Method::kPost, "/api/v1/models/m/versions/" + version, body);
  }
  Response CreateCampaign(const std::string& version, const std::string& extra = "") {
    return Call(
        Method::kPost, "/api/v1/campaigns",
        R"({"model_id":"m","model_version":")" + version + R"(","fleet_id":"f")" + extra + "}");
  }
  static Json Body(const Response& r) { return Json::parse(r.body, nullptr, false); }

  server::testing::TestEnv env;
};

TEST_F(SignatureRoutesTest, ValidModelIsStoredWithItsSignature) {
  auto r = Upload("v1", UnaryModel("Relu", "4"));
  ASSERT_EQ(r.status, 201) << r.body;
  const Json b = Body(r);
  EXPECT_EQ(b["signature"]["inputs"][0]["name"], "x");
  EXPECT_EQ(b["signature"]["inputs"][0]["shape"], Json::parse("[1,4]"));
  EXPECT_EQ(b["signature"]["outputs"][0]["dtype"], "F32");
  EXPECT_EQ(b["signature_changed"], false);
  EXPECT_EQ(b["signature_change"], Json::array());
}

TEST_F(SignatureRoutesTest, CheckerRefusalIs422WithItsMessageAndStoresNothing) {
  const std::string model = UnaryModel("NoSuchOp", "4");
  auto r = Upload("v1", model);
  ASSERT_EQ(r.status, 422) << r.body;
  const std::string message = Body(r)["error"]["message"];
  EXPECT_NE(message.find("No Op registered for NoSuchOp"), std::string::npos) << message;
  EXPECT_EQ(env.models->GetVersion("m", "v1").status().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(env.blobs->Exists(ToHex(Sha256::Of(model))));
}

TEST_F(SignatureRoutesTest, ShapeInferenceRefusalIs422) {
  OnnxBuilder b;
  b.AddInitializer("w", DType::kF32, {3, 2}, oxide::testing::F32Bytes({1, 2, 3, 4, 5, 6}));
  b.AddNode(NodeProto("mm", "MatMul", {"x", "w"}, {"y"}, {}));
  b.SetInputs({ValueInfoProto("x", DType::kF32, {"1", "4"})});
  b.SetOutputs({ValueInfoProto("y", DType::kF32, {"1", "2"})});
  auto r = Upload("v1", b.Build());
  ASSERT_EQ(r.status, 422) << r.body;
  const std::string message = Body(r)["error"]["message"];
  EXPECT_NE(message.find("MatMul"), std::string::npos) << message;
}

// The external file is never uploaded: the initializer is checked as declared, not looked for.
TEST_F(SignatureRoutesTest, ExternalInitializersAreCheckedWithoutTheirFile) {
  OnnxBuilder b;
  oxide::testing::OnnxTensor w;
  w.name = "w";
  w.dims = {1, 4};
  w.data = oxide::testing::OnnxTensor::Data::kExternal;
  w.location = "w.bin";
  b.AddTensorInitializer(w);
  b.AddNode(NodeProto("add", "Add", {"x", "w"}, {"y"}, {}));
  b.SetInputs({ValueInfoProto("x", DType::kF32, {"1", "4"})});
  b.SetOutputs({ValueInfoProto("y", DType::kF32, {"1", "4"})});
  auto r = Upload("v1", b.Build());
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["signature"]["inputs"].size(), 1u) << "w stays an initializer";
  b.SetOutputs({ValueInfoProto("y", DType::kF32, {"1", "5"})});  // [1,4] + [1,4] is not [1,5]
  auto bad = Upload("v2", b.Build());
  EXPECT_EQ(bad.status, 422) << bad.body;
}

TEST_F(SignatureRoutesTest, ChangedSignatureIsFlaggedOnUploadAndInTheApi) {
  ASSERT_EQ(Upload("v1", UnaryModel("Relu", "4")).status, 201);
  ASSERT_EQ(Upload("v1.1", UnaryModel("Sigmoid", "4")).status, 201);
  auto r = Upload("v2", UnaryModel("Relu", "8"));
  ASSERT_EQ(r.status, 201) << r.body;
  const Json want = Json::array(
      {"input 'x' shape changed: [1,4] -> [1,8]", "output 'y' shape changed: [1,4] -> [1,8]"});
  EXPECT_EQ(Body(r)["signature_changed"], true);
  EXPECT_EQ(Body(r)["signature_change"], want);
  const Json versions = Body(Call(Method::kGet, "/api/v1/models/m"))["versions"];
  ASSERT_EQ(versions.size(), 3u);
  EXPECT_EQ(versions[1]["signature_changed"], false);  // same signature, other op
  EXPECT_EQ(versions[2]["signature_change"], want);
  EXPECT_EQ(Body(Call(Method::kGet, "/api/v1/models/m/versions/v2/meta"))["signature_changed"],
            true);
}

TEST_F(SignatureRoutesTest, NonOnnxVersionsHaveNoSignature) {
  auto r = Upload("v1", "opaque bytes");
  ASSERT_EQ(r.status, 201);
  EXPECT_TRUE(Body(r)["signature"].is_null());
  EXPECT_EQ(Body(r)["signature_changed"], false);
}

TEST_F(SignatureRoutesTest, CampaignForChangedSignatureNeedsTheOverride) {
  env.SeedFleet("f", 1);
  ASSERT_EQ(Upload("v1", UnaryModel("Relu", "4")).status, 201);
  ASSERT_EQ(Upload("v2", UnaryModel("Relu", "8")).status, 201);
  auto refused = CreateCampaign("v2");
  ASSERT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(Body(refused)["error"]["message"],
            "version v2 changes the model signature: input 'x' shape changed: [1,4] -> [1,8]; "
            "output 'y' shape changed: [1,4] -> [1,8]; pass allow_signature_change to roll it out");
  EXPECT_EQ(CreateCampaign("v2", R"(,"allow_signature_change":"yes")").status, 422);
  EXPECT_TRUE(Body(Call(Method::kGet, "/api/v1/campaigns"))["campaigns"].empty());

  auto created = CreateCampaign("v2", R"(,"allow_signature_change":true)");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Body(created)["allow_signature_change"], true);
  auto hb = env.Beat("d0", {});
  ASSERT_TRUE(hb.assignment.has_value());
  EXPECT_EQ(hb.assignment->version, "v2");
  EXPECT_TRUE(hb.assignment->signature_change_allowed);
}

TEST_F(SignatureRoutesTest, UnchangedSignatureNeedsNoOverrideAndDevicesAreNotTold) {
  env.SeedFleet("f", 1);
  ASSERT_EQ(Upload("v1", UnaryModel("Relu", "4")).status, 201);
  ASSERT_EQ(Upload("v2", UnaryModel("Sigmoid", "4")).status, 201);
  auto created = CreateCampaign("v2");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Body(created)["allow_signature_change"], false);
  auto hb = env.Beat("d0", {});
  ASSERT_TRUE(hb.assignment.has_value());
  EXPECT_FALSE(hb.assignment->signature_change_allowed);
}

// A golden file for UnaryModel: x and y of the given shapes, y filled with `y`.
std::string Golden(std::vector<int64_t> x_dims, std::vector<int64_t> y_dims, float y = 1,
                   DType x_type = DType::kF32, const std::string& x_name = "x",
                   const std::string& y_name = "y") {
  auto tensor = [](std::string name, DType type, std::vector<int64_t> dims, float v) {
    inference::NamedTensor t;
    t.name = std::move(name);
    t.dtype = type;
    t.dims = std::move(dims);
    t.data.resize(t.element_count() * tensor::ElementWidth(type));
    for (size_t i = 0; type == DType::kF32 && i < t.data.size(); i += 4) {
      std::memcpy(t.data.data() + i, &v, 4);
    }
    return t;
  };
  inference::Golden g;
  g.inputs.tensors.push_back(tensor(x_name, x_type, std::move(x_dims), 1));
  g.outputs.tensors.push_back(tensor(y_name, DType::kF32, std::move(y_dims), y));
  g.tolerance = 0.01;
  return *inference::SerializeGolden(g);
}

TEST_F(SignatureRoutesTest, GoldenFileMustMatchTheVersionSignature) {
  ASSERT_EQ(Upload("v1", UnaryModel("Relu", "4")).status, 201);
  ASSERT_EQ(Upload("v2", UnaryModel("Relu", "batch")).status, 201);
  const std::string v1 = "/api/v1/models/m/versions/v1/golden";
  auto refused = [&](const std::string& path, const std::string& body) {
    auto r = Call(Method::kPut, path, body);
    EXPECT_EQ(r.status, 422) << r.body;
    return Body(r)["error"].value("message", "");
  };
  EXPECT_EQ(refused(v1, Golden({1, 8}, {1, 4})),
            "golden input 'x' has shape [1,8], the model's is [1,4] (version 'v1' signature)");
  EXPECT_EQ(refused(v1, Golden({1, 4}, {4})),
            "golden output 'y' has shape [4], the model's is [1,4] (version 'v1' signature)");
  EXPECT_EQ(refused(v1, Golden({1, 4}, {1, 4}, 1, DType::kI32)),
            "golden input 'x' is I32, the model's is F32 (version 'v1' signature)");
  EXPECT_EQ(refused(v1, Golden({1, 4}, {1, 4}, 1, DType::kF32, "z")),
            "golden input 'x' is missing (the model has that input) (version 'v1' signature)");
  EXPECT_EQ(refused(v1, Golden({1, 4}, {1, 4}, 1, DType::kF32, "x", "logits")),
            "golden output 'logits' is not an output of the model (version 'v1' signature)");
  EXPECT_EQ(refused(v1, Golden({1, 4}, {1, 4}, std::numeric_limits<float>::quiet_NaN())),
            "golden output 'y' holds NaN or infinity: no device output can match it");
  EXPECT_EQ(refused(v1, Golden({1, 4}, {1, 4}, std::numeric_limits<float>::infinity())),
            "golden output 'y' holds NaN or infinity: no device output can match it");
  EXPECT_TRUE(Body(Call(Method::kGet, "/api/v1/models/m"))["versions"][0]["golden"].is_null());
  EXPECT_EQ(Call(Method::kPut, v1, Golden({1, 4}, {1, 4})).status, 200);
  // A symbolic dim takes any size; the fixed one still has to match.
  EXPECT_EQ(
      Call(Method::kPut, "/api/v1/models/m/versions/v2/golden", Golden({1, 7}, {1, 7})).status,
      200);
  EXPECT_EQ(refused("/api/v1/models/m/versions/v2/golden", Golden({2, 7}, {1, 7})),
            "golden input 'x' has shape [2,7], the model's is [1,batch] (version 'v2' signature)");
}

TEST_F(SignatureRoutesTest, UndecodableStoredSignatureDoesNotBlockLaterUploads) {
  ASSERT_EQ(Upload("v1", UnaryModel("Relu", "4")).status, 201);
  auto rec = env.store->models().Get("m", "v1");
  ASSERT_TRUE(rec.ok());
  store::ModelVersionRecord damaged = *rec;
  damaged.version = "v1b";
  damaged.signature = "{\"inputs\":[{\"name\":";  // cut off
  ASSERT_TRUE(env.store->models().Put(damaged).ok());
  auto r = Upload("v2", UnaryModel("Relu", "8"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["signature_changed"], false);  // nothing to compare with
  // Nor does it block a golden file for that version.
  EXPECT_EQ(
      Call(Method::kPut, "/api/v1/models/m/versions/v1b/golden", Golden({1, 4}, {1, 4})).status,
      200);
}

TEST_F(SignatureRoutesTest, UploadSaysWhetherOnnxValidationRanOrWasSkipped) {
  auto checked = Upload("v1", UnaryModel("Relu", "4"));
  ASSERT_EQ(checked.status, 201) << checked.body;
  EXPECT_EQ(Body(checked)["validation"], "checked");
  auto again = Upload("v1", UnaryModel("Relu", "4"));
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(Body(again)["validation"], "none");  // nothing validated by this request
  // Above the limit (2 GiB in production) libonnx is not run: even a model it would refuse is
  // accepted, and the response says so.
  env.models->SetOnnxValidationLimit(16);
  auto skipped = Upload("v2", UnaryModel("NoSuchOp", "4"));
  ASSERT_EQ(skipped.status, 201) << skipped.body;
  EXPECT_EQ(Body(skipped)["validation"], "skipped");
  auto other = Call(Method::kPost, "/api/v1/models/t/versions/v1", "plain text model");
  ASSERT_EQ(other.status, 201) << other.body;
  EXPECT_EQ(Body(other)["validation"], "none");
}

}  // namespace
}  // namespace oxide::server::api

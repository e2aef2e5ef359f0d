#include "agent/inference_health_check.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "base/file_util.hpp"
#include "base/sha256.hpp"
#include "inference/golden.hpp"
#include "testing/fake_clock.hpp"
#include "testing/gguf_builder.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/safetensors_builder.hpp"
#include "testing/temp_dir.hpp"
#include "testing/tflite_builder.hpp"

namespace oxide::agent {
namespace {

using tensor::Dim;
using tensor::DType;

inference::NamedTensor F32(std::string name, std::vector<int64_t> dims, std::vector<float> v) {
  inference::NamedTensor t;
  t.name = std::move(name);
  t.dims = std::move(dims);
  t.data.resize(v.size() * 4);
  std::memcpy(t.data.data(), v.data(), t.data.size());
  return t;
}

tensor::ModelSignature Signature(int64_t input_width) {
  tensor::ModelSignature s;
  s.inputs.push_back({"x", DType::kF32, {Dim{-1, "batch"}, Dim{input_width, ""}}, true});
  s.outputs.push_back({"y", DType::kF32, {Dim{-1, "batch"}, Dim{2, ""}}, true});
  return s;
}

// y = [sum(x) + bias, 0], taking `latency_ms[i]` of fake time on run i (the last one repeats).
class FakeSession final : public inference::Session {
 public:
  FakeSession(testing::FakeClock& clock, std::vector<double> latency_ms, float bias,
              std::vector<inference::NamedTensor>* seen_inputs, tensor::ModelSignature signature)
      : clock_(clock),
        latency_ms_(std::move(latency_ms)),
        bias_(bias),
        seen_inputs_(*seen_inputs),
        signature_(std::move(signature)) {}
  const tensor::ModelSignature& signature() const override { return signature_; }
  Result<inference::TensorSet> Run(const inference::TensorSet& inputs) override {
    const inference::NamedTensor* x = inputs.Find("x");
    if (x == nullptr) return InvalidArgument("input 'x' missing");
    float sum = bias_;
    for (size_t i = 0; i + 4 <= x->data.size(); i += 4) {
      float v;
      std::memcpy(&v, x->data.data() + i, 4);
      sum += v;
    }
    seen_inputs_.push_back(*x);
    const double ms = latency_ms_[std::min(runs_++, latency_ms_.size() - 1)];
    clock_.Advance(std::chrono::microseconds(static_cast<int64_t>(ms * 1000)));
    inference::TensorSet out;
    out.tensors.push_back(F32("y", {1, 2}, {sum, 0}));
    return out;
  }

 private:
  testing::FakeClock& clock_;
  std::vector<double> latency_ms_;
  size_t runs_ = 0;
  float bias_;
  std::vector<inference::NamedTensor>& seen_inputs_;
  tensor::ModelSignature signature_;
};

class FakeRuntime final : public inference::Runtime {
 public:
  std::string_view name() const override { return "fake-runtime"; }
  Result<std::unique_ptr<inference::Session>> Load(const std::string& path,
                                                   const inference::SessionOptions&) override {
    loaded.push_back(path);
    if (!load_error.ok()) return load_error;
    return std::unique_ptr<inference::Session>(
        std::make_unique<FakeSession>(clock, latency_ms, bias, &seen_inputs, signature));
  }
  tensor::ModelSignature signature = Signature(4);
  testing::FakeClock clock;
  std::vector<double> latency_ms{1.0};
  float bias = 0;
  Status load_error = Status::Ok();
  std::vector<std::string> loaded;
  std::vector<inference::NamedTensor> seen_inputs;  // every Run's "x", across sessions
};

// ONNX files (the check runs graphs only); the fake runtime never parses them.
const std::string kNewModel = testing::CheckerValidOnnxModel(4, 1);
const std::string kOldModel = testing::CheckerValidOnnxModel(4, 2);

class InferenceHealthCheckTest : public ::testing::Test {
 protected:
  InferenceHealthCheckTest() {
    EXPECT_TRUE(AtomicWriteFile(model, kNewModel).ok());
    EXPECT_TRUE(AtomicWriteFile(previous, kOldModel).ok());
  }
  HealthCheckRequest Request() {
    HealthCheckRequest r{model, "m", "2.0", ToHex(Sha256::Of(kNewModel)), kNewModel.size()};
    r.previous_model_path = previous;
    return r;
  }
  // The new model's signature takes inputs of `new_width`; the previous one's 4.
  SignatureReader Reader(int64_t new_width) {
    return [this,
            new_width](const std::string& path) -> Result<std::optional<tensor::ModelSignature>> {
      signature_reads.push_back(path);
      return std::optional<tensor::ModelSignature>(Signature(path == model ? new_width : 4));
    };
  }
  std::string WriteGolden(float y, std::optional<double> budget, double tolerance = 1e-4) {
    inference::Golden g;
    g.inputs.tensors.push_back(F32("x", {1, 4}, {1, 2, 3, 4}));
    g.outputs.tensors.push_back(F32("y", {1, 2}, {y, 0}));
    g.tolerance = tolerance;
    g.latency_budget_ms = budget;
    const std::string path = dir.File("golden");
    EXPECT_TRUE(AtomicWriteFile(path, *inference::SerializeGolden(g)).ok());
    return path;
  }
  Result<HealthReport> Check(HealthCheckRequest r, int64_t new_width = 4) {
    InferenceHealthChecker checker(runtime, runtime.clock, Reader(new_width),
                                   InferenceCheckOptions{2, 20});
    return checker.Check(r);
  }

  oxide::testing::TempDir dir;
  std::string model = dir.File("model");
  std::string previous = dir.File("backup");
  FakeRuntime runtime;
  std::vector<std::string> signature_reads;
};

TEST_F(InferenceHealthCheckTest, GoldenOutputsWithinToleranceAndBudgetAreHealthy) {
  HealthCheckRequest r = Request();
  r.golden_path = WriteGolden(10, 25);
  auto rep = Check(r);
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  EXPECT_TRUE(rep->healthy) << rep->detail;
  EXPECT_EQ(rep->detail,
            "inference check (fake-runtime): golden outputs within 0.0001, p95 1.0 ms over 20 "
            "runs (budget 25 ms)");
  EXPECT_EQ(runtime.loaded, std::vector<std::string>{model});
  EXPECT_EQ(runtime.seen_inputs.size(), 22u);  // 2 warm-up + 20 timed
}

TEST_F(InferenceHealthCheckTest, ChangedSignatureIsRefusedUnlessAllowed) {
  auto rep = Check(Request(), /*new_width=*/8);
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->healthy);
  // The reason is the signature comparison's first line, verbatim ("input 'x' shape changed:
  // [batch,4] -> [batch,8]" once tensor::DescribeSignatureChange is in).
  EXPECT_EQ(rep->detail, tensor::DescribeSignatureChange(Signature(4), Signature(8)).front());
  EXPECT_TRUE(runtime.loaded.empty());  // refused before loading
  EXPECT_EQ(signature_reads, (std::vector<std::string>{previous, model}));

  HealthCheckRequest allowed = Request();
  allowed.signature_change_allowed = true;
  signature_reads.clear();
  rep = Check(allowed, 8);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->healthy) << rep->detail;
  EXPECT_TRUE(signature_reads.empty());
}

// A re-export that renames the dynamic batch axis feeds the same shapes: not a change.
TEST_F(InferenceHealthCheckTest, RenamedSymbolicDimsKeepTheSignature) {
  InferenceHealthChecker checker(
      runtime, runtime.clock,
      [this](const std::string& path) -> Result<std::optional<tensor::ModelSignature>> {
        tensor::ModelSignature s = Signature(4);
        if (path == model) s.inputs[0].dims[0].symbol = "N";
        return std::optional<tensor::ModelSignature>(s);
      },
      InferenceCheckOptions{2, 20});
  auto rep = checker.Check(Request());
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->healthy) << rep->detail;
}

TEST_F(InferenceHealthCheckTest, FirstInstallHasNoSignatureToKeep) {
  HealthCheckRequest r = Request();
  r.previous_model_path.clear();
  auto rep = Check(r, 8);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->healthy) << rep->detail;
}

TEST_F(InferenceHealthCheckTest, OutputsBeyondToleranceAreUnhealthyWithTheDifference) {
  HealthCheckRequest r = Request();
  r.golden_path = WriteGolden(10, std::nullopt);
  runtime.bias = 0.5;
  auto rep = Check(r);
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->healthy);
  EXPECT_EQ(rep->detail, "output 'y' differs by 0.5 > tolerance 0.0001 at index 0");
}

TEST_F(InferenceHealthCheckTest, NaNOutputsAreUnhealthyEvenWithoutAGoldenFile) {
  runtime.bias = std::numeric_limits<float>::quiet_NaN();
  auto rep = Check(Request());
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->healthy);
  EXPECT_EQ(rep->detail, "output 'y' has NaN at index 0");
}

TEST_F(InferenceHealthCheckTest, WithoutAGoldenFileRunsZerosShapedByTheSignature) {
  auto rep = Check(Request());
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->healthy) << rep->detail;
  EXPECT_EQ(rep->detail,
            "inference check (fake-runtime): finite outputs on zeros, p95 1.0 ms over 20 runs");
  ASSERT_FALSE(runtime.seen_inputs.empty());
  const inference::NamedTensor& x = runtime.seen_inputs.at(0);
  EXPECT_EQ(x.dims, (std::vector<int64_t>{1, 4}));  // symbolic batch -> 1
  EXPECT_EQ(x.data, std::string(16, '\0'));
}

std::vector<double> Latencies(std::initializer_list<std::pair<int, double>> runs) {
  std::vector<double> v;
  for (auto [n, ms] : runs) v.insert(v.end(), static_cast<size_t>(n), ms);
  return v;
}

TEST_F(InferenceHealthCheckTest, P95OverBudgetIsUnhealthyAndWarmUpIsNotTimed) {
  HealthCheckRequest r = Request();
  r.golden_path = WriteGolden(10, 25);
  // Two slow warm-up runs (not timed), then 18 fast runs and two slow ones: p95 of 20 is the
  // second slowest; the re-measurement is as slow (the last latency repeats).
  runtime.latency_ms = Latencies({{2, 500}, {18, 5}, {2, 41.2}});
  auto rep = Check(r);
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->healthy);
  EXPECT_FALSE(rep->local_fault);
  EXPECT_EQ(rep->detail, "p95 41.2 ms > budget 25 ms");
  EXPECT_EQ(runtime.seen_inputs.size(), 42u);  // 2 warm-up + 20 timed + 20 re-measured
  runtime.latency_ms = {500, 500, 5};          // only the warm-up is slow
  rep = Check(r);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->healthy) << rep->detail;
}

// With 10 runs the p95 is the slowest run: a single hiccup would fail the model.
TEST_F(InferenceHealthCheckTest, AtLeast20RunsAreTimed) {
  InferenceHealthChecker checker(runtime, runtime.clock, Reader(4), InferenceCheckOptions{2, 10});
  auto rep = checker.Check(Request());
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(runtime.seen_inputs.size(), 22u);
}

// A single slow run (another process woke up) is not the 95th percentile of 20.
TEST_F(InferenceHealthCheckTest, OneSlowRunDoesNotMissTheBudget) {
  HealthCheckRequest r = Request();
  r.golden_path = WriteGolden(10, 25);
  runtime.latency_ms = Latencies({{2, 5}, {19, 5}, {1, 41.2}, {1, 5}});
  auto rep = Check(r);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->healthy) << rep->detail;
}

// A miss caused by a busy moment of the device is measured again before it fails the model.
TEST_F(InferenceHealthCheckTest, ABudgetMissIsMeasuredAgainBeforeFailing) {
  HealthCheckRequest r = Request();
  r.golden_path = WriteGolden(10, 25);
  runtime.latency_ms = Latencies({{2, 5}, {10, 5}, {10, 41.2}, {1, 5}});
  auto rep = Check(r);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->healthy) << rep->detail;
  EXPECT_EQ(runtime.seen_inputs.size(), 42u);
}

TEST_F(InferenceHealthCheckTest, ZeroInputsThatCannotBeBuiltAreALocalFault) {
  runtime.signature.inputs[0].has_shape = false;
  auto rep = Check(Request());
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->healthy);
  EXPECT_TRUE(rep->local_fault) << rep->detail;
  runtime.signature = Signature(4);
  runtime.signature.inputs[0].dims = {Dim{1 << 20, ""}, Dim{1 << 20, ""}};  // 4 TiB of zeros
  rep = Check(Request());
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->healthy);
  EXPECT_TRUE(rep->local_fault) << rep->detail;
}

TEST_F(InferenceHealthCheckTest, AnIoOrMemoryErrorLoadingTheModelIsALocalFault) {
  for (ErrorCode code : {ErrorCode::kIo, ErrorCode::kResourceExhausted}) {
    runtime.load_error = Status(code, "no luck");
    auto rep = Check(Request());
    ASSERT_TRUE(rep.ok());
    EXPECT_FALSE(rep->healthy);
    EXPECT_TRUE(rep->local_fault) << rep->detail;
  }
}

// The golden file was checked when fetched; one damaged on the device since (flash wear, a full
// disk) is the device's problem: a local fault (the next attempt fetches it again).
TEST_F(InferenceHealthCheckTest, AGoldenFileDamagedOnTheDeviceIsALocalFault) {
  HealthCheckRequest r = Request();
  r.golden_path = WriteGolden(10, 25);
  auto bytes = ReadFileToString(r.golden_path);
  ASSERT_TRUE(bytes.ok());
  r.golden_sha256 = ToHex(Sha256::Of(*bytes));
  auto rep = Check(r);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->healthy) << rep->detail;
  std::string damaged = *bytes;
  damaged[damaged.size() - 1] = static_cast<char>(damaged.back() ^ 1);
  ASSERT_TRUE(AtomicWriteFile(r.golden_path, damaged).ok());
  rep = Check(r);
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->healthy);
  EXPECT_TRUE(rep->local_fault) << rep->detail;
  EXPECT_NE(rep->detail.find("golden file on the device does not match its SHA-256"),
            std::string::npos)
      << rep->detail;
}

TEST_F(InferenceHealthCheckTest, AModelThatDoesNotLoadIsUnhealthy) {
  runtime.load_error = Status(ErrorCode::kUnsupported, "operator 'If' is not supported");
  auto rep = Check(Request());
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->healthy);
  EXPECT_EQ(rep->detail, "model does not load with fake-runtime: operator 'If' is not supported");
}

TEST_F(InferenceHealthCheckTest, TheBuiltInCheckRunsFirst) {
  HealthCheckRequest r = Request();
  r.sha256 = std::string(64, '0');
  auto rep = Check(r);
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->healthy);
  EXPECT_TRUE(runtime.loaded.empty());
}

TEST_F(InferenceHealthCheckTest, ARefusedGoldenFileIsUnhealthy) {
  HealthCheckRequest r = Request();
  r.golden_path = dir.File("not-golden");
  ASSERT_TRUE(AtomicWriteFile(r.golden_path, "junk").ok());
  auto rep = Check(r);
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->healthy);
  EXPECT_EQ(rep->detail.rfind("golden file refused: ", 0), 0u) << rep->detail;
}

// A format without a graph (weights only, or a file Oxide does not know) has nothing to run: the
// check says so and passes, instead of handing the file to the runtime (which would refuse it).
TEST_F(InferenceHealthCheckTest, AModelWithoutAGraphSkipsTheInferenceSteps) {
  const std::string w = testing::F32Bytes({1, 2});
  const std::string safetensors =
      testing::SafetensorsBuilder().AddTensor("w", DType::kF32, {2}, w).Build();
  testing::GgufBuilder gguf;
  gguf.AddString("general.architecture", "llama");
  gguf.AddTensor("w", testing::GgufBuilder::kF32, {2}, w);
  testing::TfliteBuilder tflite;
  tflite.AddTensor("w", testing::TfliteBuilder::kFloat32, {2}, tflite.AddBuffer(w));
  for (const auto& [bytes, skipped] : std::vector<std::pair<std::string, std::string>>{
           {safetensors, "safetensors has no graph"},
           {gguf.Build(), "gguf has no graph"},
           {tflite.Build(), "tflite is not run by fake-runtime"},
           {"a blob of weights", "an opaque file has no graph"}}) {
    SCOPED_TRACE(skipped);
    ASSERT_TRUE(AtomicWriteFile(model, bytes).ok());
    ASSERT_TRUE(AtomicWriteFile(previous, bytes).ok());
    HealthCheckRequest r = Request();
    r.sha256 = ToHex(Sha256::Of(bytes));
    r.size_bytes = bytes.size();
    r.golden_path = WriteGolden(10, 25);
    // No expectation from a previous model without a graph.
    InferenceHealthChecker checker(
        runtime, runtime.clock,
        [](const std::string&) -> Result<std::optional<tensor::ModelSignature>> {
          return std::optional<tensor::ModelSignature>();
        },
        InferenceCheckOptions{2, 10});
    auto rep = checker.Check(r);
    ASSERT_TRUE(rep.ok()) << rep.status().ToString();
    EXPECT_TRUE(rep->healthy) << rep->detail;
    EXPECT_EQ(rep->detail, "inference check skipped: " + skipped);
    EXPECT_TRUE(runtime.loaded.empty());
  }
}

}  // namespace
}  // namespace oxide::agent

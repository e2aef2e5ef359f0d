// libFuzzer harness: arbitrary bytes through the ONNX indexer, format detection and the graph
// summary (model signature) reader.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_checks.hpp"
#include "tensor/model_signature.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace oxide::tensor;  // NOLINT: local to the harness
  const std::string_view file(reinterpret_cast<const char*>(data), size);
  oxide::fuzz::CheckIndexResult(IndexOnnx(file), size);
  const ModelFormat format = DetectFormat(file);
  oxide::fuzz::CheckIndexResult(IndexModel(file, format), size);
  // The signature reader walks other fields than the indexer (value infos, shapes, nodes): it
  // must fail cleanly, and what it reads must survive the store's JSON encoding unchanged
  // (names are replaced only when not UTF-8).
  auto summary = SummariseModel(file, ModelFormat::kOnnx);
  if (summary.ok()) {
    auto back = DecodeSignature(EncodeSignature(summary->signature));
    if (!back.ok()) oxide::fuzz::Violation("signature JSON does not decode", "");
    if (!DescribeSignatureChange(summary->signature, summary->signature).empty()) {
      oxide::fuzz::Violation("a signature differs from itself", "");
    }
  } else if (summary.status().code() != oxide::ErrorCode::kCorrupt) {
    oxide::fuzz::Violation("unexpected summary error", summary.status().ToString());
  }
  return 0;
}

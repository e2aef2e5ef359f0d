// libFuzzer harness: arbitrary bytes through the TFLite indexer and format detection.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace oxide::tensor;  // NOLINT: local to the harness
  const std::string_view file(reinterpret_cast<const char*>(data), size);
  oxide::fuzz::CheckIndexResult(IndexTflite(file), size);
  const ModelFormat format = DetectFormat(file);
  oxide::fuzz::CheckIndexResult(IndexModel(file, format), size);
  return 0;
}

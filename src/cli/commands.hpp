#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "base/status.hpp"

namespace CLI {
class App;
}

namespace oxide::cli {

// Options of each offline subcommand, filled by cli_main.cpp (the only TU that sees CLI11).
struct DiffArgs {
  std::string base, target, out;
  int level = 0;
  bool no_binary = false, no_tensor = false, no_full = false;
  int max_patch_version = 3;  // 2: never write the coded-tensor strategy (docs/format/patch-v3.md)
  int threads = 0;            // 0: hardware concurrency; the patch bytes never depend on it
};
struct PatchArgs {
  std::string base, patch, out;
};
struct InspectArgs {
  std::string path;
  bool json = false;
};
struct InfoArgs {
  std::string path;
  bool json = false;
  std::FILE* out = nullptr;  // stdout when null (tests pass a temp file)
};
struct DeltaBenchArgs {
  std::string dir;
  bool no_external = false;
  bool allow_missing = false;  // a missing competitor marks the run "incomplete" instead of failing
  std::FILE* out = nullptr;    // report destination; stdout when null (tests pass a temp file)
};
struct EncryptArgs {
  std::string input, key_file, out;  // out empty: input + ".enc"
  uint32_t chunk_size = 64u << 10;   // the format's default; 0 is refused like any bad size
  bool force = false;
};
struct DecryptArgs {
  std::string input, key_file, out;  // out empty: input without its ".enc" suffix
  bool force = false;
};
struct EncKeyGenerateArgs {
  std::string out;
  bool force = false;
};
// `oxide run MODEL`: one inference on the model's inputs (from a SafeTensors file, zeros, or
// seeded uniform values in [-1, 1)); prints each output, optionally writes them and a golden file.
struct RunArgs {
  std::string model, input, output, golden;
  bool zeros = false;
  bool has_seed = false;
  uint64_t seed = 0;
  double tolerance = 1e-4;
  double latency_budget_ms = 0;  // 0: no budget in the golden file
  std::FILE* out = nullptr;      // stdout when null
};
// `oxide bench MODEL`: latency over `iterations` runs on zeros after `warmup` untimed runs;
// `--coverage DIR` instead loads and checks every torch fixture in DIR (tests/models).
struct InferBenchArgs {
  std::string model, coverage_dir;
  int warmup = 10, iterations = 100, threads = 1;
  bool json = false;
  std::FILE* out = nullptr;  // stdout when null
};
// Registers delta-bench's own flags on its subcommand (kept beside the command, not in cli_main).
void AddDeltaBenchOptions(CLI::App* cmd, DeltaBenchArgs* args);

// Each returns OK after printing its result to stdout; errors are printed by the caller.
Status RunDiff(const DiffArgs& a);
Status RunPatch(const PatchArgs& a);
Status RunInspect(const InspectArgs& a);
Status RunInfo(const InfoArgs& a);
Status RunDeltaBench(const DeltaBenchArgs& a);
Status RunModel(const RunArgs& a);
Status RunInferBench(const InferBenchArgs& a);
Status RunEncrypt(const EncryptArgs& a);
Status RunDecrypt(const DecryptArgs& a);
Status RunEncKeyGenerate(const EncKeyGenerateArgs& a);

}  // namespace oxide::cli

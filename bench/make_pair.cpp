// Writes a deterministic SafeTensors model pair for the delta speed benchmark:
//   make_pair OUT_DIR TOTAL_MB [CHANGED_PERCENT [RELATIVE_STEP]]
// v1 holds fp32 tensors of N(0, 0.02)-like weights; v2 is v1 with CHANGED_PERCENT (default 10)
// of the tensors "fine-tuned": every weight w of a changed tensor becomes
// w * (1 + RELATIVE_STEP * n), n ~ N(0, 1), RELATIVE_STEP default 1e-3: a step relative to the
// weight, so every weight keeps its exponent and loses only its low mantissa bits, as in a short
// Adam fine-tune. (An absolute step, which this program applied before although its comment said
// relative, rewrites small weights completely and makes the pair look less like a fine-tune.)
// CHANGED_PERCENT 100 is the dense pair (every tensor fine-tuned); 10 the sparse one.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Rng {  // splitmix64: fast, deterministic, good enough for synthetic weights
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float Uniform() {
    return static_cast<float>(static_cast<double>(Next() >> 40) * (1.0 / 16777216.0));
  }
  float Normal() {  // sum of 4 uniforms: cheap bell curve
    return (Uniform() + Uniform() + Uniform() + Uniform() - 2.0f) * 1.7320508f;
  }
};

bool WriteFile(const std::string& path, const std::string& header,
               const std::vector<std::vector<float>>& tensors) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  uint64_t n = header.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(header.data(), 1, n, f) == n;
  for (const auto& t : tensors) {
    ok = ok && std::fwrite(t.data(), sizeof(float), t.size(), f) == t.size();
  }
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: make_pair OUT_DIR TOTAL_MB [CHANGED_PERCENT [RELATIVE_STEP]]\n");
    return 2;
  }
  std::string dir = argv[1];
  double total_mb = std::atof(argv[2]);
  int changed_pct = argc > 3 ? std::atoi(argv[3]) : 10;
  float step = argc > 4 ? static_cast<float>(std::atof(argv[4])) : 1e-3f;
  if (changed_pct < 0 || changed_pct > 100 || !(step >= 0)) {
    std::fprintf(stderr, "make_pair: CHANGED_PERCENT must be 0..100, RELATIVE_STEP >= 0\n");
    return 2;
  }
  const size_t kTensorFloats = 1u << 20;  // 4 MiB tensors, like a mid-size linear layer
  size_t count = static_cast<size_t>(total_mb * 1024 * 1024 / (kTensorFloats * 4));
  if (count == 0) count = 1;
  Rng rng{42};
  std::vector<std::vector<float>> v1(count, std::vector<float>(kTensorFloats));
  for (auto& t : v1) {
    for (auto& x : t) x = 0.02f * rng.Normal();
  }
  std::vector<std::vector<float>> v2 = v1;
  size_t changed = 0;
  for (size_t i = 0; i < count; ++i) {
    // Evenly spaced: tensor i changes when the running quota crosses an integer.
    if ((i * changed_pct) / 100 == ((i + 1) * changed_pct) / 100) continue;
    ++changed;
    for (auto& x : v2[i]) x *= 1.0f + step * rng.Normal();
  }
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  size_t off = 0;
  for (size_t i = 0; i < count; ++i) {
    size_t bytes = kTensorFloats * 4;
    header += ",\"layer" + std::to_string(i) + ".weight\":{\"dtype\":\"F32\",\"shape\":[1024," +
              std::to_string(kTensorFloats / 1024) + "],\"data_offsets\":[" + std::to_string(off) +
              "," + std::to_string(off + bytes) + "]}";
    off += bytes;
  }
  header += "}";
  while (header.size() % 8) header += ' ';
  if (!WriteFile(dir + "/v1.safetensors", header, v1) ||
      !WriteFile(dir + "/v2.safetensors", header, v2)) {
    std::fprintf(stderr, "make_pair: cannot write into %s\n", dir.c_str());
    return 1;
  }
  std::printf("wrote %zu tensors (%zu changed by relative steps of %g), %.1f MB each file\n", count,
              changed, static_cast<double>(step), static_cast<double>(off) / 1e6);
  return 0;
}

// Residual coder benchmark (issue #13): sizes and single-thread speeds of the codec against the
// patch-v2 baseline (zstd -19 of the byte planes of each 1 MiB block).
//   codec_bench [--min-seconds S] [--no-synthetic] [--literal-only] PAIR_DIR...
// Each PAIR_DIR holds v1.safetensors (base) and v2.safetensors (target), as the corpus pairs in
// /work/shared/corpus/dev do. Per pair and transform (1 XOR, 2 SUB8, 3 SUBINT, 4 SUBORD) over
// the tensors that changed (a builder COPYs the rest), then "best": per tensor the smaller
// transform for each coder, then transform 0 (the whole v2 model's tensors as literals, a first
// install; --literal-only measures nothing else). Ends with a synthetic 4 MiB gaussian fine-tune
// per float kind (codec/test_data.hpp). Bytes are payload bytes only (no record framing). Speeds
// are MB (1e6 bytes) of block output per second of thread CPU time, decode repeated until it ran
// --min-seconds (default 0.3).
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "codec/residual_coder.hpp"
#include "codec/test_data.hpp"
#include "codec/zstd_planes.hpp"
#include "delta/transform.hpp"
#include "tensor/tensor_index.hpp"

namespace {

using oxide::codec::BlockInfo;
using oxide::codec::ElementKind;

// Thread CPU time: the benchmark machine is shared, and wall time would charge other jobs'
// slices to the coder.
struct Clock {
  using time_point = double;
  static double now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
};

constexpr size_t kBlock = size_t{1} << 20;

struct Job {  // one tensor: target bytes, base bytes (empty for literals), how to code it
  std::string name;
  BlockInfo info;
  std::vector<uint8_t> target;
  std::vector<uint8_t> base;
};

struct Totals {
  uint64_t raw = 0, zstd19 = 0, ours = 0;
  double enc_s = 0, dec_s = 0;
};

double Seconds(double a, double b) { return b - a; }

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

bool KindOf(oxide::tensor::DType d, BlockInfo* info) {
  using oxide::tensor::DType;
  switch (d) {
    case DType::kF32:
      *info = {ElementKind::kFp32, 4, 0};
      return true;
    case DType::kF16:
      *info = {ElementKind::kFp16, 2, 0};
      return true;
    case DType::kBF16:
      *info = {ElementKind::kBf16, 2, 0};
      return true;
    case DType::kF64:
      *info = {ElementKind::kFp64, 8, 0};
      return true;
    default: {
      size_t w = oxide::tensor::ElementWidth(d);
      if (w != 1 && w != 2 && w != 4 && w != 8) return false;
      *info = {ElementKind::kBytes, static_cast<uint8_t>(w), 0};
      return true;
    }
  }
}

// Codes every block of `job` with transform `t` (0: literal); adds to *tot.
void Measure(const Job& job, uint8_t t, double min_seconds, Totals* tot) {
  size_t n = job.target.size();
  std::vector<uint8_t> residual(n);
  if (t == 0) {
    residual = job.target;
  } else {
    oxide::delta::ForwardTransform(static_cast<oxide::delta::format::Transform>(t), job.info.width,
                                   job.target.data(), job.base.data(), residual.data(), n);
  }
  BlockInfo info = job.info;
  info.transform = t;
  const uint8_t* base = t == 0 ? nullptr : job.base.data();
  std::vector<std::string> payloads;
  // One coder context per direction, as the patch builder and the applier keep one per patch.
  oxide::codec::CoderContext enc_ctx, dec_ctx;
  auto t0 = Clock::now();
  for (size_t at = 0; at < n; at += kBlock) {
    size_t len = std::min(kBlock, n - at);
    payloads.emplace_back();
    oxide::codec::EncodeResidualBlock(info, residual.data() + at, base ? base + at : nullptr, len,
                                      &payloads.back(), {}, &enc_ctx);
  }
  auto t1 = Clock::now();
  std::vector<uint8_t> back(n);
  auto decode_all = [&] {
    for (size_t at = 0, k = 0; at < n; at += kBlock, ++k) {
      size_t len = std::min(kBlock, n - at);
      const std::string& p = payloads[k];
      oxide::Status s = oxide::codec::DecodeResidualBlock(
          info, reinterpret_cast<const uint8_t*>(p.data()), p.size(), base ? base + at : nullptr,
          back.data() + at, len, &dec_ctx);
      if (!s.ok()) {
        std::fprintf(stderr, "%s: decode failed: %s\n", job.name.c_str(), s.ToString().c_str());
        std::exit(1);
      }
    }
  };
  // Timed in batches of reps that each take at least 5 ms, so that the clock's own cost (a
  // system call) stays out of the figure for small tensors.
  int reps = 0, batch = 1;
  double dec = 0;
  do {
    auto d0 = Clock::now();
    for (int r = 0; r < batch; ++r) decode_all();
    double dt = Seconds(d0, Clock::now());
    dec += dt;
    reps += batch;
    if (dt < 0.005) batch *= 2;
  } while (dec < min_seconds);
  if (back != residual) {
    std::fprintf(stderr, "%s: round trip differs (transform %d)\n", job.name.c_str(), t);
    std::exit(1);
  }
  uint64_t zstd = 0, ours = 0;
  for (size_t at = 0, k = 0; at < n; at += kBlock, ++k) {
    size_t len = std::min(kBlock, n - at);
    std::string z;
    oxide::codec::internal::EncodeZstdPlanes(residual.data() + at, len, job.info.width, 19, &z);
    zstd += z.size();
    ours += payloads[k].size();
  }
  tot->raw += n;
  tot->zstd19 += zstd;
  tot->ours += ours;
  tot->enc_s += Seconds(t0, t1);
  tot->dec_s += dec / reps;
}

void Print(const std::string& pair, const std::string& what, const Totals& t) {
  std::printf(
      "%-36s %-8s raw %10llu  zstd19 %10llu  codec %10llu  codec/zstd19 %.3f  "
      "codec/raw %.3f  enc %6.1f MB/s  dec %6.1f MB/s\n",
      pair.c_str(), what.c_str(), static_cast<unsigned long long>(t.raw),
      static_cast<unsigned long long>(t.zstd19), static_cast<unsigned long long>(t.ours),
      t.zstd19 ? static_cast<double>(t.ours) / static_cast<double>(t.zstd19) : 0.0,
      t.raw ? static_cast<double>(t.ours) / static_cast<double>(t.raw) : 0.0,
      t.enc_s > 0 ? static_cast<double>(t.raw) / t.enc_s / 1e6 : 0.0,
      t.dec_s > 0 ? static_cast<double>(t.raw) / t.dec_s / 1e6 : 0.0);
}

void RunJobs(const std::string& label, const std::vector<Job>& changed,
             const std::vector<Job>& literal, double min_seconds, bool literal_only) {
  Totals best;
  std::map<int, Totals> per;
  for (const Job& job : literal_only ? std::vector<Job>{} : changed) {
    Totals pick;
    for (uint8_t t = 1; t <= 4; ++t) {
      Totals one;
      Measure(job, t, min_seconds, &one);
      Totals& acc = per[t];
      acc.raw += one.raw;
      acc.zstd19 += one.zstd19;
      acc.ours += one.ours;
      acc.enc_s += one.enc_s;
      acc.dec_s += one.dec_s;
      // "best": each coder with its own best transform for this tensor.
      if (t == 1 || one.zstd19 < pick.zstd19) pick.zstd19 = one.zstd19;
      if (t == 1 || one.ours < pick.ours) {
        pick.ours = one.ours;
        pick.enc_s = one.enc_s;
        pick.dec_s = one.dec_s;
      }
      pick.raw = one.raw;
    }
    best.raw += pick.raw;
    best.zstd19 += pick.zstd19;
    best.ours += pick.ours;
    best.enc_s += pick.enc_s;
    best.dec_s += pick.dec_s;
  }
  static const char* kNames[] = {"lit", "xor", "sub8", "subint", "subord"};
  if (!changed.empty() && !literal_only) {
    for (const auto& kv : per) Print(label, kNames[kv.first], kv.second);
    Print(label, "best", best);
  }
  Totals lit;
  for (const Job& job : literal) Measure(job, 0, min_seconds, &lit);
  if (!literal.empty()) Print(label, "literal", lit);
}

void RunPair(const std::string& dir, double min_seconds, bool literal_only) {
  std::vector<uint8_t> b1 = ReadFile(dir + "/v1.safetensors");
  std::vector<uint8_t> b2 = ReadFile(dir + "/v2.safetensors");
  auto i1 = oxide::tensor::IndexSafeTensors(
      std::string_view(reinterpret_cast<const char*>(b1.data()), b1.size()));
  auto i2 = oxide::tensor::IndexSafeTensors(
      std::string_view(reinterpret_cast<const char*>(b2.data()), b2.size()));
  if (!i1.ok() || !i2.ok()) {
    std::fprintf(stderr, "%s: cannot index the safetensors pair\n", dir.c_str());
    return;
  }
  std::map<std::string, const oxide::tensor::TensorInfo*> by_name;
  for (const auto& t : i1->tensors) by_name[t.name] = &t;
  std::vector<Job> changed, literal;
  for (const auto& t : i2->tensors) {
    BlockInfo info;
    if (t.storage != oxide::tensor::Storage::kRaw || !KindOf(t.dtype, &info)) continue;
    if (t.offset + t.length > b2.size()) continue;
    Job job{t.name,
            info,
            std::vector<uint8_t>(b2.begin() + t.offset, b2.begin() + t.offset + t.length),
            {}};
    literal.push_back(job);
    auto it = by_name.find(t.name);
    if (it == by_name.end() || it->second->dtype != t.dtype || it->second->length != t.length ||
        it->second->offset + t.length > b1.size()) {
      continue;
    }
    job.base.assign(b1.begin() + it->second->offset, b1.begin() + it->second->offset + t.length);
    if (job.base != job.target) changed.push_back(std::move(job));
  }
  std::string trimmed = dir;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  std::string label = trimmed.substr(trimmed.find_last_of('/') + 1);
  RunJobs(label, changed, literal, min_seconds, literal_only);
}

void RunSynthetic(double min_seconds, bool literal_only) {
  struct Kind {
    const char* name;
    BlockInfo info;
    bool bf16;
  };
  const Kind kinds[] = {{"synthetic-fp32", {ElementKind::kFp32, 4, 0}, false},
                        {"synthetic-bf16", {ElementKind::kBf16, 2, 0}, true},
                        {"synthetic-fp16", {ElementKind::kFp16, 2, 0}, false}};
  for (const Kind& k : kinds) {
    size_t count = (size_t{4} << 20) / k.info.width;
    Job job{k.name, k.info, {}, {}};
    job.base = oxide::codec::testing::GaussianWeights(count, k.info.width, k.bf16, 0.02f, 0.0, 1);
    // Adam-like: a step of about 1e-3 relative, a fifth of the rows untouched.
    job.target =
        oxide::codec::testing::FineTune(job.base, k.info.width, k.bf16, 1e-3f, 0.0f, 0.2, 2);
    Job lit{k.name, k.info, job.base, {}};
    RunJobs(k.name, {job}, {lit}, min_seconds, literal_only);
  }
}

}  // namespace

int main(int argc, char** argv) {
  double min_seconds = 0.3;
  bool synthetic = true;
  bool literal_only = false;
  std::vector<std::string> dirs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--no-synthetic") {
      synthetic = false;
    } else if (a == "--literal-only") {
      literal_only = true;
    } else if (a == "--min-seconds" && i + 1 < argc) {
      min_seconds = std::atof(argv[++i]);
    } else {
      dirs.push_back(a);
    }
  }
  for (const std::string& d : dirs) RunPair(d, min_seconds, literal_only);
  if (synthetic) RunSynthetic(min_seconds, literal_only);
  return 0;
}

// `oxide delta-bench DIR`: Oxide against zstd / xdelta3 / bsdiff on every pair directory, every
// round trip checked. Prints a markdown table and the acceptance summary.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "base/file_util.hpp"
#include "base/sha256.hpp"
#include "cli/commands.hpp"
#include "delta/build/patch_builder.hpp"
#include "delta/patch_applier.hpp"

namespace oxide::cli {

namespace {

namespace fs = std::filesystem;

struct ToolResult {
  std::string tool;
  uint64_t bytes = 0;
  double enc_s = 0, dec_s = 0;
  bool ok = false;
};

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string Q(const std::string& s) { return "'" + s + "'"; }

bool HaveTool(const char* name) {
  return std::system((std::string("command -v ") + name + " >/dev/null 2>&1").c_str()) == 0;
}

// Runs an external encoder and decoder; ok when the decoded file hashes to the target.
ToolResult RunExternal(const std::string& tool, const std::string& enc, const std::string& dec,
                       const std::string& patch, const std::string& out, const Digest& want) {
  ToolResult r{tool};
  auto t0 = std::chrono::steady_clock::now();
  if (std::system((enc + " >/dev/null 2>&1").c_str()) != 0) return r;
  r.enc_s = Since(t0);
  std::error_code ec;
  r.bytes = fs::file_size(patch, ec);
  t0 = std::chrono::steady_clock::now();
  if (std::system((dec + " >/dev/null 2>&1").c_str()) != 0) return r;
  r.dec_s = Since(t0);
  auto got = Sha256File(out);
  r.ok = got.ok() && *got == want;
  return r;
}

struct PairRow {
  std::string name, fmt;
  uint64_t target_size = 0;
  ToolResult oxide;
  std::string strategy;
  std::vector<ToolResult> others;
};

Status BenchPair(const std::string& dir, const std::string& name, const std::string& ext,
                 bool external, const std::string& tmp, PairRow* row) {
  std::string v1 = dir + "/v1." + ext, v2 = dir + "/v2." + ext;
  row->name = name;
  row->fmt = ext;
  OXIDE_ASSIGN_OR_RETURN(Digest want, Sha256File(v2));
  std::error_code ec;
  row->target_size = fs::file_size(v2, ec);
  std::string patch = tmp + "/oxide.patch", out = tmp + "/oxide.out";
  auto t0 = std::chrono::steady_clock::now();
  OXIDE_ASSIGN_OR_RETURN(auto d, delta::BuildPatchFile(v1, v2, patch));
  row->oxide.tool = "oxide";
  row->oxide.enc_s = Since(t0);
  row->oxide.bytes = d.patch.size();
  row->strategy = std::string(delta::ToString(d.header.strategy));
  t0 = std::chrono::steady_clock::now();
  OXIDE_RETURN_IF_ERROR(delta::ApplyPatchFile(v1, patch, out).status());
  row->oxide.dec_s = Since(t0);
  OXIDE_ASSIGN_OR_RETURN(Digest got, Sha256File(out));
  row->oxide.ok = got == want;
  if (!row->oxide.ok) return Internal("oxide round trip failed on " + name + "/" + ext);
  // Identity: every file diffed against itself must round-trip too.
  for (const std::string& f : {v1, v2}) {
    OXIDE_RETURN_IF_ERROR(delta::BuildPatchFile(f, f, patch).status());
    OXIDE_RETURN_IF_ERROR(delta::ApplyPatchFile(f, patch, out).status());
    OXIDE_ASSIGN_OR_RETURN(Digest self, Sha256File(out));
    OXIDE_ASSIGN_OR_RETURN(Digest orig, Sha256File(f));
    if (self != orig) return Internal("self round trip failed on " + f);
  }
  if (!external) return Status::Ok();
  std::string p = tmp + "/ext.patch", o = tmp + "/ext.out";
  if (HaveTool("zstd")) {
    row->others.push_back(RunExternal(
        "zstd-3-patch", "zstd -q -f -3 --patch-from=" + Q(v1) + " " + Q(v2) + " -o " + Q(p),
        "zstd -q -f -d --patch-from=" + Q(v1) + " " + Q(p) + " -o " + Q(o), p, o, want));
    row->others.push_back(RunExternal(
        "zstd-19-long-patch",
        "zstd -q -f -19 --long=27 --patch-from=" + Q(v1) + " " + Q(v2) + " -o " + Q(p),
        "zstd -q -f -d --long=27 --patch-from=" + Q(v1) + " " + Q(p) + " -o " + Q(o), p, o, want));
  }
  if (HaveTool("xdelta3")) {
    row->others.push_back(
        RunExternal("xdelta3-9", "xdelta3 -f -9 -e -s " + Q(v1) + " " + Q(v2) + " " + Q(p),
                    "xdelta3 -f -d -s " + Q(v1) + " " + Q(p) + " " + Q(o), p, o, want));
  }
  if (HaveTool("bsdiff")) {
    row->others.push_back(RunExternal("bsdiff", "bsdiff " + Q(v1) + " " + Q(v2) + " " + Q(p),
                                      "bspatch " + Q(v1) + " " + Q(o) + " " + Q(p), p, o, want));
  }
  return Status::Ok();
}

}  // namespace

Status RunDeltaBench(const DeltaBenchArgs& a) {
  std::error_code ec;
  if (!fs::is_directory(a.dir, ec)) return InvalidArgument(a.dir + " is not a directory");
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(a.dir, ec)) {
    if (e.is_directory()) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  std::string tmp =
      (fs::temp_directory_path() / ("oxide-bench-" + std::to_string(::getpid()))).string();
  fs::create_directories(tmp, ec);
  std::vector<PairRow> rows;
  for (const auto& d : dirs) {
    for (const char* ext : {"onnx", "safetensors"}) {
      if (!fs::exists(d / (std::string("v1.") + ext)) ||
          !fs::exists(d / (std::string("v2.") + ext))) {
        continue;
      }
      PairRow row;
      Status s = BenchPair(d.string(), d.filename().string(), ext, !a.no_external, tmp, &row);
      if (!s.ok()) {
        fs::remove_all(tmp, ec);
        return s;
      }
      rows.push_back(row);
    }
  }
  fs::remove_all(tmp, ec);
  if (rows.empty()) return NotFound("no v1/v2 pairs under " + a.dir);

  std::printf(
      "| pair | fmt | v2 bytes | oxide bytes | strategy | best other | other bytes | "
      "oxide/best | oxide enc s | oxide dec s | all others (bytes, enc s) |\n");
  std::printf("|---|---|---:|---:|---|---|---:|---:|---:|---:|---|\n");
  double log_sum = 0;
  int real_pairs = 0;
  bool within_margin = true;
  for (const auto& r : rows) {
    const ToolResult* best = nullptr;
    std::string all;
    for (const auto& o : r.others) {
      char buf[96];
      std::snprintf(buf, sizeof(buf), "%s %llu%s %.2fs; ", o.tool.c_str(),
                    static_cast<unsigned long long>(o.bytes), o.ok ? "" : " (FAILED)", o.enc_s);
      all += buf;
      if (o.ok && (!best || o.bytes < best->bytes)) best = &o;
    }
    double ratio =
        best ? static_cast<double>(r.oxide.bytes) / static_cast<double>(best->bytes) : 0.0;
    if (best) {
      if (r.oxide.bytes > best->bytes + 256) within_margin = false;
      if (r.name.find("synthetic") == std::string::npos) {
        log_sum += std::log(ratio);
        ++real_pairs;
      }
    }
    std::printf("| %s | %s | %llu | %llu | %s | %s | %llu | %.3f | %.2f | %.2f | %s |\n",
                r.name.c_str(), r.fmt.c_str(), static_cast<unsigned long long>(r.target_size),
                static_cast<unsigned long long>(r.oxide.bytes), r.strategy.c_str(),
                best ? best->tool.c_str() : "-",
                static_cast<unsigned long long>(best ? best->bytes : 0), ratio, r.oxide.enc_s,
                r.oxide.dec_s, all.c_str());
  }
  std::printf("\nround trips: %zu oxide pairs verified (plus v1 and v2 each against itself)\n",
              rows.size());
  if (real_pairs > 0) {
    std::printf("geometric mean oxide/best-other over %d real-training pairs: %.3f\n", real_pairs,
                std::exp(log_sum / real_pairs));
    std::printf("oxide <= best other + 256 bytes on every pair: %s\n",
                within_margin ? "yes" : "NO");
  }
  return Status::Ok();
}

}  // namespace oxide::cli

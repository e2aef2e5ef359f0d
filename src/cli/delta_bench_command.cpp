// `oxide delta-bench DIR`: Oxide against every competitor at its strongest setting available here
// (zstd -3 and -19 --long --patch-from, xdelta3 -9 with and without the djw secondary compressor,
// bsdiff) on every pair directory. Every round trip is checked, Oxide's and each competitor's, so
// a broken competitor run is never counted. A competitor that is not installed fails the run
// unless --allow-missing, and then the summary says "incomplete": a missing tool must never
// silently improve Oxide's ratio.
//
// A pair directory holds v1.EXT and v2.EXT (the hand-made corpus) or base.EXT and target.EXT
// (bench/corpus/generate.py), and optionally pair.json, whose "group" (else "scenario") puts the
// pair in a group: the summary gives the geometric mean of oxide / best competitor per group and
// over all pairs, so one kind of change cannot hide behind another.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/file_util.hpp"
#include "base/sha256.hpp"
#include "cli/bench_process.hpp"
#include "cli/commands.hpp"
#include "delta/build/patch_builder.hpp"
#include "delta/patch_applier.hpp"

namespace oxide::cli {

namespace {

namespace fs = std::filesystem;

using Argv = std::vector<std::string>;

// One competitor: how to encode (base, target → patch) and decode (base, patch → out).
struct Competitor {
  std::string name;
  std::vector<std::string> tools;  // executables it needs on PATH
  std::function<Argv(const std::string& base, const std::string& target, const std::string& patch)>
      encode;
  std::function<Argv(const std::string& base, const std::string& patch, const std::string& out)>
      decode;
};

// The strongest settings each tool has here. zstd levels >= 16 need worker threads with a large
// prefix (single-threaded btopt finds almost no delta: zstd issue #4093), hence -T0 on -19;
// --long=31 on decode only lifts the decoder's window limit (frames above 128 MiB need it).
std::vector<Competitor> Competitors() {
  auto zstd_decode = [](const std::string& b, const std::string& p, const std::string& o) {
    return Argv{"zstd", "-q", "-f", "-d", "--long=31", "--patch-from=" + b, p, "-o", o};
  };
  auto xdelta_decode = [](const std::string& b, const std::string& p, const std::string& o) {
    return Argv{"xdelta3", "-f", "-d", "-s", b, p, o};
  };
  return {
      {"zstd-3",
       {"zstd"},
       [](const std::string& b, const std::string& t, const std::string& p) {
         return Argv{"zstd", "-q", "-f", "-3", "--patch-from=" + b, t, "-o", p};
       },
       zstd_decode},
      {"zstd-19-long",
       {"zstd"},
       [](const std::string& b, const std::string& t, const std::string& p) {
         return Argv{"zstd", "-q", "-f", "-T0", "-19", "--long=30", "--patch-from=" + b,
                     t,      "-o", p};
       },
       zstd_decode},
      {"xdelta3-9",
       {"xdelta3"},
       [](const std::string& b, const std::string& t, const std::string& p) {
         return Argv{"xdelta3", "-f", "-9", "-e", "-s", b, t, p};
       },
       xdelta_decode},
      {"xdelta3-9-djw",
       {"xdelta3"},
       [](const std::string& b, const std::string& t, const std::string& p) {
         return Argv{"xdelta3", "-f", "-9", "-S", "djw", "-e", "-s", b, t, p};
       },
       xdelta_decode},
      {"bsdiff",
       {"bsdiff", "bspatch"},
       [](const std::string& b, const std::string& t, const std::string& p) {
         return Argv{"bsdiff", b, t, p};
       },
       [](const std::string& b, const std::string& p, const std::string& o) {
         return Argv{"bspatch", b, o, p};
       }},
  };
}

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

enum class RunState { kNotRun, kOk, kFailed };

struct ToolResult {
  RunState state = RunState::kNotRun;
  uint64_t bytes = 0;
  double enc_s = 0, dec_s = 0;
  std::string failure;  // why kFailed
};

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The last line the tool wrote to stderr, so a FAILED cell can say why.
std::string StderrTail(const std::string& path) {
  Result<std::string> text = ReadFileToString(path);
  if (!text.ok()) return "";
  std::string t = *text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  size_t nl = t.rfind('\n');
  if (nl != std::string::npos) t = t.substr(nl + 1);
  return t.size() > 200 ? t.substr(t.size() - 200) : t;
}

std::string Failure(const std::string& step, const Result<int>& rc, const std::string& err) {
  std::string why =
      step + (rc.ok() ? " exited " + std::to_string(*rc) : " " + rc.status().ToString());
  std::string tail = StderrTail(err);
  return tail.empty() ? why : why + " (" + tail + ")";
}

// Runs one competitor's encoder and decoder in `scratch`; kOk only when the decoded file hashes
// to the target.
ToolResult RunCompetitor(const Competitor& c, const std::string& base, const std::string& target,
                         const Digest& want, const ScratchDir& scratch) {
  ToolResult r;
  r.state = RunState::kFailed;
  std::string patch = scratch.File("ext.patch"), out = scratch.File("ext.out");
  std::string err = scratch.File("ext.stderr");
  std::error_code ec;
  fs::remove(patch, ec);
  fs::remove(out, ec);
  fs::remove(err, ec);
  auto t0 = std::chrono::steady_clock::now();
  Result<int> rc = RunProcess(c.encode(base, target, patch), scratch.path(), err);
  if (!rc.ok() || *rc != 0) {
    r.failure = Failure("encoder", rc, err);
    return r;
  }
  r.enc_s = Since(t0);
  r.bytes = fs::file_size(patch, ec);
  if (ec) {
    r.failure = "encoder wrote no patch";
    return r;
  }
  t0 = std::chrono::steady_clock::now();
  rc = RunProcess(c.decode(base, patch, out), scratch.path(), err);
  if (!rc.ok() || *rc != 0) {
    r.failure = Failure("decoder", rc, err);
    return r;
  }
  r.dec_s = Since(t0);
  Result<Digest> got = Sha256File(out);
  if (!got.ok() || *got != want) {
    r.failure = "decoded file differs from the target";
    return r;
  }
  r.state = RunState::kOk;
  return r;
}

struct PairRow {
  std::string name, fmt, group;
  uint64_t target_size = 0;
  ToolResult oxide;
  std::string strategy;
  std::vector<ToolResult> others;  // one per competitor, same order
};

// Pairs whose v2 was not produced by training (the name says "synthetic") are reported but left
// out of the geometric mean.
bool IsRealTraining(const PairRow& r) { return r.name.find("synthetic") == std::string::npos; }

// The two file names of a pair: v1/v2 (hand-made corpus) or base/target (generated corpus).
struct PairFiles {
  std::string base, target;
};

// The files of `dir` holding a pair in format `ext`, if any.
bool FindPair(const fs::path& dir, const std::string& ext, PairFiles* files) {
  for (const auto& [b, t] : {std::pair<const char*, const char*>{"v1", "v2"}, {"base", "target"}}) {
    fs::path base = dir / (std::string(b) + "." + ext), target = dir / (std::string(t) + "." + ext);
    std::error_code ec;
    if (fs::exists(base, ec) && fs::exists(target, ec)) {
      *files = {base.string(), target.string()};
      return true;
    }
  }
  return false;
}

// pair.json's "group", else its "scenario", else "-" (no or unreadable pair.json: the pair still
// counts in the overall mean). pair.json is descriptive only, so a malformed one is not an error.
std::string PairGroup(const fs::path& dir) {
  Result<std::string> text = ReadFileToString((dir / "pair.json").string());
  if (!text.ok()) return "-";
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return "-";
  for (const char* key : {"group", "scenario"}) {
    auto it = j.find(key);
    if (it != j.end() && it->is_string() && !it->get<std::string>().empty()) {
      return it->get<std::string>();
    }
  }
  return "-";
}

Status BenchPair(const PairFiles& files, const std::string& name, const std::string& ext,
                 const std::vector<Competitor>& competitors, const std::vector<bool>& runnable,
                 const ScratchDir& scratch, PairRow* row) {
  const std::string& v1 = files.base;
  const std::string& v2 = files.target;
  row->name = name;
  row->fmt = ext;
  OXIDE_ASSIGN_OR_RETURN(Digest want, Sha256File(v2));
  std::error_code ec;
  row->target_size = fs::file_size(v2, ec);
  std::string patch = scratch.File("oxide.patch"), out = scratch.File("oxide.out");
  auto t0 = std::chrono::steady_clock::now();
  OXIDE_ASSIGN_OR_RETURN(auto d, delta::BuildPatchFile(v1, v2, patch));
  row->oxide.enc_s = Since(t0);
  row->oxide.bytes = d.patch_size;
  row->strategy = std::string(delta::ToString(d.header.strategy));
  t0 = std::chrono::steady_clock::now();
  OXIDE_RETURN_IF_ERROR(delta::ApplyPatchFile(v1, patch, out).status());
  row->oxide.dec_s = Since(t0);
  OXIDE_ASSIGN_OR_RETURN(Digest got, Sha256File(out));
  if (got != want) return Internal("oxide round trip failed on " + name + "/" + ext);
  row->oxide.state = RunState::kOk;
  // Identity: every file diffed against itself must round-trip too.
  for (const std::string& f : {v1, v2}) {
    OXIDE_RETURN_IF_ERROR(delta::BuildPatchFile(f, f, patch).status());
    OXIDE_RETURN_IF_ERROR(delta::ApplyPatchFile(f, patch, out).status());
    OXIDE_ASSIGN_OR_RETURN(Digest self, Sha256File(out));
    OXIDE_ASSIGN_OR_RETURN(Digest orig, Sha256File(f));
    if (self != orig) return Internal("self round trip failed on " + f);
  }
  for (size_t i = 0; i < competitors.size(); ++i) {
    row->others.push_back(runnable[i] ? RunCompetitor(competitors[i], v1, v2, want, scratch)
                                      : ToolResult{});
  }
  return Status::Ok();
}

void PrintReport(std::FILE* out, const std::vector<Competitor>& competitors,
                 const std::vector<bool>& runnable, const std::vector<std::string>& missing,
                 const std::vector<PairRow>& rows, bool no_external) {
  std::fprintf(out, "| pair | group | fmt | v2 bytes | oxide bytes | strategy |");
  for (const auto& c : competitors) std::fprintf(out, " %s |", c.name.c_str());
  std::fprintf(
      out, " best other | oxide/best | oxide enc s | oxide dec s |\n|---|---|---|---:|---:|---|");
  for (size_t i = 0; i < competitors.size(); ++i) std::fprintf(out, "---:|");
  std::fprintf(out, "---|---:|---:|---:|\n");

  // Sum of log(ratio) and pair count, overall and per group (real-training pairs only).
  struct Mean {
    double log_sum = 0;
    int pairs = 0;
  };
  Mean overall;
  std::map<std::string, Mean> groups;
  bool within_margin = true;
  std::vector<std::string> failures;
  std::vector<double> enc_total(competitors.size(), 0);
  size_t verified_runs = 0;
  for (const auto& r : rows) {
    std::fprintf(out, "| %s | %s | %s | %llu | %llu | %s |", r.name.c_str(), r.group.c_str(),
                 r.fmt.c_str(), static_cast<unsigned long long>(r.target_size),
                 static_cast<unsigned long long>(r.oxide.bytes), r.strategy.c_str());
    int best = -1;
    for (size_t i = 0; i < r.others.size(); ++i) {
      const ToolResult& o = r.others[i];
      switch (o.state) {
        case RunState::kNotRun:
          std::fprintf(out, " %s |", no_external ? "-" : "missing");
          break;
        case RunState::kFailed:
          std::fprintf(out, " FAILED |");
          failures.push_back(r.name + "/" + r.fmt + " " + competitors[i].name + ": " + o.failure);
          break;
        case RunState::kOk:
          std::fprintf(out, " %llu |", static_cast<unsigned long long>(o.bytes));
          enc_total[i] += o.enc_s;
          ++verified_runs;
          if (best < 0 || o.bytes < r.others[best].bytes) best = static_cast<int>(i);
          break;
      }
    }
    double ratio = 0;
    if (best >= 0) {
      uint64_t best_bytes = r.others[best].bytes;
      ratio = static_cast<double>(r.oxide.bytes) / static_cast<double>(best_bytes);
      if (r.oxide.bytes > best_bytes + 256) within_margin = false;
      if (IsRealTraining(r)) {
        for (Mean* m : {&overall, &groups[r.group]}) {
          m->log_sum += std::log(ratio);
          ++m->pairs;
        }
      }
      std::fprintf(out, " %s | %.3f |", competitors[best].name.c_str(), ratio);
    } else {
      std::fprintf(out, " - | - |");
    }
    std::fprintf(out, " %.2f | %.2f |\n", r.oxide.enc_s, r.oxide.dec_s);
  }

  std::fprintf(out, "\nround trips: %zu oxide pairs verified (plus v1 and v2 each against itself)",
               rows.size());
  std::fprintf(out, "; %zu competitor runs verified with their own decoders\n", verified_runs);
  if (no_external) {
    std::fprintf(out, "competitors: none run (--no-external); no ratio is claimed\n");
    return;
  }
  std::fprintf(out, "competitors (V1 = base, V2 = target):\n");
  for (size_t i = 0; i < competitors.size(); ++i) {
    const Competitor& c = competitors[i];
    std::fprintf(out, "  %-14s %s  (decode: %s)", c.name.c_str(),
                 Join(c.encode("V1", "V2", "PATCH"), " ").c_str(),
                 Join(c.decode("V1", "PATCH", "OUT"), " ").c_str());
    if (runnable[i]) {
      std::fprintf(out, "  encode total %.2f s\n", enc_total[i]);
    } else {
      std::fprintf(out, "  NOT RUN (missing)\n");
    }
  }
  for (const auto& f : failures) {
    std::fprintf(out, "competitor run FAILED (not counted): %s\n", f.c_str());
  }
  bool incomplete = !missing.empty() || !failures.empty();
  std::string caveat;
  if (incomplete) {
    caveat = " [INCOMPLETE: best other is over the competitors that ran only]";
    std::fprintf(out, "incomplete: ");
    if (!missing.empty()) std::fprintf(out, "missing tools: %s; ", Join(missing, ", ").c_str());
    if (!failures.empty()) std::fprintf(out, "%zu competitor runs failed; ", failures.size());
    std::fprintf(out, "the ratios below are NOT against the full set of competitors\n");
  }
  if (overall.pairs > 0) {
    std::fprintf(out, "geometric mean oxide/best-other per group (pair.json group / scenario)%s:\n",
                 caveat.c_str());
    std::fprintf(out, "| group | pairs | geomean oxide/best-other |\n|---|---:|---:|\n");
    for (const auto& [group, m] : groups) {
      std::fprintf(out, "| %s | %d | %.3f |\n", group.c_str(), m.pairs,
                   std::exp(m.log_sum / m.pairs));
    }
    std::fprintf(out, "| overall | %d | %.3f |\n\n", overall.pairs,
                 std::exp(overall.log_sum / overall.pairs));
    std::fprintf(out, "geometric mean oxide/best-other over %d real-training pairs: %.3f%s\n",
                 overall.pairs, std::exp(overall.log_sum / overall.pairs), caveat.c_str());
    std::fprintf(out, "oxide <= best other + 256 bytes on every pair: %s%s\n",
                 within_margin ? "yes" : "NO", caveat.c_str());
  }
}

}  // namespace

void AddDeltaBenchOptions(CLI::App* cmd, DeltaBenchArgs* args) {
  cmd->add_flag("--allow-missing", args->allow_missing,
                "Run even when a competitor tool is not installed; the summary then says "
                "\"incomplete\"");
}

Status RunDeltaBench(const DeltaBenchArgs& a) {
  std::FILE* out = a.out ? a.out : stdout;
  std::error_code ec;
  if (!fs::is_directory(a.dir, ec)) return InvalidArgument(a.dir + " is not a directory");
  // Competitors run inside their own scratch directory, so every path they get is absolute.
  const fs::path dir = fs::absolute(a.dir, ec);
  if (ec) return IoError("cannot resolve " + a.dir + ": " + ec.message());

  std::vector<Competitor> competitors = Competitors();
  std::vector<bool> runnable(competitors.size(), false);
  std::set<std::string> missing_set;
  if (!a.no_external) {
    for (size_t i = 0; i < competitors.size(); ++i) {
      runnable[i] = true;
      for (const auto& tool : competitors[i].tools) {
        if (FindOnPath(tool).empty()) {
          runnable[i] = false;
          missing_set.insert(tool);
        }
      }
    }
  }
  std::vector<std::string> missing(missing_set.begin(), missing_set.end());
  if (!missing.empty() && !a.allow_missing) {
    return FailedPrecondition(
        "delta-bench: competitor not installed (not on PATH): " + Join(missing, ", ") +
        "; install it (scripts/bootstrap) or pass --allow-missing");
  }

  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_directory()) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  OXIDE_ASSIGN_OR_RETURN(ScratchDir scratch, ScratchDir::Create("oxide-bench"));
  std::vector<PairRow> rows;
  for (const auto& d : dirs) {
    const std::string group = PairGroup(d);
    for (const char* ext : {"onnx", "safetensors", "gguf", "tflite"}) {
      PairFiles files;
      if (!FindPair(d, ext, &files)) continue;
      PairRow row;
      row.group = group;
      OXIDE_RETURN_IF_ERROR(
          BenchPair(files, d.filename().string(), ext, competitors, runnable, scratch, &row));
      rows.push_back(row);
    }
  }
  if (rows.empty()) return NotFound("no v1/v2 (or base/target) pairs under " + a.dir);
  PrintReport(out, competitors, runnable, missing, rows, a.no_external);

  size_t failed = 0;
  for (const auto& r : rows) {
    for (const auto& o : r.others) failed += o.state == RunState::kFailed;
  }
  if (failed > 0 && !a.allow_missing) {
    return Internal("delta-bench: " + std::to_string(failed) +
                    " competitor runs failed their round trip (listed above); pass "
                    "--allow-missing to accept an incomplete comparison");
  }
  return Status::Ok();
}

}  // namespace oxide::cli

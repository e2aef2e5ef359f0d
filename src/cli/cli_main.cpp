#include "cli/cli_main.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.hpp"

namespace oxide::cli {

int ExitCodeFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return 0;
    case ErrorCode::kInvalidArgument:
      return 2;
    case ErrorCode::kNotFound:
      return 3;
    case ErrorCode::kFailedPrecondition:
      return 4;
    case ErrorCode::kCorrupt:
      return 5;
    case ErrorCode::kUnsupported:
      return 6;
    case ErrorCode::kResourceExhausted:
      return 7;
    case ErrorCode::kIo:
      return 8;
    default:
      return 1;
  }
}

int Main(const std::vector<std::string>& args) {
  CLI::App app{"oxide: tensor-aware model delivery for device fleets"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "oxide 0.1.0");

  DiffArgs diff;
  auto* d = app.add_subcommand("diff", "Build a patch that turns BASE into TARGET");
  d->add_option("base", diff.base, "Old model file")->required();
  d->add_option("target", diff.target, "New model file")->required();
  d->add_option("-o,--output", diff.out, "Patch file to write")->required();
  d->add_option("--level", diff.level, "zstd level (default: by size)")->check(CLI::Range(1, 22));
  d->add_flag("--no-binary", diff.no_binary, "Skip the whole-file binary candidate");
  d->add_flag("--no-tensor", diff.no_tensor, "Skip the tensor-aware candidate");
  d->add_flag("--no-full", diff.no_full, "Skip the compressed full-file candidate");

  PatchArgs patch;
  auto* p = app.add_subcommand("patch", "Rebuild TARGET from BASE and a patch (verified)");
  p->add_option("base", patch.base, "Old model file")->required();
  p->add_option("patch", patch.patch, "Patch file")->required();
  p->add_option("-o,--output", patch.out, "Rebuilt model to write")->required();

  InspectArgs inspect;
  auto* i = app.add_subcommand("inspect", "Show a model's tensors or a patch's header");
  i->add_option("file", inspect.path, "Model or patch file")->required();
  i->add_flag("--json", inspect.json, "Machine-readable output");

  DeltaBenchArgs bench;
  auto* b = app.add_subcommand("delta-bench", "Compare Oxide with zstd/xdelta3/bsdiff on pairs");
  b->add_option("dir", bench.dir, "Directory of pair directories (v1.*/v2.*)")->required();
  b->add_flag("--no-external", bench.no_external, "Do not run the external tools");
  AddDeltaBenchOptions(b, &bench);

  std::vector<std::string> rev(args.rbegin(), args.rend() - 1);  // CLI11 wants reversed args
  try {
    app.parse(rev);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  Status s;
  if (d->parsed()) s = RunDiff(diff);
  if (p->parsed()) s = RunPatch(patch);
  if (i->parsed()) s = RunInspect(inspect);
  if (b->parsed()) s = RunDeltaBench(bench);
  if (!s.ok()) {
    std::fprintf(stderr, "oxide: %s\n", s.ToString().c_str());
    return ExitCodeFor(s.code());
  }
  return 0;
}

}  // namespace oxide::cli

#include "cli/cli_main.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>

#include "base/exit_code.hpp"
#include "base/log.hpp"
#include "cli/admin/admin_cli.hpp"
#include "cli/commands.hpp"
#include "cli/sign_commands.hpp"

namespace oxide::cli {
namespace {

// "oxide" for "/usr/local/bin/oxide": help and usage lines name the command as typed.
std::string ProgramName(const std::vector<std::string>& args) {
  if (args.empty() || args[0].empty()) return "oxide";
  size_t slash = args[0].rfind('/');
  return slash == std::string::npos ? args[0] : args[0].substr(slash + 1);
}

const ExternalCommand* FindExternal(const std::vector<ExternalCommand>& external,
                                    std::string_view name) {
  auto it = std::find_if(external.begin(), external.end(),
                         [&](const ExternalCommand& c) { return c.name == name; });
  return it == external.end() ? nullptr : &*it;
}

}  // namespace

int Main(const std::vector<std::string>& args, const std::vector<ExternalCommand>& external) {
  const std::string program = ProgramName(args);
  CLI::App app{"oxide: tensor-aware model delivery for device fleets"};
  app.name(program);
  app.require_subcommand(1);
  app.set_version_flag("--version", program + " 0.1.0");
  app.footer("Run '" + program + " help COMMAND' (or '" + program +
             " COMMAND --help') for a command's options.\n"
             "Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 failed precondition, 5 corrupt,\n"
             "6 unsupported, 7 resource exhausted, 8 I/O error, 70 internal error (README.md);\n"
             "campaign watch: 10-13 when the campaign ended badly (docs/cli.md).");

  DiffArgs diff;
  auto* d = app.add_subcommand("diff", "Build a patch that turns BASE into TARGET");
  d->add_option("base", diff.base, "Old model file")->required();
  d->add_option("target", diff.target, "New model file")->required();
  d->add_option("-o,--output", diff.out, "Patch file to write")->required();
  d->add_option("--level", diff.level, "zstd level (default: by size)")->check(CLI::Range(1, 22));
  d->add_flag("--no-binary", diff.no_binary, "Skip the whole-file binary candidate");
  d->add_flag("--no-tensor", diff.no_tensor, "Skip the tensor-aware candidate");
  d->add_flag("--no-full", diff.no_full, "Skip the compressed full-file candidate");
  d->add_option("--max-patch-version", diff.max_patch_version, "2: only version-2 strategies")
      ->check(CLI::Range(2, 3));
  d->add_option("--threads", diff.threads, "Encoder threads (default: all cores; same bytes)")
      ->check(CLI::Range(1, 256));

  PatchArgs patch;
  auto* p = app.add_subcommand("patch", "Rebuild TARGET from BASE and a patch (verified)");
  p->add_option("base", patch.base, "Old model file")->required();
  p->add_option("patch", patch.patch, "Patch file")->required();
  p->add_option("-o,--output", patch.out, "Rebuilt model to write")->required();

  InspectArgs inspect;
  auto* i = app.add_subcommand("inspect", "Show a model's tensors or a patch's header");
  i->add_option("file", inspect.path, "Model or patch file")->required();
  i->add_flag("--json", inspect.json, "Machine-readable output");

  InfoArgs info;
  auto* inf = app.add_subcommand(
      "info", "Show a model's format, producer, opsets, graph inputs/outputs and parameters");
  inf->add_option("model", info.path, "Model file (ONNX or SafeTensors)")->required();
  inf->add_flag("--json", info.json, "Machine-readable output");

  DeltaBenchArgs bench;
  auto* b = app.add_subcommand("delta-bench", "Compare Oxide with zstd/xdelta3/bsdiff on pairs");
  b->add_option("dir", bench.dir, "Directory of pair directories (v1.*/v2.*)")->required();
  b->add_flag("--no-external", bench.no_external, "Do not run the external tools");
  AddDeltaBenchOptions(b, &bench);
  SignCommands sign_commands(&app);

  RunArgs run;
  auto* rn = app.add_subcommand("run", "Run a model once on CPU (optional inference component)");
  rn->add_option("model", run.model, "ONNX model")->required();
  auto* rn_in = rn->add_option("--input", run.input, "SafeTensors file of inputs");
  auto* rn_zeros = rn->add_flag("--zeros", run.zeros, "Zeros as inputs (the default)");
  auto* rn_seed = rn->add_option("--random", run.seed, "Uniform [-1,1) inputs from this seed");
  rn_in->excludes(rn_zeros)->excludes(rn_seed);
  rn_zeros->excludes(rn_seed);
  rn->add_option("-o,--output", run.output, "SafeTensors file for the outputs");
  auto* rn_golden =
      rn->add_option("--golden", run.golden, "Write a golden file (inputs + outputs)");
  rn->add_option("--latency-budget-ms", run.latency_budget_ms, "Golden p95 budget")
      ->needs(rn_golden);
  rn->add_option("--tolerance", run.tolerance, "Golden absolute tolerance (default 1e-4)")
      ->needs(rn_golden);

  InferBenchArgs ibench;
  auto* ib = app.add_subcommand("bench", "Inference latency of a model (p50/p95/p99/max)");
  auto* ib_model = ib->add_option("model", ibench.model, "ONNX model");
  ib->add_option("--warmup", ibench.warmup, "Untimed runs first (default 10)");
  ib->add_option("--iterations", ibench.iterations, "Timed runs (default 100)");
  ib->add_option("--threads", ibench.threads, "Intra-op threads (default 1)");
  ib->add_flag("--json", ibench.json, "Machine-readable output");
  ib->add_option("--coverage", ibench.coverage_dir,
                 "Coverage table of the torch fixtures in DIR (tests/models)")
      ->excludes(ib_model);

  EncryptArgs encrypt;
  auto* enc = app.add_subcommand("encrypt", "Encrypt a file with AES-256-GCM in chunks");
  enc->add_option("file", encrypt.input, "File to encrypt")->required();
  enc->add_option("--key", encrypt.key_file, "Key file (oxide enc-key generate)")->required();
  enc->add_option("-o,--output", encrypt.out, "Encrypted file (default FILE.enc)");
  enc->add_option("--chunk-size", encrypt.chunk_size, "Plaintext bytes per chunk (default 65536)");
  enc->add_flag("--force", encrypt.force, "Replace an existing output file");

  DecryptArgs decrypt;
  auto* dec = app.add_subcommand("decrypt", "Decrypt and verify a file made by 'encrypt'");
  dec->add_option("file", decrypt.input, "Encrypted file")->required();
  dec->add_option("--key", decrypt.key_file, "Key file")->required();
  dec->add_option("-o,--output", decrypt.out, "Decrypted file (default FILE without .enc)");
  dec->add_flag("--force", decrypt.force, "Replace an existing output file");

  EncKeyGenerateArgs keygen;
  auto* ek = app.add_subcommand("enc-key", "Manage encryption keys for encrypt/decrypt");
  ek->require_subcommand(1);
  auto* ekg = ek->add_subcommand("generate", "Write a new random 256-bit key file (mode 0600)");
  ekg->add_option("-o,--output", keygen.out, "Key file to write")->required();
  ekg->add_flag("--force", keygen.force, "Replace an existing key file (its data is lost)");

  admin::AdminCli admin_cli(&app);

  for (const ExternalCommand& cmd : external) {
    // Listed in the help; dispatched before parsing (they parse their own flags).
    app.add_subcommand(cmd.name, cmd.description)->prefix_command();
  }
  log::Flags log_flags;
  sign_commands.AddLogFlags(&log_flags);
  for (CLI::App* sub : {d, p, i, inf, b, rn, ib, enc, dec, ek, ekg}) {
    sub->add_flag("-v,--verbose", log_flags.verbose, "More detail on stderr (-vv: trace)");
    sub->add_option("--log-level", log_flags.level, "Least severe level logged (default info)")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  }

  std::vector<std::string> argv = args.empty() ? std::vector<std::string>{program} : args;
  // `oxide help [COMMAND]` is `oxide [COMMAND] --help`.
  if (argv.size() >= 2 && argv[1] == "help") {
    auto subs = app.get_subcommands({});
    bool known = argv.size() == 2 || std::any_of(subs.begin(), subs.end(), [&](CLI::App* c) {
                   return c->get_name() == argv[2];
                 });
    if (argv.size() > 3 || !known) {
      std::fprintf(stderr, "%s: unknown command '%s'\nRun with --help for the commands.\n",
                   program.c_str(), argv.size() > 2 ? argv[2].c_str() : "");
      return kExitUsage;
    }
    argv.erase(argv.begin() + 1);
    argv.push_back("--help");
  }
  // serve and agent parse their own flags (their CLI11 apps live in their libraries).
  if (argv.size() >= 2) {
    if (const ExternalCommand* cmd = FindExternal(external, argv[1])) return cmd->main(argv);
  }

  std::vector<std::string> rev(argv.rbegin(), argv.rend() - 1);  // CLI11 wants reversed args
  try {
    app.parse(rev);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every parse error is a usage error (not CLI11's 105-109).
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  auto log_options = log_flags.ToOptions(program);
  if (!log_options.ok()) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), log_options.status().ToString().c_str());
    return kExitUsage;
  }
  log::Setup(*log_options);
  CLI::App* chosen = app.get_subcommands().at(0);
  auto t0 = std::chrono::steady_clock::now();
  log::Debug("running " + chosen->get_name());
  Status s;
  if (chosen == d) s = RunDiff(diff);
  if (chosen == p) s = RunPatch(patch);
  if (chosen == i) s = RunInspect(inspect);
  if (chosen == inf) s = RunInfo(info);
  if (chosen == b) s = RunDeltaBench(bench);
  if (chosen == rn) {
    run.has_seed = rn_seed->count() > 0;
    s = RunModel(run);
  }
  if (chosen == ib) s = RunInferBench(ibench);
  if (chosen == enc) s = RunEncrypt(encrypt);
  if (chosen == dec) s = RunDecrypt(decrypt);
  if (chosen == ek) s = RunEncKeyGenerate(keygen);
  sign_commands.Run(chosen, &s);
  if (std::optional<int> code = admin_cli.Run(chosen, program)) return *code;
  if (const ExternalCommand* cmd = FindExternal(external, chosen->get_name())) {
    return cmd->main(argv);  // unreachable today: argv[1] names it, so it was dispatched above
  }
  log::Debug(
      chosen->get_name() + " finished",
      {{"status", ToString(s.code())},
       {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}});
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), s.ToString().c_str());
    return ExitCodeFor(s.code());
  }
  return kExitOk;
}

}  // namespace oxide::cli

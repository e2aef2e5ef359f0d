#include "cli/sign_commands.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "base/file_util.hpp"
#include "base/safe_id.hpp"
#include "base/sha256.hpp"
#include "crypto/release.hpp"
#include "crypto/release_verify.hpp"

namespace oxide::cli {

namespace {

constexpr size_t kMaxKeysFile = 1 << 20;

struct GenerateArgs {
  std::string prefix;
  std::string expires, expires_in = "365d";
};
struct RotateArgs {
  std::string keys, out;
  std::vector<std::string> sign_with, add, remove;
  uint32_t threshold = 0;
  std::string expires, expires_in = "365d";
};
struct SignArgs {
  std::string file, model, version, out;
  std::vector<std::string> keys;  // each signs: a key set's threshold may need several
  uint64_t counter = 0;
  std::string expires, expires_in;
};

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "90d", "12h", "30m", "45s" → seconds.
Result<int64_t> ParseDuration(const std::string& text) {
  if (text.size() < 2 || text.size() > 12) return InvalidArgument("bad duration '" + text + "'");
  int64_t n = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return InvalidArgument("bad duration '" + text + "'");
    n = n * 10 + (text[i] - '0');
  }
  switch (text.back()) {
    case 'd':
      return n * 86400;
    case 'h':
      return n * 3600;
    case 'm':
      return n * 60;
    case 's':
      return n;
    default:
      return InvalidArgument("bad duration '" + text + "' (use 90d, 12h, 30m or 45s)");
  }
}

// --expires wins over --expires-in; the result must lie in the future.
Result<int64_t> ExpiryOf(const std::string& expires, const std::string& expires_in) {
  int64_t t = 0;
  if (!expires.empty()) {
    OXIDE_ASSIGN_OR_RETURN(t, crypto::ParseUtcTime(expires));
  } else if (!expires_in.empty()) {
    OXIDE_ASSIGN_OR_RETURN(int64_t d, ParseDuration(expires_in));
    t = NowUnix() + d;
  } else {
    return InvalidArgument("give --expires TIME or --expires-in DURATION");
  }
  if (t <= NowUnix()) return InvalidArgument("the expiry " + crypto::FormatUtcTime(t) + " is past");
  if (t > crypto::kMaxUtcTime) {
    return InvalidArgument("the expiry is after " + crypto::FormatUtcTime(crypto::kMaxUtcTime) +
                           " (a year past 9999, which devices refuse)");
  }
  return t;
}

Status WriteNew(const std::string& path, std::string_view text) {
  if (ReadableFile::Open(path).ok()) return AlreadyExists(path + " exists; not overwriting it");
  return AtomicWriteFile(path, text);
}

Status RunGenerate(const GenerateArgs& a) {
  OXIDE_ASSIGN_OR_RETURN(int64_t expires, ExpiryOf(a.expires, a.expires_in));
  const std::string pem = a.prefix + ".pem", pub = a.prefix + ".pub",
                    keys = a.prefix + ".keys.json";
  for (const std::string& path : {pem, pub, keys}) {
    if (ReadableFile::Open(path).ok()) return AlreadyExists(path + " exists; not overwriting it");
  }
  OXIDE_ASSIGN_OR_RETURN(crypto::SigningKey key, crypto::SigningKey::Generate());
  crypto::KeySet set{1, 1, {{crypto::KeyId(key.public_key()), key.public_key()}}, expires};
  OXIDE_ASSIGN_OR_RETURN(crypto::Envelope e,
                         crypto::SignEnvelope(crypto::kKeysPayloadType, EncodeKeySet(set), {key}));
  OXIDE_RETURN_IF_ERROR(key.WritePemFile(pem));
  OXIDE_RETURN_IF_ERROR(WriteNew(pub, crypto::PublicKeyToPem(key.public_key())));
  OXIDE_RETURN_IF_ERROR(WriteNew(keys, crypto::EncodeEnvelope(e) + "\n"));
  std::printf(
      "private key %s (keep it offline), public key %s\nkey set v1 %s (give it to devices: "
      "--trusted-keys)\nkeyid %s\n",
      pem.c_str(), pub.c_str(), keys.c_str(), crypto::KeyId(key.public_key()).c_str());
  return Status::Ok();
}

Result<crypto::KeySet> ReadKeySetFile(const std::string& path) {
  OXIDE_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, kMaxKeysFile));
  auto e = crypto::ParseEnvelope(text);
  if (!e.ok()) return std::move(e).status().WithContext(path);
  auto set = crypto::ParseKeySet(e->payload);
  if (!set.ok()) return std::move(set).status().WithContext(path);
  return set;
}

Status RunRotate(const RotateArgs& a) {
  OXIDE_ASSIGN_OR_RETURN(crypto::KeySet current, ReadKeySetFile(a.keys));
  OXIDE_ASSIGN_OR_RETURN(int64_t expires, ExpiryOf(a.expires, a.expires_in));
  crypto::KeySet next{current.version + 1, 0, {}, expires};
  for (const crypto::TrustedKey& k : current.keys) {
    if (std::find(a.remove.begin(), a.remove.end(), k.keyid) == a.remove.end()) {
      next.keys.push_back(k);
    }
  }
  for (const std::string& id : a.remove) {
    if (current.Find(id) == nullptr) return NotFound("--remove " + id + ": not in " + a.keys);
  }
  for (const std::string& path : a.add) {
    OXIDE_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path, kMaxKeysFile));
    auto pub = crypto::PublicKeyFromPem(pem);
    if (!pub.ok()) return std::move(pub).status().WithContext(path);
    std::string id = crypto::KeyId(*pub);
    if (next.Find(id) == nullptr) next.keys.push_back({id, *pub});
  }
  if (next.keys.empty()) return InvalidArgument("the new key set would have no key");
  next.threshold = a.threshold > 0 ? a.threshold
                                   : std::min<uint32_t>(current.threshold,
                                                        static_cast<uint32_t>(next.keys.size()));
  std::vector<crypto::SigningKey> signers;
  for (const std::string& path : a.sign_with) {
    OXIDE_ASSIGN_OR_RETURN(crypto::SigningKey key, crypto::SigningKey::ReadPemFile(path));
    signers.push_back(std::move(key));
  }
  std::string payload = crypto::EncodeKeySet(next);
  // Re-parsed so the limits (key count, threshold) are those devices apply.
  OXIDE_RETURN_IF_ERROR(crypto::ParseKeySet(payload).status());
  OXIDE_ASSIGN_OR_RETURN(crypto::Envelope e,
                         crypto::SignEnvelope(crypto::kKeysPayloadType, payload, signers));
  // Devices would refuse it: say so now, with the reason, instead of writing it.
  auto verified = crypto::VerifyKeySetUpdate(current, e);
  if (!verified.ok()) {
    return std::move(verified).status().WithContext("the new key set would be refused");
  }
  OXIDE_RETURN_IF_ERROR(AtomicWriteFile(a.out, crypto::EncodeEnvelope(e) + "\n"));
  std::printf("key set v%llu (%zu keys, threshold %u) %s\n",
              static_cast<unsigned long long>(next.version), next.keys.size(), next.threshold,
              a.out.c_str());
  return Status::Ok();
}

Status RunSign(const SignArgs& a) {
  if (!IsSafeId(a.model) || !IsSafeId(a.version)) {
    return InvalidArgument("--model and --version: 1-128 characters of [A-Za-z0-9._-]");
  }
  OXIDE_ASSIGN_OR_RETURN(int64_t expires, ExpiryOf(a.expires, a.expires_in));
  std::vector<crypto::SigningKey> signers;
  std::vector<std::string> ids;
  for (const std::string& path : a.keys) {
    OXIDE_ASSIGN_OR_RETURN(crypto::SigningKey key, crypto::SigningKey::ReadPemFile(path));
    std::string id = crypto::KeyId(key.public_key());
    // A second signature by the same key would not count towards a threshold.
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) {
      return InvalidArgument("--key " + path + ": the same key twice (keyid " + id + ")");
    }
    ids.push_back(std::move(id));
    signers.push_back(std::move(key));
  }
  OXIDE_ASSIGN_OR_RETURN(auto file, ReadableFile::Open(a.file));
  OXIDE_ASSIGN_OR_RETURN(Digest digest, Sha256File(a.file));  // streaming
  crypto::ReleaseMetadata m{a.model, a.version, ToHex(digest), file->size(), a.counter, expires};
  OXIDE_ASSIGN_OR_RETURN(
      crypto::Envelope e,
      crypto::SignEnvelope(crypto::kReleasePayloadType, crypto::EncodeReleaseMetadata(m), signers));
  OXIDE_RETURN_IF_ERROR(AtomicWriteFile(a.out, crypto::EncodeEnvelope(e) + "\n"));
  std::printf("signed %s@%s counter %llu sha256 %s expires %s: %s\n", a.model.c_str(),
              a.version.c_str(), static_cast<unsigned long long>(a.counter), m.sha256.c_str(),
              crypto::FormatUtcTime(expires).c_str(), a.out.c_str());
  return Status::Ok();
}

}  // namespace

struct SignCommands::Impl {
  CLI::App* keys = nullptr;
  CLI::App* generate = nullptr;
  CLI::App* rotate = nullptr;
  CLI::App* release = nullptr;
  CLI::App* sign = nullptr;
  GenerateArgs gen;
  RotateArgs rot;
  SignArgs sig;
};

SignCommands::SignCommands(CLI::App* app) : impl_(std::make_unique<Impl>()) {
  Impl& i = *impl_;
  i.keys = app->add_subcommand("keys", "Release signing keys: generate, rotate");
  i.keys->require_subcommand(1);
  i.generate = i.keys->add_subcommand("generate", "New Ed25519 release key and key set v1");
  i.generate->add_option("--out", i.gen.prefix, "Writes PREFIX.pem, PREFIX.pub, PREFIX.keys.json")
      ->required();
  i.generate->add_option("--expires", i.gen.expires, "Key set expiry, YYYY-MM-DDTHH:MM:SSZ");
  i.generate->add_option("--expires-in", i.gen.expires_in,
                         "Key set expiry from now (default 365d)");

  i.rotate = i.keys->add_subcommand("rotate", "Next key set, signed by old and new keys");
  i.rotate->add_option("--keys", i.rot.keys, "Current key set (.keys.json)")->required();
  i.rotate->add_option("--sign-with", i.rot.sign_with, "Private key (.pem); repeat")->required();
  i.rotate->add_option("--add", i.rot.add, "Public or private key PEM to add; repeat");
  i.rotate->add_option("--remove", i.rot.remove, "Key id to remove; repeat");
  i.rotate->add_option("--threshold", i.rot.threshold, "Signatures needed (default: as now)")
      ->check(CLI::Range(1, 16));
  i.rotate->add_option("--expires", i.rot.expires, "Expiry, YYYY-MM-DDTHH:MM:SSZ");
  i.rotate->add_option("--expires-in", i.rot.expires_in, "Expiry from now (default 365d)");
  i.rotate->add_option("-o,--output", i.rot.out, "Next key set to write")->required();

  i.release = app->add_subcommand("release", "Signed release metadata");
  i.release->require_subcommand(1);
  i.sign = i.release->add_subcommand("sign", "Sign a model file's release metadata");
  i.sign->add_option("file", i.sig.file, "Model file (hashed, streaming)")->required();
  i.sign->add_option("--model", i.sig.model, "Model id")->required();
  i.sign->add_option("--version", i.sig.version, "Version")->required();
  i.sign->add_option("--counter", i.sig.counter, "Release counter (must only increase)")
      ->required();
  auto* exp = i.sign->add_option("--expires", i.sig.expires, "Expiry, YYYY-MM-DDTHH:MM:SSZ");
  auto* exp_in = i.sign->add_option("--expires-in", i.sig.expires_in, "Expiry from now (90d)");
  exp->excludes(exp_in);
  i.sign->add_option("--key", i.sig.keys, "Private key (.pem); repeat to sign with several")
      ->required();
  i.sign->add_option("-o,--output", i.sig.out, "Signed envelope to write")->required();
}

SignCommands::~SignCommands() = default;

void SignCommands::AddLogFlags(log::Flags* flags) {
  for (CLI::App* sub : {impl_->generate, impl_->rotate, impl_->sign}) {
    sub->add_flag("-v,--verbose", flags->verbose, "More detail on stderr (-vv: trace)");
    sub->add_option("--log-level", flags->level, "Least severe level logged (default info)")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  }
}

bool SignCommands::Run(CLI::App* chosen, Status* status) const {
  const Impl& i = *impl_;
  if (chosen == i.keys) {
    *status = i.generate->parsed() ? RunGenerate(i.gen) : RunRotate(i.rot);
    return true;
  }
  if (chosen == i.release) {
    *status = RunSign(i.sig);
    return true;
  }
  return false;
}

}  // namespace oxide::cli

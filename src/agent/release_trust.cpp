#include "agent/release_trust.hpp"

#include "crypto/release_verify.hpp"

namespace oxide::agent {

namespace {

constexpr size_t kMaxChainBytes = 4u << 20;

Result<crypto::KeySet> VerifiedRoot(std::string_view text, crypto::Envelope* envelope) {
  OXIDE_ASSIGN_OR_RETURN(*envelope, crypto::ParseEnvelope(text));
  return crypto::VerifyRootKeySet(*envelope);
}

// Collects a small body, refusing more than the bound.
class StringSink final : public DownloadSink {
 public:
  Status OnResponse(const HttpResponseHead&) override { return Status::Ok(); }
  Status Write(const uint8_t* data, size_t n) override {
    if (body.size() + n > kMaxChainBytes) return ResourceExhausted("key chain larger than 4 MiB");
    body.append(reinterpret_cast<const char*>(data), n);
    return Status::Ok();
  }
  std::string body;
};

}  // namespace

Result<std::unique_ptr<ReleaseTrust>> ReleaseTrust::Open(FileSystem& fs, std::string state_path,
                                                         std::string_view initial) {
  std::unique_ptr<ReleaseTrust> t(new ReleaseTrust(fs, std::move(state_path)));
  crypto::Envelope root_envelope;
  auto root = VerifiedRoot(initial, &root_envelope);
  if (!root.ok()) return std::move(root).status().WithContext("trusted key set");
  t->keys_ = *root;
  t->chain_ = {root_envelope};
  auto saved_text = fs.ReadFile(t->state_path_, kMaxChainBytes);
  if (saved_text.ok()) {
    // The saved copy is only a cache of steps followed from the installed root: it is used when
    // it starts with exactly that root, and each later step is verified again against the one
    // before. Anything else (unreadable, the chain of another root after a re-flash, a set
    // planted in the state dir) is dropped and the chain is followed again from the root.
    auto saved = crypto::ParseKeyChain(*saved_text);
    const std::string root_text = crypto::EncodeEnvelope(root_envelope);
    if (saved.ok() && !saved->empty() && crypto::EncodeEnvelope(saved->front()) == root_text) {
      for (size_t i = 1; i < saved->size(); ++i) {
        auto next = crypto::VerifyKeySetUpdate(t->keys_, (*saved)[i]);
        if (!next.ok()) break;  // keep the verified prefix
        t->keys_ = std::move(next).value();
        t->chain_.push_back((*saved)[i]);
      }
      if (t->chain_.size() == saved->size()) return t;
    }
  } else if (saved_text.status().code() != ErrorCode::kNotFound) {
    return saved_text.status();
  }
  OXIDE_RETURN_IF_ERROR(t->Save());
  return t;
}

Status ReleaseTrust::Save() {
  return WriteFileAtomically(fs_, state_path_, crypto::EncodeKeyChain(chain_) + "\n");
}

Result<size_t> ReleaseTrust::Advance(std::string_view chain_json) {
  OXIDE_ASSIGN_OR_RETURN(std::vector<crypto::Envelope> chain, crypto::ParseKeyChain(chain_json));
  size_t applied = 0;
  for (const crypto::Envelope& e : chain) {
    auto k = crypto::ParseKeySet(e.payload);
    if (!k.ok() || k->version <= keys_.version) continue;  // what we hold, or older
    auto next = crypto::VerifyKeySetUpdate(keys_, e);
    if (!next.ok()) return std::move(next).status();
    chain_.push_back(e);
    Status saved = Save();
    if (!saved.ok()) {
      chain_.pop_back();
      return saved;
    }
    keys_ = std::move(next).value();
    ++applied;
  }
  return applied;
}

Result<uint64_t> ReleaseTrust::Verify(const std::string& model_id, const ModelRef& a,
                                      uint64_t highest_counter, int64_t now_unix) const {
  if (a.release.empty()) {
    return FailedPrecondition("unsigned: " + model_id + "@" + a.version + " has no signed release");
  }
  auto e = crypto::ParseEnvelope(a.release);
  if (!e.ok()) return FailedPrecondition("malformed release: " + e.status().message());
  OXIDE_ASSIGN_OR_RETURN(
      crypto::ReleaseMetadata m,
      crypto::VerifyRelease(*e, keys_, model_id, a.version, highest_counter, now_unix));
  OXIDE_RETURN_IF_ERROR(crypto::VerifyAssignment(m, a.sha256, a.size_bytes));
  return m.counter;
}

Result<std::string> FetchKeyChain(Downloader& downloader, const std::string& base_url,
                                  const std::string& device_id, const std::string& device_secret) {
  DownloadRequest req;
  req.url = base_url + "/api/v1/keys";
  req.headers.emplace_back("X-Oxide-Device-Id", device_id);
  if (!device_secret.empty()) req.headers.emplace_back("Authorization", "Bearer " + device_secret);
  StringSink sink;
  OXIDE_ASSIGN_OR_RETURN(DownloadResult r, downloader.Get(req, sink));
  if (r.head.status == 200) return std::move(sink.body);
  std::string msg = "GET /api/v1/keys: HTTP " + std::to_string(r.head.status);
  if (r.head.status >= 500 || r.head.status == 429) return Unavailable(msg);
  return FailedPrecondition(msg);
}

}  // namespace oxide::agent

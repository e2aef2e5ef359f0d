#include "server/service/release_service.hpp"

#include "crypto/release.hpp"
#include "crypto/release_verify.hpp"

namespace oxide::server {

namespace {

// A verification refusal (kFailedPrecondition) is the client's bad input here: 422.
Status AsInvalid(Status st) {
  if (st.ok() || st.code() == ErrorCode::kInvalidArgument) return st;
  if (st.code() == ErrorCode::kFailedPrecondition) return InvalidArgument(st.message());
  return st;
}

Result<crypto::KeySet> LastKeySet(store::Store& store, bool* any) {
  OXIDE_ASSIGN_OR_RETURN(auto chain, store.releases().ListKeySets());
  *any = !chain.empty();
  if (chain.empty()) return crypto::KeySet{};
  OXIDE_ASSIGN_OR_RETURN(crypto::Envelope e, crypto::ParseEnvelope(chain.back()));
  auto k = crypto::ParseKeySet(e.payload);
  if (!k.ok()) return Internal("stored key set does not parse: " + k.status().message());
  return k;
}

}  // namespace

Status ReleaseService::Put(const std::string& model_id, const std::string& version,
                           std::string_view body) {
  auto e = crypto::ParseEnvelope(body);
  if (!e.ok()) return std::move(e).status().WithContext("release");
  if (e->payload_type != crypto::kReleasePayloadType) {
    return InvalidArgument("release: payload_type must be " +
                           std::string(crypto::kReleasePayloadType));
  }
  auto m = crypto::ParseReleaseMetadata(e->payload);
  if (!m.ok()) return m.status();
  if (m->model != model_id || m->version != version) {
    return InvalidArgument("release is signed for " + m->model + "@" + m->version + ", not " +
                           model_id + "@" + version);
  }
  return store_.InTransaction([&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(auto v, store_.models().Get(model_id, version));
    OXIDE_RETURN_IF_ERROR(AsInvalid(crypto::VerifyAssignment(*m, v.sha256, v.size_bytes)));
    bool any = false;
    OXIDE_ASSIGN_OR_RETURN(crypto::KeySet keys, LastKeySet(store_, &any));
    if (any && crypto::CountValidSignatures(*e, keys) < keys.threshold) {
      return InvalidArgument("release is not signed by " + std::to_string(keys.threshold) +
                             " key(s) of the current key set v" + std::to_string(keys.version));
    }
    return store_.releases().Put(model_id, version, crypto::EncodeEnvelope(*e),
                                 clock_.UnixMillis());
  });
}

Result<std::string> ReleaseService::Get(const std::string& model_id, const std::string& version) {
  return store_.releases().Get(model_id, version);
}

Result<uint64_t> ReleaseService::AppendKeySet(std::string_view body) {
  auto e = crypto::ParseEnvelope(body);
  if (!e.ok()) return std::move(e).status().WithContext("key set");
  uint64_t version = 0;
  Status st = store_.InTransaction([&]() -> Status {
    bool any = false;
    OXIDE_ASSIGN_OR_RETURN(crypto::KeySet last, LastKeySet(store_, &any));
    auto next = any ? crypto::VerifyKeySetUpdate(last, *e) : crypto::VerifyRootKeySet(*e);
    if (!next.ok()) return AsInvalid(next.status());
    // Devices are installed with v1 and step one version at a time: a chain starting later
    // could never be followed.
    if (!any && next->version != 1) {
      return InvalidArgument("key set: the first key set must be v1, not v" +
                             std::to_string(next->version));
    }
    version = next->version;
    return store_.releases().AppendKeySet(version, crypto::EncodeEnvelope(*e), clock_.UnixMillis());
  });
  if (!st.ok()) return st;
  return version;
}

Result<std::string> ReleaseService::KeyChainJson() {
  OXIDE_ASSIGN_OR_RETURN(auto stored, store_.releases().ListKeySets());
  std::vector<crypto::Envelope> chain;
  for (const std::string& text : stored) {
    OXIDE_ASSIGN_OR_RETURN(crypto::Envelope e, crypto::ParseEnvelope(text));
    chain.push_back(std::move(e));
  }
  return crypto::EncodeKeyChain(chain);
}

}  // namespace oxide::server

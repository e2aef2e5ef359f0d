#pragma once

#include <string>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "store/store.hpp"

namespace oxide::server {

// Signed releases (docs/format/release-metadata.md) as the control plane keeps them: it stores
// and serves what operators signed offline; it never holds a private key. Devices verify
// everything again; the checks here catch operator mistakes early. Thread-safe; `store` and
// `clock` must outlive it.
class ReleaseService {
 public:
  ReleaseService(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // Stores the release envelope of an uploaded version. kInvalidArgument (HTTP 422) when the
  // envelope or its metadata does not parse, names another model or version, or its sha256 or
  // size differs from the stored version's; or, once key sets were uploaded, when the latest
  // set's threshold of keys did not sign it. kNotFound for an unknown version.
  Status Put(const std::string& model_id, const std::string& version, std::string_view body);
  // The stored envelope (compact JSON). kNotFound when the version has none.
  Result<std::string> Get(const std::string& model_id, const std::string& version);

  // Appends the next key set: the first must be self-signed (VerifyRootKeySet), every later one
  // must verify against the current last one (VerifyKeySetUpdate). kInvalidArgument (422)
  // otherwise; kAlreadyExists (409) when that version is already stored. Returns its version.
  Result<uint64_t> AppendKeySet(std::string_view body);
  // {"key_sets":[envelope,...]} by version; an empty list when none was uploaded.
  Result<std::string> KeyChainJson();

 private:
  store::Store& store_;
  const Clock& clock_;
};

}  // namespace oxide::server

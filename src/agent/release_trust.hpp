#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/update_record.hpp"
#include "base/file_system.hpp"
#include "base/result.hpp"
#include "crypto/release.hpp"
#include "http_client/http.hpp"

namespace oxide::agent {

// The agent's trusted release key set (docs/format/release-metadata.md) and the checks it
// makes with it. Starts from the key set installed with the device (--trusted-keys, e.g. at
// flashing time) and follows the control plane's key chain (GET /api/v1/keys) forward, one
// verified version at a time, never back. The chain followed, from the installed set on, is kept
// durably at `state_path` through the FileSystem seam, so a restart neither forgets a rotation
// nor re-trusts a retired key; it is verified again from the installed set on every Open, so a
// copy planted in the state dir or left by another root is not trusted. Not thread-safe; `fs`
// must outlive it.
class ReleaseTrust {
 public:
  // `initial` is the text of the installed key set envelope: it must verify as self-signed
  // (kFailedPrecondition / kInvalidArgument otherwise). The chain saved at `state_path` by an
  // earlier run is used when it starts with exactly this set and each later set verifies against
  // the one before (VerifyKeySetUpdate); otherwise it is replaced by this set alone (the chain is
  // then followed again from the server). kIo when the chain cannot be saved.
  static Result<std::unique_ptr<ReleaseTrust>> Open(FileSystem& fs, std::string state_path,
                                                    std::string_view initial);

  const crypto::KeySet& keys() const { return keys_; }

  // Applies the sets of `chain_json` ({"key_sets":[...]}) that come after the current one, in
  // order, each verified against the one before (crypto::VerifyKeySetUpdate), and saves the
  // result. Returns how many were applied; a set that does not verify stops the walk with its
  // refusal (the sets verified before it are kept).
  Result<size_t> Advance(std::string_view chain_json);

  // Verifies the release of an assignment for `model_id`: signed by the trusted set, for this
  // model and version, counter >= `highest_counter`, not expired at `now_unix`, and vouching
  // for the assignment's sha256 and size. Returns its counter. "unsigned: ..." when the
  // assignment carries no release.
  Result<uint64_t> Verify(const std::string& model_id, const ModelRef& assignment,
                          uint64_t highest_counter, int64_t now_unix) const;

 private:
  ReleaseTrust(FileSystem& fs, std::string state_path)
      : fs_(fs), state_path_(std::move(state_path)) {}
  Status Save();

  FileSystem& fs_;
  std::string state_path_;
  crypto::KeySet keys_;                  // the last set of chain_
  std::vector<crypto::Envelope> chain_;  // the installed set, then each set followed from it
};

// GET <base_url>/api/v1/keys through `downloader`, bounded. kUnavailable on transport errors or
// 5xx, kFailedPrecondition on another non-200 status.
// Sends the device's credential (`device_secret` may be empty, as for downloads).
Result<std::string> FetchKeyChain(Downloader& downloader, const std::string& base_url,
                                  const std::string& device_id, const std::string& device_secret);

}  // namespace oxide::agent

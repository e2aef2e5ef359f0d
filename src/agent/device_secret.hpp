#pragma once

#include <string>

#include "base/file_system.hpp"
#include "base/result.hpp"

namespace oxide::agent {

// The device's credential: 32 random bytes (RAND_bytes) in unpadded base64url, created once and
// kept in <state_dir>/device.secret (mode 0600, written atomically: temp file, fsync, rename,
// fsync dir). The agent presents it as `Authorization: Bearer <secret>` with X-Oxide-Device-Id.
// An existing file is read back (trailing whitespace ignored); kCorrupt when it is not a
// secret this agent could have written.
Result<std::string> LoadOrCreateDeviceSecret(FileSystem& fs, const std::string& state_dir);

// The first 16 hex characters of SHA-256(secret): the agent logs it when it enrolls and the
// server shows it as the device's `credential_fingerprint`, so an operator can check that the
// pending credential is this device's before accepting it. Reveals nothing usable.
std::string CredentialFingerprint(const std::string& secret);

}  // namespace oxide::agent

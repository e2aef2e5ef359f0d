#pragma once

// Patch format negotiation between agent and server (issue #13): the agent lists the OXDL
// patch versions it can apply in `X-Oxide-Patch-Versions` ("2,3"); the server serves a patch
// only when the version byte of its header is listed. A request without the header is an
// older client: it applies version 2 only, and is never offered a patch against the empty
// base (old agents cannot apply one; plain downloads expect the model file).

#include <bitset>
#include <string_view>

#include "base/result.hpp"

namespace oxide::protocol {

inline constexpr std::string_view kPatchVersionsHeader = "X-Oxide-Patch-Versions";
// What this agent applies (delta::PatchApplier reads v2 and v3).
inline constexpr std::string_view kAgentPatchVersions = "2,3";
// SHA-256 of zero bytes: the "base" of a patch that rebuilds a model from nothing (first
// install, or a device whose model the server cannot diff against).
inline constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// The versions a client accepts. `declared` is false when the header was absent.
struct PatchVersions {
  std::bitset<256> accepted;
  bool declared = false;
  bool Accepts(uint8_t version) const { return accepted.test(version); }
};

// Parses the header value: comma-separated decimal versions 1..255, optional spaces or tabs
// around each, at most 64 bytes. "" (header absent) = {2}, not declared. kCorrupt otherwise.
Result<PatchVersions> ParsePatchVersions(std::string_view value);

}  // namespace oxide::protocol

#pragma once

#include "base/status.hpp"

namespace oxide {

// Process exit codes of `oxide` and `oxide-delta`, every subcommand included. README.md's
// "Exit codes" table lists exactly these; they are a contract for scripts and systemd units.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;    // an error with no code of its own (network, cancelled)
inline constexpr int kExitUsage = 2;      // bad command line: unknown flag or subcommand, bad value
inline constexpr int kExitInternal = 70;  // a bug: an exception reached main (EX_SOFTWARE)

// The one mapping from error codes to exit codes: kInvalidArgument 2, kNotFound 3,
// kFailedPrecondition 4, kCorrupt 5, kUnsupported 6, kResourceExhausted 7, kIo 8, others 1.
int ExitCodeFor(ErrorCode code);

}  // namespace oxide

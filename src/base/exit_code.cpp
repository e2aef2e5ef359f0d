#include "base/exit_code.hpp"

namespace oxide {

int ExitCodeFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return kExitOk;
    case ErrorCode::kInvalidArgument:
      return kExitUsage;
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
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kUnavailable:
    case ErrorCode::kCancelled:
    case ErrorCode::kInternal:
      break;
  }
  return kExitFailure;
}

}  // namespace oxide

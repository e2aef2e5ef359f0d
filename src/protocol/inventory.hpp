#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace oxide::protocol {

// What a device says about itself in the heartbeat's optional "inventory" object
// (docs/api.md): the agent sends it on its first heartbeat after start and when it changed,
// never on every heartbeat (the device's link may be paid per byte). Each inventory the server
// receives replaces the previous one as a whole.
struct Inventory {
  std::string os;                           // "linux"
  std::string os_version;                   // /etc/os-release PRETTY_NAME, else the kernel release
  std::string arch;                         // "x86_64", "aarch64", ...
  std::string agent_version;                // "oxide-agent/0.1"
  std::optional<uint64_t> free_disk_bytes;  // of the model directory; absent: unknown
  std::map<std::string, std::string> attributes;  // the operator's, from --inventory-file

  bool operator==(const Inventory&) const = default;
};

// The bounds every inventory (and --inventory-file) must respect, as for device tags: a device
// cannot grow the server's rows without limit.
inline constexpr size_t kMaxInventoryAttributes = 64;
inline constexpr size_t kMaxInventoryKeyBytes = 64;
inline constexpr size_t kMaxInventoryValueBytes = 256;

// kInvalidArgument naming the field when a limit is exceeded: more than kMaxInventoryAttributes
// attributes, an empty key, a key over kMaxInventoryKeyBytes or holding a control character,
// or any value (the named fields included) over kMaxInventoryValueBytes.
Status ValidateInventory(const Inventory& inventory);

// The agent's --inventory-file: one JSON object of string → string, validated as above.
// kInvalidArgument on bad JSON, another shape, a non-string value or a limit.
Result<std::map<std::string, std::string>> ParseInventoryAttributes(std::string_view json_text);

}  // namespace oxide::protocol

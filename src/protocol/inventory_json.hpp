#pragma once

// Private to protocol/: the inventory object's JSON form, shared by the heartbeat codec.

#include <nlohmann/json.hpp>

#include "protocol/inventory.hpp"

namespace oxide::protocol::internal {

nlohmann::json InventoryToJson(const Inventory& inventory);
// kInvalidArgument for a wrong type or a limit (ValidateInventory).
Result<Inventory> InventoryFromJson(const nlohmann::json& j);

}  // namespace oxide::protocol::internal

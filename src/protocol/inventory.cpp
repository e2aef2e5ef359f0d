#include "protocol/inventory.hpp"

#include "protocol/inventory_json.hpp"

namespace oxide::protocol {

using nlohmann::json;

namespace {

Status CheckValue(const std::string& field, const std::string& v) {
  if (v.size() > kMaxInventoryValueBytes) {
    return InvalidArgument("inventory." + field + " is longer than " +
                           std::to_string(kMaxInventoryValueBytes) + " bytes");
  }
  return Status::Ok();
}

Status CheckAttributes(const std::map<std::string, std::string>& attributes) {
  if (attributes.size() > kMaxInventoryAttributes) {
    return InvalidArgument("at most " + std::to_string(kMaxInventoryAttributes) +
                           " inventory attributes");
  }
  for (const auto& [k, v] : attributes) {
    if (k.empty() || k.size() > kMaxInventoryKeyBytes) {
      return InvalidArgument("inventory attribute keys must be 1-" +
                             std::to_string(kMaxInventoryKeyBytes) + " bytes");
    }
    for (char c : k) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        return InvalidArgument("inventory attribute keys must not hold control characters");
      }
    }
    OXIDE_RETURN_IF_ERROR(CheckValue("attributes['" + k + "']", v));
  }
  return Status::Ok();
}

Status StringField(const json& j, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_string())
    return InvalidArgument(std::string("inventory.") + key + " must be a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

Result<std::map<std::string, std::string>> StringMap(const json& j, const char* what) {
  if (!j.is_object()) return InvalidArgument(std::string(what) + " must be a JSON object");
  // Checked before copying: an oversized object is refused without building the map.
  if (j.size() > kMaxInventoryAttributes) {
    return InvalidArgument("at most " + std::to_string(kMaxInventoryAttributes) +
                           " inventory attributes");
  }
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) {
      return InvalidArgument(std::string(what) + "['" + k.substr(0, kMaxInventoryKeyBytes) +
                             "'] must be a string");
    }
    out[k] = v.get<std::string>();
  }
  OXIDE_RETURN_IF_ERROR(CheckAttributes(out));
  return out;
}

}  // namespace

Status ValidateInventory(const Inventory& inventory) {
  OXIDE_RETURN_IF_ERROR(CheckValue("os", inventory.os));
  OXIDE_RETURN_IF_ERROR(CheckValue("os_version", inventory.os_version));
  OXIDE_RETURN_IF_ERROR(CheckValue("arch", inventory.arch));
  OXIDE_RETURN_IF_ERROR(CheckValue("agent_version", inventory.agent_version));
  return CheckAttributes(inventory.attributes);
}

Result<std::map<std::string, std::string>> ParseInventoryAttributes(std::string_view json_text) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument("inventory file is not valid JSON");
  return StringMap(j, "the inventory file");
}

namespace internal {

json InventoryToJson(const Inventory& inventory) {
  json j = {{"os", inventory.os},
            {"os_version", inventory.os_version},
            {"arch", inventory.arch},
            {"agent_version", inventory.agent_version},
            {"attributes", json::object()}};
  if (inventory.free_disk_bytes) j["free_disk_bytes"] = *inventory.free_disk_bytes;
  for (const auto& [k, v] : inventory.attributes) j["attributes"][k] = v;
  return j;
}

Result<Inventory> InventoryFromJson(const json& j) {
  if (!j.is_object()) return InvalidArgument("field 'inventory' must be an object");
  Inventory inv;
  OXIDE_RETURN_IF_ERROR(StringField(j, "os", &inv.os));
  OXIDE_RETURN_IF_ERROR(StringField(j, "os_version", &inv.os_version));
  OXIDE_RETURN_IF_ERROR(StringField(j, "arch", &inv.arch));
  OXIDE_RETURN_IF_ERROR(StringField(j, "agent_version", &inv.agent_version));
  if (auto it = j.find("free_disk_bytes"); it != j.end() && !it->is_null()) {
    if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0)) {
      return InvalidArgument("inventory.free_disk_bytes must be a non-negative integer");
    }
    inv.free_disk_bytes = it->get<uint64_t>();
  }
  if (auto it = j.find("attributes"); it != j.end() && !it->is_null()) {
    OXIDE_ASSIGN_OR_RETURN(inv.attributes, StringMap(*it, "inventory.attributes"));
  }
  OXIDE_RETURN_IF_ERROR(ValidateInventory(inv));
  return inv;
}

}  // namespace internal
}  // namespace oxide::protocol

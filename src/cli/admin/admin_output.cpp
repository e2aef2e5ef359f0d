#include <nlohmann/json.hpp>

#include "cli/admin/admin_commands.hpp"

namespace oxide::cli::admin {

std::string Str(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return "-";
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  if (it->is_string()) return it->get<std::string>().empty() ? "-" : it->get<std::string>();
  if (it->is_boolean()) return it->get<bool>() ? "yes" : "no";
  return it->dump();
}

uint64_t U64(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>()
         : it != j.end() && it->is_number_integer()
             ? static_cast<uint64_t>(std::max<int64_t>(0, it->get<int64_t>()))
             : 0;
}

void Print(const Console& c, const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), c.out);
  std::fflush(c.out);
}

void PrintJson(const Console& c, const nlohmann::json& j) { Print(c, j.dump(2) + "\n"); }

}  // namespace oxide::cli::admin

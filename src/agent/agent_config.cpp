// nlohmann stays in this file; its exceptions are turned into a Status here.
#include "agent/agent_config.hpp"

#include <nlohmann/json.hpp>

namespace oxide::agent {

Result<std::vector<std::pair<std::string, std::string>>> ParseJsonConfig(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument("config file is not a JSON object");
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, value] : j.items()) {
    if (value.is_string()) {
      out.emplace_back(key, value.get<std::string>());
    } else if (value.is_boolean() || value.is_number()) {
      out.emplace_back(key, value.dump());
    } else {
      return InvalidArgument("config key '" + key + "' must be a string, number or boolean");
    }
  }
  return out;
}

Result<uint64_t> MaxWindowBytes(uint64_t mib) {
  if (mib < 8 || mib > 2048) {
    return InvalidArgument("--max-window-mb must be between 8 and 2048, not " +
                           std::to_string(mib));
  }
  return mib << 20;
}

}  // namespace oxide::agent

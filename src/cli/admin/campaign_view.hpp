#pragma once

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "cli/admin/admin_client.hpp"

namespace oxide::cli::admin {

// `campaign show`: the campaign's settings, counts, bandwidth, first failure and a table of
// its devices, from GET /api/v1/campaigns/:id.
std::string RenderCampaignDetail(const nlohmann::json& campaign);

// One line: "c-…  mnist v2  rolling_out  1/3 completed  0 failed  7.0 KiB sent (99.7% saved)".
std::string CampaignSummaryLine(const nlohmann::json& campaign);

// What `campaign watch` prints for each new detail. On a terminal (console.out_is_tty) it
// redraws the summary and the device table in place; otherwise it prints one line per change:
// the summary when it changed, a device when its state or error changed or its download moved
// by another 10 %.
class CampaignWatchView {
 public:
  explicit CampaignWatchView(const Console& console) : console_(console) {}
  void Show(const nlohmann::json& campaign);

 private:
  const Console& console_;
  int drawn_lines_ = 0;                         // terminal: lines to move up before redrawing
  std::string last_summary_;                    // lines mode
  std::map<std::string, std::string> devices_;  // lines mode: device → its last printed key
};

}  // namespace oxide::cli::admin

#include "cli/admin/campaign_view.hpp"

#include <nlohmann/json.hpp>

#include "cli/admin/admin_commands.hpp"
#include "cli/admin/table.hpp"

namespace oxide::cli::admin {
namespace {

using Json = nlohmann::json;

std::string Progress(const Json& d) {
  std::string state = Str(d, "state");
  uint64_t done = U64(d, "bytes_done"), total = U64(d, "bytes_total");
  if (state == "completed") return "100%";
  if (state != "downloading" || total == 0) return "-";
  return std::to_string(done * 100 / total) + "% of " + HumanSize(total);
}

std::string DeviceTable(const Json& c) {
  Table t({"DEVICE", "STATE", "STATUS", "PROGRESS", "ERROR"});
  for (const Json& d : c.value("devices", Json::array())) {
    t.AddRow(
        {Str(d, "device_id"), Str(d, "state"), Str(d, "status"), Progress(d), Str(d, "error")});
  }
  return t.Render();
}

}  // namespace

std::string CampaignSummaryLine(const Json& c) {
  const Json s = c.value("summary", Json::object());
  uint64_t served = U64(s, "bytes_served");
  std::string line = Str(c, "id") + "  " + Str(c, "model_id") + " " + Str(c, "target_version") +
                     "  " + Str(c, "state") + "  " + std::to_string(U64(s, "complete")) + "/" +
                     std::to_string(U64(s, "total")) + " completed  " +
                     std::to_string(U64(s, "failures")) + " failed";
  if (served > 0) {
    line += "  " + HumanSize(served) + " sent (" +
            SavedPercent(served, U64(s, "bytes_full_equivalent")) + " saved)";
  }
  return line;
}

std::string RenderCampaignDetail(const Json& c) {
  const Json s = c.value("summary", Json::object());
  std::string target = Str(c, "fleet_id");
  if (c.contains("target") && c["target"].is_object() && !c["target"].empty()) {
    target += " " + c["target"].dump();
  }
  std::string strategy = Str(c, "strategy");
  if (strategy == "canary") strategy += " " + Str(c, "canary_percent") + "%";
  if (strategy == "rolling") strategy += ", batches of " + Str(c, "batch_size");
  std::string out;
  auto row = [&](const char* k, const std::string& v) { out += std::string(k) + v + "\n"; };
  row("id:          ", Str(c, "id"));
  row("model:       ", Str(c, "model_id") + " " + Str(c, "target_version") + " (" +
                           HumanSize(U64(c, "target_size")) + ")");
  row("target:      ", target);
  row("strategy:    ", strategy);
  row("thresholds:  ", Str(c, "failure_threshold_count") + " devices, " +
                           Str(c, "failure_threshold_percent") + "% (0 = off)");
  row("state:       ", Str(c, "state"));
  row("created:     ", ShortTime(Str(c, "created_at")));
  row("devices:     ", std::to_string(U64(s, "total")) + " total, " +
                           std::to_string(U64(s, "complete")) + " completed, " +
                           std::to_string(U64(s, "in_progress")) + " in progress, " +
                           std::to_string(U64(s, "waiting") + U64(s, "pending")) + " waiting, " +
                           std::to_string(U64(s, "failures")) + " failed");
  row("sent:        ", HumanSize(U64(s, "bytes_served")) + " (full files " +
                           HumanSize(U64(s, "bytes_full_equivalent")) + ", " +
                           SavedPercent(U64(s, "bytes_served"), U64(s, "bytes_full_equivalent")) +
                           " saved)");
  if (c.contains("first_failure") && c["first_failure"].is_object()) {
    const Json& f = c["first_failure"];
    row("first error: ", Str(f, "device_id") + ": " + Str(f, "error"));
  }
  return out + "\n" + DeviceTable(c);
}

void CampaignWatchView::Show(const Json& c) {
  if (console_.out_is_tty) {
    std::string block = CampaignSummaryLine(c) + "\n" + DeviceTable(c);
    if (drawn_lines_ > 0) std::fprintf(console_.out, "\x1b[%dA\x1b[J", drawn_lines_);
    drawn_lines_ = static_cast<int>(std::count(block.begin(), block.end(), '\n'));
    Print(console_, block);
    return;
  }
  std::string out;
  std::string summary = CampaignSummaryLine(c);
  if (summary != last_summary_) out += summary + "\n";
  last_summary_ = summary;
  for (const Json& d : c.value("devices", Json::array())) {
    std::string state = Str(d, "state");
    uint64_t total = U64(d, "bytes_total");
    std::string step = state == "downloading" && total > 0
                           ? std::to_string(U64(d, "bytes_done") * 10 / total)
                           : std::string();
    std::string key = state + "|" + step + "|" + Str(d, "error");
    std::string& last = devices_[Str(d, "device_id")];
    if (key == last) continue;
    last = key;
    std::string line = "  " + Str(d, "device_id") + "  " + state;
    if (state == "downloading" && total > 0) line += "  " + Progress(d);
    if (Str(d, "error") != "-") line += "  " + Str(d, "error");
    out += line + "\n";
  }
  if (!out.empty()) Print(console_, out);
}

}  // namespace oxide::cli::admin

#include "agent/progress_reporter.hpp"

#include <algorithm>
#include <string>

namespace oxide::agent {

void ProgressBar::Update(const UpdateRecord& r) {
  const DownloadProgress& d = r.download;
  bool done = d.bytes_total != 0 && d.bytes_done >= d.bytes_total;
  Clock::Duration now = clock_.Now();
  if (!done && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  constexpr int kWidth = 30;
  double frac =
      d.bytes_total ? static_cast<double>(d.bytes_done) / static_cast<double>(d.bytes_total) : 0.0;
  int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<size_t>(filled), '=');
  bar.resize(kWidth, ' ');
  std::fprintf(out_, "\r%s@%s [%s] %5.1f%% %.1f/%.1f MB %s", r.model_id.c_str(),
               r.target ? r.target->version.c_str() : "?", bar.c_str(), frac * 100.0,
               static_cast<double>(d.bytes_done) / 1e6, static_cast<double>(d.bytes_total) / 1e6,
               d.via_patch ? "(patch)" : "");
  if (done) std::fputc('\n', out_);
  std::fflush(out_);
}

void ProgressLog::Update(const UpdateRecord& r) {
  const DownloadProgress& d = r.download;
  std::string version = r.target ? r.target->version : "?";
  std::string download =
      r.model_id + ": downloading " + version + (d.via_patch ? " (patch)" : " (full file)");
  Clock::Duration now = clock_.Now();
  if (download != download_ || d.bytes_done < last_bytes_) {  // a new payload (or restarted)
    download_ = download;
    // The first report already counts the first chunk; a resume started at the synced prefix.
    start_bytes_ = std::min(d.bytes_synced, d.bytes_done);
    start_time_ = now;
    last_line_ = now;
    last_quarter_ = 0;
  }
  last_bytes_ = d.bytes_done;
  int quarter = d.bytes_total == 0 ? 0 : static_cast<int>(d.bytes_done * 4 / d.bytes_total);
  bool next_quarter = quarter > last_quarter_;
  if (!next_quarter && now - last_line_ < every_) return;
  last_line_ = now;
  last_quarter_ = std::max(last_quarter_, quarter);

  std::string line = download + ": " + HumanBytes(d.bytes_done);
  if (d.bytes_total != 0) {
    line += " of " + HumanBytes(d.bytes_total) + " (" +
            std::to_string(d.bytes_done * 100 / d.bytes_total) + "%)";
  }
  double seconds = std::chrono::duration<double>(now - start_time_).count();
  if (seconds >= 1) {  // a rate over milliseconds says little
    auto rate = static_cast<uint64_t>(static_cast<double>(d.bytes_done - start_bytes_) / seconds);
    line += ", " + HumanBytes(rate) + "/s";
  }
  if (start_bytes_ > 0) line += ", resumed at " + HumanBytes(start_bytes_);
  sink_(line);
}

std::string HumanBytes(uint64_t n) {
  if (n < 1000) return std::to_string(n) + " B";
  const char* unit = "kB";
  double v = static_cast<double>(n) / 1e3;
  if (v >= 1000) {
    v /= 1000;
    unit = "MB";
  }
  if (v >= 1000) {
    v /= 1000;
    unit = "GB";
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.2f %s" : "%.1f %s", v, unit);
  return buf;
}

}  // namespace oxide::agent

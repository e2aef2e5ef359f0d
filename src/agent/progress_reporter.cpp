#include "agent/progress_reporter.hpp"

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

}  // namespace oxide::agent

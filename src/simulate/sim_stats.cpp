#include "simulate/sim_stats.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace oxide::simulate {

namespace {

double Rate(uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0;
}
double Ms(int64_t us) { return static_cast<double>(us) / 1000.0; }

std::string Format(const char* fmt, double a) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, a);
  return buf;
}

}  // namespace

std::string_view ToString(RequestKind k) {
  switch (k) {
    case RequestKind::kEnroll:
      return "enroll";
    case RequestKind::kHeartbeat:
      return "heartbeat";
    case RequestKind::kDownload:
      return "download";
    case RequestKind::kReport:
      return "report";
  }
  return "unknown";
}

uint64_t SimStats::error_count() const {
  uint64_t n = 0;
  for (const auto& [what, count] : errors) n += count;
  return n;
}

void SimStats::AddError(RequestKind k, const std::string& what) {
  ++errors[std::string(ToString(k)) + ": " + what];
}

std::string RenderText(const SimStats& s) {
  uint64_t total = 0;
  for (const KindStats& k : s.kinds) total += k.count;
  std::string out = "oxide simulate: " + std::to_string(s.devices) + " devices, " +
                    std::to_string(s.control_planes) + " control plane(s), poll every " +
                    Format("%.2f", s.poll_interval_s) + " s, concurrency " +
                    std::to_string(s.concurrency) + ", " + Format("%.1f", s.measured_s) +
                    " s measured (" + Format("%.1f", s.elapsed_s) + " s with the drain)\n";
  out += "requests: " + std::to_string(total) + " (" + Format("%.1f", Rate(total, s.measured_s)) +
         "/s); offered heartbeats " +
         Format("%.1f", s.poll_interval_s > 0 ? s.devices / s.poll_interval_s : 0) + "/s";
  if (s.steady_s > 0) {
    out += ", achieved after enrolment " + Format("%.1f", Rate(s.steady_heartbeats, s.steady_s)) +
           "/s over " + Format("%.1f", s.steady_s) + " s (p50 " +
           Format("%.2f", Ms(s.steady_latency.Percentile(50))) + " ms, p99 " +
           Format("%.2f", Ms(s.steady_latency.Percentile(99))) + " ms; from the due time p50 " +
           Format("%.2f", Ms(s.steady_intended_latency.Percentile(50))) + " ms, p99 " +
           Format("%.2f", Ms(s.steady_intended_latency.Percentile(99))) + " ms)";
  }
  out += "\n";
  out += "scheduling lag (due time to start): p50 " +
         Format("%.2f", Ms(s.schedule_lag.Percentile(50))) + " ms, p99 " +
         Format("%.2f", Ms(s.schedule_lag.Percentile(99))) + " ms, max " +
         Format("%.2f", Ms(s.schedule_lag.max())) + " ms\n";
  char line[160];
  std::snprintf(line, sizeof(line), "%-10s %10s %10s %9s %9s %9s %9s %11s %11s\n", "kind", "count",
                "rate/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "due p50 ms", "due p99 ms");
  out += line;
  for (size_t i = 0; i < kRequestKinds; ++i) {
    const KindStats& k = s.kinds[i];
    std::snprintf(line, sizeof(line), "%-10s %10llu %10.1f %9.2f %9.2f %9.2f %9.2f %11.2f %11.2f\n",
                  std::string(ToString(static_cast<RequestKind>(i))).c_str(),
                  static_cast<unsigned long long>(k.count), Rate(k.count, s.measured_s),
                  Ms(k.latency.Percentile(50)), Ms(k.latency.Percentile(90)),
                  Ms(k.latency.Percentile(99)), Ms(k.latency.max()),
                  Ms(k.intended_latency.Percentile(50)), Ms(k.intended_latency.Percentile(99)));
    out += line;
  }
  out += "devices: " + std::to_string(s.enrolled) +
         " enrolled; updates: " + std::to_string(s.assignments) + " assignments taken, " +
         std::to_string(s.downloads_patch) + " patches and " + std::to_string(s.downloads_full) +
         " full files downloaded and verified (" + std::to_string(s.downloads_fallback) +
         " after a patch did not apply), " + std::to_string(s.installed_without_download) +
         " installed without download, " + std::to_string(s.installed) + " installs and " +
         std::to_string(s.failures_reported) + " failures reported; " +
         std::to_string(s.bases_kept) + " version(s) kept in memory as patch bases\n";
  out += "bytes down: " + std::to_string(s.bytes_down) + " (payloads " +
         std::to_string(s.payload_bytes) + ")\n";
  out += "peak RSS: " + Format("%.1f", static_cast<double>(s.peak_rss_kb) / 1024.0) + " MiB\n";
  if (s.errors.empty()) {
    out += "errors: none\n";
  } else {
    out += "errors: " + std::to_string(s.error_count()) + "\n";
    for (const auto& [what, count] : s.errors) {
      out += "  " + what + ": " + std::to_string(count) + "\n";
    }
  }
  return out;
}

std::string RenderJson(const SimStats& s) {
  using Json = nlohmann::json;
  uint64_t total = 0;
  Json kinds = Json::object();
  for (size_t i = 0; i < kRequestKinds; ++i) {
    const KindStats& k = s.kinds[i];
    total += k.count;
    kinds[std::string(ToString(static_cast<RequestKind>(i)))] = {
        {"count", k.count},
        {"rate_per_s", Rate(k.count, s.measured_s)},
        {"p50_ms", Ms(k.latency.Percentile(50))},
        {"p90_ms", Ms(k.latency.Percentile(90))},
        {"p99_ms", Ms(k.latency.Percentile(99))},
        {"max_ms", Ms(k.latency.max())},
        {"intended_p50_ms", Ms(k.intended_latency.Percentile(50))},
        {"intended_p90_ms", Ms(k.intended_latency.Percentile(90))},
        {"intended_p99_ms", Ms(k.intended_latency.Percentile(99))},
        {"intended_max_ms", Ms(k.intended_latency.max())}};
  }
  Json j = {{"devices", s.devices},
            {"control_planes", s.control_planes},
            {"poll_interval_s", s.poll_interval_s},
            {"concurrency", s.concurrency},
            {"elapsed_s", s.elapsed_s},
            {"measured_s", s.measured_s},
            {"requests", total},
            {"rate_per_s", Rate(total, s.measured_s)},
            {"offered_heartbeats_per_s", s.poll_interval_s > 0 ? s.devices / s.poll_interval_s : 0},
            {"steady_heartbeats_per_s", Rate(s.steady_heartbeats, s.steady_s)},
            {"steady_s", s.steady_s},
            {"steady_p50_ms", Ms(s.steady_latency.Percentile(50))},
            {"steady_p99_ms", Ms(s.steady_latency.Percentile(99))},
            {"steady_intended_p50_ms", Ms(s.steady_intended_latency.Percentile(50))},
            {"steady_intended_p99_ms", Ms(s.steady_intended_latency.Percentile(99))},
            {"schedule_lag_p50_ms", Ms(s.schedule_lag.Percentile(50))},
            {"schedule_lag_p99_ms", Ms(s.schedule_lag.Percentile(99))},
            {"schedule_lag_max_ms", Ms(s.schedule_lag.max())},
            {"kinds", kinds},
            {"enrolled", s.enrolled},
            {"assignments", s.assignments},
            {"downloads_patch", s.downloads_patch},
            {"downloads_full", s.downloads_full},
            {"downloads_fallback", s.downloads_fallback},
            {"bases_kept", s.bases_kept},
            {"downloads_without_base", s.downloads_without_base},
            {"installed_without_download", s.installed_without_download},
            {"installed", s.installed},
            {"failures_reported", s.failures_reported},
            {"bytes_down", s.bytes_down},
            {"payload_bytes", s.payload_bytes},
            {"peak_rss_kb", s.peak_rss_kb},
            {"errors", s.errors},
            {"error_count", s.error_count()}};
  return j.dump();
}

}  // namespace oxide::simulate

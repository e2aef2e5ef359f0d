// /api/v1/stats/... (ops, issue #10): the bandwidth series the dashboard charts.
#include <charconv>

#include "server/api/errors.hpp"
#include "server/api/internal/json_util.hpp"
#include "server/api/router.hpp"

namespace oxide::server::api {
namespace {

Json PointJson(const BandwidthPoint& p) {
  return Json{{"t", p.t},
              {"bytes_served", p.bytes_served},
              {"bytes_full_equivalent", p.bytes_full_equivalent},
              {"bytes_saved", p.bytes_saved()}};
}

Result<int64_t> ParseSeconds(std::string_view name, std::string_view v) {
  int64_t out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size() || out < 0) {
    return InvalidArgument(std::string(name) + " must be unix seconds (a non-negative integer)");
  }
  return out;
}

Response Bandwidth(StatsService& stats, const Request& req) {
  BandwidthBucket bucket = BandwidthBucket::kHour;
  int64_t from = -1;
  int64_t to = -1;
  std::string_view q = req.query;
  while (!q.empty()) {
    std::string_view pair = q.substr(0, q.find('&'));
    q.remove_prefix(std::min(q.size(), pair.size() + 1));
    const size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    Status st;
    if (key == "bucket") {
      auto b = ParseBandwidthBucket(value);
      st = b.status();
      if (b.ok()) bucket = *b;
    } else if (key == "from" || key == "to") {
      auto s = ParseSeconds(key, value);
      st = s.status();
      if (s.ok()) (key == "from" ? from : to) = *s;
    }  // other keys are ignored, as everywhere in the API
    if (!st.ok()) return ErrorResponse(st);
  }
  auto series = stats.Bandwidth(bucket, from, to);
  if (!series.ok()) return ErrorResponse(series.status());
  Json points = Json::array();
  for (const auto& p : series->series) points.push_back(PointJson(p));
  Json total = PointJson(series->total);
  total.erase("t");
  return JsonResponse(200, Json{{"bucket", std::string(ToString(bucket))},
                                {"price_per_gb", stats.pricing().price_per_gb},
                                {"currency", stats.pricing().currency},
                                {"series", std::move(points)},
                                {"total", std::move(total)}});
}

}  // namespace

void AddStatsRoutes(const ApiDeps& d, std::vector<Route>* routes) {
  if (d.stats == nullptr) return;
  StatsService* stats = d.stats;
  routes->push_back(
      {Method::kGet, "/api/v1/stats/bandwidth",
       [stats](const Request& req, const Params&) { return Bandwidth(*stats, req); }});
  routes->back().access = Access::kViewer;
}

}  // namespace oxide::server::api

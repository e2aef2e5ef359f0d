// /api/v1/models...: upload, listing, meta and the delta-aware download.
#include <algorithm>
#include <cctype>
#include <cstdio>

#include "server/api/errors.hpp"
#include "server/api/internal/query.hpp"
#include "server/api/internal/views.hpp"
#include "server/api/range.hpp"
#include "server/api/router.hpp"
#include "server/service/ids.hpp"

namespace oxide::server::api {
namespace {

Json GoldenJson(const std::optional<store::GoldenRecord>& g) {
  if (!g) return Json(nullptr);
  return Json{
      {"sha256", g->sha256},
      {"size_bytes", g->size_bytes},
      {"tolerance", g->tolerance},
      {"latency_budget_ms", g->latency_budget_ms ? Json(*g->latency_budget_ms) : Json(nullptr)},
      {"uploaded_at", TimeJson(g->uploaded_at)}};
}

// signature: the graph inputs/outputs (null without a graph); signature_change: one line per
// difference from the version uploaded before it (docs/api.md).
Json VersionJson(const store::ModelVersionRecord& v,
                 const std::optional<store::GoldenRecord>& golden) {
  Json j{{"model_id", v.model_id}, {"version", v.version},
         {"sha256", v.sha256},     {"size_bytes", v.size_bytes},
         {"format", v.format},     {"uploaded_at", TimeJson(v.uploaded_at)}};
  Json signature = nullptr;
  if (!v.signature.empty()) {
    signature = Json::parse(v.signature, nullptr, /*allow_exceptions=*/false);
    if (signature.is_discarded()) signature = nullptr;
  }
  j["signature"] = std::move(signature);
  Json change = Json::array();
  size_t start = 0;
  while (start < v.signature_change.size()) {
    size_t end = v.signature_change.find('\n', start);
    if (end == std::string::npos) end = v.signature_change.size();
    change.push_back(v.signature_change.substr(start, end - start));
    start = end + 1;
  }
  j["signature_changed"] = !change.empty();
  j["signature_change"] = std::move(change);
  j["golden"] = GoldenJson(golden);
  return j;
}

// VersionJson with the version's golden check read from the store.
Result<Json> VersionJsonOf(const ApiDeps& d, const store::ModelVersionRecord& v) {
  OXIDE_ASSIGN_OR_RETURN(auto golden, d.models.GetGolden(v.model_id, v.version));
  return VersionJson(v, golden);
}

// PUT /api/v1/models/:id/versions/:ver/golden: the body (streamed into the blob store, at most
// ModelService::kMaxGoldenBytes) is the golden file.
Response PutGolden(const ApiDeps& d, const Request& req, const Params& p) {
  std::shared_ptr<BlobWriter> staged = req.upload;
  if (staged == nullptr) {  // direct handler call: stage the in-memory body
    auto w = d.blobs.NewWriter();
    if (!w.ok()) return ErrorResponse(w.status());
    staged = std::move(w).value();
    Status st = staged->Append(req.body);
    if (!st.ok()) return ErrorResponse(st);
  }
  if (staged->size() > ModelService::kMaxGoldenBytes) {
    return TooLargeResponse("golden file is larger than " +
                            std::to_string(ModelService::kMaxGoldenBytes) + " bytes");
  }
  auto rec = d.models.PutGolden(p[0], p[1], *staged);
  if (!rec.ok()) return ErrorResponse(rec.status());
  return JsonResponse(200, GoldenJson(*rec));
}

Response GetGolden(const ApiDeps& d, const Params& p) {
  auto g = d.models.GetGolden(p[0], p[1]);
  if (!g.ok()) return ErrorResponse(g.status());
  if (!*g) {
    return ErrorResponse(NotFound("version " + p[0] + "@" + p[1] + " has no golden file"));
  }
  // Recorded but gone from disk (found corrupt and removed): retryable, as for model downloads.
  if (!d.blobs.Exists((*g)->sha256)) {
    return ErrorResponse(Unavailable("the golden file of model '" + p[0] + "' version '" + p[1] +
                                     "' is missing (it was found corrupt and removed): upload it "
                                     "again"));
  }
  Response r;
  r.headers = {{"Content-Type", "application/octet-stream"},
               {"ETag", "\"" + (*g)->sha256 + "\""},
               {"X-Oxide-SHA256", (*g)->sha256}};
  r.file =
      FileBody{d.blobs.PathFor((*g)->sha256), 0, (*g)->size_bytes, (*g)->sha256, (*g)->size_bytes};
  // A corrupt blob of the right size is only seen while it is sent: removed then, so the next
  // request gets the 503 above instead of the same bad bytes again.
  const ApiDeps* dp = &d;
  r.on_corrupt = [dp, sha = (*g)->sha256] {
    auto repaired = dp->models.RepairCorruptBlob(sha);
    if (!repaired.ok()) {
      std::fprintf(stderr, "oxide serve: golden blob repair: %s\n",
                   repaired.status().ToString().c_str());
    }
  };
  return r;
}

Response Upload(const ApiDeps& d, const Request& req, const Params& p) {
  std::shared_ptr<BlobWriter> staged = req.upload;
  if (staged == nullptr) {  // direct handler call: stage the in-memory body
    if (req.body.size() > d.limits.max_upload) {
      return TooLargeResponse("upload is larger than " + std::to_string(d.limits.max_upload) +
                              " bytes");
    }
    auto w = d.blobs.NewWriter();
    if (!w.ok()) return ErrorResponse(w.status());
    staged = std::move(w).value();
    Status st = staged->Append(req.body);
    if (!st.ok()) return ErrorResponse(st);
  }
  auto rec = d.models.Upload(p[0], p[1], *staged);
  if (!rec.ok()) return ErrorResponse(rec.status());
  auto j = VersionJsonOf(d, rec->version);
  if (!j.ok()) return ErrorResponse(j.status());
  (*j)["validation"] = std::string(ToString(rec->validation));
  return JsonResponse(rec->created ? 201 : 200, *j);
}

Response Meta(const ApiDeps& d, const Params& p) {
  auto m = d.models.Meta(p[0], p[1]);
  if (!m.ok()) return ErrorResponse(m.status());
  auto golden = d.models.GetGolden(p[0], p[1]);
  if (!golden.ok()) return ErrorResponse(golden.status());
  Json j = VersionJson(m->version, *golden);
  j["blob_present"] = m->blob_present;
  if (m->tensors) {
    Json tensors = Json::array();
    for (const auto& t : m->tensors->tensors) {
      tensors.push_back(Json{{"name", t.name},
                             {"dtype", std::string(tensor::ToString(t.dtype))},
                             {"shape", t.dims},
                             {"storage", std::string(tensor::ToString(t.storage))},
                             {"offset", t.offset},
                             {"length", t.length}});
    }
    j["format"] = std::string(tensor::ToString(m->tensors->format));
    j["tensor_count"] = m->tensors->tensors.size();
    j["tensors"] = std::move(tensors);
  } else {
    j["tensor_count"] = nullptr;
    j["tensors"] = nullptr;
    j["tensor_error"] = m->tensor_error;
  }
  Json patches = Json::array();
  for (const auto& v : m->patches) {
    const auto& pr = v.patch;
    patches.push_back(
        Json{{"base_sha256", pr.base_sha256},
             {"base_version", v.base_version.empty() ? Json(nullptr) : Json(v.base_version)},
             {"state", std::string(store::ToString(pr.state))},
             {"size_bytes", pr.patch_size},
             {"strategy", pr.strategy.empty() ? Json(nullptr) : Json(pr.strategy)},
             {"error", pr.error.empty() ? Json(nullptr) : Json(pr.error)}});
  }
  j["patches"] = std::move(patches);
  return JsonResponse(200, j);
}

Response Download(const ApiDeps& d, const Request& req, const Params& p) {
  auto plan = d.models.PlanDownload(p[0], p[1], req.Header("x-oxide-base-sha256"),
                                    req.Header("x-oxide-base-version"),
                                    req.Header("x-oxide-patch-versions"));
  if (!plan.ok()) return ErrorResponse(plan.status());
  const std::string etag = "\"" + plan->blob_sha256 + "\"";
  Response r;
  r.headers = {{"ETag", etag},
               {"Accept-Ranges", "bytes"},
               {"Cache-Control", "no-cache"},
               {"Vary", "X-Oxide-Base-SHA256, X-Oxide-Patch-Versions"},
               {"X-Oxide-Target-SHA256", plan->target.sha256},
               {"X-Oxide-Target-Size", std::to_string(plan->target.size_bytes)}};
  if (plan->is_patch) {
    r.headers.insert(r.headers.end(), {{"Content-Type", "application/x-oxide-delta"},
                                       {"X-Oxide-Delta-Strategy", plan->strategy},
                                       {"X-Oxide-Delta-Base", plan->base_version},
                                       {"X-Oxide-Base-SHA256", plan->base_sha256}});
  } else {
    r.headers.insert(r.headers.end(), {{"Content-Type", "application/octet-stream"},
                                       {"X-Oxide-SHA256", plan->target.sha256}});
  }
  std::string inm = req.Header("if-none-match");
  if (!inm.empty() && EtagListMatches(inm, etag)) {
    r.status = 304;
    return r;
  }
  ByteRange range{0, plan->blob_size};
  std::string range_header = req.Header("range");
  std::string if_range = req.Header("if-range");
  if (!range_header.empty() && (if_range.empty() || if_range == etag)) {
    switch (ParseRange(range_header, plan->blob_size, &range)) {
      case RangeKind::kNone:
        range = {0, plan->blob_size};
        break;
      case RangeKind::kSatisfiable:
        r.status = 206;
        r.headers.emplace_back("Content-Range",
                               "bytes " + std::to_string(range.offset) + "-" +
                                   std::to_string(range.offset + range.length - 1) + "/" +
                                   std::to_string(plan->blob_size));
        break;
      case RangeKind::kUnsatisfiable: {
        Response err = ErrorResponse(Status(ErrorCode::kInvalidArgument, "range not satisfiable"));
        err.status = 416;  // a protocol answer, not an ErrorCode
        err.headers.emplace_back("Content-Range", "bytes */" + std::to_string(plan->blob_size));
        return err;
      }
    }
  }
  r.file =
      FileBody{plan->blob_path, range.offset, range.length, plan->blob_sha256, plan->blob_size};
  if (req.method == Method::kHead) return r;  // headers only: nothing to account
  // A device that sent its base asked for a patch from it: a hit when that one is served, a
  // miss otherwise (not built yet, failed, or not smaller; also when the patch from the empty
  // base stands in for it). A device on no known base asks for nothing.
  std::string base_sha = req.Header("x-oxide-base-sha256");
  for (char& c : base_sha) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!base_sha.empty() && base_sha != plan->target.sha256) {
    if (plan->is_patch && plan->base_sha256 == base_sha) {
      d.metrics.PatchCacheHit();
    } else {
      d.metrics.PatchCacheMiss();
    }
  }
  const ApiDeps* dp = &d;
  r.on_corrupt = [dp, sha = plan->blob_sha256] {
    auto repaired = dp->models.RepairCorruptBlob(sha);
    if (!repaired.ok()) {
      std::fprintf(stderr, "oxide serve: blob repair: %s\n", repaired.status().ToString().c_str());
    }
  };
  // Booked to the authenticated device, never to a header an operator (or anyone) can set.
  std::string device = req.principal.is_device() ? req.principal.id : std::string();
  r.on_complete = [dp, device = std::move(device), model = p[0], version = p[1],
                   is_patch = plan->is_patch, blob_size = plan->blob_size,
                   target_size = plan->target.size_bytes](uint64_t written) {
    uint64_t full = written;
    if (is_patch && blob_size > 0) {
      // A patch stands in for the whole target: scale so that a complete patch counts as one
      // full download, and resumed pieces add up to it.
      full = static_cast<uint64_t>(static_cast<long double>(written) * target_size / blob_size);
    }
    dp->metrics.AddDownloadBytes(written, full);
    Status st = dp->models.RecordDownload(device, model, version, written, full);
    if (!st.ok()) {
      std::fprintf(stderr, "oxide serve: download accounting: %s\n", st.ToString().c_str());
    }
  };
  return r;
}

// GET /api/v1/models?limit=&after=: model ids in order, a page at a time (targeting, issue #10).
Response ListModels(const ApiDeps& d, const Request& req) {
  size_t limit = 0;
  std::string after;
  Status parsed = [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(auto q, QueryParams::Parse(req.query, {"limit", "after"}));
    OXIDE_ASSIGN_OR_RETURN(limit, q.Limit(500, 1000));
    OXIDE_ASSIGN_OR_RETURN(auto a, q.One("after"));
    after = a.value_or("");
    return Status::Ok();
  }();
  if (!parsed.ok()) return ErrorResponse(parsed);
  auto ids = d.models.ListModels();  // sorted; versions are read for the page only
  if (!ids.ok()) return ErrorResponse(ids.status());
  auto first = std::upper_bound(ids->begin(), ids->end(), after);
  Json out = Json::array();
  std::string next_after;
  for (auto it = first; it != ids->end(); ++it) {
    if (out.size() == limit) {
      next_after = *(it - 1);
      break;
    }
    auto versions = d.models.ListVersions(*it);
    if (!versions.ok()) return ErrorResponse(versions.status());
    out.push_back(Json{{"model_id", *it},
                       {"version_count", versions->size()},
                       {"latest_version", versions->back().version}});
  }
  return JsonResponse(
      200,
      Json{{"models", out}, {"next_after", next_after.empty() ? Json(nullptr) : Json(next_after)}});
}

}  // namespace

void AddModelRoutes(const ApiDeps& d, std::vector<Route>* routes) {
  const ApiDeps* dp = &d;
  routes->push_back({Method::kGet, "/api/v1/models",
                     [dp](const Request& req, const Params&) { return ListModels(*dp, req); }});
  routes->back().access = Access::kViewer;
  routes->push_back({Method::kGet, "/api/v1/models/:id", [dp](const Request&, const Params& p) {
                       auto versions = dp->models.ListVersions(p[0]);
                       if (!versions.ok()) return ErrorResponse(versions.status());
                       Json list = Json::array();
                       for (const auto& v : *versions) {
                         auto j = VersionJsonOf(*dp, v);
                         if (!j.ok()) return ErrorResponse(j.status());
                         list.push_back(std::move(j).value());
                       }
                       return JsonResponse(200, Json{{"model_id", p[0]}, {"versions", list}});
                     }});
  routes->back().access = Access::kViewer;
  routes->push_back({Method::kPost, "/api/v1/models/:id/versions/:ver",
                     [dp](const Request& req, const Params& p) { return Upload(*dp, req, p); },
                     /*upload=*/true,
                     [](const Params& p) {
                       OXIDE_RETURN_IF_ERROR(ValidateId("model id", p[0]));
                       return ValidateId("version", p[1]);
                     }});
  // Meta of a large model renders a large JSON body (and indexes versions stored before the
  // index was kept): run it on the blocking pool, never on an I/O thread.
  routes->push_back({Method::kGet, "/api/v1/models/:id/versions/:ver/meta",
                     [dp](const Request&, const Params& p) { return Meta(*dp, p); },
                     /*upload=*/false, /*precheck=*/nullptr, /*blocking=*/true});
  routes->back().access = Access::kViewer;
  routes->push_back({Method::kGet, "/api/v1/models/:id/versions/:ver/download",
                     [dp](const Request& req, const Params& p) { return Download(*dp, req, p); }});
  routes->back().access = Access::kDevice;
  routes->back().device_check = [dp](const auth::Principal& who, const Params& p) {
    return dp->auth.DeviceMayDownload(who.id, p[0], p[1]);
  };
  // Golden checks (issue #11): upload and removal by an admin; read by viewers and by a device
  // allowed to download that version (it runs the check after installing it).
  routes->push_back({Method::kPut, "/api/v1/models/:id/versions/:ver/golden",
                     [dp](const Request& req, const Params& p) { return PutGolden(*dp, req, p); },
                     /*upload=*/true,
                     [](const Params& p) {
                       OXIDE_RETURN_IF_ERROR(ValidateId("model id", p[0]));
                       return ValidateId("version", p[1]);
                     }});
  routes->back().max_upload = ModelService::kMaxGoldenBytes;
  routes->push_back({Method::kGet, "/api/v1/models/:id/versions/:ver/golden",
                     [dp](const Request&, const Params& p) { return GetGolden(*dp, p); }});
  routes->back().access = Access::kDevice;
  routes->back().device_check = [dp](const auth::Principal& who, const Params& p) {
    return dp->auth.DeviceMayDownload(who.id, p[0], p[1]);
  };
  routes->push_back({Method::kDelete, "/api/v1/models/:id/versions/:ver/golden",
                     [dp](const Request&, const Params& p) {
                       Status st = dp->models.DeleteGolden(p[0], p[1]);
                       if (!st.ok()) return ErrorResponse(st);
                       return JsonResponse(200, Json{{"status", "removed"}});
                     }});
}

}  // namespace oxide::server::api

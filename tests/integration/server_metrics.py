#!/usr/bin/env python3
"""Integration: GET /metrics of the real `oxide serve`, checked by a strict text-format parser.

Traffic (enrolment, uploads, a campaign, heartbeats with a failure report, a patch miss and a
patch hit, refused requests), then two scrapes. Each scrape must pass Debian's
python3-prometheus-client parser and our own stricter checks: HELP and TYPE once per family and
before its samples, no duplicate series, valid names and label escaping, histogram buckets
cumulative with le="+Inf" equal to _count. Then >= 15 series must exist and move as the
traffic between the scrapes says. GET /api/v1/stats/bandwidth must agree with the counters.
"""
import argparse
import http.client
import math
import os
import re
import shutil
import sys
import tempfile

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_common import ServerProcess, sha256, two_model_versions, wait_until  # noqa: E402

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"')
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count", "")}


def strict_parse(text):
    """{(name, frozenset(labels))): value}, raising AssertionError on any format violation."""
    assert text.endswith("\n"), "exposition must end with a newline"
    helps, types, series, seen_families = {}, {}, {}, []
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d: %r" % (n, line)
        assert line.strip() == line and line, "blank or padded " + where
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, rest = line[2:6], line[7:]
            name = rest.split(" ", 1)[0]
            assert NAME.match(name), where
            table = helps if kind == "HELP" else types
            assert name not in table, "second %s for %s" % (kind, name)
            assert not any(s[0] == name or s[0].startswith(name + "_") and
                           s[0][len(name):] in SUFFIXES.get(types.get(name), ())
                           for s in series), "%s after samples of %s" % (kind, name)
            table[name] = rest.split(" ", 1)[1] if " " in rest else ""
            if kind == "TYPE":
                assert table[name] in ("counter", "gauge", "histogram", "summary", "untyped"), where
                assert name in helps, "TYPE before HELP for " + name
                seen_families.append(name)
            continue
        assert not line.startswith("#"), "stray comment " + where
        m = SAMPLE.match(line)
        assert m, "bad sample " + where
        name, labels_text, value = m.group(1), m.group(3), m.group(4)
        family = next((f for f in seen_families
                       if name == f or (name.startswith(f) and
                                        name[len(f):] in SUFFIXES.get(types[f], ()))), None)
        assert family, "sample before its HELP/TYPE " + where
        assert family == seen_families[-1], "samples of %s interleaved " % family + where
        labels = {}
        if labels_text:
            pos = 0
            for lm in LABEL.finditer(labels_text):
                assert lm.start() == pos, "bad label syntax " + where
                assert lm.group(1) not in labels, "duplicate label " + where
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
                if pos < len(labels_text):
                    assert labels_text[pos] == ",", "bad label separator " + where
                    pos += 1
            assert pos == len(labels_text), "bad label syntax " + where
        v = float(value.replace("+Inf", "inf").replace("-Inf", "-inf"))
        assert not math.isnan(v), where
        if types[family] == "counter":
            assert v >= 0, "negative counter " + where
        key = (name, frozenset(labels.items()))
        assert key not in series, "duplicate series " + where
        series[key] = v
    check_histograms(series, types)
    return series, types


def check_histograms(series, types):
    for family, kind in types.items():
        if kind != "histogram":
            continue
        groups = {}
        for (name, labels), v in series.items():
            if name == family + "_bucket":
                rest = frozenset((k, x) for k, x in labels if k != "le")
                le = dict(labels)["le"]
                groups.setdefault(rest, []).append((float(le.replace("+Inf", "inf")), v))
        for rest, buckets in groups.items():
            buckets.sort()
            assert buckets[-1][0] == math.inf, "%s%s has no +Inf bucket" % (family, dict(rest))
            counts = [c for _, c in buckets]
            assert counts == sorted(counts), "%s%s buckets not cumulative" % (family, dict(rest))
            count = series[(family + "_count", rest)]
            assert counts[-1] == count, "%s%s +Inf %s != _count %s" % (family, dict(rest),
                                                                        counts[-1], count)
            assert (family + "_sum", rest) in series


def scrape(srv, token):
    status, headers, body = srv.request("GET", "/metrics",
                                        headers={"Authorization": "Bearer " + token})
    assert status == 200, status
    assert headers["content-type"].startswith("text/plain; version=0.0.4"), headers
    text = body.decode()
    # Debian's parser must accept it whole (it raises on malformed input).
    families = list(text_string_to_metric_families(text))
    assert families
    series, types = strict_parse(text)
    return series, types


def get(series, name, **labels):
    return series.get((name, frozenset(labels.items())), None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oxide", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="oxide-metrics-")
    srv = ServerProcess(args.oxide, os.path.join(tmp, "data"), os.path.join(tmp, "server.log"),
                        extra=["--price-per-gb", "0.08", "--currency", "EUR"])
    try:
        run(srv)
    except Exception:
        sys.stderr.write(open(os.path.join(tmp, "server.log")).read()[-4000:])
        srv.proc.kill()
        raise
    rc, _ = srv.stop()
    assert rc == 0, rc
    print("metrics OK")
    shutil.rmtree(tmp, ignore_errors=True)


def run(srv):
    viewer = srv.json("POST", "/api/v1/tokens", {"name": "prom", "role": "viewer"},
                      expect=201)["token"]
    assert srv.request("GET", "/metrics", auth=False)[0] == 401  # an auth refusal
    srv.json("POST", "/api/v1/devices", {"id": "dev-1", "name": "Camera 1"}, expect=201)
    srv.json("POST", "/api/v1/devices", {"id": "dev-2", "name": "Camera 2"}, expect=201)
    srv.json("POST", "/api/v1/fleets", {"id": "cams", "name": "Cameras"}, expect=201)
    srv.json("POST", "/api/v1/fleets/cams/devices/dev-1")
    secret = "metrics-secret-of-dev-1-" + "x" * 16
    srv.json("POST", "/api/v1/enroll", {"device_id": "dev-1", "secret": secret}, expect=202,
             auth=False)
    srv.json("POST", "/api/v1/devices/dev-1/accept")
    v1, v2 = two_model_versions()
    srv.json("POST", "/api/v1/models/detector/versions/1.0", v1, expect=201)
    srv.json("POST", "/api/v1/models/detector/versions/1.1", v2, expect=201)
    dev = {"X-Oxide-Device-Id": "dev-1", "Authorization": "Bearer " + secret}
    hb = {"current_model": "detector", "current_model_version": "1.0", "status": "online",
          "models": [{"model_id": "detector", "version": "1.0", "sha256": sha256(v1)}]}
    srv.json("POST", "/api/v1/devices/dev-1/heartbeat", hb, headers=dev)
    srv.json("POST", "/api/v1/campaigns", {"model_id": "detector", "model_version": "1.1",
                                           "fleet_id": "cams", "strategy": "all_at_once"},
             expect=201)
    srv.json("POST", "/api/v1/devices/dev-1/heartbeat", hb, headers=dev)
    url = "/api/v1/models/detector/versions/1.1/download"
    # A base nobody has: served in full although a patch was asked for (a miss).
    st, h, body = srv.request("GET", url, headers=dict(dev, **{
        "X-Oxide-Base-SHA256": sha256(b"a model this server never saw")}))
    assert st == 200 and body == v2, st
    # The real base: a hit once the worker built the patch.
    with_base = dict(dev, **{"X-Oxide-Base-SHA256": sha256(v1)})

    def patch_served():
        st, h, body = srv.request("GET", url, headers=with_base)
        assert st == 200
        return body if h["content-type"] == "application/x-oxide-delta" else None

    wait_until("a patch download", patch_served, timeout=120, interval=0.2)
    assert srv.request("GET", "/api/v1/devices/dev-2", headers=dev)[0] == 403  # forbidden
    first, types = scrape(srv, viewer)

    # Between the scrapes: one heartbeat carrying one failure report, one full download.
    # (A patch that did not apply: the update goes on with the full file, the campaign too.)
    report = {"id": "r-1", "model_id": "detector", "version": "1.1", "outcome": "fallback",
              "stage": "patch", "error": "patch did not apply"}
    srv.json("POST", "/api/v1/devices/dev-1/heartbeat", dict(hb, reports=[report]), headers=dev)
    st, _, full = srv.request("GET", url, headers=dev)
    assert st == 200 and full == v2
    wait_until("the download booked", lambda: scrape(srv, viewer)[0][
        ("oxide_bytes_served_total", frozenset())] >= first[("oxide_bytes_served_total",
                                                               frozenset())] + len(v2))
    second, _ = scrape(srv, viewer)

    names = {name for name, _ in second}
    print("%d series in %d families" % (len(second), len(types)))
    assert len(second) >= 15, sorted(names)
    for required in ("oxide_http_requests_total", "oxide_http_request_duration_seconds_bucket",
                     "oxide_devices", "oxide_devices_online", "oxide_campaigns",
                     "oxide_bytes_served_total", "oxide_bytes_full_equivalent_total",
                     "oxide_bytes_saved_total", "oxide_patch_cache_hits_total",
                     "oxide_patch_cache_misses_total", "oxide_patch_build_seconds_bucket",
                     "oxide_patch_queue_depth", "oxide_agent_failures_total",
                     "oxide_event_streams", "oxide_heartbeats_total",
                     "oxide_auth_refusals_total"):
        assert required in names, required
    assert types["oxide_http_request_duration_seconds"] == "histogram"
    assert types["oxide_patch_build_seconds"] == "histogram"

    hb_route = dict(route="/api/v1/devices/:id/heartbeat", method="POST", code="200")
    # Route labels are patterns, never raw paths.
    assert not any("dev-1" in dict(l).get("route", "") for _, l in second)
    assert get(first, "oxide_http_requests_total", **hb_route) == 2
    assert get(second, "oxide_http_requests_total", **hb_route) == 3
    assert get(second, "oxide_heartbeats_total") == get(first, "oxide_heartbeats_total") + 1 == 3
    hb_count = get(second, "oxide_http_request_duration_seconds_count",
                   route="/api/v1/devices/:id/heartbeat")
    assert hb_count == 3, hb_count
    assert get(first, "oxide_agent_failures_total", kind="patch") is None
    assert get(second, "oxide_agent_failures_total", kind="patch") == 1
    assert get(second, "oxide_auth_refusals_total", reason="unauthenticated") >= 1
    assert get(second, "oxide_auth_refusals_total", reason="forbidden") == 1
    assert get(second, "oxide_http_requests_total", route="/metrics", method="GET",
               code="401") == 1
    assert get(second, "oxide_patch_cache_misses_total") >= 1
    assert get(second, "oxide_patch_cache_hits_total") >= 1
    assert get(second, "oxide_patch_build_seconds_count", result="ok") >= 1
    assert get(second, "oxide_patch_queue_depth") == 0
    assert get(second, "oxide_devices", state="online") == 1
    assert get(second, "oxide_devices", state="never_seen") == 1
    assert get(second, "oxide_devices", state="offline") == 0
    assert get(second, "oxide_devices_online") == 1
    assert get(second, "oxide_campaigns", state="rolling_out") == 1
    assert get(second, "oxide_campaigns", state="paused") == 0
    served = get(second, "oxide_bytes_served_total")
    fulls = get(second, "oxide_bytes_full_equivalent_total")
    saved = get(second, "oxide_bytes_saved_total")
    assert served - get(first, "oxide_bytes_served_total") == len(v2)
    assert fulls - get(first, "oxide_bytes_full_equivalent_total") == len(v2)
    assert saved > 0 and saved == fulls - served, (served, fulls, saved)

    # The bandwidth series counts the same bytes (booked in the same place), priced as asked.
    bw = srv.json("GET", "/api/v1/stats/bandwidth?bucket=hour",
                  headers={"Authorization": "Bearer " + viewer})
    assert bw["bucket"] == "hour" and bw["currency"] == "EUR" and bw["price_per_gb"] == 0.08, bw
    assert bw["total"]["bytes_served"] == served, (bw["total"], served)
    assert bw["total"]["bytes_full_equivalent"] == fulls
    assert bw["total"]["bytes_saved"] == saved
    assert sum(p["bytes_served"] for p in bw["series"]) == served
    assert all(p["t"] % 3600 == 0 for p in bw["series"]), bw["series"][:3]
    day = srv.json("GET", "/api/v1/stats/bandwidth?bucket=day",
                   headers={"Authorization": "Bearer " + viewer})
    assert day["total"]["bytes_served"] == served and len(day["series"]) == 30, len(day["series"])
    st, _, body = srv.request("GET", "/api/v1/stats/bandwidth?bucket=week")
    assert st == 422, (st, body)
    st, _, body = srv.request("GET", "/api/v1/stats/bandwidth?from=0&to=99999999999")
    assert st == 422, (st, body)  # more buckets than a chart needs
    assert srv.request("GET", "/api/v1/stats/bandwidth", auth=False)[0] == 401

    # oxide_event_streams: the open GET /api/v1/events streams, counted at scrape time.
    assert get(second, "oxide_event_streams") == 0
    stream = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    stream.request("GET", "/api/v1/events", headers={"Authorization": "Bearer " + viewer})
    resp = stream.getresponse()  # held: dropping it closes the socket
    assert resp.status == 200  # the headers are out: the stream is open
    now = get(scrape(srv, viewer)[0], "oxide_event_streams")
    assert now == 1, now
    resp.close()
    stream.close()
    wait_until("the closed stream uncounted",
               lambda: get(scrape(srv, viewer)[0], "oxide_event_streams") == 0)


if __name__ == "__main__":
    main()

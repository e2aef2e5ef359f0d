#!/usr/bin/env python3
"""Integration: the quick start against the real `oxide serve` binary.

register device + fleet, upload two ONNX versions, campaign, heartbeat, delta download
(polling until the patch is prepared), rebuild with `oxide patch` and verify the SHA-256,
resume with Range, accounting, clean SIGTERM stop.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_common import ServerProcess, sha256, two_model_versions, wait_until  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oxide", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="oxide-quickstart-")
    srv = ServerProcess(args.oxide, os.path.join(tmp, "data"), os.path.join(tmp, "server.log"))
    try:
        run(srv, args.oxide, tmp)
    except Exception:
        sys.stderr.write(open(os.path.join(tmp, "server.log")).read())
        srv.proc.kill()
        raise
    rc, out = srv.stop()
    assert rc == 0, "server exit code %d" % rc
    assert "stopped" in out, out
    print("quickstart OK")
    shutil.rmtree(tmp, ignore_errors=True)  # kept on failure for the logs


def run(srv, oxide, tmp):
    assert srv.json("GET", "/health")["status"] == "healthy"
    srv.json("POST", "/api/v1/devices", {"id": "dev-1", "name": "Camera 1"}, expect=201)
    srv.json("POST", "/api/v1/fleets", {"id": "cams", "name": "Cameras"}, expect=201)
    srv.json("POST", "/api/v1/fleets/cams/devices/dev-1")
    # dev-1 enrolls with its own secret; the operator checks the fingerprint and accepts it.
    secret = "quickstart-secret-of-dev-1-" + "x" * 16
    assert srv.json("GET", "/api/v1/devices/dev-1")["auth_state"] == "unenrolled"
    srv.json("POST", "/api/v1/enroll", {"device_id": "dev-1", "secret": secret}, expect=202,
             auth=False)
    pending = srv.json("GET", "/api/v1/devices/dev-1")
    assert pending["auth_state"] == "pending", pending
    assert pending["credential_fingerprint"] == sha256(secret.encode())[:16], pending
    srv.json("POST", "/api/v1/devices/dev-1/accept")

    v1, v2 = two_model_versions()
    up1 = srv.json("POST", "/api/v1/models/detector/versions/1.0", v1, expect=201)
    up2 = srv.json("POST", "/api/v1/models/detector/versions/1.1", v2, expect=201)
    assert up1["sha256"] == sha256(v1) and up2["sha256"] == sha256(v2)
    assert up2["size_bytes"] == len(v2) and up2["format"] == "onnx", up2
    meta = srv.json("GET", "/api/v1/models/detector/versions/1.1/meta")
    assert meta["format"] == "onnx", meta["format"]

    # A version is immutable: same bytes are idempotent (200), other bytes a conflict (409).
    again = srv.json("POST", "/api/v1/models/detector/versions/1.1", v2, expect=200)
    assert again["sha256"] == sha256(v2), again
    st, _, body = srv.request("POST", "/api/v1/models/detector/versions/1.1", v2 + b"x")
    assert st == 409 and b"already_exists" in body, (st, body)
    # HEAD: the GET headers (Content-Length included), no body.
    st, h, body = srv.request("HEAD", "/api/v1/models/detector/versions/1.1/download")
    assert st == 200 and int(h["content-length"]) == len(v2) and body == b"", (st, h, body)

    # The device runs 1.0 and says so; the campaign targets 1.1.
    hb = {"current_model": "detector", "current_model_version": "1.0", "status": "online",
          "models": [{"model_id": "detector", "version": "1.0", "sha256": sha256(v1)}]}
    srv.json("POST", "/api/v1/devices/dev-1/heartbeat", hb)
    camp = srv.json("POST", "/api/v1/campaigns",
                    {"model_id": "detector", "model_version": "1.1", "fleet_id": "cams",
                     "strategy": "all_at_once"}, expect=201)
    resp = srv.json("POST", "/api/v1/devices/dev-1/heartbeat", hb)
    a = resp["assignment"]
    assert a["version"] == "1.1" and a["sha256"] == sha256(v2) and a["campaign_id"] == camp["id"]

    # As the device: its credential decides which device the bytes are booked to.
    base_headers = {"X-Oxide-Base-Version": "1.0", "X-Oxide-Base-SHA256": sha256(v1),
                    "X-Oxide-Device-Id": "dev-1", "Authorization": "Bearer " + secret}
    url = "/api/v1/models/detector/versions/1.1/download"

    def patch_ready():
        status, headers, body = srv.request("GET", url, headers=base_headers)
        assert status == 200, status
        if headers["content-type"] == "application/x-oxide-delta":
            return headers, body
        assert headers["x-oxide-sha256"] == sha256(v2) and body == v2  # full file meanwhile
        return None

    headers, patch = wait_until("the patch 1.0 -> 1.1", patch_ready, timeout=120, interval=0.2)
    assert headers["x-oxide-delta-base"] == "1.0"
    assert headers["x-oxide-base-sha256"] == sha256(v1)
    assert headers["x-oxide-target-sha256"] == sha256(v2)
    assert int(headers["x-oxide-target-size"]) == len(v2)
    assert headers["etag"] == '"%s"' % sha256(patch)
    assert len(patch) < len(v2), (len(patch), len(v2))
    print("patch: %d bytes (%s) for a %d-byte target" %
          (len(patch), headers["x-oxide-delta-strategy"], len(v2)))

    # Resume: the first 1000 bytes, then the rest with Range + If-Range.
    half = min(1000, len(patch) // 2)
    st, h, first = srv.request("GET", url, headers=dict(base_headers, Range="bytes=0-%d" % (half - 1)))
    assert st == 206 and h["content-range"] == "bytes 0-%d/%d" % (half - 1, len(patch)), h
    st, h, rest = srv.request("GET", url, headers=dict(base_headers, Range="bytes=%d-" % half,
                                                         **{"If-Range": headers["etag"]}))
    assert st == 206 and first + rest == patch
    st, _, _ = srv.request("GET", url, headers=dict(base_headers, Range="bytes=%d-" % len(patch)))
    assert st == 416
    st, _, _ = srv.request("GET", url, headers=dict(base_headers, **{"If-None-Match": headers["etag"]}))
    assert st == 304

    # Rebuild on the "device" with the CLI and check the target digest.
    base_path, patch_path, out_path = (os.path.join(tmp, n) for n in ("base", "patch", "out"))
    open(base_path, "wb").write(v1)
    open(patch_path, "wb").write(first + rest)
    r = subprocess.run([oxide, "patch", base_path, patch_path, "-o", out_path],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert sha256(open(out_path, "rb").read()) == sha256(v2)

    # An old agent (no headers) gets the full file.
    st, h, full = srv.request("GET", url)
    assert st == 200 and h["content-type"] == "application/octet-stream" and full == v2

    # Progress and accounting.
    done = dict(hb, current_model_version="1.1",
                models=[{"model_id": "detector", "version": "1.1", "sha256": sha256(v2)}])
    srv.json("POST", "/api/v1/devices/dev-1/heartbeat", done)
    detail = srv.json("GET", "/api/v1/campaigns/" + camp["id"])
    assert detail["state"] == "completed", detail["state"]
    assert detail["devices"][0]["state"] == "completed"
    bw = detail["bandwidth"]
    assert bw["bytes_served"] > 0 and bw["bytes_saved_by_delta"] > 0, bw
    print("campaign bandwidth:", bw)
    dev = srv.json("GET", "/api/v1/devices/dev-1")
    assert dev["status"] == "online" and dev["current_model_version"] == "1.1"
    metrics = srv.request("GET", "/metrics")[2].decode()
    assert "oxide_devices_online 1" in metrics, metrics
    check_tokens(srv, oxide, tmp)


def check_tokens(srv, oxide, tmp):
    """`oxide token` against the real server: a viewer reads but may not write; revoked -> 401."""
    env = dict(os.environ, OXIDE_SERVER="http://127.0.0.1:%d" % srv.port)
    admin = ["--token-file", os.path.join(tmp, "data", "admin.token")]

    def cli(*argv, token_env=None):
        e = dict(env, OXIDE_TOKEN=token_env) if token_env else env
        return subprocess.run([oxide, "token", *argv], env=e, capture_output=True, text=True)

    created = cli("create", "--name", "dashboard", "--role", "viewer", *admin)
    assert created.returncode == 0, created.stderr
    viewer = created.stdout.strip()
    assert viewer.startswith("oxide_") and len(viewer) == 49, viewer
    assert viewer not in open(os.path.join(tmp, "server.log")).read(), "a token was logged"
    auth = {"Authorization": "Bearer " + viewer}
    assert srv.request("GET", "/api/v1/devices", headers=auth)[0] == 200
    assert srv.request("POST", "/api/v1/fleets", {"id": "x", "name": "x"}, headers=auth)[0] == 403
    refused = cli("create", "--name", "x", "--role", "admin", token_env=viewer)
    assert refused.returncode == 4 and "403" in refused.stderr, refused
    assert srv.request("GET", "/api/v1/devices", auth=False)[0] == 401
    listed = cli("list", *admin)
    assert listed.returncode == 0 and "dashboard" in listed.stdout and viewer not in listed.stdout
    token_id = [line.split()[0] for line in listed.stdout.splitlines() if "dashboard" in line][0]
    assert cli("revoke", token_id, *admin).returncode == 0
    assert srv.request("GET", "/api/v1/devices", headers=auth)[0] == 401
    audit = srv.json("GET", "/api/v1/audit?limit=5")
    assert audit[0]["action"] == "DELETE /api/v1/tokens/:id", audit[0]
    assert audit[0]["remote_address"] == "127.0.0.1", audit[0]
    print("tokens: viewer 403 on write, revoked 401, audit", audit[0]["action"])


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""First installs as patches against the empty base (issue #13), end to end: the real
`oxide serve` and two real `oxide agent` on loopback (python3 stdlib only).

usage: first_install_e2e.py path/to/oxide

The upload of v1 queues, besides the usual patches, a patch of v1 against the EMPTY base
(SHA-256 of zero bytes). Once it is ready:
- d01, a fresh device with no model, installs v1 from that patch (its agent logs a patch
  download of exactly the patch's size, the campaign books the patch size against the full
  size) and runs v1's exact bytes;
- d02 holds a model the server never saw (factory image): no patch from it exists, so it gets
  the empty-base patch too, and installs v1;
- the download route, asked as an older client would (no X-Oxide-Patch-Versions), answers with
  the full file; with "2" it answers only with a version-2 patch or the full file; with "2,3"
  with the patch, resumable by Range/If-Range; a malformed value is a 400 JSON error;
- the patch v1 -> v2 (from a real base) is format version 2, served alike to a client that
  sends no versions, "2" or "2,3";
- the bundled fp32 ONNX model's first-install patch is version 3 (coded tensor): only "2,3"
  receives it (no header, "2" and "1,2" get the file), and `oxide patch EMPTY` rebuilds it.
Every wait polls observable state against a deadline; no sleep is used as synchronisation.
"""
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts", "demo_lib"))
from fleet import Fleet, safetensors, wait_for  # noqa: E402

EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
DEVICES = ["d01", "d02"]
T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)
    log("ok: " + msg)


def quantised_model(seed, tensors=4, floats=64 * 1024):
    """F32 weights drawn from 256 levels (a quantisation-aware model): compresses well on its
    own, so the patch from the empty base is clearly smaller than the file."""
    rng = random.Random(seed)
    levels = [rng.gauss(0.0, 0.5) for _ in range(256)]
    return safetensors({f"layer{i}.weight": [levels[rng.randrange(256)] for _ in range(floats)]
                        for i in range(tensors)})


def download(fleet, version, headers):
    """GET the version's download route as the admin: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", fleet.server.port, timeout=60)
    h = {"Authorization": "Bearer " + fleet.api.token, **headers}
    try:
        conn.request("GET", f"/api/v1/models/{fleet.model_id}/versions/{version}/download",
                     headers=h)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def empty_base_patch(fleet, version):
    for p in fleet.meta(version).get("patches") or []:
        if p.get("base_sha256") == EMPTY_SHA and p.get("state") != "pending":
            return p
    return None


def main(oxide, work):
    v1 = quantised_model(13)
    fleet = Fleet(oxide, work, model_id="qnet", fleet_id="fleet")
    try:
        fleet.start_server()
        fleet.upload("v1", v1)
        v1_sha, size = fleet.versions["v1"]["sha256"], len(v1)
        patch = wait_for("the empty-base patch of v1", lambda: empty_base_patch(fleet, "v1"),
                         120, 0.1)
        check(patch["state"] == "ready" and 0 < patch["size_bytes"] < size,
              f"v1 prepared against the empty base: {patch['size_bytes']} bytes "
              f"(strategy {patch.get('strategy')}) for a {size}-byte file, "
              f"base_version {patch.get('base_version')}")
        check(patch.get("base_version") is None, "the empty base has no version")

        # --- the route, as different clients ---
        st, h, body = download(fleet, "v1", {})
        check(st == 200 and h.get("content-type") == "application/octet-stream" and
              body == v1, "no X-Oxide-Patch-Versions (older agent, curl): the full file")
        st, h, body = download(fleet, "v1", {"X-Oxide-Patch-Versions": "2"})
        check(st == 200 and (body == v1 or (h.get("content-type") == "application/x-oxide-delta"
                                            and body[:4] == b"OXDL" and body[4] == 2)),
              f"version 2 only: a version-2 patch or the full file "
              f"({h.get('content-type')}, {len(body)} bytes)")
        st, h, body = download(fleet, "v1", {"X-Oxide-Patch-Versions": "2,3"})
        check(st == 200 and h.get("content-type") == "application/x-oxide-delta" and
              h.get("x-oxide-base-sha256") == EMPTY_SHA and len(body) == patch["size_bytes"] and
              body[:4] == b"OXDL" and body[4] in (2, 3) and
              h.get("x-oxide-target-sha256") == v1_sha,
              f"versions 2,3 and no base: the empty-base patch (format version {body[4]})")
        etag = h.get("etag")
        st, h2, tail = download(fleet, "v1", {"X-Oxide-Patch-Versions": "2,3",
                                              "Range": "bytes=100-", "If-Range": etag})
        check(st == 206 and tail == body[100:], "the patch download resumes with Range/If-Range")
        st, h, body = download(fleet, "v1", {"X-Oxide-Patch-Versions": "2;3"})
        err = json.loads(body) if body else {}
        check(st == 400 and err.get("error", {}).get("code") == "corrupt" and
              "X-Oxide-Patch-Versions" in err["error"].get("message", ""),
              f"a malformed X-Oxide-Patch-Versions is a 400 JSON error: {err}")

        # --- real agents: one fresh, one with a model the server never saw ---
        foreign = quantised_model(99, floats=8 * 1024)
        agents = fleet.add_devices(DEVICES, start=False)
        os.makedirs(agents[1].model_dir, exist_ok=True)
        with open(agents[1].model_path(fleet.model_id), "wb") as f:
            f.write(foreign)
        for a in agents:
            a.start()
        cid = fleet.campaign("v1")
        detail = fleet.wait_campaign(cid, ("completed", "completed_with_failures", "halted"),
                                     timeout=120)
        check(detail["state"] == "completed", f"v1 commits on both devices: {detail['state']}")
        for d in DEVICES:
            agent = fleet.agents[d]
            wait_for(f"{d} runs v1", lambda: agent.installed_sha(fleet.model_id) == v1_sha,
                     60, 0.1)
            got = agent.received_bytes("v1")
            check(got == [("patch", patch["size_bytes"])],
                  f"{d} downloaded the empty-base patch, not the file: {got}")
            check(not agent.lines(r"falling back to a full download"), f"{d}: no fallback")
        served = {x["device_id"]: x for x in detail["devices"]}
        for d in DEVICES:
            check(served[d]["bytes_served"] == patch["size_bytes"] and
                  served[d]["bytes_full_equivalent"] == size,
                  f"{d}: the campaign books {served[d]['bytes_served']} bytes served against "
                  f"{size} full")
        s = detail["summary"]
        check(s["bytes_saved"] == 2 * (size - patch["size_bytes"]),
              f"campaign saved {s['bytes_saved']} bytes")
        with open(os.path.join(work, "server.log"), errors="replace") as f:
            server_log = f.read()
        check(re.search(r"patch ready.*\(empty base\)", server_log) is not None,
              "the server log names the empty base")

        # --- v2: the patch from v1 is version 2, for old and new clients alike ---
        v2 = v1[:-4096] + bytes(4096)  # the last tensor's tail zeroed: same header, new weights
        fleet.upload("v2", v2)
        exact = fleet.patch_from("v2", "v1")
        check(exact["state"] == "ready", f"v1 -> v2: {exact['state']}, {exact['size_bytes']} "
              f"bytes, strategy {exact.get('strategy')}")
        base = {"X-Oxide-Base-SHA256": v1_sha}
        for versions in (None, "2", "2,3"):
            h = dict(base, **({"X-Oxide-Patch-Versions": versions} if versions else {}))
            st, h, body = download(fleet, "v2", h)
            check(st == 200 and h.get("content-type") == "application/x-oxide-delta" and
                  h.get("x-oxide-base-sha256") == v1_sha and body[:4] == b"OXDL" and
                  body[4] == 2 and len(body) == exact["size_bytes"],
                  f"base v1, X-Oxide-Patch-Versions {versions}: the version-2 patch from v1")

        check_version_3(fleet, oxide, work)
    finally:
        fleet.close()


def check_version_3(fleet, oxide, work):
    """The bundled fp32 ONNX model: its first-install patch is version 3 (coded tensor), and only
    a client that lists 3 ever receives it."""
    with open(os.path.join(ROOT, "examples", "models", "mlp-mnist-v1.onnx"), "rb") as f:
        model = f.read()
    up = fleet.api.ok("POST", "/api/v1/models/mnist/versions/v1", raw=model, timeout=120)

    def settled():
        meta = fleet.api.get("/api/v1/models/mnist/versions/v1/meta")
        return next((p for p in meta["patches"] if p["base_sha256"] == EMPTY_SHA and
                     p["state"] != "pending"), None)
    patch = wait_for("the empty-base patch of mnist v1", settled, 120, 0.1)
    check(patch["state"] == "ready" and patch["strategy"] == "coded-tensor",
          f"mnist v1 from the empty base: {patch['state']}, {patch['strategy']}, "
          f"{patch['size_bytes']} of {len(model)} bytes")
    saved_id, fleet.model_id = fleet.model_id, "mnist"
    try:
        for versions in (None, "2", "1,2"):
            h = {"X-Oxide-Patch-Versions": versions} if versions else {}
            st, h, body = download(fleet, "v1", h)
            check(st == 200 and h.get("content-type") == "application/octet-stream" and
                  body == model, f"X-Oxide-Patch-Versions {versions}: the file, never version 3")
        st, h, body = download(fleet, "v1", {"X-Oxide-Patch-Versions": "2,3"})
        check(st == 200 and h.get("x-oxide-delta-strategy") == "coded-tensor" and
              body[:5] == b"OXDL\x03" and len(body) == patch["size_bytes"],
              "X-Oxide-Patch-Versions 2,3: the version-3 patch")
    finally:
        fleet.model_id = saved_id
    empty, patch_path, out = (os.path.join(work, n) for n in ("empty", "v3.oxdl", "out"))
    open(empty, "wb").close()
    with open(patch_path, "wb") as f:
        f.write(body)
    r = subprocess.run([oxide, "patch", empty, patch_path, "-o", out], capture_output=True,
                       text=True, timeout=120)
    with open(out, "rb") as f:
        check(r.returncode == 0 and f.read() == model and up["sha256"] == patch_sha(model),
              "oxide patch EMPTY rebuilds the model from it")


def patch_sha(data):
    return hashlib.sha256(data).hexdigest()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OXIDE")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = tempfile.mkdtemp(prefix="oxide-first-install-")
    ok = False
    try:
        main(os.path.abspath(sys.argv[1]), work)
        ok = True
    except Exception:
        traceback.print_exc()
        for p in [os.path.join(work, "server.log")] + [
                os.path.join(work, "devices", d, "agent.log") for d in DEVICES]:
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    lines = f.readlines()[-20:]
                print(f"----- {os.path.relpath(p, work)} -----\n" + "".join(lines), flush=True)
    finally:
        if not os.environ.get("OXIDE_E2E_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    log("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)

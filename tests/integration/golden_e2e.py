#!/usr/bin/env python3
"""Golden checks end to end (issue #11): the real `oxide serve`, `oxide run` and three real
`oxide agent --health-check builtin:inference` on loopback (python3 stdlib only).

usage: golden_e2e.py path/to/oxide

v1 (examples/models/mlp-mnist-v1.onnx) installs everywhere (no golden file: zeros, finite
outputs). v2 (mlp-mnist-v2-last-layer.onnx) carries a golden file whose outputs were
deliberately shifted by 0.5: every device rolls it back, and the campaign's device list and
first failure show the check's reason ("output '…' differs by 0.5 > tolerance …"). v3
(mlp-mnist-v2-all-layers.onnx) carries the golden file `oxide run --golden` wrote for it on this
machine, with a generous latency budget: every device commits it.
Every wait polls observable state against a deadline; no sleep is used as synchronisation.
"""
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts", "demo_lib"))
from fleet import Fleet, wait_for  # noqa: E402

MODELS = os.path.join(ROOT, "examples", "models")
DEVICES = ["d01", "d02", "d03"]
T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)
    log("ok: " + msg)


def read_safetensors(blob):
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    return header, blob[8 + n:]


def write_safetensors(header, data):
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def shifted_outputs(golden, delta):
    """The golden file with every F32 output element moved by `delta` (a model whose outputs
    are wrong, as far as the check can tell)."""
    header, data = read_safetensors(golden)
    data = bytearray(data)
    for name, t in header.items():
        if name == "__metadata__" or not name.startswith("output.") or t["dtype"] != "F32":
            continue
        begin, end = t["data_offsets"]
        for off in range(begin, end, 4):
            (v,) = struct.unpack_from("<f", data, off)
            struct.pack_into("<f", data, off, v + delta)
    return write_safetensors(header, bytes(data))


def make_golden(oxide, model, out, budget_ms):
    p = subprocess.run([oxide, "run", model, "--zeros", "--golden", out,
                        "--latency-budget-ms", str(budget_ms)],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError(f"oxide run --golden failed ({p.returncode}): {p.stderr.strip()}")
    with open(out, "rb") as f:
        return f.read()


def put_golden(fleet, version, blob):
    return fleet.api.ok("PUT", f"/api/v1/models/{fleet.model_id}/versions/{version}/golden",
                        raw=blob)


def states(detail):
    return {d["device_id"]: d["state"] for d in detail["devices"]}


def inference_built_in(oxide, work):
    """False when the agent refuses builtin:inference at start-up (built without inference);
    that refusal is checked here: one line, exit code 2."""
    p = subprocess.run([oxide, "agent", "--control-plane", "http://127.0.0.1:9", "--device-id",
                        "probe", "--model-dir", os.path.join(work, "probe"), "--once",
                        "--health-check", "builtin:inference"],
                       capture_output=True, text=True, timeout=60)
    refused = "built without it (OXIDE_WITH_INFERENCE=OFF)" in p.stderr
    if refused:
        check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1,
              f"an agent without inference refuses builtin:inference at start-up: "
              f"{p.stderr.strip()!r}")
    return not refused


def main(oxide, work):
    with open(os.path.join(MODELS, "mlp-mnist-v1.onnx"), "rb") as f:
        v1 = f.read()
    with open(os.path.join(MODELS, "mlp-mnist-v2-last-layer.onnx"), "rb") as f:
        v2 = f.read()
    with open(os.path.join(MODELS, "mlp-mnist-v2-all-layers.onnx"), "rb") as f:
        v3 = f.read()
    fleet = Fleet(oxide, work, model_id="mnist", fleet_id="fleet",
                  server_args=["--offline-after", "2"])
    try:
        fleet.start_server()
        fleet.add_devices(DEVICES, extra=["--health-check", "builtin:inference",
                                          "--max-attempts", "1"])
        log(f"server {fleet.server.url}, devices {DEVICES} with builtin:inference")

        fleet.upload("v1", v1)
        cid = fleet.campaign("v1")
        detail = fleet.wait_campaign(cid, ("completed", "completed_with_failures", "halted"))
        check(detail["state"] == "completed",
              f"v1 without a golden file commits everywhere (zeros, finite outputs): "
              f"{states(detail)}")
        v1_sha = fleet.versions["v1"]["sha256"]

        # v2: a golden file whose outputs are off by 0.5.
        good_v2 = make_golden(oxide, os.path.join(MODELS, "mlp-mnist-v2-last-layer.onnx"),
                              os.path.join(work, "v2.golden"), 10000)
        fleet.upload("v2", v2)
        g = put_golden(fleet, "v2", shifted_outputs(good_v2, 0.5))
        listed = fleet.api.get(f"/api/v1/models/{fleet.model_id}")["versions"]
        check([v.get("golden") and v["golden"]["sha256"] for v in listed
               if v["version"] == "v2"] == [g["sha256"]],
              "the version JSON carries the golden file")
        cid = fleet.campaign("v2", failure_threshold_percent=100)
        detail = fleet.wait_campaign(cid, ("halted", "failed", "completed_with_failures",
                                           "completed"), timeout=120)
        st = states(detail)
        check(all(st[d] in ("rolled_back", "failed") for d in DEVICES),
              f"every device rolled v2 back: {st}")
        errors = {d["device_id"]: d.get("error") or "" for d in detail["devices"]}
        check(all("differs by 0." in e and "> tolerance" in e for e in errors.values()),
              f"the campaign's device list shows the reason: {errors['d01']!r}")
        first = detail.get("first_failure") or {}
        check(first.get("stage") == "health_check" and "differs by 0." in first.get("error", ""),
              f"first failure: {first.get('error', '')!r}")
        wait_for("agents back on v1",
                 lambda: all(fleet.agents[d].installed_sha("mnist") == v1_sha for d in DEVICES),
                 60, 0.1)
        check(True, "every device runs v1 again")

        # v3: its true golden outputs, well within budget.
        fleet.upload("v3", v3)
        put_golden(fleet, "v3", make_golden(oxide, os.path.join(MODELS,
                                                                "mlp-mnist-v2-all-layers.onnx"),
                                            os.path.join(work, "v3.golden"), 10000))
        cid = fleet.campaign("v3")
        detail = fleet.wait_campaign(cid, ("completed", "completed_with_failures", "halted"),
                                     timeout=120)
        check(detail["state"] == "completed", f"v3 within tolerance and budget commits: "
                                              f"{states(detail)}")
        v3_sha = fleet.versions["v3"]["sha256"]
        wait_for("agents on v3",
                 lambda: all(fleet.agents[d].installed_sha("mnist") == v3_sha for d in DEVICES),
                 60, 0.1)
        check(all(fleet.agents[d].lines(r"inference check .*golden outputs within")
                  for d in DEVICES), "each agent logged its passing inference check")
    finally:
        fleet.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OXIDE")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = tempfile.mkdtemp(prefix="oxide-golden-e2e-")
    ok = False
    try:
        if not inference_built_in(os.path.abspath(sys.argv[1]), work):
            log("SKIP: built without inference")
            shutil.rmtree(work, ignore_errors=True)
            sys.exit(77)
        main(os.path.abspath(sys.argv[1]), work)
        ok = True
    except Exception:
        traceback.print_exc()
        for p in [os.path.join(work, "server.log")] + [
                os.path.join(work, "devices", d, "agent.log") for d in DEVICES]:
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    lines = f.readlines()[-15:]
                print(f"----- {os.path.relpath(p, work)} -----\n" + "".join(lines), flush=True)
    finally:
        if not os.environ.get("OXIDE_E2E_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    log("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)

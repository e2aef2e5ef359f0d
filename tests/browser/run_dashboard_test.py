#!/usr/bin/env python3
"""Browser test of the dashboard against a real fleet on loopback (python3 stdlib + node).

Starts `oxide serve` and four real `oxide agent` processes (scripts/demo_lib/fleet.py):
  cam-fast            downloads at full speed and completes v2;
  cam-slow-1/2        downloads slowed with --max-recv-speed, so the campaign is visibly running;
  cam-bad             its health check fails for v2, so its update rolls back.
v1 is rolled out and completed first; then the v2 campaign runs while dashboard.test.js
drives headless Chromium (playwright-core) through the page. Every wait polls observable state
against a deadline; nothing sleeps as synchronisation.

usage: run_dashboard_test.py --oxide BUILD/oxide --node-modules DIR --artifacts DIR
                             [--node node] [--chromium /usr/bin/chromium]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "demo_lib"))
import fleet as fleetlib  # noqa: E402  (the loopback fleet shared with the demo and e2e suite)

V2_SIZE = 8 * 1000 * 1000    # random weights: no patch helps, every device downloads it whole
SLOW_SPEED = 100 * 1000      # bytes/s: ~80 s for v2, the page sees it move long before the end


def log(msg):
    print(f"[browser {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def campaign_device(f, cid, did):
    for d in f.detail(cid).get("devices", []):
        if d.get("device_id") == did:
            return d
    return {}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oxide", required=True)
    ap.add_argument("--node-modules", required=True)
    ap.add_argument("--artifacts", required=True)
    ap.add_argument("--node", default="node")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    for path, what in ((args.chromium, "Chromium"),
                       (os.path.join(args.node_modules, "playwright-core"), "playwright-core")):
        if not os.path.exists(path):
            log(f"FAIL: {what} is missing at {path} (run scripts/bootstrap; npm ci)")
            return 1
    os.makedirs(args.artifacts, exist_ok=True)
    for name in os.listdir(args.artifacts):  # no stale screenshot from an earlier run
        if name.endswith(".png"):
            os.remove(os.path.join(args.artifacts, name))
    work = tempfile.mkdtemp(prefix="oxide-browser-")
    f = fleetlib.Fleet(args.oxide, work, model_id="detector", fleet_id="cams",
                      server_args=["--price-per-gb", "0.05", "--currency", "EUR"])
    ok = False
    try:
        f.start_server()
        api = f.api
        viewer = api.ok("POST", "/api/v1/tokens", {"name": "dashboard-viewer",
                                                    "role": "viewer"})["token"]
        f.add_devices(["cam-fast"])
        f.add_devices(["cam-slow-1", "cam-slow-2"],
                      extra=["--max-recv-speed", str(SLOW_SPEED)])
        inventory = os.path.join(work, "inventory.json")  # attributes the device page shows
        with open(inventory, "w") as fh:
            fh.write('{"camera": "imx477"}\n')
        f.add_devices(["cam-bad"], extra=["--health-check", 'test "$OXIDE_MODEL_VERSION" != v2',
                                          "--health-timeout", "10", "--inventory-file", inventory])
        fleetlib.wait_for("4 devices online", lambda: sum(
            1 for d in api.get("/api/v1/devices") if d["status"] == "online") == 4, 60)

        f.upload("v1", fleetlib.random_safetensors(1, 64 * 1000))
        c1 = f.campaign("v1")
        f.wait_campaign(c1, ("completed",), timeout=120)
        log(f"v1 on every device (campaign {c1})")

        f.upload("v2", fleetlib.random_safetensors(2, V2_SIZE))
        c2 = f.campaign("v2")
        fleetlib.wait_for("cam-bad rolled back", lambda: campaign_device(
            f, c2, "cam-bad").get("state") == "rolled_back", 120)
        fleetlib.wait_for("slow devices downloading", lambda: all(
            campaign_device(f, c2, d).get("bytes_done", 0) > 0 for d in
            ("cam-slow-1", "cam-slow-2")), 60)
        log(f"campaign {c2} running: cam-bad rolled back, slow devices downloading")

        env = dict(os.environ, OXIDE_URL=f.server.url, OXIDE_ADMIN_TOKEN=api.token,
                   OXIDE_VIEWER_TOKEN=viewer, OXIDE_CAMPAIGN=c2, OXIDE_FAILED_DEVICE="cam-bad",
                   OXIDE_ARTIFACTS=os.path.abspath(args.artifacts), OXIDE_CHROMIUM=args.chromium,
                   OXIDE_NODE_MODULES=os.path.abspath(args.node_modules))
        rc = subprocess.run([args.node, os.path.join(HERE, "dashboard.test.js")], env=env,
                            timeout=240).returncode
        ok = rc == 0
        log("PASS" if ok else f"FAIL: dashboard.test.js exited {rc}")
    except AssertionError as e:
        log(f"FAIL: {e}")
    finally:
        if not ok:
            for name in ("server.log", *(f"devices/{d}/agent.log" for d in f.agents)):
                path = os.path.join(work, name)
                if os.path.exists(path):
                    with open(path, errors="replace") as fh:
                        print(f"----- {name} (tail) -----\n" + "".join(fh.readlines()[-30:]))
        f.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

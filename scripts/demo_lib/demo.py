#!/usr/bin/env python3
"""The `make demo` story (driven by scripts/demo, which owns the temp dir and the clean-up).

One `oxide serve`, a fleet of devices each running `oxide agent`; v1 of the bundled MNIST model
goes out by a canary campaign (as the first-install patch from the empty base), then v2
(fine-tuned) by a rolling campaign as a tensor patch.
Exits non-zero when any step fails or a device does not end up running v2 byte for byte.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet import Fleet, sha256_file  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(REPO, "examples", "models")
MODEL_ID = "mlp-mnist"
T0 = time.monotonic()


def say(text=""):
    print(text, flush=True)


def stamp():
    return f"{time.monotonic() - T0:5.1f}s"


def mb(n):
    return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def device_cell(d):
    state = d.get("state", "?")
    if state == "downloading" and d.get("bytes_total"):
        return f"{d['device_id']} downloading {mb(d.get('bytes_done') or 0)}/{mb(d['bytes_total'])}"
    if state == "completed":
        return f"{d['device_id']} completed ({mb(d.get('bytes_served') or 0)})"
    return f"{d['device_id']} {state}"


class Progress:
    """Prints one line per change of the campaign's state or of a device's stage."""

    def __init__(self, label):
        self.label = label
        self.last = None

    def __call__(self, detail):
        key = (detail["state"],) + tuple(
            (d["device_id"], d.get("state"), d.get("bytes_done")) for d in detail["devices"])
        if key == self.last:
            return
        self.last = key
        cells = " | ".join(device_cell(d) for d in detail["devices"])
        say(f"  [{stamp()}] {self.label} {detail['state']:<11} {cells}")


def run_campaign(fleet, version, strategy, label, **options):
    cid = fleet.campaign(version, strategy, **options)
    extra = ", ".join(f"{k}={v}" for k, v in options.items())
    say(f"\n-- campaign {cid}: {strategy} -> {version}" + (f" ({extra})" if extra else ""))
    detail = fleet.wait_campaign(cid, ("completed", "halted", "aborted"), timeout=60,
                                 on_poll=Progress(label))
    if detail["state"] != "completed":
        raise AssertionError(f"campaign {cid} ended {detail['state']}")
    return cid


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oxide", required=True)
    ap.add_argument("--work", required=True, help="temp dir (created and removed by the caller)")
    ap.add_argument("--devices", type=int, default=4)
    ap.add_argument("--v2", default="mlp-mnist-v2-last-layer.onnx")
    args = ap.parse_args()

    v1_path = os.path.join(MODELS, "mlp-mnist-v1.onnx")
    v2_path = os.path.join(MODELS, args.v2)
    ids = [f"device-{i + 1}" for i in range(args.devices)]
    fleet = Fleet(args.oxide, args.work, model_id=MODEL_ID, fleet_id="demo-fleet",
                  server_args=["--offline-after", "5"])
    try:
        say("== Oxide demo: ML model updates to a fleet, as tensor-aware patches")
        fleet.start_server()
        say(f"server    {fleet.server.url}  (oxide serve, data in a temp dir)")
        # Downloads throttled to 1.5 MB/s per device so that progress is visible on loopback.
        fleet.add_devices(ids, poll=0.3, extra=["--max-recv-speed", "1500000"])
        say(f"fleet     demo-fleet: {', '.join(ids)}")
        say("          (one `oxide agent` each: poll every 0.3 s, downloads capped at 1.5 MB/s)")

        with open(v1_path, "rb") as f:
            up1 = fleet.upload("v1", f.read())
        say(f"upload    {MODEL_ID} v1  {os.path.basename(v1_path)}  {up1['size_bytes']:,} bytes  "
            f"sha256 {up1['sha256'][:12]}…")
        # The devices have no model: v1 goes to them as the patch from the empty base (the
        # model compressed on its own), prepared in the background like any patch.
        first = fleet.patch_from_empty("v1", timeout=60)
        say(f"patch     (empty) -> v1 prepared by the server: {first['state']}, strategy "
            f"{first.get('strategy')}, {first.get('size_bytes') or 0:,} bytes")
        c1 = run_campaign(fleet, "v1", "canary", "v1", canary_percent=25)

        with open(v2_path, "rb") as f:
            up2 = fleet.upload("v2", f.read())
        say(f"\nupload    {MODEL_ID} v2  {os.path.basename(v2_path)}  {up2['size_bytes']:,} bytes  "
            f"sha256 {up2['sha256'][:12]}…")
        patch = fleet.patch_from("v2", "v1", timeout=60)
        say(f"patch     v1 -> v2 prepared by the server: {patch['state']}, strategy "
            f"{patch.get('strategy')}, {patch.get('size_bytes') or 0:,} bytes")
        # The example pair is plain torch-exported ONNX: anything but the tensor strategy means
        # the indexer or planner silently fell back to the binary path.
        if patch.get("strategy") != "tensor":
            raise AssertionError(f"patch v1 -> v2 used strategy {patch.get('strategy')}, "
                                 "expected tensor")
        c2 = run_campaign(fleet, "v2", "rolling", "v2", batch_size=2)
        first = fleet.agents[ids[0]]
        say(f"\n{ids[0]}'s agent, on v2:")
        for _, m in first.lines(r"oxide-agent: (\S+: .*\bv2\b.*)$"):
            say(f"  {m.group(1)}")

        ok = summary(fleet, ids, [c1, c2], up2, patch)
        return 0 if ok else 1
    except (AssertionError, OSError) as e:
        say(f"\nFAILED: {e}")
        say(f"--- server log (tail) ---\n{tail(fleet.server.log_path)}")
        for agent in fleet.agents.values():
            say(f"--- {agent.device_id} log (tail) ---\n{agent.tail(8)}")
        return 1
    finally:
        fleet.close()


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except FileNotFoundError:
        return ""


def summary(fleet, ids, campaigns, up2, patch):
    say(f"\n== Summary ({stamp()})")
    say("bytes per device over both campaigns: downloaded, and what full downloads would have cost")
    say(f"{'device':<10} {'version':<8} {'downloaded':>12} {'full would be':>14}  installed file")
    ok = True
    for did in ids:
        dev = fleet.device(did)
        sha = sha256_file(fleet.agents[did].model_path(MODEL_ID))
        good = sha == up2["sha256"]
        ok &= good
        say(f"{did:<10} {dev.get('current_model_version') or '-':<8} "
            f"{dev.get('bytes_served', 0):>12,} {dev.get('bytes_full_equivalent', 0):>14,}  "
            f"sha256 {(sha or 'missing')[:12]}… {'= v2' if good else '!= v2  <-- WRONG'}")
    say("")
    say(f"{'campaign':<20} {'target':<6} {'strategy':<8} {'state':<10} {'done':>5} "
        f"{'served':>11} {'full equiv.':>11} {'saved':>7}")
    for cid in campaigns:
        d = fleet.detail(cid)
        s = d["summary"]
        full = s.get("bytes_full_equivalent") or 0
        saved = 100.0 * (full - s.get("bytes_served", 0)) / full if full else 0.0
        say(f"{cid:<20} {d['target_version']:<6} {d['strategy']:<8} {d['state']:<10} "
            f"{s.get('complete', 0):>2}/{s.get('total', 0):<2} {mb(s.get('bytes_served', 0)):>11} "
            f"{mb(full):>11} {saved:>6.1f}%")
        ok &= d["state"] == "completed"
    say("")
    size = patch.get("size_bytes") or 0
    say(f"patch v1 -> v2: strategy {patch.get('strategy')}, {size:,} bytes = "
        f"{100.0 * size / up2['size_bytes']:.2f}% of the {up2['size_bytes']:,}-byte model "
        f"({up2['size_bytes'] / max(size, 1):.0f}x less to send per device)")
    if ok:
        say(f"OK: all {len(ids)} devices run v2 (sha256 {up2['sha256'][:16]}…), "
            f"both campaigns completed")
    else:
        say("FAILED: see the lines marked above")
    return ok


if __name__ == "__main__":
    sys.exit(main())

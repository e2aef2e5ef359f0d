#!/usr/bin/env python3
"""Signed releases through the real `oxide agent` (stdlib only; usage: agent_signed_releases.py OXIDE).

A fake control plane (fake_control_plane.py) assigns versions with releases signed by
`oxide release sign`. Checks: the agent refuses to start without --trusted-keys; a valid
release installs; tampered bytes served for a signed version are refused and reported; an
older validly signed release replayed (lower counter) is refused; an unsigned release is
refused; a release signed by a key the device does not trust is refused; after
`oxide keys rotate` (v2 signed by the old and new keys) the agent follows the chain and accepts
releases signed by the new key. Each agent run is `--once`: one poll and its work.
"""
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "demo_lib"))
from fake_control_plane import FakeControlPlane  # noqa: E402
from signing import ReleaseSigner  # noqa: E402

OXIDE = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/oxide")
WORK = tempfile.mkdtemp(prefix="oxide-signed-")
MODELS = os.path.join(WORK, "models")


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)
    print("ok: " + msg, flush=True)


def agent(plane, keys, *extra):
    """One poll (and a second one, which carries any failure report); returns the log."""
    out = ""
    for _ in range(2):
        p = subprocess.run([OXIDE, "agent", "--control-plane", plane.url, "--device-id", "d1",
                            "--model-dir", MODELS, "--poll-interval", "0.2", "--once",
                            "--trusted-keys", keys, *extra],
                           capture_output=True, text=True, timeout=120)
        out += p.stdout + p.stderr
    return out


def active():
    try:
        with open(os.path.join(MODELS, "m"), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def reported(plane, text):
    with plane.lock:
        return text in json.dumps(plane.heartbeats)


def reports_of(plane, version):
    """The failure reports the agent sent for `version`."""
    with plane.lock:
        return [r for hb in plane.heartbeats for r in (hb.get("reports") or [])
                if r.get("version") == version]


def main():
    rng = random.Random(9)
    blobs = {v: bytes(rng.getrandbits(8) for _ in range(20000)) for v in ("v1", "v2", "v3")}
    signer = ReleaseSigner(OXIDE, WORK)
    plane = FakeControlPlane()
    plane.models = dict(blobs)
    release = {v: json.loads(signer.sign("m", v, b)) for v, b in blobs.items()}
    try:
        p = subprocess.run([OXIDE, "agent", "--control-plane", plane.url, "--device-id", "d1",
                            "--model-dir", MODELS, "--once"], capture_output=True, text=True)
        check(p.returncode == 2 and "--trusted-keys" in p.stderr and
              len(p.stderr.strip().splitlines()) == 1,
              f"no --trusted-keys: exit 2 with one line ({p.returncode}: {p.stderr.strip()})")

        plane.assigned = "v2"
        plane.releases["v2"] = release["v2"]
        agent(plane, signer.keys)
        check(active() == blobs["v2"], "a validly signed v2 (counter 2) is installed")

        plane.assigned = "v3"
        plane.releases["v3"] = release["v3"]
        plane.served["v3"] = blobs["v3"][:-1] + b"X"  # the server's copy was tampered with
        agent(plane, signer.keys)
        check(active() == blobs["v2"], "tampered v3 bytes are not installed")
        v3_reports = reports_of(plane, "v3")
        # The fake serves the tampered bytes' own SHA-256 header: refused as the transfer starts.
        tampered_sha = hashlib.sha256(plane.served["v3"]).hexdigest()
        signed_sha = hashlib.sha256(blobs["v3"]).hexdigest()
        check(any(r.get("outcome") == "failed" and r.get("stage") == "download" and
                  r.get("error") == f"download rejected: server offers SHA-256 {tampered_sha} "
                                    f"for v3, assignment says {signed_sha}"
                  for r in v3_reports),
              f"the tampered download is reported as not the signed hash ({v3_reports})")
        del plane.served["v3"]

        plane.assigned = "v1"
        plane.releases["v1"] = release["v1"]  # validly signed, counter 1 < installed 2
        log = agent(plane, signer.keys)
        check(active() == blobs["v2"] and "release refused: rollback" in log,
              "an older validly signed release replayed is refused")
        check(reported(plane, "release refused: rollback"), "the rollback is reported")

        plane.assigned = "v3"
        del plane.releases["v3"]
        log = agent(plane, signer.keys)
        check(active() == blobs["v2"] and "release refused: unsigned" in log,
              "an unsigned release is refused")

        other = ReleaseSigner(OXIDE, os.path.join(WORK, "other"))
        plane.releases["v3"] = json.loads(other.sign("m", "v3", blobs["v3"], counter=3))
        log = agent(plane, signer.keys)
        check(active() == blobs["v2"] and "release refused: unknown key" in log,
              "a release signed by an untrusted key is refused")

        # Rotation: v2 of the key set holds only the new key, signed by the old and the new.
        old_id = json.loads(open(signer.keys).read())["signatures"][0]["keyid"]
        v2_keys = os.path.join(WORK, "v2.keys.json")
        subprocess.run([OXIDE, "keys", "rotate", "--keys", signer.keys,
                        "--sign-with", signer.prefix + ".pem", "--sign-with", other.prefix + ".pem",
                        "--add", other.prefix + ".pub", "--remove", old_id, "-o", v2_keys],
                       check=True, capture_output=True)
        with open(signer.keys) as f1, open(v2_keys) as f2:
            plane.key_chain = {"key_sets": [json.load(f1), json.load(f2)]}
        log = agent(plane, signer.keys)
        check(active() == blobs["v3"] and "now trusting release key set v2" in log,
              "after a rotation signed by the old key, the new key's release is installed")
        plane.releases["v1"] = json.loads(signer.sign("m", "v1", blobs["v1"], counter=9))
        plane.assigned = "v1"
        log = agent(plane, signer.keys)
        check(active() == blobs["v3"] and "release refused: unknown key" in log,
              "the rotated-out key signs no more releases (even with --trusted-keys v1)")
        print("PASS", flush=True)
    finally:
        plane.shutdown()
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()

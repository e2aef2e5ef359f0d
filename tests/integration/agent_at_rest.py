#!/usr/bin/env python3
"""`oxide agent --encryption-key-file`: the real binary installs two versions from a minimal
control plane (fake_control_plane.py, in this process) and keeps them encrypted at rest.

Checks: the active file is in the encrypted format and `oxide decrypt` with the device key gives
the assigned bytes; no plaintext copy of a model is left under the model dir; the health-check
command sees OXIDE_MODEL_ENCRYPTED=1 and OXIDE_ENCRYPTION_KEY_FILE and can decrypt the model it
checks; the reported installed SHA-256 is the plaintext's.

Usage: agent_at_rest.py OXIDE
"""
import hashlib
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_control_plane import FakeControlPlane  # noqa: E402

MAGIC = b"\x89OXE\r\n\x1a\n"
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def files_under(root):
    for d, _, names in os.walk(root):
        for n in names:
            yield os.path.join(d, n)


def main():
    oxide = sys.argv[1]
    plane = FakeControlPlane()
    with tempfile.TemporaryDirectory() as tmp:
        key, models, seen = (os.path.join(tmp, n) for n in ("device.key", "models", "seen"))
        subprocess.run([oxide, "enc-key", "generate", "-o", key], check=True,
                       capture_output=True)
        # The check decrypts the model it is given and records the plaintext's SHA-256.
        health = ('test "$OXIDE_MODEL_ENCRYPTED" = 1 && '
                  '%s decrypt "$OXIDE_MODEL_PATH" --key "$OXIDE_ENCRYPTION_KEY_FILE" '
                  '-o %s/hc.plain --force >/dev/null && sha256sum %s/hc.plain >> %s && '
                  'rm %s/hc.plain') % (oxide, tmp, tmp, seen, tmp)
        versions = {"v1": os.urandom(300_000), "v2": os.urandom(200_000)}
        for version, blob in versions.items():
            plane.models[version] = blob
            plane.assigned = version
            p = subprocess.run(
                [oxide, "agent", "--control-plane", plane.url, "--device-id", "d1",
                 "--model-dir", models, "--encryption-key-file", key,
                 "--health-check", health, "--once",
                 "--allow-unsigned-releases"],  # signing: agent_signed_releases.py
                capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
            check(p.returncode == 0, "%s: agent --once exit %d%s" % (
                version, p.returncode, "" if p.returncode == 0 else ": " + p.stderr[-800:]))
            active = os.path.join(models, "m")
            with open(active, "rb") as f:
                check(f.read(8) == MAGIC, "%s: the active model is encrypted" % version)
            out = os.path.join(tmp, "out")
            d = subprocess.run([oxide, "decrypt", active, "--key", key, "-o", out, "--force"],
                               capture_output=True, text=True)
            with open(out, "rb") as f:
                check(d.returncode == 0 and f.read() == blob,
                      "%s: decrypts to the assigned bytes" % version)
            os.remove(out)
            want = hashlib.sha256(blob).hexdigest()
            with open(seen) as f:
                check(f.read().split()[-2] == want, "%s: the health check decrypted it" % version)
            reported = [m.get("sha256") for hb in plane.heartbeats for m in hb.get("models") or []]
            check(want in reported, "%s: the agent reports the plaintext SHA-256" % version)
            leaks = [p for p in files_under(models)
                     if open(p, "rb").read() in versions.values()]
            check(leaks == [], "%s: no plaintext model under the model dir %s" % (version, leaks))
    plane.shutdown()
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()

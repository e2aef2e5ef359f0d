#!/usr/bin/env python3
"""Packaging: `systemd-analyze verify` accepts both units (exit 77 = skipped without it).

The units name /usr/bin/oxide, which exists only once the .deb is installed; verify checks that
ExecStart is executable, so the copies checked here point at the freshly built binary. Every
other line is verified as shipped, and any warning systemd-analyze prints fails the test.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", required=True)
    ap.add_argument("--oxide", required=True)
    args = ap.parse_args()
    tool = shutil.which("systemd-analyze")
    if tool is None:
        print("systemd-analyze not found: skipped")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="oxide-units-")
    try:
        paths = []
        for name in ("oxide-server.service", "oxide-agent.service"):
            text = open(os.path.join(args.units, name)).read()
            for required in ("Restart=on-failure", "StateDirectory=", "ProtectSystem=strict",
                             "ProtectHome=", "NoNewPrivileges=yes", "PrivateTmp=yes",
                             "ReadWritePaths=/var/lib/"):
                assert required in text, "%s lacks %s" % (name, required)
            assert text.count("/usr/bin/oxide ") == 1, name
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(text.replace("/usr/bin/oxide ", os.path.abspath(args.oxide) + " "))
            paths.append(path)
        r = subprocess.run([tool, "verify", "--man=no", *paths], capture_output=True, text=True)
        noise = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
        if r.returncode != 0 or noise:
            sys.exit("systemd-analyze verify (exit %d):\n%s" % (r.returncode, "\n".join(noise)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("units OK")


if __name__ == "__main__":
    main()
